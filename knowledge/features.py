"""Question features the matcher reads besides plain words: decision references, curator
synonym groups, the word overlap of a question with one alternate question, what kind of fact a
question asks for (an amount, a title holder, the present, what comes next) and whether a text
states amounts or dates, and which sentences of a message ask something.

Kept apart from the index so each piece can be read (and tested) on its own; all of it is Hebrew-
or domain-specific, which is why it is written here rather than taken from a library.
"""
from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from functools import lru_cache
from typing import Iterable, Sequence

from .hebrew import QUESTION_WORDS, behind_clitics, is_stop, normalize, question_types, variants

_DECISION_WORD = re.compile(r"^[ובלמהש]{0,3}(החלטה|החלטת|החלטות|החלט|ההחלטה)$")


def decision_refs(norm_tokens: Sequence[str]) -> set[str]:
    """Numbers written right after the word החלטה: one after the singular, a list after the
    plural ("החלטות 546 2017 ו 3708"); a date after the number ("2025 23 9 2014") is not a ref."""
    refs: set[str] = set()
    for i, tok in enumerate(norm_tokens):
        m = _DECISION_WORD.match(tok)
        if not m:
            continue
        plural = m.group(1) == "החלטות"
        j = i + 1
        while j < len(norm_tokens) and norm_tokens[j] in ("מס", "מספר", "ממשלה"):
            j += 1
        while j < len(norm_tokens):
            t = norm_tokens[j]
            if t.isdigit() and len(t) >= 3:
                refs.add(t)
                if not plural:
                    break
            elif t != "ו":
                break
            j += 1
    return refs


class SynonymTagger:
    """Adds one synthetic key per synonym group found in a token list, on both sides."""

    def __init__(self, groups: Iterable[Sequence[str]]) -> None:
        self.by_first: dict[str, list[tuple[tuple[str, ...], str]]] = defaultdict(list)
        for n, group in enumerate(groups):
            for phrase in group:
                toks = tuple(normalize(phrase).split())
                if toks:
                    self.by_first[toks[0]].append((toks, f"~{n}"))

    def tags(self, toks: Sequence[str]) -> list[str]:
        if not self.by_first:
            return []
        found: list[str] = []
        for i, tok in enumerate(toks):
            for key, _w in variants(tok):
                for phrase, tag in self.by_first.get(key, ()):
                    if tuple(toks[i + 1: i + len(phrase)]) == phrase[1:]:
                        found.append(tag)
        return found


@lru_cache(maxsize=100_000)
def _text_keys(text: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """The words of an alternate question, and the readings of all of them together."""
    words = tuple(text.split())
    keys = frozenset(k for w in words for k, _ in variants(w))
    return words, keys


def word_overlap(qwords: list[tuple[set[str], float]], qkeys: set[str], text: str, hits: dict[str, bool],
                 total: float | None = None, beat: float = 0.0) -> float:
    """F1 of word overlap between the question and one alternate question, where two words meet
    when any of their Hebrew readings (prefix/suffix variants) meet; recall is idf-weighted.
    ``hits`` memoises, for one question, whether a word meets it (strings share most words);
    ``total`` is the question's summed importance, when the caller already has it. With ``beat``,
    a string whose recall cannot give an F1 above it returns 0 without its precision counted
    (the caller keeps the best F1 of many strings)."""
    words, text_keys = _text_keys(text)
    if not words or not qwords or qkeys.isdisjoint(text_keys):
        return 0.0
    if total is None:
        total = sum(imp for _, imp in qwords)
    recall = sum(imp for ks, imp in qwords if not ks.isdisjoint(text_keys)) / total
    if 2 * recall / (1 + recall) <= beat:  # its F1 even at precision 1
        return 0.0
    matched = 0
    for w in words:
        hit = hits.get(w)
        if hit is None:
            hit = hits[w] = any(k in qkeys for k, _ in variants(w))
        matched += hit
    precision = matched / len(words)
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


# An amount question: "כמה" with a money word ("כמה עלתה הסקירה", "כמה כסף"), or "מה" asking a
# money noun straight away ("מה התקציב של ...", "מה השכר של ..."). Normalised, finals folded.
_MONEY_WORDS = frozenset({"תקציב", "עלות", "עולה", "עולות", "עולימ", "עלה", "עלתה", "עלו", "מחיר", "כספ", "מימונ", "שח", "שקל",
                          "שקלימ", "מיליונ", "מיליארד", "משכורת", "שכר"})
_MONEY_NOUNS = frozenset({"תקציב", "עלות", "שכר", "משכורת", "מחיר"})
_WHAT = frozenset({"מה", "מהו", "מהי"})
_DATE = re.compile(r"\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def asks_amount(norm_tokens: Sequence[str]) -> bool:
    if "how-much" in question_types(" ".join(norm_tokens)):
        if any(k in _MONEY_WORDS for t in norm_tokens for k, _ in variants(t)):
            return True
    for i, tok in enumerate(norm_tokens):
        if tok in _WHAT or (tok[:1] == "ו" and tok[1:] in _WHAT):
            rest = [t for t in norm_tokens[i + 1:] if not is_stop(t)]
            if rest and any(k in _MONEY_NOUNS for k, _ in variants(rest[0])):
                return True
    return False


_MONTHS = ("ינואר", "פברואר", "מרצ", "מרס", "אפריל", "מאי", "יוני", "יולי", "אוגוסט", "ספטמבר", "אוקטובר",
           "נובמבר", "דצמבר")
_YEAR = re.compile(r"(?<!\d)(19|20)\d\d(?!\d)")


def states_date(text: str, decision_date: date | None = None) -> bool:
    """Whether a text states a date, a year or a month besides its own decision's date: an entry
    that states none cannot tell when something happened ("מתי עברה בח"א 27 לנבטים")."""
    if decision_date is not None:
        d = decision_date
        for form in (f"{d.day}.{d.month}.{d.year}", f"{d.day:02d}.{d.month:02d}.{d.year}"):
            text = text.replace(form, " ")
    norm = normalize(text)
    return bool(_DATE.search(text) or _YEAR.search(text)
                or any(m in w for w in norm.split() for m in _MONTHS))


def states_amount(text: str, decision_number: int | None = None) -> bool:
    """Whether a text states some number besides dates, years and its own decision number: an
    entry that states none cannot tell a budget, a cost or a salary, however close its words."""
    for number in _NUMBER.findall(_DATE.sub(" ", text)):
        plain = number.replace(",", "")
        if plain != str(decision_number) and not _YEAR.fullmatch(plain):
            return True
    return False


# Office holders a "who" question may ask for by title ("מי המנכ"ל של ...", "מי יו"ר ..."). Normalised.
_ROLES = frozenset({"מנכל", "מנכלית", "יור", "ראש", "שר", "שרה", "השר", "השרה", "מנהל", "מנהלת", "חוקר", "חוקרת", "חוקרימ", "מרצה",
                    "מרצימ", "דובר", "דוברת", "גזבר", "מבקר", "מזכיר", "נשיא", "סגנ", "מפכל", "ממונה", "רכז", "רכזת",
                    "יושב", "יושבת"})
_WHO = frozenset(QUESTION_WORDS["who"])


_HEADS = frozenset({"עומד", "עומדת", "עומדימ"})  # "מי עומד בראש ...": who heads


def asked_role(norm_tokens: Sequence[str]) -> str | None:
    """The title a "who" question asks for when it comes right after the question word ("מי עומד
    בראש" reads through to ראש), else None. The base names an office holder only where an entry
    says so; "מי המנכ"ל של אשכול נגב מערבי" matched to the cluster's entry would answer with its
    members instead."""
    for i, tok in enumerate(norm_tokens):
        if any(r in _WHO for r in behind_clitics(tok)):
            rest = [t for t in norm_tokens[i + 1:] if not is_stop(t)]
            if rest and rest[0] in _HEADS:
                rest = rest[1:]
            if rest and any(k in _ROLES for k, _ in variants(rest[0])):
                return rest[0]
            return None
    return None


_NOW = frozenset({"היומ", "עכשיו", "כיומ", "כרגע", "נוכחי", "הנוכחי", "הנוכחית", "נוכחית", "המכהנ", "המכהנת",
                  "סטטוס", "הסטטוס", "בתוקפ"})  # בתוקף: is it still in force
# "היום" is also "the day": סדר היום (the agenda), היום שאחרי (the day after), היום המדויק (the exact day).
_DAY_BEFORE = frozenset({"סדר", "בסדר", "לסדר", "מסדר"})
_DAY_AFTER = frozenset({"שאחרי", "המדויק", "שבו", "שבה", "הראשונ", "השני", "השלישי", "האחרונ", "הזה"})


def asks_now(norm_tokens: Sequence[str]) -> bool:
    """Whether a question asks about the present ("מי ראש הממשלה עכשיו", "546 עדיין בתוקף היום",
    "מה הסטטוס של ..."): the base is dated (``as_of``) and knows no one's or nothing's state today."""
    for i, t in enumerate(norm_tokens):
        readings = behind_clitics(t)
        if not any(r in _NOW for r in readings):
            continue
        if "היומ" in readings and ((i and norm_tokens[i - 1] in _DAY_BEFORE)
                                   or (i + 1 < len(norm_tokens) and norm_tokens[i + 1] in _DAY_AFTER)):
            continue
        return True
    return False


# Verbs of carrying out (built, set up, carried out, spent, paved, realised): the base holds what was
# decided, never what has been done since.
_DONE = frozenset(normalize(w) for w in (
    "הוקם", "הוקמו", "הוקמה", "הקימו", "נבנה", "נבנו", "נבנתה", "יושם", "יושמו", "יושמה", "יישמו", "בוצע", "בוצעו",
    "בוצעה", "ביצעו", "נוצל", "נוצלו", "ניצלו", "נסלל", "נסללו", "סללו", "מומש", "מומשו", "מומשה", "מימשו",
    "הושלם", "הושלמו", "הושלמה"))


def asks_done(norm_tokens: Sequence[str]) -> bool:
    """Whether a question asks what has been carried out ("פארקי התעשייה מ-546 הוקמו?", "בית החולים
    כבר נבנה?", "יישמו משהו?"), but not why or when something was set up ("למה הקימו אשכולות",
    "מתי הקימו תחום למיצוי זכויות"), which an entry may tell."""
    if not any(r in _DONE for t in norm_tokens for r in behind_clitics(t)):
        return False
    return not question_types(" ".join(norm_tokens)) & {"why", "when"}


_NEXT = frozenset({"הבא", "הבאה", "הבאימ", "הבאות", "הקרוב", "הקרובה", "הקרובימ", "בקרוב"})


def asks_next(norm_tokens: Sequence[str]) -> bool:
    """Whether a question asks about something still to come ("מתי הכנס הבא של מעגלים בנגב")."""
    return any(t in _NEXT for t in norm_tokens)


_SENTENCE = re.compile(r".+?(?:[?!\n]+|\.(?!\d)|$)", re.S)  # a dot inside a number (1.26, 24.12) ends nothing


def asked_sentences(text: str) -> list[list[str]]:
    """The normalised words of the sentences that ask something: ending in "?", holding a question
    word, or the message's only sentence. "קהילה מטיבה מה זה? קיבלנו מייל על זה" asks what the
    programme is; the e-mail is context, not the thing asked for."""
    parts = [(p, toks) for p in _SENTENCE.findall(text) if (toks := normalize(p).split())]
    return [toks for part, toks in parts
            if len(parts) == 1 or part.rstrip().endswith("?") or question_types(" ".join(toks))
            or any(r in _WHAT for t in toks for r in behind_clitics(t))]
