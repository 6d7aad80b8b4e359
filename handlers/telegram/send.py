"""Sending rendered chunks: one place that sets parse mode, threads and reply targets.

Why one place: every message must go out as HTML with previews off, keep the forum topic of the
question (``message_thread_id``), and in groups reply to the asking message so the answer stays
in its thread even when the original is deleted meanwhile (``allow_sending_without_reply``).
"""
from __future__ import annotations

from typing import Sequence

from telegram import Bot, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ChatType, ParseMode

from bot.replies import Reply

from .render import Chunk, render, render_text

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def thread_of(message: Message | None) -> int | None:
    """The forum topic to answer in; reply chains in ordinary groups are not topics."""
    if message is not None and message.is_topic_message and message.message_thread_id:
        return message.message_thread_id
    return None


def is_group(message: Message) -> bool:
    return message.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)


async def send_chunks(bot: Bot, chat_id: int, chunks: Sequence[Chunk], *, reply_to: int | None = None,
                      thread_id: int | None = None) -> list[Message]:
    """Send chunks in order; the first one replies to ``reply_to`` when given."""
    sent = []
    for i, chunk in enumerate(chunks):
        params = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to and i == 0 else None
        sent.append(await bot.send_message(
            chat_id, chunk.text, parse_mode=ParseMode.HTML, reply_markup=chunk.markup,
            link_preview_options=NO_PREVIEW, message_thread_id=thread_id, reply_parameters=params))
    return sent


async def answer(message: Message, chunks: Sequence[Chunk]) -> list[Message]:
    """Answer a message in its chat: in groups as a reply in the same thread, in private plainly."""
    return await send_chunks(message.get_bot(), message.chat_id, chunks,
                             reply_to=message.message_id if is_group(message) else None,
                             thread_id=thread_of(message))


async def answer_reply(message: Message, reply: Reply) -> list[Message]:
    return await answer(message, render(reply))


async def answer_text(message: Message, text: str) -> list[Message]:
    return await answer(message, render_text(text))
