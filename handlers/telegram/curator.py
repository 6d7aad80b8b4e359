"""Curator commands and buttons: /unanswered, /reload, /stats and the queue's 📎/🗑 buttons,
for the allow-listed numeric user ids only; and what the bot sends to the curators unasked
(reload results from the watcher, the daily digest).

The commands are registered behind a user filter (see ``app.register``), so for anyone else the
command falls through to the same path as any unknown command: no "not allowed", no hint that
they exist. The buttons (``cr:<group>:<entry>`` attach, ``cd:<group>`` dismiss) check the
presser's id and answer anyone else exactly like a stale button. The rendering functions are pure
so they can be tested on their own.

Every action runs the code the command line runs (``bot.curation``): resolving edits the YAML file
after validating the whole base with the edit, then the base is reloaded through the watcher's
``KnowledgeReloader`` (one reload at a time) when there is one, or ``Engine.reload`` otherwise.
"""
from __future__ import annotations

import asyncio
import logging
import re
from contextvars import ContextVar
from typing import Any, Sequence

from telegram import Bot, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import texts
from bot.curation import CurationError, EditError, digest_text, dismiss_group, resolve_group
from bot.grouping import grouped
from bot.reloader import KnowledgeReloader, ReloadResult
from bot.scope_curation import dismiss_out_of_scope
from bot.settings import Settings
from bot.store import Store
from knowledge.engine import Engine, Snapshot
from knowledge.errors import KnowledgeError

from .curator_render import (html_chunks, parse_curator_callback, render_action_error, render_attached, render_groups,
                             render_reload_error, render_reload_ok, render_stats)
from .deps import Deps
from .render import Chunk, esc, render_html_lines, render_text
from .send import answer, send_chunks, thread_of

log = logging.getLogger(__name__)

CALLBACK_PATTERN = r"^c[rd]:"  # the curators' buttons; app.register puts their handler first
# Set while a curator's own /reload or button reloads: they see the result in their chat, so the
# reloader's broadcast to the curators is skipped for that reload (the watcher's are not).
_EXPLICIT: ContextVar[bool] = ContextVar("rashut_explicit_reload", default=False)


async def reload_knowledge(deps: Deps) -> ReloadResult:
    """Reload for a curator's /reload or button: through the reloader (serialised with the watcher)
    when there is one, else ``Engine.reload`` in a thread. The curator gets the result in their
    chat, so the reloader's broadcast is skipped for this one reload."""
    if deps.reloader is not None:
        token = _EXPLICIT.set(True)
        try:
            return await deps.reloader.reload_now()
        finally:
            _EXPLICIT.reset(token)
    engine = deps.service.engine
    try:
        snap = await asyncio.to_thread(engine.reload)
    except KnowledgeError as exc:
        log.warning("reload refused: %d problem(s); keeping version %d", len(exc.problems),
                    engine.snapshot.version)
        return ReloadResult(False, engine.snapshot, exc.render())
    log.info("knowledge reloaded: version %d, %d entries", snap.version, len(snap.kb.entries))
    return ReloadResult(True, snap)


# ---------------------------------------------------------------------- messages to the curators
class CuratorNotifier:
    """Sends to the curators unasked: to ``CURATOR_CHAT_ID`` when set, else privately to each
    curator id. A failed send (a curator who never opened the bot, a chat the bot left) is logged
    and skipped; it never stops reloading or the digest."""

    def __init__(self, bot: Bot, settings: Settings) -> None:
        self.bot = bot
        self.settings = settings

    def destinations(self) -> list[int]:
        if self.settings.curator_chat_id is not None:
            return [self.settings.curator_chat_id]
        return sorted(self.settings.curator_ids)

    async def send(self, chunks: Sequence[Chunk]) -> int:
        """Send to every destination; returns how many received it."""
        delivered = 0
        for chat_id in self.destinations():
            try:
                await send_chunks(self.bot, chat_id, chunks)
                delivered += 1
            except TelegramError as exc:
                log.warning("could not send a curator notice to chat %s: %r", chat_id, exc)
        return delivered

    async def reload_failed(self, errors: str) -> None:
        """``KnowledgeReloader.on_error``: the file:line problems, once per failed reload."""
        if not _EXPLICIT.get():
            await self.send(html_chunks(render_reload_error(errors), per_line=False))

    async def reload_ok(self, snapshot: Snapshot) -> None:
        """``KnowledgeReloader.on_success``: a one-line confirmation with the new version."""
        if not _EXPLICIT.get():
            await self.send(html_chunks(render_reload_ok(snapshot)))

    async def digest(self, store: Store, engine: Engine) -> int:
        """The daily digest (``bot.curation.digest_text``), as plain text escaped here."""
        if not self.destinations():
            return 0
        return await self.send(render_text(await digest_text(store, engine.snapshot)))

    def reloader(self, engine: Engine, **kwargs: Any) -> KnowledgeReloader:
        """A watcher on ``engine.root`` that reports to the curators (not started)."""
        return KnowledgeReloader(engine, on_success=self.reload_ok, on_error=self.reload_failed, **kwargs)


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

    async def _send_html(self, update: Update, html: str, *, per_line: bool = True) -> None:
        """Send curator HTML; ``per_line`` when tags are balanced on every line (safe to split)."""
        if update.effective_message is None:
            return
        await answer(update.effective_message, html_chunks(html, per_line=per_line))

    async def unanswered(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The open queue grouped, largest groups first, with 📎 attach / 🗑 dismiss per group."""
        message = update.effective_message
        if message is None:
            return
        store = self.deps.store
        groups = await grouped(store, self.deps.service.engine.snapshot) if store is not None else []
        html, markup = render_groups(groups)
        await answer(message, render_html_lines(html, markup))

    async def reload(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Validate and swap the base; on errors the running base stays and the curator sees why."""
        result = await reload_knowledge(self.deps)
        if not result.ok:
            await self._send_html(update, render_reload_error(result.errors), per_line=False)
            return
        await self._send_html(update, render_reload_ok(result.snapshot))

    async def outofscope(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/outofscope GROUP SUBJECT``: close a group and add its questions to that out-of-scope
        subject (as ``rashut unanswered dismiss GROUP --subject``), then reload the base."""
        args = context.args or []
        store = self.deps.store
        if len(args) < 2 or not args[0].lstrip("#").isdigit() or store is None:
            await self._send_html(update, esc(texts.CURATOR_OUT_OF_SCOPE_USAGE))
            return
        group_id, subject = int(args[0].lstrip("#")), " ".join(args[1:])
        engine = self.deps.service.engine
        try:
            result = await dismiss_out_of_scope(store, engine.root, group_id, subject)
        except (CurationError, EditError, KnowledgeError) as exc:
            log.warning("out-of-scope for group %s refused: %s", group_id, exc)
            await self._send_html(update, render_action_error(exc), per_line=False)
            return
        log.info("group %s out of scope (%s): %d question(s) added, %d row(s) dismissed", group_id,
                 result.subject, len(result.added), result.rows)
        reloaded = await reload_knowledge(self.deps) if result.added else None
        snapshot = reloaded.snapshot if reloaded is not None else engine.snapshot
        await self._send_html(update, esc(texts.CURATOR_OUT_OF_SCOPE_DONE.format(
            group=group_id, added=len(result.added), subject=result.subject, rows=result.rows, version=snapshot.version)))
        if reloaded is not None and not reloaded.ok:
            await self._send_html(update, render_reload_error(reloaded.errors), per_line=False)

    # ------------------------------------------------------------------ the queue's buttons
    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``cr:``/``cd:`` presses. Anyone but a curator gets the stale-button answer, nothing else."""
        query = update.callback_query
        if query is None:
            return
        press = parse_curator_callback(query.data)
        user = query.from_user
        if (press is None or not self.deps.settings.is_curator(user.id if user else None)
                or self.deps.store is None):
            await query.answer(texts.ENTRY_NOT_FOUND)
            return
        if press.action == "attach" and press.entry_id:
            await self._attach(update, context, press.group_id, press.entry_id)
        else:
            await self._dismiss(update, context, press.group_id)

    async def _attach(self, update: Update, context: ContextTypes.DEFAULT_TYPE, group_id: int, entry_id: str) -> None:
        assert self.deps.store is not None
        engine = self.deps.service.engine
        try:
            result = await resolve_group(self.deps.store, engine.root, group_id, entry_id)
        except (CurationError, EditError, KnowledgeError) as exc:
            log.warning("attaching group %s to %s refused: %s", group_id, entry_id, exc)
            await self._toast(update, texts.CURATOR_ACTION_FAILED_TOAST)
            await self._reply(update, context, html_chunks(render_action_error(exc), per_line=False))
            return
        log.info("group %s attached to %s: %d phrasing(s) added to %s, %d row(s) resolved", group_id, entry_id,
                 len(result.added), result.file, result.rows)
        reloaded = await reload_knowledge(self.deps) if result.added else None
        snapshot = reloaded.snapshot if reloaded is not None else engine.snapshot
        await self._toast(update, texts.CURATOR_ATTACHED_TOAST.format(added=len(result.added)))
        await self._drop_buttons(update, group_id)
        html = render_attached(result, snapshot)
        if reloaded is not None and not reloaded.ok:
            await self._reply(update, context, html_chunks(
                html + "\n" + esc(texts.CURATOR_ATTACHED_NOT_LOADED.format(version=snapshot.version))))
            await self._reply(update, context, html_chunks(render_reload_error(reloaded.errors), per_line=False))
            return
        await self._reply(update, context, html_chunks(html))

    async def _dismiss(self, update: Update, context: ContextTypes.DEFAULT_TYPE, group_id: int) -> None:
        assert self.deps.store is not None
        try:
            rows = await dismiss_group(self.deps.store, group_id)
        except CurationError as exc:
            await self._toast(update, texts.CURATOR_ACTION_FAILED_TOAST)
            await self._reply(update, context, html_chunks(render_action_error(exc), per_line=False))
            return
        log.info("group %s dismissed: %d row(s)", group_id, rows)
        await self._toast(update, texts.CURATOR_DISMISSED_TOAST)
        await self._drop_buttons(update, group_id)
        await self._reply(update, context, html_chunks(esc(texts.CURATOR_DISMISSED.format(group=group_id, rows=rows))))

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

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        store = self.deps.store
        stats = await store.stats() if store is not None else {}
        await self._send_html(update, render_stats(stats))
