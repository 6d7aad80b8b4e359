"""What a message is, before it is a question for the matcher: a bare number, a conversational
filler, a decision question that names no decision, or a comparison of two decisions.

Why: the matcher ranks entries by shared words, so a message with no content words of its own
("3", "מה?", "עוד", "מה התקציב של ההחלטה") still meets some entry confidently: fresh questions
showed "12" answered with the workday entry and "40" with the e-commerce track. These messages
are told apart here, statelessly; the conversation layer (a number right after a reply with
options picks that option, a filler repeats the last options) decides with its context, and the
answer service replies to them without one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Literal

from .hebrew import is_stop, normalize, question_types, variants

IntentKind = Literal["number", "filler", "decision-without-number", "compare"]


@dataclass(frozen=True, slots=True)
class Intent:
    kind: IntentKind
    numbers: tuple[int, ...] = ()  # number: the number; compare: the two decisions, as asked


# Whole messages that carry no question of their own: they ask to repeat, go on, or say that the
# last reply was not understood. Compared after normalisation (final letters folded).
_FILLERS = frozenset(normalize(p) for p in (
    "מה", "מה?", "ו", "ו?", "ועוד", "עוד", "עוד?", "ועוד?", "עוד משהו", "ומה עוד", "מה עוד", "עוד פעם", "שוב",
    "שוב?", "פעם נוספת", "תמשיך", "המשך", "תמשיכי", "להמשיך", "ממשיכים", "נו", "נו?", "אז", "אז?", "אז מה",
    "ואז", "ואז?", "לא הבנתי", "לא הבנתי כלום", "לא ברור", "לא ברור לי", "לא הבנתי מה כתבת", "מה זאת אומרת",
    "מה הכוונה", "כלומר", "כלומר?", "תסביר", "תסבירי", "תסביר שוב", "תפרט", "תפרטי", "פרט", "יותר פרטים",
    "עוד פרטים", "תרחיב", "תרחיבי", "הא", "אה", "אהה", "הממ", "המממ", "וגם", "ומה", "ומה?", "ואיך", "ולמה",
    "כן", "לא", "כן?", "אוקיי אז", "טוב אז", "רגע", "רגע?", "שנייה", "מה עם זה", "ומה איתו", "ומה איתה",
))
# Words that ask about a decision's usual fields without saying which decision: with nothing else
# in the question, "מה התקציב של ההחלטה" fits every decision equally.
_DECISION_WORDS = frozenset({"החלטה", "החלטת", "החלטות"})
_FIELD_WORDS = frozenset({
    "תקציב", "כספ", "כסף", "סכומ", "סכום", "עלות", "מימונ", "מימון", "תאריכ", "תאריך", "התקבל", "התקבלה",
    "אושר", "אושרה", "עבר", "עברה", "קיבל", "קיבלה", "החליט", "החליטה", "ממשלה", "הממשלה", "מטרה", "מטרות",
    "יעד", "יעדימ", "תקופה", "שנה", "שנימ", "יישוב", "יישובימ", "ישוב", "ישובימ", "רשויות", "סעיפ", "סעיפימ",
    "עיקר", "עיקרי", "תוכנ", "תוכן", "נושא", "מיישמ", "מיישם", "ניסח", "גיבש", "מתי", "שמ", "שם", "כותרת",
    "בתוקפ", "תוקפ", "מספר", "פרטימ", "אומרת", "קובעת", "כוללת", "משרדימ", "משרד", "אחראי", "מוביל",
})
# Words that ask for a comparison when two decisions are named.
_COMPARE_WORDS = frozenset({
    "הבדל", "ההבדל", "הבדלימ", "ההבדלימ", "מבדיל", "לעומת", "מול", "השוואה", "להשוות", "תשווה", "השווה",
    "ביניהנ", "ביניהמ", "יותר", "פחות", "גדולה", "גדול", "קטנה", "קטנ", "זולה", "יקרה", "שונה", "שונות", "דומה",
    "דומות", "vs", "versus",
})
_COMPARE_PHRASES = (("כל", "אחת"), ("אותו", "דבר"), ("כל", "אחד"))


def _keys(tok: str) -> set[str]:
    return {k for k, _ in variants(tok)}


def is_filler(text: str, norm: str | None = None) -> bool:
    """A message that only asks to go on, to repeat, or says it did not understand ("לא הבנתי",
    "מה?", "עוד", "??")."""
    norm = normalize(text[:200]) if norm is None else norm
    if not norm:
        return bool(text.strip()) and all(ch in "?!.…،,;:־-–" or ch.isspace() for ch in text.strip())
    return norm in _FILLERS


def bare_number(norm: str) -> int | None:
    """The number, when the whole message is one number ("3", "546", "1963?")."""
    toks = norm.split()
    if len(toks) == 1 and toks[0].isdigit() and len(toks[0]) <= 6:
        return int(toks[0])
    return None


def decision_numbers(norm: str, known: Collection[int]) -> list[int]:
    """The known decision numbers a question names, in the order named, each once."""
    seen: list[int] = []
    for tok in norm.split():
        if tok.isdigit() and int(tok) in known and int(tok) not in seen:
            seen.append(int(tok))
    return seen


def is_comparison(norm: str, known: Collection[int]) -> tuple[int, int] | None:
    """The two decisions a question compares ("מה ההבדל בין 546 ל-2025", "2025 או 3708, איזו
    גדולה יותר", "546 ו-2025 על אילו שנים כל אחת"), or None."""
    named = decision_numbers(norm, known)
    if len(named) != 2:
        return None
    toks = norm.split()
    words = {k for t in toks for k in _keys(t)}
    pairs = set(zip(toks, toks[1:]))
    if words & _COMPARE_WORDS or any(p in pairs for p in _COMPARE_PHRASES) or "או" in toks:
        return named[0], named[1]
    return None


def is_decision_without_number(norm: str) -> bool:
    """A question about "the decision" that names none: it mentions a decision, has no number, and
    every other content word asks for one of a decision's usual fields (budget, date, goals...)."""
    toks = [t for t in norm.split() if not is_stop(t)]
    if not toks or any(t.isdigit() for t in norm.split()):
        return False
    decision = [t for t in toks if _keys(t) & _DECISION_WORDS]
    if not decision:
        return False
    return all(_keys(t) & (_FIELD_WORDS | _DECISION_WORDS) for t in toks)


def read_intent(text: str, norm: str, known_decisions: Collection[int]) -> Intent | None:
    """The intent of a message, or None for a question the matcher should take."""
    if is_filler(text, norm):
        return Intent("filler")
    number = bare_number(norm)
    if number is not None:
        return Intent("number", (number,))
    pair = is_comparison(norm, known_decisions)
    if pair is not None:
        return Intent("compare", pair)
    if is_decision_without_number(norm):
        return Intent("decision-without-number")
    return None


# "Which decisions / clauses concern <town>?": a question word of choice and a decision or clause
# word, or "מה יש ל<town>" / "מה <town> מקבלת".
_WHICH = frozenset(normalize(w) for w in ("איזה", "אילו", "איזו", "באיזה", "באילו", "באיזו", "לאיזה", "לאילו"))
_CONCERN_NOUNS = frozenset({"החלטה", "החלטות", "החלטת", "סעיפ", "סעיפימ", "סעיף"})
_GETS = frozenset(normalize(w) for w in ("יש", "מקבלת", "מקבל", "מקבלים", "נוגע", "נוגעת", "נוגעות", "שייכת",
                                         "שייך", "קשורה", "קשור", "זכאית", "זכאי"))


def asks_which_concern(norm: str) -> bool:
    """Whether a question asks which decisions or clauses concern a place ("אילו החלטות נוגעות
    לדימונה", "מה יש לירוחם בהחלטות"), rather than one fact about it. The place itself is read by
    the gazetteer."""
    toks = norm.split()
    if any(t.isdigit() for t in toks):
        return False
    keys = [_keys(t) for t in toks]
    which = any(t in _WHICH and n + 1 < len(toks) and keys[n + 1] & _CONCERN_NOUNS for n, t in enumerate(toks))
    gets = any(t in _GETS for t in toks) and any(k & _CONCERN_NOUNS for k in keys)
    return which or (gets and not question_types(norm) - {"what-is"})
