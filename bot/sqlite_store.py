"""Storage of questions, unanswered questions, feedback and processed updates (aiosqlite).

SQLite in WAL mode with a busy timeout; the schema is migrated by ``PRAGMA user_version``.
Every write commits before the caller continues, so a question that the bot acknowledged to a
user ("passed to the curators") is on disk even if the process is killed right after. User ids
never reach the database: callers pass keyed hashes (``hash_user``).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import aiosqlite

from knowledge.errors import StoreError

log = logging.getLogger(__name__)

MIGRATIONS: tuple[str, ...] = (
    # 1: initial schema
    """
    CREATE TABLE questions (
        id INTEGER PRIMARY KEY, ts REAL NOT NULL, channel TEXT NOT NULL, chat_type TEXT NOT NULL,
        user_hash TEXT, kind TEXT NOT NULL, entry_id TEXT, score REAL);
    CREATE INDEX questions_ts ON questions(ts);
    CREATE TABLE unanswered (
        id INTEGER PRIMARY KEY, ts REAL NOT NULL, text TEXT NOT NULL, norm TEXT NOT NULL,
        channel TEXT NOT NULL, chat_type TEXT NOT NULL, user_hash TEXT, kind TEXT NOT NULL,
        candidates TEXT NOT NULL DEFAULT '[]', status TEXT NOT NULL DEFAULT 'open',
        entry_id TEXT, resolved_ts REAL);
    CREATE INDEX unanswered_status ON unanswered(status, ts);
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY, ts REAL NOT NULL, entry_id TEXT NOT NULL, vote INTEGER NOT NULL,
        user_hash TEXT NOT NULL, channel TEXT NOT NULL, UNIQUE(entry_id, user_hash));
    CREATE TABLE updates (update_id INTEGER PRIMARY KEY, ts REAL NOT NULL);
    """,
)

STATUSES = ("open", "resolved", "dismissed")


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


class Store:
    """Async SQLite store. Use ``await Store.open(path)``; close with ``await store.close()``."""

    RETRIES = 3

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> "Store":
        store = cls(path)
        await store.connect()
        return store

    async def connect(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(self.path, timeout=10)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA busy_timeout=5000")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA foreign_keys=ON")
        self._db = db
        await self._migrate()

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError(f"store {self.path} is not open")
        return self._db

    async def _migrate(self) -> None:
        async with self.db.execute("PRAGMA user_version") as cur:
            (version,) = await cur.fetchone()
        for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
            await self.db.executescript(f"BEGIN; {script}; PRAGMA user_version={target}; COMMIT;")
            log.info("store %s migrated to version %d", self.path, target)

    async def user_version(self) -> int:
        async with self.db.execute("PRAGMA user_version") as cur:
            return (await cur.fetchone())[0]

    async def _write(self, sql: str, params: Sequence[Any] | Iterable[Sequence[Any]] = (),
                     many: bool = False) -> int:
        """Run one write and commit, retrying on a locked or busy database."""
        delay = 0.05
        for attempt in range(1, self.RETRIES + 1):
            try:
                async with self._lock:
                    cur = await (self.db.executemany(sql, params) if many else self.db.execute(sql, params))
                    await self.db.commit()
                    return cur.lastrowid if not many else cur.rowcount
            except sqlite3.OperationalError as exc:
                log.warning("store write failed (attempt %d/%d): %s", attempt, self.RETRIES, exc)
                try:
                    await self.db.rollback()
                except sqlite3.Error:
                    pass
                if attempt == self.RETRIES:
                    raise StoreError(f"{self.path}: write failed after {attempt} attempts: {exc}") from exc
                await asyncio.sleep(delay)
                delay *= 4
        raise StoreError("unreachable")

    # ------------------------------------------------------------------ writes
    async def log_question(self, *, channel: str, chat_type: str, user_hash: str | None, kind: str,
                           entry_id: str | None, score: float, ts: float | None = None) -> int:
        return await self._write(
            "INSERT INTO questions(ts, channel, chat_type, user_hash, kind, entry_id, score) VALUES (?,?,?,?,?,?,?)",
            (ts or time.time(), channel, chat_type, user_hash, kind, entry_id, score))

    async def log_unanswered(self, *, text: str, norm: str, channel: str, chat_type: str,
                             user_hash: str | None, kind: str, candidates: list[dict[str, Any]],
                             ts: float | None = None) -> int:
        return await self._write(
            "INSERT INTO unanswered(ts, text, norm, channel, chat_type, user_hash, kind, candidates)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (ts or time.time(), text, norm, channel, chat_type, user_hash, kind,
             json.dumps(candidates, ensure_ascii=False)))

    async def add_feedback(self, *, entry_id: str, vote: int, user_hash: str, channel: str) -> None:
        if vote not in (1, -1):
            raise StoreError(f"vote must be 1 or -1, got {vote}")
        await self._write(
            "INSERT INTO feedback(ts, entry_id, vote, user_hash, channel) VALUES (?,?,?,?,?)"
            " ON CONFLICT(entry_id, user_hash) DO UPDATE SET vote=excluded.vote, ts=excluded.ts",
            (time.time(), entry_id, vote, user_hash, channel))

    async def mark_update(self, update_id: int) -> bool:
        """Record a transport update id; False if it was already processed (a duplicate)."""
        async with self._lock:
            cur = await self.db.execute("INSERT OR IGNORE INTO updates(update_id, ts) VALUES (?, ?)",
                                        (update_id, time.time()))
            await self.db.commit()
            return cur.rowcount == 1

    async def set_status(self, ids: Sequence[int], status: str, entry_id: str | None = None) -> int:
        if status not in STATUSES:
            raise StoreError(f"status must be one of {STATUSES}, got {status!r}")
        return await self._write(
            "UPDATE unanswered SET status=?, entry_id=?, resolved_ts=? WHERE id=?",
            [(status, entry_id, time.time() if status != "open" else None, i) for i in ids], many=True)

    async def purge(self, older_than_days: float, now: float | None = None) -> int:
        """Delete unanswered rows (any status) and processed update ids older than the retention."""
        cutoff = (now or time.time()) - older_than_days * 86400
        async with self._lock:
            cur = await self.db.execute("DELETE FROM unanswered WHERE ts < ?", (cutoff,))
            await self.db.execute("DELETE FROM updates WHERE ts < ?", (cutoff,))
            await self.db.commit()
            return cur.rowcount

    # ------------------------------------------------------------------ reads
    async def unanswered(self, status: str | None = "open", limit: int | None = None) -> list[UnansweredRow]:
        sql = "SELECT id, ts, text, norm, channel, chat_type, user_hash, kind, candidates, status, entry_id" \
              " FROM unanswered"
        params: list[Any] = []
        if status:
            sql += " WHERE status=?"
            params.append(status)
        sql += " ORDER BY ts DESC, id DESC"
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        async with self.db.execute(sql, params) as cur:
            rows = await cur.fetchall()
        return [UnansweredRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8]), r[9], r[10])
                for r in rows]

    async def count_unanswered(self) -> int:
        async with self.db.execute("SELECT count(*) FROM unanswered") as cur:
            return (await cur.fetchone())[0]

    async def stats(self, since: float | None = None) -> dict[str, Any]:
        since = since or 0.0
        out: dict[str, Any] = {}
        async with self.db.execute("SELECT kind, count(*) FROM questions WHERE ts >= ? GROUP BY kind", (since,)) as c:
            out["by_kind"] = {k: n for k, n in await c.fetchall()}
        async with self.db.execute(
                "SELECT date(ts, 'unixepoch') AS d, kind, count(*) FROM questions WHERE ts >= ?"
                " GROUP BY d, kind ORDER BY d", (since,)) as c:
            per_day: dict[str, dict[str, int]] = {}
            for d, k, n in await c.fetchall():
                per_day.setdefault(d, {})[k] = n
            out["per_day"] = per_day
        async with self.db.execute(
                "SELECT entry_id, count(*) AS n FROM questions WHERE ts >= ? AND kind='answer'"
                " GROUP BY entry_id ORDER BY n DESC LIMIT 10", (since,)) as c:
            out["top_entries"] = await c.fetchall()
        async with self.db.execute(
                "SELECT entry_id, sum(vote = 1), sum(vote = -1) FROM feedback GROUP BY entry_id"
                " ORDER BY sum(vote = -1) DESC, entry_id") as c:
            out["feedback"] = await c.fetchall()
        async with self.db.execute("SELECT status, count(*) FROM unanswered GROUP BY status") as c:
            out["unanswered_by_status"] = {s: n for s, n in await c.fetchall()}
        return out

    async def integrity_check(self) -> str:
        async with self.db.execute("PRAGMA integrity_check") as cur:
            return (await cur.fetchone())[0]
