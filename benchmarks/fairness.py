"""One user's flood against another user's answer.

    python -m benchmarks.fairness [--flood 1500]

User A sends ``--flood`` questions at once; right after them user B asks one. Measured: B's
latency (update queued -> reply received, on the emulator's clock) beside B's latency with no
flood, how many replies A got, and how long until A's flood was drained from the inbox. The bot
runs in this process as ``rashut run`` builds it (Telegram polling, the durable inbox, the
default per-user limit of 20 questions a minute), the Bot API emulator in another process; once
with the production rate limiter (30 messages/s to all chats) and once with it raised.

Only JSON goes to stdout.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import telegram_load as tl  # noqa: E402
from benchmarks.common import machine  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.settings import Settings  # noqa: E402
from handlers.telegram.channel import TelegramChannel  # noqa: E402
from handlers.webserver import WebServers  # noqa: E402

A, B = 610_001, 610_002
QUESTION = "מה התקציב של החלטה 546"


async def reply_time(client: httpx.AsyncClient, chat: int, since: int, timeout: float = 120) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for c in (await client.get("/_test/calls", params={"method": "sendMessage", "since": since})).json():
            if c["ok"] and c["params"].get("chat_id") == chat:
                return c["time"]
        await asyncio.sleep(0.02)
    raise SystemExit(f"no reply to chat {chat} within {timeout} s")


async def run(kb: Path, flood: int, rate: float, label: str) -> dict[str, Any]:
    emu = tl.EmulatorProcess()
    try:
        with tempfile.TemporaryDirectory(prefix="rashut-fair-") as tmp:
            settings = Settings(telegram_token=tl.TOKEN, telegram_api_base_url=emu.base_url, kb_path=kb,
                                db_path=Path(tmp) / "f.db", hash_key="bench", watch_kb=False, log_level="WARNING",
                                telegram_rate=rate)
            runtime = Runtime.build(settings)
            channel = TelegramChannel(runtime)
            await runtime.start()
            await channel.start(WebServers())
            try:
                async with httpx.AsyncClient(base_url=emu.url, timeout=60) as client:
                    since = (await client.get("/_test/count")).json()["calls"]
                    alone = (await client.post("/_test/push", json={"updates": [tl.private_update(B, QUESTION)]}
                                               )).json()["update_ids"][0]
                    t_reply = await reply_time(client, B, since)
                    quiet = t_reply - (await client.get("/_test/updates")).json()[str(alone)]["pushed"]
                    await asyncio.sleep(61)  # B's minute of the per-user limit is over
                    since = (await client.get("/_test/count")).json()["calls"]
                    ids = (await client.post("/_test/push", json={"updates": [
                        tl.private_update(A, f"{QUESTION} ({i})") for i in range(flood)]
                        + [tl.private_update(B, QUESTION + " שוב")]})).json()["update_ids"]
                    t_b = await reply_time(client, B, since)
                    pushed = (await client.get("/_test/updates")).json()
                    busy = t_b - pushed[str(ids[-1])]["pushed"]
                    t0 = time.monotonic()
                    while runtime.store is not None and await runtime.store.inbox_pending() > 0:
                        await asyncio.sleep(0.1)
                    drained = time.monotonic() - t0
                    calls = (await client.get("/_test/calls", params={"method": "sendMessage", "since": since})).json()
            finally:
                await channel.stop_receiving()
                await runtime.stop()
                await channel.close()
    finally:
        emu.stop()
    to_a = [c for c in calls if c["ok"] and c["params"].get("chat_id") == A]
    return {"limiter": label, "flood": flood,
            "b_latency_ms_alone": round(quiet * 1000, 1), "b_latency_ms_during_flood": round(busy * 1000, 1),
            "b_delay_added_ms": round((busy - quiet) * 1000, 1),
            "replies_to_flooder": len(to_a), "flood_drained_after_b_s": round(drained, 2)}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    kb = tl.choose_kb(None)
    host = machine()
    results = [await run(kb, args.flood, 30.0, "production (30 messages/s to all chats)"),
               await run(kb, args.flood, 10_000.0, "raised (10,000/s)")]
    return {"benchmark": "fairness", "machine": host, "results": results}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="one user's flood against another user's answer")
    p.add_argument("--flood", type=int, default=1500)
    args = p.parse_args(argv)
    print(json.dumps(asyncio.run(main_async(args)), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
