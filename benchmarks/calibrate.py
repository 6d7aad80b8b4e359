"""Calibrate the matcher's answer thresholds on first-contact questions.

Why first contact: every development set was, after its first measurement, used to add alternate
questions to the base. Replayed against today's base its in-scope questions score as if the base
had been written for them, so thresholds chosen on them come out too strict for questions nobody
has seen yet (which is every real user's question). Here each development set is replayed against
the base as it was in git *before* its own round of fixes (FIRST_CONTACT), with today's matcher,
and the thresholds that maximise the lower of in-scope accuracy and out-of-scope abstention (both
bars are 0.95) on the pooled rows are printed, next to today's. The held-out set is never read.

The out-of-scope examples (knowledge/base/out_of_scope.yaml) include the development sets' own
out-of-scope questions, so they cannot be judged on those sets either: each set is replayed at first
contact with the examples of all the *other* sets only (leave one set out) plus those written for
the file alone, and next to that with no examples at all. The thresholds are chosen on the first
of these pools, the one like production.

Run: python -m benchmarks.calibrate   (needs the git history; a shallow clone lacks the commits)
"""
from __future__ import annotations

import dataclasses
import itertools
import subprocess
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace

import knowledge.matcher as M
from bot.evaluate import SETS, load_items
from bot.service import AnswerService, _smalltalk
from knowledge.engine import Snapshot
from knowledge.hebrew import normalize
from knowledge.loader import load_base
from knowledge.schema import KnowledgeBase, OutOfScope

ROOT = Path(__file__).resolve().parent.parent
# Development set -> the commit whose knowledge/base had not yet been fixed with it.
FIRST_CONTACT = {"dev": "450a294", "dev2": "16d5591", "dev3": "1bc2d1e", "dev4": "c428b8f",
                 "dev5": "3f7efe0", "dev6": "3f7efe0", "dev7": "c929fc1", "dev8": "f62ed40", "dev9": "6806dac", "dev10": "74cb7f8", "dev11": "b8fce34", "dev12": "801fb48", "dev13": "80541c8", "dev14": "bd41b2f",
                 "dev15": "bc5e565"}
ANSWER = [x / 100 for x in range(54, 72)]
MARGIN = [x / 100 for x in range(0, 9)]
SURE = [0.75, 0.8, 0.85, 0.9, 1.01]

# expected (an entry id, several, "uncovered" or "compare:A,B": the last two never an entry), top
# entry, top score, runner-up score
Row = tuple[str | tuple[str, ...] | None, str | None, float, float]


def base_at(commit: str, into: Path) -> KnowledgeBase:
    """The bundled base as committed in ``commit``, extracted with ``git archive``."""
    blob = subprocess.run(["git", "archive", commit, "knowledge/base"], cwd=ROOT, check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(into / commit, filter="data")
    return load_base(into / commit / "knowledge" / "base")


def _intent_row(service: AnswerService, snap: Snapshot, it) -> Row | None:
    """A message the service answers without the matcher (knowledge.intents: a filler, a bare
    number, a decision question without a number, a comparison): its outcome does not depend on
    the thresholds, so it is a row that any threshold answers (or none does)."""
    reply, match = service.respond(it.q, snap)
    if match is not None or "intent" not in reply.meta:
        return None
    if reply.kind != "answer":
        return (it.expect, None, 0.0, 0.0)
    pair = reply.meta.get("compare")
    top = f"compare:{','.join(str(n) for n in sorted(pair))}" if pair else reply.entry_id  # type: ignore[arg-type]
    return (it.expect, top, 1.0, 0.0)


def replay(kb: KnowledgeBase, items) -> list[Row]:
    matcher = M.Matcher(kb)
    snap = Snapshot(kb, matcher, 1, 0.0)
    service = AnswerService(SimpleNamespace(snapshot=snap))  # type: ignore[arg-type]
    rows = []
    for it in items:
        if it.expect == "smalltalk":
            continue
        row = _intent_row(service, snap, it)
        if row is not None:
            rows.append(row)
            continue
        if _smalltalk(it.q, normalize(it.q)) is not None:
            continue
        m = matcher.match(it.q)
        c = m.candidates
        # A question for contact details, a number or a date its best entry lacks, or closer to an
        # out-of-scope subject than to its best entry, is never answered, whatever the score.
        toks = m.normalized.split()
        lacks = c and (matcher.asks_contact_it_lacks(it.q, c[0].entry_id)
                       or matcher.asks_what_it_lacks(toks, c[0].entry_id))
        top = c[0].entry_id if c and not lacks and m.out_of_scope is None and not m.unknown_places else None
        rows.append((it.expect, top, c[0].score if c else 0.0, c[1].score if len(c) > 1 else 0.0))
    return rows


def score(rows: list[Row], a: float, margin: float, sure: float) -> tuple[float, float]:
    ins = oos = ok = abst = 0
    for expect, top, s1, s2 in rows:
        answered = top is not None and s1 >= a and (s1 - s2 >= margin or s1 >= sure)
        if expect is None:
            oos += 1
            abst += not answered
        else:
            ins += 1
            ok += answered and (top in expect if isinstance(expect, tuple) else top == expect)
    return ok / ins, abst / oos


def precision(rows: list[Row], a: float, margin: float, sure: float) -> float:
    """Of the rows answered at these thresholds, the share answered with the right entry."""
    answered = right = 0
    for expect, top, s1, s2 in rows:
        if top is not None and s1 >= a and (s1 - s2 >= margin or s1 >= sure):
            answered += 1
            right += expect is not None and (top in expect if isinstance(expect, tuple) else top == expect)
    return right / answered if answered else 1.0


def main() -> int:
    now = M.Thresholds()
    with tempfile.TemporaryDirectory() as tmp:
        for name, commit in FIRST_CONTACT.items():
            rows = replay(base_at(commit, Path(tmp)), load_items(SETS[name]))
            acc, ab = score(rows, now.answer, now.margin, now.sure)
            print(f"{name:<5} first contact (base of {commit}): in-scope {acc:.3f}  abstention {ab:.3f}")
    pools = leave_one_set_out()
    print(f"pooled first contact, current thresholds {now.answer}/{now.margin}/{now.sure}:")
    for label, rows in pools.items():
        acc, ab = score(rows, now.answer, now.margin, now.sure)
        prec = precision(rows, now.answer, now.margin, now.sure)
        print(f"  {label:<26} in-scope {acc:.3f}  abstention {ab:.3f}  precision {prec:.3f}  ({len(rows)} questions)")
    # Thresholds are chosen on the pool that looks like production: a base with out-of-scope
    # examples, none of them from the questions being scored.
    pooled = pools["with other sets' examples"]
    grid = []
    for a, mg, su in itertools.product(ANSWER, MARGIN, SURE):
        acc, ab = score(pooled, a, mg, su)
        # Both bars matter equally: the lower of the two rates, then their sum, then the smaller margin.
        grid.append(((round(min(acc, ab), 3), round(acc + ab, 3), -mg), a, mg, su, acc, ab))
    grid.sort(reverse=True)
    print("best thresholds on it (answer / margin / sure: in-scope, abstention):")
    for _key, a, mg, su, acc, ab in grid[:8]:
        print(f"  {a:.2f} / {mg:.2f} / {su:.2f}: {acc:.3f}  {ab:.3f}")
    cur_base = load_base()
    print("today's base, chosen thresholds, per tuning set (in-sample, for information):")
    _key, a, mg, su, _acc, _ab = grid[0]
    for name in ("tuned", *FIRST_CONTACT):
        acc, ab = score(replay(cur_base, load_items(SETS[name])), a, mg, su)
        print(f"  {name:<5} in-scope {acc:.3f}  abstention {ab:.3f}")
    return 0


def leave_one_set_out() -> dict[str, list[Row]]:
    """Every development set replayed at first contact, once with no out-of-scope examples and once
    with the out-of-scope questions of all the *other* sets (and the tuned set) as examples, plus
    the file's examples that no set asked."""
    names = ["tuned", *FIRST_CONTACT]
    oos = {n: tuple(it.q for it in load_items(SETS[n]) if it.expect is None) for n in names}
    asked = {normalize(q) for qs in oos.values() for q in qs}
    # Examples written for the file alone, never asked in an evaluation set, are always in.
    written = tuple(q for subject in load_base().out_of_scope for q in subject.questions
                    if normalize(q) not in asked)
    pools: dict[str, list[Row]] = {"with no examples": [], "with other sets' examples": []}
    with tempfile.TemporaryDirectory() as tmp:
        for name, commit in FIRST_CONTACT.items():
            base = base_at(commit, Path(tmp))
            items = load_items(SETS[name])
            others = written + tuple(q for n in names if n != name for q in oos[n])
            pools["with no examples"] += replay(dataclasses.replace(base, out_of_scope=()), items)
            pools["with other sets' examples"] += replay(
                dataclasses.replace(base, out_of_scope=(OutOfScope("other sets", others, "-"),)), items)
    return pools


if __name__ == "__main__":
    raise SystemExit(main())
