"""The SQLite store against broken files and hostile text (issue: a corrupt or read-only database
leaves a silent zombie; an unpaired surrogate never reaches the curators' queue).

The permission faults are checked through the real command line (tests/bot/test_cli.py), where
they run as a user that permissions apply to; here, everything that needs no other user.
"""
from __future__ import annotations

import sqlite3

import pytest

from bot.sqlite_store import SqliteStore
from bot.storage import NoStoreYet, storable
from knowledge.errors import StoreError
from tests.store_faults import FAULTS, NO_STORE_YET, real_store, threads, threads_left

BROKEN = [f for f in FAULTS if not f.permission and f.reader == "fails"]


@pytest.mark.parametrize("readonly", [False, True], ids=["read-write", "read-only"])
@pytest.mark.parametrize("fault", BROKEN, ids=lambda f: f.name)
async def test_a_file_that_is_not_a_sound_store_is_refused_and_closed(fault, readonly, tmp_path):
    before = threads()
    db = fault.make(tmp_path)
    store = SqliteStore(db, readonly=readonly)
    with pytest.raises(StoreError) as caught:
        await store.connect()
    message = str(caught.value)
    assert message.startswith(f"{db}: ") and (fault.reader_says if readonly else fault.writer) in message
    assert "\n" not in message
    assert store._db is None and threads_left(before) == []
    await store.close()  # harmless after a failed open


async def test_damage_the_schema_does_not_show_is_found_at_open(tmp_path):
    """Before: the header and schema read fine, the bot served on a damaged file and ``unanswered
    list`` showed what it could reach; every other command traced back."""
    db = next(f for f in FAULTS if f.name == "bad-pages").make(tmp_path)
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0  # the schema is intact
    con.close()
    with pytest.raises(StoreError, match="is damaged"):
        await SqliteStore.open(db)


async def test_read_only_store_that_does_not_exist_creates_nothing(tmp_path):
    db = tmp_path / "not" / "yet" / "rashut.db"
    with pytest.raises(NoStoreYet) as caught:
        await SqliteStore.open(db, readonly=True)
    assert str(caught.value) == f"{db}: {NO_STORE_YET}"
    assert not (tmp_path / "not").exists()


async def test_read_only_store_on_an_empty_file_is_no_store_yet(tmp_path):
    """A zero-byte file is an empty SQLite database: nothing was ever recorded there."""
    db = tmp_path / "rashut.db"
    db.touch()
    with pytest.raises(NoStoreYet):
        await SqliteStore.open(db, readonly=True)
    assert db.read_bytes() == b""


async def test_read_only_store_reads_and_never_writes(tmp_path):
    db = real_store(tmp_path / "rashut.db", questions=3)
    store = await SqliteStore.open(db, readonly=True)
    try:
        assert len(await store.unanswered()) == 3 and (await store.stats()).by_kind == {"answer": 3}
        with pytest.raises(StoreError, match=f"^{db}: .*read-only"):
            await store.log_question(channel="cli", chat_type="private", user_hash=None, kind="answer",
                                     entry_id="x", score=1.0)
    finally:
        await store.close()


async def test_sqlite_failures_after_open_are_store_errors_naming_the_file(tmp_path):
    """Every operation, not only opening: a command then prints one line instead of a traceback."""
    store = await SqliteStore.open(tmp_path / "rashut.db")
    try:
        await store.db.execute("DROP TABLE feedback")
        await store.db.commit()
        with pytest.raises(StoreError, match=f"^{tmp_path / 'rashut.db'}: .*no such table: feedback"):
            await store.stats()
    finally:
        await store.close()


# ---------------------------------------------------------------------- text the store keeps
LONE = "\ud800"  # what json.loads makes of a "\ud800" escape, which Telegram and WhatsApp bodies may carry


def test_storable_text_replaces_only_what_utf8_cannot_hold():
    assert storable("שאלה 🙂") == "שאלה 🙂"
    assert storable(f"a{LONE}b\udfffc") == "a\ufffdb\ufffdc"
    assert storable("\ud83d\ude42") == "🙂"  # a pair kept as two code points is the character it spells
    assert storable("\udcff\udcfe") == "\ufffd\ufffd"  # surrogateescape'd bytes
    assert storable(5) == 5 and storable(None) is None and storable(b"\xff") == b"\xff"


async def test_every_text_the_store_writes_survives_an_unpaired_surrogate(tmp_path):
    """Before: UnicodeEncodeError, so the question was answered but never queued for curators."""
    store = await SqliteStore.open(tmp_path / "rashut.db")
    try:
        rid = await store.log_unanswered(text=f"מה זה {LONE}?", norm=f"מה זה {LONE}", channel="telegram",
                                         chat_type="private", user_hash="h", kind="unanswered",
                                         candidates=[{"entry_id": f"x{LONE}", "score": 0.2}])
        (row,) = await store.unanswered()
        assert row.id == rid and row.text == "מה זה \ufffd?" and row.norm == "מה זה \ufffd"
        assert row.candidates == [{"entry_id": "x\ufffd", "score": 0.2}]
        await store.set_status([rid], "resolved", f"e{LONE}")
        assert (await store.unanswered(status="resolved"))[0].entry_id == "e\ufffd"
        await store.log_question(channel=f"c{LONE}", chat_type="private", user_hash=None, kind="answer",
                                 entry_id=f"e{LONE}", score=1.0)
        assert (await store.stats()).top_entries[0].entry_id == "e\ufffd"
        await store.add_feedback(entry_id=f"e{LONE}", vote=-1, user_hash=f"u{LONE}", channel="telegram")
        assert (await store.stats()).feedback[0].entry_id == "e\ufffd"
        await store.remember(f"chat{LONE}", f'{{"offered": "{LONE}"}}')
        assert await store.recall(f"chat{LONE}") == await store.recall("chat\ufffd") == '{"offered": "\ufffd"}'
        assert await store.inbox_put("telegram", f"k{LONE}", f"lane{LONE}", b"sealed") is True
        assert await store.claim_job(f"digest{LONE}", "2026-01-01") is True
    finally:
        await store.close()
