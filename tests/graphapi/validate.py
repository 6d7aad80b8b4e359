"""The payload rules of the emulated WhatsApp Cloud API ``POST /{phone_number_id}/messages``.

Everything here is pure: ``validate_message(payload)`` and ``validate_read(payload)`` return a
normalised view of a request or raise ``GraphError`` with the code, HTTP status and error JSON that
Meta answers with. The limits are Meta's published ones (interactive reply buttons and list messages
reference pages); where the emulator is stricter than Meta, the rule says so in ``STRICTER``.

Characters are counted in UTF-16 code units by default. Meta's documents say "characters" and do not
define them; UTF-16 units are never fewer than code points, so a text that passes here passes there
whichever Meta counts (Hebrew letters are one unit either way; most emoji are two). Pass
``count="codepoints"`` to count code points instead.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Callable

# ---------------------------------------------------------------- limits (Meta's published numbers)
MAX_TEXT_BODY = 4096
MAX_INTERACTIVE_BODY = 1024  # reply buttons; list messages too here (see STRICTER)
MAX_HEADER_TEXT = 60
MAX_FOOTER_TEXT = 60
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_BUTTON_ID = 256
MAX_LIST_BUTTON = 20
MAX_SECTIONS = 10
MAX_ROWS_TOTAL = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_ROW_ID = 200
MAX_SECTION_TITLE = 24
MAX_TRACKER = 512  # biz_opaque_callback_data

# Where the emulator refuses what Meta (as documented) would accept. Each line is a promise the
# test suite checks; keep it in step with the code below.
STRICTER = (
    "characters are counted in UTF-16 code units (Meta: unspecified 'characters')",
    "list message body is limited to 1024 characters (Meta's current list page says 4096)",
    "a text body or interactive body of only whitespace is refused",
    "unknown fields anywhere in a payload are refused (Graph often ignores them)",
    "only text headers are accepted on interactive messages (Meta also takes image/video/document on buttons)",
    "message types other than text, interactive button/list and reaction are refused as not emulated",
    "context.message_id, reaction.message_id and a read receipt's message_id must name a message the "
    "emulator knows (Meta may accept an unknown id and fail later, or ignore the quote)",
    "a reaction emoji must look like one emoji (no letters or digits, at most 10 code points)",
    "only JSON request bodies are accepted (Graph also takes form-encoded parameters)",
)

WA_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{5,24}$")
BSUID = re.compile(r"^[A-Z]{2}\.(ENT\.)?[0-9]+$")
TOP_LEVEL = {"messaging_product", "recipient_type", "to", "recipient", "type", "context",
             "biz_opaque_callback_data", "recipient_identity_key_hash"}
KNOWN_META_TYPES = {"text", "interactive", "reaction", "image", "audio", "video", "document", "sticker",
                    "location", "contacts", "template"}
EMULATED_TYPES = {"text", "interactive", "reaction"}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def counter(mode: str) -> Callable[[str], int]:
    if mode == "utf16":
        return utf16_len
    if mode == "codepoints":
        return len
    raise ValueError(f"count must be 'utf16' or 'codepoints', not {mode!r}")


# ---------------------------------------------------------------- errors
# code -> (HTTP status, title, details). Titles and details follow Meta's error-code table.
CATALOGUE: dict[int, tuple[int, str, str]] = {
    0: (401, "AuthException", "We were unable to authenticate the app user."),
    4: (400, "Application request limit reached", "The app has reached its API call rate limit."),
    100: (400, "Invalid parameter", "The request included one or more unsupported or misspelled parameters."),
    190: (401, "Invalid OAuth access token - Cannot parse access token", ""),
    130429: (400, "Rate limit hit", "Message failed to send because there were too many messages sent from this "
                                    "phone number in a short period of time"),
    131000: (500, "Something went wrong", "Message failed to send due to an unknown error."),
    131008: (400, "Required parameter is missing", "The request is missing a required parameter."),
    131009: (400, "Parameter value is not valid", "One or more parameter values are invalid."),
    131016: (503, "Service unavailable", "A service is temporarily unavailable."),
    131021: (400, "Recipient cannot be sender", "Sender and recipient phone number is the same."),
    131026: (400, "Message Undeliverable", "Unable to deliver message."),
    131047: (400, "Re-engagement message", "Message failed to send because more than 24 hours have passed since "
                                          "the customer last replied to this number."),
    131048: (400, "Spam rate limit hit", "Message failed to send because there are restrictions on how many "
                                        "messages can be sent from this phone number."),
    131051: (400, "Unsupported message type", "Unsupported message type."),
    131056: (400, "(Business Account, Consumer Account) pair rate limit hit",
             "Message failed to send because there were too many messages sent from this phone number to the "
             "same phone number in a short period of time."),
    131057: (503, "Account in maintenance mode", "Business Account is in maintenance mode"),
}


def fbtrace_id() -> str:
    return secrets.token_urlsafe(15)[:23]


@dataclass
class GraphError(Exception):
    """A Graph API error answer: ``status`` is the HTTP status, ``body()`` the JSON Meta sends."""

    code: int
    details: str = ""
    message: str | None = None
    status: int | None = None
    type: str = "OAuthException"
    subcode: int | None = None
    whatsapp: bool = True  # WhatsApp errors carry error_data.messaging_product/details; Graph ones do not
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        status, title, details = CATALOGUE.get(self.code, (400, "Invalid parameter", ""))
        if self.status is None:
            self.status = status
        if self.message is None:
            self.message = f"(#{self.code}) {title}" if self.code not in (190,) else title
        if not self.details:
            self.details = details
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.whatsapp:
            err["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        if self.subcode is not None:
            err["error_subcode"] = self.subcode
        err.update(self.extra)
        err["fbtrace_id"] = fbtrace_id()
        return {"error": err}


def invalid(details: str, *, message: str | None = None) -> GraphError:
    """Code 100, the Graph parameter check (structure, types, unknown or missing fields)."""
    return GraphError(100, details, message=message or "(#100) Invalid parameter")


def not_valid(details: str) -> GraphError:
    """Code 131009, WhatsApp's value check (lengths, counts, duplicates)."""
    return GraphError(131009, details)


def required(param: str) -> GraphError:
    return GraphError(100, f"The parameter {param} is required.", message=f"(#100) The parameter {param} is required.")


# ---------------------------------------------------------------- helpers
def _param(path: list[str | int]) -> str:
    head, *rest = path
    return str(head) + "".join(f"[{p}]" if isinstance(p, int) else f"['{p}']" for p in rest)


def _obj(value: Any, path: list[str | int], allowed: set[str], *, need: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"Param {_param(path)} must be a JSON object.")
    extra = sorted(set(value) - allowed)
    if extra:
        raise invalid(f"Unexpected key \"{extra[0]}\" on param {_param(path)}.")
    for key in need:
        if key not in value or value[key] is None:
            raise required(_param([*path, key]))
    return value


def _str(value: Any, path: list[str | int]) -> str:
    if not isinstance(value, str):
        raise invalid(f"Param {_param(path)} must be a string.")
    return value


def _length(value: str, path: list[str | int], lo: int, hi: int, what: str, count: Callable[[str], int]) -> str:
    n = count(value)
    if not lo <= n <= hi:
        raise not_valid(f"{what} length invalid. Min length: {lo}, Max length: {hi}")
    return value


# ---------------------------------------------------------------- the views
@dataclass
class Outgoing:
    """A valid send, normalised."""

    type: str
    to: str | None  # the digits of ``to``, or None when sent by BSUID
    recipient: str | None  # the BSUID, when given
    body: dict[str, Any]  # the type-named object (text / interactive / reaction)
    context: str | None
    tracker: str | None

    @property
    def interactive_type(self) -> str | None:
        return self.body.get("type") if self.type == "interactive" else None


def validate_message(payload: Any, *, count: str = "utf16", list_body_max: int = MAX_INTERACTIVE_BODY) -> Outgoing:
    n = counter(count)
    if not isinstance(payload, dict):
        raise invalid("The request body must be a JSON object.")
    product = payload.get("messaging_product")
    if product is None:
        raise required("messaging_product")
    if product != "whatsapp":
        raise GraphError(100, f"Param messaging_product must be one of {{WHATSAPP}} - got \"{product}\".",
                         message=f"(#100) Param messaging_product must be one of {{WHATSAPP}} - got \"{product}\".")
    typ = payload.get("type", "text")
    if not isinstance(typ, str) or typ not in KNOWN_META_TYPES:
        raise invalid(f"Param type must be one of {{{', '.join(sorted(KNOWN_META_TYPES)).upper()}}} - got \"{typ}\".")
    if typ not in EMULATED_TYPES:
        raise invalid(f"Message type \"{typ}\" is not emulated (the emulator takes text, interactive and reaction).")
    extra = sorted(set(payload) - TOP_LEVEL - {typ})
    if extra:
        raise invalid(f"Unexpected key \"{extra[0]}\" on param message.")
    rtype = payload.get("recipient_type", "individual")
    if rtype != "individual":
        raise invalid(f"Param recipient_type must be \"individual\" here (groups are not emulated) - got \"{rtype}\".")
    to, recipient = payload.get("to"), payload.get("recipient")
    if to is None and recipient is None:
        raise required("to")
    if to is not None and recipient is not None:
        raise invalid("Only one of the parameters to and recipient may be given.")
    digits = None
    if to is not None:
        if not isinstance(to, str) or not WA_PHONE.match(to):
            raise GraphError(100, f"Invalid parameter to: \"{to}\" is not a phone number.")
        digits = re.sub(r"\D", "", to)
        if not 7 <= len(digits) <= 15:
            raise GraphError(100, f"Invalid parameter to: \"{to}\" is not a phone number.")
    if recipient is not None and (not isinstance(recipient, str) or not BSUID.match(recipient)):
        raise invalid(f"Param recipient \"{recipient}\" is not a business-scoped user ID.")
    ctx = None
    if "context" in payload:
        c = _obj(payload["context"], ["context"], {"message_id"}, need=("message_id",))
        ctx = _str(c["message_id"], ["context", "message_id"])
    tracker = payload.get("biz_opaque_callback_data")
    if tracker is not None:
        _length(_str(tracker, ["biz_opaque_callback_data"]), [], 1, MAX_TRACKER, "biz_opaque_callback_data", len)
    if typ not in payload:
        raise required(typ)
    body = payload[typ]
    if typ == "text":
        _text(body, n)
    elif typ == "interactive":
        _interactive(body, n, list_body_max)
    else:
        _reaction(body)
    return Outgoing(typ, digits, recipient, body, ctx, tracker)


def _text(body: Any, n: Callable[[str], int]) -> None:
    t = _obj(body, ["text"], {"body", "preview_url"})
    if "body" not in t or t["body"] in (None, ""):
        raise required("text['body']")
    text = _str(t["body"], ["text", "body"])
    if not text.strip():
        raise invalid("Param text['body'] is empty or only whitespace.")
    if n(text) > MAX_TEXT_BODY:
        raise invalid(f"Param text['body'] must be at most {MAX_TEXT_BODY} characters long.",
                      message=f"(#100) Param text['body'] must be at most {MAX_TEXT_BODY} characters long.")
    if "preview_url" in t and not isinstance(t["preview_url"], bool):
        raise invalid("Param text['preview_url'] must be a boolean.")


def _text_part(value: Any, path: list[str | int], hi: int, what: str, n: Callable[[str], int]) -> str:
    part = _obj(value, path, {"text"}, need=("text",))
    text = _str(part["text"], [*path, "text"])
    if path[-1] == "body" and text and not text.strip():
        raise invalid(f"Param {_param([*path, 'text'])} is only whitespace.")
    return _length(text, path, 1, hi, what, n)


def _interactive(body: Any, n: Callable[[str], int], list_body_max: int) -> None:
    i = _obj(body, ["interactive"], {"type", "header", "body", "footer", "action"}, need=("type", "action"))
    kind = i["type"]
    if kind not in ("button", "list"):
        raise invalid(f"Param interactive['type'] \"{kind}\" is not emulated (the emulator takes button and list).")
    if "body" not in i:
        raise required("interactive['body']")
    _text_part(i["body"], ["interactive", "body"], MAX_INTERACTIVE_BODY if kind == "button" else list_body_max,
               "Body text", n)
    if "header" in i:
        h = _obj(i["header"], ["interactive", "header"], {"type", "text", "image", "video", "document"},
                 need=("type",))
        if h["type"] != "text":
            raise invalid(f"Header type \"{h['type']}\" is not emulated (only text headers).")
        if set(h) - {"type", "text"}:
            raise invalid(f"Unexpected key \"{sorted(set(h) - {'type', 'text'})[0]}\" on param interactive['header'].")
        if "text" not in h:
            raise required("interactive['header']['text']")
        _length(_str(h["text"], ["interactive", "header", "text"]), [], 1, MAX_HEADER_TEXT, "Header text", n)
    if "footer" in i:
        _text_part(i["footer"], ["interactive", "footer"], MAX_FOOTER_TEXT, "Footer text", n)
    if kind == "button":
        _buttons(i["action"], n)
    else:
        _list(i["action"], n)


def _buttons(action: Any, n: Callable[[str], int]) -> None:
    a = _obj(action, ["interactive", "action"], {"buttons"}, need=("buttons",))
    buttons = a["buttons"]
    if not isinstance(buttons, list):
        raise invalid("Param interactive['action']['buttons'] must be an array.")
    if not 1 <= len(buttons) <= MAX_BUTTONS:
        raise not_valid(f"Buttons count invalid. Min count: 1, Max count: {MAX_BUTTONS}")
    ids: set[str] = set()
    titles: set[str] = set()
    for k, b in enumerate(buttons):
        path: list[str | int] = ["interactive", "action", "buttons", k]
        b = _obj(b, path, {"type", "reply"}, need=("type", "reply"))
        if b["type"] != "reply":
            raise invalid(f"Param {_param([*path, 'type'])} must be \"reply\" - got \"{b['type']}\".")
        r = _obj(b["reply"], [*path, "reply"], {"id", "title"}, need=("id", "title"))
        bid = _length(_str(r["id"], [*path, "reply", "id"]), [], 1, MAX_BUTTON_ID, "Button id", n)
        if bid != bid.strip():
            raise not_valid("Button id must not have leading or trailing whitespace.")
        title = _length(_str(r["title"], [*path, "reply", "title"]), [], 1, MAX_BUTTON_TITLE, "Button title", n)
        if bid in ids:
            raise not_valid(f"Duplicate button id: {bid}")
        if title in titles:
            raise not_valid(f"Duplicate button title: {title}")
        ids.add(bid)
        titles.add(title)


def _list(action: Any, n: Callable[[str], int]) -> None:
    a = _obj(action, ["interactive", "action"], {"button", "sections"}, need=("button", "sections"))
    _length(_str(a["button"], ["interactive", "action", "button"]), [], 1, MAX_LIST_BUTTON, "Button text", n)
    sections = a["sections"]
    if not isinstance(sections, list):
        raise invalid("Param interactive['action']['sections'] must be an array.")
    if not 1 <= len(sections) <= MAX_SECTIONS:
        raise not_valid(f"Sections count invalid. Min count: 1, Max count: {MAX_SECTIONS}")
    ids: set[str] = set()
    total = 0
    for k, s in enumerate(sections):
        path: list[str | int] = ["interactive", "action", "sections", k]
        s = _obj(s, path, {"title", "rows"}, need=("rows",))
        if "title" in s:
            _length(_str(s["title"], [*path, "title"]), [], 1, MAX_SECTION_TITLE, "Section title", n)
        elif len(sections) > 1:
            raise not_valid("Section title is required when a list has more than one section.")
        rows = s["rows"]
        if not isinstance(rows, list):
            raise invalid(f"Param {_param([*path, 'rows'])} must be an array.")
        if not rows:
            raise not_valid("Rows count invalid. Min count: 1 in every section")
        total += len(rows)
        for j, r in enumerate(rows):
            rpath = [*path, "rows", j]
            r = _obj(r, rpath, {"id", "title", "description"}, need=("id", "title"))
            rid = _length(_str(r["id"], [*rpath, "id"]), [], 1, MAX_ROW_ID, "Row id", n)
            _length(_str(r["title"], [*rpath, "title"]), [], 1, MAX_ROW_TITLE, "Row title", n)
            if "description" in r:
                _length(_str(r["description"], [*rpath, "description"]), [], 0, MAX_ROW_DESCRIPTION,
                        "Row description", n)
            if rid in ids:
                raise not_valid(f"Duplicate row id: {rid}")
            ids.add(rid)
    if total > MAX_ROWS_TOTAL:
        raise not_valid(f"Total row count exceed max allowed count: {MAX_ROWS_TOTAL}")


_EMOJI_BAD = re.compile(r"[A-Za-z0-9\s]")


def _reaction(body: Any) -> None:
    r = _obj(body, ["reaction"], {"message_id", "emoji"}, need=("message_id", "emoji"))
    _str(r["message_id"], ["reaction", "message_id"])
    emoji = _str(r["emoji"], ["reaction", "emoji"])
    if emoji and (_EMOJI_BAD.search(emoji) or len(emoji) > 10):
        raise not_valid(f"Reaction emoji \"{emoji}\" is not an emoji.")


@dataclass
class ReadReceipt:
    message_id: str
    typing: bool


def validate_read(payload: dict[str, Any]) -> ReadReceipt:
    """``{"messaging_product": "whatsapp", "status": "read", "message_id": ..., "typing_indicator"?}``"""
    product = payload.get("messaging_product")
    if product is None:
        raise required("messaging_product")
    if product != "whatsapp":
        raise GraphError(100, f"Param messaging_product must be one of {{WHATSAPP}} - got \"{product}\".",
                         message=f"(#100) Param messaging_product must be one of {{WHATSAPP}} - got \"{product}\".")
    _obj(payload, ["message"], {"messaging_product", "status", "message_id", "typing_indicator"},
         need=("message_id",))
    if payload["status"] != "read":
        raise invalid(f"Param status must be one of {{READ}} - got \"{payload['status']}\".")
    mid = _str(payload["message_id"], ["message_id"])
    typing = False
    if "typing_indicator" in payload:
        t = _obj(payload["typing_indicator"], ["typing_indicator"], {"type"}, need=("type",))
        if t["type"] != "text":
            raise invalid(f"Param typing_indicator['type'] must be one of {{TEXT}} - got \"{t['type']}\".")
        typing = True
    return ReadReceipt(mid, typing)
