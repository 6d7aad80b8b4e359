"""The WhatsApp channel: its webhook's checks (on the real shared server), what it stores, and how
each kind of message is answered."""
from __future__ import annotations

import json
import socket
from typing import Any, AsyncIterator

import aiohttp
import pytest

from bot import texts
from handlers.webserver import WebServers
from handlers.whatsapp.channel import split_notification
from tests.graphapi.inbound import make_wamid, sign
from tests.handlers.whatsapp.wa_harness import APP_SECRET, CURATOR, PHONE_ID, ROOT, TOKEN, USER, VERIFY, Harness, notification, text_message


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def served(wa: Harness) -> AsyncIterator[tuple[Harness, str]]:
    port = free_port()
    servers = WebServers()
    wa.channel.settings = wa.channel.settings.__class__(**{**_fields(wa.channel.settings), "whatsapp_webhook_port": port})
    await wa.channel.start(servers)
    await servers.start()
    try:
        yield wa, f"http://127.0.0.1:{port}/whatsapp"
    finally:
        await servers.stop()


def _fields(settings: Any) -> dict[str, Any]:
    return {f: getattr(settings, f) for f in settings.__dataclass_fields__}


async def post(url: str, body: bytes, signature: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    async with aiohttp.ClientSession() as s, s.post(url, data=body, headers=headers) as r:
        return r.status


async def pending(wa: Harness) -> int:
    assert wa.runtime.store is not None
    return await wa.runtime.store.inbox_pending()


async def test_signature_is_checked_before_anything_is_parsed_or_stored(served: tuple[Harness, str]) -> None:
    wa, url = served
    body = json.dumps(text_message(USER, "מה התקציב של החלטה 1234")).encode()
    assert await post(url, body, None) == 401
    assert await post(url, body, sign(body, APP_SECRET + "x")) == 403
    assert await post(url, body, "sha256=" + "0" * 64) == 403
    assert await pending(wa) == 0 and wa.recorder.sent == []
    assert await post(url, body, sign(body, APP_SECRET)) == 200
    assert await pending(wa) == 1
    assert await post(url, body, sign(body, APP_SECRET)) == 200  # Meta's redelivery: acknowledged, not stored again
    assert await pending(wa) == 1
    await wa.runtime.inbox.drain()
    (sent,) = wa.recorder.sent
    assert sent.url == f"{ROOT}/v23.0/{PHONE_ID}/messages" and sent.auth == f"Bearer {TOKEN}"
    assert sent.payload["to"] == USER and "300 מיליון" in sent.text


async def test_malformed_bodies_are_400_and_statuses_are_not_stored(served: tuple[Harness, str]) -> None:
    wa, url = served
    for body in (b"", b"{", b"\xff", b"[]", b'{"entry": "x"}', b"[" * 3000 + b"]" * 3000,
                 b'{"entry": [' + b"9" * 5000 + b"]}"):
        assert await post(url, body, sign(body, APP_SECRET)) == 400, body[:12]
    statuses = notification([], [], statuses=[{"id": "wamid.x", "status": s, "recipient_id": USER,
                                               "timestamp": "1"} for s in ("sent", "delivered", "read", "failed")])
    body = json.dumps(statuses).encode()
    assert await post(url, body, sign(body, APP_SECRET)) == 200
    assert await pending(wa) == 0


async def test_not_stored_means_not_acknowledged(served: tuple[Harness, str], monkeypatch: pytest.MonkeyPatch) -> None:
    wa, url = served

    async def broken(*args: Any, **kw: Any) -> bool:
        raise OSError("disk full")

    monkeypatch.setattr(wa.runtime.inbox, "put", broken)
    body = json.dumps(text_message(USER, "שאלה")).encode()
    assert await post(url, body, sign(body, APP_SECRET)) == 503  # Meta sends it again later


async def test_verification_handshake(served: tuple[Harness, str]) -> None:
    _wa, url = served
    async with aiohttp.ClientSession() as s:
        params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
        async with s.get(url, params=params) as r:
            assert (r.status, await r.text()) == (200, "1158201444")
        async with s.get(url, params={**params, "hub.verify_token": "wrong"}) as r:
            assert r.status == 403 and "1158201444" not in await r.text()


def test_a_batched_notification_is_split_per_message() -> None:
    a, b = make_wamid(USER, inbound=True), make_wamid(CURATOR, inbound=True)
    note = notification([{"from": USER, "id": a, "type": "text", "text": {"body": "1"}},
                         {"from": CURATOR, "id": b, "type": "text", "text": {"body": "2"}}], [USER, CURATOR])
    messages, statuses = split_notification(note)
    assert [m["entry"][0]["changes"][0]["value"]["messages"][0]["id"] for m in messages] == [a, b]
    assert [m["entry"][0]["changes"][0]["value"]["contacts"][0]["wa_id"] for m in messages] == [USER, CURATOR]
    assert statuses == []


async def test_kinds_of_message(wa: Harness) -> None:
    (answer,) = await wa.text("מה התקציב של החלטה 1234")
    assert answer.text.startswith("*התקציב של החלטה 1234*")
    (empty,) = await wa.text("   ")
    assert empty.text == texts.EMPTY_QUESTION
    for kind, content in (("image", {"id": "1", "mime_type": "image/jpeg"}), ("sticker", {"id": "2"}),
                          ("location", {"latitude": 31.2, "longitude": 34.8})):
        msg = {"from": USER, "id": make_wamid(USER, inbound=True), "timestamp": "1", "type": kind, kind: content}
        before = len(wa.recorder.sent)
        await wa.feed(notification([msg], [USER]))
        (polite,) = wa.recorder.sent[before:]
        assert polite.text == texts.WA_TEXT_ONLY
    edit = {"from": USER, "id": make_wamid(USER, inbound=True), "timestamp": "1", "type": "edit",
            "edit": {"original_message_id": "wamid.x", "message": {"type": "text", "text": {"body": "x"}}}}
    before = len(wa.recorder.sent)
    await wa.feed(notification([edit], [USER]))
    assert wa.recorder.sent[before:] == []  # an edit is not a new question, and does not crash


async def test_words_commands_and_deep_links(wa: Harness) -> None:
    (menu,) = await wa.text("החלטות")
    assert "t:decision:1234" in menu.ids()
    (helped,) = await wa.text("/help")
    assert helped.text.startswith(texts.WA_HELP.split("\n")[0])
    (linked,) = await wa.text("/start dec1234-budget")  # wa.me/<number>?text=/start%20dec1234-budget
    assert linked.text.startswith("*התקציב של החלטה 1234*")
    (unknown,) = await wa.text("/reload")  # a curator command from someone else: unknown, no hint
    assert unknown.text == texts.WA_UNKNOWN_COMMAND


async def test_transient_send_failure_keeps_the_update_for_another_try(wa: Harness,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from handlers.whatsapp import send

    monkeypatch.setattr(wa.channel.sender, "delays", {send.PAIR_RATE: (0.0,)})
    wa.recorder.errors_next = [(400, send.PAIR_RATE)] * 2  # more than the sender's own retries
    assert await wa.text("מה התקציב של החלטה 1234") == []
    assert await pending(wa) == 1  # still in the inbox, not dropped
    assert wa.runtime.store is not None
    await wa.runtime.store.inbox_recover()
    await wa.runtime.store._write("UPDATE inbox SET lease_until=NULL")  # the retry delay has passed
    await wa.runtime.inbox.drain()
    assert [s.text[:20] for s in wa.recorder.sent] == ["*התקציב של החלטה 123"]
    assert await pending(wa) == 0
