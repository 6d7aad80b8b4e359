"""The command router: commands declared once, curator commands invisible to others, a number
picking an option of the last reply, "next", and the per-user question limit."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot import texts
from bot.curator import ScopedOut
from bot.reloader import ReloadResult
from bot.router import COMMANDS, CURATOR_COMMANDS, Caller, Queue, Unknown, Welcome, command
from bot.runtime import Runtime
from bot.settings import Settings
from bot.sqlite_store import SqliteStore
from bot.storage import Stats

USER = Caller("telegram", "100", "100")
CURATOR = Caller("telegram", "7", "7", curator=True)


@pytest.fixture
async def rt(good_kb: Path, tmp_path: Path):
    store = await SqliteStore.open(tmp_path / "r.db")
    runtime = Runtime.build(Settings(kb_path=good_kb, db_path=tmp_path / "r.db", hash_key="k", watch_kb=False,
                                     questions_per_minute=5), store=store)
    yield runtime
    await store.close()


def test_commands_are_declared_once() -> None:
    names = [n for c in COMMANDS for n in (c.name, *c.aliases)]
    assert len(names) == len(set(names))
    assert command("Programs") is command("programmes") and command("nope") is None
    assert set(CURATOR_COMMANDS) == {"unanswered", "reload", "stats", "outofscope"}
    assert {c.name for c in COMMANDS if c.browses} == {"decisions", "decision", "programmes", "visits"}


async def test_curator_commands_are_unknown_to_others(rt: Runtime) -> None:
    for name in CURATOR_COMMANDS:
        assert await rt.router.run(USER, name, "1 x") == Unknown(name)
    assert isinstance(await rt.router.run(CURATOR, "unanswered"), Queue)
    assert isinstance(await rt.router.run(CURATOR, "stats"), Stats)
    assert isinstance(await rt.router.run(CURATOR, "reload"), ReloadResult)
    usage = await rt.router.run(CURATOR, "outofscope", "")
    assert getattr(usage, "text", None) == texts.CURATOR_OUT_OF_SCOPE_USAGE
    assert not isinstance(usage, ScopedOut)


async def test_start_help_and_deep_link(rt: Runtime) -> None:
    assert await rt.router.run(USER, "start") == Welcome(None)
    linked = await rt.router.run(USER, "start", "dec-546-budget")
    assert getattr(linked, "entry_id", None) == "dec-546-budget"
    helped = await rt.router.run(Caller("whatsapp", "9725", "9725"), "help")
    assert getattr(helped, "text", None) == texts.WA_HELP


async def test_a_number_picks_from_the_last_reply_and_out_of_range_says_so(rt: Runtime) -> None:
    menu = await rt.router.run(USER, "decisions")
    assert menu.options  # type: ignore[union-attr]
    picked = await rt.router.text(USER, "1")
    assert picked is not None and picked.title and "546" in picked.title
    page = await rt.router.run(USER, "decisions")
    n = len(page.options)  # type: ignore[union-attr]
    wrong = await rt.router.text(USER, str(n + 1))
    assert wrong is not None and wrong.text == texts.OPTION_OUT_OF_RANGE.format(number=n + 1, count=n)
    assert wrong.options == page.options  # offered again
    other = Caller("telegram", "200", "200")
    assert (await rt.router.text(other, "1")) is not None  # no offer for this chat: a question as any other


async def test_next_step_after_a_phase(rt: Runtime) -> None:
    visits = await rt.router.run(USER, "visits")
    first = visits.options[0]  # type: ignore[union-attr]
    phase = await rt.router.press(USER, first)
    assert phase is not None and phase.next is not None
    nxt = await rt.router.text(USER, "הבא")
    assert nxt is not None and nxt.title != phase.title
    assert (await rt.router.run(Caller("telegram", "300", "300"), "next")).text == texts.NO_NEXT_STEP  # type: ignore[union-attr]


async def test_rate_limit_one_warning_then_silence_and_nothing_queued(rt: Runtime) -> None:
    flood = Caller("whatsapp", "972500000001", "972500000001")
    replies = [await rt.router.text(flood, f"מה מזג האוויר מחר {i}") for i in range(9)]
    kinds = [r.text == texts.SLOW_DOWN if r is not None else None for r in replies]
    assert kinds == [False] * 5 + [True] + [None] * 3
    assert rt.store is not None
    assert len(await rt.store.unanswered()) == 5  # the flood past the limit never reached the queue
    assert (await rt.router.text(Caller("whatsapp", "972500000002", "972500000002"), "שלום")) is not None
    console = Caller("console", "console", "console")
    assert all([await rt.router.text(console, f"שאלה {i}") for i in range(8)])  # the terminal is not limited


async def test_a_filler_repeats_the_last_options_and_without_them_offers_help(rt: Runtime) -> None:
    menu = await rt.router.run(USER, "decisions")
    again = await rt.router.text(USER, "לא הבנתי")
    assert again is not None and again.text == texts.REPEAT_OPTIONS and again.options == menu.options  # type: ignore[union-attr]
    fresh = Caller("telegram", "400", "400")
    helped = await rt.router.text(fresh, "מה?")
    assert helped is not None and helped.kind == "unanswered" and helped.text != texts.SMALLTALK_THANKS


async def test_only_questions_reach_the_queue(rt: Runtime) -> None:
    """/start, unknown commands, greetings, thanks, emoji and empty messages are not questions."""
    for name in ("start", "foo", "help", "decisions"):
        await rt.router.run(USER, name)
    for text in ("שלום", "היי!", "תודה רבה", "🙏", "", "   ", "/", "?!"):
        await rt.router.text(USER, text)
    assert rt.store is not None
    assert await rt.store.unanswered() == []
    await rt.router.text(Caller("telegram", "500", "500"), "מה מזג האוויר מחר")  # a question is
    assert len(await rt.store.unanswered()) == 1
