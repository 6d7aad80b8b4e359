"""`rashut run` (polling) as a subprocess against the strict Bot API emulator: real conversations.

Every test uses its own user or group ids and looks only at calls made after its ``mark()``, so
the tests share one bot process (started once per module) without seeing each other's traffic.
"""
from __future__ import annotations

import re

import pytest

from bot import texts
from tests.botapi.server import BotApiEmulator, Call
from tests.e2e.conftest import CURATOR_ID, TOKEN, WAIT, BotProcess, secrets_in

BUDGET_Q = "מה התקציب של החלטה 4321?"
CLARIFY_Q = "ביטוח של המשלחת שלנו בשבוע הבא"
GROUP = -1009000000001


def to(chat_id: int):
    return lambda c: c.chat_id == chat_id


async def ask(emu: BotApiEmulator, user_id: int, text: str) -> Call:
    since = emu.mark()
    emu.push_private_text(user_id, text)
    return await emu.wait_for("sendMessage", to(user_id), WAIT, since=since)


@pytest.fixture(autouse=True)
def _bot_alive(polling_bot: BotProcess):
    yield
    assert polling_bot.alive(), f"the bot died during the test\n{polling_bot.logs()}"


async def test_startup_sets_the_command_menu(emulator, polling_bot):
    menu = emulator.calls("setMyCommands", ok=True)
    assert menu, "setMyCommands was not called at start-up"
    assert {c["command"] for c in menu[0].params["commands"]} >= {"start", "help", "ask"}
    assert not {"reload", "unanswered", "stats"} & {c["command"] for c in menu[0].params["commands"]}
    assert emulator.calls("getUpdates", ok=False) == []  # no 409 conflicts, no bad requests


async def test_private_question_is_answered_with_citation(emulator, polling_bot):
    user = 5001
    call = await ask(emulator, user, BUDGET_Q)
    assert call.params["parse_mode"] == "HTML"
    html = call.text
    assert "<b>התקציב של החלטה 4321</b>" in html
    assert "12 מיליון" in html
    assert "&lt;500" in html and "&amp;" in html  # the fixture's <, > and & arrive escaped
    assert "<i>📄 מקור:" in html and "החלטה 4321" in html.split("📄 מקור:")[1]
    assert "https://example.org/rashut-tests/decision-4321" in html
    visible = call.result["text"]  # what the user sees, after Telegram's parsing
    assert "(<500 מנויים)" in visible and "שיפוץ & ציוד" in visible
    data = call.callback_data()
    assert "e:decision-4321-localities" in data and "e:decision-4321-apply" in data
    assert data[-2:] == ["v:1:decision-4321-budget", "v:-1:decision-4321-budget"]
    assert all(len(d.encode()) <= 64 for d in data)
    # private chat: a plain message, not a reply
    assert "reply_to_message" not in call.result


async def test_clarify_then_button_opens_the_entry(emulator, polling_bot):
    user = 5002
    call = await ask(emulator, user, CLARIFY_Q)
    assert texts.CLARIFY in call.text
    data = call.callback_data()
    assert {"e:test-visits-health-insurance", "e:test-visits-liability-insurance"} <= set(data)
    assert not any(d.startswith("v:") for d in data)  # no feedback buttons on a question

    since = emulator.mark()
    update = emulator.callback_query(user, call.result, "e:test-visits-health-insurance")
    emulator.push_update(update)
    qid = update["callback_query"]["id"]
    await emulator.wait_for("answerCallbackQuery", lambda c: c.params.get("callback_query_id") == qid, WAIT,
                            since=since)
    entry = await emulator.wait_for("sendMessage", to(user), WAIT, since=since)
    assert "<b>ביטוח בריאות לחברי המשלחת</b>" in entry.text
    assert "📄 מקור:" in entry.text
    assert "v:1:test-visits-health-insurance" in entry.callback_data()
    # the clarify was queued for curators, with its candidates
    rows = polling_bot.sql("SELECT kind, candidates FROM unanswered WHERE text = ?", (CLARIFY_Q,))
    assert rows and rows[0][0] == "clarify" and "test-visits-health-insurance" in rows[0][1]


async def test_feedback_vote_is_stored(emulator, polling_bot):
    user = 5003
    call = await ask(emulator, user, BUDGET_Q)
    since = emulator.mark()
    update = emulator.callback_query(user, call.result, "v:1:decision-4321-budget")
    emulator.push_update(update)
    qid = update["callback_query"]["id"]
    answered = await emulator.wait_for("answerCallbackQuery",
                                       lambda c: c.params.get("callback_query_id") == qid, WAIT, since=since)
    assert answered.params.get("text") == texts.FEEDBACK_THANKS_UP
    rows = polling_bot.sql("SELECT entry_id, vote, user_hash, channel FROM feedback WHERE entry_id = ?",
                           ("decision-4321-budget",))
    assert [(r[0], r[1], r[3]) for r in rows] == [("decision-4321-budget", 1, "telegram")]
    assert rows[0][2] and str(user) not in rows[0][2]  # a keyed hash, never the raw id
    # a vote sends no new message
    assert emulator.calls("sendMessage", since=since) == []


async def test_group_answers_only_when_addressed(emulator, polling_bot):
    member = 6001
    since = start = emulator.mark()
    chatter = emulator.push_group_text(GROUP, member, BUDGET_Q)  # a question, but not to the bot
    # the bot has fetched (and confirmed) the chatter before anything else is pushed
    await emulator.wait_for("getUpdates", lambda c: int(c.params.get("offset") or 0) > chatter, WAIT, since=since)
    uid = emulator.push_group_text(GROUP, member, "מי משלם על הטיסות של המשלחת?", mention=True)
    mentioned = emulator.pushed(uid)["message"]
    reply = await emulator.wait_for("sendMessage", to(GROUP), WAIT, since=since)
    assert reply.params["reply_parameters"]["message_id"] == mentioned["message_id"]
    assert reply.result["reply_to_message"]["message_id"] == mentioned["message_id"]
    assert "מי משלם על מה באירוח משלחת" in reply.text
    assert len(emulator.calls("sendMessage", since=since)) == 1, "the chatter was answered"

    # a reply to one of the bot's messages is addressed to it
    since = emulator.mark()
    emulator.push_group_text(GROUP, member, "ואיך מגישים בקשה לפי החלטה 4321?", reply_to=reply.result)
    follow = await emulator.wait_for("sendMessage", to(GROUP), WAIT, since=since)
    assert "הגשת בקשה לפי החלטה 4321" in follow.text

    # /ask works with privacy mode on
    since = emulator.mark()
    emulator.push_group_text(GROUP, member, "/ask " + BUDGET_Q)
    asked = await emulator.wait_for("sendMessage", to(GROUP), WAIT, since=since)
    assert "<b>התקציב של החלטה 4321</b>" in asked.text

    # replies to someone else's message are chatter too
    since = emulator.mark()
    other = emulator.push_group_text(GROUP, member + 1, "תודה!", reply_to=mentioned)
    await emulator.wait_for("getUpdates", lambda c: int(c.params.get("offset") or 0) > other, WAIT, since=since)
    emulator.push_group_text(GROUP, member, "@" + emulator.bot_user["username"] + " " + BUDGET_Q)
    await emulator.wait_for("sendMessage", to(GROUP), WAIT, since=since)
    assert len(emulator.calls("sendMessage", since=since)) == 1
    # over the whole conversation: exactly one reply per addressed message, each a reply to it
    replies = [c for c in emulator.calls("sendMessage", since=start) if c.chat_id == GROUP]
    assert len(replies) == 4
    chatter_ids = {emulator.pushed(chatter)["message"]["message_id"], emulator.pushed(other)["message"]["message_id"]}
    assert not chatter_ids & {c.params["reply_parameters"]["message_id"] for c in replies}
    # nothing about the group chatter reached the curators' queue
    assert polling_bot.sql("SELECT COUNT(*) FROM unanswered WHERE chat_type = 'group' AND text LIKE ?",
                           ("%תודה%",)) == [(0,)]


async def test_inline_query_is_answered(emulator, polling_bot):
    user = 5004
    since = emulator.mark()
    update = emulator.inline_query(user, "מה התקציב של החלטה 4321")
    emulator.push_update(update)
    qid = update["inline_query"]["id"]
    call = await emulator.wait_for("answerInlineQuery", lambda c: c.params.get("inline_query_id") == qid, WAIT,
                                   since=since)
    results = call.params["results"]
    assert results and results[0]["type"] == "article" and results[0]["id"] == "decision-4321-budget"
    content = results[0]["input_message_content"]
    assert content["parse_mode"] == "HTML" and "12 מיליון" in content["message_text"]


async def test_unanswered_question_is_queued(emulator, polling_bot):
    user = 5005
    question = "מה שעות הפתיחה של הבריכה העירונית בשבת?"
    call = await ask(emulator, user, question)
    assert texts.UNANSWERED.splitlines()[0] in call.text
    rows = polling_bot.sql("SELECT kind, channel, chat_type, user_hash FROM unanswered WHERE text = ?", (question,))
    assert rows and rows[0][:3] == ("unanswered", "telegram", "private") and rows[0][3] != str(user)


async def test_rate_limited_send_is_retried(emulator, polling_bot):
    user = 5006
    since = emulator.mark()
    emulator.fail_send_message(1, retry_after=1)
    emulator.push_private_text(user, BUDGET_Q)
    call = await emulator.wait_for("sendMessage", to(user), WAIT, since=since)
    statuses = [c.status for c in emulator.calls("sendMessage", since=since) if c.chat_id == user]
    assert statuses == [429, 200]
    assert call.time - emulator.calls("sendMessage", since=since)[0].time >= 0.9  # honoured retry_after


async def test_browse_button_and_start(emulator, polling_bot):
    user = 5007
    start = await ask(emulator, user, "/start")
    assert "t:decisions" in start.callback_data()
    since = emulator.mark()
    emulator.push_callback(user, start.result, "t:decisions")
    listing = await emulator.wait_for("sendMessage", to(user), WAIT, since=since)
    assert "t:decision:4321" in listing.callback_data()


async def test_curator_commands_and_reload_keeps_the_last_good_base(emulator, polling_bot):
    # a non-curator does not even learn that /reload exists
    stranger = await ask(emulator, 5008, "/reload")
    assert "המאגר" not in stranger.text

    await ask(emulator, 5011, "איפה מחדשים רישיון לכלב?")  # something for the queue
    stats = await ask(emulator, CURATOR_ID, "/stats")
    assert "סטטיסטיקה" in stats.text
    queue = await ask(emulator, CURATOR_ID, "/unanswered")
    assert "איפה מחדשים רישיון לכלב?" in queue.result["text"]

    path = polling_bot.kb / "decisions" / "decision-4321.yaml"
    original = path.read_text(encoding="utf-8")
    broken = original.replace("הוקצו 12 מיליון", "הוקצו 99 מיליון") + "  - id: [oops\n    title: : :\n"
    bad_line = len(original.splitlines()) + 1
    path.write_text(broken, encoding="utf-8")
    try:
        reply = await ask(emulator, CURATOR_ID, "/reload")
        found = re.search(r"decisions/decision-4321\.yaml:(\d+)", reply.result["text"])
        assert found, reply.result["text"]
        assert abs(int(found.group(1)) - bad_line) <= 2
        assert "הטעינה נכשלה" in reply.text
        # the old base still answers
        answer = await ask(emulator, 5009, BUDGET_Q)
        assert "12 מיליון" in answer.text and "99 מיליון" not in answer.text
    finally:
        path.write_text(original, encoding="utf-8")
    ok = await ask(emulator, CURATOR_ID, "/reload")
    assert "המאגר נטען מחדש" in ok.text


async def test_no_failed_calls_and_token_never_logged(emulator, polling_bot):
    """The strict emulator rejected nothing the bot sent, and the logs hold no token (the whole
    log is audited again when the bot is stopped: see ``stop_and_audit``)."""
    await ask(emulator, 5010, BUDGET_Q)  # at least one full exchange, whatever ran before
    # (429s are injected on purpose; an abandoned call is a long poll PTB dropped)
    failed = [(c.method, c.status, c.description) for c in emulator.calls(ok=False)
              if c.status != 429 and not c.abandoned]
    assert failed == [], failed
    assert all(c.authorized for c in emulator.calls())
    logs = polling_bot.logs()
    assert "ready (polling)" in logs  # the logs are not simply empty
    assert secrets_in(logs, TOKEN) == []
