import pytest

from datetime import date

from knowledge.features import SynonymTagger, asked_role, asked_sentences, asks_amount, asks_next, asks_now, decision_refs, states_amount, states_date, word_overlap
from knowledge.hebrew import normalize, variants


def _toks(text):
    return normalize(text).split()


def test_decision_refs_bind_numbers_to_the_decision_word():
    assert decision_refs(_toks("מה התקציב של החלטה 546")) == {"546"}
    assert decision_refs(_toks("בהחלטת ממשלה מס' 2025")) == {"2025"}
    # the plural takes a list; a date after a single decision number is not a second reference
    assert decision_refs(_toks("החלטות 546, 2017 ו-3708")) == {"546", "2017", "3708"}
    assert decision_refs(_toks("החלטה 2025 מ-23.9.2014")) == {"2025"}
    # a number with no decision word in front of it is not a reference
    assert decision_refs(_toks("כמה כסף יש ב-546")) == set()


def test_synonym_tagger_finds_multiword_phrases_behind_clitics():
    tagger = SynonymTagger([["אורחים מחו\"ל", "משלחת"], ["צה\"ל", "צבא"]])
    assert tagger.tags(_toks("מי משלם לאורחים מחו״ל")) == ["~0"]
    assert tagger.tags(_toks("המעבר של הצבא")) == ["~1"]
    assert tagger.tags(_toks("אורחים בלי המילה השנייה")) == []


def test_word_overlap_is_an_f1_that_reads_prefixes():
    def qwords(text):
        return [({k for k, _ in variants(t)}, 1.0) for t in _toks(text)]

    q = qwords("תקציב ההחלטה")
    keys = set().union(*(ks for ks, _ in q))
    same = word_overlap(q, keys, "תקציב החלטה", {})
    half = word_overlap(q, keys, "תקציב משלחת", {})
    none = word_overlap(q, keys, "סיכום ביקור", {})
    assert same == 1.0
    assert 0.0 < half < same
    assert none == 0.0
    assert word_overlap(q, keys, "תקציב משלחת", {}, beat=0.99) == 0.0  # cannot beat a better string: not counted


@pytest.mark.parametrize("q, expected", [
    ("כמה עלתה הסקירה הבינלאומית", True), ("כמה כסף יש בהחלטה 546", True), ("מה התקציב של התוכנית", True),
    ("ומה היה השכר של מנהלת התוכנית", True), ("כמה רשויות הגישו", False), ("מי מממן את התוכנית", False),
    ("יש כסף להכשרות", False), ("איך מקבלים תקציב", False), ("מה עושים עם התקציב שנשאר", False),
])
def test_asks_amount(q, expected):
    assert asks_amount(normalize(q).split()) is expected


def test_states_amount_ignores_dates_years_and_the_decision_number():
    assert not states_amount("החלטה 546 (14.7.2013) עוסקת בהעברת מחנות צה\"ל לנגב בשנים 2013–2017", 546)
    assert states_amount("החלטה 546 (14.7.2013): כ-500 מיליון ש\"ח", 546)
    assert states_amount("20 רשויות הגישו הצעות")


def test_states_date_ignores_the_decisions_own_date():
    own = date(2013, 7, 14)
    assert not states_date("החלטה 546 (14.7.2013) נשענת על העברת בח\"א 27 לנבטים", own)
    assert states_date("החלטה 546 (14.7.2013): הבסיס עבר בשנת 2015", own)
    assert states_date("יום העבודה התקיים בדצמבר")
    assert states_date("הכנס נערך ב-10.6.15")


@pytest.mark.parametrize("q, role", [
    ("מי המנכ\"ל של אשכול נגב מערבי", "המנכל"), ("ומי יו\"ר האשכול", "יור"), ("מי השר לפיתוח הנגב", "השר"),
    ("מי משלם על הטיסות", None), ("מי עומד מאחורי התוכנית", None), ("מה עושה ראש הרשות", None),
])
def test_asked_role(q, role):
    assert asked_role(normalize(q).split()) == role


def test_asks_now():
    assert asks_now(normalize("מי ראש הממשלה עכשיו").split())
    assert asks_now(normalize("ומי היו\"ר הנוכחי").split())
    assert not asks_now(normalize("מי היה ראש הממשלה ב-2013").split())
    assert asks_now(normalize("מה הסטטוס של העברת קריית המודיעין").split())
    assert asks_now(normalize("546 עדיין בתוקף היום?").split())
    assert asks_now(normalize("כמה מהתקציב נוצל עד היום").split())


@pytest.mark.parametrize("q", ["מה היה בסדר היום של יום העבודה", "מה זה היום שאחרי בליווי רשויות",
                               "צריך את היום המדויק שבו אישרו את 2017"])
def test_the_day_is_not_today(q):
    assert not asks_now(normalize(q).split())


def test_asked_sentences_skip_context_and_keep_numbers_whole():
    assert asked_sentences("קהילה מטיבה מה זה? קיבלנו מייל על זה") == [["קהילה", "מטיבה", "מה", "זה"]]
    assert asked_sentences("טלפון של המשרד") == [["טלפונ", "של", "המשרד"]]  # the only sentence
    assert len(asked_sentences("מה היה בכנס ב-10.6.15")) == 1


def test_asks_next():
    assert asks_next(normalize("מתי הכנס הבא של מעגלים בנגב").split())
    assert not asks_next(normalize("מתי התקיים הכנס של מעגלים בנגב").split())


def test_asks_done_is_about_what_was_carried_out_not_why_or_when_it_was_set_up():
    from knowledge.features import asks_done

    assert asks_done(normalize("פארקי התעשייה מ-546 הוקמו?").split())
    assert asks_done(normalize("בית החולים כבר נבנה?").split())
    assert not asks_done(normalize("למה בכלל הקימו אשכולות").split())
    assert not asks_done(normalize("מתי הקימו ברווחה תחום למיצוי זכויות").split())


def test_who_heads_reads_through_to_the_title():
    from knowledge.features import asked_role

    assert asked_role(normalize("מי עומד בראש המינהל לקשרי חוץ").split()) == "בראש"
