import sqlite3

import pytest

from bot.sqlite_store import MIGRATIONS, SqliteStore as Store, hash_user
from knowledge.errors import StoreError


async def test_migrations_and_pragmas(tmp_path):
    s = await Store.open(tmp_path / "a.db")
    assert await s.user_version() == len(MIGRATIONS)
    async with s.db.execute("PRAGMA journal_mode") as cur:
        assert (await cur.fetchone())[0] == "wal"
    async with s.db.execute("PRAGMA busy_timeout") as cur:
        assert (await cur.fetchone())[0] == 5000
    await s.close()
    s = await Store.open(tmp_path / "a.db")  # reopening does not migrate again
    assert await s.user_version() == len(MIGRATIONS)
    await s.close()


async def test_unanswered_roundtrip_and_status(tmp_path):
    s = await Store.open(tmp_path / "a.db")
    i = await s.log_unanswered(text="שאלה 🙂 <b>", norm="שאלה", channel="cli", chat_type="private",
                               user_hash=None, kind="unanswered", candidates=[{"entry_id": "x", "score": 0.2}])
    rows = await s.unanswered()
    assert rows[0].id == i and rows[0].text == "שאלה 🙂 <b>" and rows[0].candidates[0]["entry_id"] == "x"
    await s.set_status([i], "resolved", "x")
    assert await s.unanswered() == []
    assert (await s.unanswered(status="resolved"))[0].entry_id == "x"
    with pytest.raises(StoreError):
        await s.set_status([i], "weird")
    await s.close()


async def test_duplicate_updates_are_detected(tmp_path):
    s = await Store.open(tmp_path / "a.db")
    assert await s.inbox_put("telegram", "10", "lane", b"x") is True
    assert await s.inbox_put("telegram", "10", "lane", b"x") is False
    await s.close()


async def test_purge_by_retention(tmp_path):
    s = await Store.open(tmp_path / "a.db")
    await s.log_unanswered(text="old", norm="old", channel="cli", chat_type="private", user_hash=None,
                           kind="unanswered", candidates=[], ts=1000.0)
    await s.log_unanswered(text="new", norm="new", channel="cli", chat_type="private", user_hash=None,
                           kind="unanswered", candidates=[])
    assert await s.purge(30) == 1
    assert [r.text for r in await s.unanswered()] == ["new"]
    await s.close()


async def test_locked_database_is_retried_then_reported(tmp_path):
    path = tmp_path / "a.db"
    s = await Store.open(path)
    s.RETRIES = 2
    await s.db.execute("PRAGMA busy_timeout=50")
    other = sqlite3.connect(path)
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(StoreError, match="write failed after 2 attempts"):
        await s.log_question(channel="cli", chat_type="private", user_hash=None, kind="answer",
                             entry_id="x", score=1.0)
    other.rollback()
    other.close()
    await s.log_question(channel="cli", chat_type="private", user_hash=None, kind="answer", entry_id="x", score=1.0)
    assert (await s.stats()).by_kind == {"answer": 1}
    await s.close()


def test_hash_user_is_keyed_and_stable():
    assert hash_user(42, "k1") == hash_user("42", "k1")
    assert hash_user(42, "k1") != hash_user(42, "k2")
    assert "42" not in hash_user(42, "k1") and hash_user(None, "k") is None
