"""bot/quality.py through the answer service: replies to messages that are not a question of their
own, comparisons, towns, and facts the best entry lacks."""
import pytest

from bot import texts
from bot.replies import Question
from bot.service import AnswerService
from bot.store import SqliteStore as Store
from knowledge.engine import Engine


@pytest.fixture
async def store(tmp_path):
    s = await Store.open(tmp_path / "t.db")
    yield s
    await s.close()


@pytest.fixture
def service(good_kb, store):
    return AnswerService(Engine(good_kb), store, hash_key="k")


async def test_a_filler_offers_help_and_is_not_queued(service, store):
    r = await service.handle(Question("לא הבנתי", user_id="7"))
    assert r.kind == "unanswered" and r.text == texts.FILLER_HELP and not r.logged


async def test_a_bare_known_decision_number_opens_it(service):
    r = await service.handle(Question("546"))
    assert r.kind == "answer" and r.entry_id is not None and r.entry_id.startswith("dec-546")


async def test_any_other_bare_number_asks_which_decision(service):
    r = await service.handle(Question("3"))
    assert r.kind == "clarify" and not r.logged
    assert {o.target for o in r.options} == {"decision:546", "decision:2025"}


async def test_a_decision_question_without_its_number_offers_the_decisions(service):
    r = await service.handle(Question("מה התקציב של ההחלטה?"))
    assert r.kind == "clarify" and r.text == texts.WHICH_DECISION
    assert [o.target for o in r.options] == ["decision:546", "decision:2025"]


async def test_two_decisions_compared_side_by_side_with_both_sources(service):
    r = await service.handle(Question("מה ההבדל בין 546 ל-2025"))
    assert r.kind == "answer" and r.meta["compare"] == (546, 2025)
    assert "14.7.2013" in r.text and "23.9.2014" in r.text and "כ-2 מיליארד" in r.text
    assert r.text.count(texts.SOURCE) == 2


async def test_a_fact_the_entry_lacks_is_said_so_with_the_entry_and_queued(service):
    r = await service.handle(Question("מתי משלמים על הטיסות של המשלחת?", user_id="7"))
    assert r.kind == "unanswered" and r.meta.get("lacking") == "date" and r.logged
    assert r.options and r.options[0].entry_id and r.options[0].label in r.text


async def test_which_decisions_concern_a_town_lists_the_entries_that_name_it(service):
    r = await service.handle(Question("אילו החלטות נוגעות לדימונה?"))
    assert r.kind == "answer" and r.meta["place"] == "דימונה" and r.entry_id == "dec-546-localities"
    assert "החלטה 546" in r.text
