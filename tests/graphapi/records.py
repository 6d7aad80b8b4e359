"""What the Graph API emulator records: calls, webhook deliveries, users and the messages it knows."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

@dataclass
class Call:
    """One request to the Graph API as the emulator saw it (the token itself is never recorded)."""

    seq: int
    method: str
    path: str
    time: float  # time.monotonic() at arrival
    payload: Any = None
    kind: str = "other"  # "message" (a send), "read" (a read receipt), "other"
    status: int = 200
    code: int | None = None  # the Graph error code when refused
    response: Any = None
    to: str | None = None  # the recipient's wa_id
    type: str | None = None  # text / interactive / reaction / read
    interactive_type: str | None = None  # button / list
    wamid: str | None = None
    authorized: bool = True
    done: float = 0.0
    window_closed: bool = False  # accepted outside the window (window_error="status"): a failed status follows

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def body(self) -> dict[str, Any]:
        return (self.payload or {}).get(self.type or "", {}) if isinstance(self.payload, dict) else {}

    @property
    def text(self) -> str | None:
        """The text a user sees: ``text.body`` or ``interactive.body.text``."""
        if self.type == "text":
            return self.body.get("body")
        if self.type == "interactive":
            return (self.body.get("body") or {}).get("text")
        return None

    def buttons(self) -> list[tuple[str, str]]:
        """(id, title) of the reply buttons."""
        action = self.body.get("action") or {}
        return [(b["reply"]["id"], b["reply"]["title"]) for b in action.get("buttons", [])]

    def rows(self) -> list[tuple[str, str, str | None]]:
        """(id, title, description) of every list row, section by section."""
        action = self.body.get("action") or {}
        return [(r["id"], r["title"], r.get("description")) for s in action.get("sections", [])
                for r in s.get("rows", [])]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Delivery:
    """One POST of a webhook to the bot."""

    seq: int
    url: str
    status: int | None  # None: no HTTP answer (connection refused, timeout)
    time: float
    attempt: int
    signature: str | None
    wamids: list[str]
    body: str
    error: str | None = None
    answer: str = ""


@dataclass
class User:
    wa_id: str
    name: str
    bsuid: str
    last_inbound: float | None = None  # on the emulator clock (now())


@dataclass
class Known:
    """A message the emulator knows: sent by the bot (``out``) or delivered to it (``in``)."""

    wamid: str
    direction: str
    wa_id: str
    type: str
    payload: dict[str, Any]
    tracker: str | None = None


@dataclass
class VerifyResult:
    status: int | None
    body: str
    challenge: str

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.body == self.challenge

