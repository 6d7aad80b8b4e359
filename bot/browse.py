"""Browsing the base without a question: the decisions, a decision's page, the programmes and their
stages, the phases of hosting a visit. Each is a ``Reply`` of kind ``browse``; its ``options`` are
what can be opened next and ``options_title`` says what they are.

One label per thing, written once: a decision is called by its document's title everywhere (the
official title is a line of its page), a stage's label carries its number once, and a clause
number is not repeated where the entry's title already names it.
"""
from __future__ import annotations

import re

from knowledge.schema import Document, KnowledgeBase

from . import texts
from .replies import Citation, Option, Reply

_STAGE_PREFIX = re.compile(r"^שלב\b")


def decision_label(doc: Document) -> str:
    """"החלטה 546 – …": the document's title, with the number in front if the title lacks it."""
    number = doc.decision.number if doc.decision else None
    if number is None or str(number) in doc.title.split("–")[0]:
        return doc.title
    return f"{texts.DECISION_LABEL} {number} – {doc.title}"


def stage_label(order: int, name: str) -> str:
    """"שלב 1: מיפוי…"; a name that already says which stage it is ("שלב 3 – הטמעה") stays as it is."""
    return name if _STAGE_PREFIX.match(name.strip()) else texts.STAGE_TITLE.format(order=order, name=name)


def _source(doc: Document) -> Citation:
    return Citation(doc.source.name, doc.source.url, doc.source.as_of)


def decisions(kb: KnowledgeBase) -> Reply:
    options = tuple(Option(decision_label(d), target=f"decision:{d.decision.number}")
                    for d in kb.decisions() if d.decision)
    return Reply("browse", texts.DECISIONS_TITLE, options=options)


def known_decisions(kb: KnowledgeBase) -> str:
    return ", ".join(str(d.decision.number) for d in kb.decisions() if d.decision)


def decision(kb: KnowledgeBase, number: int) -> Reply:
    doc = kb.decision(number)
    if doc is None or doc.decision is None:
        return Reply("browse", texts.DECISION_NOT_FOUND.format(number=number, known=known_decisions(kb)))
    d = doc.decision
    lines = [f"{texts.DATE_LABEL} {texts.format_date(d.date)}"]
    if d.title and d.title not in doc.title:
        lines.append(texts.OFFICIAL_TITLE.format(title=d.title))
    if d.budget:
        lines.append(texts.BUDGET_LINE.format(budget=d.budget))
    if d.period:
        lines.append(texts.PERIOD_LINE.format(period=d.period))
    if d.localities:
        lines.append(texts.LOCALITIES_LINE.format(localities=", ".join(d.localities)))
    if d.ministries:
        lines.append(texts.MINISTRIES_LINE.format(ministries=", ".join(d.ministries)))
    if doc.summary:
        lines.append(doc.summary)
    options = tuple(Option(_clause_label(e.clause, e.title), entry_id=e.id) for e in doc.entries)
    citation = Citation(doc.source.name, doc.source.url, doc.source.as_of, d.number, d.date)
    return Reply("browse", "\n".join(lines), title=decision_label(doc), options=options, citation=citation,
                 options_title=texts.DECISION_CLAUSES)


def _clause_label(clause: str | None, title: str) -> str:
    if not clause or f"{texts.CLAUSE_LABEL} {clause}" in title:
        return title
    return f"{texts.CLAUSE_LABEL} {clause} – {title}"


def programmes(kb: KnowledgeBase) -> Reply:
    options = tuple(Option(d.title, target=f"programme:{d.id}") for d in kb.of_kind("programme"))
    return Reply("browse", texts.PROGRAMMES_TITLE, options=options)


def programme(kb: KnowledgeBase, doc_id: str) -> Reply | None:
    doc = kb.document(doc_id)
    if doc is None or doc.kind != "programme":
        return None
    if doc.stages:
        options = tuple(Option(stage_label(s.order, s.name), target=f"stage:{s.id}") for s in doc.stages)
        heading = texts.PROGRAMME_STAGES
    else:
        options = tuple(Option(e.title, entry_id=e.id) for e in doc.entries)
        heading = None
    return Reply("browse", doc.summary or "", title=doc.title, options=options, citation=_source(doc),
                 options_title=heading)


def visits(kb: KnowledgeBase) -> Reply:
    options = tuple(Option(p.name, target=f"phase:{p.id}") for d in kb.of_kind("guideline") for p in d.phases)
    return Reply("browse", texts.VISITS_TITLE, options=options)


def step(kb: KnowledgeBase, step_id: str) -> Reply | None:
    """One programme stage or guideline phase: its entries, checklist and the next step."""
    for doc in kb.documents:
        steps = doc.stages or doc.phases
        for i, s in enumerate(steps):
            if s.id != step_id:
                continue
            entries = [e for e in doc.entries if step_id in (e.stage, e.phase)]
            checklist = tuple(item for e in entries for item in e.checklist)
            prefix = "stage" if doc.stages else "phase"
            label = stage_label(s.order, s.name) if doc.stages else s.name
            nxt = None
            if i + 1 < len(steps):
                n = steps[i + 1]
                nxt = Option(texts.NEXT_STAGE if doc.stages else texts.NEXT_PHASE, target=f"{prefix}:{n.id}")
            return Reply("browse", doc.title, title=label, options=tuple(Option(e.title, entry_id=e.id)
                                                                          for e in entries),
                         checklist=checklist, next=nxt, citation=_source(doc),
                         options_title=texts.STEP_ENTRIES if entries else None)
    return None
