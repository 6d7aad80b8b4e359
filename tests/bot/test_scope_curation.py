"""``rashut unanswered dismiss GROUP --subject ...``: the group's questions become out-of-scope examples."""
import asyncio
from pathlib import Path

import pytest
import yaml
from tests.bot.test_curation import OTHER, PARKING, _rows, env, run  # noqa: F401 - env is a fixture

from bot import texts
from bot.replies import Question
from bot.scope_curation import dismiss_out_of_scope
from bot.service import AnswerService
from bot.store import SqliteStore as Store
from bot.yaml_edit import changed_lines
from knowledge.engine import Engine
from knowledge.loader import load_base


def _reply(kb, text):
    return asyncio.run(AnswerService(Engine(kb)).handle(Question(text)))


def test_dismiss_with_subject_creates_the_file_and_the_bot_says_so(env, capsys):
    kb, db = env
    assert not (kb / "out_of_scope.yaml").exists()
    assert run("unanswered", "dismiss", "5", "--subject", "חניה ותווי נכה") == 0
    out = capsys.readouterr().out
    assert "2 question(s) added to the new subject 'חניה ותווי נכה'" in out and "2 queue row(s) dismissed" in out
    (subject,) = load_base(kb).out_of_scope
    assert subject.subject == "חניה ותווי נכה" and set(subject.questions) == set(PARKING)
    assert {r.text for r in asyncio.run(_rows(db, "dismissed"))} == set(PARKING)
    reply = _reply(kb, "איך מבקשים תו חניה לנכה?")
    assert reply.kind == "unanswered" and reply.text == texts.OUT_OF_SCOPE.format(subject="חניה ותווי נכה")


def test_a_second_group_is_appended_to_the_subject_with_added_lines_only(env, capsys):
    kb, _db = env
    assert run("unanswered", "dismiss", "5", "--subject", "שירותים עירוניים") == 0
    before = (kb / "out_of_scope.yaml").read_text(encoding="utf-8")
    assert run("unanswered", "dismiss", "8", "--subject", "שירותים עירוניים") == 0
    after = (kb / "out_of_scope.yaml").read_text(encoding="utf-8")
    removed, added = changed_lines(before, after)
    assert removed == [] and [a.strip() for a in added] == [f"- {OTHER[1]}"]
    (subject,) = yaml.safe_load(after)["subjects"]
    assert subject["questions"][-1] == OTHER[1] and len(subject["questions"]) == 3
    assert "to the subject 'שירותים עירוניים'" in capsys.readouterr().out


async def test_questions_of_an_entry_are_never_made_out_of_scope(env):
    kb, db = env
    store = await Store.open(db)
    try:
        # group 1 holds the flight questions; one of them is already an alternate question after resolve
        result = await dismiss_out_of_scope(store, kb, 1, "טיסות")
        assert result.rows == 4 and result.new_subject and result.claimed == []
        with pytest.raises(Exception, match="no open group #1"):
            await dismiss_out_of_scope(store, kb, 1, "טיסות")
    finally:
        await store.close()
    assert load_base(kb).out_of_scope[0].questions  # the base still validates


def test_dismiss_without_subject_edits_nothing(env, capsys):
    kb, _db = env
    assert run("unanswered", "dismiss", "7") == 0
    assert not (kb / "out_of_scope.yaml").exists()


def test_dismiss_into_a_linked_out_of_scope_file_edits_the_file_behind_the_link(env, capsys):
    kb, _db = env
    (kb / "shared").mkdir()
    (kb / "shared" / "scope.txt").write_text("schema: 1\nsubjects:\n  - subject: בחירות\n    questions:\n"
                                             "      - מתי הבחירות לראשות העיר\n", encoding="utf-8")
    (kb / "out_of_scope.yaml").symlink_to(Path("shared") / "scope.txt")
    assert run("unanswered", "dismiss", "5", "--subject", "חניה ותווי נכה") == 0, capsys.readouterr().err
    assert (kb / "out_of_scope.yaml").is_symlink()
    assert {s.subject for s in load_base(kb).out_of_scope} == {"בחירות", "חניה ותווי נכה"}
