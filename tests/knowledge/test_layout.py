from bot.service import AnswerService
from knowledge.engine import Engine
from knowledge.layout import mid_sentence_breaks, unwrap
from knowledge.loader import BUNDLED_BASE


def test_a_hard_wrapped_sentence_is_one_line_and_lists_and_paragraphs_stay():
    text = "החלטה 546 מעדכנת את\nהתכנית הלאומית.\n• תקציב: כ-500\nמיליון ש\"ח\n1. מטרה\n\nפסקה שנייה\nשל שתי שורות"
    assert unwrap(text) == ("החלטה 546 מעדכנת את התכנית הלאומית.\n• תקציב: כ-500 מיליון ש\"ח\n1. מטרה\n\n"
                            "פסקה שנייה של שתי שורות")


def test_a_break_after_a_sentence_is_the_writers():
    assert unwrap("משפט אחד.\nמשפט שני") == "משפט אחד.\nמשפט שני"
    assert mid_sentence_breaks("משפט\nשנמשך") == ["משפט"]


def test_no_rendered_line_of_the_bundled_base_ends_mid_sentence():
    """Every entry's reply as a channel renders it (its text, each checklist item), and every
    document's summary (shown on its page under the field lines); the citation is a line of its own."""
    service = AnswerService(Engine())
    kb = service.engine.snapshot.kb
    broken = {}
    for entry_id in kb.entries:
        reply = service.entry(entry_id)
        found = [line for text in (reply.text, *reply.checklist) for line in mid_sentence_breaks(text)]
        if found:
            broken[entry_id] = found
    for doc in kb.documents:
        if doc.summary and mid_sentence_breaks(doc.summary):
            broken[doc.id] = mid_sentence_breaks(doc.summary)
    assert not broken


def test_the_base_as_written_is_hard_wrapped_so_the_test_above_can_fail():
    written = (BUNDLED_BASE / "decisions" / "decision-546.yaml").read_text(encoding="utf-8")
    assert mid_sentence_breaks(written)
