"""``Reply`` -> Telegram HTML chunks and inline keyboards (pure functions, no I/O).

Why this module is strict:
- Telegram HTML is parsed by the server, so EVERY dynamic string (answers, titles, user names,
  questions, file paths in errors) goes through ``html.escape``; a ``<b>`` typed by a user or a
  curator must arrive as text, never as markup, and never break the message.
- A message is limited to 4096 characters. Long replies are split on paragraph, then line, then
  word boundaries, and every chunk is built from whole lines whose tags open and close on the same
  line, so each chunk is valid HTML on its own. Only the last chunk carries the keyboard.
- Callback data is limited to 64 bytes. Buttons carry ids, never text (``e:<entry>``,
  ``t:<target>``, ``v:<vote>:<entry>``); a datum that would not fit drops its button instead of
  failing the whole message.
"""
from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import targets, texts
from bot.replies import Citation, Option, Reply
from bot.router import Outcome, Unknown, Welcome, home_options
from bot.shorten import shorten

log = logging.getLogger(__name__)

MAX_MESSAGE = 4096  # Telegram's limit for a text message (counted here in UTF-16 units, conservatively)
MAX_CALLBACK_BYTES = 64
MAX_BUTTON_LABEL = 60
START_PARAM_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what t.me/<bot>?start= accepts
_FSI, _PDI = "\u2068", "\u2069"  # Unicode bidi isolate: a user's U+202E cannot flip our text


# ---------------------------------------------------------------------- escaping
def esc(text: object) -> str:
    """Escape any dynamic value for Telegram HTML (``<``, ``>``, ``&``, quotes)."""
    return html.escape(str(text))


def isolate(text: object) -> str:
    """Escape text that came from a user (names, questions) and isolate its bidi direction.

    A first name such as ``\\u202eevil`` would otherwise reverse the rest of our Hebrew line; the
    first-strong isolate keeps its effect inside the name while the character itself still shows.
    """
    return f"{_FSI}{esc(text)}{_PDI}"


def tg_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units): emoji count twice."""
    return len(text.encode("utf-16-le")) // 2


# ---------------------------------------------------------------------- callback data
Callback = targets.Press  # a parsed button press (the same compact targets as every channel's buttons)


def _fits(data: str) -> str | None:
    if len(data.encode("utf-8")) > MAX_CALLBACK_BYTES:
        log.warning("callback data over %d bytes dropped: %r", MAX_CALLBACK_BYTES, data[:80])
        return None
    return data


def cb_entry(entry_id: str) -> str | None:
    return _fits(targets.entry(entry_id))


def cb_target(target: str) -> str | None:
    return _fits(targets.target(target))


def cb_vote(vote: int, entry_id: str) -> str | None:
    return _fits(targets.vote(vote, entry_id))


def cb_option(option: Option) -> str | None:
    data = targets.of_option(option)
    return _fits(data) if data else None


def parse_callback(data: str | None) -> Callback | None:
    """The press behind a callback datum, or None for anything we did not build."""
    if not data or len(data.encode("utf-8")) > MAX_CALLBACK_BYTES:
        return None
    return targets.parse(data)


# ---------------------------------------------------------------------- keyboards
def label(text: str) -> str:
    """Button labels are plain text (not parsed), only shortened (on a word boundary)."""
    return shorten(text, MAX_BUTTON_LABEL)


def button(option: Option) -> InlineKeyboardButton | None:
    data = cb_option(option)
    return InlineKeyboardButton(label(option.label), callback_data=data) if data else None


def keyboard(rows: Iterable[Sequence[InlineKeyboardButton | None]]) -> InlineKeyboardMarkup | None:
    """A markup from rows, skipping dropped buttons and empty rows; None when nothing is left."""
    clean = [[b for b in row if b is not None] for row in rows]
    clean = [row for row in clean if row]
    return InlineKeyboardMarkup(clean) if clean else None


def reply_keyboard(reply: Reply, *, votes: bool = True) -> InlineKeyboardMarkup | None:
    """Options one per row (related, did-you-mean, browse items), then "next", then 👍/👎."""
    rows: list[list[InlineKeyboardButton | None]] = [[button(o)] for o in reply.options]
    if reply.next is not None:
        rows.append([button(reply.next)])
    if votes and reply.kind == "answer" and reply.entry_id:
        rows.append([vote_button(1, reply.entry_id), vote_button(-1, reply.entry_id)])
    return keyboard(rows)


def vote_button(vote: int, entry_id: str) -> InlineKeyboardButton | None:
    data = cb_vote(vote, entry_id)
    text = texts.VOTE_UP if vote > 0 else texts.VOTE_DOWN
    return InlineKeyboardButton(text, callback_data=data) if data else None


def browse_home_keyboard() -> InlineKeyboardMarkup | None:
    """The three ways into the base, shown under /start and /help."""
    return keyboard([[button(o)] for o in home_options()])


def deep_link(username: str | None, start: str) -> str | None:
    """``https://t.me/<bot>?start=<param>`` when the parameter is one Telegram accepts."""
    if not username or not START_PARAM_RE.match(start):
        return None
    return f"https://t.me/{username}?start={start}"


# ---------------------------------------------------------------------- text
@dataclass(frozen=True, slots=True)
class Line:
    """One line of a message: ``open + escape(plain) + close``, tags balanced within the line.

    ``raw`` lines are prebuilt HTML (a citation with a link) and known to be short.
    """

    plain: str = ""
    open: str = ""
    close: str = ""
    raw: str | None = None

    @property
    def html(self) -> str:
        return self.raw if self.raw is not None else f"{self.open}{esc(self.plain)}{self.close}"


Paragraph = list[Line]


def paragraphs(text: str, open_: str = "", close: str = "") -> list[Paragraph]:
    """Plain text -> paragraphs (split on blank lines) of lines, each wrapped in the given tags."""
    out: list[Paragraph] = []
    for block in re.split(r"\n\s*\n", text.strip("\n")):
        lines = [Line(line.rstrip(), open_, close) for line in block.split("\n") if line.strip()]
        if lines:
            out.append(lines)
    return out


def citation_html(c: Citation) -> str:
    """The citation as one HTML line: decision, clause, date, and the source name as a link."""
    dec, name = texts.citation_parts(c)
    parts = [esc(dec)] if dec else []
    if c.url and c.url.startswith(("https://", "http://")):
        parts.append(f'<a href="{esc(c.url)}">{esc(name)}</a>')
    else:
        parts.append(esc(name))
    return f"<i>📄 {esc(texts.SOURCE)}: " + " · ".join(parts) + "</i>"


def reply_paragraphs(reply: Reply, *, see_also: bool = True) -> list[Paragraph]:
    """The whole reply as paragraphs: title, body, checklist, citation, "see also" (over the buttons)."""
    paras: list[Paragraph] = []
    if reply.title and reply.kind in ("answer", "browse"):
        paras.append([Line(reply.title, "<b>", "</b>")])
    paras.extend(paragraphs(reply.text))
    if reply.checklist:
        paras.append([Line(f"☐ {item}") for item in reply.checklist])
    if reply.citation is not None:
        paras.append([Line(raw=citation_html(reply.citation))])
    if see_also and reply.options_heading:
        paras.append([Line(reply.options_heading, "<i>", "</i>")])
    return paras


def _split_line(line: Line, limit: int) -> list[str]:
    """Cut an over-long line on spaces (or anywhere, for one huge word); each piece re-wrapped."""
    if line.raw is not None:
        return [line.raw]  # raw lines are short by construction
    overhead = tg_len(line.open) + tg_len(line.close)
    room = max(limit - overhead, 16)
    pieces: list[str] = []
    cur = ""
    for tok in re.split(r"(\s+)", line.plain):
        if tg_len(esc(cur + tok)) <= room:
            cur += tok
            continue
        if cur.strip():
            pieces.append(cur)
        cur = tok.lstrip()
        while tg_len(esc(cur)) > room:  # one "word" longer than a message
            cut = room
            while tg_len(esc(cur[:cut])) > room:
                cut -= max(1, (tg_len(esc(cur[:cut])) - room) // 6)
            pieces.append(cur[:cut])
            cur = cur[cut:]
    if cur.strip():
        pieces.append(cur)
    return [f"{line.open}{esc(p.strip())}{line.close}" for p in pieces]


def pack(paras: Sequence[Paragraph], limit: int = MAX_MESSAGE) -> list[str]:
    """Join paragraphs into as few chunks as fit, never cutting inside a line's tags."""
    chunks: list[str] = []
    cur = ""

    def add(piece: str, sep: str) -> None:
        nonlocal cur
        candidate = f"{cur}{sep}{piece}" if cur else piece
        if tg_len(candidate) <= limit:
            cur = candidate
        else:
            if cur:
                chunks.append(cur)
            cur = piece

    for para in paras:
        whole = "\n".join(line.html for line in para)
        if tg_len(whole) <= limit:
            add(whole, "\n\n")
            continue
        first = True
        for line in para:
            for piece in _split_line(line, limit) if tg_len(line.html) > limit else [line.html]:
                add(piece, "\n\n" if first else "\n")
                first = False
    if cur:
        chunks.append(cur)
    return chunks


@dataclass(frozen=True, slots=True)
class Chunk:
    """One message to send: HTML text and (only on the last chunk) its keyboard."""

    text: str
    markup: InlineKeyboardMarkup | None = None


def with_markup(pieces: list[str], markup: InlineKeyboardMarkup | None) -> list[Chunk]:
    if not pieces:
        pieces = ["…"]
    return [Chunk(p, markup if i == len(pieces) - 1 else None) for i, p in enumerate(pieces)]


def render(reply: Reply, *, votes: bool = True, limit: int = MAX_MESSAGE) -> list[Chunk]:
    """A reply as messages: HTML chunks under the limit, the keyboard on the last one."""
    return with_markup(pack(reply_paragraphs(reply), limit), reply_keyboard(reply, votes=votes))


def render_welcome(welcome: Welcome) -> list[Chunk]:
    """``/start``: a greeting with the user's name (isolated), the welcome, examples, the home buttons."""
    paras = []
    if welcome.name:
        paras.append([Line(raw=esc(texts.HELLO_NAME).format(name=isolate(welcome.name)))])
    paras.extend(paragraphs(texts.WELCOME))
    paras.append([Line(texts.EXAMPLES_TITLE, "<b>", "</b>")] + [Line(f"• {q}") for q in texts.EXAMPLES])
    return with_markup(pack(paras), browse_home_keyboard())


def render_outcome(outcome: Outcome) -> list[Chunk]:
    """A public command's outcome as messages (curator outcomes are rendered in ``curator``)."""
    if isinstance(outcome, Reply):
        return render(outcome)
    if isinstance(outcome, Welcome):
        return render_welcome(outcome)
    if isinstance(outcome, Unknown):
        return render_text(texts.UNKNOWN_COMMAND)
    raise TypeError(f"not a public outcome: {type(outcome).__name__}")


def render_text(text: str, markup: InlineKeyboardMarkup | None = None, *, limit: int = MAX_MESSAGE) -> list[Chunk]:
    """A fixed or dynamic plain text (escaped here) as messages."""
    return with_markup(pack(paragraphs(text), limit), markup)


def render_html_lines(html_text: str, markup: InlineKeyboardMarkup | None = None, *,
                      limit: int = MAX_MESSAGE) -> list[Chunk]:
    """Already-escaped HTML whose tags open and close on each line, split between lines."""
    lines = [Line(raw=line) for line in html_text.split("\n")]
    return with_markup(pack([lines], limit), markup)


def render_card(reply: Reply, limit: int = MAX_MESSAGE) -> str:
    """One message for an inline answer card: the first chunk, marked when it was cut."""
    pieces = pack(reply_paragraphs(reply, see_also=False), limit - 2)  # a card has no related buttons
    return pieces[0] + ("\n…" if len(pieces) > 1 else "")


def snippet(text: str, size: int = 100) -> str:
    """A one-line plain preview (inline result descriptions are not parsed)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= size else flat[: size - 1] + "…"
