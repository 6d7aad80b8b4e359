"""The webhook side of the Graph API emulator: inbound builders, signed delivery with retries, the
verification handshake. A mixin of ``GraphApiEmulator`` (it uses the emulator's state and lock)."""
from __future__ import annotations

import asyncio
import re
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from tests.graphapi import inbound as ib
from tests.graphapi.records import Call, Delivery, Known, VerifyResult
from tests.graphapi.validate import CATALOGUE

DEFAULT_VERIFY_TOKEN = "rashut-verify-token"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
BUILDERS = ("text", "button_reply", "list_reply", "image", "audio", "video", "document", "sticker", "location",
            "contacts", "reaction", "unsupported", "edited", "status")


class WebhookMixin:
    # ------------------------------------------------------------------ inbound builders
    def _inbound(self, wa_id: str, kind: str, content: Any, *, name: str | None = None,
                 context: dict[str, Any] | None = None, errors: list[dict[str, Any]] | None = None,
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
        u = self.user(wa_id, name)
        msg = ib.message(u.wa_id, kind, content, context=context)
        if errors:
            msg["errors"] = errors
        if extra:
            msg.update(extra)
        return ib.envelope(self.business, {"contacts": [ib.contact(u.wa_id, u.name, u.bsuid if self.bsuid else None)],
                                           "messages": [msg]})

    def _context_of(self, reply_to: str | Call | None) -> dict[str, Any] | None:
        if reply_to is None:
            return None
        wamid = reply_to.wamid if isinstance(reply_to, Call) else reply_to
        k = self.known(wamid or "")
        if k is None:
            raise ValueError(f"no message {wamid!r} to reply to")
        sender = self.display_phone_number if k.direction == "out" else k.wa_id
        return {"from": sender, "id": k.wamid}

    def text(self, wa_id: str, body: str, *, name: str | None = None, reply_to: str | Call | None = None,
             forwarded: bool = False) -> dict[str, Any]:
        ctx = self._context_of(reply_to)
        if forwarded:
            ctx = {**(ctx or {}), "forwarded": True}
        return self._inbound(wa_id, "text", {"body": body}, name=name, context=ctx)

    def _interactive_reply(self, wa_id: str, reply_to: str | Call, kind: str) -> tuple[Known, dict[str, Any]]:
        wamid = reply_to.wamid if isinstance(reply_to, Call) else reply_to
        k = self.known(wamid or "")
        if k is None or k.direction != "out" or k.type != "interactive" or k.payload.get("type") != kind:
            raise ValueError(f"{wamid!r} is not an interactive {kind} message the bot sent")
        if k.wa_id != self.user(wa_id).wa_id:
            raise ValueError(f"{wamid!r} was sent to {k.wa_id}, not {wa_id}")
        return k, {"from": self.display_phone_number, "id": k.wamid}

    def button_reply(self, wa_id: str, reply_to: str | Call, button_id: str, title: str | None = None, *,
                     name: str | None = None) -> dict[str, Any]:
        """The user taps a reply button of a message the bot sent (it must have that button)."""
        k, ctx = self._interactive_reply(wa_id, reply_to, "button")
        titles = {b["reply"]["id"]: b["reply"]["title"] for b in k.payload["action"]["buttons"]}
        if button_id not in titles:
            raise ValueError(f"no button {button_id!r} on {k.wamid} (it has {sorted(titles)})")
        return self._inbound(wa_id, "interactive", {"type": "button_reply", "button_reply": {
            "id": button_id, "title": title or titles[button_id]}}, name=name, context=ctx)

    def list_reply(self, wa_id: str, reply_to: str | Call, row_id: str, *, name: str | None = None) -> dict[str, Any]:
        """The user picks a row of a list message the bot sent (it must have that row)."""
        k, ctx = self._interactive_reply(wa_id, reply_to, "list")
        rows = {r["id"]: r for s in k.payload["action"]["sections"] for r in s["rows"]}
        if row_id not in rows:
            raise ValueError(f"no row {row_id!r} on {k.wamid} (it has {sorted(rows)})")
        reply = {"id": row_id, "title": rows[row_id]["title"]}
        if rows[row_id].get("description"):
            reply["description"] = rows[row_id]["description"]
        return self._inbound(wa_id, "interactive", {"type": "list_reply", "list_reply": reply}, name=name, context=ctx)

    def image(self, wa_id: str, *, caption: str | None = None, mime_type: str = "image/jpeg",
              name: str | None = None) -> dict[str, Any]:
        return self._inbound(wa_id, "image", ib.media("image", mime_type, caption=caption), name=name)

    def audio(self, wa_id: str, *, voice: bool = True, name: str | None = None) -> dict[str, Any]:
        mime = "audio/ogg; codecs=opus" if voice else "audio/mpeg"
        return self._inbound(wa_id, "audio", ib.media("audio", mime, voice=voice), name=name)

    def video(self, wa_id: str, *, caption: str | None = None, name: str | None = None) -> dict[str, Any]:
        return self._inbound(wa_id, "video", ib.media("video", "video/mp4", caption=caption), name=name)

    def document(self, wa_id: str, *, filename: str = "מסמך.pdf", caption: str | None = None,
                 mime_type: str = "application/pdf", name: str | None = None) -> dict[str, Any]:
        return self._inbound(wa_id, "document", ib.media("document", mime_type, filename=filename, caption=caption),
                             name=name)

    def sticker(self, wa_id: str, *, animated: bool = False, name: str | None = None) -> dict[str, Any]:
        return self._inbound(wa_id, "sticker", ib.media("sticker", "image/webp", animated=animated), name=name)

    def location(self, wa_id: str, latitude: float = 31.7683, longitude: float = 35.2137, *,
                 place: str | None = None, address: str | None = None, name: str | None = None) -> dict[str, Any]:
        loc: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        if place:
            loc["name"] = place
        if address:
            loc["address"] = address
        return self._inbound(wa_id, "location", loc, name=name)

    def contacts(self, wa_id: str, people: list[tuple[str, str]] | None = None, *,
                 name: str | None = None) -> dict[str, Any]:
        """The user shares contact cards: ``people`` is [(formatted name, phone)]."""
        cards = [{"name": {"formatted_name": n, "first_name": n.split()[0]},
                  "phones": [{"phone": "+" + re.sub(r"\D", "", p), "wa_id": re.sub(r"\D", "", p), "type": "CELL"}]}
                 for n, p in (people or [("ישראל ישראלי", "972501234567")])]
        return self._inbound(wa_id, "contacts", cards, name=name)

    def reaction(self, wa_id: str, message_id: str | Call, emoji: str = "👍", *,
                 name: str | None = None) -> dict[str, Any]:
        """The user reacts to a message (``emoji=""`` removes the reaction)."""
        wamid = message_id.wamid if isinstance(message_id, Call) else message_id
        if self.known(wamid or "") is None:
            raise ValueError(f"no message {wamid!r} to react to")
        content: dict[str, Any] = {"message_id": wamid}
        if emoji:
            content["emoji"] = emoji
        return self._inbound(wa_id, "reaction", content, name=name)

    def unsupported(self, wa_id: str, *, original_type: str = "poll", name: str | None = None) -> dict[str, Any]:
        """A message type the Cloud API does not support (a poll, a view-once photo...)."""
        return self._inbound(wa_id, "unsupported", {"type": original_type}, name=name, errors=[ib.webhook_error(
            131051, "Message type unknown", "Message type is currently not supported.")])

    def edited(self, wa_id: str, original: str | Call, new_text: str, *, name: str | None = None) -> dict[str, Any]:
        """A user edits a text they sent. Meta sends this ``edit`` webhook only to WhatsApp Business
        app ("coexistence") numbers; a Cloud API-only number gets no edits."""
        wamid = original.wamid if isinstance(original, Call) else original
        k = self.known(wamid or "")
        if k is None or k.direction != "in":
            raise ValueError(f"{wamid!r} is not a message the user sent")
        return self._inbound(wa_id, "edit", {"original_message_id": wamid,
                                             "message": {"type": "text", "text": {"body": new_text}}}, name=name)

    def status(self, message: str | Call, state: str = "delivered", *, error_code: int | None = None,
               details: str | None = None, contacts: bool | None = None) -> dict[str, Any]:
        """A status callback (sent / delivered / read / failed) for a message the bot sent."""
        if state not in ("sent", "delivered", "read", "failed", "played"):
            raise ValueError(f"unknown status {state!r}")
        wamid = message.wamid if isinstance(message, Call) else message
        k = self.known(wamid or "")
        if k is None or k.direction != "out":
            raise ValueError(f"{wamid!r} is not a message the bot sent")
        u = self.user(k.wa_id)
        err = None
        if state == "failed":
            code = error_code or 131026
            _, title, default_details = CATALOGUE.get(code, (400, "Something went wrong", ""))
            err = ib.webhook_error(code, title, details or default_details)
        return ib.status(self.business, k.wamid, state, u.wa_id, bsuid=u.bsuid if self.bsuid else None,
                         name=u.name, error=err, contacts=contacts, tracker=k.tracker)

    # ------------------------------------------------------------------ webhook delivery
    def register_inbound(self, env: dict[str, Any]) -> None:
        """What delivering does at Meta: the messages exist and their senders' windows (re)open. ``deliver``
        and ``push`` call it; call it yourself to have a user "write" without a webhook."""
        with self._lock:
            for entry in env.get("entry", []):
                for change in entry.get("changes", []):
                    value = change.get("value", {})
                    for m in value.get("messages", []):
                        u = self.user(m["from"])
                        u.last_inbound = self.now()
                        kind = m.get("type", "")
                        self._known.setdefault(m["id"], Known(m["id"], "in", u.wa_id, kind, m.get(kind) or {}))

    async def deliver(self, envelope: dict[str, Any], *, url: str | None = None, sign: str = "valid",
                      times: int = 1, attempts: int | None = None, timeout: float = 10.0) -> Delivery:
        """POST a webhook to the bot now, as Meta does, and return the last attempt. ``sign``:
        "valid", "none" (no signature headers) or "wrong". ``times=2`` delivers the same bytes twice
        (Meta's at-least-once delivery). Retries connection errors and 5xx (``attempts``)."""
        target = url or self.webhook_url
        if not target:
            raise RuntimeError("no webhook_url is configured and no url was given")
        self._check_loopback(target)
        self.register_inbound(envelope)
        body = ib.encode(envelope)
        last: Delivery | None = None
        for _ in range(times):
            last = await self._post(target, body, sign, ib.wamids_of(envelope), attempts or self.webhook_max_attempts,
                                    timeout)
        assert last is not None
        return last

    async def redeliver(self, delivery: Delivery, *, sign: str = "valid") -> Delivery:
        """Send the exact bytes of an earlier delivery again."""
        return await self._post(delivery.url, delivery.body.encode(), sign, delivery.wamids, self.webhook_max_attempts,
                                10.0)

    async def _post(self, url: str, body: bytes, sign: str, wamids: list[str], attempts: int,
                    timeout: float) -> Delivery:
        headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
        if sign == "valid":
            headers["X-Hub-Signature-256"] = ib.sign(body, self.app_secret)
            headers["X-Hub-Signature"] = ib.sign_sha1(body, self.app_secret)
        elif sign == "wrong":
            headers["X-Hub-Signature-256"] = ib.sign(body, self.app_secret + "-wrong")
            headers["X-Hub-Signature"] = ib.sign_sha1(body, self.app_secret + "-wrong")
        elif sign != "none":
            raise ValueError("sign is 'valid', 'none' or 'wrong'")
        session = self._session or aiohttp.ClientSession()
        d: Delivery | None = None
        try:
            for attempt in range(1, max(1, attempts) + 1):
                status, error, answer = None, None, ""
                try:
                    async with session.post(url, data=body, headers=headers,
                                            timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                        status = resp.status
                        answer = (await resp.text(errors="replace"))[:2000]
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                    error = f"{type(exc).__name__}: {exc}"
                with self._lock:
                    d = Delivery(len(self._deliveries), url, status, time.monotonic(), attempt,
                                 headers.get("X-Hub-Signature-256"), wamids, body.decode(), error, answer)
                    self._deliveries.append(d)
                self._wake()
                if status is not None and status < 500:
                    break  # 2xx delivered; 3xx/4xx recorded and dropped (see the module docstring)
                if attempt < attempts:
                    await asyncio.sleep(min(1.0, 0.05 * 2 ** (attempt - 1)))
        finally:
            if session is not self._session:
                await session.close()
        assert d is not None
        return d

    async def across(self, coro: Any) -> Any:
        """Await a coroutine of the emulator's (``deliver``, ``verify``) from another thread's event
        loop: it runs in the emulator's own loop, where its HTTP session lives."""
        assert self._loop is not None, "the emulator is not running"
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def push(self, envelope: dict[str, Any], **options: Any) -> list[str]:
        """Deliver in the background (from any thread); returns the envelope's wamids at once."""
        if self._loop is None or self._runner is None:
            raise RuntimeError("the emulator is not running")
        self.register_inbound(envelope)  # at once, so a reply sent right after finds the window open
        self._spawn(self.deliver(envelope, **options))
        return ib.wamids_of(envelope)

    def _spawn(self, coro: Any) -> None:
        """Run a coroutine in the emulator's loop, from that loop or any other thread."""
        assert self._loop is not None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None

        def start() -> None:
            task = asyncio.ensure_future(coro)
            self._background.add(task)
            task.add_done_callback(self._background.discard)

        if running is self._loop:
            start()
        else:
            self._loop.call_soon_threadsafe(start)

    async def verify(self, url: str | None = None, verify_token: str = DEFAULT_VERIFY_TOKEN, *,
                     challenge: str | None = None, mode: str = "subscribe") -> VerifyResult:
        """Meta's verification request: ``GET url?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...``;
        the endpoint must answer 200 with the challenge as its body."""
        target = url or self.webhook_url
        if not target:
            raise RuntimeError("no url")
        self._check_loopback(target)
        challenge = challenge or str(secrets.randbelow(10 ** 10))
        params = {"hub.mode": mode, "hub.challenge": challenge, "hub.verify_token": verify_token}
        async with aiohttp.ClientSession() as session:
            try:
                async with session.get(target, params=params, timeout=aiohttp.ClientTimeout(total=10)) as resp:
                    return VerifyResult(resp.status, await resp.text(), challenge)
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                return VerifyResult(None, f"{type(exc).__name__}: {exc}", challenge)

    @staticmethod
    def _check_loopback(url: str) -> None:
        if urlsplit(url).hostname not in LOOPBACK:
            raise ValueError(f"the emulator delivers only to 127.0.0.1, not {url}")
