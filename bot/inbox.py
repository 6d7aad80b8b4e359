"""The durable inbox: every update is stored before it is acknowledged, and answered exactly once.

Why: acknowledging first (moving Telegram's offset, returning 200 to a webhook) and handling
later loses every update that was received but not yet answered when the process dies. Here a
channel calls ``put`` and acknowledges only after it returned; the (channel, key) pair is unique in
the store, so a redelivery is recognised and acknowledged without being handled again. Workers
lease pending items, hand them to the channel's handler, and mark them done only after the reply
was sent. An item whose lease ran out (its process died) is taken by any live worker; a process
that starts up finishes what an earlier one left.

A chat's messages form one lane: a lane is handled in order, one item at a time, so "2" is read
after the reply it answers, and one chat's flood holds one worker, never all of them.

A reply can be sent twice only if the process dies between the send and ``inbox_done`` (one
store write); the benchmark measures that window.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from knowledge.errors import StoreError

from .sealing import Sealer
from .storage import InboxItem, Storage

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]
WORKERS = 8  # one slow send must not hold up everyone else's answers
LEASE = 10.0  # seconds an item stays with its worker; renewed while it is being handled
RENEW_EVERY = 3.0
IDLE_POLL = 1.0  # how often an idle worker looks for items another replica left behind
MAX_ATTEMPTS = 5  # then the item is given up (logged), so one poison update cannot loop forever
RETRY_DELAY = 2.0


class Retry(Exception):
    """Raised by a handler when the reply could not be sent for a passing reason (network, rate
    limit): the item goes back to the inbox and is tried again."""


@dataclass
class Counters:
    received: int = 0
    duplicates: int = 0
    handled: int = 0
    retried: int = 0
    failed: int = 0
    direct: int = 0  # answered without the inbox while the store was away
    # seconds from the handler's return (its reply sent) to the item marked done: the only window in
    # which a crash makes the reply go out twice (the most recent 10,000)
    done_window: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))


def replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Inbox:
    """``register`` a handler per channel, ``await start()``, ``put`` updates, ``await stop()``.

    Without a store (a store-less demo or test), updates are deduplicated in a bounded memory set
    and handled from memory: nothing survives a restart then.
    """

    def __init__(self, store: Storage | None, sealer: Sealer, *, workers: int = WORKERS, lease: float = LEASE,
                 owner: str | None = None, memory_size: int = 10_000) -> None:
        self.store = store
        self.sealer = sealer
        self.workers = workers
        self.lease = lease
        self.owner = owner or replica_id()
        self.counters = Counters()
        self._handlers: dict[str, Handler] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._in_flight: set[int] = set()
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._memory: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._memory_size = memory_size

    def register(self, channel: str, handler: Handler) -> None:
        self._handlers[channel] = handler

    @property
    def accepting(self) -> bool:
        return not self._stopping

    # ------------------------------------------------------------------ in
    async def put(self, channel: str, key: str, lane: str, payload: dict[str, Any]) -> bool:
        """Store an update durably; False for a redelivery (already stored). Raises when it could
        not be stored, and then the channel must not acknowledge it."""
        if self.store is None:
            fresh = self._fresh_in_memory(channel, key)
            if fresh:
                self._memory.put_nowait((channel, payload))
        else:
            try:
                fresh = await self.store.inbox_put(channel, key, lane, self.sealer.seal(payload))
            except StoreError as exc:
                return await self._direct(channel, key, payload, exc)
        if fresh:
            self.counters.received += 1
            self._wake.set()
        else:
            self.counters.duplicates += 1
            log.info("duplicate %s update ignored", channel)
        return fresh

    async def put_many(self, channel: str, items: list[tuple[str, str, dict[str, Any]]]) -> int:
        """``put`` for a batch of (key, lane, payload) of one channel, stored in one transaction;
        returns how many were new."""
        if self.store is None:
            return sum([await self.put(channel, k, lane, p) for k, lane, p in items])
        try:
            fresh = await self.store.inbox_put_many([(channel, k, lane, self.sealer.seal(p)) for k, lane, p in items])
        except StoreError as exc:
            return sum([await self._direct(channel, k, p, exc) for k, _lane, p in items])
        new = sum(fresh)
        self.counters.received += new
        self.counters.duplicates += len(fresh) - new
        if new:
            self._wake.set()
        return new

    async def _direct(self, channel: str, key: str, payload: dict[str, Any], exc: StoreError) -> bool:
        """The store cannot take the update: answer it now, before the channel acknowledges it, so
        an outage costs durability (and exactly-once across replicas), never the answer. A reply that
        cannot be sent either raises, and the channel does not acknowledge: the update comes again."""
        if not self._fresh_in_memory(channel, key):
            return False
        self.counters.direct += 1
        log.warning("inbox unavailable (%s): %s update answered directly", exc, channel)
        await self._dispatch(channel, payload)
        return True

    def _fresh_in_memory(self, channel: str, key: str) -> bool:
        if (channel, key) in self._seen:
            return False
        self._seen[(channel, key)] = None
        while len(self._seen) > self._memory_size:
            self._seen.popitem(last=False)
        return True

    # ------------------------------------------------------------------ out
    async def start(self) -> None:
        self._stopping = False
        self._tasks = [asyncio.create_task(self._work(i), name=f"inbox-worker-{i}") for i in range(self.workers)]
        if self.store is not None:
            self._tasks.append(asyncio.create_task(self._renew(), name="inbox-lease-renewal"))
        self._wake.set()  # items left by an earlier process are handled at once

    async def stop(self, timeout: float = 5.0) -> int:
        """Stop taking items, let those in flight finish for up to ``timeout`` seconds; what is not
        finished stays in the store for the next start. Returns how many were still pending."""
        self._stopping = True
        self._wake.set()
        workers = [t for t in self._tasks if t.get_name().startswith("inbox-worker")]
        done, pending = await asyncio.wait(workers, timeout=timeout) if workers else (set(), set())
        for task in [*pending, *(t for t in self._tasks if t not in workers)]:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        left = await self.store.inbox_pending() if self.store is not None else self._memory.qsize()
        if left:
            log.info("stopped with %d update(s) kept in the inbox for the next start", left)
        return left

    async def abandon(self) -> None:
        """Cancel the workers without touching the store (a start that failed: it may not be open)."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def drain(self) -> None:
        """Handle everything claimable now, in this task (tests; the workers do this in production).
        A store that cannot be reached ends it, as it sends a worker back to waiting."""
        try:
            while await self._step():
                pass
        except StoreError as exc:
            log.warning("inbox drain stopped: %s", exc)

    async def _work(self, n: int) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                busy = await self._step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a lost store: keep trying, never die silently
                log.warning("inbox worker %d: %s; retrying in %.0f s", n, exc, IDLE_POLL)
                busy = False
            if not busy and not self._stopping:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), IDLE_POLL)

    async def _step(self) -> bool:
        """Claim and handle one item; False when there was nothing to do."""
        if self.store is None:
            try:
                channel, payload = self._memory.get_nowait()
            except asyncio.QueueEmpty:
                return False
            await self._dispatch(channel, payload)
            return True
        items = await self.store.inbox_claim(self.owner, 1, self.lease)
        for item in items:
            await self._handle(item)
        return bool(items)

    async def _dispatch(self, channel: str, payload: dict[str, Any]) -> None:
        handler = self._handlers.get(channel)
        if handler is None:
            raise LookupError(f"no handler for channel {channel!r}")
        await handler(payload)

    async def _handle(self, item: InboxItem) -> None:
        assert self.store is not None
        self._in_flight.add(item.id)
        try:
            await self._dispatch(item.channel, self.sealer.open(item.payload))
        except Retry as exc:
            give_up = item.attempts >= MAX_ATTEMPTS
            (log.error if give_up else log.warning)(
                "%s update %d not answered yet (attempt %d/%d): %s", item.channel, item.id, item.attempts,
                MAX_ATTEMPTS, exc)
            self.counters.retried += not give_up
            self.counters.failed += give_up
            await self.store.inbox_release(item.id, give_up=give_up, delay=RETRY_DELAY * item.attempts)
            return
        except Exception:  # noqa: BLE001 - logged with its kind, never with the payload
            give_up = item.attempts >= MAX_ATTEMPTS
            log.exception("%s update %d failed (attempt %d/%d)", item.channel, item.id, item.attempts, MAX_ATTEMPTS)
            self.counters.failed += give_up
            await self.store.inbox_release(item.id, give_up=give_up, delay=RETRY_DELAY * item.attempts)
            return
        finally:
            self._in_flight.discard(item.id)
        sent = time.perf_counter()
        await self.store.inbox_done(item.id)
        self.counters.done_window.append(time.perf_counter() - sent)
        self.counters.handled += 1

    async def _renew(self) -> None:
        """Keep the leases of items being handled alive, so no other replica takes them."""
        assert self.store is not None
        while True:
            await asyncio.sleep(RENEW_EVERY)
            if self._in_flight:
                try:
                    await self.store.inbox_renew(self.owner, self.lease)
                except Exception as exc:  # noqa: BLE001
                    log.warning("could not renew inbox leases: %s", exc)

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Inbox(owner={self.owner}, in_flight={len(self._in_flight)}, {self.counters}, t={time.time():.0f})"
