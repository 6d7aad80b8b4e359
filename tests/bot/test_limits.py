"""The per-user question limit: within it answered, one "slow down", then silence until the window frees."""
from __future__ import annotations

from bot.limits import UserLimiter


def test_window_warns_once_then_drops_then_recovers() -> None:
    lim = UserLimiter(3, window=60)
    assert [lim.check("a", now=t) for t in (0, 1, 2)] == ["ok", "ok", "ok"]
    assert [lim.check("a", now=t) for t in (3, 4, 5)] == ["warn", "drop", "drop"]
    assert lim.check("b", now=5) == "ok"  # another user is not affected
    assert lim.check("a", now=60.5) == "ok"  # the first question left the window
    assert lim.check("a", now=61) == "ok" and lim.check("a", now=62) == "ok"
    assert lim.check("a", now=62.5) == "warn"  # a new flood: one new warning


def test_zero_means_no_limit() -> None:
    lim = UserLimiter(0)
    assert {lim.check("a", now=t) for t in range(1000)} == {"ok"}
