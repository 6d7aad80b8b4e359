from bot.evaluate import UNCOVERED, Item, Report, evaluate, is_fresh, pooled
from bot.service import AnswerService
from knowledge.engine import Engine


def _service(good_kb):
    return AnswerService(Engine(good_kb))


def test_an_uncovered_question_is_an_in_scope_miss_and_listed(good_kb):
    rep = evaluate(_service(good_kb), [Item("מה התקציב של החלטה 546", UNCOVERED, "decisions")], "t")
    assert (rep.in_scope, rep.correct, rep.uncovered) == (1, 0, 1)
    assert rep.confusions and rep.confusions[0][1] == UNCOVERED
    assert rep.precision == 0.0  # it was answered, and any answer to it is wrong


def test_precision_counts_every_answer_given(good_kb):
    items = [Item("מה התקציב של החלטה 546", "dec-546-budget", "decisions"),
             Item("מה התקציב של החלטה 546?", None, "out-of-scope")]
    rep = evaluate(_service(good_kb), items, "t")
    assert (rep.answered, rep.answered_right) == (2, 1)
    assert rep.precision == 0.5 and not rep.passes()


def test_pooled_sums_the_sets():
    a, b = Report("a"), Report("b")
    a.in_scope, a.correct, b.in_scope, b.correct, b.answered = 2, 1, 3, 3, 3
    total = pooled([a, b], "both")
    assert (total.in_scope, total.correct, total.answered) == (5, 4, 3)
    assert is_fresh("heldout9") and not is_fresh("dev15")


def test_a_list_label_accepts_any_of_its_entries_and_a_comparison_needs_both_decisions():
    from bot.evaluate import is_right
    from bot.replies import Reply

    answer = Reply("answer", "x", entry_id="b")
    assert is_right(("a", "b"), answer) and not is_right("a", answer) and not is_right(None, answer)
    both = Reply("answer", "x", meta={"compare": (2025, 546)})
    assert is_right("compare:546,2025", both) and not is_right("compare:546,3708", both)
    assert not is_right("compare:546,2025", Reply("clarify", "x", meta={"compare": (546, 2025)}))
