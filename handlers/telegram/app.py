"""The Telegram ``Application`` factory: handlers, rate limiter, idempotency and the error handler.

The factory takes its collaborators (settings, service, store, and optionally the HTTP request
objects) so tests build the very same application on a recording ``BaseRequest`` with no network,
and the runner builds it on real HTTP. Nothing here starts polling or a webhook.
"""
from __future__ import annotations

import logging
from collections import OrderedDict

from telegram import BotCommand, Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (AIORateLimiter, ApplicationBuilder, ApplicationHandlerStop,
                          CallbackQueryHandler, CommandHandler, ContextTypes, InlineQueryHandler, MessageHandler,
                          TypeHandler, filters)
from telegram.request import BaseRequest

from bot import texts
from bot.service import AnswerService
from bot.settings import Settings
from bot.store import Store
from knowledge.errors import SettingsError

from .aiohttp_request import AiohttpRequest
from .curator import CALLBACK_PATTERN, CuratorHandlers
from .deps import DEPS_KEY, HANDLER_ATTR, App, Deps, named
from .handlers import ChatHandlers
from .inline import InlineHandlers
from .render import render_text
from .send import send_chunks, thread_of

log = logging.getLogger(__name__)

RATE_LIMIT_RETRIES = 3  # AIORateLimiter retries a call this often after a RetryAfter (flood control)
CONCURRENT_UPDATES = 8  # one slow Telegram call must not hold up everyone else's answers
SEEN_IN_MEMORY = 10_000
PUBLIC_COMMANDS = tuple(name for name, _ in texts.COMMAND_MENU)
CURATOR_COMMANDS = ("unanswered", "reload", "stats", "outofscope")


def file_url(base_url: str) -> str:
    """The file endpoint of a Bot API base URL (``.../bot`` -> ``.../file/bot``)."""
    head, sep, tail = base_url.rpartition("/bot")
    return f"{head}/file/bot{tail}" if sep else base_url.rstrip("/") + "/file/bot"


class Dedupe:
    """Process each update id once, even when Telegram (or a webhook retry) delivers it twice.

    Uses the store's ``updates`` table so it survives restarts; without a store, or if the store
    fails, a bounded in-memory set (a failing store must not stop answers).
    """

    def __init__(self, store: Store | None, size: int = SEEN_IN_MEMORY) -> None:
        self.store = store
        self.size = size
        self._seen: OrderedDict[int, None] = OrderedDict()

    def _fresh_in_memory(self, update_id: int) -> bool:
        if update_id in self._seen:
            return False
        self._seen[update_id] = None
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return True

    async def __call__(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        fresh: bool
        if self.store is not None:
            try:
                fresh = await self.store.mark_update(update.update_id)
            except Exception as exc:  # noqa: BLE001 - answering beats strict idempotency
                log.warning("could not record update %s in the store (%s); using memory", update.update_id, exc)
                fresh = self._fresh_in_memory(update.update_id)
        else:
            fresh = self._fresh_in_memory(update.update_id)
        if not fresh:
            log.info("duplicate update %s ignored", update.update_id)
            raise ApplicationHandlerStop


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The one error handler: log with context, apologise briefly in the chat if there is one."""
    error = context.error
    upd = update if isinstance(update, Update) else None
    chat = upd.effective_chat if upd else None
    handler = getattr(error, HANDLER_ATTR, None) if error is not None else None
    if upd is None:
        # polling / network trouble outside any update: PTB retries; one line is enough
        log.warning("telegram error outside an update: %r", error)
        return
    log.error("handler %s failed on update %s (chat %s): %r", handler or "?", upd.update_id,
              chat.id if chat else None, error, exc_info=error)
    if upd.callback_query is not None:
        try:
            await upd.callback_query.answer(texts.ERROR_APOLOGY)
        except TelegramError:
            pass  # already answered, or too old
    if chat is None or isinstance(error, Forbidden):
        return
    message = upd.effective_message
    try:
        await send_chunks(context.bot, chat.id, render_text(texts.ERROR_APOLOGY),
                          reply_to=message.message_id if message and chat.type != "private" else None,
                          thread_id=thread_of(message))
    except TelegramError as exc:
        log.warning("could not send the apology to chat %s: %r", chat.id, exc)


def register(app: App, deps: Deps) -> None:
    """Wire every handler. Order matters: the first matching handler of a group wins."""
    chat, curator, inline = ChatHandlers(deps), CuratorHandlers(deps), InlineHandlers(deps)
    app.bot_data[DEPS_KEY] = deps  # the runner sets deps.reloader at start-up (runner.lifecycle)
    new_message = filters.UpdateType.MESSAGE  # edits and channel posts are not questions
    app.add_handler(TypeHandler(Update, Dedupe(deps.store)), group=-1)

    if deps.settings.curator_ids:
        where: filters.BaseFilter = filters.ChatType.PRIVATE
        if deps.settings.curator_chat_id is not None:
            where = where | filters.Chat(chat_id=deps.settings.curator_chat_id)
        who = new_message & filters.User(user_id=deps.settings.curator_ids) & where
        for name in CURATOR_COMMANDS:
            app.add_handler(CommandHandler(name, named(f"curator.{name}", getattr(curator, name)), filters=who))
        # the queue's 📎/🗑 buttons, before the generic callback handler; the handler checks the
        # presser is a curator and answers anyone else exactly like a stale button
        app.add_handler(CallbackQueryHandler(named("curator.button", curator.button), pattern=CALLBACK_PATTERN))

    for name, callback in (("start", chat.start), ("help", chat.help), ("decisions", chat.decisions),
                           ("decision", chat.decision), ("programmes", chat.programmes),
                           ("programs", chat.programmes), ("visits", chat.visits), ("search", chat.search),
                           ("ask", chat.ask)):
        app.add_handler(CommandHandler(name, named(name, callback), filters=new_message))
    app.add_handler(MessageHandler(new_message & filters.COMMAND, named("unknown_command", chat.unknown_command)))
    app.add_handler(MessageHandler(new_message & filters.ChatType.PRIVATE & filters.TEXT,
                                   named("private_text", chat.private_text)))
    app.add_handler(MessageHandler(new_message & filters.ChatType.PRIVATE & ~filters.StatusUpdate.ALL,
                                   named("private_other", chat.private_other)))
    app.add_handler(MessageHandler(new_message & filters.ChatType.GROUPS & filters.TEXT,
                                   named("group_text", chat.group_text)))
    app.add_handler(CallbackQueryHandler(named("callback", chat.callback)))
    app.add_handler(InlineQueryHandler(named("inline", inline.inline_query)))
    app.add_error_handler(on_error)


def build_application(settings: Settings, service: AnswerService, store: Store | None, *,
                      request: BaseRequest | None = None,
                      get_updates_request: BaseRequest | None = None) -> App:
    """A ready-to-initialise Application; the caller decides polling, webhook or a test harness."""
    if not settings.telegram_token:
        raise SettingsError("TELEGRAM_BOT_TOKEN is required for the Telegram adapter")
    builder = (ApplicationBuilder().token(settings.telegram_token)
               .rate_limiter(AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
               .concurrent_updates(CONCURRENT_UPDATES))
    if settings.telegram_api_base_url:
        builder = builder.base_url(settings.telegram_api_base_url).base_file_url(
            file_url(settings.telegram_api_base_url))
    builder = builder.request(request if request is not None else AiohttpRequest())
    builder = builder.get_updates_request(get_updates_request if get_updates_request is not None
                                          else AiohttpRequest(connection_pool_size=1))
    app = builder.build()
    register(app, Deps(settings, service, store))
    return app


def menu() -> list[BotCommand]:
    """The public command menu. Curator commands are never listed (they stay invisible)."""
    return [BotCommand(name, description) for name, description in texts.COMMAND_MENU]


async def setup_bot(app: App) -> None:
    """Start-up calls: the command menu. A failure is logged, not fatal (answers matter more)."""
    try:
        await app.bot.set_my_commands(menu())
    except (BadRequest, TelegramError) as exc:
        log.warning("could not set the command menu: %r", exc)
