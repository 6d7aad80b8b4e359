"""The runtime's jobs: the daily digest once per day in all, however many replicas run it; the
purge; the schedule."""
from __future__ import annotations

import asyncio

from bot.jobs import Jobs
from bot.store import open_store


async def test_digest_is_sent_once_across_replicas(store_target: str) -> None:
    """Three replicas on one store (PostgreSQL or SQLite) fire the digest at the same moment."""
    stores = [await open_store(store_target) for _ in range(3)]
    sent: list[int] = []

    def send_for(n: int):
        async def send() -> int:
            sent.append(n)
            return 1
        return send

    try:
        replicas = []
        for n, s in enumerate(stores):
            j = Jobs(s, 180, "08:00")
            j.on_digest(send_for(n))
            replicas.append(j)
        results = await asyncio.gather(*(j.digest() for j in replicas))
        assert sorted(results) == [0, 0, 1] and len(sent) == 1
        assert await replicas[0].digest() == 0  # and not again the same day
    finally:
        for s in stores:
            await s.close()


async def test_schedule_and_purge(any_store) -> None:
    jobs = Jobs(any_store, 30, "07:30")
    jobs.on_digest(lambda: asyncio.sleep(0, 0))  # type: ignore[arg-type]
    jobs.start()
    try:
        digest, purge = jobs.job("digest"), jobs.job("purge")
        assert digest is not None and purge is not None
        assert "hour='7'" in str(digest.trigger) and "minute='30'" in str(digest.trigger)  # type: ignore[attr-defined]
        assert str(digest.trigger.timezone) == "Asia/Jerusalem"  # type: ignore[attr-defined]
    finally:
        jobs.stop()
    await any_store.log_unanswered(text="old", norm="old", channel="t", chat_type="private", user_hash=None,
                                   kind="unanswered", candidates=[], ts=1000.0)
    assert await jobs.purge() == 1
