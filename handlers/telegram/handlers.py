"""Public handlers: questions in private and groups, browsing commands, and button presses.

Groups are shared spaces: the bot speaks there only when addressed (a mention, a reply to one of
its messages, or ``/ask``) and ignores everything else without storing or logging any of it.
Private chats are one-to-one, so every text there is a question.
"""
from __future__ import annotations

import logging
import re

from telegram import Message, MessageEntity, Update
from telegram.ext import ContextTypes

from bot import texts
from bot.replies import Question, Reply

from .deps import Deps
from .render import (Chunk, Line, browse_home_keyboard, esc, isolate, pack, paragraphs, parse_callback, render,
                     render_text, with_markup)
from .send import answer, answer_reply, answer_text, is_group, send_chunks, thread_of

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"\d+")


def command_text(message: Message) -> str:
    """What follows the command (``/ask@bot  text`` -> ``text``), keeping the user's spacing."""
    text = message.text or ""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


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
        self.service = deps.service

    # ------------------------------------------------------------------ questions
    async def _ask(self, message: Message, text: str, chat_type: str) -> None:
        user = message.from_user
        question = Question(text, channel="telegram", chat_type=chat_type,
                            user_id=str(user.id) if user else None)
        reply = await self.service.handle(question)
        await answer_reply(message, reply)

    async def private_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Private chat: every text is a question."""
        message = update.effective_message
        if message is not None and message.text is not None:
            await self._ask(message, message.text, "private")

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
        await self._ask(message, question, "group")

    async def ask(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/ask TEXT`` (also ``/ask@bot``): works with privacy mode on, in groups and privately."""
        message = update.effective_message
        if message is None:
            return
        text = command_text(message)
        if not text:
            await answer_text(message, texts.GROUP_ASK_USAGE)
            return
        await self._ask(message, text, "group" if is_group(message) else "private")

    async def unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A command we do not offer. Private: a pointer to /help. Groups: silence (maybe another bot's)."""
        message = update.effective_message
        if message is not None and not is_group(message):
            await answer_text(message, texts.UNKNOWN_COMMAND)

    # ------------------------------------------------------------------ browsing commands
    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Welcome and examples; ``/start <entry_id>`` (a t.me deep link) opens that entry directly."""
        message = update.effective_message
        if message is None:
            return
        arg = command_text(message)
        if arg:
            reply = self.service.entry(arg.split()[0])
            if reply is not None:
                await answer_reply(message, reply)
                return
        await answer(message, self.welcome(update))

    def welcome(self, update: Update) -> list[Chunk]:
        user = update.effective_user
        paras = []
        if user and user.first_name:
            paras.append([Line(raw=esc(texts.HELLO_NAME).format(name=isolate(user.first_name)))])
        paras.extend(paragraphs(texts.WELCOME))
        paras.append([Line(texts.EXAMPLES_TITLE, "<b>", "</b>")] + [Line(f"• {q}") for q in texts.EXAMPLES])
        return with_markup(pack(paras), browse_home_keyboard())

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message is not None:
            await answer(update.effective_message, render_text(texts.HELP, browse_home_keyboard()))

    async def decisions(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message is not None:
            await answer_reply(update.effective_message, self.service.decisions())

    async def decision(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/decision 546``: the summary and its clauses; without a number, the usage."""
        message = update.effective_message
        if message is None:
            return
        found = _NUMBER.search(command_text(message))
        if not found or len(found.group()) > 9:
            await answer_text(message, texts.DECISION_USAGE)
            return
        await answer_reply(message, self.service.decision(int(found.group())))

    async def programmes(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message is not None:
            await answer_reply(update.effective_message, self.service.programmes())

    async def visits(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message is not None:
            await answer_reply(update.effective_message, self.service.visits())

    async def search(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None:
            await answer_reply(message, self.service.search(command_text(message)))

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
            if self.service.engine.snapshot.kb.entry(press.ref) is None:
                await query.answer(texts.ENTRY_NOT_FOUND)
                return
            stored = await self.service.feedback(press.ref, press.vote, query.from_user.id, "telegram")
            if not stored:
                await query.answer(texts.ERROR_APOLOGY)
            else:
                await query.answer(texts.FEEDBACK_THANKS_UP if press.vote > 0 else texts.FEEDBACK_THANKS_DOWN)
            return
        reply: Reply | None = (self.service.entry(press.ref) if press.kind == "e"
                               else self.service.open(press.ref))
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
