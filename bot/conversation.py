"""What a chat was last offered, so the next message can refer to it: "2" picks the second option,
"הבא" opens the next stage.

Why in the store and not in memory: with several replicas behind one webhook URL, the message
"2" may reach another replica than the reply it answers. The chat is keyed by a keyed hash of
channel and chat id, like users; only option labels and targets are kept, never the user's text.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from knowledge.hebrew import normalize

from .replies import Option, Reply
from .storage import Storage, hash_user

log = logging.getLogger(__name__)

MAX_PICK = 10  # a bare number up to this, beyond the options offered, is a wrong pick, not a question
_NUMBER = re.compile(r"^\s*#?(\d{1,3})\s*[.)]?\s*$")
# "next" in the words a person types on a phone ("הבא", "שלב הבא", "next") or the console's »
_NEXT = {"הבא", "לשלב הבא", "שלב הבא", "המשך", "הלאה", "next", "»", ">>"}


def bare_number(text: str) -> int | None:
    """The number of a message that is only a (small) number, like "2", "#3" or "2."."""
    found = _NUMBER.match(text)
    return int(found.group(1)) if found else None


def asks_next(text: str) -> bool:
    t = text.strip()
    return t in _NEXT or normalize(t) in {normalize(w) for w in _NEXT if normalize(w)}


@dataclass(frozen=True, slots=True)
class Offer:
    """The options (and the next step) of a chat's last reply."""

    options: tuple[Option, ...] = ()
    next: Option | None = None

    @classmethod
    def of(cls, reply: Reply) -> "Offer":
        return cls(tuple(o for o in reply.options if o.entry_id or o.target), reply.next)

    def __bool__(self) -> bool:
        return bool(self.options or self.next)

    def dumps(self) -> str:
        def one(o: Option) -> dict[str, str]:
            return {k: v for k, v in (("l", o.label), ("e", o.entry_id), ("t", o.target)) if v}
        return json.dumps({"o": [one(o) for o in self.options], "n": one(self.next) if self.next else None},
                          ensure_ascii=False)

    @classmethod
    def loads(cls, data: str | None) -> "Offer":
        if not data:
            return cls()
        try:
            raw = json.loads(data)
            opts = tuple(Option(o["l"], entry_id=o.get("e"), target=o.get("t")) for o in raw.get("o", ()))
            n = raw.get("n")
            return cls(opts, Option(n["l"], entry_id=n.get("e"), target=n.get("t")) if n else None)
        except (ValueError, KeyError, TypeError, AttributeError):
            return cls()  # a row written by another version: forget it rather than fail the message


class Conversations:
    """Remember and recall a chat's last offer. Without a store (``rashut ask``), nothing is kept."""

    def __init__(self, store: Storage | None, hash_key: str) -> None:
        self.store = store
        self.hash_key = hash_key

    def key(self, channel: str, chat_id: str) -> str:
        return hash_user(f"{channel}:{chat_id}", self.hash_key) or ""

    async def recall(self, channel: str, chat_id: str) -> Offer:
        if self.store is None:
            return Offer()
        try:
            return Offer.loads(await self.store.recall(self.key(channel, chat_id)))
        except Exception as exc:  # noqa: BLE001 - a lost store costs the pick, never the answer
            log.warning("could not read the chat's last options: %s", exc)
            return Offer()

    async def remember(self, channel: str, chat_id: str, reply: Reply) -> None:
        if self.store is None:
            return
        try:
            await self.store.remember(self.key(channel, chat_id), Offer.of(reply).dumps())
        except Exception as exc:  # noqa: BLE001
            log.warning("could not store the chat's last options: %s", exc)
