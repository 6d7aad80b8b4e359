"""The channel's wiring: settings -> polling or webhook, start-up calls, base URLs, the lifecycle."""
from __future__ import annotations

import asyncio
from pathlib import Path

from bot import texts
from bot.router import CURATOR_COMMANDS
from bot.runtime import Runtime
from handlers.telegram.channel import TelegramChannel
from handlers.webserver import WebServers
from tests.handlers.telegram.tg_harness import TOKEN, RecordingRequest, make_settings


async def _started(settings, *, connect: bool = True) -> tuple[Runtime, TelegramChannel, RecordingRequest,
                                                                RecordingRequest, WebServers]:
    rec, updates = RecordingRequest(), RecordingRequest()
    runtime = Runtime.build(settings)
    channel = TelegramChannel(runtime, request=rec, get_updates_request=updates)
    servers = WebServers()
    await runtime.start()
    await channel.start(servers)
    return runtime, channel, rec, updates, servers


async def test_polling_by_default(kb_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("TELEGRAM_POLL_TIMEOUT", raising=False)
    settings = make_settings(kb_dir, tmp_path / "db.sqlite", telegram_api_base_url="http://127.0.0.1:8081/bot",
                             watch_kb=False)
    runtime, channel, rec, updates, servers = await _started(settings)
    try:
        for _ in range(100):
            if updates.of("getUpdates"):
                break
            await asyncio.sleep(0.01)
        (delete,) = rec.of("deleteWebhook")
        assert delete.get("drop_pending_updates") is False  # pending updates are answered, not dropped
        poll = updates.of("getUpdates")[0]
        assert poll["timeout"] == 1
        assert set(poll["allowed_updates"]) == {"message", "callback_query", "inline_query"}
        assert not servers  # no webhook server in polling mode
        bot = channel.app.bot
        assert bot.base_url == f"http://127.0.0.1:8081/bot{TOKEN}"
        assert bot.base_file_url == f"http://127.0.0.1:8081/file/bot{TOKEN}"
        assert TOKEN in settings.secrets()
    finally:
        await channel.stop_receiving()
        await runtime.stop()
        await channel.close()


async def test_webhook_when_configured(kb_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(kb_dir, tmp_path / "db.sqlite", webhook_url="https://bot.example.org/tg/hook",
                             webhook_secret="s3cret_token", webhook_listen="0.0.0.0", webhook_port=8443,
                             watch_kb=False)
    runtime, channel, rec, updates, servers = await _started(settings)
    try:
        server = servers.on("0.0.0.0", 8443)
        assert [(r.method, r.path) for r in server.routes] == [("POST", "/tg/hook")]
        await channel.announce()
        (hook,) = rec.of("setWebhook")
        assert hook["url"] == "https://bot.example.org/tg/hook" and hook["secret_token"] == "s3cret_token"
        assert hook["drop_pending_updates"] is False
        assert set(hook["allowed_updates"]) == {"message", "callback_query", "inline_query"}
        assert updates.of("getUpdates") == [] and rec.of("deleteWebhook") == []
        assert "s3cret_token" in settings.secrets()
    finally:
        await channel.stop_receiving()
        await runtime.stop()
        await channel.close()


async def test_startup_opens_store_and_sets_public_menu(kb_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(kb_dir, tmp_path / "db.sqlite", watch_kb=False)
    runtime, channel, rec, _updates, _servers = await _started(settings)
    store = runtime.store
    try:
        assert await store.user_version() >= 1  # connected and migrated
        (menu,) = rec.of("setMyCommands")
        assert not {c["command"] for c in menu["commands"]} & set(CURATOR_COMMANDS)
        assert runtime.jobs.job("purge") is not None
    finally:
        await channel.stop_receiving()
        await runtime.stop()
        await channel.close()
    assert store._db is None  # closed


async def test_an_update_with_an_unpaired_surrogate_is_stored_answered_and_queued(tg, store) -> None:
    """A Telegram body may carry a "\\ud800" escape (json.loads keeps it as a lone surrogate).
    Before: the inbox could not seal it, so the webhook answered 503 and Telegram resent the update
    for ever (polling fetched it again for ever): one message stopped the channel."""
    await tg.text("איך מגישים ערר \ud800 על ארנונה")
    (reply,) = tg.request.texts()
    assert texts.QUEUED_NOTE in reply
    (row,) = await store.unanswered()
    assert row.text == "איך מגישים ערר \ufffd על ארנונה"
