"""The emulator must be at least as strict as Meta's Cloud API, or the WhatsApp tests prove nothing."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from aiohttp import web

from tests.graphapi import inbound as ib
from tests.graphapi.server import (DEFAULT_APP_SECRET, DEFAULT_TOKEN, DEFAULT_VERIFY_TOKEN, STRICTER, GraphApiEmulator)
from tests.graphapi.validate import utf16_len, validate_message

USER = "972501234567"
OTHER = "972529876543"
ROOT = Path(__file__).resolve().parents[2]


@pytest_asyncio.fixture
async def emu():
    server = await GraphApiEmulator().start()
    try:
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture
async def http(emu):
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}, timeout=20) as client:
        yield client


async def post(http: httpx.AsyncClient, emu: GraphApiEmulator, payload, **kw) -> tuple[int, dict]:
    r = await http.post(kw.pop("url", None) or emu.messages_url(), json=payload, **kw)
    return r.status_code, r.json()


def text(to: str = USER, body: str = "שלום", **extra) -> dict:
    return {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}, **extra}


def buttons(*pairs: tuple[str, str], body: str = "לבחור:", **parts) -> dict:
    return {"messaging_product": "whatsapp", "to": USER, "type": "interactive", "interactive": {
        "type": "button", "body": {"text": body}, **parts,
        "action": {"buttons": [{"type": "reply", "reply": {"id": i, "title": t}} for i, t in pairs]}}}


def listing(sections: list[dict], *, button: str = "אפשרויות", body: str = "רשימה", **parts) -> dict:
    return {"messaging_product": "whatsapp", "to": USER, "type": "interactive", "interactive": {
        "type": "list", "body": {"text": body}, **parts, "action": {"button": button, "sections": sections}}}


def rows(n: int, prefix: str = "r") -> list[dict]:
    return [{"id": f"{prefix}{k}", "title": f"שורה {k}"} for k in range(n)]


class Receiver:
    """The bot's side of the webhook, on 127.0.0.1: records each request and answers ``statuses``."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: list[int] = []  # answers to give, in order; 200 once exhausted
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def start(self, port: int = 0) -> "Receiver":
        async def post_hook(request: web.Request) -> web.Response:
            raw = await request.read()
            self.requests.append({"raw": raw, "headers": dict(request.headers), "json": json.loads(raw)})
            return web.Response(status=self.statuses.pop(0) if self.statuses else 200, text="ok")

        async def get_hook(request: web.Request) -> web.Response:
            q = request.query
            if q.get("hub.mode") == "subscribe" and q.get("hub.verify_token") == DEFAULT_VERIFY_TOKEN:
                return web.Response(text=q.get("hub.challenge", ""))
            return web.Response(status=403, text="Forbidden")

        app = web.Application()
        app.router.add_post("/whatsapp", post_hook)
        app.router.add_get("/whatsapp", get_hook)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/whatsapp"

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()


@pytest_asyncio.fixture
async def hook(emu):
    receiver = await Receiver().start()
    emu.configure(webhook_url=receiver.url)
    try:
        yield receiver
    finally:
        await receiver.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- auth, path, version
async def test_wrong_or_missing_token_is_401_oauth_190(emu):
    async with httpx.AsyncClient(timeout=10) as client:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": DEFAULT_TOKEN}):
            r = await client.post(emu.messages_url(), json=text(), headers=headers)
            assert r.status_code == 401
            err = r.json()["error"]
            assert (err["code"], err["type"]) == (190, "OAuthException")
            assert err["message"].startswith("Invalid OAuth access token") and err["fbtrace_id"]
        r = await client.post(emu.messages_url(), json=text(), params={"access_token": DEFAULT_TOKEN})
        assert r.json()["error"]["code"] == 131047  # authorised: past auth, stopped by the window
    assert [c.authorized for c in emu.calls()] == [False, False, False, True]


async def test_unknown_phone_number_id_version_and_method_are_refused(emu, http):
    emu.open_window(USER)
    status, body = await post(http, emu, text(), url=f"{emu.url}/v26.0/999999/messages")
    assert status == 400 and body["error"]["code"] == 100 and body["error"]["error_subcode"] == 33
    assert body["error"]["type"] == "GraphMethodException" and "'999999' does not exist" in body["error"]["message"]
    for version in ("v26", "26.0", "vX.0", "v99.0", "v16.0"):
        status, body = await post(http, emu, text(), url=f"{emu.url}/{version}/{emu.phone_number_id}/messages")
        assert (status, body["error"]["code"]) == (400, 100), version
    for version in ("v17.0", "v23.0", "v26.0"):
        assert (await post(http, emu, text(), url=emu.messages_url(version)))[0] == 200
    r = await http.get(emu.messages_url())
    assert r.status_code == 400 and "Unsupported get request" in r.json()["error"]["message"]
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    r = await http.post(emu.messages_url(), content=b"to=1", headers=form)
    assert r.status_code == 400 and r.json()["error"]["code"] == 100
    r = await http.post(emu.messages_url(), content=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["error_data"]["details"]


async def test_accepted_send_answers_like_meta(emu, http):
    emu.open_window(USER)
    status, body = await post(http, emu, text("+972 50-123-4567"))
    assert status == 200
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": "+972 50-123-4567", "wa_id": USER}]
    wamid = body["messages"][0]["id"]
    assert ib.parse_wamid(wamid) == (USER, False)
    sent = emu.sent(USER)
    assert [c.wamid for c in sent] == [wamid] and sent[0].text == "שלום" and sent[0].type == "text"
    assert emu.known(wamid).direction == "out"


# ---------------------------------------------------------------- top-level rules
@pytest.mark.parametrize("payload, code, fragment", [
    ({"to": USER, "type": "text", "text": {"body": "x"}}, 100, "The parameter messaging_product is required."),
    (text(messaging_product="sms"), 100, "must be one of {WHATSAPP}"),
    ({"messaging_product": "whatsapp", "type": "text", "text": {"body": "x"}}, 100, "The parameter to is required."),
    (text(to="hello"), 100, "is not a phone number"),
    (text(to="12"), 100, "is not a phone number"),
    (text(to=972501234567), 100, "is not a phone number"),
    (text(recipient="IL.123"), 100, "Only one of"),
    (text(recipient_type="group"), 100, "groups are not emulated"),
    (text(foo=1), 100, "Unexpected key \"foo\""),
    ({**text(), "type": "sms"}, 100, "Param type must be one of"),
    ({**text(), "type": "image", "image": {"link": "https://x.il/a.jpg"}}, 100, "not emulated"),
    ({"messaging_product": "whatsapp", "to": USER, "type": "text"}, 100, "The parameter text is required."),
    ({**text(), "context": {"message_id": "wamid.nope"}}, 131009, "not a message in this conversation"),
    ({**text(), "context": {"id": "x"}}, 100, "Unexpected key"),
    ({**text(), "biz_opaque_callback_data": "x" * 513}, 131009, "length invalid"),
])
async def test_top_level_rules(emu, http, payload, code, fragment):
    emu.open_window(USER)
    status, body = await post(http, emu, payload)
    err = body["error"]
    assert (status, err["code"]) == (400, code), body
    assert fragment in err["message"] + err["error_data"]["details"]
    assert err["error_data"]["messaging_product"] == "whatsapp" and err["type"] == "OAuthException"
    assert err["message"].startswith(f"(#{code})")
    assert emu.refused(code)[-1].payload == payload


async def test_recipient_by_bsuid_and_self_send(emu, http):
    emu.open_window(USER)
    bsuid = emu.user(USER).bsuid
    assert bsuid.startswith("IL.") and len(bsuid) == 23
    payload = {k: v for k, v in text().items() if k != "to"} | {"recipient": bsuid}
    status, body = await post(http, emu, payload)
    assert status == 200 and body["contacts"] == [{"input": bsuid, "user_id": bsuid}]
    assert emu.sent(USER)[0].to == USER
    status, body = await post(http, emu, payload | {"recipient": "US.123"})
    assert body["error"]["code"] == 131026
    status, body = await post(http, emu, text(emu.display_phone_number))
    assert body["error"]["code"] == 131021


# ---------------------------------------------------------------- text
async def test_text_body_limits(emu, http):
    emu.open_window(USER)
    assert (await post(http, emu, text(body="א" * 4096)))[0] == 200
    status, body = await post(http, emu, text(body="א" * 4097))
    assert (status, body["error"]["code"]) == (400, 100)
    assert body["error"]["message"] == "(#100) Param text['body'] must be at most 4096 characters long."
    for empty in ("", None):
        status, body = await post(http, emu, text(body=empty))
        assert body["error"]["message"] == "(#100) The parameter text['body'] is required."
    assert (await post(http, emu, text(body=" \n ")))[1]["error"]["code"] == 100  # stricter: whitespace only
    assert (await post(http, emu, text(body=5)))[1]["error"]["code"] == 100
    assert (await post(http, emu, {**text(), "text": {"body": "x", "preview_url": "yes"}}))[1]["error"]["code"] == 100
    assert (await post(http, emu, {**text(), "text": {"body": "x", "preview_url": True}}))[0] == 200
    assert (await post(http, emu, {**text(), "text": {"body": "x", "bold": True}}))[1]["error"]["code"] == 100


async def test_characters_are_counted_in_utf16_units_unless_told_otherwise(emu, http):
    emu.open_window(USER)
    assert utf16_len("😀") == 2 and utf16_len("א") == 1
    assert (await post(http, emu, text(body="😀" * 2048)))[0] == 200
    assert (await post(http, emu, text(body="😀" * 2049)))[0] == 400
    assert (await post(http, emu, buttons(("a", "👍" * 10))))[0] == 200
    assert (await post(http, emu, buttons(("a", "👍" * 10 + "x"))))[0] == 400
    # code points: one emoji is one character
    assert validate_message(text(body="😀" * 4096), count="codepoints").type == "text"
    with pytest.raises(ValueError):
        validate_message(text(), count="bytes")
    assert any("UTF-16" in line for line in STRICTER)


# ---------------------------------------------------------------- reply buttons
def _ok_buttons(n: int) -> list[tuple[str, str]]:
    return [(f"b{k}", f"כפתור {k}") for k in range(n)]


@pytest.mark.parametrize("payload, fragment", [
    (buttons(*_ok_buttons(1)), None),
    (buttons(*_ok_buttons(3)), None),
    (buttons(), "Buttons count invalid"),
    (buttons(*_ok_buttons(4)), "Buttons count invalid"),
    (buttons(("a", "t" * 20)), None),
    (buttons(("a", "t" * 21)), "Button title length invalid. Min length: 1, Max length: 20"),
    (buttons(("a", "")), "Button title length invalid"),
    (buttons(("i" * 256, "t")), None),
    (buttons(("i" * 257, "t")), "Button id length invalid. Min length: 1, Max length: 256"),
    (buttons(("", "t")), "Button id length invalid"),
    (buttons((" a", "t")), "leading or trailing whitespace"),
    (buttons(("a", "t1"), ("a", "t2")), "Duplicate button id"),
    (buttons(("a", "t"), ("b", "t")), "Duplicate button title"),
    (buttons(("a", "t"), body="ב" * 1024), None),
    (buttons(("a", "t"), body="ב" * 1025), "Body text length invalid. Min length: 1, Max length: 1024"),
    (buttons(("a", "t"), header={"type": "text", "text": "h" * 60}, footer={"text": "f" * 60}), None),
    (buttons(("a", "t"), header={"type": "text", "text": "h" * 61}), "Header text length invalid"),
    (buttons(("a", "t"), footer={"text": "f" * 61}), "Footer text length invalid"),
])
async def test_reply_button_limits(emu, http, payload, fragment):
    emu.open_window(USER)
    status, body = await post(http, emu, payload)
    if fragment is None:
        assert status == 200, body
        assert emu.sent(USER)[-1].buttons() == [(b["reply"]["id"], b["reply"]["title"])
                                                  for b in payload["interactive"]["action"]["buttons"]]
    else:
        assert (status, body["error"]["code"]) == (400, 131009), body
        assert body["error"]["message"] == "(#131009) Parameter value is not valid"
        assert fragment in body["error"]["error_data"]["details"]


@pytest.mark.parametrize("mutate, fragment", [
    (lambda i: i.pop("body"), "The parameter interactive['body'] is required."),
    (lambda i: i["action"]["buttons"][0].update(type="url"), "must be \"reply\""),
    (lambda i: i["action"]["buttons"][0]["reply"].pop("title"), "['title'] is required"),
    (lambda i: i["action"].update(foo=1), "Unexpected key \"foo\""),
    (lambda i: i.update(header={"type": "image", "image": {"id": "1"}}), "not emulated"),
    (lambda i: i.update(type="carousel"), "not emulated"),
    (lambda i: i["action"].update(buttons={}), "must be an array"),
])
async def test_reply_button_structure(emu, http, mutate, fragment):
    emu.open_window(USER)
    payload = buttons(("a", "t"))
    mutate(payload["interactive"])
    status, body = await post(http, emu, payload)
    assert (status, body["error"]["code"]) == (400, 100), body
    assert fragment in body["error"]["message"] + body["error"]["error_data"]["details"]


# ---------------------------------------------------------------- list messages
@pytest.mark.parametrize("payload, fragment", [
    (listing([{"title": "ס", "rows": rows(10)}]), None),
    (listing([{"rows": rows(1)}]), None),  # one section: its title is optional
    (listing([{"title": "ס", "rows": rows(11)}]), "Total row count exceed max allowed count: 10"),
    (listing([{"title": "א", "rows": rows(6, "a")}, {"title": "ב", "rows": rows(5, "b")}]), "Total row count exceed"),
    (listing([{"title": f"ס{k}", "rows": rows(1, f"s{k}-")} for k in range(10)]), None),
    (listing([{"title": f"ס{k}", "rows": rows(1, f"s{k}-")} for k in range(11)]), "Sections count invalid"),
    (listing([]), "Sections count invalid"),
    (listing([{"title": "ס", "rows": []}]), "Rows count invalid"),
    (listing([{"rows": rows(1, "a")}, {"title": "ב", "rows": rows(1, "b")}]), "Section title is required"),
    (listing([{"title": "ס" * 24, "rows": rows(1)}]), None),
    (listing([{"title": "ס" * 25, "rows": rows(1)}]), "Section title length invalid. Min length: 1, Max length: 24"),
    (listing([{"title": "ס", "rows": rows(1)}], button="כ" * 20), None),
    (listing([{"title": "ס", "rows": rows(1)}], button="כ" * 21), "Button text length invalid"),
    (listing([{"title": "ס", "rows": rows(1)}], button=""), "Button text length invalid"),
    (listing([{"title": "ס", "rows": [{"id": "a", "title": "t" * 24}]}]), None),
    (listing([{"title": "ס", "rows": [{"id": "a", "title": "t" * 25}]}]), "Row title length invalid"),
    (listing([{"title": "ס", "rows": [{"id": "a", "title": "t", "description": "d" * 72}]}]), None),
    (listing([{"title": "ס", "rows": [{"id": "a", "title": "t", "description": "d" * 73}]}]), "Row description"),
    (listing([{"title": "ס", "rows": [{"id": "i" * 200, "title": "t"}]}]), None),
    (listing([{"title": "ס", "rows": [{"id": "i" * 201, "title": "t"}]}]), "Row id length invalid"),
    (listing([{"title": "א", "rows": rows(1)}, {"title": "ב", "rows": rows(1)}]), "Duplicate row id: r0"),
    (listing([{"title": "ס", "rows": rows(1)}], body="ג" * 1024), None),
    (listing([{"title": "ס", "rows": rows(1)}], body="ג" * 1025), "Body text length invalid"),
    (listing([{"title": "ס", "rows": rows(1)}], header={"type": "text", "text": "h" * 60}, footer={"text": "f" * 60}),
     None),
    (listing([{"title": "ס", "rows": rows(1)}], header={"type": "text", "text": "h" * 61}), "Header text length"),
    (listing([{"title": "ס", "rows": rows(1)}], footer={"text": "f" * 61}), "Footer text length"),
])
async def test_list_message_limits(emu, http, payload, fragment):
    emu.open_window(USER)
    status, body = await post(http, emu, payload)
    if fragment is None:
        assert status == 200, body
        sent = emu.sent(USER)[-1]
        assert sent.interactive_type == "list" and len(sent.rows()) >= 1
    else:
        assert (status, body["error"]["code"]) == (400, 131009), body
        assert fragment in body["error"]["error_data"]["details"]


async def test_list_structure_and_the_list_body_option(http):
    emu = await GraphApiEmulator(list_body_max=4096).start()
    try:
        emu.open_window(USER)
        payload = listing([{"title": "ס", "rows": rows(1)}], body="ג" * 4096)
        assert (await post(http, emu, payload))[0] == 200
        bad = listing([{"title": "ס", "rows": [{"id": "a", "title": "t", "extra": 1}]}])
        assert (await post(http, emu, bad))[1]["error"]["code"] == 100
        bad = listing([{"title": "ס", "rows": rows(1)}])
        bad["interactive"]["action"].pop("button")
        assert (await post(http, emu, bad))[1]["error"]["message"] == (
            "(#100) The parameter interactive['action']['button'] is required.")
    finally:
        await emu.stop()


# ---------------------------------------------------------------- reactions, context, read receipts
async def test_reactions_context_and_read_receipts(emu, http):
    env = emu.text(USER, "שאלה")
    emu.register_inbound(env)  # as if delivered (no webhook needed here)
    incoming = ib.wamids_of(env)[0]
    assert ib.parse_wamid(incoming) == (USER, True)
    react = {"messaging_product": "whatsapp", "to": USER, "type": "reaction",
             "reaction": {"message_id": incoming, "emoji": "👍"}}
    assert (await post(http, emu, react))[0] == 200
    assert (await post(http, emu, react | {"reaction": {"message_id": incoming, "emoji": ""}}))[0] == 200  # removal
    status, body = await post(http, emu, react | {"reaction": {"message_id": incoming, "emoji": "ok"}})
    assert body["error"]["code"] == 131009
    status, body = await post(http, emu, react | {"reaction": {"message_id": "wamid.X", "emoji": "👍"}})
    assert body["error"]["code"] == 131009
    status, body = await post(http, emu, react | {"to": OTHER})  # a message of another conversation
    assert body["error"]["code"] == 131009  # checked before the (closed) window
    assert (await post(http, emu, text(context={"message_id": incoming})))[0] == 200

    read = {"messaging_product": "whatsapp", "status": "read", "message_id": incoming}
    status, body = await post(http, emu, read)
    assert (status, body) == (200, {"success": True})
    status, body = await post(http, emu, read | {"typing_indicator": {"type": "text"}})
    assert (status, body) == (200, {"success": True})
    assert (await post(http, emu, read | {"typing_indicator": {"type": "audio"}}))[1]["error"]["code"] == 100
    assert (await post(http, emu, read | {"status": "delivered"}))[1]["error"]["code"] == 100
    assert (await post(http, emu, read | {"message_id": "wamid.unknown"}))[1]["error"]["code"] == 100
    outgoing = emu.sent(USER)[0].wamid
    assert (await post(http, emu, read | {"message_id": outgoing}))[1]["error"]["code"] == 100
    assert (await post(http, emu, {k: v for k, v in read.items() if k != "messaging_product"}))[0] == 400
    emu.set_last_inbound(USER, None)  # a read receipt does not need the window
    assert (await post(http, emu, read))[0] == 200
    assert len(emu.reads()) == 3 and all(c.kind == "read" for c in emu.reads())


# ---------------------------------------------------------------- the 24-hour window
async def test_customer_service_window(emu, http):
    status, body = await post(http, emu, text())
    assert (status, body["error"]["code"]) == (400, 131047)
    assert body["error"]["message"] == "(#131047) Re-engagement message"
    assert "24 hours" in body["error"]["error_data"]["details"]
    emu.set_last_inbound(USER, seconds_ago=86400 - 5)
    assert (await post(http, emu, text()))[0] == 200
    emu.advance(10)  # 24 h + 5 s since the user wrote
    assert (await post(http, emu, text()))[1]["error"]["code"] == 131047
    emu.set_last_inbound(USER, seconds_ago=86401)
    assert (await post(http, emu, text()))[1]["error"]["code"] == 131047
    emu.register_inbound(emu.text(USER, "שוב אני"))  # the user writes: the window opens again
    assert emu.window_open(USER)
    assert (await post(http, emu, text()))[0] == 200
    assert (await post(http, emu, buttons(("a", "t")) | {"to": OTHER}))[1]["error"]["code"] == 131047
    assert [c.code for c in emu.refused()] == [131047, 131047, 131047, 131047]


async def test_window_error_can_come_as_a_failed_status_webhook(http):
    receiver = await Receiver().start()
    emu = await GraphApiEmulator(window_error="status", webhook_url=receiver.url).start()
    try:
        status, body = await post(http, emu, text())
        assert status == 200  # accepted now...
        wamid = body["messages"][0]["id"]
        d = await emu.wait_for_delivery(lambda d: wamid in d.wamids)
        status_update = receiver.requests[0]["json"]["entry"][0]["changes"][0]["value"]
        assert d.status == 200 and "contacts" not in status_update
        s = status_update["statuses"][0]
        assert (s["id"], s["status"], s["errors"][0]["code"]) == (wamid, "failed", 131047)  # ...failed later
    finally:
        await emu.stop()
        await receiver.stop()


# ---------------------------------------------------------------- rate limits
async def test_throughput_limit_is_130429(http):
    emu = await GraphApiEmulator(mps=5).start()
    try:
        users = [f"97250000000{k}" for k in range(7)]
        for u in users:
            emu.open_window(u)
        results = [await post(http, emu, text(u)) for u in users[:6]]
        assert [s for s, _ in results] == [200] * 5 + [400]
        err = results[-1][1]["error"]
        assert err["code"] == 130429 and err["message"] == "(#130429) Rate limit hit"
        emu.advance(1.0)
        assert (await post(http, emu, text(users[6])))[0] == 200
    finally:
        await emu.stop()


async def test_pair_rate_limit_is_131056_per_recipient(http):
    emu = await GraphApiEmulator(pair_burst=3, pair_interval=6.0).start()
    try:
        emu.open_window(USER)
        emu.open_window(OTHER)
        assert [(await post(http, emu, text()))[0] for _ in range(4)] == [200, 200, 200, 400]
        err = emu.refused()[-1]
        assert err.code == 131056 and "pair rate limit hit" in err.response["error"]["message"]
        assert (await post(http, emu, text(OTHER)))[0] == 200  # another user is not limited
        emu.advance(5.9)
        assert (await post(http, emu, text()))[1]["error"]["code"] == 131056
        emu.advance(0.2)  # 6 s: one more message
        assert [(await post(http, emu, text()))[0] for _ in range(2)] == [200, 400]
        emu.configure(pair_burst=None)
        assert [(await post(http, emu, text()))[0] for _ in range(10)] == [200] * 10
    finally:
        await emu.stop()


async def test_default_limits_let_a_conversation_through(emu, http):
    emu.open_window(USER)
    assert (emu.mps, emu.pair_burst, emu.pair_interval) == (80, 45, 6.0)
    assert [(await post(http, emu, text(body=f"{k}")))[0] for k in range(45)] == [200] * 45
    assert (await post(http, emu, text()))[1]["error"]["code"] == 131056


@pytest.mark.parametrize("code, status", [(131056, 400), (130429, 400), (131000, 500), (131026, 400), (131016, 503)])
async def test_fail_next_sends(emu, http, code, status):
    emu.open_window(USER)
    emu.fail_next(2, code)
    for _ in range(2):
        s, body = await post(http, emu, text())
        assert (s, body["error"]["code"]) == (status, code)
        assert body["error"]["message"].startswith(f"(#{code}) ")
    assert (await post(http, emu, text()))[0] == 200
    assert [c.code for c in emu.refused()] == [code, code]


async def test_fail_next_for_one_recipient_only(emu, http):
    emu.open_window(USER)
    emu.open_window(OTHER)
    emu.fail_next(1, 131056, to=OTHER)
    assert (await post(http, emu, text()))[0] == 200
    assert (await post(http, emu, text(OTHER)))[1]["error"]["code"] == 131056
    assert (await post(http, emu, text(OTHER)))[0] == 200


# ---------------------------------------------------------------- records
async def test_records_wait_for_and_reset(emu, http):
    emu.open_window(USER)

    async def later():
        await asyncio.sleep(0.2)
        return await post(http, emu, buttons(("yes", "כן"), ("no", "לא"), body="לאשר?"))

    task = asyncio.create_task(later())
    call = await emu.wait_for(lambda c: c.ok and c.interactive_type == "button", timeout=5)
    await task
    assert call.text == "לאשר?" and call.buttons() == [("yes", "כן"), ("no", "לא")] and call.to == USER
    assert call.time <= call.done and call.to_json()["wamid"] == call.wamid
    await post(http, emu, listing([{"title": "ס", "rows": [{"id": "a", "title": "t", "description": "d"}]}]))
    assert emu.sent(type="interactive")[-1].rows() == [("a", "t", "d")]
    await post(http, emu, text(OTHER))
    assert [c.code for c in emu.refused()] == [131047] and emu.sent(OTHER) == []
    assert [c.seq for c in emu.calls()] == [0, 1, 2]
    with pytest.raises(TimeoutError):
        await emu.wait_for(lambda c: c.type == "reaction", timeout=0.3)
    emu.reset()
    assert emu.calls() == [] and emu.window_open(USER)
    emu.reset(full=True)
    assert not emu.window_open(USER)


# ---------------------------------------------------------------- webhooks
async def test_webhook_envelope_and_signature(emu, hook):
    env = emu.text(USER, "מה שעות הפתיחה? https://x.il/a", name="דנה כהן")
    d = await emu.deliver(env)
    assert d.status == 200 and d.attempt == 1
    req = hook.requests[0]
    raw, headers = req["raw"], req["headers"]
    expected = "sha256=" + hmac.new(DEFAULT_APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == expected
    assert headers["X-Hub-Signature"].startswith("sha1=") and headers["Content-Type"] == "application/json"
    from pywa_async import utils
    assert utils.webhook_updates_validator(DEFAULT_APP_SECRET, raw, headers["X-Hub-Signature-256"])
    # Meta's encoding: ASCII only, '/' escaped; re-serialising the JSON breaks the signature
    assert raw.isascii() and b"\\u05de" in raw and b"https:\\/\\/x.il" in raw
    assert not utils.webhook_updates_validator(DEFAULT_APP_SECRET, json.dumps(req["json"]).encode(),
                                               headers["X-Hub-Signature-256"])
    body = req["json"]
    assert body["object"] == "whatsapp_business_account"
    entry = body["entry"][0]
    assert entry["id"] == emu.business.waba_id and entry["changes"][0]["field"] == "messages"
    value = entry["changes"][0]["value"]
    assert value["messaging_product"] == "whatsapp"
    assert value["metadata"] == {"display_phone_number": emu.display_phone_number,
                                 "phone_number_id": emu.phone_number_id}
    assert value["contacts"] == [{"profile": {"name": "דנה כהן"}, "wa_id": USER, "user_id": emu.user(USER).bsuid}]
    msg = value["messages"][0]
    assert (msg["from"], msg["type"], msg["text"]) == (USER, "text", {"body": "מה שעות הפתיחה? https://x.il/a"})
    assert msg["timestamp"].isdigit() and ib.parse_wamid(msg["id"]) == (USER, True)
    assert d.wamids == [msg["id"]] and emu.window_open(USER)


async def test_unsigned_wrongly_signed_and_duplicate_deliveries(emu, hook):
    await emu.deliver(emu.text(USER, "a"), sign="none")
    await emu.deliver(emu.text(USER, "b"), sign="wrong")
    assert "X-Hub-Signature-256" not in hook.requests[0]["headers"]
    wrong = hook.requests[1]
    assert wrong["headers"]["X-Hub-Signature-256"] != ib.sign(wrong["raw"], DEFAULT_APP_SECRET)
    env = emu.text(USER, "פעמיים")
    d = await emu.deliver(env, times=2)
    again = await emu.redeliver(d)
    assert hook.requests[2]["raw"] == hook.requests[3]["raw"] == hook.requests[4]["raw"]
    assert d.wamids == again.wamids == ib.wamids_of(env)
    assert [x.signature is None for x in emu.deliveries()] == [True, False, False, False, False]
    with pytest.raises(ValueError):
        await emu.deliver(env, sign="maybe")


async def test_delivery_retries_5xx_and_drops_4xx(emu, hook):
    hook.statuses = [500, 503, 200]
    d = await emu.deliver(emu.text(USER, "retry"))
    assert (d.status, d.attempt) == (200, 3) and len(hook.requests) == 3
    hook.statuses = [403]
    d = await emu.deliver(emu.text(USER, "dropped"))
    assert (d.status, d.attempt) == (403, 1) and len(hook.requests) == 4
    assert [x.status for x in emu.deliveries()] == [500, 503, 200, 403]


async def test_delivery_retries_until_the_bot_listens(emu):
    port = free_port()
    url = f"http://127.0.0.1:{port}/whatsapp"
    wamid = emu.push(emu.text(USER, "מוקדם"), url=url)[0]
    await emu.wait_for_delivery(lambda d: wamid in d.wamids and d.status is None)
    receiver = await Receiver().start(port)
    try:
        d = await emu.wait_for_delivery(lambda d: wamid in d.wamids and d.status == 200)
        first = receiver.requests[0]["json"]["entry"][0]["changes"][0]["value"]["messages"][0]
        assert d.attempt > 1 and first["id"] == wamid
    finally:
        await receiver.stop()


async def test_webhooks_go_to_loopback_only(emu):
    with pytest.raises(ValueError):
        GraphApiEmulator(webhook_url="https://example.com/whatsapp")
    with pytest.raises(ValueError):
        emu.configure(webhook_url="http://10.0.0.1/whatsapp")
    with pytest.raises(ValueError):
        await emu.deliver(emu.text(USER, "x"), url="http://192.168.1.1/x")
    with pytest.raises(RuntimeError):
        await emu.deliver(emu.text(USER, "x"))  # no webhook_url


async def test_verification_handshake(emu, hook):
    ok = await emu.verify(hook.url, DEFAULT_VERIFY_TOKEN)
    assert ok.ok and ok.status == 200 and ok.body == ok.challenge and ok.challenge.isdigit()
    bad = await emu.verify(hook.url, "wrong-token")
    assert (bad.status, bad.ok) == (403, False)
    down = await emu.verify(f"http://127.0.0.1:{free_port()}/whatsapp")
    assert down.status is None and not down.ok


async def test_status_callbacks(emu, http, hook):
    emu.open_window(USER)
    _, body = await post(http, emu, text(biz_opaque_callback_data="q-17"))
    wamid = body["messages"][0]["id"]
    for state in ("sent", "delivered", "read"):
        await emu.deliver(emu.status(wamid, state))
    await emu.deliver(emu.status(emu.sent(USER)[0], "failed", error_code=131026))
    values = [r["json"]["entry"][0]["changes"][0]["value"] for r in hook.requests]
    statuses = [v["statuses"][0] for v in values]
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read", "failed"]
    assert all(s["id"] == wamid and s["recipient_id"] == USER for s in statuses)
    assert all(s["biz_opaque_callback_data"] == "q-17" for s in statuses)
    assert "expiration_timestamp" in statuses[0]["conversation"] and statuses[0]["pricing"]["category"] == "service"
    assert "conversation" not in statuses[2] and "contacts" in values[2]
    assert "contacts" not in values[3] and statuses[3]["errors"][0]["code"] == 131026
    assert statuses[3]["errors"][0]["title"] == "Message Undeliverable"
    with pytest.raises(ValueError):
        emu.status(wamid, "seen")
    with pytest.raises(ValueError):
        emu.status(ib.wamids_of(emu.text(USER, "x"))[0])  # not a message the bot sent


async def test_auto_status_follows_each_send(emu, http, hook):
    emu.configure(auto_status=("sent", "delivered", "read"))
    emu.open_window(USER)
    _, body = await post(http, emu, text())
    wamid = body["messages"][0]["id"]
    await emu.wait_for_delivery(lambda d: wamid in d.wamids and '"status":"read"' in d.body)
    states = [r["json"]["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] for r in hook.requests]
    assert states == ["sent", "delivered", "read"]


async def test_interactive_replies_must_match_what_the_bot_sent(emu, http):
    emu.open_window(USER)
    _, b = await post(http, emu, buttons(("yes", "כן"), ("no", "לא")))
    one_row = [{"title": "ס", "rows": [{"id": "r1", "title": "אחת", "description": "ד"}]}]
    _, lst = await post(http, emu, listing(one_row))
    bw, lw = b["messages"][0]["id"], lst["messages"][0]["id"]
    reply = emu.button_reply(USER, bw, "yes")
    m = reply["entry"][0]["changes"][0]["value"]["messages"][0]
    assert m["context"] == {"from": emu.display_phone_number, "id": bw}
    assert m["interactive"] == {"type": "button_reply", "button_reply": {"id": "yes", "title": "כן"}}
    m = emu.list_reply(USER, emu.sent(USER)[1], "r1")["entry"][0]["changes"][0]["value"]["messages"][0]
    assert m["interactive"] == {"type": "list_reply", "list_reply": {"id": "r1", "title": "אחת", "description": "ד"}}
    for bad in (lambda: emu.button_reply(USER, bw, "maybe"), lambda: emu.list_reply(USER, bw, "r1"),
                lambda: emu.button_reply(OTHER, bw, "yes"), lambda: emu.list_reply(USER, lw, "r9"),
                lambda: emu.button_reply(USER, "wamid.nope", "yes")):
        with pytest.raises(ValueError):
            bad()


def _raw_update(env: dict) -> bytes:
    return ib.encode(env)


async def test_every_inbound_builder_parses_with_pywa(emu, http):
    """The builders' JSON is what pywa's own types expect (the adapter will parse it with them)."""
    from pywa_async import WhatsApp, handlers, types

    wa = WhatsApp(phone_id=emu.phone_number_id, token=DEFAULT_TOKEN, app_secret=DEFAULT_APP_SECRET,
                  verify_token=DEFAULT_VERIFY_TOKEN, session=httpx.AsyncClient())
    got: list = []

    async def collect(_, update):
        got.append(update)

    for h in (handlers.MessageHandler, handlers.CallbackButtonHandler, handlers.CallbackSelectionHandler,
              handlers.MessageStatusHandler, handlers.EditedMessageHandler):
        wa.add_handlers(h(collect))
    emu.open_window(USER)
    _, b = await post(http, emu, buttons(("yes", "כן")))
    _, lst = await post(http, emu, listing([{"title": "ס", "rows": [{"id": "r1", "title": "אחת"}]}]))
    bw, lw = b["messages"][0]["id"], lst["messages"][0]["id"]
    first = emu.text(USER, "שלום")
    emu.register_inbound(first)
    fw = ib.wamids_of(first)[0]
    cases = [
        (first, types.Message, lambda u: u.text == "שלום" and u.from_user.wa_id == USER),
        (emu.button_reply(USER, bw, "yes"), types.CallbackButton, lambda u: u.data == "yes" and u.title == "כן"),
        (emu.list_reply(USER, lw, "r1"), types.CallbackSelection, lambda u: u.data == "r1"),
        (emu.image(USER, caption="תמונה"), types.Message, lambda u: u.image is not None and u.caption == "תמונה"),
        (emu.audio(USER), types.Message, lambda u: u.audio is not None and u.audio.voice),
        (emu.video(USER), types.Message, lambda u: u.video is not None),
        (emu.document(USER), types.Message, lambda u: u.document.filename == "מסמך.pdf"),
        (emu.sticker(USER), types.Message, lambda u: u.sticker is not None),
        (emu.location(USER, place="העירייה"), types.Message, lambda u: u.location.name == "העירייה"),
        (emu.contacts(USER), types.Message, lambda u: u.contacts[0].name.formatted_name == "ישראל ישראלי"),
        (emu.reaction(USER, fw, "❤️"), types.Message, lambda u: u.reaction.emoji == "❤️"),
        (emu.unsupported(USER), types.Message, lambda u: u.type == "unsupported" and u.error.code == 131051),
        (emu.edited(USER, fw, "שלום רב"), types.EditedMessage, lambda u: u.message.text == "שלום רב"),
        (emu.status(bw, "delivered"), types.MessageStatus, lambda u: u.status == "delivered" and u.id == bw),
        (emu.status(bw, "failed", error_code=131047, contacts=True), types.MessageStatus,
         lambda u: u.error.code == 131047),
    ]
    for env, cls, check in cases:
        got.clear()
        raw = _raw_update(env)
        assert await wa.webhook_update_validator(raw, ib.sign(raw, DEFAULT_APP_SECRET)) is None
        assert await wa.webhook_update_handler(raw) == ("ok", 200)
        assert len(got) == 1 and type(got[0]).__name__ == cls.__name__, (cls, got)
        assert check(got[0]), got[0]
    raw = _raw_update(emu.text(USER, "x"))
    assert await wa.webhook_update_validator(raw, ib.sign(raw, "another-secret")) == ("Forbidden", 403)
    assert await wa.webhook_update_validator(raw, None) == ("Unauthorized", 401)


# ---------------------------------------------------------------- pywa against the emulator
async def test_pywa_client_sends_are_accepted(emu):
    """pywa_async pointed at the emulator: text, buttons, a list, a reaction, read and typing."""
    from pywa_async import WhatsApp, errors
    from pywa_async.types import Button, Section, SectionList, SectionRow

    session = httpx.AsyncClient(timeout=10)
    wa = WhatsApp(phone_id=emu.phone_number_id, token=DEFAULT_TOKEN, session=session)
    session.base_url = f"{emu.url}/v26.0"  # WhatsApp() sets https://graph.facebook.com/v{api_version}
    try:
        first = emu.text(USER, "שאלה")
        emu.register_inbound(first)
        incoming = ib.wamids_of(first)[0]
        m = await wa.send_message(USER, "תשובה עם קישור https://www.gov.il", preview_url=True)
        b = await wa.send_message(USER, "לאשר?", header="כותרת", footer="רשות",
                                  buttons=[Button("כן", "v:1:yes"), Button("לא", "v:1:no")])
        lst = await wa.send_message(USER, "נושאים", buttons=SectionList("לבחירה", [
            Section("תקציב", [SectionRow("החלטה 546", "t:546", "מ-2023"), SectionRow("אחר", "t:other")]),
            Section("ביקורים", [SectionRow("הנחיות", "t:visit")])]))
        r = await wa.send_reaction(USER, "👍", incoming)
        assert (await wa.mark_message_as_read(incoming)).success
        assert (await wa.indicate_typing(incoming)).success
        assert [c.type for c in emu.sent(USER)] == ["text", "interactive", "interactive", "reaction"]
        assert [c.wamid for c in emu.sent(USER)] == [m.id, b.id, lst.id, r.id]
        assert emu.sent(USER)[0].payload["text"] == {"body": "תשובה עם קישור https://www.gov.il", "preview_url": True}
        assert emu.sent(USER)[1].buttons() == [("v:1:yes", "כן"), ("v:1:no", "לא")]
        assert [row[0] for row in emu.sent(USER)[2].rows()] == ["t:546", "t:other", "t:visit"]
        assert len(emu.reads()) == 2 and emu.refused() == []
        assert m.chat.id == USER and m.from_phone_id == emu.phone_number_id

        with pytest.raises(errors.InvalidParameter) as err:  # pywa checks no lengths itself
            await wa.send_message(USER, "x", buttons=[Button("כפתור ארוך מעשרים תווים", "x")])
        assert err.value.code == 131009 and err.value.status_code == 400
        with pytest.raises(errors.ReEngagementMessage):
            await wa.send_message(OTHER, "x")
        emu.fail_next(1, 131056)
        with pytest.raises(errors.TooManyMessages):
            await wa.send_message(USER, "x")
        emu.fail_next(1, 130429)
        with pytest.raises(errors.RateLimitHit):
            await wa.send_message(USER, "x")
        bad = WhatsApp(phone_id=emu.phone_number_id, token="wrong", session=httpx.AsyncClient(timeout=10))
        bad.api._session.base_url = f"{emu.url}/v26.0"
        with pytest.raises(errors.ExpiredAccessToken) as err:
            await bad.send_message(USER, "x")
        assert err.value.status_code == 401
    finally:
        await session.aclose()


# ---------------------------------------------------------------- thread, control API, process
def test_runs_in_a_thread_and_is_controlled_over_http():
    with GraphApiEmulator().running() as emu, httpx.Client(timeout=10) as client:
        auth = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
        assert client.post(emu.messages_url(), json=text(), headers=auth).status_code == 400
        assert client.post(f"{emu.url}/_test/window", json={"wa_id": USER, "seconds_ago": 10}).json()["open"]
        r = client.post(emu.messages_url(), json=text(), headers=auth)
        assert r.status_code == 200
        assert client.post(f"{emu.url}/_test/fail", json={"count": 1, "code": 131000}).json() == {"ok": True}
        assert client.post(emu.messages_url(), json=text(), headers=auth).status_code == 500
        sent = client.get(f"{emu.url}/_test/sent", params={"to": USER}).json()
        assert [c["wamid"] for c in sent] == [r.json()["messages"][0]["id"]]
        assert [c["code"] for c in client.get(f"{emu.url}/_test/refused").json()] == [131047, 131000]
        assert client.get(f"{emu.url}/_test/count").json() == {"sent": 1, "refused": 2, "calls": 3}
        assert client.post(f"{emu.url}/_test/configure", json={"mps": 1}).json() == {"ok": True}
        assert client.get(f"{emu.url}/_test/info").json()["mps"] == 1
        assert client.post(f"{emu.url}/_test/configure", json={"token": "x"}).status_code == 400
        client.post(f"{emu.url}/_test/advance", json={"seconds": 2})
        assert client.post(emu.messages_url(), json=text(), headers=auth).status_code == 200
        assert client.post(emu.messages_url(), json=text(), headers=auth).json()["error"]["code"] == 130429
        assert client.post(f"{emu.url}/_test/reset").json() == {"ok": True}
        assert client.get(f"{emu.url}/_test/calls").json() == []
        assert client.post(f"{emu.url}/_test/push", json={"build": "nope"}).status_code == 400
        assert client.get(f"{emu.url}/_test/whatever").status_code == 404


async def test_control_api_pushes_paced_webhooks(emu, hook):
    async with httpx.AsyncClient(timeout=10) as client:
        items = [{"build": "text", "args": {"wa_id": USER, "body": f"שאלה {k}"}} for k in range(5)]
        r = await client.post(f"{emu.url}/_test/push", json={"items": items, "rate": 50})
        wamids = r.json()["wamids"]
        assert len(wamids) == 5 and all(ib.parse_wamid(w) == (USER, True) for w in wamids)
        await emu.wait_for_delivery(lambda d: wamids[-1] in d.wamids)
        r = await client.post(f"{emu.url}/_test/push", json={"envelope": emu.text(OTHER, "ישיר")})
        await emu.wait_for_delivery(lambda d: r.json()["wamids"][0] in d.wamids)
        deliveries = (await client.get(f"{emu.url}/_test/deliveries")).json()
        assert [d["status"] for d in deliveries] == [200] * 6
        verify = (await client.post(f"{emu.url}/_test/verify", json={"url": hook.url})).json()
        assert verify["ok"] and verify["status"] == 200
    bodies = [r["json"]["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] for r in hook.requests]
    assert sorted(bodies[:5]) == [f"שאלה {k}" for k in range(5)] and emu.window_open(USER) and emu.window_open(OTHER)


def test_runs_as_its_own_process():
    proc = subprocess.Popen([sys.executable, "-m", "tests.graphapi.server", "--mps", "10"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        with httpx.Client(timeout=10) as client:
            assert client.get(f"{info['url']}/_test/info").json()["mps"] == 10
            client.post(f"{info['url']}/_test/window", json={"wa_id": USER})
            r = client.post(f"{info['url']}/v26.0/{info['phone_number_id']}/messages", json=text(),
                            headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"})
            assert r.status_code == 200
            assert client.get(f"{info['url']}/_test/count").json()["sent"] == 1
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
