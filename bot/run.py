"""The composition root of ``rashut run`` and ``rashut chat``: the one module in ``bot/`` that
imports the adapters in ``handlers/`` (an import-graph test holds everyone else to that).

``rashut run`` runs every configured channel in one process, on one runtime: Telegram (polling or
webhook), WhatsApp (webhook), or both; with neither it opens the console chat on a terminal, and
without a terminal it says so and exits non-zero (a container with no channel is a mistake, not
a chat). SIGTERM and SIGINT stop taking updates, let what is in flight finish for a few seconds,
keep the rest in the inbox for the next start, and exit well within Docker's 10 s stop timeout.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Protocol

from .logs import install_log_guards
from .runtime import Runtime
from .settings import Settings

log = logging.getLogger(__name__)

DRAIN_SECONDS = 5.0  # in-flight updates get this long at SIGTERM; the rest stay in the inbox
NO_CHANNEL = ("rashut run: no channel is configured (set TELEGRAM_BOT_TOKEN, or the WHATSAPP_* settings) "
              "and there is no terminal for the console chat; see .env.example")


if TYPE_CHECKING:
    from handlers.webserver import WebServers


class Channel(Protocol):
    name: str

    async def start(self, servers: "WebServers") -> None: ...
    async def announce(self) -> None: ...
    async def stop_receiving(self) -> None: ...
    async def ack(self) -> None: ...
    async def close(self) -> None: ...


def configured(settings: Settings) -> list[str]:
    names = []
    if settings.telegram_token:
        names.append("telegram")
    if settings.whatsapp:
        names.append("whatsapp")
    return names


def run(settings: Settings, *, interactive: bool | None = None) -> int:
    """``rashut run``. Returns the process exit code."""
    if not configured(settings):
        if not (sys.stdin.isatty() if interactive is None else interactive):
            print(NO_CHANNEL, file=sys.stderr)
            return 2
        return chat(settings)
    install_log_guards(settings.secrets(), settings.log_level, settings.hash_key)
    runtime = Runtime.build(settings)  # a broken base stops here with every problem listed
    return asyncio.run(serve(runtime))


def _channels(runtime: Runtime) -> list[Channel]:
    out: list[Channel] = []
    if runtime.settings.telegram_token:
        from handlers.telegram.channel import TelegramChannel

        out.append(TelegramChannel(runtime))
    if runtime.settings.whatsapp:
        from handlers.whatsapp.channel import WhatsAppChannel

        out.append(WhatsAppChannel(runtime))
    return out


async def serve(runtime: Runtime, channels: list[Channel] | None = None) -> int:
    """Run the channels until SIGTERM/SIGINT (or a channel's fatal error). Returns the exit code.

    The store opens first (``runtime.start``); one that cannot be opened raises its ``StoreError``
    (one line naming the file and the cause, printed by the command line with exit code 2) after
    every channel and web server was closed, so the process ends instead of idling."""
    from telegram.error import InvalidToken, NetworkError

    from handlers.webserver import WebServers

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    servers = WebServers()
    channels = _channels(runtime) if channels is None else channels
    code = 0
    try:
        await runtime.start()
        for ch in channels:
            await ch.start(servers)
        await servers.start()
        for ch in channels:
            await ch.announce()
        code = await _until_stopped(stop, channels)
    except InvalidToken:
        log.error("Telegram rejected the bot token (TELEGRAM_BOT_TOKEN)")
        code = 2
    except NetworkError as exc:
        log.error("cannot reach the Telegram Bot API: %r", exc)
        code = 1
    finally:
        servers.drain()
        for ch in channels:
            await _quietly(f"stopping {ch.name}", ch.stop_receiving)
        if runtime.started:
            await _quietly("stopping the runtime", lambda: runtime.stop(DRAIN_SECONDS))
        for ch in channels:
            await _quietly(f"acknowledging {ch.name}", ch.ack)
            await _quietly(f"closing {ch.name}", ch.close)
        await _quietly("stopping the web servers", servers.stop)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return code


async def _quietly(what: str, step: Callable[[], Awaitable[object]]) -> None:
    """One shutdown step: its failure is logged, and neither skips the steps after it nor hides the
    error that ended the run."""
    try:
        await step()
    except Exception as exc:  # noqa: BLE001
        log.error("%s failed: %r", what, exc)


async def _until_stopped(stop: asyncio.Event, channels: list[Channel]) -> int:
    """Wait for a stop signal; a channel whose receiving loop died for good ends the run with 2."""
    watched = [t for ch in channels for t in getattr(ch, "background", lambda: [])()]
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *watched], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    for task in done:
        if task is not stopper and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    log.info("stopping: no new updates are taken; finishing those in flight")
    return 0


def chat(settings: Settings, *, visual: bool | None = None) -> int:
    """``rashut chat``: the console chat on the runtime (the store keeps the queue and statistics).

    The runtime runs in an event loop on a thread of its own and the terminal is read in the main
    thread, so Ctrl+C reaches the reading at once (an event loop blocked in a read would not see it)."""
    from handlers.console import Console

    runtime = Runtime.build(settings)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="runtime", daemon=True)
    thread.start()

    def call(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    try:
        call(runtime.start())  # a failed start stops what it started and raises (one line for the CLI)
        return Console(runtime.router, call, visual=settings.console_visual if visual is None else visual).run()
    finally:
        try:
            if runtime.started:
                call(runtime.stop(0.5))
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
