"""The curator loop in Telegram: the grouped queue with 📎/🗑 buttons, attaching a group to an entry
(YAML edited, base reloaded, answered without a restart), dismissing, strangers pressing curator
buttons, reload reports from the watcher, and the daily digest job."""
from __future__ import annotations

import datetime as dt
import shutil
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from bot import texts
from bot.curation import digest_text
from bot.grouping import Group
from bot.service import AnswerService
from bot.store import SqliteStore as Store, UnansweredRow
from bot.jobs import digest_at
from bot.logs import pseudonym
from bot.runtime import Runtime
from handlers.telegram.curator import TelegramNotifier, without_group
from handlers.telegram.curator_render import cb_attach, group_buttons, parse_curator_callback
from handlers.telegram.render import MAX_CALLBACK_BYTES, MAX_MESSAGE, render_text
from knowledge.errors import SettingsError
from tests.handlers.telegram.tg_harness import (BOT_USER, CURATOR_ID, FIXTURES, GROUP_ID, USER_ID, Harness, RecordingRequest, buttons,
                        harness_for, make_settings, open_channel)

FLIGHTS = ("מי משלם על הטיסות של המשלחת", "מי מכסה טיסות של משלחת", "מי משלם את הטיסות למשלחת")
PARKING = ("איפה חונים ליד העירייה", "איפה יש חניה ליד העירייה")
VISITS_FILE = Path("visits") / "visits.yaml"
SUMMARY = "test-visits-summary"


async def fill_queue(tg: Harness) -> None:
    """Unanswerable questions from different people: a group of 3 (near test-visits-summary),
    a group of 2 (no candidate) and one of 1."""
    for i, q in enumerate(FLIGHTS):
        await tg.text(q, user_id=USER_ID + i)
    for i, q in enumerate(PARKING):
        await tg.text(q, user_id=USER_ID + 10 + i)
    await tg.text("מה מזג האוויר מחר", user_id=USER_ID + 20)
    tg.request.clear()


async def show_queue(tg: Harness, **kw: Any) -> dict[str, Any]:
    tg.request.clear()
    await tg.text("/unanswered", user_id=CURATOR_ID, **kw)
    (sent,) = tg.request.sent()
    tg.request.clear()
    return sent


def as_message(sent: dict[str, Any], chat: dict[str, Any]) -> dict[str, Any]:
    """The queue message as Telegram puts it in a callback query (with its keyboard)."""
    return {"message_id": 4321, "date": int(time.time()), "chat": chat, "from": BOT_USER, "text": sent["text"],
            "reply_markup": sent["reply_markup"]}


def group_ids(sent: dict[str, Any]) -> dict[str, int]:
    """{"flights": id, "parking": id, ...} from the dismiss buttons, in the order shown."""
    ids = [int(data.split(":")[1]) for _label, data in buttons(sent) if data.startswith("cd:")]
    return dict(zip(("flights", "parking", "weather"), ids))


def answers(tg: Harness) -> list[dict[str, Any]]:
    return tg.request.of("answerCallbackQuery")


# ---------------------------------------------------------------------- the grouped queue
async def test_unanswered_shows_groups_largest_first_with_buttons(tg: Harness) -> None:
    await fill_queue(tg)
    sent = await show_queue(tg)
    html = sent["text"]
    assert html.startswith(f"<b>{texts.CURATOR_GROUPS_TITLE.format(rows=6, groups=3, shown=3)}</b>")
    ids = group_ids(sent)
    assert html.index(f"<b>#{ids['flights']}</b>") < html.index(f"<b>#{ids['parking']}</b>") \
        < html.index(f"<b>#{ids['weather']}</b>")
    assert texts.CURATOR_GROUP_HEAD.format(count=3, askers=3) in html
    assert texts.CURATOR_GROUP_HEAD.format(count=2, askers=2) in html
    assert f"\u2068{FLIGHTS[0]}\u2069" in html  # an example, bidi-isolated
    assert "סיכום ביקור משלחת" in html and f"({SUMMARY}, 0." in html  # best candidate: title and score
    assert texts.CURATOR_GROUP_NO_CANDIDATE in html
    assert buttons(sent) == [
        (texts.CURATOR_ATTACH_BUTTON.format(id=ids["flights"], title="סיכום ביקור משלחת"),
         f"cr:{ids['flights']}:{SUMMARY}"),
        (texts.CURATOR_DISMISS_BUTTON.format(id=ids["flights"]), f"cd:{ids['flights']}"),
        (texts.CURATOR_DISMISS_BUTTON.format(id=ids["parking"]), f"cd:{ids['parking']}"),
        (texts.CURATOR_DISMISS_BUTTON.format(id=ids["weather"]), f"cd:{ids['weather']}")]
    assert all(len(data.encode()) <= MAX_CALLBACK_BYTES for _label, data in buttons(sent))
    assert [len(row) for row in sent["reply_markup"]["inline_keyboard"]] == [2, 1, 1]  # one row per group


async def test_queue_question_is_escaped(tg: Harness) -> None:
    await tg.text("<b>x</b> & \u202e מי משלם על הטיסות")
    sent = await show_queue(tg)
    assert "\u2068&lt;b&gt;x&lt;/b&gt; &amp; \u202e מי משלם על הטיסות\u2069" in sent["text"]
    assert "<b>x</b>" not in sent["text"]


def test_attach_button_dropped_when_data_too_long() -> None:
    row = UnansweredRow(7, 1000.0, "שאלה", "", "telegram", "private", None, "clarify", [], "open", None)
    long_id = "e" * 70
    assert cb_attach(7, long_id) is None and cb_attach(7, SUMMARY) == f"cr:7:{SUMMARY}"
    (only,) = group_buttons(Group(7, (row,), long_id, 0.5, "כותרת"))
    assert only.callback_data == "cd:7"  # dismiss stays, attach is omitted
    assert [b.callback_data for b in group_buttons(Group(7, (row,), SUMMARY, 0.5, "כותרת"))] == \
        [f"cr:7:{SUMMARY}", "cd:7"]


def test_parse_curator_callback() -> None:
    assert parse_curator_callback(f"cr:12:{SUMMARY}").entry_id == SUMMARY
    assert parse_curator_callback("cd:12").group_id == 12
    for bad in ("cr:12", "cr:x:e", "cd:", "cd:1:2", "cr:1:a b", None, "c" * 80):
        assert parse_curator_callback(bad) is None


# ---------------------------------------------------------------------- attach
async def test_attach_adds_questions_and_answers_without_restart(tg: Harness, kb_dir: Path,
                                                                service: AnswerService) -> None:
    await fill_queue(tg)
    sent = await show_queue(tg)
    ids = group_ids(sent)
    before = service.engine.snapshot.version
    await tg.press(f"cr:{ids['flights']}:{SUMMARY}", user_id=CURATOR_ID,
                   message=as_message(sent, Harness.chat("private", CURATOR_ID)))
    (toast,) = answers(tg)
    assert toast["text"] == texts.CURATOR_ATTACHED_TOAST.format(added=3)
    (report,) = tg.request.sent()
    assert report["chat_id"] == CURATOR_ID
    assert report["text"] == texts.CURATOR_ATTACHED.format(
        group=ids["flights"], added=3, title="סיכום ביקור משלחת", entry=SUMMARY, rows=3, version=before + 1
    ).replace('"', "&quot;")
    # the group's buttons are taken off the queue message, the other groups' stay
    (edited,) = tg.request.of("editMessageReplyMarkup")
    assert [b["callback_data"] for row in edited["reply_markup"]["inline_keyboard"] for b in row] == \
        [f"cd:{ids['parking']}", f"cd:{ids['weather']}"]
    # the YAML file holds the phrasings; the queue rows are resolved to the entry
    yaml_text = (kb_dir / VISITS_FILE).read_text(encoding="utf-8")
    assert all(f"- {q}" in yaml_text for q in FLIGHTS)
    rows = await tg.store.unanswered(status="resolved")
    assert sorted(r.text for r in rows) == sorted(FLIGHTS) and {r.entry_id for r in rows} == {SUMMARY}
    # the running bot answers from the new base, no restart
    assert service.engine.snapshot.version == before + 1
    tg.request.clear()
    await tg.text(FLIGHTS[0], user_id=USER_ID + 30)
    assert tg.request.texts()[0].startswith("<b>סיכום ביקור משלחת</b>")
    # and the queue no longer shows the group
    sent = await show_queue(tg)
    assert texts.CURATOR_GROUPS_TITLE.format(rows=3, groups=2, shown=2) in sent["text"]
    assert f"cr:{ids['flights']}:{SUMMARY}" not in [data for _label, data in buttons(sent)]


async def test_attach_twice_or_to_a_missing_entry_reports_the_error(tg: Harness, kb_dir: Path) -> None:
    await fill_queue(tg)
    ids = group_ids(await show_queue(tg))
    original = (kb_dir / VISITS_FILE).read_text(encoding="utf-8")
    await tg.press(f"cr:{ids['parking']}:no-such-<entry>", user_id=CURATOR_ID)
    (toast,) = answers(tg)
    assert toast["text"] == texts.CURATOR_ACTION_FAILED_TOAST
    (report,) = tg.request.texts()
    assert report.startswith(texts.CURATOR_ACTION_FAILED) and "<pre>" in report
    assert "no entry &#x27;no-such-&lt;entry&gt;&#x27;" in report  # the error text, escaped
    assert (kb_dir / VISITS_FILE).read_text(encoding="utf-8") == original
    assert len(await tg.store.unanswered()) == 6  # nothing closed
    tg.request.clear()
    await tg.press(f"cd:{ids['parking']}", user_id=CURATOR_ID)
    tg.request.clear()
    await tg.press(f"cd:{ids['parking']}", user_id=CURATOR_ID)  # pressed again: the group is gone
    assert answers(tg)[0]["text"] == texts.CURATOR_ACTION_FAILED_TOAST
    assert f"no open group #{ids['parking']}" in tg.request.texts()[0]


async def test_attach_in_curator_group_replies_to_the_queue(kb_dir: Path, tmp_path: Path, store: Store) -> None:
    settings = make_settings(kb_dir, tmp_path / "rashut.db", curator_chat_id=GROUP_ID)
    async with harness_for(settings, store) as tg:
        rec = tg.request
        await fill_queue(tg)
        sent = await show_queue(tg, chat="supergroup")
        assert sent["chat_id"] == GROUP_ID
        ids = group_ids(sent)
        await tg.press(f"cd:{ids['weather']}", chat="supergroup", user_id=CURATOR_ID,
                       message=as_message(sent, Harness.chat("supergroup")))
        (report,) = rec.sent()
        assert report["chat_id"] == GROUP_ID and report["reply_parameters"]["message_id"] == 4321
        assert report["text"] == texts.CURATOR_DISMISSED.format(group=ids["weather"], rows=1)


# ---------------------------------------------------------------------- dismiss
async def test_dismiss_closes_the_group(tg: Harness) -> None:
    await fill_queue(tg)
    sent = await show_queue(tg)
    ids = group_ids(sent)
    await tg.press(f"cd:{ids['parking']}", user_id=CURATOR_ID)
    (toast,) = answers(tg)
    assert toast["text"] == texts.CURATOR_DISMISSED_TOAST
    assert tg.request.texts() == [texts.CURATOR_DISMISSED.format(group=ids["parking"], rows=2)]
    dismissed = await tg.store.unanswered(status="dismissed")
    assert sorted(r.text for r in dismissed) == sorted(PARKING)
    assert {r.status for r in dismissed} == {"dismissed"}
    assert len(await tg.store.unanswered()) == 4  # the other groups stay open


async def test_outofscope_closes_the_group_and_the_bot_then_names_the_subject(tg: Harness, kb_dir: Path,
                                                                             service: AnswerService) -> None:
    await fill_queue(tg)
    ids = group_ids(await show_queue(tg))
    before = service.engine.snapshot.version
    await tg.text(f"/outofscope {ids['parking']} חניה ליד העירייה", user_id=CURATOR_ID)
    (report,) = tg.request.texts()
    assert report == texts.CURATOR_OUT_OF_SCOPE_DONE.format(
        group=ids["parking"], added=2, subject="חניה ליד העירייה", rows=2, version=before + 1).replace('"', "&quot;")
    assert "איפה חונים ליד העירייה" in (kb_dir / "out_of_scope.yaml").read_text(encoding="utf-8")
    assert sorted(r.text for r in await tg.store.unanswered(status="dismissed")) == sorted(PARKING)
    tg.request.clear()
    await tg.text("איפה אפשר לחנות ליד העירייה", user_id=USER_ID + 40)
    assert "(חניה ליד העירייה)" in tg.request.texts()[0]  # the out-of-scope reply names the subject


async def test_outofscope_without_a_subject_explains_itself(tg: Harness, kb_dir: Path) -> None:
    await tg.text("/outofscope 3", user_id=CURATOR_ID)
    assert tg.request.texts() == [texts.CURATOR_OUT_OF_SCOPE_USAGE.replace("<", "&lt;").replace(">", "&gt;")]
    assert not (kb_dir / "out_of_scope.yaml").exists()


# ---------------------------------------------------------------------- strangers
async def test_non_curator_press_changes_nothing_and_gets_no_hint(tg: Harness, kb_dir: Path,
                                                                 service: AnswerService) -> None:
    await fill_queue(tg)
    ids = group_ids(await show_queue(tg))
    await tg.press("zz:not-ours")  # what the generic handler says to a button it does not know
    (unknown,) = [c.params for c in tg.request.outgoing()]
    tg.request.clear()
    original = (kb_dir / VISITS_FILE).read_text(encoding="utf-8")
    version = service.engine.snapshot.version
    for data in (f"cr:{ids['flights']}:{SUMMARY}", f"cd:{ids['parking']}", "cr:999:x", "cd:999"):
        await tg.press(data, user_id=USER_ID)
        calls = [(c.method, c.params) for c in tg.request.outgoing()]
        query_id = calls[0][1]["callback_query_id"]
        assert calls == [("answerCallbackQuery", {**unknown, "callback_query_id": query_id})]
        assert calls[0][1]["text"] == texts.ENTRY_NOT_FOUND
        tg.request.clear()
    assert (kb_dir / VISITS_FILE).read_text(encoding="utf-8") == original
    assert service.engine.snapshot.version == version
    assert len(await tg.store.unanswered()) == 6 and await tg.store.unanswered(status="dismissed") == []


# ---------------------------------------------------------------------- runtime: watcher, reports, digest
@asynccontextmanager
async def running(kb_dir: Path, tmp_path: Path, **changes: Any) -> AsyncIterator[tuple[Harness, Runtime]]:
    """The runtime started with the Telegram channel on it (as ``rashut run`` does, minus receiving)."""
    rec = RecordingRequest()
    settings = make_settings(kb_dir, tmp_path / "loop.db", **changes)
    runtime = Runtime.build(settings)
    channel = await open_channel(runtime, rec)
    await runtime.start()
    rec.clear()
    try:
        yield Harness(channel, rec, runtime.store), runtime
    finally:
        await runtime.stop()
        await channel.close()


async def test_watcher_started_with_the_app_and_stopped_at_shutdown(kb_dir: Path, tmp_path: Path) -> None:
    async with running(kb_dir, tmp_path) as (_tg, rt):
        reloader = rt.reloader
        assert reloader.running
        assert reloader.engine is rt.service.engine
    assert not reloader.running
    async with running(kb_dir, tmp_path, watch_kb=False) as (_tg, rt):  # RASHUT_WATCH_KB=0
        assert not rt.reloader.running


async def test_broken_save_sends_exactly_one_report_to_the_curator_chat(kb_dir: Path, tmp_path: Path) -> None:
    async with running(kb_dir, tmp_path, curator_chat_id=GROUP_ID) as (tg, rt):
        reloader = rt.reloader
        await reloader.stop()  # drive reload_now directly, not through the file system
        version = rt.service.engine.snapshot.version
        shutil.copy(FIXTURES / "broken" / "decision-broken.yaml", kb_dir / "decisions" / "decision-broken.yaml")
        result = await reloader.reload_now()
        assert not result.ok and rt.service.engine.snapshot.version == version
        (report,) = tg.request.sent()
        assert report["chat_id"] == GROUP_ID and report["parse_mode"] == "HTML"
        text = report["text"]
        assert text.startswith(texts.CURATOR_RELOAD_FAILED.split("\n")[0]) and "<pre>" in text
        assert "decisions/decision-broken.yaml:" in text and "duplicate id" in text
        assert "<b>4321" not in text and "<script>" not in text  # escaped
        assert len(text) <= MAX_MESSAGE
        # fixed: one short confirmation, same destination
        tg.request.clear()
        (kb_dir / "decisions" / "decision-broken.yaml").unlink()
        assert (await reloader.reload_now()).ok
        assert [(m["chat_id"], m["text"]) for m in tg.request.sent()] == [
            (GROUP_ID, texts.CURATOR_RELOAD_OK.format(entries=8, documents=4, version=version + 1))]


async def test_reports_go_privately_to_each_curator_without_a_chat(kb_dir: Path, tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    async with running(kb_dir, tmp_path, curator_ids=frozenset({CURATOR_ID, 43})) as (tg, rt):
        await rt.reloader.stop()
        # curator 42 never opened the bot: logged and skipped, 43 still gets it
        tg.request.errors_next["sendMessage"] = [
            (403, {"ok": False, "error_code": 403, "description": "Forbidden: bot can't initiate conversation"})]
        (kb_dir / "decisions" / "decision-1234.yaml").write_text("schema: [1\n", encoding="utf-8")
        assert not (await rt.reloader.reload_now()).ok
        assert [m["chat_id"] for m in tg.request.sent()] == [42, 43]
        assert f"could not send a curator notice to chat {pseudonym(42)}" in caplog.text
        assert "chat 42" not in caplog.text  # the raw id stays out of the log


async def test_curator_reload_and_buttons_go_through_the_reloader(kb_dir: Path, tmp_path: Path) -> None:
    async with running(kb_dir, tmp_path, curator_chat_id=GROUP_ID) as (tg, rt):
        reloader = rt.reloader
        await reloader.stop()
        await tg.text("/reload", user_id=CURATOR_ID)
        assert reloader.reloads == 1
        # the curator sees the result where they asked; no second copy to the curator chat
        assert [(m["chat_id"], m["text"]) for m in tg.request.sent()] == [
            (CURATOR_ID, texts.CURATOR_RELOAD_OK.format(entries=8, documents=4, version=2))]
        await fill_queue(tg)
        ids = group_ids(await show_queue(tg))
        await tg.press(f"cr:{ids['flights']}:{SUMMARY}", user_id=CURATOR_ID)
        assert reloader.reloads == 2 and rt.service.engine.snapshot.version == 3
        (report,) = tg.request.sent()
        assert report["chat_id"] == CURATOR_ID and "3." in report["text"]
        tg.request.clear()
        await tg.text(FLIGHTS[1], user_id=USER_ID + 40)
        assert tg.request.texts()[0].startswith("<b>סיכום ביקור משלחת</b>")


async def test_daily_digest_job(kb_dir: Path, tmp_path: Path) -> None:
    async with running(kb_dir, tmp_path, curator_chat_id=GROUP_ID, watch_kb=False,
                       digest_time="07:30") as (tg, rt):
        job = rt.jobs.job("digest")
        assert job is not None
        assert rt.jobs.job("purge") is not None  # the retention purge stays
        trigger = job.trigger
        assert str(trigger.timezone) == "Asia/Jerusalem"
        assert "hour='7'" in str(trigger) and "minute='30'" in str(trigger)
        await fill_queue(tg)
        assert rt.store is not None
        expected = await digest_text(rt.store, rt.service.engine.snapshot)
        await rt.jobs.digest()
        sent = tg.request.sent()
        assert [m["chat_id"] for m in sent] == [GROUP_ID] * len(sent) and sent
        assert [m["text"] for m in sent] == [c.text for c in render_text(expected)]
        assert texts.DIGEST_TITLE in sent[0]["text"] and FLIGHTS[0] in sent[0]["text"]


async def test_no_digest_job_without_curators(kb_dir: Path, tmp_path: Path) -> None:
    async with running(kb_dir, tmp_path, curator_ids=frozenset(), watch_kb=False) as (tg, rt):
        assert rt.jobs.job("digest") is None
        assert rt.jobs.job("purge") is not None


def test_digest_time_parsing() -> None:
    at = digest_at("07:05")
    assert (at.hour, at.minute) == (7, 5) and at.tzinfo is not None
    assert at.tzinfo.utcoffset(dt.datetime(2025, 1, 15, 7, 5)) == dt.timedelta(hours=2)  # winter
    assert at.tzinfo.utcoffset(dt.datetime(2025, 7, 15, 7, 5)) == dt.timedelta(hours=3)  # summer
    for bad in ("7", "25:00", "07:5", "ab:cd", "07:60", ""):
        with pytest.raises(SettingsError):
            digest_at(bad)


def test_without_group_keeps_other_groups_buttons() -> None:
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    markup = InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="cr:1:x"),
                                    InlineKeyboardButton("b", callback_data="cd:1")],
                                   [InlineKeyboardButton("c", callback_data="cd:12")]])
    left = without_group(markup, 1)
    assert left is not None and [[b.callback_data for b in row] for row in left.inline_keyboard] == [["cd:12"]]
    assert without_group(left, 12) is None


async def test_notifier_without_destinations_sends_nothing(kb_dir: Path, tmp_path: Path, store: Store) -> None:
    settings = make_settings(kb_dir, tmp_path / "rashut.db", curator_ids=frozenset())
    async with harness_for(settings, store) as h:
        notifier = TelegramNotifier(h.app.bot, settings)
        assert notifier.destinations() == []
        assert await notifier.digest(await digest_text(store, None)) == 0
        await notifier.reload_failed("x.yaml:1: broken")
        assert h.request.sent() == []
