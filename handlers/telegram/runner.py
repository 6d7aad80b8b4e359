"""``rashut run`` with a token: open the store and the knowledge, then poll or serve a webhook.

Polling is the default (development, the local Bot API emulator of the end-to-end tests);
``WEBHOOK_URL`` switches to PTB's webhook server with Telegram's secret-token header check.
At start-up the knowledge folder is watched (unless ``RASHUT_WATCH_KB=0``) with reload results
sent to the curators, and two jobs run: the daily digest at ``DIGEST_TIME`` (Israel time) and the
retention purge of the unanswered queue.
The bot token is a password: httpx request logging is turned down and a filter on every root
handler replaces the token (and the webhook secret) in any record that still carries it.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from typing import Iterable, Mapping
from urllib.parse import quote, urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from telegram.constants import UpdateType
from telegram.error import InvalidToken, NetworkError

from bot.service import AnswerService
from bot.settings import DEFAULT_HASH_KEY, Settings
from bot.store import Store
from knowledge.engine import Engine
from knowledge.errors import SettingsError

from .app import build_application, setup_bot
from .curator import CuratorNotifier
from .deps import App, deps_of

log = logging.getLogger(__name__)

REDACTED = "[REDACTED]"
DEFAULT_POLL_TIMEOUT = 1  # seconds Telegram holds getUpdates open; short so shutdown is quick
PURGE_EVERY = 24 * 3600
DIGEST_ZONE = "Asia/Jerusalem"
# Only what the handlers use: fewer deliveries, and no idempotency write for updates we would drop.
ALLOWED_UPDATES = [UpdateType.MESSAGE, UpdateType.CALLBACK_QUERY, UpdateType.INLINE_QUERY]


class RedactSecrets(logging.Filter):
    """Replace secrets in a record's message, arguments, traceback and stack text."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        super().__init__()
        found: set[str] = set()
        for s in secrets:
            if not s:
                continue
            found.update({s, quote(s, safe="")})
            _, colon, tail = s.partition(":")
            if colon and len(tail) >= 8:  # the secret half of a bot token, in any URL spelling
                found.add(tail)
        self.secrets = sorted(found, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is still logged, just not formatted
            message = str(record.msg)
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def install_log_guards(secrets: Iterable[str | None], level: str = "INFO") -> RedactSecrets:
    """Quiet httpx/httpcore (they log URLs, which contain the token) and redact on every root handler."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    guard = RedactSecrets(secrets)
    for handler in root.handlers:
        handler.addFilter(guard)
    return guard


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
    """The path PTB's webhook server listens on: the path of the public URL."""
    return urlparse(url).path.strip("/")


def israel_tz() -> dt.tzinfo:
    """Israel time; without a time zone database (a slim image without tzdata) a fixed +02:00."""
    try:
        return ZoneInfo(DIGEST_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("time zone %s not found (install tzdata); the digest uses UTC+2 all year", DIGEST_ZONE)
        return dt.timezone(dt.timedelta(hours=2), "IST")


def digest_at(value: str) -> dt.time:
    """``DIGEST_TIME`` "HH:MM" as a time of day in Israel time."""
    hours, colon, minutes = value.strip().partition(":")
    try:
        if not colon or not hours.isdigit() or len(minutes) != 2 or not minutes.isdigit():
            raise ValueError(value)
        return dt.time(int(hours), int(minutes), tzinfo=israel_tz())
    except ValueError:
        raise SettingsError(f"DIGEST_TIME must be HH:MM (24-hour, Israel time), got {value!r}") from None


def lifecycle(app: App, store: Store, settings: Settings) -> None:
    """Open the store and set the menu before the first update; close the store at the end.

    In between: the knowledge watcher (when ``settings.watch_kb``) reporting reloads to the
    curators, the daily digest job, and the retention purge job. The watcher is kept in the
    application's ``Deps`` so /reload and the curators' buttons reload through it.
    """
    deps = deps_of(app)
    digest_time = digest_at(settings.digest_time)  # a malformed DIGEST_TIME stops here, before polling

    async def purge(context: object) -> None:
        try:
            removed = await store.purge(settings.retention_days)
            if removed:
                log.info("purged %d unanswered rows older than %s days", removed, settings.retention_days)
        except Exception as exc:  # noqa: BLE001
            log.warning("purge failed: %s", exc)

    async def post_init(application: App) -> None:
        await store.connect()
        await setup_bot(application)
        notifier = CuratorNotifier(application.bot, settings)
        if deps is not None and settings.watch_kb:
            deps.reloader = notifier.reloader(deps.service.engine)
            await deps.reloader.start()
            log.info("watching %s for knowledge changes", deps.service.engine.root)
        if application.job_queue is not None:
            application.job_queue.run_repeating(purge, interval=PURGE_EVERY, first=60, name="purge")
            if deps is not None and notifier.destinations():
                engine = deps.service.engine

                async def digest(context: object) -> None:
                    sent = await notifier.digest(store, engine)
                    log.info("daily digest sent to %d curator chat(s)", sent)

                application.job_queue.run_daily(digest, time=digest_time, name="digest")
        me = application.bot
        log.info("telegram bot @%s ready (%s)", me.username, "webhook" if settings.webhook_url else "polling")

    async def post_shutdown(application: App) -> None:
        if deps is not None and deps.reloader is not None:
            await deps.reloader.stop()
            deps.reloader = None
        await store.close()

    app.post_init = post_init
    app.post_shutdown = post_shutdown


def run_telegram(settings: Settings) -> int:
    """Run the bot until SIGINT/SIGTERM. Returns the process exit code."""
    install_log_guards([settings.telegram_token, settings.webhook_secret], settings.log_level)
    if settings.hash_key == DEFAULT_HASH_KEY:
        log.warning("RASHUT_HASH_KEY is not set: user ids are hashed with the development key")
    engine = Engine(settings.kb_path)  # a broken base stops here with every problem listed
    store = Store(settings.db_path)
    service = AnswerService(engine, store, hash_key=settings.hash_key)
    app = build_application(settings, service, store)
    lifecycle(app, store, settings)
    try:
        if settings.webhook_url:
            app.run_webhook(listen=settings.webhook_listen, port=settings.webhook_port,
                            url_path=webhook_path(settings.webhook_url), webhook_url=settings.webhook_url,
                            secret_token=settings.webhook_secret, allowed_updates=ALLOWED_UPDATES,
                            drop_pending_updates=False)
        else:
            app.run_polling(poll_interval=0.0, timeout=poll_timeout(), allowed_updates=ALLOWED_UPDATES,
                            drop_pending_updates=False)
    except InvalidToken:
        log.error("Telegram rejected the bot token (TELEGRAM_BOT_TOKEN)")
        return 2
    except NetworkError as exc:
        log.error("cannot reach the Telegram Bot API: %r", exc)
        return 1
    return 0
