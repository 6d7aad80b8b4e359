"""The embedded store: one SQLite file (aiosqlite), for a pilot on one machine.

SQLite in WAL mode with a busy timeout; the schema is migrated by ``PRAGMA user_version``.
Every write commits before the caller continues, so a question that the bot acknowledged to a
user ("passed to the curators") is on disk even if the process is killed right after. User ids
never reach the database: callers pass keyed hashes (``hash_user``).

Opening fails fast and closed: a file that is not a database or is damaged (``PRAGMA
quick_check`` at open: a damaged page otherwise surfaces only when a query reaches it, after the
bot has been serving for hours), a read-only file or folder, or a folder that cannot be created is
a ``StoreError`` naming the file and the cause, and the connection's worker thread (not a daemon:
one left running keeps the process alive) is closed, so no command can hang on a broken data
volume. Every later SQLite failure is a ``StoreError`` naming the file, too.

A read-only store (``readonly=True``, for commands that only read) never creates anything: where
there is no store yet it raises ``NoStoreYet``, and it opens the file read-only, so a user who may
read the file but not write it can still read it.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import stat
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncContextManager, AsyncIterator, Awaitable, Callable, Iterable, Sequence

import aiosqlite

from knowledge.errors import StoreError

from .sqlite_schema import MIGRATIONS
from .storage import (STATUSES, EntryCount, FeedbackCount, InboxItem, NoStoreYet, Stats, StoreHealth, UnansweredRow,
                      hash_user, storable)

__all__ = ["MIGRATIONS", "SqliteStore", "hash_user"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS_NOTE = "gave up"
NO_STORE_YET = "no store here yet (nothing has been recorded)"
_START_OVER = "restore a backup, or move it away to start a new store"


def _cause(exc: sqlite3.Error, path: Path) -> str:
    """A short, plain cause for an SQLite failure, by its result code (the text where it helps)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name == "SQLITE_NOTADB":
        return f"is not a database ({_START_OVER})"
    if name.startswith("SQLITE_CORRUPT"):
        return f"is damaged ({text}; {_START_OVER})"
    if name == "SQLITE_READONLY_DIRECTORY":
        return (f"is read-only here: its folder {path.parent} is read-only, and SQLite keeps the store's "
                f"-wal and -shm files beside it, even to read it")
    if name.startswith(("SQLITE_READONLY", "SQLITE_PERM")):
        return "is read-only (check the file's and its folder's permissions and owner)"
    if name.startswith("SQLITE_CANTOPEN"):
        return "cannot be opened (check that its folder exists and this user may read and write there)"
    if name == "SQLITE_FULL":
        return "cannot be written: the disk is full"
    if name.startswith("SQLITE_IOERR"):
        return f"cannot be read or written ({text})"
    return text


def _stat(path: Path) -> os.stat_result | None:
    """The file's status, None when nothing is there; a folder on the way that this user may not
    enter is a ``StoreError`` (``Path.exists`` raises ``PermissionError`` there)."""
    try:
        return path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except PermissionError:
        raise StoreError(f"{path}: cannot be reached: permission denied on one of its folders "
                         "(check their permissions and owner)") from None


def _nearest_existing(path: Path) -> Path:
    """The deepest of ``path`` and its folders that exists (where creating the rest was refused)."""
    return next((p for p in (path, *path.parents) if os.path.exists(p)), path)


def _blocking_file(path: Path) -> Path | None:
    """The first of ``path``'s folders that is a file (so the folder cannot be created), if any."""
    for parent in reversed(path.parents):
        if os.path.exists(parent) and not os.path.isdir(parent):
            return parent
    return None


def _first_finding(verdict: str) -> str:
    """The first problem ``quick_check`` names, without its "*** in database main ***" heading."""
    lines = [line for line in verdict.splitlines() if line.strip() and not line.startswith("***")]
    return lines[0] if lines else verdict.strip()


def _params(params: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(storable(v) for v in params)


class SqliteStore:
    """Async SQLite store. Use ``await SqliteStore.open(path)``; close with ``await store.close()``."""

    RETRIES = 3

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = str(path)
        self.label = self.path
        self.shared = False  # one process per file: at start-up every lease is its own to recover
        self.readonly = readonly
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path, *, readonly: bool = False) -> "SqliteStore":
        store = cls(path, readonly=readonly)
        await store.connect()
        return store

    # ------------------------------------------------------------------ lifecycle
    def _error(self, exc: sqlite3.Error) -> StoreError:
        return StoreError(f"{self.path}: {_cause(exc, Path(self.path))}")

    def _prepare_path(self) -> str:
        """The sqlite target; creates the folder for a writable store, never for a read-only one.
        What SQLite would only report as "unable to open database file" is named here."""
        if self.path == ":memory:":
            return self.path
        path = Path(self.path)
        st = _stat(path)
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise StoreError(f"{self.path}: is a folder, not a database file")
        if self.readonly:
            if st is None:
                raise NoStoreYet(f"{self.path}: {NO_STORE_YET}")
            return f"{path.resolve().as_uri()}?mode=ro"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            blocker = _blocking_file(path)
            raise StoreError(f"{self.path}: cannot create its folder {path.parent}: "
                             f"{blocker or path.parent} is a file, not a folder") from None
        except PermissionError:
            raise StoreError(f"{self.path}: cannot create its folder {path.parent}: "
                             f"{_nearest_existing(path.parent)} is read-only") from None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot create its folder {path.parent} ({exc.strerror})") from None
        if st is None and not os.access(path.parent, os.W_OK | os.X_OK):
            raise StoreError(f"{self.path}: cannot create it: the folder {path.parent} is read-only")
        if st is not None and not os.access(path, os.W_OK):
            raise StoreError(f"{self.path}: is read-only (check the file's permissions and owner)")
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise StoreError(f"{self.path}: is read-only here: its folder {path.parent} is read-only, and SQLite "
                             f"keeps the store's -wal and -shm files beside it")
        return self.path

    async def connect(self) -> None:
        target = self._prepare_path()
        try:
            db = await aiosqlite.connect(target, timeout=10, uri=target.startswith("file:"))
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        try:
            await self._setup(db)
        except BaseException as exc:  # a cancelled start too: never leave the connection's thread running
            self._db = None
            await db.close()
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc) from None
            raise

    async def _setup(self, db: aiosqlite.Connection) -> None:
        """Pragmas, then the checks that find a foreign, newer or damaged file, then migrations."""
        if not self.readonly:
            await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA busy_timeout=5000")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA foreign_keys=ON")
        async with db.execute("PRAGMA user_version") as cur:
            (version,) = await cur.fetchone()  # type: ignore[misc]
        if version > len(MIGRATIONS):
            raise StoreError(f"{self.path}: schema version {version} is newer than this program "
                             f"({len(MIGRATIONS)}); upgrade rashut")
        if self.readonly and version == 0:  # an empty file: nothing was ever recorded in it
            raise NoStoreYet(f"{self.path}: {NO_STORE_YET}")
        async with db.execute("PRAGMA quick_check(1)") as cur:
            (verdict,) = await cur.fetchone()  # type: ignore[misc]
        if verdict != "ok":
            raise StoreError(f"{self.path}: is damaged ({_first_finding(verdict)}; {_START_OVER})")
        self._db = db
        if not self.readonly:
            await self._migrate(version)

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError(f"store {self.path} is not open")
        return self._db

    async def _migrate(self, version: int) -> None:
        for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
            await self.db.executescript(f"BEGIN IMMEDIATE; {script}; PRAGMA user_version={target}; COMMIT;")
            log.debug("store %s migrated to version %d", self.path, target)

    async def _rollback(self) -> None:
        """After a failed write, so the connection is usable again (a failed rollback changes nothing)."""
        try:
            await self.db.rollback()
        except (sqlite3.Error, ValueError):
            pass

    @asynccontextmanager
    async def _failing(self, *, rollback: bool = False) -> AsyncIterator[None]:
        """SQLite's failures as ``StoreError`` naming the file and the cause: a command prints one
        line, not a traceback."""
        try:
            yield
        except sqlite3.Error as exc:
            if rollback:
                await self._rollback()
            raise self._error(exc) from exc

    async def user_version(self) -> int:
        return (await self._rows("PRAGMA user_version"))[0][0]

    async def _write(self, sql: str, params: Sequence[Any] | Iterable[Sequence[Any]] = (),
                     many: bool = False) -> int:
        """Run one write and commit, retrying on a locked or busy database. Every text is made
        storable first (``storable``): the write must not fail on what a user typed."""
        args: Any = [_params(p) for p in params] if many else _params(params)  # type: ignore[arg-type]
        delay = 0.05
        for attempt in range(1, self.RETRIES + 1):
            try:
                async with self._lock:
                    cur = await (self.db.executemany(sql, args) if many else self.db.execute(sql, args))
                    await self.db.commit()
                    return (cur.lastrowid or 0) if not many else cur.rowcount
            except sqlite3.OperationalError as exc:
                log.warning("store write failed (attempt %d/%d): %s", attempt, self.RETRIES, exc)
                await self._rollback()
                if attempt == self.RETRIES:
                    raise StoreError(f"{self.path}: write failed after {attempt} attempts: "
                                     f"{_cause(exc, Path(self.path))}") from exc
                await asyncio.sleep(delay)
                delay *= 4
            except sqlite3.Error as exc:
                await self._rollback()
                raise self._error(exc) from exc
        raise StoreError("unreachable")

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        async with self._failing():
            async with self.db.execute(sql, _params(params)) as cur:
                return list(await cur.fetchall())

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

    async def set_status(self, ids: Sequence[int], status: str, entry_id: str | None = None) -> int:
        if status not in STATUSES:
            raise StoreError(f"status must be one of {STATUSES}, got {status!r}")
        return await self._write(
            "UPDATE unanswered SET status=?, entry_id=?, resolved_ts=? WHERE id=?",
            [(status, entry_id, time.time() if status != "open" else None, i) for i in ids], many=True)

    async def purge(self, older_than_days: float, now: float | None = None) -> int:
        """Delete unanswered rows (any status), finished inbox rows and old conversations past retention."""
        cutoff = (now or time.time()) - older_than_days * 86400
        async with self._lock, self._failing(rollback=True):
            cur = await self.db.execute("DELETE FROM unanswered WHERE ts < ?", (cutoff,))
            await self.db.execute("DELETE FROM inbox WHERE status != 'pending' AND ts < ?", (cutoff,))
            await self.db.execute("DELETE FROM conversations WHERE ts < ?", (cutoff,))
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
        return [UnansweredRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8]), r[9], r[10])
                for r in await self._rows(sql, params)]

    async def count_unanswered(self) -> int:
        return (await self._rows("SELECT count(*) FROM unanswered"))[0][0]

    async def stats(self, since: float | None = None) -> Stats:
        since = since or 0.0
        per_day: dict[str, dict[str, int]] = {}
        for d, k, n in await self._rows(
                "SELECT date(ts, 'unixepoch') AS d, kind, count(*) FROM questions WHERE ts >= ?"
                " GROUP BY d, kind ORDER BY d", (since,)):
            per_day.setdefault(d, {})[k] = n
        return Stats(
            by_kind={k: n for k, n in await self._rows(
                "SELECT kind, count(*) FROM questions WHERE ts >= ? GROUP BY kind", (since,))},
            per_day=per_day,
            top_entries=[EntryCount(e, n) for e, n in await self._rows(
                "SELECT entry_id, count(*) AS n FROM questions WHERE ts >= ? AND kind='answer'"
                " GROUP BY entry_id ORDER BY n DESC LIMIT 10", (since,))],
            feedback=[FeedbackCount(e, up or 0, down or 0) for e, up, down in await self._rows(
                "SELECT entry_id, sum(vote = 1), sum(vote = -1) FROM feedback GROUP BY entry_id"
                " ORDER BY sum(vote = -1) DESC, entry_id")],
            unanswered_by_status={s: n for s, n in await self._rows(
                "SELECT status, count(*) FROM unanswered GROUP BY status")})

    async def integrity_check(self) -> str:
        return (await self._rows("PRAGMA integrity_check"))[0][0]

    # ------------------------------------------------------------------ the inbox
    async def inbox_put(self, channel: str, key: str, lane: str, payload: bytes) -> bool:
        """Store a received update unless its (channel, key) was seen before; True when new."""
        async with self._lock, self._failing(rollback=True):
            cur = await self.db.execute(
                "INSERT INTO inbox(channel, key, lane, payload, ts) VALUES (?,?,?,?,?)"
                " ON CONFLICT(channel, key) DO NOTHING", _params((channel, key, lane, payload, time.time())))
            await self.db.commit()
            return cur.rowcount == 1

    async def inbox_put_many(self, items: Sequence[tuple[str, str, str, bytes]]) -> list[bool]:
        """``inbox_put`` for a batch (channel, key, lane, payload), in one transaction: one fsync for
        a whole getUpdates page, so the offset can move on sooner."""
        now = time.time()
        fresh = []
        async with self._lock:
            try:
                for channel, key, lane, payload in items:
                    cur = await self.db.execute(
                        "INSERT INTO inbox(channel, key, lane, payload, ts) VALUES (?,?,?,?,?)"
                        " ON CONFLICT(channel, key) DO NOTHING", (channel, key, lane, payload, now))
                    fresh.append(cur.rowcount == 1)
                await self.db.commit()
            except BaseException:
                await self.db.rollback()
                raise
        return fresh

    async def inbox_claim(self, owner: str, limit: int, lease: float) -> list[InboxItem]:
        """Lease up to ``limit`` pending items: the oldest of each lane (a chat's messages are
        handled in order, one at a time, and a flooding chat holds one worker, not all of them)."""
        now = time.time()
        async with self._lock, self._failing(rollback=True):
            async with self.db.execute(
                    "UPDATE inbox SET owner=?, lease_until=?, attempts=attempts+1 WHERE id IN ("
                    " SELECT i.id FROM inbox i WHERE i.status='pending'"
                    "  AND (i.lease_until IS NULL OR i.lease_until < ?)"
                    "  AND NOT EXISTS (SELECT 1 FROM inbox j WHERE j.lane=i.lane AND j.status='pending' AND j.id<i.id)"
                    "  ORDER BY i.id LIMIT ?)"
                    " RETURNING id, channel, key, payload, attempts, ts",
                    _params((owner, now + lease, now, limit))) as cur:
                rows = list(await cur.fetchall())
            await self.db.commit()
        return sorted((InboxItem(*r) for r in rows), key=lambda item: item.id)

    async def inbox_done(self, item_id: int) -> None:
        """Finished (answered, or given up): the payload is wiped, the key stays to catch redeliveries."""
        await self._write("UPDATE inbox SET status='done', payload=NULL, lease_until=NULL WHERE id=?", (item_id,))

    async def inbox_release(self, item_id: int, *, give_up: bool = False, delay: float = 0.0) -> None:
        """Return a leased item for another try after ``delay`` seconds, or mark it failed (payload
        wiped) for good."""
        if give_up:
            await self._write("UPDATE inbox SET status='failed', payload=NULL, lease_until=NULL WHERE id=?",
                              (item_id,))
        else:
            await self._write("UPDATE inbox SET lease_until=?, owner=NULL WHERE id=?",
                              (time.time() + delay if delay > 0 else None, item_id))

    async def inbox_renew(self, owner: str, lease: float) -> None:
        await self._write("UPDATE inbox SET lease_until=? WHERE owner=? AND status='pending'",
                          (time.time() + lease, owner))

    async def inbox_recover(self) -> int:
        """At start-up of the only process on this file: every lease belonged to a process that is
        gone, so its items are free at once (not only when their leases run out)."""
        async with self._lock, self._failing(rollback=True):
            cur = await self.db.execute("UPDATE inbox SET lease_until=NULL, owner=NULL WHERE status='pending'"
                                        " AND owner IS NOT NULL")
            await self.db.commit()
            return cur.rowcount

    async def inbox_pending(self) -> int:
        return (await self._rows("SELECT count(*) FROM inbox WHERE status='pending'"))[0][0]

    # ------------------------------------------------------------------ conversations and jobs
    async def remember(self, chat_key: str, data: str) -> None:
        await self._write("INSERT INTO conversations(chat_key, ts, data) VALUES (?,?,?)"
                          " ON CONFLICT(chat_key) DO UPDATE SET ts=excluded.ts, data=excluded.data",
                          (chat_key, time.time(), data))

    async def recall(self, chat_key: str) -> str | None:
        rows = await self._rows("SELECT data FROM conversations WHERE chat_key=?", (chat_key,))
        return rows[0][0] if rows else None

    def health(self) -> StoreHealth:
        return StoreHealth()  # a local file: a failed write is an error right away, nothing is kept

    def edit_lock(self) -> AsyncContextManager[None]:
        return contextlib.nullcontext()  # one process: the knowledge folder's own file lock is enough

    async def announce(self, fingerprint: str) -> None:
        """Nobody else to tell: one process per SQLite file."""

    def listen(self, on_change: Callable[[str], Awaitable[None]]) -> None:
        """Nobody else to hear from."""

    async def claim_job(self, name: str, period: str) -> bool:
        async with self._lock, self._failing(rollback=True):
            cur = await self.db.execute("INSERT INTO jobs(name, period, ts) VALUES (?,?,?)"
                                        " ON CONFLICT(name, period) DO NOTHING", _params((name, period, time.time())))
            await self.db.commit()
            return cur.rowcount == 1
