"""``rashut kb check``: every alternate question must come back to its own entry."""
from __future__ import annotations

from dataclasses import dataclass

from knowledge.engine import Snapshot


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

    def render(self) -> str:
        if self.got is None:
            what = f"no candidate ({self.decision})"
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
            if m.decision == "answer" and best and best.entry_id == entry.id:
                continue
            failures.append(CheckFailure(entry.id, entry.file, entry.line, q, m.decision,
                                         best.entry_id if best else None, best.score if best else 0.0, own))
    return failures, total
