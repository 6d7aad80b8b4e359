"""Background jobs of the runtime, for every channel: the retention purge and the daily digest.

APScheduler's asyncio scheduler runs them (the library python-telegram-bot's job queue wraps),
so they run the same whether Telegram, WhatsApp, both or neither is configured. The digest goes
to every channel's curators through the ``notify`` callbacks the adapters register, and with
several replicas it is sent once per day in all: the day is claimed in the store first.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Awaitable, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from knowledge.errors import SettingsError

from .storage import Storage

log = logging.getLogger(__name__)

PURGE_EVERY = 24 * 3600
PURGE_FIRST_AFTER = 60  # seconds after start-up
DIGEST_ZONE = "Asia/Jerusalem"
Digest = Callable[[], Awaitable[int]]  # sends today's digest everywhere; returns how many received it

logging.getLogger("apscheduler").setLevel(logging.WARNING)  # "Adding job tentatively" is not news


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


class Jobs:
    """``start()`` schedules the purge and (when some channel has curators) the digest."""

    def __init__(self, store: Storage | None, retention_days: float, digest_time: str) -> None:
        self.store = store
        self.retention_days = retention_days
        self.digest_time = digest_at(digest_time)  # a malformed DIGEST_TIME stops start-up here
        self.scheduler = AsyncIOScheduler(timezone=dt.timezone.utc)
        self._digest: Digest | None = None

    def on_digest(self, send: Digest) -> None:
        self._digest = send

    def start(self) -> None:
        if self.store is None:
            return
        self.scheduler.add_job(self.purge, IntervalTrigger(seconds=PURGE_EVERY), id="purge", name="purge",
                               next_run_time=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=PURGE_FIRST_AFTER))
        if self._digest is not None:
            at = self.digest_time
            self.scheduler.add_job(self.digest, CronTrigger(hour=at.hour, minute=at.minute, timezone=at.tzinfo),
                                   id="digest", name="digest")
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def job(self, name: str) -> object | None:
        return self.scheduler.get_job(name)

    async def purge(self) -> int:
        assert self.store is not None
        try:
            removed = await self.store.purge(self.retention_days)
        except Exception as exc:  # noqa: BLE001 - the next run tries again
            log.warning("purge failed: %s", exc)
            return 0
        if removed:
            log.info("purged %d unanswered rows older than %s days", removed, self.retention_days)
        return removed

    async def digest(self) -> int:
        """Today's digest, once per day across replicas (the first to claim the day sends it)."""
        if self._digest is None or self.store is None:
            return 0
        today = dt.datetime.now(self.digest_time.tzinfo).date().isoformat()
        try:
            if not await self.store.claim_job("digest", today):
                log.info("daily digest for %s already sent by another replica", today)
                return 0
        except Exception as exc:  # noqa: BLE001 - without the claim, better one digest too many than none
            log.warning("could not claim the daily digest (%s); sending it anyway", exc)
        sent = await self._digest()
        log.info("daily digest sent to %d curator chat(s)", sent)
        return sent
