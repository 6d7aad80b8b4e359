"""One command router for every channel: the commands are declared once, here.

Each adapter maps its own syntax onto these names (Telegram ``/decision 546``, a WhatsApp text or
list row, a console line) and renders what comes back; no adapter decides what a command does
or reads the knowledge base. A curator command asked by anyone else is answered exactly like an
unknown command, so its existence is not revealed.

Free text goes through ``text``: a small number right after a reply with options picks that
option, "הבא" opens the next stage, anything else is a question for the answer service.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from . import texts
from knowledge.intents import is_filler

from .conversation import MAX_PICK, Conversations, asks_next, bare_number
from .curator import CuratorService, Refused, ScopeOutcome
from .grouping import Group
from .limits import UserLimiter
from .reloader import ReloadResult
from .replies import Option, Question, Reply
from .service import AnswerService
from .storage import Stats


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    aliases: tuple[str, ...] = ()
    curator: bool = False
    browses: tuple[str, ...] = ()  # the knowledge kinds it lists (schema kinds)
    arg: str | None = None  # what follows the command, when it takes something


COMMANDS: tuple[Command, ...] = (
    Command("start", arg="entry"),  # a deep link's parameter opens that entry
    Command("help"),
    Command("decisions", browses=("decision",)),
    Command("decision", browses=("decision",), arg="number"),
    Command("programmes", aliases=("programs",), browses=("programme",)),
    Command("visits", browses=("guideline",)),
    Command("search", arg="words"),
    Command("next"),
    Command("ask", arg="question"),
    Command("unanswered", curator=True),
    Command("reload", curator=True),
    Command("stats", curator=True),
    Command("outofscope", curator=True, arg="group subject"),
)
_BY_NAME = {n: c for c in COMMANDS for n in (c.name, *c.aliases)}
CURATOR_COMMANDS = tuple(c.name for c in COMMANDS if c.curator)
_NUMBER = re.compile(r"\d+")
UNLIMITED = ("console",)  # the one person at the terminal is not rate limited


def command(name: str) -> Command | None:
    return _BY_NAME.get(name.lower())


def typed_command(text: str) -> tuple[str, str] | None:
    """A message typed as a command: ``/decision 546`` -> ("decision", "546"), or one of the words
    people type for a command on a phone ("החלטות" -> ("decisions", "")); None for anything else."""
    t = " ".join(text.split())
    if t.startswith("/") and len(t) > 1:
        name, _, arg = t[1:].partition(" ")
        return name, arg.strip()
    if t in texts.COMMAND_WORDS:
        return texts.COMMAND_WORDS[t], ""
    return None


def menu() -> list[tuple[str, str]]:
    """The public commands with their descriptions, in menu order (curator commands never listed)."""
    return list(texts.COMMAND_MENU)


def home_options() -> tuple[Option, ...]:
    """The three ways into the base, under the welcome and the help."""
    return (Option(texts.BROWSE_DECISIONS, target="decisions"), Option(texts.BROWSE_PROGRAMMES, target="programmes"),
            Option(texts.BROWSE_VISITS, target="visits"))


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a message, as the adapter knows it. Raw ids never leave the process: the store
    gets keyed hashes only."""

    channel: str
    chat_id: str
    user_id: str | None = None
    chat_type: str = "private"
    curator: bool = False
    name: str | None = None  # a first name for the greeting, when the channel has one


@dataclass(frozen=True, slots=True)
class Welcome:
    name: str | None


@dataclass(frozen=True, slots=True)
class Queue:
    groups: list[Group]


@dataclass(frozen=True, slots=True)
class Unknown:
    """A command we do not offer (or a curator command from someone who is not a curator)."""

    name: str


Outcome = Union[Reply, Welcome, Queue, ReloadResult, Stats, Refused, ScopeOutcome, Unknown]


class Router:
    def __init__(self, service: AnswerService, curator: CuratorService, conversations: Conversations,
                 limiter: UserLimiter | None = None) -> None:
        self.service = service
        self.curator = curator
        self.conversations = conversations
        self.limiter = limiter

    # ------------------------------------------------------------------ free text and presses
    async def text(self, caller: Caller, text: str) -> Reply | None:
        """A message that is not a command: a pick from the last reply, or a question. None when the
        sender is over the rate limit and was already told so (nothing is sent, nothing queued)."""
        if self.limiter is not None and caller.channel not in UNLIMITED:
            verdict = self.limiter.check(self.conversations.key(caller.channel, caller.user_id or caller.chat_id))
            if verdict == "drop":
                return None
            if verdict == "warn":
                return Reply("browse", texts.SLOW_DOWN)
        pick = bare_number(text)
        going_on, filler = asks_next(text), is_filler(text)
        offer = await self.conversations.recall(caller.channel, caller.chat_id) if (
            pick is not None or going_on or filler) else None
        reply: Reply | None = None
        if offer and pick is not None:
            if 1 <= pick <= len(offer.options):
                reply = self._open(offer.options[pick - 1])
            elif pick <= MAX_PICK and offer.options:
                reply = Reply("browse", texts.OPTION_OUT_OF_RANGE.format(number=pick, count=len(offer.options)),
                              options=offer.options, next=offer.next)
        elif offer and going_on and offer.next is not None:
            reply = self._open(offer.next)
        elif offer and filler:  # "מה?", "לא הבנתי", "עוד": the last options again (without context: help)
            reply = Reply("browse", texts.REPEAT_OPTIONS, options=offer.options, next=offer.next)
        if reply is None:
            reply = await self.service.handle(Question(text, channel=caller.channel, chat_type=caller.chat_type,
                                                       user_id=caller.user_id))
        await self.conversations.remember(caller.channel, caller.chat_id, reply)
        return reply

    def _open(self, option: Option) -> Reply:
        found = self.service.entry(option.entry_id) if option.entry_id else self.service.open(option.target or "")
        return found if found is not None else Reply("browse", texts.ENTRY_NOT_FOUND)

    async def press(self, caller: Caller, option: Option) -> Reply | None:
        """A button or list row: the entry or browse target it carries; None when it is gone."""
        reply = self.service.entry(option.entry_id) if option.entry_id else self.service.open(option.target or "")
        if reply is not None:
            await self.conversations.remember(caller.channel, caller.chat_id, reply)
        return reply

    # ------------------------------------------------------------------ commands
    async def run(self, caller: Caller, name: str, arg: str = "") -> Outcome:
        cmd = command(name)
        if cmd is None or (cmd.curator and not caller.curator):
            return Unknown(name)
        outcome = await (self._curator(cmd.name, arg) if cmd.curator else self._public(caller, cmd.name, arg))
        if isinstance(outcome, Reply):
            await self.conversations.remember(caller.channel, caller.chat_id, outcome)
        return outcome

    async def _public(self, caller: Caller, name: str, arg: str) -> Outcome:
        s = self.service
        if name == "start":
            found = s.entry(arg.split()[0]) if arg.strip() else None
            return found if found is not None else Welcome(caller.name)
        if name == "help":
            return Reply("browse", texts.HELP_BY_CHANNEL.get(caller.channel, texts.HELP), options=home_options())
        if name == "decisions":
            return s.decisions()
        if name == "decision":
            number = _NUMBER.search(arg)
            if not number or len(number.group()) > 9:
                return Reply("browse", texts.DECISION_USAGE)
            return s.decision(int(number.group()))
        if name == "programmes":
            return s.programmes()
        if name == "visits":
            return s.visits()
        if name == "search":
            return s.search(arg)
        if name == "next":
            offer = await self.conversations.recall(caller.channel, caller.chat_id)
            return self._open(offer.next) if offer.next is not None else Reply("browse", texts.NO_NEXT_STEP)
        if name == "ask":
            if not arg.strip():
                return Reply("browse", texts.GROUP_ASK_USAGE)
            return await s.handle(Question(arg.strip(), channel=caller.channel, chat_type=caller.chat_type,
                                           user_id=caller.user_id))
        return Unknown(name)

    async def _curator(self, name: str, arg: str) -> Outcome:
        c = self.curator
        if name == "unanswered":
            return Queue(await c.groups())
        if name == "reload":
            return await c.reload()
        if name == "stats":
            return await c.stats()
        # outofscope GROUP SUBJECT
        parts = arg.split(maxsplit=1)
        if len(parts) < 2 or not parts[0].lstrip("#").isdigit() or c.store is None:
            return Reply("browse", texts.CURATOR_OUT_OF_SCOPE_USAGE)
        return await c.out_of_scope(int(parts[0].lstrip("#")), parts[1])
