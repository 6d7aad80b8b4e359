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


async def test_unanswered_roundtrip_and_status(any_store):
    s = any_store
    i = await s.log_unanswered(text="שאלה 🙂 <b>", norm="שאלה", channel="cli", chat_type="private",
                               user_hash=None, kind="unanswered", candidates=[{"entry_id": "x", "score": 0.2}])
    rows = await s.unanswered()
    assert rows[0].id == i and rows[0].text == "שאלה 🙂 <b>" and rows[0].candidates[0]["entry_id"] == "x"
    await s.set_status([i], "resolved", "x")
    assert await s.unanswered() == []
    assert (await s.unanswered(status="resolved"))[0].entry_id == "x"
    with pytest.raises(StoreError):
        await s.set_status([i], "weird")


async def test_duplicate_updates_are_detected(any_store):
    s = any_store
    assert await s.inbox_put("telegram", "10", "lane", b"x") is True
    assert await s.inbox_put("telegram", "10", "lane", b"x") is False


async def test_purge_by_retention(any_store):
    s = any_store
    await s.log_unanswered(text="old", norm="old", channel="cli", chat_type="private", user_hash=None,
                           kind="unanswered", candidates=[], ts=1000.0)
    await s.log_unanswered(text="new", norm="new", channel="cli", chat_type="private", user_hash=None,
                           kind="unanswered", candidates=[])
    assert await s.purge(30) == 1
    assert [r.text for r in await s.unanswered()] == ["new"]


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


async def test_every_operation_on_both_backends(any_store):
    """The Storage protocol's results, the same whichever database is behind it."""
    s = any_store
    day = 1_700_000_000.0  # 2023-11-14 UTC
    for kind, entry in (("answer", "a"), ("answer", "a"), ("answer", "b"), ("clarify", None), ("smalltalk", None)):
        await s.log_question(channel="telegram", chat_type="private", user_hash="h", kind=kind, entry_id=entry,
                             score=0.9, ts=day)
    await s.add_feedback(entry_id="a", vote=1, user_hash="u1", channel="telegram")
    await s.add_feedback(entry_id="a", vote=-1, user_hash="u1", channel="telegram")  # changed mind: one vote
    await s.add_feedback(entry_id="b", vote=1, user_hash="u2", channel="whatsapp")
    with pytest.raises(StoreError):
        await s.add_feedback(entry_id="a", vote=3, user_hash="u3", channel="telegram")
    ids = [await s.log_unanswered(text=f"q{i}", norm=f"q{i}", channel="whatsapp", chat_type="private",
                                  user_hash="h", kind="unanswered", candidates=[]) for i in range(3)]
    assert await s.set_status(ids[:2], "dismissed") == 2
    stats = await s.stats()
    assert stats.by_kind == {"answer": 3, "clarify": 1, "smalltalk": 1} and stats.asked == 4
    assert stats.per_day == {"2023-11-14": {"answer": 3, "clarify": 1, "smalltalk": 1}}
    assert stats.top_entries == [("a", 2), ("b", 1)]
    assert stats.feedback == [("a", 0, 1), ("b", 1, 0)]
    assert stats.unanswered_by_status == {"dismissed": 2, "open": 1}
    assert (await s.stats(since=day + 1)).by_kind == {}
    assert await s.count_unanswered() == 3
    assert [r.text for r in await s.unanswered(status=None)] == ["q2", "q1", "q0"]
    assert len(await s.unanswered(status=None, limit=2)) == 2
    assert await s.recall("chat") is None
    await s.remember("chat", "one")
    await s.remember("chat", "two")
    assert await s.recall("chat") == "two"
    assert await s.claim_job("digest", "2026-12-04") is True
    assert await s.claim_job("digest", "2026-12-04") is False  # once per day, whoever asks
    assert await s.claim_job("digest", "2026-12-05") is True
    assert s.health().ok
    async with s.edit_lock():
        pass
    await s.announce("0" * 64)


async def test_inbox_operations_on_both_backends(any_store):
    s = any_store
    assert await s.inbox_put_many([("telegram", "1", "a", b"p1"), ("telegram", "2", "a", b"p2"),
                                   ("telegram", "1", "a", b"p1"), ("whatsapp", "w", "b", b"p3")]) == [
        True, True, False, True]
    assert await s.inbox_pending() == 3
    first = await s.inbox_claim("r1", 10, 30)
    assert [(i.channel, i.key, i.payload, i.attempts) for i in first] == [("telegram", "1", b"p1", 1),
                                                                          ("whatsapp", "w", b"p3", 1)]
    assert await s.inbox_claim("r2", 10, 30) == []  # leased, and "2" waits behind "1" in its lane
    await s.inbox_renew("r1", 30)
    await s.inbox_release(first[0].id, delay=0)  # back for another try, at once
    (again,) = await s.inbox_claim("r2", 10, 30)
    assert again.key == "1" and again.attempts == 2
    await s.inbox_done(again.id)
    await s.inbox_release(first[1].id, give_up=True)
    (nxt,) = await s.inbox_claim("r2", 10, 30)
    assert nxt.key == "2"
    await s.inbox_done(nxt.id)
    assert await s.inbox_pending() == 0
    await s.inbox_put("telegram", "3", "c", b"p")
    await s.inbox_claim("dead", 10, 3600)
    assert await s.inbox_recover() == 1
    assert [i.key for i in await s.inbox_claim("r3", 10, 30)] == ["3"]
