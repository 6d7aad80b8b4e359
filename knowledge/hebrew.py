"""Hebrew text handling for matching: normalisation, tokens, prefix/suffix variants, numbers.

Written by hand because no maintained library covers what short colloquial Hebrew questions need
here: clitic prefixes (ו/ה/ב/כ/ל/מ/ש and their chains) glued to words, gershayim written five
ways (צה"ל = צה״ל = צהל), final letters, bidi control marks pasted from phones, and digits glued
to letters (ב2015). Full morphological analysers exist but are heavy and tuned for prose; a
variant generator weighted by how much it stripped is enough for retrieval and costs microseconds.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Niqqud and cantillation marks (keep maqaf U+05BE, sof pasuq U+05C3, nun hafukha U+05C6).
_NIQQUD = re.compile("[\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7]")
# Bidi controls, zero-width characters, BOM, Arabic letter mark.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u061c\u00ad]")
_QUOTES = "'\"`\u05f3\u05f4\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u00b4\u02bc"
# A quote between two letters is part of an abbreviation (צה"ל) or a geresh (ג'וינט): drop it.
_INNER_QUOTE = re.compile(f"(?<=[^\\W\\d_])[{_QUOTES}]+(?=[^\\W\\d_])")
# A geresh right after a letter at a word end (סעיף ג', ש"ח as ש'ח is rare): drop it.
_TRAIL_QUOTE = re.compile(f"(?<=[^\\W\\d_])[{_QUOTES}]+(?![^\\W\\d_])")
_THOUSANDS = re.compile(r"(?<=\d)[,\u066c](?=\d{3}(?!\d))")
_DIGIT_LETTER = re.compile(r"(?<=\d)(?=[^\W\d_])|(?<=[^\W\d_])(?=\d)")
_NON_WORD = re.compile(r"[\W_]+")
_FINALS = str.maketrans("ךםןףץ", "כמנפצ")
_SYMBOLS = {"\u20aa": " שח ", "%": " אחוז "}

PREFIX_LETTERS = frozenset("והבכלמש")
MIN_STEM = 3
# Suffixes tried longest first; a stem keeps at least 3 letters (so רשות -> רשו is allowed, but
# short words are never reduced to noise).
SUFFIXES = ("ויות", "יות", "ימ", "ות", "ית", "יה", "ה", "ת", "י")  # after final-letter folding
MIN_SUFFIX_STEM = 3

# Words that carry no topic in a question. Compared after normalisation, so finals are folded here.
# Time words (לפני, אחרי, לאחר, במהלך, בזמן) are not here: they tell the phases of a visit apart.
STOP_WORDS = frozenset(w.translate(str.maketrans("ךםןףץ", "כמנפצ")) for w in
    """
    מה מי איך למה מדוע מתי איפה היכנ כמה האמ האם של את אתה אתמ אתנ אני אנחנו הוא היא המ הנ זה זו זאת
    יש אינ אנ או גמ כי אמ אבל רק כל כמו אל על עמ עד אצל בינ לפי לגבי בנוגע אודות עבור כדי שלי שלנו
    לי לנו לכמ לו לה להמ בו בה בהמ ממנו ממנה זהו זוהי הזה הזאת הזו ההוא ההיא האלה אלה אלו היה היו
    יהיה תהיה להיות כנ לא לו אפשר אפשרי רוצה רוצים רציתי צריכ צריכה צריכימ לדעת יודע יודעת יודעימ
    תגיד תגידי תגידו תגידו תסביר תסבירי תסבירו מישהו מישהי בעצמ בדיוק בערכ משהו דבר דברימ תודה בבקשה
    פה שמ כאנ עכשיו עוד כבר בכלל מאוד מאד הכי ממש פשוט נו טוב אוקיי אוקי היי הי לשאול להסביר יכול יכולה
    איזה איזו אילו אשר כאשר ביותר יותר פחות אחד אחת אותו אותה אותמ
    שלא שזה שהוא שהיא שהמ כדי בגלל למרות ללא בלי כמעט תמיד אז אולי הרבה מעט
    the a an of to in on for is are what who how when where which and or
    """.split()
)

# Hebrew number words (cardinal, ordinal, masculine/feminine) that staff type instead of digits.
NUMBER_WORDS: dict[str, str] = {}
for _digit, _words in {
    "1": "אחד אחת ראשונ ראשונה",
    "2": "שתיימ שניימ שני שתי שנייה שניה",
    "3": "שלוש שלושה שלישי שלישית",
    "4": "ארבע ארבעה רביעי רביעית",
    "5": "חמש חמישה חמישי חמישית",
    "6": "שש שישה שישי שישית",
    "7": "שבע שבעה שביעי שביעית",
    "8": "שמונה שמיני שמינית",
    "9": "תשע תשעה תשיעי תשיעית",
    "10": "עשר עשרה עשירי עשירית",
}.items():
    for _w in _words.split():
        NUMBER_WORDS[_w] = _digit

# Compositional number words ("חמש מאות ארבעים ושש" = 546, "אלפיים עשרים וחמש" = 2025), after
# normalisation (finals folded). Only spans that contain a tens, hundreds or thousands word are
# read, so "אחד היעדים" stays a word.
_UNITS = {"אחד": 1, "אחת": 1, "שתיימ": 2, "שניימ": 2, "שני": 2, "שתי": 2, "שלוש": 3, "שלושה": 3, "שלושת": 3,
          "ארבע": 4, "ארבעה": 4, "ארבעת": 4, "חמש": 5, "חמישה": 5, "חמשת": 5, "שש": 6, "שישה": 6, "ששת": 6,
          "שבע": 7, "שבעה": 7, "שבעת": 7, "שמונה": 8, "שמונת": 8, "תשע": 9, "תשעה": 9, "תשעת": 9, "עשר": 10,
          "עשרה": 10}
_TENS = {"עשרימ": 20, "שלושימ": 30, "ארבעימ": 40, "חמישימ": 50, "שישימ": 60, "שבעימ": 70, "שמונימ": 80,
         "תשעימ": 90}
_HUNDREDS = {"מאה": 100, "מאתיימ": 200}
_THOUSAND_WORDS = {"אלפ": 1000, "אלפיימ": 2000}


_ALL_NUMBER_WORDS = {**_UNITS, **_TENS, **_HUNDREDS, **_THOUSAND_WORDS, "מאות": 100, "אלפימ": 1000}


@lru_cache(maxsize=100_000)
def _number_value(word: str) -> tuple[str, int] | None:
    w = word
    if w not in _ALL_NUMBER_WORDS and word[:1] in PREFIX_LETTERS and word[1:] in _ALL_NUMBER_WORDS:
        w = word[1:]  # one clitic in front, even of a short word: ושש, בשש
    if w not in _ALL_NUMBER_WORDS:  # a chain of clitics: ובאלפיים, ומהמאה
        for cut in _prefix_cuts(word):
            if word[cut:] in _ALL_NUMBER_WORDS:
                w = word[cut:]
                break
    for kind, table in (("unit", _UNITS), ("ten", _TENS), ("hundred", _HUNDREDS), ("thousand", _THOUSAND_WORDS)):
        if w in table:
            return kind, table[w]
    if w in ("מאות",):
        return "hundreds", 100
    if w in ("אלפימ",):
        return "thousands", 1000
    return None


def read_number_words(norm: str) -> str:
    """Replace spans of Hebrew number words in a normalised text by their digits."""
    toks = norm.split()
    out: list[str] = []
    i = 0
    while i < len(toks):
        if i and "באר" in behind_clitics(toks[i - 1]):  # באר שבע is a city, not a seven
            out.append(toks[i])
            i += 1
            continue
        total, current, j, big = 0, 0, i, False
        lead = 0  # "חמש ארבעים ושש": a unit before tens is said digit by digit (5, 46 -> 546)
        last_kind = ""
        while j < len(toks):
            v = _number_value(toks[j])
            if v is None:
                break
            kind, value = v
            if kind == "hundreds":
                current = (current or 1) * 100
                big = True
            elif kind == "thousands":
                total += (current or 1) * 1000
                current, big = 0, True
            elif kind == "thousand":
                total += value
                current, big = 0, True
            else:
                if kind == "ten" and last_kind == "unit" and 0 < current < 10 and not total and not lead:
                    lead, current = current, 0
                big = big or kind in ("ten", "hundred")
                current += value
            last_kind = kind
            j += 1
        if big and j - i >= 1:
            value = total + current
            out.append(str(lead * 100 + value if lead and value < 100 else value))
            i = j
        else:
            out.append(toks[i])
            i += 1
    return " ".join(out)


def normalize(text: str) -> str:
    """Canonical matching form: NFKC, no niqqud or bidi marks, quotes and finals folded,
    digits split from letters, punctuation to spaces, Latin lower-cased, single spaces.

    This is for matching only; what the user sees is always the original text.
    """
    t = unicodedata.normalize("NFKC", text)
    t = _NIQQUD.sub("", t)
    t = _INVISIBLE.sub("", t)
    t = t.lower()
    t = _INNER_QUOTE.sub("", t)
    t = _TRAIL_QUOTE.sub("", t)
    t = _THOUSANDS.sub("", t)
    for sym, word in _SYMBOLS.items():
        if sym in t:
            t = t.replace(sym, word)
    t = _DIGIT_LETTER.sub(" ", t)
    t = _NON_WORD.sub(" ", t)
    t = t.translate(_FINALS)
    return read_number_words(" ".join(t.split()))


def tokens(text: str) -> list[str]:
    """Normalised tokens, stop words included (callers decide)."""
    return normalize(text).split()


_NOT_BEHIND_CLITICS = frozenset({"דבר", "דברימ"})


def behind_clitics(token: str) -> list[str]:
    """The token, then what is left behind one or two clitic letters (ומה -> מה, ולמי -> מי)."""
    rest = [token]
    for cut in (1, 2):
        if len(token) > cut + 1 and all(c in PREFIX_LETTERS for c in token[:cut]):
            rest.append(token[cut:])
    return rest


@lru_cache(maxsize=100_000)
def is_stop(token: str) -> bool:
    if token in STOP_WORDS or (len(token) == 1 and not token.isdigit()):
        return True
    # A stop word behind clitics: ומה, שמה, ומי, וגמ ... but not a verb that merely looks like one
    # ("מדברים" is "talking", not "from things").
    return any(r in STOP_WORDS and r not in _NOT_BEHIND_CLITICS for r in behind_clitics(token)[1:])


# What a question asks for, read off its question word. Stop words to the index, these words still
# tell "who" from "when" from "how much": "למה צריך אשכולות" and "כמה אשכולות יש" share every
# content word. Final letters are already folded by normalize (מי, כמה, מתי, היכנ).
QUESTION_WORDS = {
    "who": ("מי", "מיהו", "מיהי", "מיהמ"),
    "when": ("מתי",),
    "how-much": ("כמה",),
    "why": ("למה", "מדוע"),
    "where": ("איפה", "היכנ", "לאנ"),
    "how": ("איכ", "כיצד"),
}
_QUESTION_TYPE = {w: kind for kind, words in QUESTION_WORDS.items() for w in words}


_WHAT_IS_ONE = frozenset({"מהו", "מהי"})
_WHAT_IS_AFTER = frozenset({"זה", "זו", "זאת", "הוא", "היא"})


@lru_cache(maxsize=4096)  # small: a large base's build would otherwise fill it with its questions
def question_types(norm: str) -> frozenset[str]:
    """The kinds of question word in a normalised text, read behind clitics (ולמה, ממתי, בכמה):
    who, when, how-much, why, where, how, and what-is ("מה זה", "מהי"): the question that asks
    for the overview of a thing, not for one of its details."""
    toks = norm.split()
    kinds = {_QUESTION_TYPE[r] for t in toks for r in behind_clitics(t) if r in _QUESTION_TYPE}
    for i, t in enumerate(toks):
        readings = behind_clitics(t)
        if any(r in _WHAT_IS_ONE for r in readings) or (
                "מה" in readings and i + 1 < len(toks) and toks[i + 1] in _WHAT_IS_AFTER):
            kinds.add("what-is")
            break
    return frozenset(kinds)


# Letters that sound alike in today's Hebrew, and the vowel letters that plene and defective spelling
# add or drop: staff typing fast write "החלתה" for החלטה, "ביכור" for ביקור, "מטיבה" for מיטיבה.
# ח/כ is left apart on purpose: merged, "בחירות" (elections) reads as "ביקורת" (audit).
_SOUND = str.maketrans({"ט": "ת", "ק": "כ", "ס": "ש", "ע": "א"})


@lru_cache(maxsize=200_000)
def sound_key(token: str) -> str:
    """A spelling-blind key: sound-alike letters merged, ו and י dropped after the first letter."""
    merged = token.translate(_SOUND)
    return merged[:1] + merged[1:].replace("ו", "").replace("י", "")


def content_tokens(text: str) -> list[str]:
    """Normalised tokens without stop words."""
    return [t for t in tokens(text) if not is_stop(t)]


# Clitics come in a fixed order: ו, then ש (or כש / מש), then one of ב כ ל מ, then ה.
_PREFIX_SLOTS = (("ו",), ("כש", "מש", "ש"), ("ב", "כ", "ל", "מ"), ("ה",))


def _prefix_cuts(token: str) -> list[int]:
    """Lengths of the plausible clitic prefixes of a token, shortest first (never the whole word)."""
    cuts: list[int] = []
    pos = 0
    for slot in _PREFIX_SLOTS:
        for p in slot:
            if token.startswith(p, pos) and len(token) - pos - len(p) >= MIN_STEM:
                pos += len(p)
                cuts.append(pos)
                break
    return cuts


@lru_cache(maxsize=200_000)
def variants(token: str) -> tuple[tuple[str, float], ...]:
    """Index keys for one normalised token with the weight of each reading.

    The surface form weighs 1; each stripped prefix letter and a stripped suffix lower the weight,
    so an exact word always beats a guess at its stem. Digits and Latin words are not stripped.
    """
    out: dict[str, float] = {token: 1.0}
    if not token or not ("\u05d0" <= token[0] <= "\u05ea"):
        return tuple(out.items())
    number = NUMBER_WORDS.get(token)
    stems = [(token, 1.0)]
    for cut in _prefix_cuts(token):
        stems.append((token[cut:], 1.0 - 0.12 * cut))
        number = number or NUMBER_WORDS.get(token[cut:])
    for stem, w in stems:
        if w > out.get(stem, 0.0):
            out[stem] = w
        for suf in SUFFIXES:
            if stem.endswith(suf) and len(stem) - len(suf) >= MIN_SUFFIX_STEM:
                base = stem[: -len(suf)]
                ws = w - 0.15
                if ws > out.get(base, 0.0):
                    out[base] = ws
                break
    if number:
        out[number] = max(out.get(number, 0.0), 0.9)
    return tuple(out.items())


_CLAUSE = re.compile(r"(?:^| )(?:[ובלמהש]{0,2})(?:סעיפ|סעיפי|סע)\s+(\d+)")


def guarded_numbers(norm: str) -> set[str]:
    """Numbers that are facts, not fuzz: decision numbers and years (3+ digits) and clause numbers
    ("סעיף 3"). A candidate entry must contain every one of them to be allowed to answer."""
    nums = {t for t in norm.split() if t.isdigit() and len(t) >= 3}
    nums.update(_CLAUSE.findall(norm))
    return nums
