"""The one place that builds the application: settings in; engine, store, services, router,
reloader, inbox and background jobs out. ``rashut run``, ``rashut chat``, the command line and the
tests all build it here, so no adapter constructs an engine or a store.

Channels plug in from outside: each registers its inbox handler (``inbox.register``) and a
``CuratorNotifier`` (how to reach its curators), then ``start()`` runs the watcher, the jobs and
the inbox workers. The reloader and the daily digest report to every registered notifier.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol

from knowledge.engine import Engine, Snapshot

from .conversation import Conversations
from .curator import CuratorService
from .inbox import Inbox
from .jobs import Jobs
from .limits import UserLimiter
from .logs import RedactSecrets
from .reloader import BaseInfo, KnowledgeReloader
from .router import Router
from .sealing import Sealer
from .service import AnswerService
from .settings import DEFAULT_HASH_KEY, Settings
from .storage import Storage
from .store import make_store

log = logging.getLogger(__name__)


class CuratorNotifier(Protocol):
    """How one channel reaches its curators unasked: reload results and the daily digest.
    Each method returns how many curator chats received the message."""

    channel: str

    def has_curators(self) -> bool: ...
    async def reload_ok(self, info: BaseInfo) -> int: ...
    async def reload_failed(self, errors: str) -> int: ...
    async def digest(self, text: str) -> int: ...


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    store: Storage | None
    service: AnswerService
    curator: CuratorService
    router: Router
    reloader: KnowledgeReloader
    inbox: Inbox
    jobs: Jobs
    notifiers: list[CuratorNotifier] = field(default_factory=list)
    started: bool = False

    @classmethod
    def build(cls, settings: Settings, *, store: Storage | None | bool = True,
              engine: Engine | None = None) -> "Runtime":
        """Load the base (a broken one raises ``KnowledgeError`` with every problem) and wire
        everything. ``store=True`` opens ``settings.db_target`` at ``start()``; pass a store to share
        one, or None for no storage at all (``rashut ask``, demos)."""
        engine = engine or Engine(settings.kb_path)
        st: Storage | None = make_store(settings.db_target) if store is True else (store or None)
        service = AnswerService(engine, st, hash_key=settings.hash_key,
                                scrub=RedactSecrets(settings.secrets(), numbers=False).redact)
        reloader = KnowledgeReloader(engine)
        curator = CuratorService(st, engine, reloader)
        router = Router(service, curator, Conversations(st, settings.hash_key),
                        UserLimiter(settings.questions_per_minute))
        rt = cls(settings, engine, st, service, curator, router, reloader, Inbox(st, Sealer(settings.hash_key)),
                 Jobs(st, settings.retention_days, settings.digest_time))
        reloader.on_success = rt._reload_ok
        reloader.on_error = rt._reload_failed
        reloader.on_loaded = rt._announce
        return rt

    # ------------------------------------------------------------------ curators, every channel
    def add_notifier(self, notifier: CuratorNotifier) -> None:
        self.notifiers.append(notifier)

    async def _reload_ok(self, snapshot: Snapshot) -> None:
        for n in self.notifiers:
            await n.reload_ok(BaseInfo.of(snapshot))

    async def _reload_failed(self, errors: str) -> None:
        for n in self.notifiers:
            await n.reload_failed(errors)

    # ------------------------------------------------------------------ replicas
    async def _announce(self, snapshot: Snapshot) -> None:
        """Tell the other replicas (shared store only) which base this one serves now."""
        if self.store is not None and self.store.shared:
            await self.store.announce(snapshot.fingerprint)

    async def _other_replica_loaded(self, fingerprint: str) -> None:
        """Another replica changed or reloaded the base in the shared folder: follow, if ours differs."""
        if fingerprint == self.engine.snapshot.fingerprint:
            return
        log.info("another replica serves a newer base; reloading")
        await self.reloader.reload_now(notify=False, announce=False)

    async def send_digest(self) -> int:
        text = await self.curator.digest()
        sent = 0
        for n in self.notifiers:
            if n.has_curators():
                sent += await n.digest(text)
        return sent

    # ------------------------------------------------------------------ lifecycle
    async def start(self, *, connect: bool = True) -> None:
        """Open the store, recover the inbox, start the watcher, the jobs and the inbox workers.

        A start that fails half way stops what it had started before it raises: nobody calls
        ``stop()`` for a runtime that never started, and a store left open keeps its connection
        thread, and so the process, alive with nothing running (a supervisor would never restart it)."""
        try:
            await self._start(connect)
        except BaseException:
            await self._abandon(close_store=connect)
            raise

    async def _start(self, connect: bool) -> None:
        if self.store is not None and connect:
            await self.store.connect()
        if self.settings.hash_key == DEFAULT_HASH_KEY and self.store is not None and self.notifiers:
            # after the store opened: when it cannot, its error is the one line a failed start prints;
            # a channel serves real users (the console's one person is not told)
            log.warning("RASHUT_HASH_KEY is not set: user ids are hashed with the development key")
        if self.store is not None and not self.store.shared:
            recovered = await self.store.inbox_recover()
            if recovered:
                log.info("%d update(s) left unanswered by the last run will be answered now", recovered)
        if self.store is not None and self.store.shared:
            self.store.listen(self._other_replica_loaded)
        if self.settings.watch_kb:
            await self.reloader.start()
            log.debug("watching %s for knowledge changes", self.engine.root)
        if any(n.has_curators() for n in self.notifiers):
            self.jobs.on_digest(self.send_digest)
        self.jobs.start()
        await self.inbox.start()
        self.started = True

    async def _abandon(self, *, close_store: bool) -> None:
        """Undo a failed start, each step on its own (one that fails must not keep the rest running);
        a store the caller had opened (``connect=False``) stays the caller's to close."""
        steps: list[Callable[[], Awaitable[Any]]] = [self.inbox.abandon, self._stop_jobs, self.reloader.stop]
        if close_store and self.store is not None:
            steps.append(self.store.close)
        for step in steps:
            try:
                await step()
            except Exception as exc:  # noqa: BLE001 - the start's own error is the one to report
                log.debug("while undoing a failed start: %r", exc)

    async def _stop_jobs(self) -> None:
        self.jobs.stop()

    async def stop(self, timeout: float = 5.0) -> None:
        """Finish what is in flight for up to ``timeout`` seconds, keep the rest for the next start."""
        try:
            await self.inbox.stop(timeout)
        finally:
            self.jobs.stop()
            await self.reloader.stop()
            if self.store is not None:
                await self.store.close()
            self.started = False
