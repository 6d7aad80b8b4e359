"""The Telegram ``Application`` factory: handlers, rate limiter and the one error handler.

The factory takes the runtime (``bot.runtime``) and optionally the HTTP request objects, so tests
build the very same application on a recording ``BaseRequest`` with no network, and the channel
(``channel.TelegramChannel``) builds it on real HTTP. Nothing here receives updates: they come
through the durable inbox (``bot.inbox``), which hands each one to ``Application.process_update``.
"""
from __future__ import annotations

import logging
from contextvars import ContextVar

from telegram import BotCommand, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import (AIORateLimiter, ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes,
                          InlineQueryHandler, MessageHandler, filters)
from telegram.request import BaseRequest

from bot import texts
from bot.logs import pseudonym
from bot.router import COMMANDS, CURATOR_COMMANDS
from bot.runtime import Runtime
from knowledge.errors import SettingsError

from .aiohttp_request import AiohttpRequest
from .curator import CALLBACK_PATTERN, CuratorHandlers
from .deps import HANDLER_ATTR, App, Deps, named
from .handlers import ChatHandlers
from .inline import InlineHandlers
from .render import render_text
from .send import send_chunks, thread_of

log = logging.getLogger(__name__)

RATE_LIMIT_RETRIES = 3  # AIORateLimiter retries a call this often after a RetryAfter (flood control)
PUBLIC_COMMANDS = tuple(name for name, _ in texts.COMMAND_MENU)
ROUTED = tuple(n for c in COMMANDS if not c.curator for n in (c.name, *c.aliases))
# Set by the inbox handler around one update: a passing send failure is noted here by the error
# handler, and the update then goes back to the inbox instead of getting an apology.
TRANSIENT: ContextVar[list[BaseException] | None] = ContextVar("rashut_transient_errors", default=None)


def file_url(base_url: str) -> str:
    """The file endpoint of a Bot API base URL (``.../bot`` -> ``.../file/bot``)."""
    head, sep, tail = base_url.rpartition("/bot")
    return f"{head}/file/bot{tail}" if sep else base_url.rstrip("/") + "/file/bot"


def transient(error: BaseException | None) -> bool:
    """A failure worth trying again later: the network, a timeout, flood control beyond retries."""
    return isinstance(error, (TimedOut, RetryAfter)) or (
        isinstance(error, NetworkError) and not isinstance(error, (BadRequest, Forbidden)))


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The one error handler: log with context, apologise briefly in the chat if there is one."""
    error = context.error
    upd = update if isinstance(update, Update) else None
    chat = upd.effective_chat if upd else None
    handler = getattr(error, HANDLER_ATTR, None) if error is not None else None
    if upd is None:
        # network trouble outside any update; one line is enough
        log.warning("telegram error outside an update: %r", error)
        return
    noted = TRANSIENT.get()
    if noted is not None and transient(error):
        assert error is not None
        log.warning("handler %s could not reply to update %s (%r); it stays in the inbox for another try",
                    handler or "?", upd.update_id, error)
        noted.append(error)
        return
    log.error("handler %s failed on update %s (chat %s): %r", handler or "?", upd.update_id,
              pseudonym(chat.id) if chat else None, error, exc_info=error)
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
        log.warning("could not send the apology to chat %s: %r", pseudonym(chat.id), exc)


def register(app: App, deps: Deps) -> None:
    """Wire every handler. Order matters: the first matching handler of a group wins."""
    chat, curator, inline = ChatHandlers(deps), CuratorHandlers(deps), InlineHandlers(deps)
    new_message = filters.UpdateType.MESSAGE  # edits and channel posts are not questions

    if deps.settings.curator_ids:
        where: filters.BaseFilter = filters.ChatType.PRIVATE
        if deps.settings.curator_chat_id is not None:
            where = where | filters.Chat(chat_id=deps.settings.curator_chat_id)
        who = new_message & filters.User(user_id=deps.settings.curator_ids) & where
        for name in CURATOR_COMMANDS:
            app.add_handler(CommandHandler(name, named(f"curator.{name}", curator.command), filters=who))
        # the queue's 📎/🗑 buttons, before the generic callback handler; the handler checks the
        # presser is a curator and answers anyone else exactly like a stale button
        app.add_handler(CallbackQueryHandler(named("curator.button", curator.button), pattern=CALLBACK_PATTERN))

    for name in ROUTED:
        app.add_handler(CommandHandler(name, named(name, chat.command), filters=new_message))
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


def build_application(runtime: Runtime, *, request: BaseRequest | None = None,
                      get_updates_request: BaseRequest | None = None) -> App:
    """A ready-to-initialise Application; the caller decides how updates reach it."""
    settings = runtime.settings
    if not settings.telegram_token:
        raise SettingsError("TELEGRAM_BOT_TOKEN is required for the Telegram adapter")
    builder = (ApplicationBuilder().token(settings.telegram_token)
               .rate_limiter(AIORateLimiter(overall_max_rate=settings.telegram_rate, overall_time_period=1,
                                            max_retries=RATE_LIMIT_RETRIES))
               .updater(None).job_queue(None))
    if settings.telegram_api_base_url:
        builder = builder.base_url(settings.telegram_api_base_url).base_file_url(
            file_url(settings.telegram_api_base_url))
    builder = builder.request(request if request is not None else AiohttpRequest())
    builder = builder.get_updates_request(get_updates_request if get_updates_request is not None
                                          else AiohttpRequest(connection_pool_size=1))
    app = builder.build()
    register(app, Deps(settings, runtime.router, runtime.service, runtime.curator))
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
