"""Every entry and every browse menu of the bundled base, rendered for WhatsApp, within every limit
Meta sets (so a curator's long title can never break a send), and the renderer's own rules."""
from __future__ import annotations

import pytest

from bot import targets, texts
from bot.replies import Citation, Option, Reply
from bot.service import AnswerService
from handlers.whatsapp import render as r
from knowledge.engine import Engine
from knowledge.loader import BUNDLED_BASE


def check(messages: list[r.Outgoing]) -> None:
    assert messages
    for m in messages:
        if isinstance(m, r.Text):
            assert 0 < r.wa_len(m.body) <= r.MAX_TEXT
            continue
        assert 0 < r.wa_len(m.body) <= r.MAX_BODY
        assert m.header is None or r.wa_len(m.header) <= r.MAX_HEADER
        assert m.footer is None or r.wa_len(m.footer) <= r.MAX_FOOTER
        if isinstance(m, r.Buttons):
            assert 1 <= len(m.buttons) <= r.MAX_BUTTONS
            titles = [t for _, t in m.buttons]
            ids = [i for i, _ in m.buttons]
            assert len(set(titles)) == len(titles) and len(set(ids)) == len(ids)
            assert all(0 < r.wa_len(t) <= r.MAX_BUTTON_TITLE for t in titles)
            assert all(0 < len(i) <= r.MAX_BUTTON_ID for i in ids)
        else:
            assert 0 < r.wa_len(m.button) <= r.MAX_LIST_BUTTON
            rows = [row for s in m.sections for row in s.rows]
            assert 1 <= len(rows) <= r.MAX_ROWS and len(m.sections) <= 10
            assert all(0 < r.wa_len(s.title) <= r.MAX_SECTION_TITLE for s in m.sections)
            assert all(0 < r.wa_len(x.title) <= r.MAX_ROW_TITLE for x in rows)
            assert all(x.description is None or r.wa_len(x.description) <= r.MAX_ROW_DESCRIPTION for x in rows)
            assert len({x.id for x in rows}) == len(rows) and all(len(x.id) <= r.MAX_ROW_ID for x in rows)
            assert len({x.title for x in rows}) == len(rows)  # unambiguous


@pytest.fixture(scope="module")
def service() -> AnswerService:
    return AnswerService(Engine(BUNDLED_BASE))


def every_browse(service: AnswerService) -> list[tuple[str, Reply]]:
    kb = service.engine.snapshot.kb
    found = [("decisions", service.decisions()), ("programmes", service.programmes()), ("visits", service.visits())]
    for d in kb.documents:
        if d.decision:
            found.append((f"decision:{d.decision.number}", service.decision(d.decision.number)))
        if d.kind == "programme":
            found.append((f"programme:{d.id}", service.programme(d.id)))
        for step in d.stages or d.phases:
            prefix = "stage" if d.stages else "phase"
            found.append((f"{prefix}:{step.id}", service.step(step.id)))
    return [(t, rep) for t, rep in found if rep is not None]


def test_every_entry_fits(service: AnswerService) -> None:
    entries = service.engine.snapshot.kb.entries
    assert len(entries) > 100
    for entry_id in entries:
        reply = service.entry(entry_id)
        assert reply is not None
        check(r.render(reply))


def test_every_browse_menu_fits_and_pages_reach_every_item(service: AnswerService) -> None:
    menus = every_browse(service)
    assert len(menus) > 15
    for target, reply in menus:
        offered = {targets.of_option(o) for o in reply.options}
        seen: set[str | None] = set()
        offset = 0
        for _ in range(20):  # pages: "more" rows lead through every item
            messages = r.render(reply, page_of=target, offset=offset)
            check(messages)
            rows = [x for m in messages if isinstance(m, r.ListMessage) for s in m.sections for x in s.rows]
            buttons = [i for m in messages if isinstance(m, r.Buttons) for i, _ in m.buttons]
            seen |= {x.id for x in rows} | set(buttons)
            more = [r.parse_page(x.id) for x in rows if x.id.startswith("p:")]
            if not more:
                break
            assert more[0] is not None and more[0][1] == target
            offset = more[0][0]
        assert offered <= seen, target


def test_long_titles_clarify_and_injection() -> None:
    long = "כותרת ארוכה מאוד של פריט שאוצר כתב בלי לחשוב על כפתורים קטנים בטלפון"
    options = tuple(Option(long + f" {i}", entry_id=f"e{i}") for i in range(3))
    clarify = Reply("clarify", texts.CLARIFY, options=options)
    (m,) = r.render(clarify)
    check([m])
    assert isinstance(m, r.Buttons)
    for i, (_, title) in enumerate(m.buttons):
        full = f"{i + 1}. {options[i].label}"
        core = title.removesuffix("…")
        assert title.endswith("…") and full.startswith(core) and full[len(core)] == " "  # cut between words
    assert "1. " + long in m.body  # the full titles, numbered, in the body
    answer = Reply("answer", "*מודגש* _נטוי_ ~קו~ `קוד` https://example.org/a_b*c", title="*כותרת*", entry_id="x",
                   citation=Citation("מקור _עם_ כוכבית*", "https://example.org/x_y"))
    (m,) = r.render(answer)
    assert m.body.startswith("*∗כותרת∗*")  # our bold around the curator's neutralised asterisks
    assert "*מודגש*" not in m.body and "_נטוי_" not in m.body and "~קו~" not in m.body and "`" not in m.body
    assert "https://example.org/a_b*c" in m.body and "https://example.org/x_y" in m.body  # links intact


def test_long_answers_split_on_boundaries() -> None:
    para = "משפט ארוך שחוזר על עצמו כדי למלא את ההודעה. " * 60
    reply = Reply("answer", "\n\n".join([para] * 4), title="כותרת", entry_id="x")
    messages = r.render(reply)
    check(messages)
    texts_ = [m.body for m in messages if isinstance(m, r.Text)]
    assert len(texts_) >= 2 and all(t.strip().endswith(".") for t in texts_)
    assert isinstance(messages[-1], r.Buttons) and messages[-1].body == texts.WA_FEEDBACK_PROMPT
    one_word = Reply("browse", "x" * 10_000)
    check(r.render(one_word))
