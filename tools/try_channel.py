"""Chat with the bot through a real channel stack, on this machine, with no token and no network.

    python -m tools.try_channel telegram     # or: make try-telegram
    python -m tools.try_channel whatsapp     # or: make try-whatsapp

It starts the strict local emulator of the channel's API (the one the end-to-end tests use:
``tests/botapi`` for Telegram, ``tests/graphapi`` for WhatsApp's Cloud API) and ``rashut run`` as a
subprocess configured against it, exactly as in production but on 127.0.0.1. What you type is
sent as a user's message; what the bot sends back is printed with its buttons numbered: type the
number to press one. Ctrl+C or Ctrl+D ends both. The bot's own log goes to a file (its path is
printed), and its store to a temporary folder removed at the end.
"""
from __future__ import annotations

import argparse
import asyncio
import html
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.botapi.server import BotApiEmulator  # noqa: E402
from tests.graphapi.server import DEFAULT_TOKEN as WA_TOKEN, GraphApiEmulator  # noqa: E402

TG_TOKEN = "123456:TRY-LOCALLY-abcdefghijklmnopqrstuvwxyz0123"  # fake; only the emulator accepts it
USER_ID = 424242
WA_USER = "972500000001"
WAIT = 30.0


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(env: dict[str, str], folder: Path) -> subprocess.Popen[bytes]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WHATSAPP_", "RASHUT_", "WEBHOOK_"))}
    full.update(env, RASHUT_DB=str(folder / "rashut.db"), RASHUT_HASH_KEY="try-locally", RASHUT_WATCH_KB="1",
                NO_PROXY="127.0.0.1,localhost", PYTHONUNBUFFERED="1")
    log = (folder / "bot.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=REPO, env=full, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=log)


def visible(text: str) -> str:
    """Telegram HTML as a person sees it."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def show(text: str, buttons: list[tuple[str, str]]) -> None:
    print(text.strip())
    for i, (label, _data) in enumerate(buttons, 1):
        print(f"  [{i}] {label}")


def read() -> str | None:
    try:
        import readline  # noqa: F401 - line editing

        return input("\nאתם> ")
    except (EOFError, KeyboardInterrupt):
        return None


async def telegram(folder: Path) -> None:
    with BotApiEmulator(TG_TOKEN).running() as emu:
        bot = start({"TELEGRAM_BOT_TOKEN": TG_TOKEN, "TELEGRAM_API_BASE_URL": emu.base_url,
                     "CURATOR_IDS": str(USER_ID)}, folder)
        try:
            deadline = time.monotonic() + 60
            while not emu.calls("getUpdates", ok=True):
                if bot.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the bot did not start; see {folder / 'bot.log'}")
                await asyncio.sleep(0.2)
            print(f"Telegram, through python-telegram-bot and the local Bot API emulator (log: {folder / 'bot.log'}).")
            print("You are a curator here too: try /unanswered. Ctrl+C to leave.")
            last: Any = None
            while (line := read()) is not None:
                since = emu.mark()
                if line.strip().isdigit() and last is not None and 0 < int(line) <= len(last.buttons()):
                    data = last.buttons()[int(line) - 1][1]
                    emu.push_callback(USER_ID, last.result, data)
                else:
                    emu.push_private_text(USER_ID, line)
                try:
                    await emu.wait_for("sendMessage", lambda c: c.chat_id == USER_ID, WAIT, since=since)
                except Exception:  # noqa: BLE001 - a silent bot (a group-only command, a flood) is a possible answer
                    print("(no answer)")
                    continue
                await asyncio.sleep(0.3)  # a long answer comes in several messages
                for call in [c for c in emu.calls("sendMessage", ok=True, since=since) if c.chat_id == USER_ID]:
                    show(visible(call.text or ""), [(b or "", d or "") for b, d in call.buttons()])
                    last = call
        finally:
            bot.terminate()
            bot.wait(15)


async def whatsapp(folder: Path) -> None:
    port = free_port()
    with GraphApiEmulator(webhook_url=f"http://127.0.0.1:{port}/whatsapp").running() as emu:
        bot = start({"WHATSAPP_TOKEN": WA_TOKEN, "WHATSAPP_PHONE_NUMBER_ID": emu.phone_number_id,
                     "WHATSAPP_APP_SECRET": emu.app_secret, "WHATSAPP_VERIFY_TOKEN": "try-locally",
                     "WHATSAPP_API_BASE_URL": emu.url, "WHATSAPP_WEBHOOK_PORT": str(port),
                     "WHATSAPP_CURATORS": WA_USER}, folder)
        try:
            import socket

            deadline = time.monotonic() + 60
            while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
                if bot.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the bot did not start; see {folder / 'bot.log'}")
                await asyncio.sleep(0.2)
            print(f"WhatsApp, through pywa and the local Cloud API emulator (log: {folder / 'bot.log'}).")
            print("You are a curator here too: try /unanswered. Ctrl+C to leave.")
            last: Any = None
            while (line := read()) is not None:
                since = len(emu.calls())
                options = (last.buttons() or [(r[0], r[1]) for r in last.rows()]) if last is not None else []
                if line.strip().isdigit() and 0 < int(line) <= len(options):
                    chosen = options[int(line) - 1][0]
                    kind = emu.button_reply if last.buttons() else emu.list_reply
                    emu.push(kind(WA_USER, last, chosen))
                else:
                    emu.push(emu.text(WA_USER, line))
                try:
                    await emu.across(emu.wait_for(lambda c: c.seq >= since and c.to == WA_USER and c.ok, WAIT))
                except Exception:  # noqa: BLE001
                    print("(no answer)")
                    continue
                await asyncio.sleep(0.3)
                for call in emu.sent(WA_USER, since=since):
                    labels = [(t, i) for i, t in call.buttons()] or [(f"{t} ({d})" if d else t, i)
                                                                     for i, t, d in call.rows()]
                    show(call.text or "", labels)
                    last = call
        finally:
            bot.terminate()
            bot.wait(15)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("channel", choices=["telegram", "whatsapp"])
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rashut-try-") as tmp:
        try:
            asyncio.run(telegram(Path(tmp)) if args.channel == "telegram" else whatsapp(Path(tmp)))
        except KeyboardInterrupt:
            pass
    print("\nלהתראות! 👋")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
