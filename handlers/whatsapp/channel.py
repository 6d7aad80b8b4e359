"""The WhatsApp Cloud API channel: Meta's webhook in, through the durable inbox, replies out via pywa.

``GET /whatsapp`` answers Meta's verification handshake only for the right verify token.
``POST /whatsapp`` is checked before anything is parsed: no ``X-Hub-Signature-256`` -> 401 (before
the body is read), a wrong one -> 403 (HMAC-SHA256 of the raw body with the app secret, pywa's own
check); a body over the cap -> 413; malformed JSON -> 400. Each message of a notification goes into
the inbox under its message id (``wamid``), so Meta's redeliveries are answered once, also after a
restart; status callbacks (sent, delivered, read, failed) are acknowledged and not stored.

Written by hand, because pywa has no server of its own for aiohttp and dispatches in memory: the
routes, the per-message split of a batched notification, the inbox, and reading failed statuses
(pywa 4.5 cannot build them without ``contacts``). pywa's types read each stored message.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

import httpx
from aiohttp import web
from pywa_async import WhatsApp
from pywa_async.types import CallbackButton, CallbackSelection, Message, RawUpdate
from pywa_async.utils import UserIdentifier, webhook_updates_validator

from bot import targets, texts
from bot.inbox import Retry
from bot.replies import Option, Reply
from bot.router import Caller, Outcome, Unknown, Welcome, home_options, typed_command
from bot.runtime import Runtime
from bot.storage import hash_user

from ..webserver import BodyError, WebServers, read_body, refuse
from .curator import CHANNEL, WhatsAppNotifier, render_action, render_curator, render_group
from .render import Outgoing, parse_page, render, render_text
from .send import Sender, SendFailed
from .session import AiohttpSession

log = logging.getLogger(__name__)

PATH = "/whatsapp"
SIGNATURE = "X-Hub-Signature-256"
MAX_NOTIFICATION = 3 << 20  # Meta's webhook payloads can be up to 3 MB
TEXT_ONLY = {"image", "video", "audio", "document", "sticker", "location", "contacts", "reaction", "order",
             "unsupported", "unknown", "button"}


def lane_of(wa_id: str, key: str) -> str:
    return hash_user(f"{CHANNEL}:{wa_id}", key) or ""


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a JSON array; nothing for anything else (a signed body may still be junk)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def split_notification(data: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(one single-message notification per message, the statuses) of a (possibly batched) body.

    ``ValueError`` if it is not a notification at all; parts of the wrong type are passed over, never
    an exception (the webhook would answer it 500, and Meta resend it for days)."""
    if not isinstance(data, dict) or not isinstance(data.get("entry"), list):
        raise ValueError("not a WhatsApp notification")
    messages, statuses = [], []
    for entry in _dicts(data["entry"]):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if not isinstance(value, dict):
                continue
            contacts = {c["wa_id"]: c for c in _dicts(value.get("contacts")) if isinstance(c.get("wa_id"), str)}
            for msg in _dicts(value.get("messages")):
                if not isinstance(msg.get("id"), str):
                    continue
                sender = msg.get("from")
                known = contacts.get(sender) if isinstance(sender, str) else None
                contact = dict(known or {"wa_id": sender, "profile": {}})
                contact.setdefault("user_id", None)  # pywa 4.5 reads it; Meta's older payloads lack it
                one = {k: v for k, v in value.items() if k not in ("messages", "contacts", "statuses")}
                one.update(contacts=[contact], messages=[msg])
                messages.append({"object": data.get("object"), "entry": [{
                    "id": entry.get("id"), "changes": [{"field": change.get("field", "messages"), "value": one}]}]})
            statuses += _dicts(value.get("statuses"))
    return messages, statuses


class WhatsAppChannel:
    name = CHANNEL

    def __init__(self, runtime: Runtime, *, session: httpx.AsyncClient | None = None) -> None:
        s = runtime.settings
        if not (s.whatsapp_token and s.whatsapp_phone_number_id and s.whatsapp_app_secret and s.whatsapp_verify_token):
            raise ValueError("the WhatsApp channel needs its four settings")
        self.runtime = runtime
        self.settings = s
        self.session = session or AiohttpSession()  # pywa's httpx client, sending on aiohttp
        self.wa = WhatsApp(phone_id=s.whatsapp_phone_number_id, token=s.whatsapp_token, session=self.session,
                           api_version=s.whatsapp_api_version, filter_updates=False, skip_duplicate_updates=False,
                           validate_updates=False,
                           user_identifier_priority=(UserIdentifier.WA_ID, UserIdentifier.BSUID,
                                                     UserIdentifier.PARENT_BSUID))
        # pywa has no base-URL setting: it fixes graph.facebook.com, so the root is set afterwards
        self.session.base_url = f"{s.whatsapp_api_base_url}/v{s.whatsapp_api_version}"
        self.sender = Sender(self.wa, rate=s.whatsapp_rate)
        self.notifier = WhatsAppNotifier(self.sender, s, runtime.router.conversations)
        runtime.inbox.register(CHANNEL, self.handle)
        runtime.add_notifier(self.notifier)

    # ------------------------------------------------------------------ webhook
    async def verify(self, request: web.Request) -> web.StreamResponse:
        """Meta's handshake: ``hub.challenge`` back only for ``subscribe`` and the right verify token."""
        q = request.query
        token = (self.settings.whatsapp_verify_token or "").encode()
        if q.get("hub.mode") != "subscribe" or not hmac.compare_digest(q.get("hub.verify_token", "").encode(), token):
            return refuse(403)
        return web.Response(text=q.get("hub.challenge", ""), content_type="text/plain")

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        signature = request.headers.get(SIGNATURE)
        if not signature:
            return refuse(401)
        try:
            body = await read_body(request, MAX_NOTIFICATION)
        except BodyError as exc:
            log.warning("whatsapp webhook body refused: %s", exc.reason)
            return refuse(exc.status)
        if not webhook_updates_validator(self.settings.whatsapp_app_secret or "", body, signature):
            log.warning("whatsapp webhook with a wrong signature refused")
            return refuse(403)
        try:
            messages, statuses = split_notification(json.loads(body))
        except (ValueError, RecursionError) as exc:
            log.warning("whatsapp webhook body is not a notification (%s); refused with 400", type(exc).__name__)
            return refuse(400)
        for status in statuses:
            if status.get("status") == "failed":
                codes = [e.get("code") for e in _dicts(status.get("errors"))]
                log.warning("whatsapp reports a message not delivered: code(s) %s", codes or "?")
        try:
            for one in messages:
                await self.ingest(one)
        except Exception as exc:  # noqa: BLE001 - not stored, so not acknowledged: Meta resends
            log.error("could not store a whatsapp message in the inbox (%s); answered 503 so it is resent", exc)
            return refuse(503)
        return web.Response(status=200)

    async def ingest(self, notification: dict[str, Any]) -> bool:
        msg = notification["entry"][0]["changes"][0]["value"]["messages"][0]
        return await self.runtime.inbox.put(CHANNEL, msg["id"], lane_of(str(msg.get("from")), self.settings.hash_key),
                                            notification)

    # ------------------------------------------------------------------ one message, from the inbox
    async def handle(self, notification: dict[str, Any]) -> None:
        raw = json.dumps(notification, ensure_ascii=False).encode()
        update = RawUpdate(raw, hmac_header=None, update_hash=hashlib.sha256(raw).hexdigest())
        msg = notification["entry"][0]["changes"][0]["value"]["messages"][0]
        wa_id = str(msg.get("from") or "")
        kind = msg.get("type")
        await self.notifier.seen(wa_id)
        if kind == "interactive":
            sub = (msg.get("interactive") or {}).get("type")
            press = (CallbackButton if sub == "button_reply" else CallbackSelection).from_update(self.wa, update)
            caller = self._caller(wa_id, press.from_user.name)
            out = await self.press(caller, str(press.data))
        elif kind == "text":
            message = Message.from_update(self.wa, update)
            caller = self._caller(wa_id, message.from_user.name)
            out = await self.text(caller, message.text or "")
        elif kind in ("edit", "revoke", "system"):
            log.info("whatsapp %s message ignored", kind)
            return
        elif kind == "request_welcome":
            out = self._outcome(Welcome(None))
        else:
            out = render_text(texts.WA_TEXT_ONLY)
        await self._send(wa_id, out)

    def _caller(self, wa_id: str, name: str | None) -> Caller:
        return Caller(CHANNEL, wa_id, wa_id, "private", curator=self.settings.is_whatsapp_curator(wa_id), name=name)

    async def _send(self, wa_id: str, out: list[Outgoing]) -> None:
        try:
            await self.sender.send(wa_id, out)
        except SendFailed as exc:
            if exc.transient:
                raise Retry(str(exc)) from None
            log.error("whatsapp reply not sent: code %s", exc.code)

    async def text(self, caller: Caller, text: str) -> list[Outgoing]:
        """A typed message: a command (``/help``, ``/decision 546``, or a word such as "החלטות"), else text."""
        stripped = " ".join(text.split())
        if not stripped:
            return render_text(texts.EMPTY_QUESTION)
        cmd = typed_command(stripped)
        if cmd is not None:
            outcome = await self.runtime.router.run(caller, *cmd)
            return self._outcome(outcome, _page_target(*cmd))
        reply = await self.runtime.router.text(caller, stripped)
        return render(reply) if reply is not None else []  # None: over the rate limit, already told once

    def _outcome(self, outcome: Outcome, page_of: str | None = None) -> list[Outgoing]:
        if isinstance(outcome, Reply):
            return render(outcome, page_of=page_of)
        if isinstance(outcome, Welcome):
            return render(Reply("browse", texts.WELCOME, options=home_options()))
        if isinstance(outcome, Unknown):
            return render_text(texts.WA_UNKNOWN_COMMAND)
        return render_curator(outcome)

    async def press(self, caller: Caller, data: str) -> list[Outgoing]:
        """A reply button or list row: a vote, an option, the next page of a list, or a curator action."""
        if (page := parse_page(data)) is not None:
            offset, target = page
            reply = await self.runtime.router.press(caller, Option("", target=target))
            return render(reply, page_of=target, offset=offset) if reply else render_text(texts.ENTRY_NOT_FOUND)
        if (cur := targets.parse_curator(data)) is not None:
            if not caller.curator:
                return render_text(texts.ENTRY_NOT_FOUND)
            c = self.runtime.curator
            if cur.action == "show":
                return render_group(await c.group(cur.group_id))
            if cur.action == "attach" and cur.entry_id:
                return render_action(await c.attach(cur.group_id, cur.entry_id))
            return render_action(await c.dismiss(cur.group_id))
        press = targets.parse(data)
        if press is None:
            return render_text(texts.ENTRY_NOT_FOUND)
        if press.kind == "v":
            stored = await self.runtime.service.feedback(press.ref, press.vote, caller.user_id or "", CHANNEL)
            return render_text({"unknown": texts.ENTRY_NOT_FOUND, "failed": texts.ERROR_APOLOGY}.get(
                stored, texts.FEEDBACK_THANKS_UP if press.vote > 0 else texts.FEEDBACK_THANKS_DOWN))
        reply = await self.runtime.router.press(caller, press.option)
        return render(reply, page_of=press.ref if press.kind == "t" else None) if reply is not None \
            else render_text(texts.ENTRY_NOT_FOUND)

    # ------------------------------------------------------------------ lifecycle
    async def start(self, servers: WebServers) -> None:
        server = servers.on(self.settings.whatsapp_webhook_listen, self.settings.whatsapp_webhook_port)
        server.add("GET", PATH, self.verify)
        server.add("POST", PATH, self.webhook)
        log.info("whatsapp channel ready (webhook %s on port %d)", PATH, self.settings.whatsapp_webhook_port)

    async def announce(self) -> None:
        """Nothing to call: the webhook URL is set once in the Meta app (see the README)."""

    async def stop_receiving(self) -> None:
        """The shared web server stops taking requests; nothing of our own to stop."""

    async def ack(self) -> None:
        """Meta's deliveries were acknowledged one by one with 200."""

    async def close(self) -> None:
        await self.session.aclose()


def _page_target(name: str, arg: str) -> str | None:
    """The browse target a command lists, so a long list can offer its next page."""
    if name in ("decisions", "programmes", "programs", "visits"):
        return {"programs": "programmes"}.get(name, name)
    if name == "decision" and arg.strip().isdigit():
        return f"decision:{arg.strip()}"
    return None
