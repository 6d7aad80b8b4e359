"""Per-user rate limit on questions: one person's flood costs them, not everyone else.

A sliding window per user (a keyed hash, in memory; with several replicas each one counts what it
sees). Within the limit a question is answered; the first one over it gets one polite "slow down"
(never one per message), and the rest are dropped unanswered and unqueued until the window has
room again. The durable inbox already keeps one chat's messages to one worker at a time, so the
flood drains without holding anyone else's answer.
"""
from __future__ import annotations

import time
from collections import OrderedDict, deque
from typing import Literal

Verdict = Literal["ok", "warn", "drop"]
MAX_USERS = 100_000  # remembered windows (the least recent are forgotten first)


class UserLimiter:
    def __init__(self, per_minute: int, *, window: float = 60.0) -> None:
        self.limit = per_minute
        self.window = window
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._warned: dict[str, float] = {}
        self.dropped = 0

    def check(self, user: str, now: float | None = None) -> Verdict:
        if self.limit <= 0:
            return "ok"
        now = time.monotonic() if now is None else now
        times = self._seen.pop(user, None) or deque()
        while times and now - times[0] >= self.window:
            times.popleft()
        self._seen[user] = times
        while len(self._seen) > MAX_USERS:
            old, _ = self._seen.popitem(last=False)
            self._warned.pop(old, None)
        if len(times) < self.limit:
            times.append(now)
            self._warned.pop(user, None)
            return "ok"
        self.dropped += 1
        if user in self._warned:
            return "drop"
        self._warned[user] = now
        return "warn"
