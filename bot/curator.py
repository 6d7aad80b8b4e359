"""The curator service: every curator action once, for every channel and the command line.

List the grouped queue, attach a group to an entry, dismiss it, close it as out of scope, reload,
statistics and the digest. Each returns a transport-neutral result that an adapter only renders;
"edit the YAML, then reload" lives here once. A refused action returns ``Refused`` with the text
to show (the error names the file, entry and field), never an exception the adapter must know.

Reloads go through the runtime's ``KnowledgeReloader`` (one reload at a time, shared with the
file watcher). A curator's own reload is not broadcast to the other curators: they asked, and
they see the result in their own chat.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Union

from knowledge.errors import KnowledgeError, StoreError

from . import texts
from .curation import CurationError, EditError, ResolveResult, digest_text, dismiss_group, resolve_group
from .grouping import Group, find_group, grouped, with_titles
from .reloader import BaseInfo, KnowledgeReloader, ReloadResult
from .scope_curation import ScopeResult, dismiss_out_of_scope
from .storage import Stats, Storage

if TYPE_CHECKING:
    from knowledge.engine import Engine

log = logging.getLogger(__name__)

ERRORS_SHOWN = 40  # problems of a refused action shown in a chat (the full list is in the log)


@dataclass(frozen=True, slots=True)
class Refused:
    """An action that was not done; ``text`` says why (file:line problems, or what to do instead)."""

    text: str


@dataclass(frozen=True, slots=True)
class Attached:
    result: ResolveResult
    title: str  # the entry's title (its id when it vanished meanwhile)
    base: BaseInfo  # serving now
    reload: ReloadResult | None  # None when nothing was added, so nothing was reloaded

    @property
    def loaded(self) -> bool:
        return self.reload is None or self.reload.ok


@dataclass(frozen=True, slots=True)
class Dismissed:
    group_id: int
    rows: int


@dataclass(frozen=True, slots=True)
class ScopedOut:
    result: ScopeResult
    base: BaseInfo
    reload: ReloadResult | None

    @property
    def loaded(self) -> bool:
        return self.reload is None or self.reload.ok


AttachOutcome = Union[Attached, Refused]
DismissOutcome = Union[Dismissed, Refused]
ScopeOutcome = Union[ScopedOut, Refused]


def stats_text(stats: Stats) -> str:
    """The curators' statistics as one plain text, with the database's state when it is away."""
    by_kind = stats.by_kind
    text = texts.CURATOR_STATS.format(
        total=sum(by_kind.values()), answered=by_kind.get("answer", 0), clarify=by_kind.get("clarify", 0),
        unanswered=by_kind.get("unanswered", 0), open=stats.unanswered_by_status.get("open", 0),
        up=sum(f.up for f in stats.feedback), down=sum(f.down for f in stats.feedback))
    h = stats.health
    if not h.ok and h.down_since is not None:
        since = datetime.fromtimestamp(h.down_since, timezone.utc).strftime("%Y-%m-%d %H:%M")
        text += "\n" + texts.CURATOR_STORE_DOWN.format(since=since, waiting=h.waiting)
    return text


def scoped_out_text(outcome: ScopedOut) -> str:
    """What closing a group as out of scope did, in one line (the same on every channel)."""
    r = outcome.result
    if not r.added:
        return texts.CURATOR_OUT_OF_SCOPE_NOTHING.format(group=r.group_id, rows=r.rows, subject=r.subject)
    return texts.CURATOR_OUT_OF_SCOPE_DONE.format(group=r.group_id, added=len(r.added), subject=r.subject,
                                                  rows=r.rows, version=outcome.base.version)


def attached_text(outcome: Attached) -> str:
    """What attaching a group to an entry did (the same on every channel)."""
    r = outcome.result
    text = texts.CURATOR_ATTACHED.format(group=r.group_id, added=len(r.added), title=outcome.title, entry=r.entry_id,
                                         rows=r.rows, version=outcome.base.version)
    if r.existing or r.claimed or r.too_long:
        text += "\n" + texts.CURATOR_ATTACH_SKIPPED.format(existing=len(r.existing), claimed=len(r.claimed),
                                                           too_long=len(r.too_long))
    return text


def refused(exc: Exception) -> Refused:
    text = exc.render(limit=ERRORS_SHOWN) if isinstance(exc, KnowledgeError) else str(exc)
    return Refused(text)


class CuratorService:
    """What curators can do; ``store`` is None only in a store-less demo (the queue is then empty)."""

    def __init__(self, store: Storage | None, engine: "Engine", reloader: KnowledgeReloader) -> None:
        self.store = store
        self.engine = engine
        self.reloader = reloader

    @property
    def base(self) -> BaseInfo:
        return BaseInfo.of(self.engine.snapshot)

    async def groups(self) -> list[Group]:
        """The open queue, grouped, largest groups first, with entry titles."""
        if self.store is None:
            return []
        return await grouped(self.store, self.engine.snapshot)

    async def group(self, group_id: int) -> Group | None:
        """One open group by its number (None when it was handled meanwhile)."""
        if self.store is None:
            return None
        found, _holder = await find_group(self.store, group_id)
        return with_titles([found], self.engine.snapshot.kb)[0] if found is not None else None

    async def reload(self) -> ReloadResult:
        return await self.reloader.reload_now(notify=False)

    async def _reload_if(self, changed: bool) -> tuple[ReloadResult | None, BaseInfo]:
        reloaded = await self.reload() if changed else None
        return reloaded, (reloaded.info if reloaded is not None else self.base)

    async def attach(self, group_id: int, entry_id: str) -> AttachOutcome:
        """Add a group's questions to an entry's YAML, close the group, reload the base."""
        if self.store is None:
            return Refused("no store: the queue is empty")
        try:
            async with self.store.edit_lock():  # one edit of the (shared) folder at a time, every replica
                result = await resolve_group(self.store, self.engine.root, group_id, entry_id)
        except (CurationError, EditError, KnowledgeError, StoreError) as exc:
            log.warning("attaching group %s to %s refused: %s", group_id, entry_id, exc)
            return refused(exc)
        log.info("group %s attached to %s: %d phrasing(s) added to %s, %d row(s) resolved", group_id, entry_id,
                 len(result.added), result.file, result.rows)
        reloaded, base = await self._reload_if(bool(result.added))
        entry = self.engine.snapshot.kb.entry(entry_id)
        return Attached(result, entry.title if entry is not None else entry_id, base, reloaded)

    async def dismiss(self, group_id: int) -> DismissOutcome:
        if self.store is None:
            return Refused("no store: the queue is empty")
        try:
            rows = await dismiss_group(self.store, group_id)
        except (CurationError, StoreError) as exc:
            return refused(exc)
        log.info("group %s dismissed: %d row(s)", group_id, rows)
        return Dismissed(group_id, rows)

    async def out_of_scope(self, group_id: int, subject: str) -> ScopeOutcome:
        """Close a group and add its questions to an out-of-scope subject, then reload."""
        if self.store is None:
            return Refused("no store: the queue is empty")
        try:
            async with self.store.edit_lock():
                result = await dismiss_out_of_scope(self.store, self.engine.root, group_id, subject)
        except (CurationError, EditError, KnowledgeError, StoreError) as exc:
            log.warning("out-of-scope for group %s refused: %s", group_id, exc)
            return refused(exc)
        log.info("group %s out of scope (%s): %d question(s) added, %d row(s) dismissed", group_id,
                 result.subject, len(result.added), result.rows)
        reloaded, base = await self._reload_if(bool(result.added))
        return ScopedOut(result, base, reloaded)

    async def stats(self) -> Stats:
        """Usage statistics; while the database is away, only its state (the figures need it)."""
        if self.store is None:
            return Stats()
        try:
            return await self.store.stats()
        except StoreError:
            return Stats(health=self.store.health())

    async def digest(self) -> str:
        """The daily digest text (an empty store gives the "no traffic" digest)."""
        if self.store is None:
            return ""
        return await digest_text(self.store, self.engine.snapshot)
