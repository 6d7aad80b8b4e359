"""The runtime's lifecycle: a start that fails half way leaves nothing running behind it."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.runtime import Runtime
from bot.settings import Settings
from bot.sqlite_store import SqliteStore
from knowledge.errors import StoreError
from tests.store_faults import real_store, threads, threads_left


async def test_a_start_that_fails_after_the_store_opened_closes_it(good_kb: Path, tmp_path: Path, monkeypatch):
    """Before: the store stayed open (runtime.started was never set, so nobody stopped it) and its
    connection thread kept the process alive after the error."""
    db = real_store(tmp_path / "rashut.db")
    store = SqliteStore(db)

    async def fails() -> int:
        raise StoreError(f"{db}: is damaged (database disk image is malformed)")

    monkeypatch.setattr(store, "inbox_recover", fails)
    before = threads()
    runtime = Runtime.build(Settings(kb_path=good_kb, db_path=db, hash_key="k", watch_kb=False), store=store)
    try:
        with pytest.raises(StoreError, match="is damaged"):
            await runtime.start()
        left_open = store._db is not None
    finally:
        await store.close()  # so that a failure here does not also hang the test run at exit
    assert not left_open and not runtime.started and threads_left(before) == []
    assert not runtime.jobs.scheduler.running


async def test_the_hash_key_warning_waits_for_the_store(good_kb: Path, tmp_path: Path, caplog):
    """A store that cannot be opened is the one line a failed start prints, nothing before it."""
    (tmp_path / "rashut.db").write_bytes(b"not a database" * 100)
    runtime = Runtime.build(Settings(kb_path=good_kb, db_path=tmp_path / "rashut.db", watch_kb=False))
    with pytest.raises(StoreError, match="is not a database"):
        await runtime.start()
    assert "RASHUT_HASH_KEY" not in caplog.text
