from bot import texts
from bot.compare import compare_text
from knowledge.loader import load_base


def test_both_decisions_with_number_date_budget_period_and_source(good_kb):
    kb = load_base(good_kb)
    text = compare_text(kb.decision(2025), kb.decision(546))
    first, second = text.split("\n\n")
    assert first.startswith("החלטה 2025") and "23.9.2014" in first and "כ-2 מיליארד" in first
    assert "546" in second and "14.7.2013" in second
    assert text.count(texts.SOURCE) == 2 and f"{texts.COMPARE_PERIOD}:" in text
