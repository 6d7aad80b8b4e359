"""Transport-neutral questions and replies: what adapters build and render.

An adapter (console, Telegram, WhatsApp) turns a chat message into a ``Question`` and renders a
``Reply``; it never looks at the knowledge base itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from . import texts

ReplyKind = Literal["answer", "clarify", "unanswered", "browse", "smalltalk"]


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    channel: str = "console"
    chat_type: str = "private"
    user_id: str | None = None  # raw transport id; the store keeps only a keyed hash


@dataclass(frozen=True, slots=True)
class Citation:
    source_name: str
    url: str | None = None
    as_of: date | None = None
    decision_number: int | None = None
    decision_date: date | None = None
    clause: str | None = None


@dataclass(frozen=True, slots=True)
class Option:
    """A button or list item: an entry (``entry_id``) or a browse target (``target``)."""

    label: str
    entry_id: str | None = None
    target: str | None = None  # e.g. "decision:546", "programme:kehila-meitiva", "phase:visits-before"
    score: float | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    kind: ReplyKind
    text: str  # the body, plain text; the citation is separate so each channel can format it
    title: str | None = None
    entry_id: str | None = None
    score: float = 0.0
    citation: Citation | None = None
    options: tuple[Option, ...] = ()  # clarify: did-you-mean; answer: related; browse: items
    checklist: tuple[str, ...] = ()
    next: Option | None = None  # browse of a programme stage / visit phase: the next one
    options_title: str | None = None  # what the options are ("the decision's clauses:"), shown above them
    logged: bool = False  # the question was queued for curators
    meta: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def options_heading(self) -> str | None:
        """The line shown above the options: what they are ("ראו גם:" under an answer)."""
        if not self.options:
            return None
        return self.options_title or (texts.RELATED if self.kind == "answer" else None)

    def citation_line(self) -> str:
        return texts.citation_text(self.citation) if self.citation else ""

    def plain_text(self) -> str:
        """What the user reads, citation included: used by the console and ``rashut ask``."""
        parts = [self.text]
        if self.checklist:
            parts.append("\n".join(f"☐ {item}" for item in self.checklist))
        line = self.citation_line()
        if line:
            parts.append(line)
        return "\n".join(p for p in parts if p)
