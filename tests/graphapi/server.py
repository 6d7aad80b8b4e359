"""A small, strict emulator of the WhatsApp Cloud API (Meta's Graph API) on 127.0.0.1, for tests and
benchmarks.

It serves ``POST /v{version}/{phone_number_id}/messages``, the one endpoint pywa uses to send text,
reply buttons, list messages and reactions and to mark a message read (``"status": "read"``, also
with ``typing_indicator``), and answers like Meta: the send response
``{"messaging_product", "contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid..."}]}``,
``{"success": true}`` for a read receipt, and Meta's error JSON with its HTTP statuses for:

* a wrong or missing ``Authorization: Bearer`` token (401, OAuthException 190), an unknown phone
  number id (400, GraphMethodException 100/33), a malformed or unsupported API version (400, 100);
* payloads Meta refuses (``validate.py``: code 100 for structure, 131009 for lengths and counts);
* a free-form message outside the 24-hour customer service window (131047);
* the phone number's throughput (130429) and the per-recipient pair rate (131056);
* faults a test asks for: ``fail_next(n, code)``.

It delivers Meta's webhooks to the bot (``webhook_url``), signed with ``X-Hub-Signature-256``
(HMAC-SHA256 of the raw body with the app secret), with builders for every inbound kind and for
status callbacks, and it drives the ``GET ?hub.mode=subscribe`` verification handshake.

Deliberate differences from Meta (each one stricter or simpler): see ``validate.STRICTER`` for the
payload rules, and

* only loopback webhook URLs are accepted;
* a delivery that gets a connection error or a 5xx is retried with a short backoff
  (``webhook_max_attempts``); one that gets a 3xx/4xx is recorded and dropped. Meta retries every
  non-200 answer, with decreasing frequency, for up to 7 days;
* the 24-hour window is refused synchronously with 131047 by default; ``window_error="status"``
  accepts the send and reports 131047 in a ``failed`` status webhook instead, as Meta usually does;
* the pair rate is a token bucket (``pair_burst`` messages, then one per ``pair_interval`` seconds),
  defaulting to 45 and 6 s: Meta's is "about one message every 6 seconds", with bursts allowed;
* the throughput limit counts accepted sends in the last second (``mps``, default 80; Meta's default
  is 80 messages per second, inbound and outbound together).

Test control, as plain methods (thread-safe; builders and delivery live in ``webhooks.py``, the
``/_test/`` HTTP API in ``control.py``, the payload rules in ``validate.py``, Meta's wire formats in
``inbound.py``):

* inbound builders, each returning the webhook JSON: ``text``, ``button_reply``, ``list_reply``,
  ``image``, ``audio``, ``video``, ``document``, ``sticker``, ``location``, ``contacts``, ``reaction``,
  ``unsupported``, ``edited``, ``status``;
* ``await deliver(envelope, sign=, times=)``, ``await redeliver(delivery)``, ``push(envelope)`` (from
  any thread), ``register_inbound(envelope)`` (the user "wrote", no webhook), ``await verify(url, token)``;
* ``calls()``, ``sent(to=, type=)``, ``reads()``, ``refused(code)``, ``deliveries()``, ``known(wamid)``,
  ``await wait_for(predicate)``, ``await wait_for_delivery(predicate)``;
* ``set_last_inbound(wa_id, seconds_ago)``, ``open_window(wa_id)``, ``advance(seconds)``,
  ``fail_next(n, code, to=)``, ``configure(**limits)``, ``reset(full=)``.

The same is available over HTTP under ``/_test/`` (``python -m tests.graphapi.server`` runs the
emulator as a process of its own). Recorded times are ``time.monotonic()`` seconds; the window and
rate limits run on ``now()``, the same clock plus what ``advance()`` added.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import secrets
import signal
import sys
import threading
import time
from collections import deque
from typing import Any, Callable, Iterator

import aiohttp
from aiohttp import web

from tests.graphapi import inbound as ib
from tests.graphapi.control import ControlMixin
from tests.graphapi.records import Call, Delivery, Known, User, VerifyResult
from tests.graphapi.validate import STRICTER, GraphError, Outgoing, invalid, not_valid, validate_message, validate_read
from tests.graphapi.webhooks import BUILDERS, DEFAULT_VERIFY_TOKEN, LOOPBACK, WebhookMixin

__all__ = ["GraphApiEmulator", "Call", "Delivery", "Known", "User", "VerifyResult", "GraphError", "STRICTER",
           "BUILDERS", "DEFAULT_TOKEN", "DEFAULT_PHONE_NUMBER_ID", "DEFAULT_DISPLAY_PHONE_NUMBER", "DEFAULT_WABA_ID",
           "DEFAULT_APP_SECRET", "DEFAULT_VERIFY_TOKEN"]

DEFAULT_TOKEN = "EAAR4shutTESTtokenZBxYz0123456789abcdefABCDEF"
DEFAULT_PHONE_NUMBER_ID = "106540352242922"
DEFAULT_DISPLAY_PHONE_NUMBER = "972535550100"
DEFAULT_WABA_ID = "102290129340398"
DEFAULT_APP_SECRET = "0123456789abcdef0123456789abcdef"
VERSION_RE = re.compile(r"^v(\d{1,2})\.(\d)$")


# ====================================================================== the emulator
class GraphApiEmulator(WebhookMixin, ControlMixin):
    def __init__(self, token: str = DEFAULT_TOKEN, *, host: str = "127.0.0.1", port: int = 0,
                 phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
                 display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER, waba_id: str = DEFAULT_WABA_ID,
                 app_secret: str = DEFAULT_APP_SECRET, webhook_url: str | None = None,
                 min_version: float = 17.0, max_version: float = 26.0, mps: float | None = 80,
                 pair_burst: float | None = 45, pair_interval: float = 6.0, window_seconds: float = 86400.0,
                 window_error: str = "response", count: str = "utf16", list_body_max: int = 1024,
                 webhook_max_attempts: int = 60, auto_status: tuple[str, ...] = (), bsuid: bool = True) -> None:
        if host not in LOOPBACK:
            raise ValueError("the emulator listens on the loopback interface only")
        if window_error not in ("response", "status"):
            raise ValueError("window_error is 'response' or 'status'")
        self.token = token
        self.host, self.port = host, port
        self.business = ib.Business(waba_id, phone_number_id, display_phone_number)
        self.app_secret = app_secret
        self.webhook_url = webhook_url
        if webhook_url:
            self._check_loopback(webhook_url)
        self.min_version, self.max_version = min_version, max_version
        self.mps, self.pair_burst, self.pair_interval = mps, pair_burst, pair_interval
        self.window_seconds, self.window_error = window_seconds, window_error
        self.count, self.list_body_max = count, list_body_max
        self.webhook_max_attempts = webhook_max_attempts
        self.auto_status = tuple(auto_status)
        self.bsuid = bsuid
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._session: aiohttp.ClientSession | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._offset = 0.0
        self._clear_state()

    def _clear_state(self) -> None:
        with self._lock:
            self._calls: list[Call] = []
            self._deliveries: list[Delivery] = []
            self._users: dict[str, User] = {}
            self._known: dict[str, Known] = {}
            self._sent_times: deque[float] = deque()
            self._pair: dict[str, tuple[float, float]] = {}
            self._faults: list[dict[str, Any]] = []
            self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def phone_number_id(self) -> str:
        return self.business.phone_number_id

    @property
    def display_phone_number(self) -> str:
        return self.business.display_phone_number

    def messages_url(self, version: str = "v26.0") -> str:
        return f"{self.url}/{version}/{self.phone_number_id}/messages"

    async def start(self) -> "GraphApiEmulator":
        """Serve in the running event loop; picks a free port when ``port`` is 0."""
        self._loop = asyncio.get_running_loop()
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/_test/{action}", self._control)
        app.router.add_route("*", "/{tail:.*}", self._api)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        sockets = site._server.sockets if site._server else ()  # noqa: SLF001 - the bound port
        self.port = sockets[0].getsockname()[1]
        self._session = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._background.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start_in_thread(self, timeout: float = 15.0) -> "GraphApiEmulator":
        """Serve from a daemon thread with its own event loop."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop())
                loop.close()

        self._thread = threading.Thread(target=run, name="graphapi-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("the Graph API emulator did not start")
        if failure:
            raise failure[0]
        return self

    def stop_thread(self, timeout: float = 15.0) -> None:
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._thread = None

    @contextlib.contextmanager
    def running(self) -> Iterator["GraphApiEmulator"]:
        self.start_in_thread()
        try:
            yield self
        finally:
            self.stop_thread()

    # ------------------------------------------------------------------ clock, users, state
    def now(self) -> float:
        """The emulator clock: time.monotonic() plus whatever ``advance()`` added."""
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the window and rate-limit clock forward (recorded times stay real)."""
        with self._lock:
            self._offset += seconds

    def user(self, wa_id: str, name: str | None = None) -> User:
        """The WhatsApp user with this number (created on first use; ``name`` updates the profile)."""
        wa_id = re.sub(r"\D", "", str(wa_id))
        with self._lock:
            u = self._users.get(wa_id)
            if u is None:
                u = self._users[wa_id] = User(wa_id, name or f"User {wa_id[-4:]}", ib.bsuid_for(wa_id))
            elif name:
                u.name = name
            return u

    def set_last_inbound(self, wa_id: str, seconds_ago: float | None = 0.0) -> None:
        """When the user last wrote to the business (None: never, so the window is closed)."""
        u = self.user(wa_id)
        with self._lock:
            u.last_inbound = None if seconds_ago is None else self.now() - seconds_ago

    def open_window(self, wa_id: str) -> None:
        self.set_last_inbound(wa_id, 0.0)

    def window_open(self, wa_id: str) -> bool:
        with self._lock:
            u = self._users.get(wa_id)
            return bool(u and u.last_inbound is not None and self.now() - u.last_inbound < self.window_seconds)

    def fail_next(self, count: int = 1, code: int = 131056, *, to: str | None = None,
                  details: str | None = None) -> None:
        """Answer the next ``count`` sends (to ``to`` only, if given) with error ``code``."""
        with self._lock:
            self._faults.append({"count": count, "code": code, "to": to, "details": details})

    def configure(self, **limits: Any) -> None:
        """Change ``mps``, ``pair_burst``, ``pair_interval``, ``window_seconds``, ``window_error``,
        ``webhook_url`` or ``auto_status`` of a running emulator."""
        allowed = {"mps", "pair_burst", "pair_interval", "window_seconds", "window_error", "webhook_url",
                   "auto_status", "app_secret", "webhook_max_attempts"}
        with self._lock:
            for k, v in limits.items():
                if k not in allowed:
                    raise ValueError(f"cannot configure {k}")
                if k == "webhook_url" and v:
                    self._check_loopback(v)
                setattr(self, k, tuple(v) if k == "auto_status" else v)

    def reset(self, *, full: bool = False) -> None:
        """Forget calls, deliveries, faults and rate-limit state; ``full`` also forgets users (their
        windows) and known messages."""
        with self._lock:
            waiters = self._waiters
            if full:
                self._clear_state()
                self._offset = 0.0
            else:
                self._calls, self._deliveries, self._faults = [], [], []
                self._sent_times.clear()
                self._pair.clear()
            self._waiters = waiters

    # ------------------------------------------------------------------ queries
    def calls(self, *, since: int = 0) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if c.seq >= since]

    def sent(self, to: str | None = None, *, type: str | None = None, since: int = 0) -> list[Call]:
        """Accepted sends (not read receipts), oldest first."""
        return [c for c in self.calls(since=since) if c.kind == "message" and c.ok
                and (to is None or c.to == re.sub(r"\D", "", to)) and (type is None or c.type == type)]

    def reads(self) -> list[Call]:
        return [c for c in self.calls() if c.kind == "read" and c.ok]

    def refused(self, code: int | None = None) -> list[Call]:
        return [c for c in self.calls() if not c.ok and (code is None or c.code == code)]

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def known(self, wamid: str) -> Known | None:
        with self._lock:
            return self._known.get(wamid)

    async def wait_for(self, predicate: Callable[[Call], bool], timeout: float = 10.0) -> Call:
        """The first recorded call for which ``predicate`` is true (waits for it)."""
        return await self._wait(lambda: next((c for c in self.calls() if predicate(c)), None), timeout, "call")

    async def wait_for_delivery(self, predicate: Callable[[Delivery], bool], timeout: float = 10.0) -> Delivery:
        return await self._wait(lambda: next((d for d in self.deliveries() if predicate(d)), None), timeout,
                                "delivery")

    async def _wait(self, find: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        ev = asyncio.Event()
        waiter = (asyncio.get_running_loop(), ev)
        with self._lock:
            self._waiters.add(waiter)
        try:
            while True:
                found = find()
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching {what} within {timeout}s")
                ev.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(ev.wait(), min(remaining, 0.2))
        finally:
            with self._lock:
                self._waiters.discard(waiter)

    def _wake(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, ev in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(ev.set)

    # ------------------------------------------------------------------ HTTP: the Graph API
    async def _api(self, request: web.Request) -> web.Response:
        call = Call(-1, request.method, request.path, time.monotonic())
        try:
            result = await self._handle(request, call)
        except GraphError as exc:
            call.status, call.code, result = exc.status or 400, exc.code, exc.body()
        except Exception as exc:  # noqa: BLE001 - a bug in the emulator must be visible, not a hang
            call.status, call.code = 500, 1
            result = {"error": {"message": f"emulator error: {exc!r}", "type": "EmulatorError", "code": 1}}
        call.response = result
        with self._lock:  # recorded once answered, so a recorded call is always complete
            call.done = time.monotonic()
            call.seq = len(self._calls)
            self._calls.append(call)
        self._wake()
        if call.ok and call.kind == "message" and self.webhook_url:
            self._after_send(call)
        return web.json_response(result, status=call.status, dumps=lambda o: json.dumps(o, ensure_ascii=False))

    async def _handle(self, request: web.Request, call: Call) -> Any:
        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else request.query.get("access_token")
        if not token or not secrets.compare_digest(token.encode(), self.token.encode()):
            call.authorized = False
            raise GraphError(190, whatsapp=False)
        m = re.match(r"^/([^/]+)/([^/]+)/messages/?$", request.path)
        if not m or request.method != "POST":
            raise GraphError(100, type="GraphMethodException", whatsapp=False, subcode=33 if m else None,
                             message=f"Unsupported {request.method.lower()} request. Object with ID "
                                     f"'{request.path.strip('/')}' does not exist, cannot be loaded due to missing "
                                     "permissions, or does not support this operation.")
        version, phone_id = m.groups()
        vm = VERSION_RE.match(version)
        if not vm or not self.min_version <= float(f"{vm.group(1)}.{vm.group(2)}") <= self.max_version:
            raise GraphError(100, whatsapp=False, message=f"(#100) Unknown or unsupported API version: {version} "
                             f"(the emulator serves v{self.min_version}-v{self.max_version})")
        if phone_id != self.phone_number_id:
            raise GraphError(100, type="GraphMethodException", whatsapp=False, subcode=33,
                             message=f"Unsupported post request. Object with ID '{phone_id}' does not exist, cannot "
                                     "be loaded due to missing permissions, or does not support this operation.")
        if request.content_type != "application/json":
            raise invalid(f"Content-Type {request.content_type or 'none'} is not emulated; send a JSON body.")
        try:
            payload = await request.json()
        except ValueError:
            raise invalid("The request body is not valid JSON.") from None
        call.payload = payload
        if isinstance(payload, dict) and "status" in payload:
            call.kind, call.type = "read", "read"
            return self._read(payload)
        call.kind = "message"
        return self._send(payload, call)

    def _read(self, payload: dict[str, Any]) -> dict[str, Any]:
        receipt = validate_read(payload)
        k = self.known(receipt.message_id)
        if k is None or k.direction != "in":
            raise invalid(f"Message {receipt.message_id} is not a message this number received.")
        return {"success": True}

    def _fault(self, to: str | None) -> GraphError | None:
        with self._lock:
            for f in self._faults:
                if f["count"] > 0 and (f["to"] is None or re.sub(r"\D", "", f["to"]) == to):
                    f["count"] -= 1
                    self._faults = [x for x in self._faults if x["count"] > 0]
                    return GraphError(f["code"], f["details"] or "")
        return None

    def _send(self, payload: Any, call: Call) -> dict[str, Any]:
        if isinstance(payload, dict):
            call.type = payload.get("type", "text") if isinstance(payload.get("type", "text"), str) else None
            if isinstance(payload.get("to"), str):
                call.to = re.sub(r"\D", "", payload["to"])
        fault = self._fault(call.to)
        if fault is not None:
            raise fault
        out = validate_message(payload, count=self.count, list_body_max=self.list_body_max)
        call.type, call.interactive_type = out.type, out.interactive_type
        user = self._recipient(out)
        call.to = user.wa_id
        if user.wa_id == self.display_phone_number:
            raise GraphError(131021)
        self._check_references(out, user)
        window_closed = not self.window_open(user.wa_id)
        if window_closed and self.window_error == "response":
            raise GraphError(131047)
        self._check_rates(user.wa_id)
        wamid = ib.make_wamid(user.wa_id, inbound=False)
        call.wamid = wamid
        with self._lock:
            self._known[wamid] = Known(wamid, "out", user.wa_id, out.type, out.body, out.tracker)
        contact = {"input": payload.get("to") or payload.get("recipient")}
        contact.update({"wa_id": user.wa_id} if out.to else {"user_id": user.bsuid})
        call.window_closed = window_closed  # window_error == "status": accepted now, failed by webhook
        return {"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": wamid}]}

    def _recipient(self, out: Outgoing) -> User:
        if out.to is not None:
            return self.user(out.to)
        with self._lock:
            found = next((u for u in self._users.values() if u.bsuid == out.recipient), None)
        if found is None:
            raise GraphError(131026, f"No WhatsApp user has the business-scoped user ID {out.recipient}.")
        return found

    def _check_references(self, out: Outgoing, user: User) -> None:
        if out.context is not None:
            k = self.known(out.context)
            if k is None or k.wa_id != user.wa_id:
                raise not_valid(f"context.message_id {out.context} is not a message in this conversation.")
        if out.type == "reaction":
            k = self.known(out.body["message_id"])
            if k is None or k.wa_id != user.wa_id:
                raise not_valid(f"reaction.message_id {out.body['message_id']} is not a message in this conversation.")

    def _check_rates(self, wa_id: str) -> None:
        now = self.now()
        with self._lock:
            if self.mps is not None:
                while self._sent_times and now - self._sent_times[0] >= 1.0:
                    self._sent_times.popleft()
                if len(self._sent_times) >= self.mps:
                    raise GraphError(130429)
            if self.pair_burst is not None:
                tokens, last = self._pair.get(wa_id, (float(self.pair_burst), now))
                tokens = min(float(self.pair_burst), tokens + (now - last) / self.pair_interval)
                if tokens < 1.0:
                    self._pair[wa_id] = (tokens, now)
                    raise GraphError(131056)
                self._pair[wa_id] = (tokens - 1.0, now)
            if self.mps is not None:
                self._sent_times.append(now)

    def _after_send(self, call: Call) -> None:
        """Status webhooks that follow an accepted send: ``auto_status``, or the failed 131047 of a
        send outside the window in ``window_error="status"`` mode."""
        if call.window_closed:
            envelopes = [self.status(call.wamid or "", "failed", error_code=131047)]
        else:
            envelopes = [self.status(call.wamid or "", state) for state in self.auto_status]
        if envelopes:
            self._spawn(self._deliver_in_order(envelopes))

    async def _deliver_in_order(self, envelopes: list[dict[str, Any]]) -> None:
        for env in envelopes:
            await self.deliver(env)


# ====================================================================== standalone process
def main(argv: list[str] | None = None) -> int:
    """``python -m tests.graphapi.server``: serve until SIGTERM/SIGINT; prints one JSON line
    ({"port", "url", "phone_number_id"}) on stdout once listening. Control it over HTTP under /_test/."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--token", default=DEFAULT_TOKEN)
    p.add_argument("--phone-number-id", default=DEFAULT_PHONE_NUMBER_ID)
    p.add_argument("--app-secret", default=DEFAULT_APP_SECRET)
    p.add_argument("--webhook-url", default=None)
    p.add_argument("--mps", type=float, default=80)
    p.add_argument("--pair-burst", type=float, default=45)
    p.add_argument("--pair-interval", type=float, default=6.0)
    args = p.parse_args(argv)

    async def serve() -> None:
        emu = await GraphApiEmulator(args.token, port=args.port, phone_number_id=args.phone_number_id,
                                     app_secret=args.app_secret, webhook_url=args.webhook_url, mps=args.mps,
                                     pair_burst=args.pair_burst, pair_interval=args.pair_interval).start()
        print(json.dumps({"port": emu.port, "url": emu.url, "phone_number_id": emu.phone_number_id}), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await emu.stop()

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
