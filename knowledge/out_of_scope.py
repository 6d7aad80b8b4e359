"""Out-of-scope examples: is a question closer to a subject the base deliberately leaves out than
to its best entry?

The examples are the questions users asked about each subject (``knowledge/base/out_of_scope.yaml``).
Only examples that share a word with the question are compared (an index over their word readings),
with the same rapidfuzz measure the matcher uses against an entry's alternate questions. Hand-written
because the rule is specific to this base: the evidence must be a word the best entry lacks, and a
number in an example is a fact, not a word.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterable

import numpy as np
from rapidfuzz import fuzz, process

from .hebrew import content_tokens, variants
from .schema import OutOfScope
from .thresholds import DEFAULT, Thresholds



class OutOfScopeExamples:
    def __init__(self, subjects: Iterable[OutOfScope], thresholds: Thresholds = DEFAULT) -> None:
        self.thresholds = thresholds
        self.texts: list[str] = []
        self.numbers: list[frozenset[str]] = []
        self.subjects: list[str] = []
        index: dict[str, list[int]] = defaultdict(list)
        for subject in subjects:
            for q in subject.questions:
                words = content_tokens(q)
                if not words:
                    continue
                for key in {k for w in words for k, _ in variants(w)}:
                    index[key].append(len(self.texts))
                self.texts.append(" ".join(words))
                self.numbers.append(frozenset(w for w in words if w.isdigit()))
                self.subjects.append(subject.subject)
        self.index = dict(index)

    def _sharing(self, words: Iterable[str]) -> set[int]:
        return {n for w in words for k, _ in variants(w) for n in self.index.get(k, ())}

    def closer(self, qtext: str, numbers: set[str], entry_fuzzy: float,
               entry_holds: Callable[[str], bool] | None = None) -> str | None:
        """The subject whose example is close to the question (at least ``oos_floor``, and within ``oos_lead`` of
        ``entry_fuzzy``, the best entry's similarity), if any.

        ``entry_holds(key)`` says whether the best entry has a word reading. Only examples sharing a
        word with the question that the entry lacks count: the evidence must be what the entry does
        not cover ("כמה מרוויחה מנהלת ..."), not the entity both talk about ("... בכנס החשיפה
        לאשכולות"), unless the question is an example asked again (``oos_same``). An example naming a
        number counts only for questions naming it too ("numbers are facts": an example about
        decision 2026 says nothing about decision 2025)."""
        words = qtext.split()
        near = [n for n in sorted(self._sharing(words)) if self.numbers[n] <= numbers]
        if not near:
            return None
        texts = [self.texts[n] for n in near]
        sim = (process.cdist([qtext], texts, scorer=fuzz.token_set_ratio, dtype=np.float32)[0]
               + process.cdist([qtext], texts, scorer=fuzz.token_sort_ratio, dtype=np.float32)[0]) / 200.0
        t = self.thresholds
        need = max(t.oos_floor, entry_fuzzy + t.oos_lead) - 1e-6
        close = [(float(sim[j]), n) for j, n in enumerate(near) if sim[j] >= need]
        if not close:
            return None  # the usual case: the entry's words need not be read at all
        if entry_holds is not None:
            lacking = self._sharing(w for w in words if not any(entry_holds(k) for k, _ in variants(w)))
            close = [(value, n) for value, n in close if value >= t.oos_same or n in lacking]
        return self.subjects[max(close)[1]] if close else None
