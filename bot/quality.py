"""The answer service's replies for answer quality, kept apart from the service so the service
stays the channels' one entry point and these rules can change on their own.

Why each exists: fresh questions written from the sources showed the matcher answering, with a
high score, messages that are not a question of their own ("3", "מה?", "מה התקציב של ההחלטה"),
comparisons of two decisions with one decision's entry, a town's question with an entry that does
not name the town, and facts the best entry does not hold. Each function returns a transport-neutral
``Reply``; none touches the store.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from knowledge.engine import Snapshot
from knowledge.gazetteer import asked_about
from knowledge.intents import asks_which_concern, read_intent
from knowledge.matcher import Match

from . import texts
from .compare import compare_text
from .replies import Citation, Option, Reply

if TYPE_CHECKING:
    from .service import AnswerService

MAX_OPTIONS = 3
MAX_LISTED = 8  # entries listed for a town


def intent_reply(service: "AnswerService", text: str, norm: str, snap: Snapshot) -> Reply | None:
    """The reply, without conversation context, to a message that is not a question of its own
    (knowledge.intents): a filler offers help, a bare known decision number opens that decision,
    any other bare number or a decision question without a number asks which decision, two
    decisions compared are laid out side by side, and "which decisions concern <town>" lists them.
    None for a question for the matcher. Fillers, numbers and which-decision replies are not queued
    for the curators (``meta["queue"]``)."""
    known = {d.decision.number: d for d in snap.kb.decisions() if d.decision}
    intent = read_intent(text, norm, known)
    if intent is None:
        return place_reply(text, norm, snap)
    meta: dict[str, object] = {"intent": intent.kind, "queue": False}
    choices = service.decisions(snap).options
    if intent.kind == "filler":
        return Reply("unanswered", texts.FILLER_HELP, meta=meta)
    if intent.kind == "number":
        number = intent.numbers[0]
        doc = known.get(number)
        if doc is not None and doc.entries:
            reply = service.entry(doc.entries[0].id, snap)
            if reply is not None:
                return replace(reply, meta={"intent": "number"})
        return Reply("clarify", texts.BARE_NUMBER.format(number=number), options=choices, meta=meta)
    if intent.kind == "decision-without-number":
        return Reply("clarify", texts.WHICH_DECISION, options=choices, meta=meta)
    a, b = intent.numbers
    return Reply("answer", compare_text(known[a], known[b]), title=texts.COMPARE_TITLE.format(a=a, b=b),
                 meta={"intent": "compare", "compare": (a, b)},
                 options=tuple(o for o in choices if o.target in (f"decision:{a}", f"decision:{b}")))


def place_reply(text: str, norm: str, snap: Snapshot) -> Reply | None:
    """"Which decisions / clauses concern <town>?": every decision entry that names the town (every
    entry, when none of them is a decision's), each with its citation. The first is the reply's
    entry (feedback goes to it). None when the question is not of that form or names no locality
    the base knows."""
    if not asks_which_concern(norm):
        return None
    gaz = snap.matcher.gazetteer
    places = [p for p in asked_about(text) if gaz.knows(p)]
    if len(places) != 1:
        return None
    entries = [snap.kb.entries[snap.matcher.ids[i]] for i in sorted(gaz.entries[places[0]])]
    # By decision; within one, its clause or localities entry first (the one that names towns).
    decisions = sorted((e for e in entries if e.decision_number),
                       key=lambda e: (e.decision_number or 0, not (e.clause or "יישוב" in e.title), e.id))
    chosen = decisions or entries
    lines = [texts.PLACE_LIST.format(place=places[0])]
    for e in chosen[:MAX_LISTED]:
        dec, name = texts.citation_parts(Citation(e.source.name, None, e.source.as_of, e.decision_number,
                                                  e.decision_date, e.clause))
        lines.append(f"• {e.title} ({dec or name})")
    return Reply("answer", "\n".join(lines), title=texts.PLACE_LIST_TITLE.format(place=places[0]),
                 entry_id=chosen[0].id, score=1.0, meta={"intent": "place", "place": places[0]},
                 options=tuple(Option(e.title, entry_id=e.id) for e in chosen[:MAX_OPTIONS]))


def lacking_reply(match: Match, snap: Snapshot) -> Reply:
    """The best entry is about the question's subject but does not hold the kind of fact asked (a
    sum, a date, today's state, what was carried out, who holds a post, contact details): an honest
    unanswered reply that names what the base has, with that entry to open. It is queued for the
    curators like any unanswered question."""
    assert match.best is not None and match.lacking is not None
    entry = snap.kb.entries[match.best.entry_id]
    return Reply("unanswered", texts.LACKING[match.lacking].format(title=entry.title), score=match.best.score,
                 meta={"lacking": match.lacking},
                 options=(Option(entry.title, entry_id=entry.id, score=match.best.score),))
