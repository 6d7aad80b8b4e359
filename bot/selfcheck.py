"""``rashut kb check``: every alternate question must come back to its own entry."""
from __future__ import annotations

from dataclasses import dataclass

from knowledge.engine import Snapshot

# The own entry must lead any other entry by at least this much: a closer race is a collision
# that a slightly different phrasing from a user would tip the wrong way.
CHECK_MARGIN = 0.02


@dataclass(frozen=True, slots=True)
class CheckFailure:
    entry_id: str
    file: str
    line: int
    question: str
    decision: str
    got: str | None
    got_score: float
    own_score: float
    runner: str | None = None
    runner_score: float = 0.0

    def render(self) -> str:
        if self.got is None:
            what = f"no candidate ({self.decision})"
        elif self.got == self.entry_id and self.runner:
            what = (f"collides with '{self.runner}' ({self.runner_score:.2f}): its own entry leads by less than "
                    f"{CHECK_MARGIN} ({self.own_score:.2f})")
        elif self.got == self.entry_id:
            what = f"own entry only as '{self.decision}' (score {self.own_score:.2f})"
        else:
            what = (f"'{self.got}' wins ({self.got_score:.2f}) over its own entry ({self.own_score:.2f}), "
                    f"decision {self.decision}")
        return f"{self.file}:{self.line}: entry '{self.entry_id}': question '{self.question}': {what}"


def check_base(snap: Snapshot) -> tuple[list[CheckFailure], int]:
    failures: list[CheckFailure] = []
    total = 0
    for entry in snap.kb.entries.values():
        for q in entry.questions:
            total += 1
            m = snap.matcher.match(q, k=10)
            best = m.best
            own = next((c.score for c in m.candidates if c.entry_id == entry.id), 0.0)
            second = m.candidates[1] if len(m.candidates) > 1 else None
            if m.decision == "answer" and best and best.entry_id == entry.id:
                if second is None or best.score - second.score >= CHECK_MARGIN:
                    continue
                failures.append(CheckFailure(entry.id, entry.file, entry.line, q, m.decision, best.entry_id,
                                             best.score, own, second.entry_id, second.score))
                continue
            failures.append(CheckFailure(entry.id, entry.file, entry.line, q, m.decision,
                                         best.entry_id if best else None, best.score if best else 0.0, own))
    return failures, total
