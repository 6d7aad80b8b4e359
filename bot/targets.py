"""Compact button targets, the same on every channel: what a Telegram button's callback data and a
WhatsApp reply button's or list row's id carry.

``e:<entry id>`` opens an entry, ``t:<target>`` a browse target (``decision:546``,
``stage:<id>``...), ``v:<1|-1>:<entry id>`` is a 👍/👎 vote, ``cr:<group>:<entry>`` and
``cd:<group>`` are the curators' attach and dismiss, ``cg:<group>`` shows one group. Buttons carry ids, never text, and anything we
did not build parses as None (a stale or forged press is answered like a stale button).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .replies import Option

_ATTACH = re.compile(r"^cr:(\d{1,18}):([^:\s]+)$")
_DISMISS = re.compile(r"^cd:(\d{1,18})$")
_SHOW = re.compile(r"^cg:(\d{1,18})$")


@dataclass(frozen=True, slots=True)
class Press:
    """A parsed button press: ``kind`` "e" entry, "t" browse target, "v" vote."""

    kind: str
    ref: str
    vote: int = 0

    @property
    def option(self) -> Option:
        return Option("", entry_id=self.ref) if self.kind == "e" else Option("", target=self.ref)


@dataclass(frozen=True, slots=True)
class CuratorPress:
    """A parsed curator button: ``attach`` a group to an entry, or ``dismiss`` it."""

    action: str  # "attach" | "dismiss" | "show" (a group's detail, where there is no room for its buttons)
    group_id: int
    entry_id: str | None = None


def entry(entry_id: str) -> str:
    return f"e:{entry_id}"


def target(name: str) -> str:
    return f"t:{name}"


def vote(value: int, entry_id: str) -> str:
    return f"v:{1 if value > 0 else -1}:{entry_id}"


def of_option(option: Option) -> str | None:
    if option.entry_id:
        return entry(option.entry_id)
    if option.target:
        return target(option.target)
    return None


def attach(group_id: int, entry_id: str) -> str:
    return f"cr:{group_id}:{entry_id}"


def dismiss(group_id: int) -> str:
    return f"cd:{group_id}"


def group(group_id: int) -> str:
    return f"cg:{group_id}"


def parse(data: str | None) -> Press | None:
    """The press behind a datum, or None for anything we did not build."""
    if not data:
        return None
    kind, _, rest = data.partition(":")
    if kind in ("e", "t") and rest:
        return Press(kind, rest)
    if kind == "v":
        value, _, entry_id = rest.partition(":")
        if value in ("1", "-1") and entry_id:
            return Press("v", entry_id, int(value))
    return None


def parse_curator(data: str | None) -> CuratorPress | None:
    if not data:
        return None
    if found := _ATTACH.match(data):
        return CuratorPress("attach", int(found.group(1)), found.group(2))
    if found := _DISMISS.match(data):
        return CuratorPress("dismiss", int(found.group(1)))
    if found := _SHOW.match(data):
        return CuratorPress("show", int(found.group(1)))
    return None
