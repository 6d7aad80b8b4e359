"""The shared store: PostgreSQL (psycopg 3, async, with psycopg-pool), for several replicas.

The same ``Storage`` protocol as SQLite, and the same store tests run against both. What several
replicas need on top is here: claims are ``INSERT ... ON CONFLICT DO NOTHING`` (a replica that loses
the claim does nothing), the inbox is leased with ``FOR UPDATE SKIP LOCKED`` (an item a dead
replica held is taken by a live one when its lease runs out), migrations run once under an advisory
lock, curators' edits of the shared knowledge folder are serialised by another advisory lock, and a
replica that loaded a new base tells the others with ``NOTIFY`` and the base's content hash.

A lost connection must not cost users their answers: statistics, queued questions and votes that
cannot be written are logged with what they were, kept (in memory, bounded) and written again with
backoff once the database is back; ``health()`` says so, and the curators' /stats shows it.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from knowledge.errors import StoreError

from .pg_schema import EDIT_LOCK, KB_CHANNEL, MIGRATION_LOCK, MIGRATIONS
from .storage import STATUSES, EntryCount, FeedbackCount, InboxItem, Stats, StoreHealth, UnansweredRow

log = logging.getLogger(__name__)

BACKLOG = 10_000  # writes kept while the database is away (the oldest are dropped, and counted)
RETRY = (1.0, 2.0, 5.0, 10.0, 30.0)


def safe_label(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = (f"{parts.username}@" if parts.username else "") + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class Deferred(StoreError):
    """The write could not be made now; it is kept and will be made when the database is back."""


@dataclass
class _Pending:
    what: str
    sql: str
    params: tuple[Any, ...]
    ts: float


class PgStore:
    shared = True

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        self.label = safe_label(url)
        self._pool = AsyncConnectionPool(url, min_size=min_size, max_size=max_size, open=False,
                                         kwargs={"autocommit": True, "row_factory": tuple_row},
                                         reconnect_timeout=0)
        self._backlog: deque[_Pending] = deque(maxlen=BACKLOG)
        self._dropped = 0
        self._down_since: float | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle
    async def connect(self) -> None:
        try:
            await self._pool.open(wait=True, timeout=10)
        except (psycopg.Error, asyncio.TimeoutError, OSError) as exc:
            await self._pool.close()
            raise StoreError(f"{self.label}: cannot connect ({_cause(exc)})") from None
        try:
            await self._migrate()
        except psycopg.Error as exc:
            await self._pool.close()
            raise StoreError(f"{self.label}: {_cause(exc)}") from None

    async def close(self) -> None:
        for task in (self._flusher, self._listener):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._flusher = self._listener = None
        await self._pool.close()

    async def _migrate(self) -> None:
        async with self._pool.connection() as conn:
            await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
            try:
                await conn.execute("CREATE TABLE IF NOT EXISTS rashut_schema (version INTEGER NOT NULL)")
                row = await (await conn.execute("SELECT max(version) FROM rashut_schema")).fetchone()
                version = (row[0] if row else None) or 0
                if version > len(MIGRATIONS):
                    raise StoreError(f"{self.label}: schema version {version} is newer than this program "
                                     f"({len(MIGRATIONS)}); upgrade rashut")
                for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
                    async with conn.transaction():
                        await conn.execute(script)  # type: ignore[arg-type]
                        await conn.execute("INSERT INTO rashut_schema(version) VALUES (%s)", (target,))
                    log.debug("store %s migrated to version %d", self.label, target)
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))

    async def user_version(self) -> int:
        return (await self._one("SELECT max(version) FROM rashut_schema"))[0]

    # ------------------------------------------------------------------ plumbing
    async def _exec(self, sql: str, params: Sequence[Any] = ()) -> psycopg.AsyncCursor[Any]:
        try:
            async with self._pool.connection(timeout=5) as conn:
                cur = await conn.execute(sql, params)  # type: ignore[arg-type]
                self._up()
                return cur
        except (psycopg.OperationalError, psycopg.InterfaceError, asyncio.TimeoutError, OSError) as exc:
            self._down(exc)
            raise StoreError(f"{self.label}: database unavailable ({_cause(exc)})") from None

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            async with self._pool.connection(timeout=5) as conn:
                cur = await conn.execute(sql, params)  # type: ignore[arg-type]
                rows = await cur.fetchall()
                self._up()
                return rows
        except (psycopg.OperationalError, psycopg.InterfaceError, asyncio.TimeoutError, OSError) as exc:
            self._down(exc)
            raise StoreError(f"{self.label}: database unavailable ({_cause(exc)})") from None

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = await self._rows(sql, params)
        return rows[0] if rows else None

    def _down(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.time()
            log.error("store %s unavailable: %s", self.label, _cause(exc))

    def _up(self) -> None:
        if self._down_since is not None:
            log.info("store %s is back after %.0f s", self.label, time.time() - self._down_since)
            self._down_since = None

    async def _write_or_keep(self, what: str, sql: str, params: tuple[Any, ...]) -> int:
        """A write that must not be lost to an outage: made now, or kept and made later."""
        try:
            if "RETURNING" in sql:
                row = await self._one(sql, params)
                return int(row[0]) if row else 0
            await self._exec(sql, params)
            return 0
        except StoreError:
            if len(self._backlog) == self._backlog.maxlen:
                self._dropped += 1
            self._backlog.append(_Pending(what, sql.replace(" RETURNING id", ""), params, time.time()))
            log.warning("could not store %s; kept to write later (%d waiting)", what, len(self._backlog))
            if self._flusher is None or self._flusher.done():
                self._flusher = asyncio.create_task(self._flush(), name="store-backlog")
            raise Deferred(f"{self.label}: database unavailable; the {what} will be written when it is back") from None

    async def _flush(self) -> None:
        attempt = 0
        while self._backlog:
            await asyncio.sleep(RETRY[min(attempt, len(RETRY) - 1)])
            attempt += 1
            while self._backlog:
                item = self._backlog[0]
                try:
                    await self._exec(item.sql, item.params)
                except StoreError:
                    break
                self._backlog.popleft()
                attempt = 0
        log.info("store %s: every kept write is written", self.label)

    def health(self) -> StoreHealth:
        return StoreHealth(self._down_since is None, self._down_since, len(self._backlog), self._dropped)

    # ------------------------------------------------------------------ writes
    async def log_question(self, *, channel: str, chat_type: str, user_hash: str | None, kind: str,
                           entry_id: str | None, score: float, ts: float | None = None) -> int:
        return await self._write_or_keep(
            "question statistics", "INSERT INTO questions(ts, channel, chat_type, user_hash, kind, entry_id, score)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s) RETURNING id",
            (ts or time.time(), channel, chat_type, user_hash, kind, entry_id, score))

    async def log_unanswered(self, *, text: str, norm: str, channel: str, chat_type: str,
                             user_hash: str | None, kind: str, candidates: list[dict[str, Any]],
                             ts: float | None = None) -> int:
        return await self._write_or_keep(
            "unanswered question", "INSERT INTO unanswered(ts, text, norm, channel, chat_type, user_hash, kind, candidates)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id",
            (ts or time.time(), _clean(text), _clean(norm), channel, chat_type, user_hash, kind,
             json.dumps(candidates, ensure_ascii=False)))

    async def add_feedback(self, *, entry_id: str, vote: int, user_hash: str, channel: str) -> None:
        if vote not in (1, -1):
            raise StoreError(f"vote must be 1 or -1, got {vote}")
        await self._write_or_keep(
            "vote", "INSERT INTO feedback(ts, entry_id, vote, user_hash, channel) VALUES (%s,%s,%s,%s,%s)"
            " ON CONFLICT(entry_id, user_hash) DO UPDATE SET vote=excluded.vote, ts=excluded.ts",
            (time.time(), entry_id, vote, user_hash, channel))

    async def set_status(self, ids: Sequence[int], status: str, entry_id: str | None = None) -> int:
        if status not in STATUSES:
            raise StoreError(f"status must be one of {STATUSES}, got {status!r}")
        cur = await self._exec("UPDATE unanswered SET status=%s, entry_id=%s, resolved_ts=%s WHERE id = ANY(%s)",
                               (status, entry_id, time.time() if status != "open" else None, list(ids)))
        return cur.rowcount

    async def purge(self, older_than_days: float, now: float | None = None) -> int:
        cutoff = (now or time.time()) - older_than_days * 86400
        cur = await self._exec("DELETE FROM unanswered WHERE ts < %s", (cutoff,))
        await self._exec("DELETE FROM inbox WHERE status != 'pending' AND ts < %s", (cutoff,))
        await self._exec("DELETE FROM conversations WHERE ts < %s", (cutoff,))
        return cur.rowcount

    # ------------------------------------------------------------------ reads
    async def unanswered(self, status: str | None = "open", limit: int | None = None) -> list[UnansweredRow]:
        sql = "SELECT id, ts, text, norm, channel, chat_type, user_hash, kind, candidates, status, entry_id" \
              " FROM unanswered"
        params: list[Any] = []
        if status:
            sql += " WHERE status=%s"
            params.append(status)
        sql += " ORDER BY ts DESC, id DESC"
        if limit:
            sql += " LIMIT %s"
            params.append(limit)
        return [UnansweredRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8]), r[9], r[10])
                for r in await self._rows(sql, params)]

    async def count_unanswered(self) -> int:
        return (await self._one("SELECT count(*) FROM unanswered"))[0]

    async def stats(self, since: float | None = None) -> Stats:
        since = since or 0.0
        per_day: dict[str, dict[str, int]] = {}
        for d, k, n in await self._rows(
                "SELECT to_char(to_timestamp(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS d, kind, count(*)"
                " FROM questions WHERE ts >= %s GROUP BY d, kind ORDER BY d", (since,)):
            per_day.setdefault(d, {})[k] = n
        return Stats(
            by_kind={k: n for k, n in await self._rows(
                "SELECT kind, count(*) FROM questions WHERE ts >= %s GROUP BY kind", (since,))},
            per_day=per_day,
            top_entries=[EntryCount(e, n) for e, n in await self._rows(
                "SELECT entry_id, count(*) AS n FROM questions WHERE ts >= %s AND kind='answer'"
                " GROUP BY entry_id ORDER BY n DESC, entry_id LIMIT 10", (since,))],
            feedback=[FeedbackCount(e, up or 0, down or 0) for e, up, down in await self._rows(
                "SELECT entry_id, count(*) FILTER (WHERE vote = 1), count(*) FILTER (WHERE vote = -1)"
                " FROM feedback GROUP BY entry_id ORDER BY count(*) FILTER (WHERE vote = -1) DESC, entry_id")],
            unanswered_by_status={s: n for s, n in await self._rows(
                "SELECT status, count(*) FROM unanswered GROUP BY status")},
            health=self.health())

    # ------------------------------------------------------------------ the inbox
    async def inbox_put(self, channel: str, key: str, lane: str, payload: bytes) -> bool:
        cur = await self._exec("INSERT INTO inbox(channel, key, lane, payload, ts) VALUES (%s,%s,%s,%s,%s)"
                               " ON CONFLICT(channel, key) DO NOTHING", (channel, key, lane, payload, time.time()))
        return cur.rowcount == 1

    async def inbox_put_many(self, items: Sequence[tuple[str, str, str, bytes]]) -> list[bool]:
        now = time.time()
        try:
            async with self._pool.connection(timeout=5) as conn, conn.transaction():
                fresh = []
                for channel, key, lane, payload in items:
                    cur = await conn.execute(
                        "INSERT INTO inbox(channel, key, lane, payload, ts) VALUES (%s,%s,%s,%s,%s)"
                        " ON CONFLICT(channel, key) DO NOTHING", (channel, key, lane, payload, now))
                    fresh.append(cur.rowcount == 1)
            self._up()
            return fresh
        except (psycopg.OperationalError, psycopg.InterfaceError, asyncio.TimeoutError, OSError) as exc:
            self._down(exc)
            raise StoreError(f"{self.label}: database unavailable ({_cause(exc)})") from None

    async def inbox_claim(self, owner: str, limit: int, lease: float) -> list[InboxItem]:
        now = time.time()
        rows = await self._rows(
            "UPDATE inbox SET owner=%s, lease_until=%s, attempts=attempts+1 WHERE id IN ("
            " SELECT i.id FROM inbox i WHERE i.status='pending' AND (i.lease_until IS NULL OR i.lease_until < %s)"
            "  AND NOT EXISTS (SELECT 1 FROM inbox j WHERE j.lane=i.lane AND j.status='pending' AND j.id<i.id)"
            "  ORDER BY i.id LIMIT %s FOR UPDATE SKIP LOCKED)"
            " RETURNING id, channel, key, payload, attempts, ts", (owner, now + lease, now, limit))
        return sorted((InboxItem(r[0], r[1], r[2], bytes(r[3]), r[4], r[5]) for r in rows), key=lambda i: i.id)

    async def inbox_done(self, item_id: int) -> None:
        await self._exec("UPDATE inbox SET status='done', payload=NULL, lease_until=NULL WHERE id=%s", (item_id,))

    async def inbox_release(self, item_id: int, *, give_up: bool = False, delay: float = 0.0) -> None:
        if give_up:
            await self._exec("UPDATE inbox SET status='failed', payload=NULL, lease_until=NULL WHERE id=%s",
                             (item_id,))
        else:
            await self._exec("UPDATE inbox SET lease_until=%s, owner=NULL WHERE id=%s",
                             (time.time() + delay if delay > 0 else None, item_id))

    async def inbox_renew(self, owner: str, lease: float) -> None:
        await self._exec("UPDATE inbox SET lease_until=%s WHERE owner=%s AND status='pending'",
                         (time.time() + lease, owner))

    async def inbox_recover(self) -> int:
        """Never at start-up for a shared store: other replicas' leases are alive; expired ones are
        taken by ``inbox_claim`` anyway. Only for an operator who knows every replica is down."""
        cur = await self._exec("UPDATE inbox SET lease_until=NULL, owner=NULL WHERE status='pending'"
                               " AND owner IS NOT NULL")
        return cur.rowcount

    async def inbox_pending(self) -> int:
        return (await self._one("SELECT count(*) FROM inbox WHERE status='pending'"))[0]

    # ------------------------------------------------------------------ conversations, jobs, replicas
    async def remember(self, chat_key: str, data: str) -> None:
        await self._exec("INSERT INTO conversations(chat_key, ts, data) VALUES (%s,%s,%s)"
                         " ON CONFLICT(chat_key) DO UPDATE SET ts=excluded.ts, data=excluded.data",
                         (chat_key, time.time(), data))

    async def recall(self, chat_key: str) -> str | None:
        row = await self._one("SELECT data FROM conversations WHERE chat_key=%s", (chat_key,))
        return row[0] if row else None

    async def claim_job(self, name: str, period: str) -> bool:
        cur = await self._exec("INSERT INTO jobs(name, period, ts) VALUES (%s,%s,%s) ON CONFLICT DO NOTHING",
                               (name, period, time.time()))
        return cur.rowcount == 1

    @contextlib.asynccontextmanager
    async def edit_lock(self) -> AsyncIterator[None]:
        """One curator edit of the shared knowledge folder at a time, across every replica."""
        try:
            async with self._pool.connection(timeout=10) as conn:
                await conn.execute("SELECT pg_advisory_lock(%s)", (EDIT_LOCK,))
                try:
                    yield
                finally:
                    await conn.execute("SELECT pg_advisory_unlock(%s)", (EDIT_LOCK,))
        except (psycopg.OperationalError, asyncio.TimeoutError) as exc:
            raise StoreError(f"{self.label}: cannot lock the knowledge folder for an edit ({_cause(exc)})") from None

    async def announce(self, fingerprint: str) -> None:
        """Tell every replica which base this one now serves (NOTIFY with its content hash)."""
        await self._exec("SELECT pg_notify(%s, %s)", (KB_CHANNEL, fingerprint))

    def listen(self, on_change: Callable[[str], Awaitable[None]]) -> None:
        """Call ``on_change(fingerprint)`` for every base another replica announces (until ``close``)."""
        self._listener = asyncio.create_task(self._listen(on_change), name="store-listen")

    async def _listen(self, on_change: Callable[[str], Awaitable[None]]) -> None:
        attempt = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {KB_CHANNEL}")
                    attempt = 0
                    async for note in conn.notifies():
                        try:
                            await on_change(note.payload)
                        except Exception:  # noqa: BLE001 - one failed reload must not end the listening
                            log.exception("reacting to another replica's base failed")
            except asyncio.CancelledError:
                raise
            except (psycopg.Error, OSError) as exc:
                delay = RETRY[min(attempt, len(RETRY) - 1)]
                attempt += 1
                log.warning("listening for knowledge changes failed (%s); again in %.0f s", _cause(exc), delay)
                await asyncio.sleep(delay)


def _cause(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def _clean(text: str) -> str:
    """Text PostgreSQL can store: no NUL, no unpaired surrogate."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
