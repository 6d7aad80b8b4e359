"""The knowledge schema of DESIGN.md as typed, frozen objects.

The loader (``knowledge.loader``) builds these from YAML; everything else only reads them, so a
loaded base can be shared between concurrent questions and swapped atomically on reload.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

KINDS: tuple[str, ...] = ("decision", "guideline", "programme", "topic")


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    url: str | None = None
    as_of: date | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """A programme stage or a guideline phase: something with an order and a name."""

    id: str
    order: int
    name: str


@dataclass(frozen=True, slots=True)
class DecisionInfo:
    number: int
    date: date
    title: str
    budget: str | None = None
    period: str | None = None
    localities: tuple[str, ...] = ()
    ministries: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    title: str
    answer: str
    doc_id: str
    kind: str
    source: Source
    file: str
    line: int
    questions: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    clause: str | None = None
    stage: str | None = None
    phase: str | None = None
    checklist: tuple[str, ...] = ()
    decision_number: int | None = None  # copied from the document, for the number guard
    decision_date: date | None = None


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    kind: str
    title: str
    source: Source
    file: str
    entries: tuple[Entry, ...]
    decision: DecisionInfo | None = None
    stages: tuple[Step, ...] = ()
    phases: tuple[Step, ...] = ()
    summary: str | None = None


@dataclass(frozen=True, slots=True)
class OutOfScope:
    """A subject the base deliberately does not answer, with questions users asked about it.

    Why: words shared with the base ("מועצה", "תקציב", a town's name) can make a question about
    salaries or elections look like one the base answers. A question closer to one of these than
    to the best entry's own questions gets an honest "not in my knowledge" instead.
    """

    subject: str
    questions: tuple[str, ...]
    file: str
    line: int | None = None


@dataclass(frozen=True)
class KnowledgeBase:
    """An immutable, validated base. Build one with ``knowledge.loader.load_base``."""

    root: Path
    documents: tuple[Document, ...]
    synonyms: tuple[tuple[str, ...], ...] = ()
    out_of_scope: tuple[OutOfScope, ...] = ()
    entries: Mapping[str, Entry] = field(default_factory=dict)
    _docs: Mapping[str, Document] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls, root: Path, documents: tuple[Document, ...], synonyms: tuple[tuple[str, ...], ...] = (),
        out_of_scope: tuple[OutOfScope, ...] = (),
    ) -> "KnowledgeBase":
        entries = {e.id: e for d in documents for e in d.entries}
        docs = {d.id: d for d in documents}
        return cls(root, documents, synonyms, out_of_scope, MappingProxyType(entries), MappingProxyType(docs))

    def entry(self, entry_id: str) -> Entry | None:
        return self.entries.get(entry_id)

    def document(self, doc_id: str) -> Document | None:
        return self._docs.get(doc_id)

    def document_of(self, entry: Entry) -> Document:
        return self._docs[entry.doc_id]

    def of_kind(self, kind: str) -> list[Document]:
        return [d for d in self.documents if d.kind == kind]

    def decisions(self) -> list[Document]:
        """Decision documents, by number."""
        return sorted(self.of_kind("decision"), key=lambda d: d.decision.number if d.decision else 0)

    def decision(self, number: int) -> Document | None:
        for d in self.of_kind("decision"):
            if d.decision and d.decision.number == number:
                return d
        return None

    def __len__(self) -> int:
        return len(self.entries)
