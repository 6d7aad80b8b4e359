"""The emulator must be at least as strict as Telegram, or the end-to-end tests prove nothing."""
from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import pytest_asyncio
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import InvalidToken, RetryAfter

from tests.botapi.server import DEFAULT_TOKEN, BotApiEmulator, EntityParseError, parse_html

USER = 1001
GROUP = -1001234567890


@pytest_asyncio.fixture
async def emu():
    server = await BotApiEmulator().start()
    try:
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture
async def http(emu):
    async with httpx.AsyncClient(base_url=f"{emu.url}/bot{DEFAULT_TOKEN}/", timeout=20) as client:
        yield client


async def call(http: httpx.AsyncClient, method: str, **params) -> tuple[int, dict]:
    """Form-encoded like python-telegram-bot: strings as is, everything else JSON-encoded."""
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    r = await http.post(method, data=form)
    return r.status_code, r.json()


def keyboard(*datas: str) -> dict:
    return {"inline_keyboard": [[{"text": f"b{i}", "callback_data": d}] for i, d in enumerate(datas)]}


# ---------------------------------------------------------------- authorisation and methods
async def test_unknown_token_is_401(emu):
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.post(f"{emu.url}/bot123:WRONG/getMe")
    assert r.status_code == 401
    assert r.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert emu.calls("getMe")[0].authorized is False
    bot = Bot("123:WRONG", base_url=emu.base_url)
    with pytest.raises(InvalidToken):
        await bot.initialize()


async def test_unknown_method_is_404_and_logout_is_refused(http):
    status, body = await call(http, "sendPhoto", chat_id=USER)
    assert (status, body["description"]) == (404, "Not Found")
    status, body = await call(http, "logOut")
    assert status == 400 and "refused" in body["description"]


async def test_python_telegram_bot_talks_to_it(emu):
    emu.push_private_text(USER, "שלום")
    async with Bot(DEFAULT_TOKEN, base_url=emu.base_url) as bot:
        assert bot.username == emu.bot_user["username"]
        updates = await bot.get_updates(timeout=1)
        assert [u.message.text for u in updates] == ["שלום"]
        msg = await bot.send_message(USER, "<b>כותרת</b>\nתשובה &amp; עוד", parse_mode=ParseMode.HTML,
                                     reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("👍", callback_data="v:1:x")]]))
        assert msg.text == "כותרת\nתשובה & עוד"
        assert msg.entities[0].type == "bold" and msg.entities[0].length == len("כותרת")
        assert msg.from_user.id == emu.bot_user["id"] and msg.message_id == 2  # the user's message was 1
        assert await bot.set_my_commands([("ask", "שאלה")])
        assert [c.command for c in await bot.get_my_commands()] == ["ask"]
    sent = emu.calls("sendMessage")[0]
    assert sent.params["parse_mode"] == "HTML" and sent.callback_data() == ["v:1:x"]


async def test_json_and_query_string_bodies(emu, http):
    emu.push_private_text(USER, "hi")
    r = await http.post("sendMessage", json={"chat_id": USER, "text": "json body"})
    assert r.json()["ok"] and r.json()["result"]["text"] == "json body"
    r = await http.get("sendMessage", params={"chat_id": str(USER), "text": "query string"})
    assert r.json()["ok"]
    r = await http.post("sendMessage", files={"chat_id": (None, str(USER)), "text": (None, "multipart")})
    assert r.json()["result"]["text"] == "multipart"


# ---------------------------------------------------------------- text validation
async def test_text_over_4096_characters_is_rejected(emu, http):
    emu.push_private_text(USER, "hi")
    status, body = await call(http, "sendMessage", chat_id=USER, text="א" * 4097)
    assert status == 400 and body == {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"}
    status, _ = await call(http, "sendMessage", chat_id=USER, text="א" * 4096)
    assert status == 200
    # HTML: the limit applies to the visible text, not to the markup
    status, _ = await call(http, "sendMessage", chat_id=USER, text="<b>" + "א" * 4090 + "</b>", parse_mode="HTML")
    assert status == 200
    status, body = await call(http, "sendMessage", chat_id=USER, text="&lt;" * 4097, parse_mode="HTML")
    assert status == 400 and body["description"] == "Bad Request: message is too long"


@pytest.mark.parametrize("text", ["", "   \n ", "<b></b>", "<b> </b>"])
async def test_empty_text_is_rejected(emu, http, text):
    emu.push_private_text(USER, "hi")
    status, body = await call(http, "sendMessage", chat_id=USER, text=text, parse_mode="HTML")
    assert status == 400 and body["description"] == "Bad Request: message text is empty"


async def test_unknown_chat_and_missing_reply_target(emu, http):
    status, body = await call(http, "sendMessage", chat_id=424242, text="x")
    assert (status, body["description"]) == (400, "Bad Request: chat not found")
    emu.push_private_text(USER, "hi")
    status, body = await call(http, "sendMessage", chat_id=USER, text="x", reply_parameters={"message_id": 99})
    assert body["description"] == "Bad Request: message to be replied not found"
    status, body = await call(http, "sendMessage", chat_id=USER, text="x", reply_parameters={"message_id": 1})
    assert status == 200 and body["result"]["reply_to_message"]["text"] == "hi"


# ---------------------------------------------------------------- HTML
@pytest.mark.parametrize("html, fragment", [
    ("<div>x</div>", 'Unsupported start tag "div"'),
    ("<br>", 'Unsupported start tag "br"'),
    ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
    ("<b><i>x</b></i>", 'Unmatched end tag'),
    ("x</b>", "Unexpected end tag"),
    ("a < b", 'Unsupported start tag ""'),
    ("1<2 and 3", 'Unsupported start tag "2"'),
    ("1<2", "Unclosed start tag"),
    ("R&D", "Character '&'"),
    ("&nbsp;", "Character '&'"),
    ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
    ('<a href="https://x.il/?a=1&b=2">x</a>', "Character '&'"),
    ("<b", "Unclosed start tag"),
    ('<a href=x"y>x</a>', "Unexpected end of name token"),
])
async def test_malformed_html_is_rejected(emu, http, html, fragment):
    emu.push_private_text(USER, "hi")
    status, body = await call(http, "sendMessage", chat_id=USER, text=html, parse_mode="HTML")
    assert status == 400
    assert body["description"].startswith("Bad Request: can't parse entities: ")
    assert fragment in body["description"]
    # the same text without parse_mode is plain text and fine
    status, _ = await call(http, "sendMessage", chat_id=USER, text=html)
    assert status == 200


async def test_valid_html_is_accepted(emu, http):
    emu.push_private_text(USER, "hi")
    html = ('<b>כותרת</b>\n<i>📄 מקור: החלטה 546 &amp; "עוד" &lt;3&gt;</i> <a href="https://x.il/?a=1&amp;b=2">קישור</a>'
            '<u>u</u><s>s</s><code>c</code><pre>p</pre><tg-spoiler>t</tg-spoiler>'
            '<span class="tg-spoiler">sp</span><blockquote expandable>q</blockquote>&#1488;&#x5D1;')
    status, body = await call(http, "sendMessage", chat_id=USER, text=html, parse_mode="HTML")
    assert status == 200, body
    result = body["result"]
    assert result["text"].startswith('כותרת\n📄 מקור: החלטה 546 & "עוד" <3> קישור')
    assert result["text"].endswith("qאב")
    types = [e["type"] for e in result["entities"]]
    assert {"bold", "italic", "text_link", "underline", "strikethrough", "code", "pre", "spoiler",
            "expandable_blockquote"} <= set(types)
    link = next(e for e in result["entities"] if e["type"] == "text_link")
    assert link["url"] == "https://x.il/?a=1&b=2"


def test_entity_offsets_are_utf16():
    text, entities = parse_html("😀 <b>א</b>")
    assert text == "😀 א"
    assert entities == [{"type": "bold", "offset": 3, "length": 1}]  # the emoji is two UTF-16 units
    with pytest.raises(EntityParseError):
        parse_html("<i>x")
    assert parse_html("R&D", strict_ampersand=False)[0] == "R&D"


# ---------------------------------------------------------------- keyboards and callbacks
async def test_callback_data_over_64_bytes_is_rejected(emu, http):
    emu.push_private_text(USER, "hi")
    status, body = await call(http, "sendMessage", chat_id=USER, text="x", reply_markup=keyboard("e:" + "a" * 63))
    assert (status, body["description"]) == (400, "Bad Request: BUTTON_DATA_INVALID")
    status, _ = await call(http, "sendMessage", chat_id=USER, text="x", reply_markup=keyboard("e:" + "a" * 62))
    assert status == 200
    # bytes, not characters: 33 Hebrew letters are 66 bytes
    status, body = await call(http, "sendMessage", chat_id=USER, text="x", reply_markup=keyboard("א" * 33))
    assert body["description"] == "Bad Request: BUTTON_DATA_INVALID"
    status, body = await call(http, "sendMessage", chat_id=USER, text="x", reply_markup=keyboard(""))
    assert body["description"] == "Bad Request: BUTTON_DATA_INVALID"
    status, body = await call(http, "sendMessage", chat_id=USER, text="x",
                              reply_markup={"inline_keyboard": [[{"text": "no action"}]]})
    assert status == 400 and "exactly one" in body["description"]
    assert len(emu.calls("sendMessage", ok=False)) == 4


async def test_callback_queries_are_answered_once(emu, http):
    emu.push_private_text(USER, "hi")
    status, body = await call(http, "sendMessage", chat_id=USER, text="x", reply_markup=keyboard("e:a"))
    with pytest.raises(ValueError):
        emu.callback_query(USER, body["result"], "e:not-on-the-message")
    update = emu.callback_query(USER, body["result"], "e:a")
    emu.push_update(update)
    qid = update["callback_query"]["id"]
    assert (await call(http, "answerCallbackQuery", callback_query_id=qid))[0] == 200
    status, body = await call(http, "answerCallbackQuery", callback_query_id=qid)
    assert status == 400 and "query is too old" in body["description"]
    status, body = await call(http, "answerCallbackQuery", callback_query_id="nope")
    assert status == 400


async def test_edit_must_change_something(emu, http):
    emu.push_private_text(USER, "hi")
    _, body = await call(http, "sendMessage", chat_id=USER, text="<b>x</b>", parse_mode="HTML",
                         reply_markup=keyboard("e:a"))
    mid = body["result"]["message_id"]
    status, body = await call(http, "editMessageText", chat_id=USER, message_id=mid, text="<b>x</b>",
                              parse_mode="HTML", reply_markup=keyboard("e:a"))
    assert status == 400 and body["description"].startswith("Bad Request: message is not modified")
    status, body = await call(http, "editMessageText", chat_id=USER, message_id=mid, text="y")
    assert status == 200 and body["result"]["text"] == "y" and "reply_markup" not in body["result"]
    status, body = await call(http, "editMessageReplyMarkup", chat_id=USER, message_id=mid, reply_markup=keyboard("e:b"))
    assert status == 200
    status, body = await call(http, "editMessageText", chat_id=USER, message_id=1, text="z")
    assert body["description"] == "Bad Request: message can't be edited"  # the user's own message
    status, body = await call(http, "editMessageText", chat_id=USER, message_id=999, text="z")
    assert body["description"] == "Bad Request: message to edit not found"


# ---------------------------------------------------------------- inline mode
async def test_inline_query_results_are_validated(emu, http):
    update = emu.inline_query(USER, "תקציב")
    emu.push_update(update)
    qid = update["inline_query"]["id"]

    def article(rid: str, text: str, title: str = "t") -> dict:
        return {"type": "article", "id": rid, "title": title,
                "input_message_content": {"message_text": text, "parse_mode": "HTML"}}

    for results, description in [
        ([article("1", "a"), article("1", "b")], "RESULT_ID_DUPLICATE"),
        ([article("x" * 65, "a")], "RESULT_ID_INVALID"),
        ([article("1", "<b>a")], "can't parse entities"),
        ([article("1", "א" * 4097)], "MESSAGE_TOO_LONG"),
        ([article("1", "")], "MESSAGE_EMPTY"),
        ([article("1", "a", title="")], "RESULT_TITLE_EMPTY"),
        ([article(str(i), "a") for i in range(51)], "RESULTS_TOO_MUCH"),
        ([{**article("1", "a"), "reply_markup": keyboard("v" * 65)}], "BUTTON_DATA_INVALID"),
    ]:
        status, body = await call(http, "answerInlineQuery", inline_query_id=qid, results=results)
        assert status == 400 and description in body["description"], (description, body)
    status, body = await call(http, "answerInlineQuery", inline_query_id=qid,
                              results=[article("1", "<b>a</b> &amp; b"), article("2", "c")], cache_time=0)
    assert status == 200, body
    status, body = await call(http, "answerInlineQuery", inline_query_id=qid, results=[])
    assert status == 400 and "query is too old" in body["description"]


async def test_chat_action_is_checked(emu, http):
    emu.push_private_text(USER, "hi")
    assert (await call(http, "sendChatAction", chat_id=USER, action="typing"))[0] == 200
    status, body = await call(http, "sendChatAction", chat_id=USER, action="dancing")
    assert body["description"] == "Bad Request: wrong parameter action in request"


# ---------------------------------------------------------------- long polling
async def test_long_polling_returns_pushed_updates(emu, http):
    async def push_later():
        await asyncio.sleep(0.3)
        return emu.push_private_text(USER, "מה התקציב?")

    started = time.monotonic()
    pusher = asyncio.create_task(push_later())
    status, body = await call(http, "getUpdates", offset=0, timeout=10)
    elapsed = time.monotonic() - started
    uid = await pusher
    assert status == 200 and [u["update_id"] for u in body["result"]] == [uid]
    assert body["result"][0]["message"]["text"] == "מה התקציב?"
    assert 0.2 < elapsed < 5  # woke on the push, did not sit out the timeout
    # unconfirmed updates come back; confirming with offset drops them
    _, body = await call(http, "getUpdates", timeout=0)
    assert [u["update_id"] for u in body["result"]] == [uid]
    _, body = await call(http, "getUpdates", offset=uid + 1, timeout=0)
    assert body["result"] == []
    # a timeout with nothing to return: an empty list after about the timeout
    started = time.monotonic()
    _, body = await call(http, "getUpdates", offset=uid + 1, timeout=1)
    assert body["result"] == [] and time.monotonic() - started >= 0.9


async def test_limit_and_allowed_updates(emu, http):
    ids = [emu.push_private_text(USER, f"q{i}") for i in range(5)]
    emu.push_inline_query(USER, "x")
    _, body = await call(http, "getUpdates", limit=2)
    assert [u["update_id"] for u in body["result"]] == ids[:2]
    _, body = await call(http, "getUpdates", offset=ids[2], allowed_updates=["inline_query"])
    assert [list(u)[1] for u in body["result"]] == ["inline_query"]


async def test_a_second_poller_conflicts_with_the_first(emu, http):
    first = asyncio.create_task(call(http, "getUpdates", timeout=10))
    for _ in range(1000):  # until the first poll is waiting
        if emu._active_poll is not None:
            break
        await asyncio.sleep(0.01)
    second = asyncio.create_task(call(http, "getUpdates", timeout=1))
    status, body = await first
    assert status == 409 and "terminated by other getUpdates request" in body["description"]
    assert (await second)[0] == 200


# ---------------------------------------------------------------- faults
@pytest.mark.filterwarnings("ignore:.*retry_after.*")
async def test_rate_limit_fault_mode(emu):
    emu.push_private_text(USER, "hi")
    emu.fail_send_message(2, retry_after=1)
    async with Bot(DEFAULT_TOKEN, base_url=emu.base_url) as bot:
        for _ in range(2):
            with pytest.raises(RetryAfter) as err:
                await bot.send_message(USER, "x")
            retry = err.value.retry_after
            assert (retry if isinstance(retry, int) else retry.total_seconds()) == 1
        assert (await bot.send_message(USER, "x")).text == "x"
    assert [c.status for c in emu.calls("sendMessage")] == [429, 429, 200]


# ---------------------------------------------------------------- webhooks
async def test_webhook_delivery_with_secret(emu, http):
    received: list[tuple[str | None, dict]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return web.Response(status=200 if request.headers.get("X-Telegram-Bot-Api-Secret-Token") == "s3cret" else 403)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        status, body = await call(http, "setWebhook", url="https://example.com/hook", secret_token="s3cret")
        assert status == 400 and "127.0.0.1" in body["description"]  # never off the machine
        status, body = await call(http, "setWebhook", url=f"http://127.0.0.1:{port}/hook", secret_token="bad secret!")
        assert status == 400
        status, _ = await call(http, "setWebhook", url=f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
        assert status == 200
        uid = emu.push_private_text(USER, "שאלה")
        d = await emu.wait_for_delivery(lambda d: d.update_id == uid)
        assert d.status == 200 and received[0][0] == "s3cret" and received[0][1]["message"]["text"] == "שאלה"
        status, body = await call(http, "getUpdates")
        assert status == 409 and "webhook is active" in body["description"]
        _, info = await call(http, "getWebhookInfo")
        assert info["result"]["url"].endswith("/hook") and info["result"]["pending_update_count"] == 0
        assert await emu.deliver(emu.private_message(USER, "x"), secret_token="wrong") == 403
        assert await emu.deliver(emu.private_message(USER, "x"), secret_token=None) == 403
        assert [d.status for d in emu.deliveries() if d.raw] == [403, 403]
        assert (await call(http, "deleteWebhook"))[0] == 200
        assert (await call(http, "getUpdates"))[0] == 200
    finally:
        await runner.cleanup()


async def test_webhook_is_retried_until_the_server_listens(emu, http):
    """python-telegram-bot calls setWebhook before its server listens: early deliveries must retry."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert (await call(http, "setWebhook", url=f"http://127.0.0.1:{port}/hook", secret_token="s"))[0] == 200
    uid = emu.push_private_text(USER, "early")
    await emu.wait_for_delivery(lambda d: d.update_id == uid and d.status is None)

    async def hook(request: web.Request) -> web.Response:
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        d = await emu.wait_for_delivery(lambda d: d.update_id == uid and d.status == 200)
        assert d.status == 200
    finally:
        await runner.cleanup()


def test_runs_in_a_thread_and_is_controlled_over_http():
    with BotApiEmulator().running() as emu:
        with httpx.Client(timeout=10) as client:
            ids = client.post(f"{emu.url}/_test/push", json=[emu.private_message(USER, "a"),
                                                              emu.private_message(USER, "b")]).json()["update_ids"]
            r = client.post(f"{emu.url}/bot{DEFAULT_TOKEN}/getUpdates", data={"timeout": "0"}).json()
            assert [u["update_id"] for u in r["result"]] == ids
            calls = client.get(f"{emu.url}/_test/calls", params={"method": "getUpdates"}).json()
            assert calls[0]["method"] == "getUpdates" and calls[0]["params"] == {"timeout": 0}
            assert set(client.get(f"{emu.url}/_test/updates").json()) == {str(i) for i in ids}
