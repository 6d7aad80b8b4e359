"""Two replicas on one PostgreSQL behind one webhook URL, beside one replica on SQLite, in one run.

    python -m benchmarks.replicas [--questions 1000] [--replicas 2]

What is measured, and why this way:

* Each replica is `rashut run` as a subprocess, in Telegram webhook mode, exactly as deployed: the
  same `WEBHOOK_URL` (the load balancer's), its own port, `RASHUT_DB` the shared PostgreSQL (a
  throwaway server on this machine, ``tests/pgserver.py``), the bundled knowledge base. The rate
  limiter is raised (`TELEGRAM_MESSAGES_PER_SECOND=10000`) so the bot, not Telegram's 30/s
  broadcast limit, is measured; the per-user question limit is off.
* Telegram is the strict Bot API emulator (``tests.botapi.server``) in another process; it delivers
  every update to the webhook URL, where a round-robin reverse proxy in this process (standing in
  for the load balancer) hands each one to the next replica.
* Latency: from the moment the emulator queued an update to the moment the reply reached it (one
  clock, ``time.monotonic``). Each question comes from its own chat, so replies pair by chat.
* CPU per update: the replicas' CPU time (user + system, from /proc) over the run, divided by the
  answers. The proxy's and the emulator's CPU are not charged.

Only JSON goes to stdout.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from aiohttp import web

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import telegram_load as tl  # noqa: E402
from benchmarks.common import machine  # noqa: E402
from tests.pgserver import Server as PgServer  # noqa: E402

SECRET = "bench-Replicas_Secret-0123456789"
FIRST_CHAT = 500_000


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Balancer:
    """A round-robin reverse proxy: the one public webhook URL in front of the replicas."""

    def __init__(self, ports: list[int]) -> None:
        self.targets = itertools.cycle([f"http://127.0.0.1:{p}" for p in ports])
        self.port = tl_free_port()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() in (
            "content-type", "x-telegram-bot-api-secret-token")}
        async with self._session.post(next(self.targets) + request.path, data=body, headers=headers) as resp:
            return web.Response(status=resp.status, body=await resp.read())

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()


def tl_free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def replica(emu: tl.EmulatorProcess, port: int, public: str, db: str, workdir: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WHATSAPP_", "RASHUT_", "WEBHOOK_"))}
    env.update(TELEGRAM_BOT_TOKEN=tl.TOKEN, TELEGRAM_API_BASE_URL=emu.base_url, WEBHOOK_URL=public,
               WEBHOOK_SECRET=SECRET, WEBHOOK_LISTEN="127.0.0.1", WEBHOOK_PORT=str(port), RASHUT_DB=db,
               RASHUT_HASH_KEY="bench", RASHUT_WATCH_KB="0", TELEGRAM_MESSAGES_PER_SECOND="10000",
               QUESTIONS_PER_MINUTE="0", LOG_LEVEL="WARNING", XDG_DATA_HOME=str(workdir / "xdg"),
               XDG_CACHE_HOME=str(workdir / "cache"), NO_PROXY="127.0.0.1,localhost")
    log = (workdir / f"replica-{port}.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=log)


async def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"replica on port {port} did not start (exit {proc.poll()})")
        await asyncio.sleep(0.2)


async def run(db_of: Any, count: int, questions: list[str], warmup: int, timeout: float, label: str) -> dict[str, Any]:
    emu = tl.EmulatorProcess()
    ports = [tl_free_port() for _ in range(count)]
    balancer = Balancer(ports)
    await balancer.start()
    public = f"http://127.0.0.1:{balancer.port}/hook"
    with tempfile.TemporaryDirectory(prefix="rashut-replicas-") as tmp:
        procs = [replica(emu, p, public, db_of(Path(tmp)), Path(tmp)) for p in ports]
        try:
            for p, proc in zip(ports, procs):
                await wait_port(p, proc)
            async with httpx.AsyncClient(base_url=emu.url, timeout=60) as client:
                for _ in range(200):  # the webhook is set (by every replica, to the same public URL)
                    if (await client.get("/_test/info")).json().get("webhook", {}).get("url") == public:
                        break
                    await asyncio.sleep(0.1)
                chat = itertools.count(FIRST_CHAT)
                warm = [tl.private_update(next(chat), q) for q in questions[:warmup]]
                since = (await client.get("/_test/count")).json()["calls"]
                await client.post("/_test/push", json={"updates": warm})
                await tl.wait_replies(client, since, len(warm), timeout)
                chats = [next(chat) for _ in questions]
                updates = [tl.private_update(c, q) for c, q in zip(chats, questions)]
                since = (await client.get("/_test/count")).json()["calls"]
                cpu0 = sum(cpu_seconds(pr.pid) for pr in procs)
                wall0 = time.monotonic()
                await client.post("/_test/push", json={"updates": updates})
                await tl.wait_replies(client, since, len(updates), timeout)
                wall = time.monotonic() - wall0
                cpu = sum(cpu_seconds(pr.pid) for pr in procs) - cpu0
                calls = (await client.get("/_test/calls", params={"method": "sendMessage", "since": since})).json()
                times = (await client.get("/_test/updates")).json()
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            await balancer.stop()
            emu.stop()
    pushed = {t["chat_id"]: t["pushed"] for t in times.values() if t.get("chat_id") in set(chats)}
    replies: dict[int, float] = {}
    for c in calls:
        cid = c["params"].get("chat_id")
        if c["ok"] and cid in pushed and cid not in replies:
            replies[cid] = c["time"]
    lat = [(replies[c] - pushed[c]) * 1000 for c in replies]
    span = max(replies.values()) - min(pushed.values()) if replies else 0.0
    answers_per_chat = [sum(1 for c in calls if c["ok"] and c["params"].get("chat_id") == cid) for cid in chats]
    return {
        "setup": label, "replicas": count, "questions": len(questions), "answered": len(replies),
        "answered_twice": sum(1 for n in answers_per_chat if n > 1),
        "updates_per_second": round(len(replies) / span, 1) if span else None,
        "latency_ms": {"p50": round(tl.pct(lat, 50), 1), "p90": round(tl.pct(lat, 90), 1),
                       "p99": round(tl.pct(lat, 99), 1), "mean": round(statistics.fmean(lat), 1)},
        "cpu_seconds_all_replicas": round(cpu, 3),
        "cpu_ms_per_update": round(cpu * 1000 / max(1, len(replies)), 3),
        "wall_seconds": round(wall, 3),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    kb = tl.choose_kb(None)
    host = machine()
    plan = tl.workload(kb, max(1, args.questions // 10), args.questions + args.warmup, args.seed)
    questions = [q for _u, _e, q in plan]
    results: dict[str, Any] = {}
    with PgServer() as pg:
        url = pg.create_database("bench")
        results["postgresql"] = await run(lambda _tmp: url, args.replicas, questions[args.warmup:],
                                          args.warmup, args.timeout, f"{args.replicas} replicas, one PostgreSQL 15")
    results["sqlite"] = await run(lambda tmp: str(tmp / "rashut.db"), 1, questions[args.warmup:], args.warmup,
                                  args.timeout, "1 replica, SQLite")
    return {"benchmark": "replicas", "machine": host, "results": results}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="replicas on PostgreSQL beside one replica on SQLite")
    p.add_argument("--questions", type=int, default=1000)
    p.add_argument("--replicas", type=int, default=2)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--timeout", type=float, default=600.0)
    args = p.parse_args(argv)
    print(json.dumps(asyncio.run(main_async(args)), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
