import pytest

from knowledge.hebrew import content_tokens, guarded_numbers, is_stop, normalize, question_types, sound_key, variants


@pytest.mark.parametrize("a, b", [
    ('צה"ל', "צה״ל"), ("צה״ל", "צהל"), ("ג'וינט", "ג׳וינט"), ("מחו\"ל", "מחו״ל"),
    ("שָׁלוֹם", "שלום"), ("ב-2015", "ב 2015"), ("ב2015", "ב 2015"), ("1,000 ש\"ח", "1000 שח"),
    ("\u202eשלום\u202c", "שלום"), ("\u200fמה\u200e", "מה"), ("Hello", "hello"), ("ערך", "ערכ"),
    ("מיזם י.ה.ב", "מיזם י ה ב"), ("₪500", "שח 500"),
])
def test_normalize_unifies_variants(a, b):
    assert normalize(a) == normalize(b)


def test_normalize_handles_empty_emoji_and_marks():
    assert normalize("") == ""
    assert normalize("🙂🙂") == ""
    assert normalize("\u200e\u200f\u202a\u202b") == ""


def test_prefix_variants_reach_the_stem():
    keys = dict(variants(normalize("ובהחלטות")))
    assert "החלטות" in keys and keys["ובהחלטות"] == 1.0
    assert keys["החלטות"] < 1.0
    assert "החלט" in keys  # suffix stripped: החלטה / החלטת / החלטות meet here
    assert "החלט" in dict(variants(normalize("החלטה")))


def test_digits_and_latin_are_not_stripped():
    assert variants("2015") == (("2015", 1.0),)
    assert variants("wework") == (("wework", 1.0),)


def test_number_words_read_as_digits():
    assert "3" in dict(variants(normalize("שלישי")))
    assert "3" in dict(variants(normalize("בשלב שלוש")[-4:]))


def test_stop_words_with_clitics():
    assert is_stop("מה") and is_stop("ומה") and is_stop("ש")
    assert not is_stop("תקציב")
    assert content_tokens("מה התקציב של ההחלטה?") == ["התקציב", "ההחלטה"]
    # Time words tell the phases of a visit apart (the before / during / after checklists).
    assert content_tokens("צ'ק ליסט לפני ביקור") != content_tokens("צ'ק ליסט אחרי ביקור")
    assert not is_stop("במהלך") and not is_stop("לאחר")


def test_guarded_numbers_are_decisions_years_and_clauses():
    assert guarded_numbers(normalize("מה כתוב בסעיף 3 של החלטה 546 מ-2013")) == {"3", "546", "2013"}
    assert guarded_numbers(normalize("מה עם 3 פארקים")) == set()


@pytest.mark.parametrize("words, digits", [
    ("החלטה חמש מאות ארבעים ושש", "החלטה 546"), ("החלטה אלפיים עשרים וחמש", "החלטה 2025"),
    ("החלטה חמש ארבעים ושש", "החלטה 546"), ("שלוש שנים", "שלוש שנימ"),
    ("שלושת אלפים שבע מאות ושמונה", "3708"), ("מאה נציגים", "100 נציגימ"), ("עשרים ואחת", "21"),
])
def test_compound_number_words_become_digits(words, digits):
    assert normalize(words) == digits


def test_single_small_number_words_stay_words():
    assert normalize("אחד היעדים") == "אחד היעדימ"
    assert normalize("שלב שלוש") == "שלב שלוש"


@pytest.mark.parametrize("text, kinds", [
    ("ולמה צריך אשכולות", {"why"}),
    ("עם מי מדברים על מעגלים", {"who"}),
    ("ממתי ועד מתי", {"when"}),
    ("בכמה כסף מדובר", {"how-much"}),
    ("מאיפה המספר הזה", {"where"}),
    ("כיצד מגישים", {"how"}),
    ("מה זה אשכול", {"what-is"}),
    ("ומהי קהילה מיטיבה", {"what-is"}),
    ("מה התקציב", set()),
    ("מתי ואיפה", {"when", "where"}),
])
def test_question_types_read_the_question_word_behind_clitics(text, kinds):
    assert question_types(normalize(text)) == kinds


@pytest.mark.parametrize("typed, meant", [
    ("החלתה", "החלטה"), ("ביכור", "ביקור"), ("מתרות", "מטרות"), ("מטיבה", "מיטיבה"), ("תכנית", "תוכנית"),
    ("עגף", "אגף"), ("משחלת", "משלחת"),
])
def test_sound_key_joins_spellings_read_alike(typed, meant):
    if typed == "משחלת":  # swapped letters are a typo, not a sound: left to the fuzzy correction
        assert sound_key(typed) != sound_key(meant)
    else:
        assert sound_key(typed) == sound_key(meant)


def test_sound_key_keeps_different_words_apart():
    assert sound_key("בחירות") != sound_key("ביקורת")
    assert sound_key("תקציב") != sound_key("תקציר")
