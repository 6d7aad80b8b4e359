"""``rashut eval``: accuracy of the real answer pipeline on the evaluation sets.

In scope, only an ``answer`` with the expected entry counts (a ``clarify`` is a miss); out of
scope, ``unanswered`` or ``clarify`` counts as abstention; smalltalk must come back as smalltalk.
An in-scope question whose fact no entry holds is labelled ``expect: uncovered``: it counts in
scope and is always a miss (listed), so a set written from the sources cannot flatter the base by
leaving out what the base lacks. Precision is what a user meets: of every question that got an
``answer``, the share that got the right entry (an answer to an uncovered, out-of-scope or
smalltalk question is wrong).

An in-scope label may also be a list of entry ids (each of them states the asked fact as plainly,
so either answer is right) or ``compare:A,B``: a comparison of decisions A and B, right only when
the reply is an ``answer`` laying out both (``Reply.meta["compare"]``).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import yaml

from knowledge.errors import KnowledgeError, Problem

from .replies import Reply
from .service import AnswerService

EVAL_DIR = Path(__file__).resolve().parent.parent / "tests" / "eval"
# The tuned set, every development set (dev.yaml, dev2.yaml, ...), then the held-out sets
# (heldout.yaml, heldout2.yaml, ...), each written fresh and never used to tune anything.
SETS = {"tuned": EVAL_DIR / "questions.yaml",
        **{p.stem: p for p in sorted(EVAL_DIR.glob("dev*.yaml"), key=lambda p: (len(p.stem), p.stem))},
        **{p.stem: p for p in sorted(EVAL_DIR.glob("heldout*.yaml"), key=lambda p: (len(p.stem), p.stem))}}
BAR_IN_SCOPE = 0.95
BAR_ABSTAIN = 0.95
BAR_PRECISION = 0.98
UNCOVERED = "uncovered"  # in scope, but no entry holds the asked fact
COMPARE = "compare:"  # "compare:546,2025": both decisions side by side


@dataclass(frozen=True, slots=True)
class Item:
    q: str
    expect: str | tuple[str, ...] | None  # entry id(s), None (out of scope), "smalltalk", UNCOVERED, COMPARE...
    topic: str


@dataclass
class Report:
    name: str
    in_scope: int = 0
    correct: int = 0
    out_scope: int = 0
    abstained: int = 0
    smalltalk: int = 0
    smalltalk_ok: int = 0
    clarified_in_scope: int = 0
    uncovered: int = 0
    answered: int = 0  # questions of any kind that got an ``answer``
    answered_right: int = 0
    per_topic: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    confusions: list[tuple[str, str, str, str | None, float]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.in_scope if self.in_scope else 0.0

    @property
    def abstention(self) -> float:
        return self.abstained / self.out_scope if self.out_scope else 1.0

    @property
    def precision(self) -> float:
        return self.answered_right / self.answered if self.answered else 1.0

    def passes(self) -> bool:
        return (self.accuracy >= BAR_IN_SCOPE and self.abstention >= BAR_ABSTAIN
                and self.precision >= BAR_PRECISION)

    def render(self, out: TextIO, confusions: bool = True) -> None:
        print(f"== {self.name}: {self.in_scope} in scope, {self.out_scope} out of scope, "
              f"{self.smalltalk} smalltalk", file=out)
        print(f"in-scope top-1 accuracy: {self.accuracy:.3f} ({self.correct}/{self.in_scope}; "
              f"clarify: {self.clarified_in_scope})  bar {BAR_IN_SCOPE}", file=out)
        print(f"out-of-scope abstention: {self.abstention:.3f} ({self.abstained}/{self.out_scope})  bar {BAR_ABSTAIN}",
              file=out)
        print(f"precision of answers: {self.precision:.3f} ({self.answered_right}/{self.answered})  "
              f"bar {BAR_PRECISION}", file=out)
        if self.uncovered:
            print(f"in scope but uncovered by the base (always misses): {self.uncovered}", file=out)
        if self.smalltalk:
            print(f"smalltalk recognised: {self.smalltalk_ok}/{self.smalltalk}", file=out)
        print("per topic:", file=out)
        for topic, (ok, n) in sorted(self.per_topic.items()):
            print(f"  {topic:<20} {ok:>3}/{n:<3} {ok / n:.3f}", file=out)
        if confusions and self.confusions:
            print("confusions (question | expected | got kind | got entry | score):", file=out)
            for q, exp, kind, got, score in self.confusions:
                print(f"  {q} | {exp} | {kind} | {got} | {score:.3f}", file=out)


def load_items(path: Path) -> list[Item]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise KnowledgeError(Problem("an evaluation set must be a list of {q, expect, topic}", file=str(path)))
    items = []
    for i, raw in enumerate(data, 1):
        if not isinstance(raw, dict) or not isinstance(raw.get("q"), str) or "topic" not in raw:
            raise KnowledgeError(Problem(f"item {i} must have q, expect and topic", file=str(path)))
        expect = raw.get("expect")
        items.append(Item(raw["q"], tuple(expect) if isinstance(expect, list) else expect, str(raw["topic"])))
    return items


def _entry_ids(expect: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if isinstance(expect, tuple):
        return expect
    if expect is None or expect in ("smalltalk", UNCOVERED) or expect.startswith(COMPARE):
        return ()
    return (expect,)


def is_right(expect: str | tuple[str, ...] | None, reply: Reply) -> bool:
    """Whether an ``answer`` reply is the right one for the label (never for out of scope)."""
    if reply.kind != "answer":
        return False
    if isinstance(expect, str) and expect.startswith(COMPARE):
        wanted = {int(n) for n in expect[len(COMPARE):].split(",")}
        return set(reply.meta.get("compare", ())) == wanted  # type: ignore[call-overload]
    return reply.entry_id in _entry_ids(expect)


def evaluate(service: AnswerService, items: list[Item], name: str) -> Report:
    rep = Report(name)
    known = service.engine.snapshot.kb.entries
    for item in items:
        reply, _ = service.respond(item.q)
        if item.expect == "smalltalk":
            rep.smalltalk += 1
            ok = reply.kind == "smalltalk"
            rep.smalltalk_ok += ok
        elif item.expect is None:
            rep.out_scope += 1
            ok = reply.kind in ("unanswered", "clarify")
            rep.abstained += ok
        elif item.expect == UNCOVERED:
            rep.in_scope += 1
            rep.uncovered += 1
            ok = False
            rep.clarified_in_scope += reply.kind == "clarify"
        else:
            for entry_id in _entry_ids(item.expect):
                if entry_id not in known:
                    raise KnowledgeError(Problem(f"expected entry '{entry_id}' does not exist (question '{item.q}')",
                                                 file=name))
            rep.in_scope += 1
            ok = is_right(item.expect, reply)
            rep.correct += ok
            rep.clarified_in_scope += reply.kind == "clarify"
        if reply.kind == "answer":
            rep.answered += 1
            rep.answered_right += is_right(item.expect, reply)
        topic = rep.per_topic[item.topic]
        topic[0] += ok
        topic[1] += 1
        if not ok:
            got = reply.entry_id or (reply.options[0].entry_id if reply.options else None)
            rep.confusions.append((item.q, str(item.expect), reply.kind, got, reply.score))
    return rep


def pooled(reports: list[Report], name: str) -> Report:
    """The sum of several sets' reports (the confusions of all of them, in order)."""
    total = Report(name)
    for rep in reports:
        for f in ("in_scope", "correct", "out_scope", "abstained", "smalltalk", "smalltalk_ok",
                  "clarified_in_scope", "uncovered", "answered", "answered_right"):
            setattr(total, f, getattr(total, f) + getattr(rep, f))
        for topic, (ok, n) in rep.per_topic.items():
            total.per_topic[topic][0] += ok
            total.per_topic[topic][1] += n
        total.confusions.extend(rep.confusions)
    return total


def is_fresh(name: str) -> bool:
    """A held-out set: written fresh and never used to tune anything."""
    return name.startswith("heldout")
