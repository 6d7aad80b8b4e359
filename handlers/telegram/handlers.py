"""Public handlers: questions in private and groups, commands, and button presses.

Groups are shared spaces: the bot speaks there only when addressed (a mention, a reply to one of
its messages, or ``/ask``) and ignores everything else without storing or logging any of it.
Private chats are one-to-one, so every text there is a question.

Every handler only translates: the update becomes a ``Caller`` and a text or command for the
router (``bot.router``), and what comes back is rendered (``render``) and sent (``send``).
"""
from __future__ import annotations

import logging
import re

from telegram import Message, MessageEntity, Update
from telegram.ext import ContextTypes

from bot import texts
from bot.replies import Option
from bot.router import Caller

from .deps import CHANNEL, Deps
from .render import parse_callback, render, render_outcome, render_text
from .send import answer, answer_text, is_group, send_chunks, thread_of

log = logging.getLogger(__name__)


def command_text(message: Message) -> str:
    """What follows the command (``/ask@bot  text`` -> ``text``), keeping the user's spacing."""
    text = message.text or ""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def command_name(message: Message) -> str:
    """``/Decision@bot 546`` -> ``decision``."""
    head = (message.text or "").split(maxsplit=1)[0] if message.text else ""
    return head.lstrip("/").split("@", 1)[0].lower()


def addressed_text(message: Message, bot_id: int, username: str | None) -> str | None:
    """The question in a group message addressed to the bot, or None when it is chatter.

    Addressed means: the bot is mentioned (entity or plain ``@name``), or the message replies to
    one of the bot's own messages. The reply that Telegram attaches to every message in a forum
    topic (the topic's creation message) is not a reply to the bot.
    """
    text = message.text or ""
    mentioned = False
    if username:
        for entity, value in message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION]).items():
            if entity.type == MessageEntity.MENTION and value[1:].lower() == username.lower():
                mentioned = True
            elif entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot_id:
                mentioned = True
        pattern = re.compile(rf"(?<![\w@])@{re.escape(username)}\b", re.IGNORECASE)
        mentioned = mentioned or bool(pattern.search(text))
        text = pattern.sub(" ", text)
    parent = message.reply_to_message
    replied = bool(parent and parent.from_user and parent.from_user.id == bot_id
                   and not parent.forum_topic_created)
    if not (mentioned or replied):
        return None
    return " ".join(text.split())


class ChatHandlers:
    """Everything a member of the public can do."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.router = deps.router
        self.service = deps.service

    def caller(self, update: Update) -> Caller:
        user, chat = update.effective_user, update.effective_chat
        group = chat is not None and chat.type in ("group", "supergroup")
        chat_id = chat.id if chat is not None else (user.id if user is not None else 0)
        return Caller(CHANNEL, str(chat_id), str(user.id) if user else None, "group" if group else "private",
                      curator=self.deps.settings.is_curator(user.id if user else None),
                      name=user.first_name if user else None)

    # ------------------------------------------------------------------ questions
    async def _ask(self, update: Update, message: Message, text: str) -> None:
        reply = await self.router.text(self.caller(update), text)
        if reply is not None:  # None: over the rate limit, already told once
            await answer(message, render(reply))

    async def private_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Private chat: every text is a question."""
        message = update.effective_message
        if message is not None and message.text is not None:
            await self._ask(update, message, message.text)

    async def private_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A sticker, photo or voice note in private: say that a question in words is needed."""
        if update.effective_message is not None:
            await answer_text(update.effective_message, texts.EMPTY_QUESTION)

    async def group_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Group text: answered only when addressed to the bot; chatter is dropped untouched."""
        message = update.effective_message
        if message is None or (message.from_user and message.from_user.is_bot):
            return
        bot = context.bot
        question = addressed_text(message, bot.id, bot.username)
        if question is None:
            return
        await self._ask(update, message, question)

    # ------------------------------------------------------------------ commands
    async def command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Any public command: the router decides, this only renders (``/start`` with the name)."""
        message = update.effective_message
        if message is None:
            return
        outcome = await self.router.run(self.caller(update), command_name(message), command_text(message))
        chunks = render_outcome(outcome)
        if chunks:
            await answer(message, chunks)

    async def unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A command we do not offer. Private: a pointer to /help. Groups: silence (maybe another bot's)."""
        message = update.effective_message
        if message is not None and not is_group(message):
            await answer_text(message, texts.UNKNOWN_COMMAND)

    # ------------------------------------------------------------------ buttons
    async def callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button press. Every press is answered (answerCallbackQuery), stale or not."""
        query = update.callback_query
        if query is None:
            return
        press = parse_callback(query.data)
        if press is None:
            await query.answer(texts.ENTRY_NOT_FOUND)
            return
        if press.kind == "v":
            stored = await self.service.feedback(press.ref, press.vote, query.from_user.id, CHANNEL)
            await query.answer({"unknown": texts.ENTRY_NOT_FOUND, "failed": texts.ERROR_APOLOGY}.get(
                stored, texts.FEEDBACK_THANKS_UP if press.vote > 0 else texts.FEEDBACK_THANKS_DOWN))
            return
        option = Option("", entry_id=press.ref) if press.kind == "e" else Option("", target=press.ref)
        reply = await self.router.press(self.caller(update), option)
        chat = update.effective_chat
        if reply is None or chat is None:
            await query.answer(texts.ENTRY_NOT_FOUND)
            return
        await query.answer()  # stop the button's spinner before the (possibly long) answer
        origin = query.message if isinstance(query.message, Message) else None
        group = chat.type in ("group", "supergroup")
        await send_chunks(context.bot, chat.id, render(reply),
                          reply_to=origin.message_id if group and origin else None,
                          thread_id=thread_of(origin))


__all__ = ["ChatHandlers", "addressed_text", "command_name", "command_text", "render_text"]
