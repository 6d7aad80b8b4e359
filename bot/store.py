"""Opening the store named by ``RASHUT_DB``: the one place that maps a setting to a backend.

A plain path or ``sqlite:///path`` is the embedded SQLite store; ``postgresql://`` is PostgreSQL
(several replicas). Any other scheme is a settings error, never a file name.
"""
from __future__ import annotations

from pathlib import Path

from .sqlite_store import SqliteStore
from .storage import Storage, UnansweredRow, hash_user

__all__ = ["Storage", "SqliteStore", "UnansweredRow", "hash_user", "make_store", "open_store"]


def make_store(target: str | Path, *, readonly: bool = False) -> Storage:
    """The store for a PostgreSQL URL or a SQLite path (``Settings.db_target``), not connected yet."""
    if isinstance(target, str) and target.startswith(("postgresql://", "postgres://")):
        from .pg_store import PgStore

        return PgStore(target)
    return SqliteStore(target, readonly=readonly)


async def open_store(target: str | Path, *, readonly: bool = False) -> Storage:
    store = make_store(target, readonly=readonly)
    await store.connect()
    return store
