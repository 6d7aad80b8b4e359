"""What curators see in Telegram, as pure functions: the grouped queue with its 📎/🗑 buttons,
reload errors, statistics and action results (HTML, every dynamic string escaped)."""
from __future__ import annotations

import logging
from typing import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import targets, texts
from bot.curator import Attached, attached_text, stats_text
from bot.grouping import Group
from bot.reloader import BaseInfo
from bot.shorten import shorten
from bot.storage import Stats
from knowledge.errors import KnowledgeError

from .render import (MAX_CALLBACK_BYTES, MAX_MESSAGE, Chunk, Line, esc, isolate, label, pack, render_html_lines,
                     tg_len, with_markup)

log = logging.getLogger(__name__)

GROUPS_SHOWN = 8
QUESTION_PREVIEW = 200
BUTTON_TITLE = 28  # characters of the entry title on a 📎 button
RELOAD_ERRORS_SHOWN = 40
ERROR_TEXT_CHARS = 3000  # an action's error text in the chat (the full text is in the log)


def render_reload_error(errors: KnowledgeError | str, limit: int = MAX_MESSAGE) -> str:
    """The failed reload: every file:line problem that fits, escaped, then a "more" marker.

    Takes the ``KnowledgeError`` itself, or the rendered problems one per line (what the reloader
    hands to ``on_error``)."""
    head, _, tail = texts.CURATOR_RELOAD_FAILED.partition("{errors}")
    frame = tg_len(esc(head)) + tg_len(esc(tail)) + len("<pre></pre>")
    found = ([str(p) for p in errors.problems] if isinstance(errors, KnowledgeError)
             else [line for line in errors.splitlines() if line.strip()])
    problems = found[:RELOAD_ERRORS_SHOWN]
    more = len(found) > len(problems)
    room = limit - frame - tg_len(texts.CURATOR_RELOAD_TRUNCATED) - 2
    kept: list[str] = []
    used = 0
    for problem in problems:
        piece = esc(problem if len(problem) <= 600 else problem[:599] + "…")
        if used + tg_len(piece) + 1 > room:
            more = True
            break
        kept.append(piece)
        used += tg_len(piece) + 1
    body = "\n".join(kept) + (f"\n{esc(texts.CURATOR_RELOAD_TRUNCATED)}" if more else "")
    return f"{esc(head)}<pre>{body}</pre>{esc(tail)}"


def render_stats(stats: Stats) -> str:
    return esc(stats_text(stats))


# ---------------------------------------------------------------------- the grouped queue
def cb_attach(group_id: int, entry_id: str) -> str | None:
    """``cr:<group>:<entry>``, or None when it would not fit Telegram's 64 bytes (no button then)."""
    data = targets.attach(group_id, entry_id)
    if len(data.encode("utf-8")) > MAX_CALLBACK_BYTES:
        log.warning("attach button for group %s dropped: callback data over %d bytes", group_id,
                    MAX_CALLBACK_BYTES)
        return None
    return data


def cb_dismiss(group_id: int) -> str:
    return targets.dismiss(group_id)


def parse_curator_callback(data: str | None) -> targets.CuratorPress | None:
    if not data or len(data.encode("utf-8")) > MAX_CALLBACK_BYTES:
        return None
    return targets.parse_curator(data)


def _short(text: str, size: int) -> str:
    return shorten(text, size)


def group_buttons(group: Group) -> list[InlineKeyboardButton]:
    """📎 (when there is a candidate entry and its datum fits) and 🗑, labelled with the group number."""
    row = []
    if group.best_entry:
        data = cb_attach(group.id, group.best_entry)
        if data:
            title = _short(group.best_title or group.best_entry, BUTTON_TITLE)
            row.append(InlineKeyboardButton(label(texts.CURATOR_ATTACH_BUTTON.format(id=group.id, title=title)),
                                            callback_data=data))
    row.append(InlineKeyboardButton(texts.CURATOR_DISMISS_BUTTON.format(id=group.id),
                                    callback_data=cb_dismiss(group.id)))
    return row


def render_groups(groups: Sequence[Group], limit: int = GROUPS_SHOWN) -> tuple[str, InlineKeyboardMarkup | None]:
    """The grouped queue, largest first, as line-balanced HTML plus one row of buttons per group."""
    if not groups:
        return esc(texts.CURATOR_NO_OPEN), None
    shown = list(groups[:limit])
    head = texts.CURATOR_GROUPS_TITLE.format(rows=sum(g.count for g in groups), groups=len(groups), shown=len(shown))
    lines = [f"<b>{esc(head)}</b>"]
    for g in shown:
        lines.append("")
        lines.append(f"<b>#{g.id}</b> · {esc(texts.CURATOR_GROUP_HEAD.format(count=g.count, askers=g.askers))}")
        examples = g.examples
        if examples:
            lines.append(f"   {isolate(_short(examples[0], QUESTION_PREVIEW))}")
        if g.best_entry:
            title = g.best_title or g.best_entry
            lines.append(f"   <i>{esc(texts.CURATOR_GROUP_CANDIDATE)} {isolate(title)} "
                         f"({esc(g.best_entry)}, {g.best_score:.2f})</i>")
        else:
            lines.append(f"   <i>{esc(texts.CURATOR_GROUP_NO_CANDIDATE)}</i>")
    lines.append("")
    lines.append(f"<i>{esc(texts.CURATOR_GROUPS_HOWTO)}</i>")
    if any(g.best_entry is None for g in shown):
        lines.append(f"<i>{esc(texts.CURATOR_GROUPS_DRAFT_HOWTO)}</i>")
    rows = [group_buttons(g) for g in shown]
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def render_attached(attached: Attached) -> str:
    """What attaching did: phrasings added to which entry, rows closed, the version now serving."""
    return "\n".join(esc(line) for line in attached_text(attached).split("\n"))


def render_action_error(text: str) -> str:
    """A refused action: the error text, escaped, in <pre>, short enough for one message."""
    if len(text) > ERROR_TEXT_CHARS:
        text = text[: ERROR_TEXT_CHARS - 1] + "…"
    return f"{esc(texts.CURATOR_ACTION_FAILED)}\n<pre>{esc(text)}</pre>"


def render_reload_ok(info: BaseInfo) -> str:
    return esc(texts.CURATOR_RELOAD_OK.format(entries=info.entries, documents=info.documents, version=info.version))


def html_chunks(html: str, *, per_line: bool = True) -> list[Chunk]:
    """Curator HTML as messages; ``per_line`` when tags are balanced on every line (safe to split)."""
    return render_html_lines(html) if per_line else with_markup(pack([[Line(raw=html)]]), None)


# ---------------------------------------------------------------------- reloading
