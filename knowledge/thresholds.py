"""Every threshold that turns match scores into a reply, in one frozen object.

Why one place: the answer, margin and clarify thresholds, the did-you-mean floor and the
out-of-scope floor and lead were calibrated together (benchmarks/calibrate.py, docs/matching.md);
spread over three modules, a change to one could silently leave the others tuned for another
setting. The matcher, the out-of-scope check and the answer service all read them from here.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Calibrated on first-contact development questions with out-of-scope examples from the other
    sets only (benchmarks/calibrate.py, docs/matching.md)."""

    answer: float = 0.60  # the best entry is the answer from this score on...
    margin: float = 0.01  # ...when the runner-up trails it by at least this
    sure: float = 0.75  # above this the margin is not required
    clarify: float = 0.42  # "did you mean" from this score on, below `answer`
    option: float = 0.25  # a did-you-mean option (or a search result) must score at least this
    # A question at least `oos_floor` close to an out-of-scope example, and at most -`oos_lead`
    # further from it than from the best entry, is out of scope (chosen leave-one-set-out).
    oos_floor: float = 0.60
    oos_lead: float = -0.05
    oos_same: float = 0.95  # this close, it is a listed out-of-scope question asked again


DEFAULT = Thresholds()
