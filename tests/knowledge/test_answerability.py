from datetime import date

from knowledge.answerability import EntryFacts
from knowledge.hebrew import normalize, question_types
from knowledge.schema import Entry, Source


def _entry(answer, questions=(), number=None, when=None):
    return Entry(id="e", title="t", answer=answer, doc_id="d", kind="topic", source=Source("s"), file="f", line=1,
                 questions=tuple(questions), decision_number=number, decision_date=when)


def _facts(entry):
    facts = EntryFacts()
    norms = [normalize(q) for q in entry.questions]
    kinds = [question_types(n) for n in norms]
    facts.add(entry, [n.split() for n in norms], kinds, frozenset().union(*kinds))
    return facts


def _lacks(facts, q, holds=lambda key: False):
    norm = normalize(q)
    return facts.lacks(norm.split(), question_types(norm), 0, holds)


def test_amounts_counts_and_dates_must_be_stated():
    moves = _facts(_entry("החלטה 546 (14.7.2013) נשענת על העברת מחנות צה\"ל לנגב", number=546, when=date(2013, 7, 14)))
    assert _lacks(moves, "מתי עברו המחנות לנגב")  # its only date is the decision's own
    assert _lacks(moves, "כמה עלתה העברת המחנות")
    budget = _facts(_entry("החלטה 546 (14.7.2013): כ-500 מיליון ש\"ח לשנים 2013–2017", number=546, when=date(2013, 7, 14)))
    assert not _lacks(budget, "כמה כסף יש בהחלטה 546")


def test_an_entry_written_to_answer_the_question_kind_is_trusted():
    review = _facts(_entry("רק מעט תוכניות בעולם משתמשות בליווי", questions=["כמה תוכניות בעולם מבוססות על ליווי"]))
    assert not _lacks(review, "כמה תוכניות נסקרו")
    assert _lacks(review, "כמה עלתה הסקירה")  # a count asked of it says nothing of what it cost


def test_titles_and_the_present():
    members = _facts(_entry("המשלחת בראשות יו\"ר מרכז השלטון המקומי"))
    assert not _lacks(members, "מי היור של המשלחת", holds=lambda key: key == "יור")
    assert _lacks(members, "מי היור של המשלחת", holds=lambda key: False)
    assert _lacks(members, "מי היור היום", holds=lambda key: True)  # the base never knows who holds it now
    assert _lacks(_facts(_entry("הכנס התקיים ב-10.6.15")), "מתי הכנס הבא")


def test_the_state_today_is_never_known_unless_the_entry_asks_it():
    moves = _facts(_entry("ההחלטה מעבירה את קריית המודיעין לנגב"))
    assert _lacks(moves, "מה הסטטוס היום של העברת קריית המודיעין")
    assert not _lacks(moves, "מה ההחלטה מעבירה לנגב")
    clusters = _facts(_entry("יש 11 אשכולות", questions=["כמה אשכולות יש היום"]))
    assert not _lacks(clusters, "כמה אשכולות פועלים היום בארץ")
