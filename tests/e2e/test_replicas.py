"""Several replicas of `rashut run` (subprocesses) behind one URL, sharing one PostgreSQL and one
knowledge folder: an update delivered to every replica is answered once, a storm delivered twice is
answered exactly once per update, a replica killed mid-burst leaves nothing acknowledged behind, a
curator's resolve on one replica is answered by another without a restart, and the daily digest
goes out once in all.

Each replica serves the Telegram webhook and the WhatsApp webhook on one port (one server).
Updates are posted straight to a chosen replica's URL, as a load balancer would.
"""
from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from tests.botapi.server import BotApiEmulator
from tests.e2e.conftest import (FIXTURE_KB, STARTUP_TIMEOUT, TOKEN, WA_TOKEN, WEBHOOK_SECRET, BotProcess, free_port,
                                port_open, start_bot, stop_and_audit, telegram_env, wait_until, whatsapp_env)
from tests.graphapi.server import GraphApiEmulator

BUDGET_Q = "מה התקציב של החלטה 4321?"
REPLICAS = 3


def replica(emu: BotApiEmulator, graph: GraphApiEmulator, workdir: Path, kb: Path, db: str, port: int) -> BotProcess:
    env = {**telegram_env(emu), **whatsapp_env(graph, port), "WEBHOOK_URL": f"http://127.0.0.1:{port}/hook",
           "WEBHOOK_SECRET": WEBHOOK_SECRET, "WEBHOOK_LISTEN": "127.0.0.1", "WEBHOOK_PORT": str(port),
           "TELEGRAM_MESSAGES_PER_SECOND": "1000", "QUESTIONS_PER_MINUTE": "0"}
    bot = start_bot(emu, workdir, channels=env, RASHUT_KB=str(kb), RASHUT_DB=db)
    wait_until(lambda: port_open(port), bot, STARTUP_TIMEOUT, f"replica on port {port}")
    return bot


@pytest.fixture(scope="module")
def cluster(emulator: BotApiEmulator, graph: GraphApiEmulator, pg_server,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[BotProcess], list[int], str, Path]]:
    import shutil

    db = pg_server.create_database("replicas")
    kb = tmp_path_factory.mktemp("shared") / "kb"
    shutil.copytree(FIXTURE_KB, kb)  # the shared volume every replica reads
    ports = [free_port() for _ in range(REPLICAS)]
    bots = [replica(emulator, graph, tmp_path_factory.mktemp(f"replica{i}"), kb, db, p) for i, p in enumerate(ports)]
    try:
        yield bots, ports, db, kb
    finally:
        for b in bots:
            if b.alive():
                stop_and_audit(b, TOKEN, WEBHOOK_SECRET, WA_TOKEN, graph.app_secret)


def url(port: int) -> str:
    return f"http://127.0.0.1:{port}/hook"


def sent_to(emu: BotApiEmulator, chats: set[int]) -> Counter[int]:
    return Counter(c.chat_id for c in emu.calls("sendMessage", ok=True) if c.chat_id in chats)


async def settle(emu: BotApiEmulator, chats: set[int], want: int, timeout: float = 60) -> Counter[int]:
    deadline = time.monotonic() + timeout
    while sum(sent_to(emu, chats).values()) < want and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # anything a second replica would send twice is sent by now
    return sent_to(emu, chats)


async def test_the_same_update_to_every_replica_is_answered_once(emulator: BotApiEmulator, cluster) -> None:
    _bots, ports, _db, _kb = cluster
    update = emulator.private_message(700_001, BUDGET_Q)
    update["update_id"] = 9_000_001
    statuses = [await emulator.deliver(update, url=url(ports[0]))]
    statuses += await asyncio.gather(*(emulator.redeliver(9_000_001, url=url(p)) for p in ports[1:]))
    assert statuses == [200] * REPLICAS  # every replica acknowledges; one answers
    assert await settle(emulator, {700_001}, 1) == Counter({700_001: 1})


async def test_the_same_wamid_to_every_replica_is_answered_once(graph: GraphApiEmulator, cluster) -> None:
    _bots, ports, _db, _kb = cluster
    env = graph.text("972507000001", BUDGET_Q)
    got = await asyncio.gather(*(graph.across(graph.deliver(env, url=f"http://127.0.0.1:{p}/whatsapp"))
                                 for p in ports))
    assert [d.status for d in got] == [200] * REPLICAS
    await graph.across(graph.wait_for(lambda c: c.to == "972507000001" and c.ok, 30))
    await asyncio.sleep(1.0)
    assert len(graph.sent("972507000001")) == 1


async def test_a_storm_delivered_twice_is_answered_exactly_once_each(emulator: BotApiEmulator, cluster) -> None:
    _bots, ports, _db, _kb = cluster
    chats = set(range(710_000, 711_000))
    updates = []
    for n, chat in enumerate(sorted(chats)):
        u = emulator.private_message(chat, BUDGET_Q)
        u["update_id"] = 9_100_000 + n
        updates.append(u)
    sem = asyncio.Semaphore(64)

    async def twice(u: dict, a: int, b: int) -> list[int | None]:
        async with sem:
            first = await emulator.deliver(u, url=url(a))
            return [first, await emulator.redeliver(u["update_id"], url=url(b))]

    results = await asyncio.gather(*(twice(u, ports[i % REPLICAS], ports[(i + 1) % REPLICAS])
                                     for i, u in enumerate(updates)))
    assert all(r == [200, 200] for r in results)
    answered = await settle(emulator, chats, len(chats), timeout=120)
    assert set(answered) == chats and max(answered.values()) == 1
    assert sum(answered.values()) == 1000


async def test_curator_resolve_on_one_replica_is_answered_by_another(emulator: BotApiEmulator, cluster) -> None:
    from tests.e2e.conftest import CURATOR_ID

    bots, ports, _db, _kb = cluster
    question = "ביטוח למשלחת שלנו שמגיעה בחודש הבא"
    ask = emulator.private_message(720_001, question)
    ask["update_id"] = 9_200_001
    assert await emulator.deliver(ask, url=url(ports[0])) == 200
    first = await settle(emulator, {720_001}, 1)
    assert first[720_001] == 1
    queue = emulator.private_message(CURATOR_ID, "/unanswered")
    queue["update_id"] = 9_200_002
    since = emulator.mark()
    assert await emulator.deliver(queue, url=url(ports[0])) == 200
    listing = await emulator.wait_for("sendMessage", lambda c: c.chat_id == CURATOR_ID, 30, since=since)
    attach = next(d for d in listing.callback_data() if d.startswith("cr:"))
    press = emulator.callback_query(CURATOR_ID, listing.result, attach)
    press["update_id"] = 9_200_003
    since = emulator.mark()
    assert await emulator.deliver(press, url=url(ports[0])) == 200
    await emulator.wait_for("sendMessage", lambda c: c.chat_id == CURATOR_ID, 30, since=since)
    # replica 2 never saw the edit happen: PostgreSQL's NOTIFY told it to reload
    deadline = time.monotonic() + 30
    answered = False
    n = 0
    while time.monotonic() < deadline and not answered:
        n += 1
        again = emulator.private_message(720_002 + n, question)
        again["update_id"] = 9_200_010 + n
        since = emulator.mark()
        assert await emulator.deliver(again, url=url(ports[2])) == 200
        reply = await emulator.wait_for("sendMessage", lambda c: c.chat_id == 720_002 + n, 30, since=since)
        answered = reply.text.startswith("<b>")
        if not answered:
            await asyncio.sleep(0.5)
    assert answered, "replica 3 did not pick up the curator's change"


async def test_a_replica_killed_mid_burst_leaves_nothing_acknowledged_behind(emulator: BotApiEmulator,
                                                                            cluster) -> None:
    bots, ports, db, _kb = cluster
    victim, victim_port = bots[1], ports[1]
    chats = set(range(730_000, 730_600))
    updates = []
    for n, chat in enumerate(sorted(chats)):
        u = emulator.private_message(chat, BUDGET_Q)
        u["update_id"] = 9_300_000 + n
        updates.append(u)
    acked: list[int] = []

    async def post(u: dict) -> None:
        if await emulator.deliver(u, url=url(victim_port)) == 200:
            acked.append(u["message"]["chat"]["id"])

    sem = asyncio.Semaphore(32)

    async def limited(u: dict) -> None:
        async with sem:
            await post(u)

    tasks = [asyncio.create_task(limited(u)) for u in updates]
    while len(sent_to(emulator, chats)) < 60:
        await asyncio.sleep(0.02)
    os.kill(victim.proc.pid, signal.SIGKILL)  # mid-burst: stored, leased, some half-sent
    await asyncio.gather(*tasks, return_exceptions=True)
    victim.proc.wait(timeout=10)
    assert len(acked) > len(sent_to(emulator, chats))  # some were acknowledged, not yet answered
    # the live replicas take over the dead one's leases when they run out (10 s)
    answered = await settle(emulator, set(acked), len(acked), timeout=90)
    assert set(acked) <= set(answered)
    twice = [c for c, n in answered.items() if n > 1]
    print(f"\nreplica killed after {len(sent_to(emulator, chats))} answers: {len(acked)} acknowledged, all "
          f"answered by the others, {len(twice)} twice")
    assert len(twice) <= 8
    with psycopg.connect(db) as conn:
        (pending,) = conn.execute("SELECT count(*) FROM inbox WHERE status='pending'").fetchone()
    assert pending == 0
