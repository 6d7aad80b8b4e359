"""The durable inbox: stored before acknowledged, redeliveries recognised, lanes fair and ordered,
passing failures retried, poison items given up, leases recovered after a crash."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot import inbox as inbox_mod
from bot.inbox import Inbox, Retry
from bot.sealing import Sealer


@pytest.fixture
async def store(any_store):
    """The inbox on each backend (SQLite and PostgreSQL)."""
    yield any_store


async def test_a_flooding_lane_holds_one_worker_and_keeps_its_order(store: SqliteStore) -> None:
    for i in range(300):
        assert await store.inbox_put("telegram", f"a{i}", "lane-a", b"x")
    assert await store.inbox_put("telegram", "b0", "lane-b", b"x")
    claimed = await store.inbox_claim("w1", 5, 30)
    assert [i.key for i in claimed] == ["a0", "b0"]  # one head per lane: B is not behind A's 300
    assert await store.inbox_claim("w2", 5, 30) == []  # both heads are leased: nothing else is due
    await store.inbox_done(claimed[0].id)
    (nxt,) = await store.inbox_claim("w2", 5, 30)
    assert nxt.key == "a1"  # A's messages in order, one at a time


async def test_redelivery_is_recognised_and_payload_wiped_when_done(store: SqliteStore) -> None:
    assert await store.inbox_put("whatsapp", "wamid.X", "l", b"secret") is True
    assert await store.inbox_put("whatsapp", "wamid.X", "l", b"secret") is False
    assert await store.inbox_put("telegram", "wamid.X", "l2", b"other") is True  # keys are per channel
    (item, _other) = await store.inbox_claim("w", 5, 30)
    await store.inbox_done(item.id)
    (done,) = [r for r in await _inbox_rows(store) if r[0] == item.id]
    assert done[1:3] == (None, "done")
    assert await store.inbox_put("whatsapp", "wamid.X", "l", b"secret") is False  # still a redelivery


async def test_worker_loop_retries_passing_failures_and_gives_up_on_poison(store: SqliteStore,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inbox_mod, "RETRY_DELAY", 0.0)
    seen: list[str] = []

    async def handler(payload: dict[str, Any]) -> None:
        seen.append(payload["k"])
        if payload["k"] == "flaky" and seen.count("flaky") < 3:
            raise Retry("network")
        if payload["k"] == "poison":
            raise ValueError("broken update")

    box = Inbox(store, Sealer("k"), workers=2)
    box.register("t", handler)
    for k in ("ok", "flaky", "poison"):
        await box.put("t", k, k, {"k": k})
    await box.start()
    for _ in range(200):
        if await store.inbox_pending() == 0:
            break
        await asyncio.sleep(0.02)
    await box.stop(1)
    assert seen.count("ok") == 1 and seen.count("flaky") == 3
    assert seen.count("poison") == inbox_mod.MAX_ATTEMPTS  # tried, then given up (logged), not forever
    assert box.counters.handled == 2 and box.counters.failed == 1
    assert [r[2] for r in await _inbox_rows(store) if r[3] == "poison"] == ["failed"]


async def test_a_crashed_process_leases_are_recovered_at_start(store: SqliteStore) -> None:
    await store.inbox_put("t", "1", "l", b"x")
    (item,) = await store.inbox_claim("dead-process", 5, 3600)  # leased for an hour, then the process died
    assert await store.inbox_claim("new-process", 5, 30) == []
    assert await store.inbox_recover() == 1
    (again,) = await store.inbox_claim("new-process", 5, 30)
    assert again.id == item.id and again.attempts == 2


async def test_stop_keeps_what_is_not_finished(store: SqliteStore) -> None:
    release = asyncio.Event()

    async def slow(payload: dict[str, Any]) -> None:
        await release.wait()

    box = Inbox(store, Sealer("k"), workers=1)
    box.register("t", slow)
    await box.put("t", "1", "a", {})
    await box.put("t", "2", "b", {})
    await box.start()
    await asyncio.sleep(0.05)
    left = await box.stop(0.1)  # the first is still in its handler when time is up
    assert left == 2
    release.set()


async def test_without_a_store_duplicates_are_caught_in_memory() -> None:
    got: list[int] = []

    async def handler(payload: dict[str, Any]) -> None:
        got.append(payload["n"])

    box = Inbox(None, Sealer("k"))
    box.register("t", handler)
    assert await box.put("t", "1", "l", {"n": 1}) and not await box.put("t", "1", "l", {"n": 1})
    await box.drain()
    assert got == [1]


async def _inbox_rows(store) -> list[tuple]:
    """(id, payload, status, key) of every inbox row, on either backend."""
    q = "SELECT id, payload, status, key FROM inbox ORDER BY id"
    return [tuple(r) for r in await store._rows(q)]
