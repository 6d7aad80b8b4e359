"""A small, strict emulator of the Telegram Bot API on 127.0.0.1, for tests and benchmarks.

It serves ``/bot<token>/<method>`` (GET query strings, form-encoded, multipart and JSON bodies,
the way python-telegram-bot sends them) for the methods the Rashut bot uses, and validates
requests the way Telegram does, so a bot that passes here does not fail on the real service for
the usual reasons: unknown token (401), text over 4096 characters after entity parsing, empty
text, callback data over 64 bytes, malformed HTML in ``parse_mode=HTML``, replies to messages or
chats that do not exist, edits that change nothing, callback and inline queries answered twice
or never received, invalid inline results.

Deliberate differences from Telegram (each one makes the emulator *stricter* or simpler):

* A bare ``&`` that does not start an entity (``&amp;``, ``&lt;``, ``&gt;``, ``&quot;``,
  ``&#NN;``, ``&#xHH;``) is rejected, also inside attribute values. Telegram keeps it as a literal
  character, but it always means a dynamic string was not escaped.
* Only ``parse_mode=HTML`` (or none) is accepted: the bot's contract is HTML.
* ``setWebhook`` accepts plain ``http://`` URLs, but only on 127.0.0.1 / localhost; any other
  host is refused, so a test can never send anything off the machine.
* A webhook delivery that gets a connection error or a 5xx is retried (the bot's server may not
  be listening yet: python-telegram-bot calls setWebhook before it serves); one that gets a 4xx
  is recorded and dropped instead of retried forever.
* ``logOut`` and ``close`` are refused (400): a bot under test has no business calling them.
* Lengths are counted in code points of the visible text (tags removed, entities decoded,
  surrounding whitespace trimmed).

Test control, as plain methods (thread-safe, callable from any thread or event loop):
``push_update(dict) -> update_id``, builders (``private_message``, ``group_message``,
``callback_query``, ``inline_query`` and ``push_*`` shortcuts), ``calls(method)``,
``await wait_for(method, predicate, timeout)``, ``deliveries()``, ``fail_send_message(n)``,
``reset()``. The same is available over HTTP under ``/_test/`` (used by the benchmark, which runs
the emulator in its own process: ``python -m tests.botapi.server``). All times are
``time.monotonic()`` seconds, which on Linux is one clock for every process on the machine.

Run it in the current event loop (``await emu.start()`` / ``await emu.stop()``) or in a thread
of its own (``with BotApiEmulator().running() as emu: ...``).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

DEFAULT_TOKEN = "123456:TEST-TOKEN-abcdefghijklmnopqrstuvwxyz012345"
DEFAULT_USERNAME = "RashutTestBot"
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
MAX_CALLBACK_ANSWER = 200
MAX_INLINE_RESULTS = 50
MAX_BUTTONS = 100
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
CHAT_ACTIONS = {"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
                "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note"}
INLINE_RESULT_TYPES = {"article", "photo", "gif", "mpeg4_gif", "video", "audio", "voice", "document",
                       "location", "venue", "contact", "game", "sticker", "cached_photo"}
BUTTON_ACTIONS = ("callback_data", "url", "switch_inline_query", "switch_inline_query_current_chat",
                  "switch_inline_query_chosen_chat", "login_url", "web_app", "pay", "callback_game", "copy_text")

# How form-encoded values are typed (PTB JSON-encodes every non-string value into a form field).
JSON_PARAMS = {"reply_markup", "results", "commands", "scope", "entities", "caption_entities", "allowed_updates",
               "link_preview_options", "reply_parameters", "button", "menu_button"}
INT_PARAMS = {"message_id", "offset", "limit", "timeout", "cache_time", "message_thread_id", "reply_to_message_id",
              "max_connections", "user_id"}
BOOL_PARAMS = {"disable_notification", "protect_content", "show_alert", "is_personal", "drop_pending_updates",
               "allow_sending_without_reply", "disable_web_page_preview", "allow_paid_broadcast"}


# ====================================================================== errors
class ApiError(Exception):
    """A Bot API error answer: HTTP status == error_code, as Telegram does."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            out["parameters"] = self.parameters
        return out


def bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


class EntityParseError(ValueError):
    pass


# ====================================================================== HTML, as Telegram parses it
ALLOWED_TAGS = {"a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "code",
                "pre", "blockquote", "tg-emoji"}
ENTITY_TYPES = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
                "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "span": "spoiler",
                "tg-spoiler": "spoiler", "code": "code", "pre": "pre", "blockquote": "blockquote",
                "tg-emoji": "custom_emoji", "a": "text_link"}
_HTML_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8}));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _decode_entity(m: re.Match[str]) -> str | None:
    if m.group(1):
        return _NAMED[m.group(1)]
    code = int(m.group(2)) if m.group(2) else int(m.group(3), 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def parse_html(source: str, *, strict_ampersand: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML parse mode: the visible text and its entities (UTF-16 offsets).

    Follows tdlib's ``parse_html`` (the error texts too); raises ``EntityParseError``.
    """
    s = source
    n = len(s)

    def boff(k: int) -> int:
        return len(s[:k].encode("utf-8"))

    out: list[str] = []
    pos16 = 0
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, str | None, int]] = []

    def entity_at(k: int) -> tuple[str, int]:
        m = _HTML_ENTITY.match(s, k)
        ch = _decode_entity(m) if m else None
        if m is None or ch is None:
            if strict_ampersand:
                raise EntityParseError(f"Character '&' at byte offset {boff(k)} does not begin an HTML entity "
                                       "(escape it as &amp;)")
            return "&", k + 1
        return ch, m.end()

    i = 0
    while i < n:
        c = s[i]
        if c == "&":
            ch, i = entity_at(i)
            out.append(ch)
            pos16 += utf16_len(ch)
            continue
        if c != "<":
            out.append(c)
            pos16 += 2 if ord(c) > 0xFFFF else 1
            i += 1
            continue
        begin = i
        i += 1
        if i < n and s[i] == "/":  # an end tag
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {boff(begin)}")
            j = i + 1
            while j < n and not s[j].isspace() and s[j] != ">":
                j += 1
            end_name = s[i + 1:j].lower()
            while j < n and s[j].isspace():
                j += 1
            if j >= n or s[j] != ">":
                raise EntityParseError(f"Unclosed end tag at byte offset {boff(begin)}")
            tag, arg, start = stack[-1]
            if end_name and end_name != tag:
                raise EntityParseError(f'Unmatched end tag at byte offset {boff(begin)}, expected "</{tag}>", '
                                       f'found "</{end_name}>"')
            stack.pop()
            if pos16 > start:
                entities.append(_entity(tag, arg, start, pos16 - start))
            i = j + 1
            continue
        # a start tag
        j = i
        while j < n and not s[j].isspace() and s[j] != ">":
            j += 1
        if j >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {boff(begin)}")
        name = s[i:j].lower()
        if name not in ALLOWED_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {boff(begin)}')
        attrs: dict[str, str] = {}
        i = j
        while True:
            while i < n and s[i].isspace():
                i += 1
            if i >= n:
                raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {boff(begin)}')
            if s[i] == ">":
                i += 1
                break
            a0 = i
            while i < n and not s[i].isspace() and s[i] not in "=>":
                i += 1
            attr = s[a0:i].lower()
            if not attr:
                raise EntityParseError(f'Empty attribute name in the tag "{name}" at byte offset {boff(begin)}')
            while i < n and s[i].isspace():
                i += 1
            if i >= n or s[i] != "=":
                if name == "blockquote" and attr == "expandable":
                    attrs[attr] = ""
                    continue
                raise EntityParseError(f'Expected equal sign in declaration of an attribute of the tag "{name}" '
                                       f"at byte offset {boff(begin)}")
            i += 1
            while i < n and s[i].isspace():
                i += 1
            if i >= n:
                raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {boff(begin)}')
            if s[i] in "\"'":
                quote = s[i]
                i += 1
                value: list[str] = []
                while i < n and s[i] != quote:
                    if s[i] == "&":
                        ch, i = entity_at(i)
                        value.append(ch)
                        continue
                    value.append(s[i])
                    i += 1
                if i >= n:
                    raise EntityParseError(f"Unclosed start tag at byte offset {boff(begin)}")
                i += 1
                attrs[attr] = "".join(value)
            else:
                v0 = i
                while i < n and (s[i].isalnum() or s[i] in ".-"):
                    i += 1
                if i < n and not s[i].isspace() and s[i] != ">":
                    raise EntityParseError(f"Unexpected end of name token at byte offset {boff(v0)}")
                attrs[attr] = s[v0:i].lower()
        arg: str | None = None
        if name == "a":
            arg = attrs.get("href", "")
        elif name == "span":
            if attrs.get("class") != "tg-spoiler":
                raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {boff(begin)}')
        elif name == "code":
            cls = attrs.get("class", "")
            arg = cls[len("language-"):] if cls.startswith("language-") else None
        elif name == "tg-emoji":
            arg = attrs.get("emoji-id", "")
            if not arg.isdigit():
                raise EntityParseError(f"Invalid custom emoji identifier specified at byte offset {boff(begin)}")
        elif name == "blockquote":
            arg = "expandable" if "expandable" in attrs else None
        stack.append((name, arg, pos16))
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _entity(tag: str, arg: str | None, offset: int, length: int) -> dict[str, Any]:
    kind = ENTITY_TYPES[tag]
    e: dict[str, Any] = {"type": kind, "offset": offset, "length": length}
    if tag == "a":
        if arg:
            e["url"] = arg
        else:
            e["type"] = "url"
    elif tag == "code" and arg:
        e = {"type": "pre", "offset": offset, "length": length, "language": arg}
    elif tag == "blockquote" and arg:
        e["type"] = "expandable_blockquote"
    elif tag == "tg-emoji":
        e["custom_emoji_id"] = arg
    return e


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram trims surrounding whitespace from a message; entities follow the text."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[:len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    out = []
    for e in entities:
        start = max(0, e["offset"] - lead)
        end = min(total, e["offset"] - lead + e["length"])
        if end > start:
            out.append({**e, "offset": start, "length": end - start})
    return stripped, out


def formatted_text(text: Any, parse_mode: Any, entities: Any = None, *, strict_ampersand: bool = True,
                   empty_error: str = "message text is empty", long_error: str = "message is too long",
                   limit: int = MAX_TEXT) -> tuple[str, list[dict[str, Any]]]:
    """Validate a message text as Telegram does; the visible text and entities, or an ApiError."""
    if text is None or text == "":
        raise bad(empty_error)
    if not isinstance(text, str):
        text = str(text)
    if parse_mode in (None, ""):
        visible = text
        ents = list(entities) if isinstance(entities, list) else []
    elif isinstance(parse_mode, str) and parse_mode.lower() == "html":
        try:
            visible, ents = parse_html(text, strict_ampersand=strict_ampersand)
        except EntityParseError as exc:
            raise bad(f"can't parse entities: {exc}") from None
    else:
        raise bad(f"unsupported parse_mode {parse_mode!r} (the emulator implements HTML only)")
    visible, ents = _trim(visible, ents)
    if not visible:
        raise bad(empty_error)
    if len(visible) > limit:
        raise bad(long_error)
    return visible, ents


def validate_reply_markup(markup: Any, *, inline_only: bool = False) -> dict[str, Any] | None:
    """Validate an (inline) keyboard the way Telegram rejects it; returns the markup."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad("can't parse inline keyboard markup: field \"inline_keyboard\" must be an Array of Arrays")
        if sum(len(r) for r in rows) > MAX_BUTTONS:
            raise bad("reply markup is too long")
        for row in rows:
            for button in row:
                if not isinstance(button, dict):
                    raise bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
                label = button.get("text")
                if not isinstance(label, str) or not label.strip():
                    raise bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
                actions = [a for a in BUTTON_ACTIONS if a in button]
                if len(actions) != 1:
                    raise bad("can't parse inline keyboard button: InlineKeyboardButton must have exactly one "
                              "optional field")
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
                        raise bad("BUTTON_DATA_INVALID")
                if "url" in button:
                    url = button["url"]
                    if not isinstance(url, str) or not re.match(r"^(https?|tg)://\S+$", url):
                        raise bad("BUTTON_URL_INVALID")
        return markup
    if inline_only:
        raise bad("inline keyboard expected")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad("can't parse keyboard markup: field \"keyboard\" must be an Array of Arrays")
        return markup
    if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
        return markup
    raise bad("can't parse reply keyboard markup JSON object")


# ====================================================================== records
@dataclass
class Call:
    """One Bot API request as the emulator saw it (the token itself is never recorded)."""

    seq: int
    method: str
    params: dict[str, Any]
    time: float  # time.monotonic() when the request arrived (calls are recorded once answered)
    status: int = 200
    ok: bool = True
    result: Any = None
    description: str | None = None
    authorized: bool = True
    done: float = 0.0  # time.monotonic() when the answer was ready
    abandoned: bool = False  # the client had closed the connection: nobody received this answer

    @property
    def text(self) -> str | None:
        return self.params.get("text")

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")

    def buttons(self) -> list[tuple[str, str | None]]:
        """(label, callback_data or url) of every inline button, row by row."""
        markup = self.params.get("reply_markup") or {}
        out = []
        for row in markup.get("inline_keyboard", []) if isinstance(markup, dict) else []:
            for b in row:
                out.append((b.get("text"), b.get("callback_data", b.get("url"))))
        return out

    def callback_data(self) -> list[str]:
        return [d for _, d in self.buttons() if d is not None]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Delivery:
    """One POST of an update to the webhook URL."""

    update_id: int | None
    url: str
    status: int | None  # None: no HTTP answer (connection refused, timeout)
    secret_sent: str | None
    time: float
    error: str | None = None
    raw: bool = False  # sent by ``deliver()`` (a test), not by the emulator's own delivery loop


@dataclass
class _Chat:
    chat: dict[str, Any]
    next_id: int = 1
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)


class _Default:
    pass


DEFAULT = _Default()


def _update_type(update: dict[str, Any]) -> str:
    return next((k for k in update if k != "update_id"), "")


# ====================================================================== the emulator
class BotApiEmulator:
    def __init__(self, token: str = DEFAULT_TOKEN, *, host: str = "127.0.0.1", port: int = 0,
                 bot_username: str = DEFAULT_USERNAME, bot_first_name: str = "Rashut (test)",
                 strict_ampersand: bool = True, extra_tokens: tuple[str, ...] = (),
                 webhook_max_attempts: int = 60) -> None:
        if host not in LOOPBACK:
            raise ValueError("the emulator listens on the loopback interface only")
        self.token = token
        self.tokens = {token, *extra_tokens}
        self.host = host
        self.port = port
        self.strict_ampersand = strict_ampersand
        self.webhook_max_attempts = webhook_max_attempts
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.bot_user: dict[str, Any] = {"id": bot_id, "is_bot": True, "first_name": bot_first_name,
                                         "username": bot_username}
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._next_update_id = 1
        self._waiters: set[asyncio.Event] = set()
        self._active_poll: object | None = None
        self._conflicts: dict[object, str] = {}
        self._deliverer: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._clear_state()

    def _clear_state(self) -> None:
        with self._lock:
            self._calls: list[Call] = []
            self._queue: list[dict[str, Any]] = []
            self._pushed: dict[int, dict[str, Any]] = {}
            self._pushed_at: dict[int, float] = {}
            self._fetched_at: dict[int, float] = {}
            self._chats: dict[int, _Chat] = {}
            self._callback_queries: dict[str, dict[str, Any]] = {}
            self._inline_queries: dict[str, dict[str, Any]] = {}
            self._webhook: dict[str, Any] = {}
            self._allowed_updates: list[str] | None = None
            self._commands: dict[str, list[dict[str, Any]]] = {}
            self._descriptions: dict[str, str] = {}
            self._deliveries: list[Delivery] = []
            self._send_failures = 0
            self._retry_after = 1

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        """What to pass to python-telegram-bot's ``base_url`` (it appends ``<token>/<method>``)."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> "BotApiEmulator":
        """Serve in the running event loop; picks a free port when ``port`` is 0."""
        self._loop = asyncio.get_running_loop()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/_test/{action}", self._control)
        app.router.add_route("*", "/{tail:.*}", self._api)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        sockets = site._server.sockets if site._server else ()  # noqa: SLF001 - the bound port
        self.port = sockets[0].getsockname()[1]
        self._session = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        await self._stop_deliverer()
        for ev in list(self._waiters):
            ev.set()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start_in_thread(self, timeout: float = 15.0) -> "BotApiEmulator":
        """Serve from a daemon thread with its own event loop (for sync fixtures and subprocess bots)."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop())
                loop.close()

        self._thread = threading.Thread(target=run, name="botapi-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("the Bot API emulator did not start")
        if failure:
            raise failure[0]
        return self

    def stop_thread(self, timeout: float = 15.0) -> None:
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._thread = None

    @contextlib.contextmanager
    def running(self) -> Iterator["BotApiEmulator"]:
        self.start_in_thread()
        try:
            yield self
        finally:
            self.stop_thread()

    def _wake(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        for ev in list(self._waiters):
            loop.call_soon_threadsafe(ev.set)

    # ------------------------------------------------------------------ test control
    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update (getUpdates / webhook). Assigns an increasing update_id if missing."""
        update = self._register(update)
        with self._lock:
            self._queue.append(update)
            self._pushed[update["update_id"]] = update
            self._pushed_at[update["update_id"]] = time.monotonic()
        self._wake()
        return update["update_id"]

    def push_updates(self, updates: list[dict[str, Any]]) -> list[int]:
        with self._lock:
            registered = [self._register(u) for u in updates]
            now = time.monotonic()
            for u in registered:
                self._queue.append(u)
                self._pushed[u["update_id"]] = u
                self._pushed_at[u["update_id"]] = now
        self._wake()
        return [u["update_id"] for u in registered]

    def _register(self, update: dict[str, Any]) -> dict[str, Any]:
        """Give the update an id, and make its chat, message and query known (as Telegram knows them)."""
        update = json.loads(json.dumps(update))  # a private copy, JSON-clean
        with self._lock:
            uid = update.get("update_id")
            if uid is None:
                uid = self._next_update_id
            elif uid < self._next_update_id:
                raise ValueError(f"update_id {uid} is not greater than the last one ({self._next_update_id - 1})")
            update.pop("update_id", None)
            update = {"update_id": uid, **update}
            self._next_update_id = uid + 1
            for key in ("message", "edited_message", "channel_post"):
                msg = update.get(key)
                if isinstance(msg, dict):
                    self._store_incoming(msg)
            cq = update.get("callback_query")
            if isinstance(cq, dict):
                cq.setdefault("id", str(next(self._query_ids)) + "0" * 6)
                cq.setdefault("chat_instance", "1")
                self._callback_queries[cq["id"]] = {"answered": False, "time": time.monotonic()}
            iq = update.get("inline_query")
            if isinstance(iq, dict):
                iq.setdefault("id", str(next(self._query_ids)) + "1" * 6)
                iq.setdefault("offset", "")
                self._inline_queries[iq["id"]] = {"answered": False, "time": time.monotonic()}
        return update

    def _store_incoming(self, msg: dict[str, Any]) -> None:
        chat = self._chat(msg["chat"])
        if "message_id" not in msg:
            msg["message_id"] = chat.next_id
        chat.next_id = max(chat.next_id, msg["message_id"] + 1)
        msg.setdefault("date", int(time.time()))
        if "text" in msg and "entities" not in msg:
            ents = self.auto_entities(msg["text"])
            if ents:
                msg["entities"] = ents
        reply = msg.get("reply_to_message")
        if isinstance(reply, int):
            found = chat.messages.get(reply)
            if found is None:
                raise ValueError(f"no message {reply} in chat {chat.chat['id']} to reply to")
            msg["reply_to_message"] = {k: v for k, v in found.items() if k != "reply_to_message"}
        chat.messages[msg["message_id"]] = msg

    def _chat(self, chat: dict[str, Any]) -> _Chat:
        known = self._chats.get(chat["id"])
        if known is None:
            known = self._chats[chat["id"]] = _Chat(dict(chat))
        return known

    @staticmethod
    def auto_entities(text: str) -> list[dict[str, Any]]:
        """The entities Telegram adds to a user's plain text: bot commands and @mentions."""
        ents = []
        for m in re.finditer(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?=\s|$)", text):
            ents.append({"type": "bot_command", "offset": utf16_len(text[:m.start()]), "length": utf16_len(m.group())})
        for m in re.finditer(r"(?<![\w@/])@[A-Za-z0-9_]{4,32}\b", text):
            ents.append({"type": "mention", "offset": utf16_len(text[:m.start()]), "length": utf16_len(m.group())})
        return sorted(ents, key=lambda e: e["offset"])

    # builders ---------------------------------------------------------
    @staticmethod
    def user(user_id: int, first_name: str | None = None, username: str | None = None,
             language_code: str = "he") -> dict[str, Any]:
        u: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name or f"User{user_id}",
                             "language_code": language_code}
        if username:
            u["username"] = username
        return u

    def private_message(self, user_id: int, text: str, *, first_name: str | None = None,
                        reply_to: int | dict[str, Any] | None = None) -> dict[str, Any]:
        """An update with a private text message from ``user_id`` (chat id == user id)."""
        user = self.user(user_id, first_name)
        chat = {"id": user_id, "type": "private", "first_name": user["first_name"]}
        msg: dict[str, Any] = {"from": user, "chat": chat, "date": int(time.time()), "text": text}
        if reply_to is not None:
            msg["reply_to_message"] = reply_to if isinstance(reply_to, int) else reply_to["message_id"]
        return {"message": msg}

    def group_message(self, chat_id: int, user_id: int, text: str, *, mention: bool = False,
                      reply_to: int | dict[str, Any] | None = None, title: str = "צוות הרשות") -> dict[str, Any]:
        """An update with a group text; ``mention`` prefixes ``@<bot username>``; ``reply_to`` a message
        (dict or id) in that chat, e.g. a message the bot sent (``call.result``)."""
        if mention:
            text = f"@{self.bot_user['username']} {text}"
        chat = {"id": chat_id, "type": "supergroup" if str(chat_id).startswith("-100") else "group", "title": title}
        msg: dict[str, Any] = {"from": self.user(user_id), "chat": chat, "date": int(time.time()), "text": text}
        if reply_to is not None:
            msg["reply_to_message"] = reply_to if isinstance(reply_to, int) else reply_to["message_id"]
        return {"message": msg}

    def callback_query(self, user_id: int, message: dict[str, Any], data: str) -> dict[str, Any]:
        """An update for pressing the button with ``data`` under ``message`` (a Message the bot sent).

        Like Telegram, only data that is really on one of the message's buttons can be pressed."""
        with self._lock:
            chat = self._chats.get(message["chat"]["id"])
            current = chat.messages.get(message["message_id"]) if chat else None
        current = current or message
        datas = [b.get("callback_data") for row in (current.get("reply_markup") or {}).get("inline_keyboard", [])
                 for b in row]
        if data not in datas:
            raise ValueError(f"message {message['message_id']} has no button with callback data {data!r}: {datas}")
        return {"callback_query": {"id": f"{next(self._query_ids)}{user_id}", "from": self.user(user_id),
                                   "message": current, "chat_instance": str(abs(message["chat"]["id"])),
                                   "data": data}}

    def inline_query(self, user_id: int, query: str, *, chat_type: str = "private") -> dict[str, Any]:
        return {"inline_query": {"id": f"{next(self._query_ids)}{user_id}", "from": self.user(user_id),
                                 "query": query, "offset": "", "chat_type": chat_type}}

    def push_private_text(self, user_id: int, text: str, **kw: Any) -> int:
        return self.push_update(self.private_message(user_id, text, **kw))

    def push_group_text(self, chat_id: int, user_id: int, text: str, **kw: Any) -> int:
        return self.push_update(self.group_message(chat_id, user_id, text, **kw))

    def push_callback(self, user_id: int, message: dict[str, Any], data: str) -> int:
        return self.push_update(self.callback_query(user_id, message, data))

    def push_inline_query(self, user_id: int, query: str, **kw: Any) -> int:
        return self.push_update(self.inline_query(user_id, query, **kw))

    # inspection -------------------------------------------------------
    def mark(self) -> int:
        """The sequence number the next call will get: pass it as ``since`` to look only forward."""
        with self._lock:
            return len(self._calls)

    def calls(self, method: str | None = None, *, since: int = 0, ok: bool | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls[since:] if (method is None or c.method == method)
                    and (ok is None or c.ok == ok)]

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        with self._lock:
            chat = self._chats.get(chat_id)
            return chat.messages.get(message_id) if chat else None

    def pushed(self, update_id: int) -> dict[str, Any]:
        """The update as it was queued (with the ids the emulator gave it)."""
        with self._lock:
            return self._pushed[update_id]

    def pending_updates(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._queue)

    def update_times(self) -> dict[int, dict[str, Any]]:
        """update_id -> {"pushed": t, "fetched": t or None (getUpdates first returned it), "chat_id",
        "text"} (the last two for message updates)."""
        with self._lock:
            out: dict[int, dict[str, Any]] = {}
            for uid, t in self._pushed_at.items():
                msg = self._pushed.get(uid, {}).get("message") or {}
                out[uid] = {"pushed": t, "fetched": self._fetched_at.get(uid),
                            "chat_id": (msg.get("chat") or {}).get("id"), "text": msg.get("text")}
            return out

    async def push_paced(self, updates: list[dict[str, Any]], rate: float) -> list[int]:
        """Push ``updates`` at ``rate`` per second (open loop, from the emulator's own clock)."""
        start = time.monotonic()
        ids = []
        for i, u in enumerate(updates):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            ids.append(self.push_update(u))
        return ids

    @property
    def webhook(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._webhook)

    def commands(self) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            return {k: list(v) for k, v in self._commands.items()}

    async def wait_for(self, method: str, predicate: Callable[[Call], bool] | None = None, timeout: float = 15.0,
                       *, since: int = 0, ok: bool | None = True) -> Call:
        """The first call of ``method`` (from ``since`` on, successful by default) matching ``predicate``.

        Works from any event loop or thread; raises TimeoutError listing what did arrive."""
        deadline = time.monotonic() + timeout
        while True:
            for c in self.calls(method, since=since, ok=ok):
                if predicate is None or predicate(c):
                    return c
            if time.monotonic() >= deadline:
                seen = [(c.method, c.status, (c.description or str(c.params.get("text", "")))[:80])
                        for c in self.calls(since=since) if c.method != "getUpdates"]
                raise TimeoutError(f"no matching {method} within {timeout}s; calls since {since}: {seen}")
            await asyncio.sleep(0.01)

    async def wait_for_delivery(self, predicate: Callable[[Delivery], bool], timeout: float = 15.0) -> Delivery:
        deadline = time.monotonic() + timeout
        while True:
            for d in self.deliveries():
                if predicate(d):
                    return d
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no matching webhook delivery within {timeout}s: {self.deliveries()}")
            await asyncio.sleep(0.01)

    # faults -----------------------------------------------------------
    def fail_send_message(self, count: int, retry_after: int = 1) -> None:
        """Answer the next ``count`` sendMessage calls with 429 Too Many Requests (retry_after)."""
        with self._lock:
            self._send_failures = count
            self._retry_after = retry_after

    def reset(self, *, full: bool = False) -> None:
        """Forget recorded calls and deliveries and fault modes; ``full`` also drops queued updates,
        chats, queries, the webhook and commands. Ids keep increasing either way (a running bot
        remembers its getUpdates offset)."""
        if full:
            self._clear_state()
            return
        with self._lock:
            self._calls = []
            self._deliveries = []
            self._send_failures = 0

    # webhook delivery -------------------------------------------------
    async def deliver(self, update: dict[str, Any], *, secret_token: str | None | _Default = DEFAULT,
                      url: str | None = None, timeout: float = 15.0) -> int | None:
        """POST one update to the webhook (or ``url``) right now, as Telegram would, with the
        registered secret unless ``secret_token`` overrides it (None: no header). The update is
        registered (ids, chats) but not queued. Returns the HTTP status (None: no answer)."""
        update = self._register(update)
        with self._lock:
            self._pushed.setdefault(update["update_id"], update)
        return await self.redeliver(update["update_id"], secret_token=secret_token, url=url, timeout=timeout)

    async def redeliver(self, update_id: int, *, secret_token: str | None | _Default = DEFAULT,
                        url: str | None = None, timeout: float = 15.0) -> int | None:
        """POST an update the emulator already knows (same id, same JSON) again, to the webhook or
        ``url``: Telegram's retry, or a load balancer sending it to another replica."""
        with self._lock:
            update = self._pushed[update_id]
            target = url or self._webhook.get("url")
            secret = self._webhook.get("secret_token") if isinstance(secret_token, _Default) else secret_token
        if not target:
            raise RuntimeError("no webhook is set and no url was given")
        self._check_loopback(target)
        async with aiohttp.ClientSession() as session:
            return await self._post_update(session, target, secret, update, timeout=timeout, raw=True)

    async def _post_update(self, session: aiohttp.ClientSession, url: str, secret: str | None,
                           update: dict[str, Any], *, timeout: float, raw: bool) -> int | None:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        status: int | None = None
        error = None
        try:
            async with session.post(url, data=json.dumps(update, ensure_ascii=False).encode(), headers=headers,
                                    timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                status = resp.status
                await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._deliveries.append(Delivery(update.get("update_id"), url, status, secret, time.monotonic(),
                                             error, raw))
            if not raw and (status is None or status >= 300):
                self._webhook["last_error_date"] = int(time.time())
                self._webhook["last_error_message"] = error or f"Wrong response from the webhook: {status}"
        return status

    async def _delivery_loop(self) -> None:
        assert self._session is not None
        ev = asyncio.Event()
        self._waiters.add(ev)
        inflight: dict[int, asyncio.Task[None]] = {}
        try:
            while True:
                with self._lock:
                    hook = dict(self._webhook)
                    pending = [u for u in self._queue if u["update_id"] not in inflight]
                if not hook.get("url"):
                    return
                sem_free = hook.get("max_connections", 40) - len(inflight)
                for u in pending[:max(0, sem_free)]:
                    inflight[u["update_id"]] = asyncio.create_task(self._deliver_one(u, hook, ev))
                for uid in [k for k, t in inflight.items() if t.done()]:
                    del inflight[uid]
                ev.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(ev.wait(), 0.5)
        finally:
            self._waiters.discard(ev)
            for t in inflight.values():
                t.cancel()

    async def _deliver_one(self, update: dict[str, Any], hook: dict[str, Any], ev: asyncio.Event) -> None:
        assert self._session is not None
        try:
            for attempt in range(self.webhook_max_attempts):
                status = await self._post_update(self._session, hook["url"], hook.get("secret_token"), update,
                                                 timeout=15.0, raw=False)
                if status is not None and status < 500:
                    break  # 2xx delivered; 3xx/4xx recorded and dropped (see the module docstring)
                await asyncio.sleep(min(1.0, 0.05 * 2 ** attempt))
            with self._lock:
                self._queue = [u for u in self._queue if u["update_id"] != update["update_id"]]
        finally:
            ev.set()

    async def _stop_deliverer(self) -> None:
        task, self._deliverer = self._deliverer, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    @staticmethod
    def _check_loopback(url: str) -> None:
        host = urlsplit(url).hostname
        if host not in LOOPBACK:
            raise bad("bad webhook: the emulator delivers only to 127.0.0.1")

    # ------------------------------------------------------------------ HTTP: the Bot API
    async def _api(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        path = request.path
        m = re.match(r"^/bot([^/]*)/([^/]*)$", path)
        if not m or not m.group(2):
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        token, method_raw = m.group(1), m.group(2)
        handler = self._methods().get(method_raw.lower())
        method = handler.__name__[2:] if handler else method_raw
        try:
            params = await self._read_params(request)
        except ApiError as exc:
            params, early = {}, exc
        else:
            early = None
        call = Call(-1, method, params, started)
        try:
            if token not in self.tokens:
                call.authorized = False
                raise ApiError(401, "Unauthorized")
            if handler is None:
                raise ApiError(404, "Not Found")
            if early is not None:
                raise early
            result = await handler(params)
            body: dict[str, Any] = {"ok": True, "result": result}
            call.result = result
        except ApiError as exc:
            call.status, call.ok, call.description = exc.code, False, exc.description
            body = exc.body()
        except Exception as exc:  # noqa: BLE001 - a bug in the emulator must be visible, not a hang
            call.status, call.ok, call.description = 500, False, f"emulator error: {exc!r}"
            body = {"ok": False, "error_code": 500, "description": call.description}
        transport = request.transport
        call.abandoned = transport is None or transport.is_closing()
        with self._lock:  # recorded once answered, so a recorded call is always complete
            call.done = time.monotonic()
            call.seq = len(self._calls)
            self._calls.append(call)
        return web.json_response(body, status=call.status, dumps=lambda o: json.dumps(o, ensure_ascii=False))

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        raw: dict[str, Any] = dict(request.query)
        typed: dict[str, Any] = {}
        if request.method == "POST" and request.body_exists:
            ctype = request.content_type
            if ctype == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise bad("can't parse JSON encoded request body") from None
                if not isinstance(body, dict):
                    raise bad("JSON body must be an object")
                typed.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for k, v in form.items():
                    raw[k] = v if isinstance(v, str) else {"file": getattr(v, "filename", None)}
        params: dict[str, Any] = {}
        for k, v in raw.items():
            params[k] = self._coerce(k, v)
        params.update(typed)
        return params

    @staticmethod
    def _coerce(key: str, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if key in JSON_PARAMS:
            try:
                return json.loads(value)
            except ValueError:
                raise bad(f"can't parse {key} JSON object") from None
        if key in INT_PARAMS or key == "chat_id":
            try:
                return int(value)
            except ValueError:
                if key == "chat_id":
                    return value
                raise bad(f"wrong parameter {key} in request") from None
        if key in BOOL_PARAMS:
            return value.lower() in ("true", "1")
        return value

    def _methods(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        table = self.__dict__.get("_method_table")
        if table is None:
            table = self._method_table = {name[2:].lower(): getattr(self, name) for name in dir(type(self))
                                          if name.startswith("m_")}
        return table

    # ------------------------------------------------------------------ HTTP: test control
    async def _control(self, request: web.Request) -> web.Response:
        action = request.match_info["action"]
        q = request.query
        body = await request.json() if request.body_exists and request.content_type == "application/json" else None
        if action == "push":
            updates = body if isinstance(body, list) else (body or {}).get("updates", [body])
            rate = None if isinstance(body, list) else (body or {}).get("rate")
            if rate:  # paced by the emulator; answers at once, the pushes follow
                task = asyncio.create_task(self.push_paced(updates, float(rate)))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
                return web.json_response({"scheduled": len(updates)})
            ids = self.push_updates(updates)
            return web.json_response({"update_ids": ids})
        if action == "count":
            with self._lock:
                n = sum(1 for c in self._calls if c.method == q.get("method", "sendMessage") and c.ok
                        and c.seq >= int(q.get("since", 0)))
                total = len(self._calls)
            return web.json_response({"count": n, "calls": total})
        if action == "calls":
            calls = self.calls(q.get("method"), since=int(q.get("since", 0)))
            return web.json_response([c.to_json() for c in calls], dumps=lambda o: json.dumps(o, ensure_ascii=False))
        if action == "updates":
            return web.json_response({str(k): v for k, v in self.update_times().items()})
        if action == "deliveries":
            return web.json_response([asdict(d) for d in self.deliveries()])
        if action == "reset":
            self.reset(full=q.get("full") in ("1", "true"))
            return web.json_response({"ok": True})
        if action == "fail_send_message":
            self.fail_send_message(int(q.get("count", 1)), int(q.get("retry_after", 1)))
            return web.json_response({"ok": True})
        if action == "info":
            return web.json_response({"base_url": self.base_url, "bot": self.bot_user, "webhook": self.webhook,
                                      "pending": len(self.pending_updates())})
        return web.json_response({"error": f"unknown control action {action}"}, status=404)

    # ------------------------------------------------------------------ methods
    def _known_chat(self, params: dict[str, Any]) -> _Chat:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise bad("chat_id is empty")
        with self._lock:
            if isinstance(chat_id, str):
                chat = next((c for c in self._chats.values() if c.chat.get("username")
                             and "@" + c.chat["username"] == chat_id), None)
            else:
                chat = self._chats.get(chat_id)
        if chat is None:
            raise bad("chat not found")
        return chat

    def _text_and_markup(self, params: dict[str, Any]) -> tuple[str, list[dict[str, Any]], dict[str, Any] | None]:
        text, ents = formatted_text(params.get("text"), params.get("parse_mode"), params.get("entities"),
                                    strict_ampersand=self.strict_ampersand)
        markup = validate_reply_markup(params.get("reply_markup"))
        return text, ents, markup

    async def m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": True, "can_connect_to_business": False, "has_main_web_app": False}

    async def m_logOut(self, params: dict[str, Any]) -> Any:
        raise bad("logOut is refused by the test emulator")

    async def m_close(self, params: dict[str, Any]) -> Any:
        raise bad("close is refused by the test emulator")

    async def m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._lock:
            if self._webhook.get("url"):
                raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                    "use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        limit = min(100, max(1, int(params.get("limit") or 100)))
        timeout = max(0.0, float(params.get("timeout") or 0))
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            self._allowed_updates = list(allowed) if allowed else None
        me = object()
        previous, self._active_poll = self._active_poll, me
        if previous is not None:
            self._conflicts[previous] = ("Conflict: terminated by other getUpdates request; "
                                         "make sure that only one bot instance is running")
            self._wake()
        with self._lock:
            if offset > 0:
                self._queue = [u for u in self._queue if u["update_id"] >= offset]
            elif offset < 0:
                self._queue = self._queue[offset:]
        deadline = time.monotonic() + timeout
        ev = asyncio.Event()
        self._waiters.add(ev)
        try:
            while True:
                if me in self._conflicts:
                    raise ApiError(409, self._conflicts.pop(me))
                with self._lock:
                    allowed = self._allowed_updates
                    if allowed:
                        self._queue = [u for u in self._queue if _update_type(u) in allowed]
                    ready = self._queue[:limit]
                    if ready:
                        now = time.monotonic()
                        for u in ready:
                            self._fetched_at.setdefault(u["update_id"], now)
                remaining = deadline - time.monotonic()
                if ready or remaining <= 0:
                    return ready
                ev.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(ev.wait(), remaining)
        finally:
            self._waiters.discard(ev)
            if self._active_poll is me:
                self._active_poll = None
            self._conflicts.pop(me, None)

    async def m_setWebhook(self, params: dict[str, Any]) -> bool:
        url = params.get("url") or ""
        if not url:
            return await self.m_deleteWebhook(params)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise bad("bad webhook: An HTTPS URL must be provided for webhook")
        self._check_loopback(url)
        secret = params.get("secret_token")
        if secret is not None and not SECRET_RE.match(str(secret)):
            raise bad("bad webhook: secret token contains unallowed characters")
        max_conn = int(params.get("max_connections") or 40)
        if not 1 <= max_conn <= 100:
            raise bad("bad webhook: max_connections must be between 1 and 100")
        with self._lock:
            self._webhook = {"url": url, "secret_token": secret, "max_connections": max_conn,
                             "allowed_updates": params.get("allowed_updates")}
            if params.get("drop_pending_updates"):
                self._queue = []
            if params.get("allowed_updates"):
                self._allowed_updates = list(params["allowed_updates"])
        if self._active_poll is not None:
            self._conflicts[self._active_poll] = "Conflict: terminated by setWebhook request"
            self._wake()
        await self._stop_deliverer()
        self._deliverer = asyncio.create_task(self._delivery_loop())
        return True

    async def m_deleteWebhook(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self._webhook = {}
            if params.get("drop_pending_updates"):
                self._queue = []
        await self._stop_deliverer()
        return True

    async def m_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            hook = dict(self._webhook)
            pending = len(self._queue)
        info: dict[str, Any] = {"url": hook.get("url", ""), "has_custom_certificate": False,
                                "pending_update_count": pending}
        if hook.get("url"):
            info.update(max_connections=hook["max_connections"], ip_address="127.0.0.1")
            if hook.get("allowed_updates"):
                info["allowed_updates"] = hook["allowed_updates"]
            for k in ("last_error_date", "last_error_message"):
                if k in hook:
                    info[k] = hook[k]
        return info

    @staticmethod
    def _scope_key(params: dict[str, Any]) -> str:
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise bad("can't parse BotCommandScope JSON object")
        return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)

    async def m_setMyCommands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad("can't parse commands JSON array")
        for c in commands:
            if not isinstance(c, dict) or not COMMAND_RE.match(str(c.get("command", ""))):
                raise bad("BOT_COMMAND_INVALID")
            desc = c.get("description")
            if not isinstance(desc, str) or not 1 <= len(desc.strip()) <= 256:
                raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
        with self._lock:
            self._commands[self._scope_key(params)] = [{"command": c["command"], "description": c["description"]}
                                                       for c in commands]
        return True

    async def m_getMyCommands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._commands.get(self._scope_key(params), []))

    async def m_deleteMyCommands(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self._commands.pop(self._scope_key(params), None)
        return True

    async def m_setMyDescription(self, params: dict[str, Any]) -> bool:
        if len(params.get("description") or "") > 512:
            raise bad("description is too long")
        with self._lock:
            self._descriptions["description:" + (params.get("language_code") or "")] = params.get("description") or ""
        return True

    async def m_setMyShortDescription(self, params: dict[str, Any]) -> bool:
        if len(params.get("short_description") or "") > 120:
            raise bad("short description is too long")
        with self._lock:
            self._descriptions["short:" + (params.get("language_code") or "")] = params.get("short_description") or ""
        return True

    async def m_getMyDescription(self, params: dict[str, Any]) -> dict[str, str]:
        with self._lock:
            return {"description": self._descriptions.get("description:" + (params.get("language_code") or ""), "")}

    async def m_getMyShortDescription(self, params: dict[str, Any]) -> dict[str, str]:
        with self._lock:
            return {"short_description": self._descriptions.get("short:" + (params.get("language_code") or ""), "")}

    async def m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self._send_failures > 0:
                self._send_failures -= 1
                raise ApiError(429, f"Too Many Requests: retry after {self._retry_after}",
                               {"retry_after": self._retry_after})
        chat = self._known_chat(params)
        text, ents, markup = self._text_and_markup(params)
        reply_to = None
        rp = params.get("reply_parameters")
        if rp is not None and not isinstance(rp, dict):
            raise bad("can't parse reply parameters JSON object")
        reply_id = (rp or {}).get("message_id", params.get("reply_to_message_id"))
        allow_missing = (rp or {}).get("allow_sending_without_reply", params.get("allow_sending_without_reply"))
        if rp and rp.get("chat_id") not in (None, chat.chat["id"]):
            raise bad("replying to messages in other chats is not emulated")
        with self._lock:
            if reply_id is not None:
                reply_to = chat.messages.get(int(reply_id))
                if reply_to is None and not allow_missing:
                    raise bad("message to be replied not found")
            msg: dict[str, Any] = {"message_id": chat.next_id, "from": dict(self.bot_user), "chat": dict(chat.chat),
                                   "date": int(time.time()), "text": text}
            chat.next_id += 1
            if ents:
                msg["entities"] = ents
            if markup and "inline_keyboard" in markup:
                msg["reply_markup"] = markup
            if reply_to is not None:
                msg["reply_to_message"] = {k: v for k, v in reply_to.items() if k != "reply_to_message"}
            chat.messages[msg["message_id"]] = msg
            return json.loads(json.dumps(msg))

    def _editable(self, params: dict[str, Any]) -> tuple[_Chat, dict[str, Any]] | None:
        if params.get("inline_message_id"):
            return None
        chat = self._known_chat(params)
        mid = params.get("message_id")
        if mid is None:
            raise bad("message identifier is not specified")
        with self._lock:
            msg = chat.messages.get(int(mid))
        if msg is None:
            raise bad("message to edit not found")
        if msg.get("from", {}).get("id") != self.bot_user["id"]:
            raise bad("message can't be edited")
        return chat, msg

    async def m_editMessageText(self, params: dict[str, Any]) -> Any:
        target = self._editable(params)
        text, ents, markup = self._text_and_markup(params)
        if markup is not None:
            validate_reply_markup(markup, inline_only=True)
        if target is None:
            return True
        chat, msg = target
        with self._lock:
            if (msg.get("text") == text and msg.get("entities", []) == ents
                    and msg.get("reply_markup") == (markup or None)):
                raise bad("message is not modified: specified new message content and reply markup are exactly "
                          "the same as a current content and reply markup of the message")
            msg["text"] = text
            msg["edit_date"] = int(time.time())
            if ents:
                msg["entities"] = ents
            else:
                msg.pop("entities", None)
            if markup:
                msg["reply_markup"] = markup
            else:
                msg.pop("reply_markup", None)
            return json.loads(json.dumps(msg))

    async def m_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        target = self._editable(params)
        markup = validate_reply_markup(params.get("reply_markup"), inline_only=True)
        if target is None:
            return True
        chat, msg = target
        with self._lock:
            if msg.get("reply_markup") == (markup or None):
                raise bad("message is not modified: specified new message content and reply markup are exactly "
                          "the same as a current content and reply markup of the message")
            if markup:
                msg["reply_markup"] = markup
            else:
                msg.pop("reply_markup", None)
            msg["edit_date"] = int(time.time())
            return json.loads(json.dumps(msg))

    async def m_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        qid = str(params.get("callback_query_id") or "")
        text = params.get("text")
        if text is not None and len(str(text)) > MAX_CALLBACK_ANSWER:
            raise bad("MESSAGE_TOO_LONG")
        url = params.get("url")
        if url is not None and not re.match(r"^(https?|tg)://", str(url)):
            raise bad("URL_INVALID")
        with self._lock:
            q = self._callback_queries.get(qid)
            if q is None or q["answered"]:
                raise bad("query is too old and response timeout expired or query ID is invalid")
            q["answered"] = True
        return True

    async def m_answerInlineQuery(self, params: dict[str, Any]) -> bool:
        qid = str(params.get("inline_query_id") or "")
        results = params.get("results")
        if not isinstance(results, list):
            raise bad("can't parse inline query results JSON object")
        if len(results) > MAX_INLINE_RESULTS:
            raise bad("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for r in results:
            if not isinstance(r, dict) or r.get("type") not in INLINE_RESULT_TYPES:
                raise bad("RESULT_TYPE_INVALID")
            rid = r.get("id")
            if not isinstance(rid, str) or not 1 <= len(rid.encode("utf-8")) <= 64:
                raise bad("RESULT_ID_INVALID")
            if rid in seen:
                raise bad("RESULT_ID_DUPLICATE")
            seen.add(rid)
            if r["type"] == "article":
                if not isinstance(r.get("title"), str) or not r["title"].strip():
                    raise bad("RESULT_TITLE_EMPTY")
                content = r.get("input_message_content")
                if not isinstance(content, dict):
                    raise bad("can't parse InputMessageContent: field \"input_message_content\" must be an Object")
                if "message_text" in content:
                    formatted_text(content.get("message_text"), content.get("parse_mode"), content.get("entities"),
                                   strict_ampersand=self.strict_ampersand, empty_error="MESSAGE_EMPTY",
                                   long_error="MESSAGE_TOO_LONG")
                else:
                    raise bad("MESSAGE_EMPTY")
            if "reply_markup" in r:
                validate_reply_markup(r["reply_markup"], inline_only=True)
        button = params.get("button")
        if button is not None and (not isinstance(button, dict) or not button.get("text")):
            raise bad("can't parse InlineQueryResultsButton JSON object")
        with self._lock:
            q = self._inline_queries.get(qid)
            if q is None or q["answered"]:
                raise bad("query is too old and response timeout expired or query ID is invalid")
            q["answered"] = True
        return True

    async def m_sendChatAction(self, params: dict[str, Any]) -> bool:
        self._known_chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise bad("wrong parameter action in request")
        return True


# ====================================================================== standalone process
def main(argv: list[str] | None = None) -> int:
    """``python -m tests.botapi.server``: serve until SIGTERM/SIGINT; prints one JSON line
    ({"port", "base_url"}) on stdout once listening. Control it over HTTP under /_test/."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--token", default=DEFAULT_TOKEN)
    p.add_argument("--username", default=DEFAULT_USERNAME)
    args = p.parse_args(argv)

    async def serve() -> None:
        emu = await BotApiEmulator(args.token, port=args.port, bot_username=args.username).start()
        print(json.dumps({"port": emu.port, "base_url": emu.base_url}), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await emu.stop()

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
