"""The answer service: ``Question`` in, ``Reply`` out, for every channel.

It takes one knowledge snapshot per question (so a reload never mixes bases), decides the reply
kind from the matcher, attaches the citation, and records what curators need in the store. A
store failure never costs the user the answer: it is logged, and an unanswered reply then says
honestly that the question could not be queued.
"""
from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any, Callable, Literal

from knowledge.engine import Engine, Snapshot
from knowledge.hebrew import is_stop, normalize
from knowledge.matcher import Match
from knowledge.schema import Entry

from . import browse, quality, texts
from .replies import Citation, Option, Question, Reply
from .settings import DEFAULT_HASH_KEY
from .storage import Storage, hash_user

log = logging.getLogger(__name__)

MAX_OPTIONS = 3
Vote = Literal["stored", "unknown", "failed"]

_GREETINGS = {"שלומ", "היי", "הי", "הלו", "אהלנ", "אהלא", "בוקר", "ערב", "צהריימ", "צהרימ", "טוב", "טובימ",
              "טובה", "נשמע", "שלומכ", "שלומכמ", "hi", "hello", "hey", "shalom", "יומ", "נעימ", "מה", "איכ", "לכ", "לכמ", "אליכ", "לכולמ", "כולמ", "חברימ",
              "הולכ", "מצב", "מהמצב", "שבוע", "שבת", "חג", "שמח", "רב"}
_THANKS = {"תודה", "תודות", "רבה", "תנקס", "thanks", "thx", "thank", "you", "יישר", "ישר", "כח", "כוח", "אלופ",
           "אלופימ", "אלופה", "מעולה", "סבבה", "מצוינ", "מצויינ", "אחלה", "תותח", "תותחימ", "ok", "אוקיי", "אוקי",
           "מגניב", "בסדר", "עזרת", "עזרתמ", "עזרה", "העזרה", "עזרתכ", "מושלמ", "נהדר", "יופי", "הבנתי", "הבנו",
           "ברור", "מובנ", "קיבלתי"}
_ABOUT = {"אתה", "את", "בוט", "רובוט", "אמיתי", "אמיתית", "בנאדמ", "בנ", "אדמ", "חמוד", "חמודה", "שלומכ",
          "שלומכמ", "היומ", "מי", "כלל", "בכלל", "לעשות", "יצר", "יצרה", "אותכ", "מבינ", "מבינה", "עברית",
          "מחשב", "מצחיק", "מצחיקה", "חחח", "חחחח", "בינה", "מלאכותית", "ai", "gpt", "chatgpt", "לעזור"}
# "לעזור" among stop words only is asking what the bot can help with ("במה את יכולה לעזור").
_ABOUT_TRIGGERS = {"אתה", "בוט", "רובוט", "שלומכ", "שלומכמ", "חמוד", "חמודה", "אותכ", "מחשב", "חחח", "חחחח",
                   "לעזור"}
_BYE = {"ביי", "להתראות", "bye", "לילה", "נתראה", "יאללה", "בהצלחה", "הכל", "הכול", "בינתיימ", "כרגע", "זהו"}
# Words that address someone: the bot by name ("ערב טוב רשות") or anyone ("תודה אחי"). Alone,
# "רשות" may be a question, so they only drop out of a message that has other words.
_VOCATIVES = {"רשות", "אחי", "אחותי", "חביבי", "גבר", "מלכ", "מלכה"}
_THANKS_EMOJI = set("👍🙏❤️💙🌹😊🙂👌💪🔥✨")


_DRAWN_OUT = re.compile(r"(.)\1{2,}")


def _as_small(tok: str, small: set[str]) -> str:
    """``tok`` read as a pleasantry if it is one behind a leading ו or ש ("ותודה", "תודה שעזרת") or
    with a letter drawn out."""
    for candidate in (tok, _DRAWN_OUT.sub(r"\1\1", tok), _DRAWN_OUT.sub(r"\1", tok)):
        if candidate in small:
            return candidate
        if candidate[:1] in ("ו", "ש") and candidate[1:] in small:
            return candidate[1:]
    return tok


def _smalltalk(text: str, norm: str) -> str | None:
    """The smalltalk text for greetings, thanks and goodbyes, or None for a real question.

    A message is smalltalk when every word is a greeting/thanks/goodbye word or a stop word, so
    "שלום, מה התקציב של 546?" is still a question.
    """
    toks = norm.split()
    if not toks:
        if any(ch in _THANKS_EMOJI for ch in text):
            return texts.SMALLTALK_THANKS
        return texts.EMPTY_QUESTION
    if len(toks) > 8:
        return None
    small = _THANKS | _GREETINGS | _BYE | _ABOUT
    if len(toks) > 1:
        toks = [t for t in toks if t not in _VOCATIVES] or toks
    # "ויום טוב", "ותודה": a leading ו joins two pleasantries; "הייי", "תודהההה": drawn-out letters
    toks = [_as_small(t, small) for t in toks]
    if any(t not in small and not is_stop(t) for t in toks):
        return None
    words = set(toks)
    if words & _ABOUT_TRIGGERS and not words & _THANKS:
        return texts.SMALLTALK_ABOUT
    if words & _THANKS:
        return texts.SMALLTALK_THANKS
    if words & _BYE or words >= {"לילה", "טוב"}:
        return texts.SMALLTALK_BYE
    if words & _GREETINGS:
        return texts.SMALLTALK_GREETING
    return None


class AnswerService:
    def __init__(self, engine: Engine, store: Storage | None = None, *, hash_key: str = DEFAULT_HASH_KEY,
                 scrub: Callable[[str], str] = str) -> None:
        self.engine = engine
        self.store = store
        self.hash_key = hash_key
        self.scrub = scrub  # takes the bot's own secrets out of a text before it is stored
    # ------------------------------------------------------------------ questions
    async def handle(self, question: Question) -> Reply:
        snap = self.engine.snapshot  # one base for the whole question
        reply, match = self.respond(question.text, snap)
        return await self._record(question, reply, match, snap)

    def respond(self, text: str, snap: Snapshot | None = None) -> tuple[Reply, Match | None]:
        """The reply for a text, without side effects (used by handle, ask and the benchmarks)."""
        snap = snap or self.engine.snapshot
        norm = normalize(text[:4000])
        intent = quality.intent_reply(self, text, norm, snap)  # answer quality: not a question of its own
        if intent is not None:
            return intent, None
        small = _smalltalk(text, norm)
        if small is not None:
            return Reply("smalltalk", small), None
        match = snap.matcher.match(text, norm=norm)
        if match.decision == "answer" and match.best:
            entry = snap.kb.entries[match.best.entry_id]
            return self._entry_reply(entry, snap, match.best.score), match
        options = tuple(
            Option(snap.kb.entries[c.entry_id].title, entry_id=c.entry_id, score=c.score)
            for c in match.candidates[:MAX_OPTIONS] if c.score >= snap.matcher.thresholds.option
        )
        if match.out_of_scope is not None:
            return Reply("unanswered", texts.OUT_OF_SCOPE.format(subject=match.out_of_scope),
                         score=match.best.score if match.best else 0.0), match
        if match.lacking and match.best:  # answer quality: say what the base has, and what it lacks
            return quality.lacking_reply(match, snap), match
        if match.decision == "clarify" and options:
            return Reply("clarify", texts.CLARIFY, options=options,
                         score=match.best.score if match.best else 0.0), match
        if match.unknown_places:  # answer quality: a town or council no entry names
            body = texts.UNKNOWN_PLACE.format(places=", ".join(match.unknown_places))
        elif match.unknown_decisions:
            body = texts.UNKNOWN_DECISION.format(numbers=", ".join(match.unknown_decisions),
                                                 known=self._known_decisions(snap))
        elif match.unknown_numbers:
            body = texts.UNKNOWN_NUMBER.format(numbers=", ".join(match.unknown_numbers))
        else:
            body = texts.UNANSWERED_NOT_LOGGED
        return Reply("unanswered", body, score=match.best.score if match.best else 0.0), match

    async def _record(self, q: Question, reply: Reply, match: Match | None, snap: Snapshot) -> Reply:
        if self.store is None:
            return reply
        user = hash_user(q.user_id, self.hash_key)
        if reply.kind in ("clarify", "unanswered") and reply.meta.get("queue", True):
            candidates = self._hints(reply, match, snap.matcher.thresholds.answer)
            try:
                await self.store.log_unanswered(text=self.scrub(q.text[:4000]), norm=match.normalized if match else "",
                                                channel=q.channel, chat_type=q.chat_type, user_hash=user,
                                                kind=reply.kind, candidates=candidates)
                # Queued all the same (a wrong out-of-scope call must reach the curators), but the
                # reply does not promise an answer for a subject the base leaves out on purpose.
                promise = reply.kind == "unanswered" and not (match and match.out_of_scope)
                text = reply.text + "\n" + texts.QUEUED_NOTE if promise else reply.text
                reply = replace(reply, text=text, logged=True)
            except Exception as exc:  # noqa: BLE001 - never lose the reply; it then claims nothing
                log.error("could not queue an unanswered question for curators: %s", exc, exc_info=True)
        try:
            await self.store.log_question(channel=q.channel, chat_type=q.chat_type, user_hash=user,
                                          kind=reply.kind, entry_id=reply.entry_id, score=reply.score)
        except Exception as exc:  # noqa: BLE001 - statistics are best effort, the reply is not
            log.warning("could not record question statistics: %s", exc)
        return reply

    @staticmethod
    def _hints(reply: Reply, match: Match | None, floor: float) -> list[dict[str, Any]]:
        """The curators' "nearest entry" for a queued question: what the user was offered (did you
        mean, the entry that lacks the fact), or an entry close enough that it would have been the
        answer but for a rule (out of scope, a fact it lacks); never the matcher's nearest entry for
        a question it could not place at all (weather -> a decision's clause at 0.48)."""
        offered = [{"entry_id": o.entry_id, "score": o.score if o.score is not None else reply.score}
                   for o in reply.options if o.entry_id]
        if offered or match is None:
            return offered
        return [{"entry_id": c.entry_id, "score": c.score} for c in match.candidates if c.score >= floor]

    async def feedback(self, entry_id: str, vote: int, user_id: str | int, channel: str) -> Vote:
        """Record a 👍 (1) or 👎 (-1) on an entry: "stored", "unknown" (the entry is gone, e.g. an old
        button after a reload) or "failed" (the store could not keep it)."""
        if self.engine.snapshot.kb.entry(entry_id) is None:
            return "unknown"
        if self.store is None:
            return "failed"
        try:
            await self.store.add_feedback(entry_id=entry_id, vote=vote, user_hash=hash_user(user_id, self.hash_key)
                                          or "anonymous", channel=channel)
            return "stored"
        except Exception as exc:  # noqa: BLE001
            log.error("could not store feedback for %s: %s", entry_id, exc)
            return "failed"

    def suggest(self, text: str, k: int = 3) -> list[Reply]:
        """Up to ``k`` entry replies for a text, without side effects (inline answer cards): the
        matcher's answer or did-you-mean entries, then close search hits. Nothing when the matcher
        says unanswered (e.g. a decision number not in the base): the number guard applies here
        exactly as in chat."""
        snap = self.engine.snapshot
        reply, _ = self.respond(text, snap)
        if reply.kind == "answer" and reply.entry_id:
            ids = [reply.entry_id] + [o.entry_id for o in self.search(text, k=k, snap=snap).options if o.entry_id]
        elif reply.kind == "clarify":
            ids = [o.entry_id for o in reply.options if o.entry_id]
        else:
            return []
        out: list[Reply] = []
        for entry_id in dict.fromkeys(ids):
            entry = self.entry(entry_id, snap)
            if entry is not None:
                out.append(entry)
            if len(out) == k:
                break
        return out

    # ------------------------------------------------------------------ entries and browsing
    def entry(self, entry_id: str, snap: Snapshot | None = None) -> Reply | None:
        snap = snap or self.engine.snapshot
        entry = snap.kb.entry(entry_id)
        return self._entry_reply(entry, snap, 1.0) if entry else None

    def _entry_reply(self, entry: Entry, snap: Snapshot, score: float) -> Reply:
        src = entry.source
        citation = Citation(src.name, src.url, src.as_of, entry.decision_number, entry.decision_date, entry.clause)
        related = tuple(Option(snap.kb.entries[r].title, entry_id=r) for r in entry.related[:MAX_OPTIONS]
                        if r in snap.kb.entries)
        return Reply("answer", entry.answer, title=entry.title, entry_id=entry.id, score=score,
                     citation=citation, options=related, checklist=entry.checklist)

    @staticmethod
    def _known_decisions(snap: Snapshot) -> str:
        return browse.known_decisions(snap.kb)

    def open(self, target: str, snap: Snapshot | None = None) -> Reply | None:
        """Open a browse target such as ``decision:546`` or ``stage:<id>``; None if it is gone."""
        snap = snap or self.engine.snapshot
        kind, _, arg = target.partition(":")
        if kind == "decisions":
            return self.decisions(snap)
        if kind == "decision" and arg.isdigit():
            return self.decision(int(arg), snap)
        if kind == "programmes":
            return self.programmes(snap)
        if kind == "programme":
            return self.programme(arg, snap)
        if kind == "stage":
            return self.step(arg, snap)
        if kind == "visits":
            return self.visits(snap)
        if kind == "phase":
            return self.step(arg, snap)
        if kind == "entry":
            return self.entry(arg, snap)
        return None

    def decisions(self, snap: Snapshot | None = None) -> Reply:
        return browse.decisions((snap or self.engine.snapshot).kb)

    def decision(self, number: int, snap: Snapshot | None = None) -> Reply:
        return browse.decision((snap or self.engine.snapshot).kb, number)

    def programmes(self, snap: Snapshot | None = None) -> Reply:
        return browse.programmes((snap or self.engine.snapshot).kb)

    def programme(self, doc_id: str, snap: Snapshot | None = None) -> Reply | None:
        return browse.programme((snap or self.engine.snapshot).kb, doc_id)

    def visits(self, snap: Snapshot | None = None) -> Reply:
        return browse.visits((snap or self.engine.snapshot).kb)

    def step(self, step_id: str, snap: Snapshot | None = None) -> Reply | None:
        """One programme stage or guideline phase: its entries, checklist and the next step."""
        return browse.step((snap or self.engine.snapshot).kb, step_id)

    def search(self, text: str, k: int = 5, snap: Snapshot | None = None) -> Reply:
        snap = snap or self.engine.snapshot
        if not normalize(text):
            return Reply("browse", texts.SEARCH_USAGE)
        cands = snap.matcher.search(text, k=k)
        options = tuple(Option(snap.kb.entries[c.entry_id].title, entry_id=c.entry_id, score=c.score)
                        for c in cands if c.score >= snap.matcher.thresholds.option)
        return Reply("browse", texts.SEARCH_RESULTS if options else texts.SEARCH_NONE, options=options)
