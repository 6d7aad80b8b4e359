"""Curators on WhatsApp: the grouped queue as a list, a group's attach/dismiss buttons, /reload,
/stats and /outofscope, for the numbers in ``WHATSAPP_CURATORS`` only (the router answers anyone
else as for an unknown command); and the notices curators get unasked.

Unasked notices (reload results, the daily digest) may go out only inside the 24-hour customer
service window: Meta refuses a free-form message to someone who has not written in the last 24
hours (131047) and would need a pre-approved template. So each curator's last message time is kept
(in the store, as a keyed hash, so every replica knows it) and a curator outside the window is
skipped and logged; they see the queue next time they write (/unanswered), or on another channel.
"""
from __future__ import annotations

import logging
import time

from bot import targets, texts
from bot.conversation import Conversations
from bot.curator import Attached, Dismissed, Refused, ScopedOut, attached_text, scoped_out_text, stats_text
from bot.grouping import Group
from bot.reloader import BaseInfo, ReloadResult
from bot.replies import Reply
from bot.router import Outcome, Queue
from bot.settings import Settings
from bot.shorten import shorten
from bot.storage import Stats

from .render import (MAX_BODY, MAX_ROW_DESCRIPTION, MAX_ROW_TITLE, MAX_ROWS, Buttons, ListMessage, Outgoing, Row,
                     Section, plain, render, render_text, shorten_all, wa_len)
from .send import CLOSED_WINDOW, Sender, SendFailed

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
WINDOW = 24 * 3600 - 300  # five minutes short of Meta's window, for the clocks' sake
SEEN = "wa-curator-seen"
MAX_ERRORS_TEXT = 3000


def render_queue(groups: list[Group]) -> list[Outgoing]:
    if not groups:
        return render_text(texts.CURATOR_NO_OPEN)
    shown = groups[:MAX_ROWS]
    head = texts.CURATOR_GROUPS_TITLE.format(rows=sum(g.count for g in groups), groups=len(groups), shown=len(shown))
    titles = shorten_all([texts.WA_GROUP_ROW.format(id=g.id, count=g.count) for g in shown], MAX_ROW_TITLE)
    rows = tuple(Row(targets.group(g.id), t, shorten(plain(g.examples[0]), MAX_ROW_DESCRIPTION) if g.examples else None)
                 for g, t in zip(shown, titles))
    return [ListMessage(plain(head), texts.WA_QUEUE_BUTTON, (Section(texts.WA_OPTIONS_SECTION, rows),))]


def render_group(group: Group | None) -> list[Outgoing]:
    if group is None:
        return render_text(texts.ENTRY_NOT_FOUND)
    examples = "\n".join(f"• {plain(shorten(q, 200))}" for q in group.examples)
    body = texts.WA_GROUP_DETAIL.format(id=group.id, count=group.count, askers=group.askers, examples=examples)
    if group.best_entry:
        body += "\n" + texts.CURATOR_GROUP_CANDIDATE + " " + plain(group.best_title or group.best_entry)
    body = body if wa_len(body) <= MAX_BODY else shorten(body, MAX_BODY)
    buttons = [(targets.attach(group.id, group.best_entry), texts.WA_GROUP_ATTACH)] if group.best_entry else []
    buttons.append((targets.dismiss(group.id), texts.WA_GROUP_DISMISS))
    return [Buttons(body, tuple(buttons))]


def render_reload(result: ReloadResult) -> list[Outgoing]:
    if result.ok:
        return render_info(result.info)
    return render_errors(result.errors)


def render_info(info: BaseInfo) -> list[Outgoing]:
    return render_text(texts.CURATOR_RELOAD_OK.format(entries=info.entries, documents=info.documents,
                                                      version=info.version))


def render_errors(errors: str) -> list[Outgoing]:
    text = errors if len(errors) <= MAX_ERRORS_TEXT else errors[: MAX_ERRORS_TEXT - 1] + "…"
    return render_text(texts.CURATOR_RELOAD_FAILED.format(errors=text))


def render_stats(stats: Stats) -> list[Outgoing]:
    return render_text(stats_text(stats))


def render_action(outcome: Attached | Dismissed | ScopedOut | Refused) -> list[Outgoing]:
    if isinstance(outcome, Refused):
        return render_text(texts.CURATOR_ACTION_FAILED + "\n" + outcome.text[:MAX_ERRORS_TEXT])
    if isinstance(outcome, Dismissed):
        return render_text(texts.CURATOR_DISMISSED.format(group=outcome.group_id, rows=outcome.rows))
    if isinstance(outcome, ScopedOut):
        out = render_text(scoped_out_text(outcome))
        return out + (render_reload(outcome.reload) if outcome.reload is not None and not outcome.reload.ok else [])
    out = render_text(attached_text(outcome))
    if not outcome.loaded and outcome.reload is not None:
        out += render_text(texts.CURATOR_ATTACHED_NOT_LOADED.format(version=outcome.base.version))
        out += render_reload(outcome.reload)
    return out


def render_curator(outcome: Outcome) -> list[Outgoing]:
    if isinstance(outcome, Queue):
        return render_queue(outcome.groups)
    if isinstance(outcome, ReloadResult):
        return render_reload(outcome)
    if isinstance(outcome, Stats):
        return render_stats(outcome)
    if isinstance(outcome, (Attached, Dismissed, ScopedOut, Refused)):
        return render_action(outcome)
    if isinstance(outcome, Reply):
        return render(outcome)
    raise TypeError(f"not a curator outcome: {type(outcome).__name__}")


class WhatsAppNotifier:
    """Reload results and the digest to the WhatsApp curators whose 24-hour window is open."""

    channel = CHANNEL

    def __init__(self, sender: Sender, settings: Settings, conversations: Conversations) -> None:
        self.sender = sender
        self.settings = settings
        self.conversations = conversations

    def has_curators(self) -> bool:
        return bool(self.settings.whatsapp_curators)

    async def seen(self, wa_id: str) -> None:
        """A curator wrote: their window is open for the next 24 hours."""
        if self.settings.is_whatsapp_curator(wa_id) and self.conversations.store is not None:
            try:
                await self.conversations.store.remember(self.conversations.key(SEEN, wa_id), str(time.time()))
            except Exception as exc:  # noqa: BLE001 - only notices depend on it
                log.warning("could not note a curator's last message: %s", exc)

    async def _open(self) -> list[str]:
        store = self.conversations.store
        if store is None:
            return []
        now, out = time.time(), []
        for number in sorted(self.settings.whatsapp_curators):
            try:
                raw = await store.recall(self.conversations.key(SEEN, number))
            except Exception as exc:  # noqa: BLE001
                log.warning("could not read a curator's last message time: %s", exc)
                continue
            if raw and now - float(raw) < WINDOW:
                out.append(number)
        return out

    async def send(self, messages: list[Outgoing]) -> int:
        open_ = await self._open()
        skipped = len(self.settings.whatsapp_curators) - len(open_)
        if skipped:
            log.info("%d WhatsApp curator(s) outside the 24-hour window: notice not sent to them", skipped)
        delivered = 0
        for number in open_:
            try:
                await self.sender.send(number, messages)
                delivered += 1
            except SendFailed as exc:
                why = "outside the 24-hour window" if exc.code == CLOSED_WINDOW else f"code {exc.code}"
                log.warning("could not send a curator notice on WhatsApp (%s)", why)
        return delivered

    async def reload_ok(self, info: BaseInfo) -> int:
        return await self.send(render_info(info))

    async def reload_failed(self, errors: str) -> int:
        return await self.send(render_errors(errors))

    async def digest(self, text: str) -> int:
        return await self.send(render_text(text))
