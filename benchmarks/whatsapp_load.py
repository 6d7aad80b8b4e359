"""Throughput, latency and CPU of the whole WhatsApp path, beside Telegram's in the same run.

    python -m benchmarks.whatsapp_load [--questions 1000] [--users 100] [--paced-rate 40]

What is measured, and why this way:

* The bot runs IN THIS PROCESS as ``rashut run`` builds it with only the WhatsApp settings: the
  runtime, the WhatsApp channel (pywa for sending), the shared webhook server on a loopback port,
  the durable inbox on a temporary SQLite file, the bundled knowledge base.
* Meta's side is the strict Graph API emulator (``tests.graphapi.server``) in ANOTHER PROCESS: it
  signs every webhook it delivers (the bot checks each signature), validates every send against
  Meta's limits and enforces its throughput limit (80 messages/s by default, error 130429), so
  the burst also shows that nothing is lost when the rate limit bites: the bot backs off, retries,
  and every question is answered.
* 100 users, 1,000 questions: 10 per user, alternate questions of distinct entries (each comes back
  to its own entry), so every answer is paired with its question by the 👍 row's entry id.
* Latency: from the webhook's receipt (the emulator's delivery, done when the bot answered 200,
  that is once the message was in the inbox) to the last message of the answer reaching the
  emulator. Both on the emulator's clock (``time.monotonic``, one clock for every process).
* CPU per update: this process's CPU time over the run divided by the answers. The same run then
  measures Telegram's raised-limit burst (``benchmarks.telegram_load``) on the same machine, so the
  two CPU figures compare like with like.

Only JSON goes to stdout.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
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
from handlers.webserver import WebServers  # noqa: E402
from handlers.whatsapp.channel import WhatsAppChannel  # noqa: E402
from tests.graphapi.server import DEFAULT_APP_SECRET, DEFAULT_TOKEN  # noqa: E402

FIRST_NUMBER = 972520000000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GraphProcess:
    def __init__(self, webhook_url: str, mps: float) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.graphapi.server", "--port", "0", "--webhook-url",
                                      webhook_url, "--mps", str(mps)], cwd=REPO, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.stop()
            raise SystemExit("the Graph API emulator did not start")
        info = json.loads(line)
        self.url, self.phone_number_id = info["url"], info["phone_number_id"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def number(user: int) -> str:
    return str(FIRST_NUMBER + user - tl.FIRST_USER)


def vote_entry(call: dict[str, Any]) -> str | None:
    """The entry of an answer's last message (its 👍 row or button carries ``v:1:<entry>``)."""
    inter = (call.get("payload") or {}).get("interactive") or {}
    action = inter.get("action") or {}
    ids = [b["reply"]["id"] for b in action.get("buttons", [])] + [
        r["id"] for s in action.get("sections", []) for r in s.get("rows", [])]
    return next((i.split(":", 2)[2] for i in ids if i.startswith("v:1:")), None)


async def wait_answers(client: httpx.AsyncClient, since: int, expected: int, timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        calls = (await client.get("/_test/calls", params={"since": since})).json()
        done = sum(1 for c in calls if c["kind"] == "message" and c["status"] == 200 and vote_entry(c))
        if done >= expected:
            return calls
        if time.monotonic() > deadline:
            raise SystemExit(f"only {done}/{expected} answers after {timeout}s")
        await asyncio.sleep(0.2)


async def run(kb: Path, plan: list[tuple[int, str, str]], *, rate: float | None, mps: float, warmup: int,
              timeout: float) -> dict[str, Any]:
    port = free_port()
    graph = GraphProcess(f"http://127.0.0.1:{port}/whatsapp", mps)
    try:
        with tempfile.TemporaryDirectory(prefix="rashut-wa-bench-") as tmp:
            settings = Settings(kb_path=kb, db_path=Path(tmp) / "bench.db", hash_key="bench", watch_kb=False,
                                log_level="WARNING", whatsapp_token=DEFAULT_TOKEN,
                                whatsapp_phone_number_id=graph.phone_number_id, whatsapp_app_secret=DEFAULT_APP_SECRET,
                                whatsapp_verify_token="bench", whatsapp_api_base_url=graph.url,
                                whatsapp_webhook_port=port, questions_per_minute=0)
            runtime = Runtime.build(settings)
            channel = WhatsAppChannel(runtime)
            servers = WebServers()
            await runtime.start()
            await channel.start(servers)
            await servers.start()
            try:
                async with httpx.AsyncClient(base_url=graph.url, timeout=60) as client:
                    warm = [{"build": "text", "args": {"wa_id": str(FIRST_NUMBER - 1 - i), "body": q}}
                            for i, (_, _, q) in enumerate(plan[:warmup])]
                    since = (await client.get("/_test/count")).json()["calls"]
                    await client.post("/_test/push", json={"items": warm})
                    await wait_answers(client, since, len(warm), timeout)
                    await client.post("/_test/reset")
                    items = [{"build": "text", "args": {"wa_id": number(u), "body": q}} for u, _, q in plan]
                    cpu0, wall0 = time.process_time(), time.monotonic()
                    pushed = (await client.post("/_test/push", json={"items": items, **({"rate": rate} if rate
                                                                                           else {})})).json()["wamids"]
                    calls = await wait_answers(client, 0, len(plan), timeout)
                    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
                    deliveries = (await client.get("/_test/deliveries")).json()
            finally:
                await servers.stop()
                await runtime.stop()
                await channel.close()
    finally:
        graph.stop()
    result = analyse(plan, pushed, calls, deliveries, cpu=cpu, wall=wall, rate=rate, mps=mps)
    result["send_to_done_ms"] = tl.done_window(runtime)
    return result


def analyse(plan: list[tuple[int, str, str]], wamids: list[str], calls: list[dict[str, Any]],
            deliveries: list[dict[str, Any]], *, cpu: float, wall: float, rate: float | None,
            mps: float) -> dict[str, Any]:
    received: dict[str, float] = {}
    for d in deliveries:
        if d["status"] == 200:
            for w in d["wamids"]:
                received.setdefault(w, d["time"])
    question_of = {w: (number(u), e) for w, (u, e, _q) in zip(wamids, plan)}
    at = {key: received[w] for w, key in question_of.items() if w in received}
    latencies, seen = [], set()
    for c in calls:
        if c["kind"] != "message" or c["status"] != 200:
            continue
        key = (c["to"], vote_entry(c))
        if key in at and key not in seen:
            seen.add(key)
            latencies.append((c["time"] - at[key]) * 1000)
    sends = [c for c in calls if c["kind"] == "message"]
    refused: dict[str, int] = defaultdict(int)
    for c in sends:
        if c["status"] != 200:
            refused[str(c["code"])] += 1
    first = min(at.values()) if at else 0.0
    last = max((c["time"] for c in sends if c["status"] == 200), default=first)
    span = last - first
    return {
        "load": f"paced at {rate:g} questions/s" if rate else "burst: all questions pushed at once",
        "emulator_limit_messages_per_second": mps,
        "questions": len(plan), "users": len({u for u, _, _ in plan}),
        "answered": len(latencies), "lost": len(plan) - len(latencies),
        "messages_sent": sum(1 for c in sends if c["status"] == 200),
        "refused_by_code": dict(refused),
        "questions_per_second": round(len(latencies) / span, 1) if span > 0 else None,
        "latency_ms": {"p50": round(tl.pct(latencies, 50), 1), "p90": round(tl.pct(latencies, 90), 1),
                       "p99": round(tl.pct(latencies, 99), 1), "max": round(max(latencies), 1),
                       "mean": round(statistics.fmean(latencies), 1)},
        "bot_cpu_seconds": round(cpu, 3),
        "bot_cpu_ms_per_update": round(cpu * 1000 / max(1, len(latencies)), 3),
        "bot_cpu_utilisation": round(cpu / wall, 2) if wall else None,
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    kb = tl.choose_kb(args.kb)
    host = machine()
    plan = tl.workload(kb, args.users, args.questions, args.seed)
    results: dict[str, Any] = {}
    results["whatsapp_burst"] = await run(kb, plan, rate=None, mps=args.mps, warmup=args.warmup, timeout=args.timeout)
    results["whatsapp_paced"] = await run(kb, plan, rate=args.paced_rate, mps=args.mps, warmup=args.warmup,
                                          timeout=args.timeout)
    emu = tl.EmulatorProcess()
    try:
        results["telegram_raised_limit_burst"] = await tl.run(emu, kb, plan, raised=True, rate=None,
                                                              warmup=args.warmup, timeout=args.timeout)
    finally:
        emu.stop()
    wa, tg = results["whatsapp_burst"]["bot_cpu_ms_per_update"], results["telegram_raised_limit_burst"][
        "bot_cpu_ms_per_update"]
    results["cpu_per_update_whatsapp_vs_telegram"] = {"whatsapp_ms": wa, "telegram_ms": tg,
                                                      "bar_met": bool(wa <= tg)}
    return {"benchmark": "whatsapp_load", "kb": str(kb.relative_to(REPO) if kb.is_relative_to(REPO) else kb),
            "machine": host, "cpus": os.cpu_count(), "results": results}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="WhatsApp path throughput/latency/CPU against the Graph API emulator")
    p.add_argument("--questions", type=int, default=1000)
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--kb", default=None)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--mps", type=float, default=80.0, help="the emulator's throughput limit (Meta's default: 80/s)")
    p.add_argument("--paced-rate", type=float, default=40.0)
    p.add_argument("--timeout", type=float, default=600.0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    print(json.dumps(asyncio.run(main_async(args)), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
