"""The store behind a typed interface: what the application needs from storage, and its records.

Why a ``Protocol``: the application (answer service, curator service, inbox, jobs) talks to
storage only through these methods, so SQLite (``bot.store``, the embedded default for a pilot)
and PostgreSQL (several replicas) are interchangeable, and one test suite runs against both.
Results are typed records, never positional SQL tuples.

User ids never reach storage in the clear: callers pass keyed hashes (``hash_user``). The inbox
is the one place that keeps what is needed to answer a message that arrived but was not yet
answered (a chat id, a phone number); it keeps it encrypted (``bot.sealing``) and only until
the answer was sent.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any, AsyncContextManager, Awaitable, Callable, NamedTuple, Protocol, Sequence, TypeVar, runtime_checkable

from knowledge.errors import StoreError

STATUSES = ("open", "resolved", "dismissed")
T = TypeVar("T")


class NoStoreYet(StoreError):
    """A read-only opening found no store where one was named: nothing has been recorded there
    yet. For a command that only reads (``stats``, ``unanswered list``), an empty result, not an error."""


def storable(value: T) -> T:
    """``value`` with every text made encodable as UTF-8: an unpaired surrogate becomes U+FFFD.

    Why: ``json.loads`` keeps a "\\ud800" escape (which Telegram and WhatsApp bodies may carry)
    as a lone surrogate, and ``surrogateescape`` decoding leaves one per undecodable byte; no
    database driver encodes those, so the write fails and the question never reaches the
    curators. A pair kept as two code points becomes the character it spells."""
    if not isinstance(value, str):
        return value
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")  # type: ignore[return-value]


def hash_user(user_id: str | int | None, key: str) -> str | None:
    """Keyed hash of a transport user id (HMAC-SHA256, 16 bytes hex). None stays None."""
    if user_id is None:
        return None
    return hmac.new(key.encode(), str(user_id).encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class UnansweredRow:
    id: int
    ts: float
    text: str
    norm: str
    channel: str
    chat_type: str
    user_hash: str | None
    kind: str
    candidates: list[dict[str, Any]]
    status: str
    entry_id: str | None


class EntryCount(NamedTuple):
    entry_id: str
    n: int  # how often it was the answer ("count" would shadow tuple.count)


class FeedbackCount(NamedTuple):
    entry_id: str
    up: int
    down: int


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """Whether the database answers; while it does not, the writes kept to be made later."""

    ok: bool = True
    down_since: float | None = None
    waiting: int = 0  # writes kept for when the database is back
    dropped: int = 0  # writes lost because too many were waiting


@dataclass(frozen=True, slots=True)
class Stats:
    """Usage since a time: questions per kind and per day, top entries, votes, the queue."""

    by_kind: dict[str, int] = field(default_factory=dict)
    per_day: dict[str, dict[str, int]] = field(default_factory=dict)  # UTC date -> kind -> count
    top_entries: list[EntryCount] = field(default_factory=list)
    feedback: list[FeedbackCount] = field(default_factory=list)  # all time, most 👎 first
    unanswered_by_status: dict[str, int] = field(default_factory=dict)
    health: StoreHealth = field(default_factory=StoreHealth)

    @property
    def asked(self) -> int:
        """Questions proper (answered, clarified or not answered), without smalltalk and browsing."""
        return sum(self.by_kind.get(k, 0) for k in ("answer", "clarify", "unanswered"))


@dataclass(frozen=True, slots=True)
class InboxItem:
    """A received update, durable before it was acknowledged to the channel."""

    id: int
    channel: str
    key: str  # the channel's own id: a Telegram update id, a WhatsApp message id (wamid)
    payload: bytes  # sealed (encrypted) transport payload
    attempts: int
    ts: float


@runtime_checkable
class Storage(Protocol):
    """Everything the application stores. Every write is durable when the call returns."""

    label: str  # where it is, for messages and logs (a path, or a URL without its password)
    shared: bool  # several processes (replicas) use it at once; False for the embedded SQLite file

    async def connect(self) -> None: ...
    async def close(self) -> None: ...

    # questions, the curators' queue, feedback
    async def log_question(self, *, channel: str, chat_type: str, user_hash: str | None, kind: str,
                           entry_id: str | None, score: float, ts: float | None = None) -> int: ...
    async def log_unanswered(self, *, text: str, norm: str, channel: str, chat_type: str,
                             user_hash: str | None, kind: str, candidates: list[dict[str, Any]],
                             ts: float | None = None) -> int: ...
    async def add_feedback(self, *, entry_id: str, vote: int, user_hash: str, channel: str) -> None: ...
    async def set_status(self, ids: Sequence[int], status: str, entry_id: str | None = None) -> int: ...
    async def purge(self, older_than_days: float, now: float | None = None) -> int: ...
    async def unanswered(self, status: str | None = "open", limit: int | None = None) -> list[UnansweredRow]: ...
    async def count_unanswered(self) -> int: ...
    async def stats(self, since: float | None = None) -> Stats: ...

    # the durable inbox: at least once in, exactly once answered
    async def inbox_put(self, channel: str, key: str, lane: str, payload: bytes) -> bool: ...
    async def inbox_put_many(self, items: Sequence[tuple[str, str, str, bytes]]) -> list[bool]: ...
    async def inbox_claim(self, owner: str, limit: int, lease: float) -> list[InboxItem]: ...
    async def inbox_done(self, item_id: int) -> None: ...
    async def inbox_release(self, item_id: int, *, give_up: bool = False, delay: float = 0.0) -> None: ...
    async def inbox_renew(self, owner: str, lease: float) -> None: ...
    async def inbox_recover(self) -> int: ...
    async def inbox_pending(self) -> int: ...

    # what a chat was last offered (a number in the next message picks one of them)
    async def remember(self, chat_key: str, data: str) -> None: ...
    async def recall(self, chat_key: str) -> str | None: ...

    # once-a-day jobs shared by replicas: True for the one caller that gets the day
    async def claim_job(self, name: str, period: str) -> bool: ...

    # replicas: the database's state, curators' edits one at a time, which base each one serves
    def health(self) -> StoreHealth: ...
    def edit_lock(self) -> AsyncContextManager[None]: ...
    async def announce(self, fingerprint: str) -> None: ...
    def listen(self, on_change: Callable[[str], Awaitable[None]]) -> None: ...
