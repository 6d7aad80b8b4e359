"""Throughput and latency of the whole Telegram path, python-telegram-bot included.

    python -m benchmarks.telegram_load [--questions 1000] [--users 100] [--skip-production]

What is measured, and why this way:

* The bot runs IN THIS PROCESS exactly as ``rashut run`` builds it: the runtime and the Telegram
  channel (handlers, ``AIORateLimiter``, the durable inbox and its workers), a real aiosqlite
  store on a temporary file, the knowledge base of ``knowledge/base`` (or the e2e fixture), long
  polling over real HTTP. In-process only so the rate
  limiter can be swapped for the second configuration; nothing else is stubbed.
* The Telegram side is the strict Bot API emulator (``tests.botapi.server``) in ANOTHER PROCESS,
  standing in for Telegram's servers: its CPU is not charged to the bot, as in production, and it
  still validates every message (HTML, lengths, callback data) so an invalid reply would show up
  as an error, not as a fast one.
* Latency is "update available -> reply arrived": from the moment the emulator queued the update
  (it is then returned by the bot's pending long poll) to the moment the bot's ``sendMessage``
  for it reached the emulator. Both timestamps are taken by the emulator on one clock
  (``time.monotonic``). Each user has at most one question per entry, and the reply names its
  entry in the 👍/👎 callback data, so replies are paired with their questions exactly.
* 100 users = 100 private chats; 1,000 questions = 10 per user, alternate questions of the base's
  entries (each is known to come back to its own entry: ``rashut kb check``).

Configurations (all printed, each labelled):

* ``production``: the application as built for production. ``AIORateLimiter`` keeps the whole bot
  under Telegram's broadcast limit of 30 messages per second, so the burst measures the limiter:
  ~30 replies/s however fast the bot is (Telegram would answer faster bursts with 429). A paced
  run below that limit (25/s by default) gives the latency users see when the bot is not
  saturated.
* ``raised_limit``: the same application with the limiter's overall rate raised to 10,000/s (the
  limiter object and its retry logic stay in the path): what the code itself sustains. A burst
  (all questions queued at once) gives the throughput; a paced run at a steady offered rate below
  that gives the latency of a bot that is not saturated.

Only JSON goes to stdout.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
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

from benchmarks.common import machine  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.settings import Settings  # noqa: E402
from handlers.telegram.channel import TelegramChannel  # noqa: E402
from handlers.webserver import WebServers  # noqa: E402
from knowledge.engine import Engine  # noqa: E402

TOKEN = "123456:TEST-TOKEN-abcdefghijklmnopqrstuvwxyz012345"  # fake; only the emulator accepts it
BUNDLED = REPO / "knowledge" / "base"
FIXTURE = REPO / "tests" / "e2e" / "fixtures" / "kb"
FIRST_USER = 20_000
RAISED_RATE = 10_000


# ---------------------------------------------------------------------- workload
def choose_kb(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    return BUNDLED if any(BUNDLED.rglob("*.yaml")) else FIXTURE


def workload(kb: Path, users: int, questions: int, seed: int) -> list[tuple[int, str, str]]:
    """(user id, expected entry id, question) in push order: round-robin over the users, each user
    asking about distinct entries."""
    snap = Engine(kb).snapshot
    by_entry = {e.id: list(e.questions) for e in snap.kb.entries.values() if e.questions}
    rng = random.Random(seed)
    per_user = -(-questions // users)
    if per_user > len(by_entry):
        raise SystemExit(f"{kb} has {len(by_entry)} entries with questions; need {per_user} per user")
    plan: list[list[tuple[str, str]]] = []
    for _ in range(users):
        entries = rng.sample(sorted(by_entry), per_user)
        plan.append([(e, rng.choice(by_entry[e])) for e in entries])
    out = []
    for k in range(per_user):
        for u in range(users):
            if len(out) < questions:
                out.append((FIRST_USER + u, *plan[u][k]))
    return out


def private_update(user_id: int, text: str) -> dict[str, Any]:
    user = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}", "language_code": "he"}
    return {"message": {"from": user, "chat": {"id": user_id, "type": "private", "first_name": user["first_name"]},
                        "date": int(time.time()), "text": text}}


# ---------------------------------------------------------------------- emulator process
class EmulatorProcess:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.botapi.server", "--port", "0"], cwd=REPO,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.stop()
            raise SystemExit("the Bot API emulator did not start")
        info = json.loads(line)
        self.base_url = info["base_url"]
        self.url = self.base_url.rsplit("/bot", 1)[0]

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the emulator process has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


# ---------------------------------------------------------------------- one run
def done_window(runtime: Runtime) -> dict[str, float]:
    """The inbox's send-to-done window (a crash inside it is the only way a reply goes out twice)."""
    w = [x * 1000 for x in runtime.inbox.counters.done_window]
    return {"p50": round(pct(w, 50), 3), "p99": round(pct(w, 99), 3), "max": round(max(w), 3)} if w else {}


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


async def wait_replies(client: httpx.AsyncClient, since: int, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        got = (await client.get("/_test/count", params={"method": "sendMessage", "since": since})).json()["count"]
        if got >= expected:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"only {got}/{expected} replies after {timeout}s")
        await asyncio.sleep(0.1)


async def run(emu: EmulatorProcess, kb: Path, plan: list[tuple[int, str, str]], *, raised: bool,
              rate: float | None, warmup: int, timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rashut-bench-") as tmp:
        # the only change from production, when raised: the limiter's overall rate
        settings = Settings(telegram_token=TOKEN, telegram_api_base_url=emu.base_url, kb_path=kb,
                            db_path=Path(tmp) / "bench.db", hash_key="bench", watch_kb=False, log_level="WARNING",
                            telegram_rate=RAISED_RATE if raised else Settings.telegram_rate,
                            questions_per_minute=0)
        runtime = Runtime.build(settings)
        channel = TelegramChannel(runtime)
        await runtime.start()
        await channel.start(WebServers())  # polling: getUpdates -> the durable inbox -> the workers
        async with httpx.AsyncClient(base_url=emu.url, timeout=60) as client:
            try:
                # warm-up: connection pools, first-call paths (not measured)
                since = (await client.get("/_test/count")).json()["calls"]
                warm = [private_update(FIRST_USER + 10_000 + i, q) for i, (_, _, q) in enumerate(plan[:warmup])]
                await client.post("/_test/push", json={"updates": warm})
                await wait_replies(client, since, len(warm), timeout)

                since = (await client.get("/_test/count")).json()["calls"]
                updates = [private_update(u, q) for u, _, q in plan]
                emu_cpu0 = emu.cpu_seconds()
                cpu0, wall0 = time.process_time(), time.monotonic()
                await client.post("/_test/push", json={"updates": updates, **({"rate": rate} if rate else {})})
                await wait_replies(client, since, len(updates), timeout)
                cpu = time.process_time() - cpu0
                wall = time.monotonic() - wall0
                emu_cpu = emu.cpu_seconds() - emu_cpu0
                calls = (await client.get("/_test/calls", params={"since": since})).json()
                times = (await client.get("/_test/updates")).json()
            finally:
                await channel.stop_receiving()
                await runtime.stop()
                await channel.close()
    result = analyse(plan, calls, times, cpu=cpu, wall=wall, rate=rate, raised=raised)
    result["send_to_done_ms"] = done_window(runtime)
    result["emulator_cpu_utilisation"] = round(emu_cpu / wall, 2) if wall else None
    return result


def analyse(plan: list[tuple[int, str, str]], calls: list[dict[str, Any]], times: dict[str, dict[str, Any]],
            *, cpu: float, wall: float, rate: float | None, raised: bool) -> dict[str, Any]:
    expected = {(u, q): e for u, e, q in plan}
    # the measured updates: pushed during this run, from the plan's users, in push order
    pushed: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for uid, t in sorted(times.items(), key=lambda kv: int(kv[0])):
        key = (t.get("chat_id"), t.get("text"))
        if key in expected:
            pushed[key[0]].append({**t, "entry": expected[key], "matched": False})
    # keep only this run's copies (a chat's questions repeat across runs): the last len(plan) per chat
    per_chat = defaultdict(int)
    for u, _, _ in plan:
        per_chat[u] += 1
    for chat in pushed:
        pushed[chat] = pushed[chat][-per_chat[chat]:]

    sends = [c for c in calls if c["method"] == "sendMessage"]
    ok_sends = [c for c in sends if c["ok"] and c["params"].get("chat_id") in pushed]
    latencies, fetch_delays, exact, unpaired = [], [], 0, []
    for c in sorted(ok_sends, key=lambda c: c["time"]):
        chat = c["params"]["chat_id"]
        data = [b.get("callback_data", "") for row in (c["params"].get("reply_markup") or {}).get("inline_keyboard", [])
                for b in row]
        entry = next((d.split(":", 2)[2] for d in data if d.startswith("v:1:")), None)
        queue = [p for p in pushed[chat] if not p["matched"]]
        if not queue:  # more replies than questions in this chat (e.g. an error apology)
            unpaired.append({"chat_id": chat, "text": c["params"].get("text", "")[:120]})
            continue
        hit = next((p for p in queue if p["entry"] == entry), None)
        exact += hit is not None
        p = hit or queue[0]
        p["matched"] = True
        latencies.append((c["time"] - p["pushed"]) * 1000)
        if p.get("fetched") is not None:
            fetch_delays.append((p["fetched"] - p["pushed"]) * 1000)
    all_pushed = [p for ps in pushed.values() for p in ps]
    first_push = min(p["pushed"] for p in all_pushed)
    last_reply = max(c["time"] for c in ok_sends)
    span = last_reply - first_push
    failures = [c for c in calls if not c["ok"] and not c.get("abandoned")]
    by_status: dict[str, int] = defaultdict(int)
    for c in failures:
        by_status[f"{c['method']} {c['status']}"] += 1
    return {
        "limiter": (f"AIORateLimiter overall {RAISED_RATE}/s (raised)" if raised
                    else "AIORateLimiter as built for production (overall 30/s)"),
        "load": f"paced at {rate:g} updates/s" if rate else "burst: all questions queued at once",
        "questions": len(plan),
        "users": len({u for u, _, _ in plan}),
        "replies": len(latencies),
        "replies_paired_by_entry": exact,
        "updates_per_second": round(len(latencies) / span, 1) if span > 0 else None,
        "span_seconds": round(span, 3),
        "latency_ms": {"p50": round(pct(latencies, 50), 1), "p90": round(pct(latencies, 90), 1),
                       "p99": round(pct(latencies, 99), 1), "max": round(max(latencies), 1),
                       "mean": round(statistics.fmean(latencies), 1)},
        "pickup_ms_p50": round(pct(fetch_delays, 50), 1),  # pushed -> returned by getUpdates
        "bot_cpu_seconds": round(cpu, 3),
        "bot_cpu_ms_per_update": round(cpu * 1000 / max(1, len(latencies)), 3),
        "bot_cpu_utilisation": round(cpu / wall, 2) if wall else None,
        "rejected_calls": dict(by_status),
        "unpaired_replies": unpaired,
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    kb = choose_kb(args.kb)
    host = machine()  # before any load of ours
    plan = workload(kb, args.users, args.questions, args.seed)
    emu = EmulatorProcess()
    try:
        results: dict[str, Any] = {}
        if not args.skip_production:
            results["production_burst"] = await run(emu, kb, plan, raised=False, rate=None, warmup=args.warmup,
                                                    timeout=args.timeout)
            results["production_paced"] = await run(emu, kb, plan, raised=False, rate=args.production_paced_rate,
                                                    warmup=args.warmup, timeout=args.timeout)
        burst = await run(emu, kb, plan, raised=True, rate=None, warmup=args.warmup, timeout=args.timeout)
        results["raised_limit_burst"] = burst
        paced_rate = args.paced_rate or max(10.0, round((burst["updates_per_second"] or 20) * 0.5, -1))
        results["raised_limit_paced"] = await run(emu, kb, plan, raised=True, rate=paced_rate, warmup=args.warmup,
                                                  timeout=args.timeout)
    finally:
        emu.stop()
    return {"benchmark": "telegram_load", "kb": str(kb.relative_to(REPO) if kb.is_relative_to(REPO) else kb),
            "machine": host, "results": results}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Telegram path throughput/latency against the Bot API emulator")
    p.add_argument("--questions", type=int, default=1000)
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--kb", default=None, help="knowledge folder (default: knowledge/base, else the e2e fixture)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--paced-rate", type=float, default=None,
                   help="offered load of the paced run (default: half the measured burst throughput)")
    p.add_argument("--production-paced-rate", type=float, default=25.0,
                   help="offered load of the paced production run (below the limiter's 30/s)")
    p.add_argument("--skip-production", action="store_true",
                   help="skip the two (slow, at most 30/s) production-limiter runs")
    p.add_argument("--timeout", type=float, default=600.0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    result = asyncio.run(main_async(args))
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
