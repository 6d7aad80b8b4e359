"""Telegram adapter test harness (imported by conftest.py and the tests), built the way
python-telegram-bot tests itself: a real ``Application`` from
our factory on a ``BaseRequest`` that records every Bot API call and answers with well-formed
JSON. No network: updates are fed with ``app.process_update(Update.de_json(...))``.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest
from telegram import Update
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

from bot.runtime import Runtime
from bot.service import AnswerService
from bot.settings import Settings
from bot.store import SqliteStore as Store
from handlers.telegram.channel import TelegramChannel
from knowledge.engine import Engine

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "987654321:AAH-secret-part-of-the-test-token-xyz"
BOT_ID = 987654321
BOT_USERNAME = "rashut_test_bot"
CURATOR_ID = 42
USER_ID = 1001
GROUP_ID = -1001234567890
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "רשות", "username": BOT_USERNAME,
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": True}


@dataclass
class Call:
    method: str
    params: dict[str, Any]


class RecordingRequest(BaseRequest):
    """Records ``(method, params)`` for every call and returns what the Bot API would."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._ids = itertools.count(5000)
        self.errors_next: dict[str, list[tuple[int, dict[str, Any]]]] = {}  # method -> (HTTP status, body)

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = None, write_timeout: Any = None, connect_timeout: Any = None,
                         pool_timeout: Any = None) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = json.loads(json.dumps(request_data.parameters)) if request_data else {}
        self.calls.append(Call(name, params))
        if self.errors_next.get(name):
            status, body = self.errors_next[name].pop(0)
            return status, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": self._result(name, params)}).encode()

    def _result(self, name: str, params: dict[str, Any]) -> Any:
        if name == "getMe":
            return BOT_USER
        if name in ("sendMessage", "editMessageText"):
            chat_id = int(params.get("chat_id", 0))
            msg: dict[str, Any] = {"message_id": next(self._ids), "date": int(time.time()), "from": BOT_USER,
                                   "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                                   "text": params.get("text", "")}
            if "reply_markup" in params:
                msg["reply_markup"] = params["reply_markup"]
            return msg
        if name == "getUpdates":
            return []
        return True

    # ------------------------------------------------------------------ reading the record
    def of(self, method: str) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == method]

    def sent(self) -> list[dict[str, Any]]:
        return self.of("sendMessage")

    def texts(self) -> list[str]:
        return [p["text"] for p in self.sent()]

    def outgoing(self) -> list[Call]:
        """Every call except the start-up getMe."""
        return [c for c in self.calls if c.method != "getMe"]

    def clear(self) -> None:
        self.calls.clear()


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def entities_for(text: str) -> list[dict[str, Any]]:
    """What Telegram would attach: a bot_command at offset 0, and @mentions (UTF-16 offsets)."""
    out: list[dict[str, Any]] = []
    if text.startswith("/"):
        word = text.split()[0]
        out.append({"type": "bot_command", "offset": 0, "length": utf16_len(word)})
    start = 0
    while (i := text.find("@", start)) != -1:
        j = i + 1
        while j < len(text) and (text[j].isalnum() or text[j] == "_") and text[j].isascii():
            j += 1
        if j - i > 1 and not (out and out[0]["type"] == "bot_command" and i < utf16_len(text.split()[0])):
            out.append({"type": "mention", "offset": utf16_len(text[:i]), "length": utf16_len(text[i:j])})
        start = j
    return out


class Harness:
    """Builds updates the way Telegram sends them and feeds them to the channel: into the inbox,
    then handled (``Inbox.drain``) before ``feed`` returns."""

    def __init__(self, channel: TelegramChannel, request: RecordingRequest, store: Store | None) -> None:
        self.channel = channel
        self.app = channel.app
        self.request = request
        self.store = store
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(100)

    @staticmethod
    def user(user_id: int = USER_ID, first_name: str = "דנה") -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "he"}

    @staticmethod
    def chat(kind: str = "private", user_id: int = USER_ID) -> dict[str, Any]:
        if kind == "private":
            return {"id": user_id, "type": "private", "first_name": "דנה"}
        return {"id": GROUP_ID, "type": kind, "title": "צוות הרשות", "is_forum": kind == "supergroup"}

    def message(self, text: str | None = None, *, chat: str = "private", user_id: int = USER_ID,
                first_name: str = "דנה", entities: list[dict[str, Any]] | None = None,
                reply_to: dict[str, Any] | None = None, thread_id: int | None = None,
                extra: dict[str, Any] | None = None) -> dict[str, Any]:
        msg: dict[str, Any] = {"message_id": next(self._message_ids), "date": int(time.time()),
                               "chat": self.chat(chat, user_id), "from": self.user(user_id, first_name)}
        if text is not None:
            msg["text"] = text
            ents = entities_for(text) if entities is None else entities
            if ents:
                msg["entities"] = ents
        if reply_to is not None:
            msg["reply_to_message"] = reply_to
        if thread_id is not None:
            msg["message_thread_id"] = thread_id
            msg["is_topic_message"] = True
        msg.update(extra or {})
        return msg

    async def feed(self, payload: dict[str, Any], update_id: int | None = None) -> int:
        uid = next(self._update_ids) if update_id is None else update_id
        await self.channel.ingest({"update_id": uid, **payload})
        await self.channel.runtime.inbox.drain()
        return uid

    async def text(self, text: str, **kw: Any) -> dict[str, Any]:
        msg = self.message(text, **kw)
        await self.feed({"message": msg})
        return msg

    async def press(self, data: str, *, chat: str = "private", user_id: int = USER_ID,
                    message: dict[str, Any] | None = None) -> None:
        origin = message or {"message_id": 4000, "date": int(time.time()), "chat": self.chat(chat, user_id),
                             "from": BOT_USER, "text": "…"}
        await self.feed({"callback_query": {"id": f"cb{next(self._message_ids)}", "from": self.user(user_id),
                                            "chat_instance": "ci-1", "data": data, "message": origin}})

    async def inline(self, query: str, user_id: int = USER_ID) -> dict[str, Any]:
        self.request.clear()
        await self.feed({"inline_query": {"id": "iq1", "from": self.user(user_id), "query": query, "offset": ""}})
        (answered,) = self.request.of("answerInlineQuery")
        return answered


def make_settings(kb: Path, db: Path, **changes: Any) -> Settings:
    base = dict(telegram_token=TOKEN, kb_path=kb, db_path=db, curator_ids=frozenset({CURATOR_ID}),
                hash_key="test-hash-key")
    base.update(changes)
    return Settings(**base)


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    """A writable copy of the fixture base (the /reload test edits it)."""
    dest = tmp_path / "kb"
    shutil.copytree(FIXTURES / "kb", dest)
    return dest


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "rashut.db")
    yield s
    await s.close()


@pytest.fixture
def engine(kb_dir: Path) -> Engine:
    return Engine(kb_dir)


@pytest.fixture
def runtime(kb_dir: Path, tmp_path: Path, engine: Engine, store: Store) -> Runtime:
    return Runtime.build(make_settings(kb_dir, tmp_path / "rashut.db"), store=store, engine=engine)


@pytest.fixture
def service(runtime: Runtime) -> AnswerService:
    return runtime.service


@pytest.fixture
def recorder() -> RecordingRequest:
    return RecordingRequest()


async def open_channel(runtime: Runtime, recorder: RecordingRequest) -> TelegramChannel:
    """The Telegram channel on a recording request object, initialised (getMe), nothing received yet."""
    channel = TelegramChannel(runtime, request=recorder, get_updates_request=RecordingRequest())
    await channel.app.initialize()
    recorder.clear()
    return channel


@contextlib.asynccontextmanager
async def harness_for(settings: Settings, store: Store | None) -> AsyncIterator[Harness]:
    """A second channel on its own runtime (another process on the same store, another setting)."""
    rec = RecordingRequest()
    ch = await open_channel(Runtime.build(settings, store=store), rec)
    try:
        yield Harness(ch, rec, store)
    finally:
        await ch.close()


@pytest.fixture
async def channel(runtime: Runtime, recorder: RecordingRequest) -> AsyncIterator[TelegramChannel]:
    ch = await open_channel(runtime, recorder)
    yield ch
    await ch.close()


@pytest.fixture
def app(channel: TelegramChannel) -> Application:
    return channel.app


@pytest.fixture
def tg(channel: TelegramChannel, recorder: RecordingRequest, store: Store) -> Iterator[Harness]:
    yield Harness(channel, recorder, store)


def all_callback_data(params: dict[str, Any]) -> list[str]:
    markup = params.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row if "callback_data" in b]


def buttons(params: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, callback data or url) of every button of a sent message."""
    markup = params.get("reply_markup") or {}
    return [(b["text"], b.get("callback_data") or b.get("url", "")) for row in markup.get("inline_keyboard", [])
            for b in row]
