"""WhatsApp adapter test harness, built like the Telegram one: a real channel on a real runtime,
with pywa's HTTP client on a transport that records every Graph API call and answers as Meta does
(or with the error a test queues). No network."""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bot.runtime import Runtime
from bot.settings import Settings
from handlers.whatsapp.channel import WhatsAppChannel
from tests.graphapi.inbound import make_wamid

TOKEN = "EAAG-test-whatsapp-token-abcdefghijklmnopqrstuvwxyz"
PHONE_ID = "106540352242922"
APP_SECRET = "whatsapp-app-secret-0123456789"
VERIFY = "verify-me-please"
USER = "972501234567"
CURATOR = "972509999999"
ROOT = "http://graph.test"


@dataclass
class Sent:
    url: str
    auth: str
    payload: dict[str, Any]

    @property
    def type(self) -> str:
        return self.payload.get("type", "")

    @property
    def text(self) -> str:
        if self.type == "text":
            return self.payload["text"]["body"]
        return self.payload.get("interactive", {}).get("body", {}).get("text", "")

    def ids(self) -> list[str]:
        action = self.payload.get("interactive", {}).get("action", {})
        return [b["reply"]["id"] for b in action.get("buttons", [])] + [
            row["id"] for s in action.get("sections", []) for row in s["rows"]]


@dataclass
class Recorder:
    """An httpx transport standing in for the Graph API."""

    sent: list[Sent] = field(default_factory=list)
    errors_next: list[tuple[int, int]] = field(default_factory=list)  # (HTTP status, Graph error code)
    network_errors_next: int = 0
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.network_errors_next:
            self.network_errors_next -= 1
            raise httpx.ConnectError("connection refused", request=request)
        payload = json.loads(request.content or b"{}")
        if self.errors_next:
            status, code = self.errors_next.pop(0)
            return httpx.Response(status, json={"error": {"message": f"(#{code}) test", "type": "OAuthException",
                                                          "code": code, "fbtrace_id": "x"}})
        self.sent.append(Sent(str(request.url), request.headers.get("authorization", ""), payload))
        return httpx.Response(200, json={"messaging_product": "whatsapp",
                                         "contacts": [{"input": payload.get("to"), "wa_id": payload.get("to")}],
                                         "messages": [{"id": make_wamid(str(payload.get("to") or "0"),
                                                                        inbound=False)}]})

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))


def wa_settings(kb: Path, db: Path, **changes: Any) -> Settings:
    base: dict[str, Any] = dict(kb_path=kb, db_path=db, hash_key="test-hash-key", watch_kb=False,
                                whatsapp_token=TOKEN, whatsapp_phone_number_id=PHONE_ID, whatsapp_app_secret=APP_SECRET,
                                whatsapp_verify_token=VERIFY, whatsapp_api_base_url=ROOT,
                                whatsapp_curators=frozenset({CURATOR}))
    base.update(changes)
    return Settings(**base)


def text_message(wa_id: str, body: str, wamid: str | None = None, **extra: Any) -> dict[str, Any]:
    msg = {"from": wa_id, "id": wamid or make_wamid(wa_id, inbound=True), "timestamp": "1700000000", "type": "text",
           "text": {"body": body}, **extra}
    return notification([msg], [wa_id])


def notification(messages: list[dict[str, Any]], senders: list[str],
                 statuses: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"messaging_product": "whatsapp",
                             "metadata": {"display_phone_number": "15550000000", "phone_number_id": PHONE_ID}}
    if messages:
        value["contacts"] = [{"profile": {"name": "דנה"}, "wa_id": s, "user_id": f"IL.{s}"} for s in senders]
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "1234", "changes": [{"field": "messages", "value": value}]}]}


def press(wa_id: str, data: str, *, kind: str = "button_reply") -> dict[str, Any]:
    reply = {"id": data, "title": "x"} if kind == "button_reply" else {"id": data, "title": "x", "description": "y"}
    msg = {"from": wa_id, "id": make_wamid(wa_id, inbound=True), "timestamp": "1700000000", "type": "interactive",
           "interactive": {"type": kind, kind: reply}, "context": {"from": "15550000000", "id": "wamid.HBgA"}}
    return notification([msg], [wa_id])


class Harness:
    def __init__(self, runtime: Runtime, recorder: Recorder) -> None:
        self.runtime = runtime
        self.recorder = recorder
        self.channel = WhatsAppChannel(runtime, session=recorder.client())

    async def feed(self, note: dict[str, Any]) -> None:
        """As the webhook does after its checks: into the inbox, then handled."""
        await self.channel.ingest(note)
        await self.runtime.inbox.drain()

    async def text(self, body: str, wa_id: str = USER) -> list[Sent]:
        before = len(self.recorder.sent)
        await self.feed(text_message(wa_id, body))
        return self.recorder.sent[before:]

    async def press(self, data: str, wa_id: str = USER, kind: str = "button_reply") -> list[Sent]:
        before = len(self.recorder.sent)
        await self.feed(press(wa_id, data, kind=kind))
        return self.recorder.sent[before:]
