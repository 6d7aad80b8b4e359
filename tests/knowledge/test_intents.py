from knowledge.hebrew import normalize
from knowledge.intents import bare_number, is_comparison, is_decision_without_number, is_filler, read_intent

KNOWN = {546, 2025, 3708}


def _intent(text):
    return read_intent(text, normalize(text), KNOWN)


def test_fillers_are_messages_without_a_question_of_their_own():
    for text in ("לא הבנתי", "מה?", "עוד", "??", "ו?", "תמשיך", "שוב?"):
        assert is_filler(text, normalize(text)), text
    for text in ("שלום", "מה זה 546", "עוד שאלה על התקציב", "", "👍"):
        assert not is_filler(text, normalize(text)), text


def test_a_bare_number_is_only_a_number():
    assert bare_number(normalize("3")) == 3 and bare_number(normalize("1963?")) == 1963
    assert bare_number(normalize("546 בקצרה")) is None and bare_number(normalize("החלטה 546")) is None


def test_a_comparison_names_two_known_decisions_and_asks_to_compare():
    assert is_comparison(normalize("מה ההבדל בין 546 ל-2025"), KNOWN) == (546, 2025)
    assert is_comparison(normalize("איזו יותר גדולה בתקציב, 2025 או 3708"), KNOWN) == (2025, 3708)
    assert is_comparison(normalize("546 ו2025 על אילו שנים כל אחת"), KNOWN) == (546, 2025)
    assert is_comparison(normalize("2025 מתקנת את 546?"), KNOWN) is None  # a relation, not a comparison
    assert is_comparison(normalize("מה ההבדל בין 546 ל-547"), KNOWN) is None  # 547 is not known


def test_a_decision_question_without_a_number():
    assert is_decision_without_number(normalize("מה התקציב של ההחלטה"))
    assert is_decision_without_number(normalize("מתי התקבלה ההחלטה?"))
    assert not is_decision_without_number(normalize("מה ההחלטה לגבי שדרות"))  # names its subject
    assert not is_decision_without_number(normalize("מה התקציב של החלטה 546"))
    assert not is_decision_without_number(normalize("מה התקציב של קהילה מיטיבה"))  # no decision


def test_read_intent_orders_the_kinds():
    assert _intent("לא הבנתי").kind == "filler"
    assert _intent("40").kind == "number" and _intent("40").numbers == (40,)
    assert _intent("546 לעומת 2025").numbers == (546, 2025)
    assert _intent("מה התקציב של 546") is None


def test_which_decisions_concern_a_place():
    from knowledge.intents import asks_which_concern

    assert asks_which_concern(normalize("אילו החלטות נוגעות לדימונה"))
    assert asks_which_concern(normalize("מה יש לירוחם בהחלטות"))
    assert asks_which_concern(normalize("שדרות איזו החלטה שייכת לה"))
    assert not asks_which_concern(normalize("באיזה תאריך אישרו את ההחלטה לשדרות"))  # one fact
    assert not asks_which_concern(normalize("באילו תחומים ההחלטה לשדרות פועלת"))
    assert not asks_which_concern(normalize("מה יש לדימונה בהחלטה 546"))  # names its decision
