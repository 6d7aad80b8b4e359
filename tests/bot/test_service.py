import time

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


async def test_answer_carries_citation_and_related(service):
    r = await service.handle(Question("מה התקציב של החלטה 546", user_id="7"))
    assert r.kind == "answer" and r.entry_id == "dec-546-budget"
    line = r.citation_line()
    assert "החלטה 546" in line and "14.7.2013" in line and "טקסט ההחלטה" in line and "https://example.org/546" in line
    assert [o.entry_id for o in r.options] == ["dec-546-localities"]
    assert "14.7.2013" in r.plain_text()


async def test_asking_for_help_with_a_subject_is_a_question(service):
    r = await service.handle(Question("מי יכול לעזור לי עם התקציב של החלטה 546"))
    assert r.kind != "smalltalk"


async def test_clause_in_citation(service):
    r = await service.handle(Question("יישובי המטרה בהחלטה 546"))
    assert r.kind == "answer" and "סעיף 3(ב)" in r.citation_line()


@pytest.mark.parametrize("text, expected", [
    ("שלום", texts.SMALLTALK_GREETING), ("היי!", texts.SMALLTALK_GREETING), ("בוקר טוב", texts.SMALLTALK_GREETING),
    ("תודה רבה!!", texts.SMALLTALK_THANKS), ("תודה", texts.SMALLTALK_THANKS), ("👍", texts.SMALLTALK_THANKS),
    ("ביי", texts.SMALLTALK_BYE), ("לילה טוב", texts.SMALLTALK_BYE), ("ערב טוב", texts.SMALLTALK_GREETING),
    ("תודה, עזרת מאוד", texts.SMALLTALK_THANKS), ("אתה בוט?", texts.SMALLTALK_ABOUT),
    ("מה אתה יודע לעשות", texts.SMALLTALK_ABOUT), ("", texts.EMPTY_QUESTION), ("🤔🤔", texts.EMPTY_QUESTION),
    ("\u200e\u200f", texts.EMPTY_QUESTION), ("בוקר טוב לכולם", texts.SMALLTALK_GREETING),
    ("להתראות ויום טוב", texts.SMALLTALK_BYE), ("תודה, זה הכל בינתיים", texts.SMALLTALK_THANKS),
    ("ערב טוב רשות", texts.SMALLTALK_GREETING), ("סבבה, הבנתי", texts.SMALLTALK_THANKS),
    ("תודה אחי", texts.SMALLTALK_THANKS), ("הייי", texts.SMALLTALK_GREETING), ("תודהההה", texts.SMALLTALK_THANKS),
    ("שלום רב", texts.SMALLTALK_GREETING), ("במה את יכולה לעזור לי?", texts.SMALLTALK_ABOUT),
    ("תודה שעזרת", texts.SMALLTALK_THANKS),
])
async def test_smalltalk_is_not_logged(service, store, text, expected):
    r = await service.handle(Question(text))
    assert r.kind == "smalltalk" and r.text == expected
    assert await store.unanswered() == []


async def test_greeting_with_a_question_is_a_question(service):
    r = await service.handle(Question("שלום, מה התקציב של החלטה 546?"))
    assert r.kind == "answer" and r.entry_id == "dec-546-budget"


async def test_unanswered_is_logged_with_candidates_and_hashed_user(service, store):
    r = await service.handle(Question("איך מגישים ערר על ארנונה", channel="telegram", user_id="12345"))
    assert r.kind == "unanswered" and r.logged and r.text == texts.UNANSWERED
    rows = await store.unanswered()
    assert len(rows) == 1 and rows[0].text == "איך מגישים ערר על ארנונה"
    assert rows[0].user_hash and "12345" not in rows[0].user_hash
    assert rows[0].channel == "telegram" and rows[0].norm


async def test_unknown_decision_says_so(service, store):
    r = await service.handle(Question("מה התקציב של החלטה 547"))
    assert r.kind == "unanswered" and "547" in r.text and "546" in r.text and r.text.endswith(texts.QUEUED_NOTE)
    assert (await store.unanswered())[0].text.endswith("547")


async def test_out_of_scope_subject_is_named_and_queued_without_a_promise(good_kb, store):
    (good_kb / "out_of_scope.yaml").write_text(
        "schema: 1\nsubjects:\n  - subject: חופשות של נבחרים\n    questions:\n"
        "      - מי משלם על הטיסות של ראש העיר לחופשה פרטית\n", encoding="utf-8")
    service = AnswerService(Engine(good_kb), store, hash_key="k")
    r = await service.handle(Question("מי משלם על הטיסות של ראש העיר בחופשה פרטית"))
    assert r.kind == "unanswered" and r.text == texts.OUT_OF_SCOPE.format(subject="חופשות של נבחרים")
    assert r.logged and texts.QUEUED_NOTE not in r.text  # a wrong call still reaches the curators
    (row,) = await store.unanswered()
    # the nearest entry (0.55) would not have answered it anyway: no hint for the curators. Changed
    # with the first-hour issue: hints below the answer threshold ("weather -> a clause at 0.48") misled.
    assert row.candidates == []


async def test_only_real_candidates_reach_the_curators(store):
    service = AnswerService(Engine(), store, hash_key="k")
    weather = await service.handle(Question("מה מזג האוויר מחר בבאר שבע"))
    assert weather.kind == "unanswered"
    unsure = await service.handle(Question("ביטוח למשלחת שלנו בחודש הבא"))
    assert unsure.kind == "clarify" and unsure.options
    rows = {r.text: r for r in await store.unanswered()}
    assert rows["מה מזג האוויר מחר בבאר שבע"].candidates == []  # no meaningless "nearest entry"
    # what the user was offered is the curators' hint
    assert [c["entry_id"] for c in rows["ביטוח למשלחת שלנו בחודש הבא"].candidates] == [o.entry_id for o in unsure.options]


async def test_store_failure_never_loses_the_reply(service, store, caplog):
    await store.db.execute("DROP TABLE unanswered")
    await store.db.commit()
    r = await service.handle(Question("איך מגישים ערר על ארנונה"))
    assert r.kind == "unanswered" and not r.logged and r.text == texts.UNANSWERED_NOT_LOGGED
    assert "could not queue" in caplog.text
    r = await service.handle(Question("מה התקציב של החלטה 546"))
    assert r.kind == "answer"


async def test_long_and_odd_messages(service):
    long = ("מי משלם על הטיסות של המשלחת 🙂 " * 400)[:10_000]
    t0 = time.perf_counter()
    r = await service.handle(Question(long))
    assert time.perf_counter() - t0 < 2.0  # hang guard only; measured figure in docs/benchmarks.md
    assert r.kind in ("answer", "clarify", "unanswered")
    mixed = "\u202bמה התקציב של decision 546 \u202c?"
    r = await service.handle(Question(mixed))
    assert r.kind == "answer" and r.entry_id == "dec-546-budget"


async def test_feedback_votes_are_stored_once_per_user(service, store):
    assert await service.feedback("dec-546-budget", 1, 5, "telegram") == "stored"
    assert await service.feedback("dec-546-budget", -1, 5, "telegram") == "stored"
    assert await service.feedback("dec-546-budget", -1, 6, "telegram") == "stored"
    stats = await store.stats()
    assert stats.feedback == [("dec-546-budget", 0, 2)]


def test_browse(service):
    r = service.decisions()
    assert [o.target for o in r.options] == ["decision:546", "decision:2025"]
    r = service.decision(546)
    assert "14.7.2013" in r.text and [o.entry_id for o in r.options] == ["dec-546-budget", "dec-546-localities"]
    assert "3(ב)" in r.options[1].label
    assert "546" in service.decision(999).text and service.decision(999).options == ()
    r = service.visits()
    assert [o.target for o in r.options] == ["phase:visits-before", "phase:visits-after"]
    r = service.open("phase:visits-before")
    assert r.checklist == ("לסכם מראש מי משלם על מה",) and r.next.target == "phase:visits-after"
    assert service.open("phase:visits-after").next is None
    assert service.open("nothing:here") is None
    assert service.entry("gone") is None
    r = service.search("טיסות משלחת")
    assert r.options[0].entry_id == "visits-who-pays"


async def test_a_question_with_an_unpaired_surrogate_reaches_the_queue(service, store):
    """Before: answered, but the queue write raised UnicodeEncodeError, so curators never saw it
    and the reply could not promise it was passed on."""
    r = await service.handle(Question("איך מגישים ערר \ud800 על ארנונה", channel="telegram", user_id="12345"))
    assert r.kind == "unanswered" and r.logged and r.text == texts.UNANSWERED
    (row,) = await store.unanswered()
    assert row.text == "איך מגישים ערר \ufffd על ארנונה"
