"""Curator commands and buttons in Telegram: /unanswered, /reload, /stats, /outofscope and the
queue's 📎/🗑 buttons, for the allow-listed numeric user ids only; and what the bot sends to the
curators unasked (reload results from the watcher, the daily digest).

The commands are registered behind a user filter (see ``app.register``), so for anyone else the
command falls through to the same path as any unknown command: no "not allowed", no hint that
they exist. The buttons (``cr:<group>:<entry>`` attach, ``cd:<group>`` dismiss) check the
presser's id and answer anyone else exactly like a stale button.

Every action is the curator service's (``bot.curator``), the same code the command line runs;
this module maps commands and buttons onto it and renders the results.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Sequence

from telegram import Bot, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import texts
from bot.logs import pseudonym
from bot.curator import Attached, Dismissed, Refused, ScopedOut, scoped_out_text
from bot.reloader import BaseInfo, ReloadResult
from bot.replies import Reply
from bot.router import Caller, Outcome, Queue
from bot.settings import Settings
from bot.storage import Stats

from .curator_render import (html_chunks, parse_curator_callback, render_action_error, render_attached, render_groups,
                             render_reload_error, render_reload_ok, render_stats)
from .deps import CHANNEL, Deps
from .handlers import command_name, command_text
from .render import Chunk, esc, render, render_html_lines, render_text
from .send import answer, send_chunks, thread_of

log = logging.getLogger(__name__)

CALLBACK_PATTERN = r"^c[rd]:"  # the curators' buttons; app.register puts their handler first


def render_reload(result: ReloadResult) -> list[Chunk]:
    if not result.ok:
        return html_chunks(render_reload_error(result.errors), per_line=False)
    return html_chunks(render_reload_ok(result.info))


def render_curator(outcome: Outcome) -> list[Chunk]:
    """A curator command's outcome as messages."""
    if isinstance(outcome, Queue):
        html, markup = render_groups(outcome.groups)
        return render_html_lines(html, markup)
    if isinstance(outcome, ReloadResult):
        return render_reload(outcome)
    if isinstance(outcome, Stats):
        return html_chunks(render_stats(outcome))
    if isinstance(outcome, Refused):
        return html_chunks(render_action_error(outcome.text), per_line=False)
    if isinstance(outcome, ScopedOut):
        chunks = html_chunks(esc(scoped_out_text(outcome)))
        if outcome.reload is not None and not outcome.reload.ok:
            chunks += render_reload(outcome.reload)
        return chunks
    if isinstance(outcome, Reply):
        return render(outcome)
    raise TypeError(f"not a curator outcome: {type(outcome).__name__}")


# ---------------------------------------------------------------------- messages to the curators
class TelegramNotifier:
    """Sends to the curators unasked: to ``CURATOR_CHAT_ID`` when set, else privately to each
    curator id. A failed send (a curator who never opened the bot, a chat the bot left) is logged
    and skipped; it never stops reloading or the digest."""

    channel = CHANNEL

    def __init__(self, bot: Bot, settings: Settings) -> None:
        self.bot = bot
        self.settings = settings

    def destinations(self) -> list[int]:
        if self.settings.curator_chat_id is not None:
            return [self.settings.curator_chat_id]
        return sorted(self.settings.curator_ids)

    def has_curators(self) -> bool:
        return bool(self.destinations())

    async def send(self, chunks: Sequence[Chunk]) -> int:
        """Send to every destination; returns how many received it."""
        delivered = 0
        for chat_id in self.destinations():
            try:
                await send_chunks(self.bot, chat_id, chunks)
                delivered += 1
            except TelegramError as exc:
                log.warning("could not send a curator notice to chat %s: %r", pseudonym(chat_id), exc)
        return delivered

    async def reload_failed(self, errors: str) -> int:
        return await self.send(html_chunks(render_reload_error(errors), per_line=False))

    async def reload_ok(self, info: BaseInfo) -> int:
        return await self.send(html_chunks(render_reload_ok(info)))

    async def digest(self, text: str) -> int:
        """The daily digest (``bot.curation.digest_text``), as plain text escaped here."""
        if not self.destinations():
            return 0
        return await self.send(render_text(text))


def without_group(markup: Any, group_id: int) -> InlineKeyboardMarkup | None:
    """The queue message's keyboard minus the buttons of a handled group (None when none is left)."""
    if not isinstance(markup, InlineKeyboardMarkup):
        return None
    mine = re.compile(rf"^c[rd]:{group_id}(?::|$)")
    rows = [[b for b in row if not (isinstance(b.callback_data, str) and mine.match(b.callback_data))]
            for row in markup.inline_keyboard]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None


class CuratorHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def caller(self, update: Update) -> Caller:
        user, chat = update.effective_user, update.effective_chat
        return Caller(CHANNEL, str(chat.id if chat else 0), str(user.id) if user else None,
                      curator=self.deps.settings.is_curator(user.id if user else None))

    async def command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/unanswered, /reload, /stats, /outofscope GROUP SUBJECT (the filter let only curators in)."""
        message = update.effective_message
        if message is None:
            return
        outcome = await self.deps.router.run(self.caller(update), command_name(message), command_text(message))
        await answer(message, render_curator(outcome))

    # ------------------------------------------------------------------ the queue's buttons
    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``cr:``/``cd:`` presses. Anyone but a curator gets the stale-button answer, nothing else."""
        query = update.callback_query
        if query is None:
            return
        press = parse_curator_callback(query.data)
        user = query.from_user
        if (press is None or not self.deps.settings.is_curator(user.id if user else None)
                or self.deps.curator.store is None):
            await query.answer(texts.ENTRY_NOT_FOUND)
            return
        if press.action == "attach" and press.entry_id:
            outcome: Attached | Dismissed | Refused = await self.deps.curator.attach(press.group_id, press.entry_id)
        else:
            outcome = await self.deps.curator.dismiss(press.group_id)
        if isinstance(outcome, Refused):
            await self._toast(update, texts.CURATOR_ACTION_FAILED_TOAST)
            await self._reply(update, context, html_chunks(render_action_error(outcome.text), per_line=False))
            return
        if isinstance(outcome, Dismissed):
            await self._toast(update, texts.CURATOR_DISMISSED_TOAST)
            await self._drop_buttons(update, press.group_id)
            await self._reply(update, context, html_chunks(esc(texts.CURATOR_DISMISSED.format(
                group=outcome.group_id, rows=outcome.rows))))
            return
        await self._toast(update, texts.CURATOR_ATTACHED_TOAST.format(added=len(outcome.result.added)))
        await self._drop_buttons(update, press.group_id)
        html = render_attached(outcome)
        if not outcome.loaded:
            assert outcome.reload is not None
            await self._reply(update, context, html_chunks(
                html + "\n" + esc(texts.CURATOR_ATTACHED_NOT_LOADED.format(version=outcome.base.version))))
            await self._reply(update, context, render_reload(outcome.reload))
            return
        await self._reply(update, context, html_chunks(html))

    @staticmethod
    async def _toast(update: Update, text: str) -> None:
        """answerCallbackQuery; a press answered too late (Telegram's ~15 s) must not lose the report."""
        query = update.callback_query
        if query is None:
            return
        try:
            await query.answer(text)
        except TelegramError as exc:
            log.info("could not answer the curator's button press: %r", exc)

    @staticmethod
    async def _drop_buttons(update: Update, group_id: int) -> None:
        """Take the handled group's buttons off the queue message, so it is not pressed twice."""
        query = update.callback_query
        origin = query.message if query is not None and isinstance(query.message, Message) else None
        if query is None or origin is None or origin.reply_markup is None:
            return
        try:
            await query.edit_message_reply_markup(without_group(origin.reply_markup, group_id))
        except TelegramError as exc:
            log.info("could not update the queue message's buttons: %r", exc)

    @staticmethod
    async def _reply(update: Update, context: ContextTypes.DEFAULT_TYPE, chunks: Sequence[Chunk]) -> None:
        """Report in the chat of the press: in a group as a reply to the queue message, in its topic."""
        chat = update.effective_chat
        query = update.callback_query
        if chat is None:
            return
        origin = query.message if query is not None and isinstance(query.message, Message) else None
        group = chat.type in ("group", "supergroup")
        await send_chunks(context.bot, chat.id, chunks, reply_to=origin.message_id if group and origin else None,
                          thread_id=thread_of(origin))
