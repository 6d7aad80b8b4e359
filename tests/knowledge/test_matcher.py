import ast
import time
from pathlib import Path

import pytest

from knowledge.engine import Engine
from knowledge.hebrew import normalize

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(scope="module")
def matcher():
    return Engine(DATA / "good").snapshot.matcher


@pytest.mark.parametrize("q, expected", [
    ("כמה כסף יש בהחלטה 546", "dec-546-budget"),
    ("ומה התקציב בהחלטה 546?", "dec-546-budget"),
    ("תקציב 2025", "dec-2025-budget"),
    ("מי משלם טיסות למשלחת", "visits-who-pays"),
    ("מי משלם על הלינה של האורחים מחו״ל", "visits-who-pays"),
    ("סיכום ביקור", "visits-summary"),
    ("יישובי מטרה בהחלטה 546", "dec-546-localities"),
])
def test_matches_colloquial_questions(matcher, q, expected):
    m = matcher.match(q)
    assert m.best is not None and m.best.entry_id == expected, m


def test_typos_still_find_the_entry(matcher):
    m = matcher.match("מי משלם על הטיסוט של המשלחט")
    assert m.best.entry_id == "visits-who-pays"


@pytest.mark.parametrize("typed, meant", [("החלתה", "החלטה"), ("התקצבי", "התקציב"), ("משלחט", "משלחת")])
def test_sound_alike_spelling_reads_the_known_word(matcher, typed, meant):
    # An unknown word reads as the known word spelled alike (ט/ת, ק/כ, ס/ש, ע/א, ו/י dropped),
    # not as whatever is nearest by edit distance ("החלתה" is one letter from החלה, too).
    (keys, _importance), = matcher._query_keys([typed])
    weights = dict(keys)
    assert weights.get(meant, 0) >= max(weights.values()) - 1e-9


def test_sound_alike_spelling_answers(matcher):
    assert matcher.match("ומה התקצבי של החלתה 546").best.entry_id == "dec-546-budget"


def test_synonyms_join_both_sides(matcher):
    # "מימון" appears in no entry; the synonym group [כסף, תקציב, מימון] carries it.
    m = matcher.match("מימון החלטה 2025")
    assert m.best.entry_id == "dec-2025-budget"


def test_number_guard_never_answers_a_neighbour_decision(matcher):
    m = matcher.match("מה התקציב של החלטה 547")
    assert m.decision == "unanswered" and m.candidates == ()
    assert m.unknown_numbers == ("547",)
    m = matcher.match("החלטה 2025 תקציב")
    assert all(c.entry_id.startswith("dec-2025") for c in m.candidates)


def test_decision_word_binds_the_number(matcher):
    # 2014 appears in 2025's date, but no entry is decision 2014.
    m = matcher.match("מה התקציב של החלטה 2014")
    assert m.decision == "unanswered" and m.unknown_decisions == ("2014",)


def test_out_of_scope_is_not_answered(matcher):
    for q in ("איך משלמים ארנונה", "מה שעות הפתיחה של הספרייה העירונית", "מי זכה במונדיאל"):
        assert matcher.match(q).decision != "answer", q


@pytest.mark.parametrize("text", ["", "🙂🙂🙂", "\u200e\u200f\u202b\u202c", "   ", "?!"])
def test_degenerate_input_is_unanswered_without_error(matcher, text):
    m = matcher.match(text)
    assert m.decision == "unanswered" and m.candidates == ()


def test_ten_thousand_characters_is_fast_and_safe(matcher):
    text = ("מי משלם על הטיסות של המשלחת " * 400)[:10_000]
    t0 = time.perf_counter()
    m = matcher.match(text)
    elapsed = time.perf_counter() - t0
    assert m.best.entry_id == "visits-who-pays"
    assert elapsed < 2.0  # generous bound against a hang; the real figure is in docs/benchmarks.md


def test_knowledge_package_imports_no_chat_library():
    root = Path(__file__).resolve().parents[2] / "knowledge"
    banned = {"telegram", "pywa", "handlers", "bot"}
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in banned, f"{path} imports {name}"


def _two_entry_base(tmp_path):
    (tmp_path / "clusters.yaml").write_text("""schema: 1
kind: topic
id: clusters
title: אשכולות רשויות
source: {name: משרד הפנים}
entries:
  - id: clusters-why
    title: הרציונל של אשכולות
    answer: אשכול מאפשר לרשויות קטנות לחלוק שירותים.
    questions: [למה צריך אשכולות, מדוע הקימו אשכולות, למה להצטרף לאשכול]
  - id: clusters-count
    title: מספר האשכולות
    answer: פועלים בארץ 11 אשכולות.
    questions: [כמה אשכולות יש, כמה אשכולות פועלים, כמה רשויות באשכולות]
""", encoding="utf-8")
    return Engine(tmp_path).snapshot.matcher


@pytest.mark.parametrize("q, expected", [
    ("ולמה צריך אשכולות בכלל", "clusters-why"),
    ("כמה אשכולות יש בכלל", "clusters-count"),
])
def test_question_word_separates_entries_with_the_same_words(tmp_path, q, expected):
    # Both entries share every content word; only מי/מתי/כמה/למה tells them apart.
    m = _two_entry_base(tmp_path).match(q)
    assert [c.entry_id for c in m.candidates][0] == expected
    assert m.candidates[0].score > m.candidates[1].score


def test_contact_details_are_answered_only_by_an_entry_about_them(tmp_path):
    (tmp_path / "p.yaml").write_text("""schema: 1
kind: programme
id: prog
title: מעגלים בנגב
source: {name: ג'וינט}
entries:
  - id: prog-partners
    title: השותפים של מעגלים בנגב
    answer: התכנית נוהלה בשותפות של ג'וינט ישראל ומשרד הפנים.
    questions: [מי השותפים במעגלים בנגב, מי מנהל את מעגלים בנגב, מי עומד מאחורי מעגלים בנגב]
  - id: prog-contact
    title: איש קשר למעגלים בנגב
    answer: לפרטים - רכזת התכנית בג'וינט.
    questions: [מה הטלפון של רכזת מעגלים בנגב, עם מי יוצרים קשר, למי לשלוח מייל על התכנית]
""", encoding="utf-8")
    m = Engine(tmp_path).snapshot.matcher
    asked = m.match("מה הכתובת של ג'וינט ישראל השותפים")  # names a partner; no entry holds its address
    assert asked.best.entry_id == "prog-partners" and asked.decision == "unanswered"
    assert m.match("מה הטלפון של הרכזת של מעגלים בנגב").best.entry_id == "prog-contact"
    assert m.match("מה הטלפון של הרכזת של מעגלים בנגב").decision != "unanswered"
    assert m.match("מי השותפים במעגלים בנגב").decision == "answer"
    # An e-mail mentioned as context is not an e-mail asked for.
    assert m.match("מי השותפים במעגלים בנגב? קיבלנו מייל על זה").decision == "answer"
    assert m.match("קיבלנו מייל על זה. מה המייל של השותפים במעגלים בנגב?").decision == "unanswered"


@pytest.fixture(scope="module")
def scoped(tmp_path_factory):
    """The good fixture plus two out-of-scope subjects."""
    import shutil

    from knowledge.loader import load_base
    from knowledge.matcher import Matcher
    root = tmp_path_factory.mktemp("scoped") / "kb"
    shutil.copytree(DATA / "good", root)
    (root / "out_of_scope.yaml").write_text(
        "schema: 1\nsubjects:\n  - subject: חופשות של נבחרים\n    questions:\n"
        "      - מי משלם על הטיסות של ראש העיר לחופשה פרטית\n"
        "      - כמה אנשים קראו את סיכום הביקור של המשלחת\n"
        "  - subject: החלטות אחרות\n    questions:\n      - כמה כסף יש בהחלטה 2026 לשנה הבאה\n", encoding="utf-8")
    return Matcher(load_base(root))


def test_a_question_closer_to_an_out_of_scope_subject_is_unanswered(matcher, scoped):
    q = "מי משלם על הטיסות של ראש העיר בחופשה פרטית"
    assert matcher.match(q).decision != "unanswered" and matcher.match(q).out_of_scope is None
    m = scoped.match(q)
    assert m.decision == "unanswered" and m.out_of_scope == "חופשות של נבחרים"
    assert m.best.entry_id == "visits-who-pays"  # the candidates stay, for the curators' queue


def test_out_of_scope_subjects_leave_the_bases_own_questions_alone(scoped):
    m = scoped.match("מי משלם על הטיסות של המשלחת")
    assert m.decision == "answer" and m.best.entry_id == "visits-who-pays" and m.out_of_scope is None


def test_an_out_of_scope_question_naming_a_number_counts_only_for_that_number(scoped):
    # Word for word the out-of-scope example but for the decision number: the number decides.
    m = scoped.match("כמה כסף יש בהחלטה 2025 לשנה הבאה")
    assert m.decision == "answer" and m.best.entry_id == "dec-2025-budget" and m.out_of_scope is None
    assert scoped.closer_out_of_scope("כסף החלטה 2026 לשנה הבאה", {"2026"}, 0.5) == "החלטות אחרות"


def test_only_words_the_best_entry_lacks_make_a_question_out_of_scope(scoped):
    # The example shares "סיכום הביקור של המשלחת" with the question, but those words are the
    # entry's own; what the example adds ("כמה אנשים קראו") is not in the question.
    q = "מה כותבים בסיכום הביקור של המשלחת"
    m = scoped.match(q)
    assert m.decision == "answer" and m.best.entry_id == "visits-summary" and m.out_of_scope is None
    idx = scoped.position["visits-summary"]
    qtext = "כותבימ סיכומ הביקור משלחת"
    assert scoped.closer_out_of_scope(qtext, set(), 0.0) == "חופשות של נבחרים"  # any shared word
    assert scoped.closer_out_of_scope(qtext, set(), 0.0, idx) is None  # only what the entry lacks


def test_an_amount_its_entry_does_not_state_is_not_answered_from_it(matcher):
    # visits-who-pays says who pays for what, with no sum: "how much" is offered, not answered.
    assert not matcher.facts.number[matcher.position["visits-who-pays"]]
    m = matcher.match("כמה עולות הטיסות של המשלחת")
    assert m.best.entry_id == "visits-who-pays" and m.decision == "clarify"
    assert matcher.match("מי משלם על הטיסות של המשלחת").decision == "answer"
    assert matcher.match("כמה כסף יש בהחלטה 546").decision == "answer"  # that entry states 500 million


def test_a_listed_out_of_scope_question_asked_again_is_out_of_scope(scoped):
    # Every word of it is the entry's own, so only its being listed (nearly word for word) counts.
    idx = scoped.position["visits-summary"]
    assert scoped.closer_out_of_scope("אנשימ קראו סיכומ הביקור משלחת", set(), 1.0, idx) == "חופשות של נבחרים"


def test_a_when_question_its_entry_has_no_date_for_is_not_answered_from_it(matcher):
    # visits-who-pays states no date and none of its questions asks when.
    assert not matcher.facts.when[matcher.position["visits-who-pays"]]
    m = matcher.match("מתי משלמים על הטיסות של המשלחת")
    assert m.best.entry_id == "visits-who-pays" and m.decision == "clarify"
    assert matcher.asks_what_it_lacks("מתי משלמים טיסות".split(), "visits-who-pays")
    assert not matcher.asks_what_it_lacks("מי משלם טיסות".split(), "visits-who-pays")


def test_a_who_question_for_a_title_its_entry_never_mentions_is_not_answered_from_it(matcher):
    toks = normalize("מי המנכל של המשלחת").split()
    assert matcher.asks_what_it_lacks(toks, "visits-who-pays")
    assert not matcher.asks_what_it_lacks(normalize("מי משלם על הטיסות").split(), "visits-who-pays")


def test_todays_office_holder_is_never_answered_from_a_dated_entry(matcher):
    # Whatever the entry mentions, the base (dated by as_of) never knows who holds a post now.
    toks = normalize("מי ראש העיר עכשיו").split()
    assert matcher.asks_what_it_lacks(toks, "visits-who-pays")


def test_the_next_event_is_never_answered_from_a_dated_entry(matcher):
    idx = matcher.position["dec-2025-budget"]
    assert matcher.facts.when[idx]  # it states a date, so "when" alone would pass
    assert not matcher.asks_what_it_lacks(normalize("מתי אושר התקציב של החלטה 2025").split(), "dec-2025-budget")
    assert matcher.asks_what_it_lacks(normalize("מתי התקציב הבא של החלטה 2025").split(), "dec-2025-budget")


def test_a_locality_the_base_never_names_is_said_so():
    from knowledge.loader import load_base

    from knowledge.matcher import Matcher

    m = Matcher(load_base())
    match = m.match("נהריה יישוב מטרה?")
    assert match.decision == "unanswered" and match.unknown_places == ("נהריה",)
    assert m.match("ירוחם בתוך 546?").best.entry_id == "decision-546-localities"
