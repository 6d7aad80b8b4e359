"""The curators' commands: ``rashut unanswered list|export|resolve|dismiss`` and ``rashut stats``,
and the async functions the Telegram buttons share with them."""
from __future__ import annotations

import asyncio
import csv
import io
import json
import shutil
from pathlib import Path

import pytest
import yaml

from bot import texts
from bot.cli import main
from bot.curation import CurationError, digest_text, dismiss_group, draft_group, grouped, resolve_group
from bot.curation import split_questions
from bot.replies import Question
from bot.service import AnswerService
from bot.store import SqliteStore as Store, hash_user
from bot.yaml_edit import changed_lines
from knowledge.engine import Engine
from knowledge.loader import load_base
from knowledge.schema import KnowledgeBase

FIXTURE = Path(__file__).parent / "fixtures_curation" / "kb"
FLIGHTS = ["מי מכסה את כרטיסי הטיסה של האורחים", "מי מכסה כרטיסי טיסה לאורחים",
           "כרטיסי הטיסה של האורחים על חשבון מי", "מי מכסה את ההוצאות של כרטיסי הטיסה לחברי המשלחת"]
PARKING = ["איך מבקשים תו חניה לנכה", "בקשה לתו חניה נכים"]
OTHER = ["=HYPERLINK(\"http://evil.example\")", "מה שעות הפעילות של מחלקת הגבייה"]
HASH_KEY = "test-key"


async def _ask(kb: Path, db: Path, questions: list[str]) -> None:
    store = await Store.open(db)
    try:
        service = AnswerService(Engine(kb), store, hash_key=HASH_KEY)
        for i, q in enumerate(questions):
            await service.handle(Question(q, channel="test", user_id=str(1000 + i % 3)))
        await store.add_feedback(entry_id="visits-gifts", vote=-1, user_hash="h1", channel="test")
        await store.add_feedback(entry_id="visits-gifts", vote=-1, user_hash="h2", channel="test")
        await store.add_feedback(entry_id="clusters-join", vote=1, user_hash="h1", channel="test")
    finally:
        await store.close()


async def _rows(db: Path, status: str | None = None):
    store = await Store.open(db)
    try:
        return await store.unanswered(status=status)
    finally:
        await store.close()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A writable fixture base, a store with a realistic queue, and $RASHUT_KB/$RASHUT_DB set."""
    kb, db = tmp_path / "kb", tmp_path / "q.db"
    shutil.copytree(FIXTURE, kb)
    asyncio.run(_ask(kb, db, FLIGHTS + PARKING + OTHER + ["מי משלם על הטיסות של המשלחת?"]))
    monkeypatch.setenv("RASHUT_KB", str(kb))
    monkeypatch.setenv("RASHUT_DB", str(db))
    return kb, db


def run(*args: str) -> int:
    return main(list(args))


def test_list_newest_first_and_grouped(env, capsys):
    assert run("unanswered", "list") == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("#")]
    assert len(lines) == 8 and lines[0].startswith("#8 ") and lines[-1].startswith("#1 ")
    assert run("unanswered", "list", "--grouped") == 0
    out = capsys.readouterr().out
    print(out)
    assert out.index("#1  4 question(s), 3 asker(s)") < out.index("#5  2 question(s)")  # largest first
    assert "nearest entry: visits-who-pays \"מי משלם על מה באירוח משלחת\"" in out
    assert "4 group(s) of 8 question(s)" in out
    assert run("unanswered", "list", "--grouped", "--limit", "1") == 0
    assert "1 shown" in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_carries_no_user_identifier(env, capsys, tmp_path, fmt):
    hashes = {hash_user(str(1000 + i), HASH_KEY) for i in range(3)}
    assert run("unanswered", "export", "--format", fmt) == 0
    out = capsys.readouterr().out
    assert not any(h in out for h in hashes) and "user" not in out.splitlines()[0]
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert "user_hash" not in rows[0]
        assert {r["text"] for r in rows} >= set(FLIGHTS)
        assert "'=HYPERLINK(\"http://evil.example\")" in {r["text"] for r in rows}  # no formula injection
        assert {r["group"] for r in rows if r["text"] in FLIGHTS} == {"1"}
    else:
        recs = [json.loads(line) for line in out.splitlines()]
        assert all("user_hash" not in r for r in recs) and len(recs) == 8
        assert OTHER[0] in {r["text"] for r in recs}  # JSON keeps the text as asked
    target = tmp_path / f"out.{fmt}"
    assert run("unanswered", "export", "--format", fmt, "-o", str(target), "--status", "all") == 0
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") == (fmt == "csv")  # BOM only for spreadsheets
    assert not any(h.encode() in data for h in hashes)


def test_resolve_into_entry_adds_lines_only_and_answers(env, capsys):
    kb, db = env
    before = (kb / "visits.yaml").read_text(encoding="utf-8")
    assert run("unanswered", "resolve", "1", "--entry", "visits-who-pays") == 0
    out = capsys.readouterr().out
    print(out)
    assert "+      - מי מכסה כרטיסי טיסה לאורחים" in out and "4 queue row(s) marked resolved" in out
    after = (kb / "visits.yaml").read_text(encoding="utf-8")
    removed, added = changed_lines(before, after)
    assert removed == [] and [a.strip() for a in added] == [f"- {q}" for q in FLIGHTS]
    resolved = asyncio.run(_rows(db, "resolved"))
    assert {r.text for r in resolved} == set(FLIGHTS) and {r.entry_id for r in resolved} == {"visits-who-pays"}
    snap = Engine(kb).snapshot
    for q in FLIGHTS:
        m = snap.matcher.match(q)
        assert m.decision == "answer" and m.best.entry_id == "visits-who-pays", q
    assert run("unanswered", "resolve", "1", "--entry", "visits-who-pays") == 1  # the group is closed now
    assert "no open group #1" in capsys.readouterr().err


def test_resolve_errors_are_explained(env, capsys):
    assert run("unanswered", "resolve", "6", "--entry", "visits-who-pays") == 1
    assert "question #6 belongs to group #5" in capsys.readouterr().err
    assert run("unanswered", "resolve", "5", "--entry", "no-such-entry") == 1
    assert "no entry 'no-such-entry'" in capsys.readouterr().err
    assert len(asyncio.run(_rows(env[1], "open"))) == 8  # nothing was closed


def test_resolve_refuses_when_the_base_would_not_validate(env, capsys, monkeypatch):
    kb, db = env
    target = kb / "visits.yaml"
    original = target.read_bytes()
    broken = kb / "topics" / "clusters.yaml"
    broken.write_text(broken.read_text(encoding="utf-8").replace("answer: רשות", "answer: ''  #"),
                      encoding="utf-8")
    assert run("unanswered", "resolve", "1", "--entry", "visits-who-pays") == 1
    err = capsys.readouterr().err
    assert "clusters.yaml:" in err and "must not be empty" in err
    assert target.read_bytes() == original
    # The same when the base breaks between the staging check and the real write (a race with
    # another editor): the write happens, validation fails, and the original bytes come back.
    from bot import curation

    calls = []
    monkeypatch.setattr(curation, "validate_staged", lambda *a: calls.append(a))
    monkeypatch.setattr(curation, "load_base", _load_base_ok_once())
    assert run("unanswered", "resolve", "1", "--entry", "visits-who-pays") == 1
    assert calls and target.read_bytes() == original
    assert "nothing changed" in capsys.readouterr().err
    assert len(asyncio.run(_rows(db, "open"))) == 8


def _load_base_ok_once():
    """load_base that lets the first (pre-edit) read through, then validates for real."""
    state = {"n": 0}

    def fake(root):
        state["n"] += 1
        if state["n"] == 1:
            return KnowledgeBase.build(Path(root), load_base(FIXTURE).documents)
        return load_base(root)

    return fake


async def test_existing_and_claimed_questions_are_not_added(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(FIXTURE, kb)
    base = load_base(kb)
    add, existing, claimed, too_long = split_questions(["מי משלם על הטיסות של המשלחת", "אִיזוֹ מתנה נותנים למשלחת!!",
                                               "חדשה", "חדשה?", "ארוך " * 100], base.entry("visits-who-pays"), base)
    assert add == ["חדשה"] and existing == ["מי משלם על הטיסות של המשלחת"] and len(too_long) == 1
    assert claimed == [("אִיזוֹ מתנה נותנים למשלחת!!", "visits-gifts")]
    store = await Store.open(tmp_path / "q.db")
    try:
        rid = await store.log_unanswered(text="איזו מתנה נותנים למשלחת?", norm="איזו מתנה נותנימ למשלחת",
                                         channel="test", chat_type="private", user_hash=None, kind="clarify",
                                         candidates=[])
        before = (kb / "visits.yaml").read_bytes()
        result = await resolve_group(store, kb, rid, "visits-who-pays")
        assert result.added == [] and result.claimed[0][1] == "visits-gifts" and result.diff == ""
        assert (kb / "visits.yaml").read_bytes() == before
        assert (await store.unanswered(status="resolved"))[0].entry_id == "visits-who-pays"
    finally:
        await store.close()


def test_draft_then_fill_then_close(env, capsys, tmp_path):
    kb, db = env
    assert run("unanswered", "resolve", "5", "--new", str(kb / "drafts.yaml")) == 1
    assert "inside the knowledge folder" in capsys.readouterr().err
    drafts = tmp_path / "drafts" / "new.yaml"
    assert run("unanswered", "resolve", "5", "--new", str(drafts)) == 0
    out = capsys.readouterr().out
    assert "new.yaml:" in out and "'answer': must not be empty" in out and "group #5 stays open" in out
    assert run("unanswered", "resolve", "8", "--new", str(drafts)) == 0  # appended to the same file
    assert run("unanswered", "resolve", "5", "--new", str(drafts)) == 1  # not twice
    capsys.readouterr()
    data = yaml.safe_load(drafts.read_text(encoding="utf-8"))
    assert [e["id"] for e in data["entries"]] == ["new-5", "new-8"]
    assert data["entries"][0]["questions"] == PARKING and data["entries"][0]["answer"] == ""
    assert run("kb", "validate", "--kb", str(drafts.parent)) == 1  # empty answers are errors by design
    capsys.readouterr()
    # The curator fills the answers in, checks the draft on its own, and moves it into the base.
    text = drafts.read_text(encoding="utf-8").replace('answer: ""', "answer: פונים למחלקת הרישוי של הרשות.")
    drafts.write_text(text.replace("id: drafts", "id: drafts-parking"), encoding="utf-8")
    assert run("kb", "validate", "--kb", str(drafts.parent)) == 0
    shutil.copy(drafts, kb / "topics" / "parking.yaml")
    assert run("kb", "validate", "--kb", str(kb)) == 0
    assert run("unanswered", "resolve", "5", "--entry", "new-5") == 0
    out = capsys.readouterr().out
    assert "0 question(s) added" in out and "2 queue row(s) marked resolved" in out
    assert {r.text for r in asyncio.run(_rows(db, "resolved"))} == set(PARKING)


def test_dismiss(env, capsys):
    assert run("unanswered", "dismiss", "7") == 0
    assert "1 queue row(s) dismissed" in capsys.readouterr().out
    assert [r.text for r in asyncio.run(_rows(env[1], "dismissed"))] == [OTHER[0]]
    assert run("unanswered", "dismiss", "7") == 1


def test_stats(env, capsys):
    assert run("stats", "--days", "7") == 0
    out = capsys.readouterr().out
    print(out)
    assert "9 question(s)" in out and "answered         1   11.1%" in out
    counts = [int(line.split()[1]) for line in out.splitlines() if line.strip().startswith(("clarify", "unanswered"))]
    assert sum(counts[:2]) == 8  # the split between the two follows the matcher's thresholds
    assert "visits-who-pays  מי משלם על מה באירוח משלחת" in out  # top entries, with titles
    assert "👎   2" in out and "visits-gifts" in out
    assert "8 open question(s) in 4 group(s)" in out


async def test_async_api_as_the_telegram_buttons_use_it(env):
    kb, db = env
    store = await Store.open(db)
    try:
        engine = Engine(kb)
        groups = await grouped(store, engine.snapshot)
        assert [g.id for g in groups][:2] == [1, 5] and groups[0].best_title
        result = await resolve_group(store, kb, groups[0].id, "visits-who-pays")
        assert result.file == "visits.yaml" and len(result.added) == 4 and result.rows == 4
        assert await dismiss_group(store, 7) == 1
        with pytest.raises(CurationError):
            await dismiss_group(store, 7)
        with pytest.raises(CurationError):
            await draft_group(store, kb, 5, kb / "x.yaml")
        assert [g.id for g in await grouped(store, engine.snapshot)] == [5, 8]
    finally:
        await store.close()


async def test_digest_text_in_hebrew(env):
    kb, db = env
    store = await Store.open(db)
    try:
        text = await digest_text(store, Engine(kb).snapshot)
    finally:
        await store.close()
    print(text)
    assert text.startswith(texts.DIGEST_TITLE)
    assert "9 שאלות" in text and "נענו 11%" in text
    assert "#1 · 4 שאלות · 3 שואלים" in text and FLIGHTS[0] in text and "מי משלם על מה באירוח משלחת" in text
    assert "מתנות למשלחת (visits-gifts): 👎 2" in text


async def test_digest_when_all_is_quiet(tmp_path):
    store = await Store.open(tmp_path / "empty.db")
    try:
        text = await digest_text(store, None)
    finally:
        await store.close()
    assert texts.DIGEST_NO_TRAFFIC in text and texts.CURATOR_NO_OPEN in text


def test_broken_base_still_shows_the_queue(env, capsys):
    kb, _db = env
    (kb / "visits.yaml").write_text("schema: [\n", encoding="utf-8")
    assert run("unanswered", "list", "--grouped") == 0
    captured = capsys.readouterr()
    assert "knowledge base not loaded" in captured.err and "#1  4 question(s)" in captured.out


# ---------------------------------------------------------------------- hardening: links in the edited folder
def test_resolve_with_folder_links_and_a_loop_in_the_base(env, capsys):
    """The staging copy holds what the loader reads: ``loop -> .`` is not copied 40 levels deep
    (shutil.Error before) and a second way to a folder does not copy its entries twice."""
    kb, _db = env
    (kb / "loop").symlink_to(kb, target_is_directory=True)
    (kb / "topics-again").symlink_to(kb / "topics", target_is_directory=True)
    assert run("unanswered", "resolve", "1", "--entry", "visits-who-pays") == 0, capsys.readouterr().err
    assert "4 queue row(s) marked resolved" in capsys.readouterr().out
    assert all(q in (kb / "visits.yaml").read_text(encoding="utf-8") for q in FLIGHTS)


def test_resolve_into_a_linked_file_edits_the_file_behind_the_link(env, capsys):
    kb, _db = env
    keep = kb / "store"
    keep.mkdir()
    (kb / "visits.yaml").rename(keep / "visits.txt")
    (kb / "visits.yaml").symlink_to(Path("store") / "visits.txt")
    assert run("unanswered", "resolve", "1", "--entry", "visits-who-pays") == 0, capsys.readouterr().err
    assert (kb / "visits.yaml").is_symlink()  # not replaced by a copy of the file
    assert all(q in (keep / "visits.txt").read_text(encoding="utf-8") for q in FLIGHTS)


def test_resolve_refuses_a_link_that_now_leads_outside(env, capsys):
    kb, _db = env
    outside = kb.parent / "visits-outside.yaml"
    (kb / "visits.yaml").rename(outside)
    (kb / "visits.yaml").symlink_to(outside)
    assert run("unanswered", "resolve", "1", "--entry", "visits-who-pays") == 1
    assert "visits.yaml: is a link to" in capsys.readouterr().err
    assert "מי מכסה כרטיסי טיסה לאורחים" not in outside.read_text(encoding="utf-8")
