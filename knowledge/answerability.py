"""Can an entry answer the *kind* of fact a question asks for, however close their words?

Read once per entry when the base loads: whether its answer states an amount, a number or a date
(besides its own decision's number and date), and which of these its alternate questions ask for
(an entry written to answer "how much" questions is trusted to). A question asking for an amount,
a count, a date, what comes next, what has been carried out, or who holds a title (now) is then
checked against its best
entry. Hand-written because the question forms are Hebrew and the rules follow this base, whose
facts are dated (``as_of``).
"""
from __future__ import annotations

from typing import Callable, Sequence

from .features import asked_role, asks_amount, asks_done, asks_next, asks_now, states_amount, states_date
from .hebrew import variants
from .schema import Entry


# The kinds of fact an entry may lack, as ``EntryFacts.lacks`` names them (and "contact", for
# the matcher's contact rule): the answer service says which one the base does not hold.
LACKING = ("amount", "number", "date", "next", "now", "done", "role", "contact")


class EntryFacts:
    """What each entry (by index) can tell."""

    def __init__(self) -> None:
        self.money: list[bool] = []  # states an amount (or its questions ask a budget, cost, salary)
        self.number: list[bool] = []  # states an amount or a count (or its questions ask one)
        self.when: list[bool] = []  # states a date (or its questions ask when)
        self.now: list[bool] = []  # its questions ask about the present
        self.next: list[bool] = []  # its questions ask when the next one is
        self.done: list[bool] = []  # its questions ask what has been carried out

    def add(self, e: Entry, questions: Sequence[list[str]], kinds: Sequence[frozenset[str]],
            asked: frozenset[str]) -> None:
        """``questions``: the entry's alternate questions, normalised and split; ``kinds``: their
        question types; ``asked``: the question types of its title and alternate questions."""
        body = e.answer + " " + " ".join(e.checklist)
        self.money.append(states_amount(body, e.decision_number) or any(asks_amount(t) for t in questions))
        self.number.append(self.money[-1] or "how-much" in asked)
        self.when.append(states_date(body, e.decision_date) or "when" in asked)
        self.now.append(any(asks_now(t) for t in questions))
        self.next.append(any(asks_next(t) and "when" in k for t, k in zip(questions, kinds)))
        self.done.append(any(asks_done(t) for t in questions))

    def lacks(self, toks: list[str], qtypes: frozenset[str], idx: int, holds: Callable[[str], bool]) -> str | None:
        """A "how much / how many" or budget question whose entry states no number, a "when"
        question whose entry states no date (or asks about what comes next), or a "who is the
        <title>" question whose entry never mentions that title (or asks who holds it now), where
        none of the entry's alternate questions asks that way either. Returns which kind of fact
        the entry lacks (a key of LACKING), or None."""
        if asks_amount(toks):
            if not self.money[idx]:  # "כמה תוכניות נסקרו" does not make it tell what the review cost
                return "amount"
        elif not self.number[idx] and "how-much" in qtypes:
            return "number"
        if "when" in qtypes:
            if not self.when[idx]:
                return "date"
            if asks_next(toks) and not self.next[idx]:  # a dated base knows no coming events
                return "next"
        if asks_now(toks) and not self.now[idx]:  # the base is dated (as_of): it knows no state today
            return "now"
        if asks_done(toks) and not self.done[idx]:  # it holds what was decided, not what was done since
            return "done"
        role = asked_role(toks) if "who" in qtypes else None
        if role is None or any(holds(k) for k, _ in variants(role)):
            return None
        return "role"
