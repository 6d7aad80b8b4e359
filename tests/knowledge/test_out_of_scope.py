from knowledge.hebrew import content_tokens
from knowledge.out_of_scope import OutOfScopeExamples
from knowledge.schema import OutOfScope

EXAMPLES = OutOfScopeExamples([
    OutOfScope("שכר", ("כמה מרוויחה מנהלת קהילה מיטיבה ביישוב",), "f"),
    OutOfScope("החלטות אחרות", ("כמה כסף יש בהחלטה 2026",), "f"),
])


def _q(text):
    return " ".join(content_tokens(text))


def test_an_example_sharing_no_word_is_never_compared():
    assert EXAMPLES.closer(_q("מי משלם על הטיסות"), set(), 0.0) is None


def test_close_enough_and_closer_than_the_entry():
    q = _q("כמה מרוויחה מנהלת בקהילה")
    assert EXAMPLES.closer(q, set(), 0.5) == "שכר"
    assert EXAMPLES.closer(q, set(), 1.0) is None  # the entry's own question is closer


def test_only_a_word_the_entry_lacks_is_evidence():
    q = _q("מה עושה מנהלת קהילה מיטיבה ביישוב")
    holds_all_but_salary = lambda key: "רוויח" not in key  # noqa: E731 (every reading of מרוויחה)
    assert EXAMPLES.closer(q, set(), 0.0, lambda key: True) is None  # every shared word is the entry's
    assert EXAMPLES.closer(_q("כמה מרוויחה מנהלת קהילה מיטיבה"), set(), 0.0, holds_all_but_salary) == "שכר"


def test_an_example_naming_a_number_needs_the_same_number():
    assert EXAMPLES.closer(_q("כמה כסף יש בהחלטה 2025"), {"2025"}, 0.0) is None
    assert EXAMPLES.closer(_q("כמה כסף יש בהחלטה 2026"), {"2026"}, 0.0) == "החלטות אחרות"


def test_no_out_of_scope_example_blocks_an_alternate_question_or_an_in_scope_evaluation_question():
    """An out-of-scope subject must never beat an entry that holds the asked fact: every alternate
    question of the bundled base, and every evaluation question labelled with an entry."""
    from bot.evaluate import SETS, _entry_ids, load_items
    from knowledge.engine import Engine

    snap = Engine().snapshot
    questions = [q for e in snap.kb.entries.values() for q in e.questions]
    questions += [it.q for path in SETS.values() for it in load_items(path) if _entry_ids(it.expect)]
    blocked = [(q, m.out_of_scope) for q in questions if (m := snap.matcher.match(q)).out_of_scope]
    assert not blocked
