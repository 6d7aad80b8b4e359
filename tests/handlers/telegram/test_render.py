"""Rendering a Reply as Telegram HTML: escaping, splitting under 4096, keyboards, callback data."""
from __future__ import annotations

from datetime import date
from html.parser import HTMLParser

import pytest

from bot import texts
from bot.replies import Citation, Option, Reply
from handlers.telegram.app import file_url
from bot.grouping import Group
from bot.store import UnansweredRow
from handlers.telegram.curator_render import html_chunks, render_groups, render_reload_error
from knowledge.errors import KnowledgeError, Problem
from handlers.telegram.render import (MAX_MESSAGE, cb_entry, cb_target, cb_vote, citation_html, deep_link,
                                      isolate, pack, paragraphs, parse_callback, render, render_card, tg_len)

ALLOWED_TAGS = {"b", "i", "a", "pre", "code", "u", "s"}


class TagChecker(HTMLParser):
    """Fails on unbalanced or unknown tags: what Telegram's parser would reject."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list) -> None:
        assert tag in ALLOWED_TAGS, tag
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack)
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text += data


def valid_html(chunk: str) -> str:
    """Assert the chunk is balanced Telegram HTML; return its visible text."""
    checker = TagChecker()
    checker.feed(chunk)
    checker.close()
    assert checker.stack == [], checker.stack
    return checker.text


def answer(text: str, **kw) -> Reply:
    base = dict(title="כותרת", entry_id="e-1", citation=Citation("מקור", "https://example.org/x?a=1&b=2",
                                                                    date(2020, 1, 1), 546, date(2013, 7, 14), "3(ב)"),
                options=(Option("קשור", entry_id="e-2"),))
    base.update(kw)
    return Reply("answer", text, **base)


def test_answer_has_bold_title_citation_link_and_keyboard() -> None:
    (chunk,) = render(answer("גוף התשובה"))
    assert chunk.text.startswith("<b>כותרת</b>")
    assert "החלטה 546 מיום 14.7.2013, סעיף 3(ב)" in chunk.text
    assert '<a href="https://example.org/x?a=1&amp;b=2">' in chunk.text  # & escaped inside the href
    rows = chunk.markup.inline_keyboard
    assert rows[0][0].callback_data == "e:e-2"
    assert [b.callback_data for b in rows[-1]] == ["v:1:e-1", "v:-1:e-1"]
    valid_html(chunk.text)


def test_dynamic_text_is_escaped() -> None:
    (chunk,) = render(answer("<b>x</b> & &amp; \u202e", title="<i>t</i>"))
    assert "&lt;b&gt;x&lt;/b&gt; &amp; &amp;amp; \u202e" in chunk.text
    assert "<b>&lt;i&gt;t&lt;/i&gt;</b>" in chunk.text
    assert valid_html(chunk.text).count("<b>x</b>") == 1  # visible literally


def test_isolate_contains_bidi_override() -> None:
    assert isolate("\u202e<x>") == "\u2068\u202e&lt;x&gt;\u2069"


def test_non_http_source_url_is_not_a_link() -> None:
    html = citation_html(Citation("שם", url="javascript:alert(1)"))
    assert "<a" not in html and "javascript:alert(1)" not in html


def test_long_answer_splits_into_valid_chunks_keyboard_on_last() -> None:
    body = "\n\n".join(f"פסקה {i} <tag> & עוד טקסט " * 12 for i in range(60))
    chunks = render(answer(body))
    assert len(chunks) > 1
    for c in chunks:
        assert tg_len(c.text) <= MAX_MESSAGE
        valid_html(c.text)
    assert all(c.markup is None for c in chunks[:-1]) and chunks[-1].markup is not None
    visible = "".join(valid_html(c.text) for c in chunks)
    assert visible.count("<tag>") == 60 * 12  # nothing lost at the cuts


def test_one_huge_line_and_one_huge_word_are_cut_safely() -> None:
    for body in ("מילה " * 3000, "&" * 9000, "😀" * 5000):
        chunks = render(answer(body), votes=False)
        assert len(chunks) >= 2
        for c in chunks:
            assert tg_len(c.text) <= MAX_MESSAGE
            valid_html(c.text)  # no cut inside an entity such as &amp;


def test_pack_prefers_paragraph_boundaries() -> None:
    paras = paragraphs("א" * 3000 + "\n\n" + "ב" * 3000)
    assert pack(paras) == ["א" * 3000, "ב" * 3000]


def test_card_is_one_message() -> None:
    card = render_card(answer("ש" * 10000))
    assert tg_len(card) <= MAX_MESSAGE and card.endswith("…")
    valid_html(card)


def test_clarify_and_browse_keyboards() -> None:
    clarify = Reply("clarify", texts.CLARIFY, options=(Option("א", entry_id="a"), Option("ב", entry_id="b")))
    (c,) = render(clarify)
    assert [r[0].callback_data for r in c.markup.inline_keyboard] == ["e:a", "e:b"]
    browse = Reply("browse", "שלב", options=(Option("פריט", entry_id="x"),), next=Option("הבא", target="stage:s2"))
    (b,) = render(browse)
    assert [r[0].callback_data for r in b.markup.inline_keyboard] == ["e:x", "t:stage:s2"]
    assert render(Reply("unanswered", texts.UNANSWERED))[0].markup is None


def test_callback_data_limits_and_fallback() -> None:
    longest_id = "a" * 40  # the loader's id limit
    for data in (cb_entry(longest_id), cb_vote(-1, longest_id), cb_target(f"programme:{longest_id}")):
        assert data is not None and len(data.encode()) <= 64
    assert cb_target("decision:" + "ש" * 40) is None  # 2 bytes a letter: too long, dropped
    reply = Reply("clarify", "?", options=(Option("ok", entry_id="a"), Option("too long", target="x:" + "ש" * 40)))
    (chunk,) = render(reply)
    assert [r[0].callback_data for r in chunk.markup.inline_keyboard] == ["e:a"]


@pytest.mark.parametrize("data,expected", [
    ("e:abc", ("e", "abc", 0)), ("t:decision:546", ("t", "decision:546", 0)),
    ("v:1:abc", ("v", "abc", 1)), ("v:-1:abc", ("v", "abc", -1)),
])
def test_parse_callback(data: str, expected: tuple) -> None:
    press = parse_callback(data)
    assert (press.kind, press.ref, press.vote) == expected


@pytest.mark.parametrize("data", [None, "", "x", "e:", "v:2:abc", "v:1:", "zz:top", "e:" + "a" * 80])
def test_parse_callback_rejects_garbage(data: str | None) -> None:
    assert parse_callback(data) is None


def test_deep_link_and_file_url() -> None:
    assert deep_link("rashut_bot", "dec-546") == "https://t.me/rashut_bot?start=dec-546"
    assert deep_link("rashut_bot", "bad id") is None
    assert file_url("http://127.0.0.1:8081/bot") == "http://127.0.0.1:8081/file/bot"


def test_reload_errors_are_escaped_and_truncated_to_fit() -> None:
    problems = [Problem(f"bad <value> & more {'x' * 300}", file=f"decisions/f{i}.yaml", line=i, entry="e<1>",
                        field="related") for i in range(200)]
    html = render_reload_error(KnowledgeError(problems))
    assert tg_len(html) <= MAX_MESSAGE
    text = valid_html(html)
    assert "decisions/f0.yaml:0" in text and "bad <value> & more" in text
    assert texts.CURATOR_RELOAD_TRUNCATED in text and "decisions/f199.yaml" not in text


def test_grouped_queue_rendering_is_safe_when_long() -> None:
    def row(i: int) -> UnansweredRow:
        return UnansweredRow(i, 1_700_000_000.0 + i, "&<שאלה " * 100, "", "telegram", "private", f"u{i}", "clarify",
                             [{"entry_id": "e-1", "score": 0.4}], "open", None)
    groups = [Group(i, (row(i),), "e-1" if i % 2 else None, 0.4, "<b>כותרת</b>") for i in range(1, 30)]
    html, markup = render_groups(groups)
    assert texts.CURATOR_GROUPS_TITLE.format(rows=29, groups=29, shown=8) in html
    chunks = html_chunks(html)
    for chunk in chunks:
        assert tg_len(chunk.text) <= MAX_MESSAGE
        valid_html(chunk.text)
    text = "".join(valid_html(c.text) for c in chunks)
    assert text.count("&<שאלה") >= 8 * 20 and "<b>כותרת</b>" in text  # user text and titles are escaped
    assert markup is not None and len(markup.inline_keyboard) == 8


def test_no_button_of_the_bundled_base_is_cut_mid_word() -> None:
    """Every entry and every browse menu of the bundled base, rendered for Telegram: a button label
    is the option's whole title or a word-boundary cut of it ending in "…"."""
    from bot.service import AnswerService
    from handlers.telegram.render import render as render_reply
    from knowledge.engine import Engine
    from tests.handlers.whatsapp.test_render import every_browse

    service = AnswerService(Engine())
    replies = [service.entry(e) for e in service.engine.snapshot.kb.entries] + [r for _t, r in every_browse(service)]
    checked = 0
    for reply in replies:
        assert reply is not None
        labels = {" ".join(o.label.split()) for o in reply.options}
        if reply.next is not None:
            labels.add(reply.next.label)
        chunk = render_reply(reply)[-1]
        for row in (chunk.markup.inline_keyboard if chunk.markup else ()):
            for b in row:
                if b.text in labels or b.text.startswith(("👍", "👎")):
                    continue
                core = b.text.removesuffix("…")
                full = next((lab for lab in labels if lab.startswith(core)), None)
                assert b.text.endswith("…") and full is not None and full[len(core)] == " ", b.text
                checked += 1
    assert checked > 0  # some titles are long enough to be shortened: the rule was exercised
