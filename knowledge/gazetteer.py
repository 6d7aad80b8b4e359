"""Localities: which towns and councils a question names, and which entries name them.

Why: a question that names a town was answered by an unrelated entry that shares another word
with it ("בית שאן נכנסת ב-2025" got the entry on 2025's projects; "מה ב"ש מקבלת מ-2025" got the
definition of the South's localities, which never names Be'er Sheva). The gazetteer lists Israel's
local authorities with the spellings staff type (ב"ש, באר-שבע; ק"ש; מ"א מרחבים); the base
*knows* a locality when an entry's title, answer or keywords name it. A locality named in the
asker's own introduction ("אני עובדת באופקים, ...") is context, not the subject, and is ignored.
"""
from __future__ import annotations

import re
from typing import Iterable

from .hebrew import normalize

# Canonical name -> other spellings. Names that are also everyday words (אשכול, תמר, גדרה, מיתר...)
# count only after a council word (מ"א אשכול, מועצה אזורית תמר).
_AUTHORITIES = """
באר שבע|ב"ש|באר-שבע|בארשבע; דימונה; ירוחם; ערד; אופקים; נתיבות; שדרות; רהט; אילת; מצפה רמון; קריית גת|ק"ג;
קריית מלאכי; אשקלון; אשדוד; יבנה; גן יבנה; קריית שמונה|ק"ש; טבריה; בית שאן; צפת; נהריה; עכו; כרמיאל;
מעלות תרשיחא; שלומי; חצור הגלילית; ראש פינה; קצרין; נצרת; נוף הגליל|נצרת עילית; עפולה; מגדל העמק; יקנעם;
טירת כרמל; חיפה; קריית אתא; קריית ביאליק; קריית מוצקין; קריית ים; נשר; זכרון יעקב; חדרה; אור עקיבא;
נתניה; כפר סבא; רעננה; הרצליה; הוד השרון; רמת השרון; פתח תקווה|פ"ת; ראש העין; אלעד; בני ברק; רמת גן;
גבעתיים; תל אביב|ת"א|תל אביב יפו; בת ים; חולון; ראשון לציון|ראשל"צ; רחובות; נס ציונה; לוד; רמלה;
מודיעין|מודיעין מכבים רעות; בית שמש; ירושלים|י-ם; מעלה אדומים; אריאל; ביתר עילית; מודיעין עילית;
אום אל פחם; טייבה; טירה; סח'נין|סחנין; שפרעם; טמרה; כפר קאסם; קלנסווה; באקה אל גרבייה; ערערה; כסייפה;
חורה; לקיה; תל שבע; שגב שלום; אבו בסמה; נווה מדבר; אל קסום; עומר; להבים; מיתר; שער הנגב; שדות נגב;
חוף אשקלון; בני שמעון; מרחבים; רמת נגב; הר הנגב; תמר; חבל אילות; ערבה תיכונה; אשכול; לכיש; יואב;
שפיר; באר טוביה; חבל יבנה; גזר; עמק יזרעאל; גלבוע; עמק המעיינות; עמק הירדן; גליל עליון; גליל תחתון;
מבואות החרמון; משגב; מטה אשר; מעלה יוסף; מרום הגליל; הגלבוע; מטה יהודה; מטה בנימין; שומרון; גוש עציון;
הר חברון; בקעת הירדן; מגילות; עמק חפר; מנשה; חוף הכרמל; זבולון; דרום השרון; לב השרון; חבל מודיעין;
""".replace("\n", " ")
# Everyday words that are also council names: a locality only right after a council word.
_NEEDS_COUNCIL = frozenset(normalize(w) for w in (
    "אשכול", "תמר", "מיתר", "להבים", "עומר", "שפיר", "יואב", "גזר", "מנשה", "זבולון", "שומרון", "מגילות", "לכיש",
    "יבנה", "נשר", "טירה", "אריאל", "אלעד", "שלומי", "מודיעין"))  # יבנה "will build", נשר "eagle", מודיעין "intelligence"...
_COUNCIL_WORDS = frozenset(normalize(w) for w in ('מ"א', "מועצה", "המועצה", "מועצת", "אזורית", "האזורית",
                                                  "מוא", "עיריית", "עירית", "העיר", "עיר", "מקומית"))
# First-person words: a locality in the same clause is where the asker is from or works.
_SELF = frozenset(normalize(w) for w in (
    "אני", "אנחנו", "אנו", "אצלנו", "שלנו", "לנו", "עובד", "עובדת", "עובדים", "מנהל", "מנהלת", "רכז", "רכזת",
    "חבר", "חברת", "גר", "גרה", "גרים", "מהעירייה", "בעירייה", "מהמועצה", "במועצה", "תושב", "תושבת", "עובדי"))
_CLAUSE_BREAK = re.compile(r"[,.;:!?\n]|\s-\s|\s–\s")


def _parse(table: str) -> dict[str, tuple[tuple[str, ...], ...]]:
    out: dict[str, tuple[tuple[str, ...], ...]] = {}
    for group in table.split(";"):
        names = [n.strip() for n in group.split("|") if n.strip()]
        if names:
            out[names[0]] = tuple(tuple(normalize(n).split()) for n in names)
    return out


AUTHORITIES = _parse(_AUTHORITIES)


_CLITICS = frozenset("ובכלמש")  # not ה: "קריית המודיעין" is a base, not the city


def _readings(tok: str) -> list[str]:
    """``tok`` and what is left behind up to three clitic letters (two-letter abbreviations behind
    one at most, so "לבקש" is not ק"ש; not ה: "קריית המודיעין" is a base, not the city)."""
    out = [tok]
    for cut in (1, 2, 3):
        if len(tok) > cut and all(c in _CLITICS for c in tok[:cut]):
            rest = tok[cut:]
            if len(rest) > 2 or cut == 1:
                out.append(rest)
    return out


# First word of every spelling -> (spelling, canonical name), longest spelling first.
_BY_FIRST: dict[str, list[tuple[tuple[str, ...], str]]] = {}
for _name, _spellings in AUTHORITIES.items():
    for _s in _spellings:
        _BY_FIRST.setdefault(_s[0], []).append((_s, _name))
for _list in _BY_FIRST.values():
    _list.sort(key=lambda x: -len(x[0]))


def named_in(toks: list[str], subject_only: bool = False) -> list[str]:
    """The canonical names of the localities a normalised token list names, the longest spelling
    at each place first (חוף אשקלון is not אשקלון). ``subject_only``: not behind ב or מ, which
    mostly say where something happened or where someone comes from ("ביום העבודה בבאר שבע",
    "משלחת מחיפה"), not what is asked about. Cost: a dictionary look-up per word reading."""
    found: list[str] = []
    i = 0
    while i < len(toks):
        best: tuple[tuple[str, ...], str] | None = None
        for reading in _readings(toks[i]):
            for spelling, name in _BY_FIRST.get(reading, ()):
                n = len(spelling)
                if tuple(toks[i + 1:i + n]) != spelling[1:] or (best and len(best[0]) >= n):
                    continue
                if spelling[0] in _NEEDS_COUNCIL and n == 1 and not (i and toks[i - 1] in _COUNCIL_WORDS):
                    continue
                best = (spelling, name)
        if best is None:
            i += 1
            continue
        spelling, name = best
        behind = toks[i] != spelling[0] and toks[i].lstrip("וש")[:1] in ("ב", "מ")
        if not (subject_only and behind) and name not in found:
            found.append(name)
        i += len(spelling)
    return found


def asked_about(text: str) -> list[str]:
    """The localities a question is *about*: named outside a clause that introduces the asker."""
    out: list[str] = []
    for clause in _CLAUSE_BREAK.split(text[:4000]):
        toks = normalize(clause).split()
        if any(t in _SELF or (t[:1] in ("ו", "ש") and t[1:] in _SELF) for t in toks):
            continue
        out += [n for n in named_in(toks, subject_only=True) if n not in out]
    return out


class Gazetteer:
    """The localities one base knows: for each, the indices of the entries that name it. Built from
    each entry's normalised title, answer and keywords (the matcher passes the words it already
    normalised for its index, so a large base is not normalised twice)."""

    def __init__(self, texts: Iterable[str] = ()) -> None:
        self.entries: dict[str, set[int]] = {}
        for idx, text in enumerate(texts):
            self.add(idx, normalize(text).split())

    def add(self, idx: int, toks: list[str]) -> None:
        for name in named_in(toks):
            self.entries.setdefault(name, set()).add(idx)

    def knows(self, name: str) -> bool:
        return name in self.entries

    def unknown(self, names: Iterable[str]) -> tuple[str, ...]:
        """The names no entry names. A council whose name is an everyday word (אשכול) is never
        said to be unknown: an entry may list it without the council word."""
        return tuple(n for n in names if n not in self.entries and normalize(n) not in _NEEDS_COUNCIL)
