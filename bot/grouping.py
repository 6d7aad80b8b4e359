"""Group the curators' queue: similar open questions become one item to handle.

Why: curators fix a *missing answer*, not each of its phrasings. Fifty people asking who pays for
the flights of a delegation should cost one decision ("add these to ``visits-who-pays``"), so the
queue is clustered by how alike the questions are and by which entry the matcher almost chose.

How (deterministic, no model): rows are taken oldest first (by id). A row joins the group of its
most similar older row when

* their similarity (mean of rapidfuzz ``token_set_ratio`` and ``token_sort_ratio`` on the
  normalised text without stop words) reaches ``LINK``, or ``LINK_SAME`` when both rows' best
  candidate is the same entry (the matcher's near-miss is strong evidence of one topic);
* the guarded numbers agree ("החלטה 546" and "החלטה 547" are different questions, like in the
  matcher, numbers are facts, not fuzz);
* and the row is still at least ``LEADER_FLOOR`` similar to the group's first row, so a chain of
  small steps cannot drift from one topic to another.

Otherwise it starts a new group. A group is numbered by its smallest row id. Because a row's group
depends only on older rows, new questions never renumber existing groups, and closing a whole group
never moves the rows of another: the number ``list`` shows is the number ``resolve`` acts on.
"""
from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
from rapidfuzz import fuzz, process

from knowledge.hebrew import guarded_numbers, is_stop, normalize

from .storage import UnansweredRow

if TYPE_CHECKING:
    from knowledge.engine import Snapshot
    from knowledge.schema import KnowledgeBase

    from .storage import Storage

LINK = 70.0  # similarity (0-100) to join a group on wording alone
LINK_SAME = 55.0  # ... when both rows' best candidate is the same entry
LEADER_FLOOR = 45.0  # minimal similarity to the group's first row
MIN_SUGGEST = 0.25  # below this mean score the "nearest entry" would mislead more than help
BLOCK = 512  # rows per similarity block: memory O(BLOCK x distinct texts), not O(n^2)
EXAMPLES = 3


@dataclass(frozen=True, slots=True)
class Group:
    """One cluster of unanswered rows, numbered by its smallest row id."""

    id: int
    rows: tuple[UnansweredRow, ...]  # oldest first
    best_entry: str | None  # the entry the matcher most often almost chose
    best_score: float  # its mean score over the group's rows (0 where it was not a candidate)
    best_title: str | None = None  # filled when a snapshot is given

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def row_ids(self) -> list[int]:
        return [r.id for r in self.rows]

    @property
    def askers(self) -> int:
        """Distinct askers (keyed hashes); rows without a user count as one anonymous asker."""
        return len({r.user_hash for r in self.rows})

    @property
    def first_ts(self) -> float:
        return min(r.ts for r in self.rows)

    @property
    def last_ts(self) -> float:
        return max(r.ts for r in self.rows)

    def questions(self) -> list[str]:
        """Distinct question texts (by Hebrew normalisation), most asked first, then oldest."""
        seen: dict[str, list] = {}
        for r in self.rows:
            text = " ".join(r.text.split())
            key = normalize(text)
            if not key:
                continue
            if key in seen:
                seen[key][1] += 1
            else:
                seen[key] = [text, 1, r.id]
        return [t for t, _n, _i in sorted(seen.values(), key=lambda v: (-v[1], v[2]))]

    @property
    def examples(self) -> list[str]:
        return self.questions()[:EXAMPLES]


_CLITICS = frozenset("והבכלמש")
_SUFFIXES = ("ימ", "ות", "ית", "יה", "ה", "ת", "י")  # after normalisation (final letters folded)


def _stem(token: str) -> str:
    """A crude stem: up to two clitic letters off the front, one common suffix off the end.

    Over-stripping is harmless here because both sides of a comparison are stripped alike, and it
    makes לתו/תו and נכים/לנכה compare as the same words. Deliberately independent of the matcher's
    variant generator, so tuning retrieval never silently regroups the curators' queue.
    """
    if not ("\u05d0" <= token[:1] <= "\u05ea"):
        return token
    for _ in range(2):
        if len(token) >= 4 and token[0] in _CLITICS:
            token = token[1:]
    for suffix in _SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 2:
            return token[: -len(suffix)]
    return token


def _key(norm: str) -> str:
    """The text compared: stemmed words without stop words (stop words make every question alike)."""
    words = [_stem(t) for t in norm.split() if not is_stop(t)]
    return " ".join(words) if words else norm


def _top(row: UnansweredRow) -> str | None:
    return str(row.candidates[0]["entry_id"]) if row.candidates else None


def _similarity(queries: Sequence[str], choices: Sequence[str]) -> np.ndarray:
    """Mean of token_set_ratio and token_sort_ratio (0-100), a ``len(queries) x len(choices)`` matrix."""
    a = process.cdist(queries, choices, scorer=fuzz.token_set_ratio, dtype=np.uint8, workers=-1)
    b = process.cdist(queries, choices, scorer=fuzz.token_sort_ratio, dtype=np.uint8, workers=-1)
    return (a.astype(np.float32) + b) / 2.0


def cluster(rows: Iterable[UnansweredRow]) -> list[Group]:
    """Cluster rows (any order in; groups ordered by id out). A pure function of the rows.

    Similarity is computed once per pair of *distinct* texts (queues repeat a lot), in blocks so
    memory stays ``BLOCK x distinct``; a few seconds for 3,000 distinct questions, which is why
    callers on the event loop run it in a thread (``grouped``).
    """
    ordered = sorted(rows, key=lambda r: r.id)
    if not ordered:
        return []
    norms = [r.norm or normalize(r.text) for r in ordered]
    uniq: dict[str, int] = {}
    kidx = np.array([uniq.setdefault(_key(n), len(uniq)) for n in norms], dtype=np.int64)
    ukeys = list(uniq)
    codes: dict[str, int] = {}
    tops = np.array([codes.setdefault(t, len(codes)) if t else -1 for t in map(_top, ordered)], dtype=np.int64)
    sets: dict[frozenset[str], int] = {}
    nums = np.array([sets.setdefault(frozenset(guarded_numbers(n)), len(sets)) for n in norms], dtype=np.int64)
    label = np.full(len(ordered), -1, dtype=np.int64)  # index of the group's first row
    for start in range(0, len(ordered), BLOCK):
        stop = min(start + BLOCK, len(ordered))
        block_keys = sorted(set(kidx[start:stop].tolist()))
        pos = {k: p for p, k in enumerate(block_keys)}
        mat = _similarity([ukeys[k] for k in block_keys], ukeys)
        for i in range(start, stop):
            sim = mat[pos[int(kidx[i])]][kidx[: i + 1]]  # similarity of row i to rows 0..i
            label[i] = _assign(i, sim, label, tops, nums)
    members: dict[int, list[int]] = defaultdict(list)
    for i, leader in enumerate(label.tolist()):
        members[leader].append(i)
    return [_group([ordered[i] for i in idx]) for _leader, idx in sorted(members.items())]


def _assign(i: int, sim: np.ndarray, label: np.ndarray, tops: np.ndarray, nums: np.ndarray) -> int:
    """The group (index of its first row) that row ``i`` joins, or ``i`` itself for a new group."""
    if i == 0:
        return 0
    earlier = sim[:i]
    same = (tops[:i] == tops[i]) & (tops[i] >= 0)
    ok = ((earlier >= LINK) | (same & (earlier >= LINK_SAME))) & (nums[:i] == nums[i])
    ok &= sim[label[:i]] >= LEADER_FLOOR
    if not ok.any():
        return i
    j = int(np.argmax(np.where(ok, earlier, -1.0)))  # first maximum: ties go to the oldest row
    return int(label[j])


def _group(rows: list[UnansweredRow]) -> Group:
    totals: dict[str, float] = defaultdict(float)
    for r in rows:
        for c in r.candidates:
            totals[str(c["entry_id"])] += float(c.get("score") or 0.0)
    best, score = None, 0.0
    if totals:
        best = min(totals, key=lambda e: (-totals[e], e))
        score = totals[best] / len(rows)
        if score < MIN_SUGGEST:
            best, score = None, 0.0
    return Group(rows[0].id, tuple(rows), best, round(score, 4))


def with_titles(groups: list[Group], kb: "KnowledgeBase | None") -> list[Group]:
    """Attach entry titles, dropping a best candidate that no longer exists in the live base."""
    if kb is None:
        return groups
    out = []
    for g in groups:
        entry = kb.entry(g.best_entry) if g.best_entry else None
        if g.best_entry and entry is None:
            g = Group(g.id, g.rows, None, 0.0)
        out.append(Group(g.id, g.rows, g.best_entry, g.best_score, entry.title if entry else None))
    return out


def by_size(groups: list[Group]) -> list[Group]:
    """Largest first (rows, then distinct askers), then oldest: the order curators work in."""
    return sorted(groups, key=lambda g: (-g.count, -g.askers, g.id))


async def grouped(store: "Storage", snapshot: "Snapshot | None" = None, status: str | None = "open") -> list[Group]:
    """The open queue as groups, largest first. Shared by the CLI, the digest and Telegram."""
    rows = await store.unanswered(status=status)
    groups = await asyncio.to_thread(cluster, rows)  # CPU work off the event loop
    return by_size(with_titles(groups, snapshot.kb if snapshot else None))


async def find_group(store: "Storage", group_id: int) -> tuple[Group | None, Group | None]:
    """(the open group numbered ``group_id``, or None; else the open group holding row ``group_id``).

    Recomputed from the store, the truth rather than a cache; the second value lets the caller
    say "row 18 belongs to group 17" instead of a bare "not found".
    """
    rows = await store.unanswered(status="open")
    holder = None
    for g in await asyncio.to_thread(cluster, rows):
        if g.id == group_id:
            return g, None
        if group_id in g.row_ids:
            holder = g
    return None, holder
