"""The runner's wiring: settings -> polling or webhook arguments, start-up hooks, base URLs."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from telegram.ext import Application

from bot.service import AnswerService
from bot.store import Store
from handlers.telegram import runner
from handlers.telegram.app import CURATOR_COMMANDS, build_application
from knowledge.engine import Engine
from tg_harness import TOKEN, RecordingRequest, make_settings


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Replace the blocking run_* calls and the global log set-up; keep what they were given."""
    seen: dict[str, Any] = {}

    def fake_run(mode: str):
        def run(self: Application, **kwargs: Any) -> None:
            seen.update(mode=mode, app=self, **kwargs)
        return run

    monkeypatch.setattr(Application, "run_polling", fake_run("polling"))
    monkeypatch.setattr(Application, "run_webhook", fake_run("webhook"))
    monkeypatch.setattr(runner, "install_log_guards", lambda secrets, level="INFO": seen.update(secrets=list(secrets)))
    monkeypatch.delenv("TELEGRAM_POLL_TIMEOUT", raising=False)
    return seen


def test_polling_by_default(captured: dict[str, Any], kb_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(kb_dir, tmp_path / "db.sqlite", telegram_api_base_url="http://127.0.0.1:8081/bot")
    assert runner.run_telegram(settings) == 0
    assert captured["mode"] == "polling" and captured["drop_pending_updates"] is False
    assert captured["timeout"].total_seconds() == 1 and captured["poll_interval"] == 0.0
    assert set(captured["allowed_updates"]) == {"message", "callback_query", "inline_query"}
    bot = captured["app"].bot
    assert bot.base_url == f"http://127.0.0.1:8081/bot{TOKEN}"
    assert bot.base_file_url == f"http://127.0.0.1:8081/file/bot{TOKEN}"
    assert TOKEN in captured["secrets"]


def test_webhook_when_configured(captured: dict[str, Any], kb_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(kb_dir, tmp_path / "db.sqlite", webhook_url="https://bot.example.org/tg/hook",
                             webhook_secret="s3cret_token", webhook_listen="0.0.0.0", webhook_port=8443)
    assert runner.run_telegram(settings) == 0
    assert captured["mode"] == "webhook"
    assert captured["secret_token"] == "s3cret_token" and captured["webhook_url"] == "https://bot.example.org/tg/hook"
    assert (captured["listen"], captured["port"], captured["url_path"]) == ("0.0.0.0", 8443, "tg/hook")
    assert "s3cret_token" in captured["secrets"]


async def test_startup_opens_store_and_sets_public_menu(kb_dir: Path, tmp_path: Path) -> None:
    rec = RecordingRequest()
    settings = make_settings(kb_dir, tmp_path / "db.sqlite")
    store = Store(settings.db_path)
    app = build_application(settings, AnswerService(Engine(kb_dir), store), store, request=rec)
    runner.lifecycle(app, store, settings)
    await app.initialize()
    await app.post_init(app)
    try:
        assert await store.user_version() >= 1  # connected and migrated
        (menu,) = rec.of("setMyCommands")
        assert not {c["command"] for c in menu["commands"]} & set(CURATOR_COMMANDS)
        assert app.job_queue.get_jobs_by_name("purge")
    finally:
        await app.shutdown()
        await app.post_shutdown(app)
    assert store._db is None  # closed
