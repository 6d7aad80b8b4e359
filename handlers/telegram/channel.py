"""The Telegram channel: updates in (polling or webhook) through the durable inbox, replies out.

Polling is the default (development, the local Bot API emulator of the end-to-end tests);
``WEBHOOK_URL`` switches to a route on the shared webhook server with Telegram's secret-token
header check. Either way an update is acknowledged only after it is in the inbox: the next
``getUpdates`` offset moves past it, or the webhook answers 200. python-telegram-bot's own
``Updater`` acknowledges before the update is handled, so a crash lost what it had fetched; its
``Application`` still does everything else (handlers, the rate limiter, the error handler).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import json
import logging
import os
from typing import Any, Mapping
from urllib.parse import urlparse

from aiohttp import web
from telegram import Update
from telegram.constants import UpdateType
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.request import BaseRequest

from bot.inbox import Retry
from bot.runtime import Runtime
from bot.storage import hash_user
from knowledge.errors import SettingsError

from ..webserver import BodyError, WebServers, read_body, refuse
from .app import TRANSIENT, build_application, setup_bot
from .curator import TelegramNotifier
from .deps import CHANNEL, App

log = logging.getLogger(__name__)

DEFAULT_POLL_TIMEOUT = 1  # seconds Telegram holds getUpdates open; short so shutdown is quick
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Only what the handlers use: fewer deliveries, and no inbox write for updates we would drop.
ALLOWED_UPDATES = [UpdateType.MESSAGE, UpdateType.CALLBACK_QUERY, UpdateType.INLINE_QUERY]
POLL_BACKOFF = (1, 2, 5, 10, 30)


def poll_timeout(env: Mapping[str, str] | None = None) -> dt.timedelta:
    """``TELEGRAM_POLL_TIMEOUT`` whole seconds for getUpdates long polling (default 1; the Bot API
    takes an integer, so a fraction is rounded)."""
    raw = (os.environ if env is None else env).get("TELEGRAM_POLL_TIMEOUT", "").strip()
    if not raw:
        return dt.timedelta(seconds=DEFAULT_POLL_TIMEOUT)
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"TELEGRAM_POLL_TIMEOUT must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise SettingsError("TELEGRAM_POLL_TIMEOUT must not be negative")
    return dt.timedelta(seconds=round(value))


def webhook_path(url: str) -> str:
    """The path the webhook route listens on: the path of the public URL."""
    return urlparse(url).path.strip("/")


def is_update_id(value: Any) -> bool:
    """An update_id is an integer (JSON ``true`` is a bool in Python, and an int by ``isinstance``)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def lane_of(update: Mapping[str, Any], key: str) -> str:
    """The chat an update belongs to (keyed hash): its messages are handled in order, one at a time.
    Any part of the update may be of the wrong type (a list for ``message``...): that part is passed
    over, never an exception, because the webhook would answer it 503 and Telegram resend it."""
    for kind in ("message", "edited_message", "callback_query", "inline_query"):
        part = update.get(kind)
        if not isinstance(part, dict):
            continue
        chat = _dict(part.get("chat")) or _dict(_dict(part.get("message")).get("chat"))
        who = chat.get("id")
        if who is None:
            who = _dict(part.get("from")).get("id")
        if who is not None:
            return hash_user(f"{CHANNEL}:{who}", key) or ""
    return f"{CHANNEL}:update:{update.get('update_id')}"


class TelegramChannel:
    """Built on the runtime; ``await start(servers)``, then ``stop_receiving()`` and ``close()``."""

    name = CHANNEL

    def __init__(self, runtime: Runtime, *, request: BaseRequest | None = None,
                 get_updates_request: BaseRequest | None = None) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.app: App = build_application(runtime, request=request, get_updates_request=get_updates_request)
        self.notifier = TelegramNotifier(self.app.bot, self.settings)
        runtime.inbox.register(CHANNEL, self.handle)
        runtime.add_notifier(self.notifier)
        self._poller: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.offset: int | None = None

    # ------------------------------------------------------------------ in
    def _item(self, update: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
        uid = update.get("update_id")
        if not is_update_id(uid):
            raise ValueError("an update needs an integer update_id")
        return str(uid), lane_of(update, self.settings.hash_key), dict(update)

    async def ingest(self, update: Mapping[str, Any]) -> bool:
        """Store one update in the inbox (durably); False for one already stored."""
        return await self.runtime.inbox.put(CHANNEL, *self._item(update))

    async def handle(self, payload: dict[str, Any]) -> None:
        """The inbox handler: run the update through the application; a reply that could not be sent
        for a passing reason sends the update back to the inbox (``Retry``)."""
        update = Update.de_json(payload, self.app.bot)
        noted: list[BaseException] = []
        token = TRANSIENT.set(noted)
        try:
            await self.app.process_update(update)
        finally:
            TRANSIENT.reset(token)
        if noted:
            raise Retry(repr(noted[0]))

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        """``POST`` from Telegram: the secret first, then the capped body, then the inbox, then 200."""
        secret = self.settings.webhook_secret or ""
        given = request.headers.get(SECRET_HEADER, "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            return refuse(403)
        if request.content_type != "application/json":
            return refuse(415)
        try:
            data = json.loads(await read_body(request))
        except BodyError as exc:
            log.warning("telegram webhook body refused: %s", exc.reason)
            return refuse(exc.status)
        except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, too deep, a 5,000-digit number
            log.warning("telegram webhook body is not valid JSON (%s); refused with 400", type(exc).__name__)
            return refuse(400)
        if not isinstance(data, dict) or not is_update_id(data.get("update_id")):
            log.warning("telegram webhook body is not an update; refused with 400")
            return refuse(400)
        try:
            await self.ingest(data)
        except Exception as exc:  # noqa: BLE001 - not stored, so not acknowledged: Telegram retries
            log.error("could not store a telegram update in the inbox (%s); answered 503 so it is resent", exc)
            return refuse(503)
        return web.Response(status=200)

    async def _poll(self) -> None:
        """getUpdates until stopped; the offset moves past an update only after it is stored."""
        bot = self.app.bot
        timeout = int(poll_timeout().total_seconds())
        failures = 0
        while not self._stop.is_set():
            try:
                updates = await bot.get_updates(offset=self.offset, timeout=timeout, allowed_updates=ALLOWED_UPDATES,
                                                read_timeout=timeout + 10)
                if updates:  # the whole page in one transaction, then the offset moves past it
                    await self.runtime.inbox.put_many(CHANNEL, [self._item(u.to_dict()) for u in updates])
                    self.offset = updates[-1].update_id + 1
                failures = 0
                await asyncio.sleep(0)  # an empty answer that came back at once must not starve the loop
            except asyncio.CancelledError:
                raise
            except InvalidToken:
                log.error("Telegram rejected the bot token (TELEGRAM_BOT_TOKEN); polling stopped")
                raise
            except Exception as exc:  # noqa: BLE001 - network or store trouble: back off, fetch again
                delay = POLL_BACKOFF[min(failures, len(POLL_BACKOFF) - 1)]
                failures += 1
                log.warning("telegram polling failed (%r); retrying in %d s", exc, delay)
                try:
                    await asyncio.wait_for(self._stop.wait(), delay)
                except asyncio.TimeoutError:
                    pass

    # ------------------------------------------------------------------ lifecycle
    async def start(self, servers: WebServers) -> None:
        """getMe and the menu, then the webhook route (and setWebhook) or the polling loop."""
        await self.app.initialize()  # InvalidToken / NetworkError surface here, before anything runs
        await setup_bot(self.app)
        bot = self.app.bot
        url = self.settings.webhook_url
        if url:
            servers.on(self.settings.webhook_listen, self.settings.webhook_port).add(
                "POST", webhook_path(url), self.webhook)
        else:
            await bot.delete_webhook(drop_pending_updates=False)
            self._poller = asyncio.create_task(self._poll(), name="telegram-polling")
        log.info("telegram bot @%s ready (%s)", bot.username, "webhook" if url else "polling")

    async def announce(self) -> None:
        """After the server listens: tell Telegram where to deliver (webhook mode only)."""
        if self.settings.webhook_url:
            await self.app.bot.set_webhook(self.settings.webhook_url, secret_token=self.settings.webhook_secret,
                                           allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)

    async def stop_receiving(self) -> None:
        self._stop.set()
        if self._poller is not None:
            try:
                await asyncio.wait_for(self._poller, 3.0)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass
            except (InvalidToken, NetworkError, TelegramError):
                pass  # already logged
            self._poller = None

    async def ack(self) -> None:
        """Tell Telegram (polling) that everything stored so far need not be sent again."""
        if self.offset is not None and not self.settings.webhook_url:
            try:
                await self.app.bot.get_updates(offset=self.offset, timeout=0, limit=1, allowed_updates=ALLOWED_UPDATES)
            except TelegramError as exc:
                log.info("final getUpdates acknowledgement failed (%r); Telegram will resend, the inbox "
                         "recognises them", exc)

    async def close(self) -> None:
        if self.app._initialized:  # noqa: SLF001 - PTB has no public flag
            await self.app.shutdown()

    def background(self) -> list[asyncio.Task[None]]:
        """Tasks whose end means the channel cannot go on (the polling loop after a refused token)."""
        return [self._poller] if self._poller is not None else []
