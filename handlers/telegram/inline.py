"""Inline mode: ``@bot question`` in any chat offers answer cards to drop into the conversation.

Why ``service.respond`` and not ``service.handle``: Telegram sends an inline query for every
keystroke ("מה", "מה הת", "מה התקציב ..."). Logging those prefixes would flood the curators'
queue with half-typed questions and inflate the statistics, so inline answers have no side
effects at all. A user who gets no card can open the private chat from the results button, where
the question is handled (and queued) normally.
"""
from __future__ import annotations

import logging

from telegram import (InlineKeyboardButton, InlineKeyboardMarkup, InlineQueryResultArticle,
                      InlineQueryResultsButton, InputTextMessageContent, Update)
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot import texts
from bot.replies import Reply

from .deps import Deps
from .render import deep_link, render_card, snippet
from .send import NO_PREVIEW

log = logging.getLogger(__name__)

MAX_RESULTS = 3
CACHE_SECONDS = 10  # small: a reload should show up in inline results quickly
MAX_INLINE_QUERY = 256


class InlineHandlers:
    def __init__(self, deps: Deps) -> None:
        self.service = deps.service

    def entries_for(self, text: str) -> list[Reply]:
        """The top answers for a query (``AnswerService.suggest``: no side effects)."""
        return self.service.suggest(text[:MAX_INLINE_QUERY], k=MAX_RESULTS)

    def card(self, reply: Reply, username: str | None) -> InlineQueryResultArticle:
        link = deep_link(username, reply.entry_id or "")
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(texts.INLINE_MORE_IN_BOT, url=link)]]) if link else None
        return InlineQueryResultArticle(
            id=reply.entry_id or "x", title=reply.title or snippet(reply.text, 60),
            description=snippet(reply.text),
            input_message_content=InputTextMessageContent(render_card(reply), parse_mode=ParseMode.HTML,
                                                          link_preview_options=NO_PREVIEW),
            reply_markup=markup)

    async def inline_query(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.inline_query
        if query is None:
            return
        text = query.query.strip()
        replies = self.entries_for(text) if text else []
        button = InlineQueryResultsButton(text=texts.INLINE_OPEN_BOT, start_parameter="inline")
        await query.answer([self.card(r, context.bot.username) for r in replies], cache_time=CACHE_SECONDS,
                           is_personal=False, button=button)
