"""``Reply`` -> WhatsApp messages (pure functions, no I/O): text, reply buttons and list messages,
every one within the Cloud API's limits.

Why this module is strict:
- WhatsApp formats ``*bold*``, ``_italic_``, ``~strike~`` and backticks itself. Our own markup is
  only the title in bold; every dynamic string (answers, titles, user text, curators' questions)
  has those characters swapped for look-alikes that WhatsApp does not read as markup (outside
  links, which must stay intact), so neither a user nor a curator can inject formatting.
- A text message is at most 4096 characters (counted, like the emulator, in UTF-16 units, which is
  never less than what Meta counts); longer replies are split on paragraph, then line, then word
  boundaries. An interactive message's body is at most 1024.
- Reply buttons: at most 3, titles at most 20, unique. Lists: at most 10 rows in all, row titles at
  most 24, descriptions at most 72, button text at most 20, header and footer at most 60. Titles
  are shortened on word boundaries and stay unambiguous (``bot.shorten``); ids carry the same
  compact targets as Telegram's callback data (``bot.targets``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Union

from bot import targets, texts
from bot.replies import Option, Reply
from bot.shorten import shorten, shorten_all

MAX_TEXT = 4096
MAX_BODY = 1024
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_ROWS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_LIST_BUTTON = 20
MAX_HEADER = 60
MAX_FOOTER = 60
MAX_SECTION_TITLE = 24
MAX_BUTTON_ID = 256
MAX_ROW_ID = 200

_MARKUP = str.maketrans({"*": "∗", "_": "＿", "~": "∼", "`": "ˋ"})
_URL = re.compile(r"https?://\S+")


def wa_len(text: str) -> int:
    """Length as the strictest reading of Meta's "characters": UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def plain(text: object) -> str:
    """Dynamic text with WhatsApp's markup characters neutralised (links left as they are)."""
    s = str(text)
    out, last = [], 0
    for m in _URL.finditer(s):
        out.append(s[last:m.start()].translate(_MARKUP))
        out.append(m.group())
        last = m.end()
    out.append(s[last:].translate(_MARKUP))
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Text:
    body: str


@dataclass(frozen=True, slots=True)
class Buttons:
    body: str
    buttons: tuple[tuple[str, str], ...]  # (id, title)
    header: str | None = None
    footer: str | None = None


@dataclass(frozen=True, slots=True)
class Row:
    id: str
    title: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    rows: tuple[Row, ...]


@dataclass(frozen=True, slots=True)
class ListMessage:
    body: str
    button: str
    sections: tuple[Section, ...]
    header: str | None = None
    footer: str | None = None


Outgoing = Union[Text, Buttons, ListMessage]


# ---------------------------------------------------------------------- text
def citation_lines(reply: Reply) -> list[str]:
    c = reply.citation
    if c is None:
        return []
    dec, name = texts.citation_parts(c)
    line = f"📄 {texts.SOURCE}: " + " · ".join(plain(p) for p in (dec, name) if p)
    return [line, c.url] if c.url and c.url.startswith(("https://", "http://")) else [line]


def reply_text(reply: Reply) -> str:
    """Title (bold, for answers), body, checklist and citation, as paragraphs."""
    paras: list[str] = []
    if reply.title and reply.kind in ("answer", "browse"):
        paras.append(f"*{plain(' '.join(reply.title.split()))}*")
    if reply.text.strip():
        paras.append(plain(reply.text.strip()))
    if reply.checklist:
        paras.append("\n".join(f"☐ {plain(item)}" for item in reply.checklist))
    cite = citation_lines(reply)
    if cite:
        paras.append("\n".join(cite))
    if reply.options_title and reply.options:
        paras.append(plain(reply.options_title))
    return "\n\n".join(paras)


def split(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces of at most ``limit`` (UTF-16 units), cut between paragraphs, then lines, then words."""
    if wa_len(text) <= limit:
        return [text] if text else []
    pieces: list[str] = []
    cur = ""

    def flush() -> None:
        nonlocal cur
        if cur.strip():
            pieces.append(cur.strip("\n"))
        cur = ""

    for sep, units in (("\n\n", text.split("\n\n")),):
        for unit in units:
            candidate = f"{cur}{sep}{unit}" if cur else unit
            if wa_len(candidate) <= limit:
                cur = candidate
                continue
            flush()
            if wa_len(unit) <= limit:
                cur = unit
                continue
            for line in _fit_lines(unit, limit):
                candidate = f"{cur}\n{line}" if cur else line
                if wa_len(candidate) <= limit:
                    cur = candidate
                else:
                    flush()
                    cur = line
    flush()
    return pieces


def _fit_lines(block: str, limit: int) -> Iterable[str]:
    for line in block.split("\n"):
        if wa_len(line) <= limit:
            yield line
            continue
        cur = ""
        for word in line.split(" "):
            while wa_len(word) > limit:  # one "word" longer than a message (a pasted link)
                if cur:
                    yield cur
                    cur = ""
                cut = limit
                while wa_len(word[:cut]) > limit:
                    cut -= 1
                yield word[:cut]
                word = word[cut:]
            candidate = f"{cur} {word}" if cur else word
            if wa_len(candidate) <= limit:
                cur = candidate
            else:
                yield cur
                cur = word
        if cur:
            yield cur


def _body(text: str) -> str:
    """An interactive message's body: the text if it fits, else cut on a word boundary."""
    return text if wa_len(text) <= MAX_BODY else shorten(text, MAX_BODY - 1)


# ---------------------------------------------------------------------- interactive parts
def _rows(options: Iterable[Option]) -> list[Row]:
    opts = [o for o in options if targets.of_option(o)]
    titles = shorten_all([plain(o.label) for o in opts], MAX_ROW_TITLE)
    rows = []
    for o, title in zip(opts, titles):
        full = plain(" ".join(o.label.split()))
        desc = None if full == title else shorten(full, MAX_ROW_DESCRIPTION)
        rid = targets.of_option(o)
        if rid and len(rid) <= MAX_ROW_ID:
            rows.append(Row(rid, title, desc))
    return rows


def vote_rows(entry_id: str) -> list[Row]:
    return [Row(targets.vote(v, entry_id), t) for v, t in ((1, texts.VOTE_UP), (-1, texts.VOTE_DOWN))
            if len(targets.vote(v, entry_id)) <= MAX_ROW_ID]


def page_id(offset: int, target: str) -> str:
    return f"p:{offset}:{target}"


def parse_page(data: str) -> tuple[int, str] | None:
    head, _, rest = data.partition(":")
    offset, _, target = rest.partition(":")
    if head != "p" or not offset.isdigit() or not target:
        return None
    return int(offset), target


def interactive(reply: Reply, body: str, *, page_of: str | None = None, offset: int = 0) -> Outgoing | None:
    """The buttons or list a reply offers, with ``body`` (None when it offers nothing)."""
    options = [o for o in reply.options if targets.of_option(o)]
    if reply.kind == "answer" and reply.entry_id:
        votes = vote_rows(reply.entry_id)
        if not options:
            return Buttons(_body(body), tuple((r.id, r.title) for r in votes))
        sections = (Section(texts.WA_RELATED_SECTION, tuple(_rows(options)[: MAX_ROWS - len(votes)])),
                    Section(texts.WA_FEEDBACK_SECTION, tuple(votes)))
        return ListMessage(_body(body), texts.WA_LIST_BUTTON, sections)
    if reply.kind == "clarify" and 0 < len(options) <= MAX_BUTTONS:
        titles = shorten_all([f"{i}. {plain(o.label)}" for i, o in enumerate(options, 1)], MAX_BUTTON_TITLE)
        ids = [targets.of_option(o) or "" for o in options]
        return Buttons(_body(body), tuple((i, t) for i, t in zip(ids, titles) if len(i) <= MAX_BUTTON_ID))
    rows = _rows(options)
    extra = []
    if reply.next is not None and targets.of_option(reply.next):
        extra = _rows([reply.next])
    if not rows and not extra:
        return None
    if not rows and extra:
        return Buttons(_body(body), ((extra[0].id, shorten(extra[0].title, MAX_BUTTON_TITLE)),))
    room = MAX_ROWS - len(extra)
    shown = rows[offset:]
    if len(shown) > room and page_of:
        shown = shown[: room - 1] + [Row(page_id(offset + room - 1, page_of), texts.WA_MORE)]
    else:
        shown = shown[:room]
    return ListMessage(_body(body), texts.WA_LIST_BUTTON, (Section(texts.WA_OPTIONS_SECTION, tuple(shown + extra)),))


def numbered(reply: Reply) -> str:
    """A clarify's options in full, numbered, so a typed number picks one (the buttons are short)."""
    return "\n".join(f"{i}. {plain(o.label)}" for i, o in enumerate(reply.options, 1))


def render(reply: Reply, *, page_of: str | None = None, offset: int = 0) -> list[Outgoing]:
    """A reply as WhatsApp messages: text pieces, then the buttons or list on a short last body (or
    the whole reply as the body of one interactive message, when it fits)."""
    text = reply_text(reply)
    if reply.kind == "clarify" and reply.options:
        text = f"{text}\n\n{numbered(reply)}" if text else numbered(reply)
    part = interactive(reply, text or texts.WA_CHOOSE, page_of=page_of, offset=offset)
    if part is None:
        return [Text(p) for p in split(text)] or [Text("…")]
    if wa_len(text) <= MAX_BODY and text:
        return [part]
    prompt = texts.WA_FEEDBACK_PROMPT if reply.kind == "answer" and not reply.options else texts.WA_CHOOSE
    again = interactive(reply, prompt, page_of=page_of, offset=offset)
    assert again is not None
    return [Text(p) for p in split(text)] + [again]


def render_text(text: str) -> list[Outgoing]:
    """A fixed or dynamic plain text (neutralised here) as messages."""
    return [Text(p) for p in split(plain(text))] or [Text("…")]
