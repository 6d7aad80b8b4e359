"""Safety and limits: escaping, invisible curator commands, callback data, stale presses,
idempotency, the error handler, and the bot token kept out of logs."""
from __future__ import annotations

import io
import logging
from collections import deque
from html.parser import HTMLParser
from pathlib import Path

import pytest
from telegram.ext import AIORateLimiter

from bot import texts
from bot.service import AnswerService
from bot.store import SqliteStore as Store
from bot.logs import REDACTED, RedactSecrets, install_log_guards, pseudonym
from handlers.telegram.channel import poll_timeout, webhook_path
from knowledge.errors import SettingsError
from tests.handlers.telegram.tg_harness import (BOT_USER, CURATOR_ID, GROUP_ID, TOKEN, USER_ID, Harness, all_callback_data, harness_for,
                        make_settings)

INJECTION = "<b>x</b> &amp; \u202e"
TAGS = {"b", "i", "a", "pre", "code", "u", "s"}


class Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text, self.stack = "", []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        assert tag in TAGS, f"unexpected tag <{tag}>"
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack.pop() == tag

    def handle_data(self, data: str) -> None:
        self.text += data


def visible(html_text: str) -> str:
    parser = Visible()
    parser.feed(html_text)
    parser.close()
    assert parser.stack == []
    return parser.text


async def test_injection_in_name_and_question_is_escaped_everywhere(tg: Harness) -> None:
    await tg.text("/start", first_name=INJECTION)
    await tg.text(f"{INJECTION} איפה חונים", first_name=INJECTION)
    await tg.text(f"/search {INJECTION}", first_name=INJECTION)
    await tg.text(f"/ask {INJECTION} מה שעות הפתיחה", chat="supergroup", first_name=INJECTION)
    await tg.text("/unanswered", user_id=CURATOR_ID)
    sent = tg.request.sent()
    assert len(sent) == 5
    for message in sent:
        assert message["parse_mode"] == "HTML"
        assert "<b>x</b>" not in message["text"]
        visible(message["text"])  # balanced, known tags only: our own markup
    welcome, queue = sent[0]["text"], sent[-1]["text"]
    assert "\u2068&lt;b&gt;x&lt;/b&gt; &amp;amp; \u202e\u2069" in welcome  # literal, bidi-isolated
    assert INJECTION in visible(welcome)
    assert visible(queue).count(INJECTION) == 2  # both queued questions, shown literally


@pytest.mark.parametrize("command", ["/reload", "/unanswered", "/stats"])
async def test_non_curator_gets_no_hint(tg: Harness, command: str) -> None:
    await tg.text("/no_such_command")
    unknown = [(c.method, c.params) for c in tg.request.outgoing()]
    assert unknown == [("sendMessage", {"chat_id": USER_ID, "text": texts.UNKNOWN_COMMAND, "parse_mode": "HTML",
                                        "link_preview_options": {"is_disabled": True}})]
    tg.request.clear()
    await tg.text(command)
    assert [(c.method, c.params) for c in tg.request.outgoing()] == unknown  # exactly the same
    tg.request.clear()
    await tg.text(f"{command}@rashut_test_bot", chat="supergroup")  # groups: silence, like any unknown command
    await tg.text(command, chat="supergroup", user_id=CURATOR_ID)  # curators too, outside private chat
    assert tg.request.outgoing() == []


async def test_non_curator_reload_does_not_reload(tg: Harness, kb_dir: Path) -> None:
    version = _service(tg).engine.snapshot.version
    (kb_dir / "decisions" / "decision-1234.yaml").unlink()
    await tg.text("/reload")
    tg.request.clear()
    await tg.text("מה התקציב של החלטה 1234")
    assert tg.request.texts()[0].startswith("<b>התקציב של החלטה 1234</b>")  # still the loaded base
    assert _service(tg).engine.snapshot.version == version


async def test_every_keyboard_has_short_ids_and_every_press_is_answered(tg: Harness) -> None:
    """Crawl the whole bot from its entry points, pressing every button once."""
    for start in ("/start", "/help", "/decisions", "/decision 1234", "/programmes", "/visits", "/search גינה",
                  "גינה", "מה התקציב של החלטה 1234", "מה צריך להכין לפני ביקור משלחת"):
        await tg.text(start)
    queue, seen = deque(), set()
    pressed = 0
    while True:
        for params in tg.request.sent():
            for data in all_callback_data(params):
                assert len(data.encode("utf-8")) <= 64, data
                assert data.split(":")[0] in ("e", "t", "v")
                if data not in seen:
                    seen.add(data)
                    queue.append(data)
        tg.request.clear()
        if not queue:
            break
        data = queue.popleft()
        await tg.press(data)
        pressed += 1
        assert len(tg.request.of("answerCallbackQuery")) == 1, data
    assert pressed >= 15
    assert {"t:decision:1234", "t:stage:gardens-stage-2", "t:phase:test-visits-after", "v:-1:dec1234-budget"} <= seen


@pytest.mark.parametrize("data", ["e:no-such-entry", "t:stage:gone", "t:programme:gone",
                                  "v:1:no-such-entry", "garbage", "e:", "v:7:x"])
async def test_stale_or_garbage_callback_is_answered(tg: Harness, data: str) -> None:
    await tg.press(data)
    assert [c.method for c in tg.request.outgoing()] == ["answerCallbackQuery"]
    (answered,) = tg.request.of("answerCallbackQuery")
    assert answered["text"] == texts.ENTRY_NOT_FOUND


async def test_stale_decision_target_shows_not_found_page(tg: Harness) -> None:
    """A decision dropped from the base still has a page: the honest "not in the base" text."""
    await tg.press("t:decision:999999")
    assert tg.request.of("answerCallbackQuery")[0].get("text") is None
    assert tg.request.texts() == [texts.DECISION_NOT_FOUND.format(number=999999, known="1234")]


async def test_group_button_press_replies_in_thread(tg: Harness) -> None:
    origin = {"message_id": 321, "date": 0, "chat": tg.chat("supergroup"), "from": BOT_USER, "text": "…",
              "message_thread_id": 8, "is_topic_message": True}
    await tg.press("e:dec1234-budget", chat="supergroup", message=origin)
    (sent,) = tg.request.sent()
    assert sent["chat_id"] == GROUP_ID and sent["message_thread_id"] == 8
    assert sent["reply_parameters"]["message_id"] == 321


async def test_duplicate_update_processed_once_even_after_restart(tg: Harness, kb_dir: Path, tmp_path: Path,
                                                                  store: Store) -> None:
    msg = tg.message("מה מזג האוויר מחר")
    await tg.feed({"message": msg}, update_id=900)
    await tg.feed({"message": msg}, update_id=900)
    assert len(tg.request.sent()) == 1
    assert len(await store.unanswered()) == 1
    # a second process on the same store (restart, webhook retry) skips it too
    async with harness_for(make_settings(kb_dir, tmp_path / "rashut.db"), store) as h2:
        await h2.feed({"message": msg}, update_id=900)
        assert h2.request.sent() == []


async def test_error_handler_apologises_and_logs_context(tg: Harness, caplog: pytest.LogCaptureFixture,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    async def boom(question: object) -> None:
        raise RuntimeError("matcher exploded")

    monkeypatch.setattr(_service(tg), "handle", boom)
    with caplog.at_level(logging.ERROR, logger="handlers.telegram.app"):
        await tg.feed({"message": tg.message("מה התקציב של החלטה 1234")}, update_id=77)
    assert tg.request.texts() == [texts.ERROR_APOLOGY]
    (record,) = [r for r in caplog.records if r.name == "handlers.telegram.app"]
    assert "private_text" in record.getMessage() and "77" in record.getMessage()
    assert pseudonym(USER_ID) in record.getMessage() and str(USER_ID) not in record.getMessage()  # no raw ids
    assert record.exc_info
    tg.request.clear()
    asked = await tg.text("/ask שאלה", chat="supergroup", thread_id=5)
    (apology,) = tg.request.sent()
    assert apology["text"] == texts.ERROR_APOLOGY and apology["message_thread_id"] == 5
    assert apology["reply_parameters"]["message_id"] == asked["message_id"]


async def test_error_in_callback_answers_the_press(tg: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(entry_id: str, snap: object = None) -> None:
        raise RuntimeError("broken entry")

    monkeypatch.setattr(_service(tg), "entry", broken)
    await tg.press("e:dec1234-budget")
    assert tg.request.of("answerCallbackQuery")[0]["text"] == texts.ERROR_APOLOGY
    assert tg.request.texts() == [texts.ERROR_APOLOGY]


def _service(tg: Harness) -> AnswerService:
    """The AnswerService the application's handlers hold."""
    for handlers in tg.app.handlers.values():
        for handler in handlers:
            owner = getattr(getattr(handler.callback, "__wrapped__", None), "__self__", None)
            service = getattr(owner, "service", None)
            if isinstance(service, AnswerService):
                return service
    raise AssertionError("no service found")


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # PTB's own retry_after access
async def test_flood_control_is_retried_by_the_rate_limiter(tg: Harness) -> None:
    """A 429 RetryAfter from Telegram is waited out and retried (AIORateLimiter max_retries)."""
    flood = {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
             "parameters": {"retry_after": 1}}
    tg.request.errors_next["sendMessage"] = [(429, flood)]
    await tg.text("מה התקציב של החלטה 1234")
    sent = tg.request.sent()
    assert len(sent) == 2 and sent[0] == sent[1]  # the same message, sent again
    assert isinstance(tg.app.bot.rate_limiter, AIORateLimiter)


async def test_curator_chat_accepts_curator_commands(kb_dir: Path, tmp_path: Path, store: Store) -> None:
    settings = make_settings(kb_dir, tmp_path / "rashut.db", curator_chat_id=GROUP_ID)
    async with harness_for(settings, store) as h:
        rec = h.request
        await h.text("/stats", chat="supergroup", user_id=CURATOR_ID)
        assert len(rec.sent()) == 1 and rec.sent()[0]["chat_id"] == GROUP_ID
        rec.clear()
        await h.text("/stats", chat="supergroup", user_id=USER_ID)  # not a curator: silence, as any unknown
        assert rec.outgoing() == []


# ---------------------------------------------------------------------- the token stays out of logs
def test_token_is_redacted_from_every_log_record() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        guard = install_log_guards([TOKEN, "webhook-secret-123"])
        assert logging.getLogger("httpx").level == logging.WARNING
        assert logging.getLogger("httpcore").level == logging.WARNING
        secret = TOKEN.split(":", 1)[1]
        log = logging.getLogger("telegram.ext.test")
        log.warning("POST https://api.telegram.org/bot%s/getMe", TOKEN)
        log.warning("quoted %s", TOKEN.replace(":", "%3A"))
        log.warning("only the secret half: %s and webhook-secret-123", secret)
        try:
            raise ValueError(f"bad url /bot{TOKEN}/sendMessage")
        except ValueError:
            log.exception("failed")
        out = stream.getvalue()
        assert secret not in out and "webhook-secret-123" not in out
        assert out.count(REDACTED) >= 5
    finally:
        for h in root.handlers:
            h.removeFilter(guard)
        root.removeHandler(handler)


def test_redactor_ignores_empty_secrets() -> None:
    assert RedactSecrets([None, ""]).redact("nothing to hide") == "nothing to hide"


def test_poll_timeout_and_webhook_path() -> None:
    assert poll_timeout({}).total_seconds() == 1
    assert poll_timeout({"TELEGRAM_POLL_TIMEOUT": "0"}).total_seconds() == 0
    assert poll_timeout({"TELEGRAM_POLL_TIMEOUT": "25"}).total_seconds() == 25
    with pytest.raises(SettingsError):
        poll_timeout({"TELEGRAM_POLL_TIMEOUT": "soon"})
    assert webhook_path("https://bot.example.org/tg/hook") == "tg/hook"


async def test_a_token_typed_by_a_user_is_not_stored(tg: Harness) -> None:
    """Someone pastes the bot's token into the chat: it is answered, queued, and stored redacted."""
    await tg.text(f"למה הבוט לא עובד עם {TOKEN} בכלל")
    assert tg.store is not None
    (row,) = await tg.store.unanswered()
    assert TOKEN not in row.text and TOKEN.split(":", 1)[1] not in row.text and REDACTED in row.text


def test_library_records_carrying_an_update_log_its_id_only() -> None:
    from telegram import Update

    update = Update.de_json({"update_id": 77, "message": {"message_id": 1, "date": 0, "text": "סוד",
                                                          "chat": {"id": 555777999, "type": "private"},
                                                          "from": {"id": 555777999, "is_bot": False,
                                                                   "first_name": "שרה"}}}, None)
    record = logging.LogRecord("telegram.ext.Application", logging.CRITICAL, __file__, 1,
                               "Error while building CallbackContext for update %s", (update,), None)
    RedactSecrets([]).filter(record)
    text = record.getMessage()
    assert text.endswith("update 77") and "שרה" not in text and "555777999" not in text
