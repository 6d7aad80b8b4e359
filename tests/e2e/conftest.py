"""End-to-end fixtures: the strict Bot API emulator, and `rashut run` as a real subprocess.

The bot is started exactly as in production (``python -m bot run`` from the repository root)
with a fake token and ``TELEGRAM_API_BASE_URL`` pointing at the emulator on 127.0.0.1, on a
temporary copy of the fixture knowledge base and a temporary SQLite file. Everything happens on
the loopback interface. Waiting is always "until something happened, at most N seconds", never
a fixed sleep.
"""
from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `tests.botapi` is imported by its full name from the repo root
    sys.path.insert(0, str(REPO))

from tests.botapi.server import BotApiEmulator  # noqa: E402
from tests.graphapi.server import DEFAULT_TOKEN as WA_TOKEN, GraphApiEmulator  # noqa: E402

FIXTURE_KB = Path(__file__).parent / "fixtures" / "kb"
TOKEN = "123456:TEST-TOKEN-abcdefghijklmnopqrstuvwxyz012345"  # fake; only the emulator accepts it
CURATOR_ID = 777000111
WEBHOOK_SECRET = "e2e-Webhook_Secret-0123456789"
WA_VERIFY_TOKEN = "e2e-verify-token-5f1c"
WA_CURATOR = "972500000777"
STARTUP_TIMEOUT = 60.0  # a cold interpreter importing PTB and building the index on 2 busy cores
WAIT = 15.0  # generous upper bound for one round trip; tests return as soon as it happened

# Variables a developer's shell might carry that must not leak into the bot under test.
_SCRUB_PREFIXES = ("TELEGRAM_", "WEBHOOK_", "RASHUT_", "CURATOR_", "UNANSWERED_", "DIGEST_", "LOG_LEVEL", "WHATSAPP_",
                   "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class BotProcess:
    """A running ``rashut run`` subprocess and its files."""

    proc: subprocess.Popen[bytes]
    workdir: Path
    kb: Path
    db: Path
    env: dict[str, str]
    stdout_path: Path
    stderr_path: Path
    _files: list = field(default_factory=list)
    stopped: bool = False

    def logs(self) -> str:
        out = self.stdout_path.read_text(encoding="utf-8", errors="replace")
        err = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        return f"--- stdout ---\n{out}\n--- stderr ---\n{err}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, wait, then SIGKILL; idempotent. Returns the exit code."""
        self.stopped = True
        try:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=timeout)
        finally:
            for f in self._files:
                f.close()
            self._files.clear()
        return self.proc.returncode

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        """Read the bot's SQLite store (WAL: readers see committed writes of the other process)."""
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(query, params).fetchall()
        finally:
            con.close()


def telegram_env(emu: BotApiEmulator) -> dict[str, str]:
    return {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": emu.base_url, "TELEGRAM_POLL_TIMEOUT": "1",
            "CURATOR_IDS": str(CURATOR_ID)}


def whatsapp_env(emu: "GraphApiEmulator", port: int) -> dict[str, str]:
    return {"WHATSAPP_TOKEN": WA_TOKEN, "WHATSAPP_PHONE_NUMBER_ID": emu.phone_number_id,
            "WHATSAPP_APP_SECRET": emu.app_secret, "WHATSAPP_VERIFY_TOKEN": WA_VERIFY_TOKEN,
            "WHATSAPP_API_BASE_URL": emu.url, "WHATSAPP_WEBHOOK_LISTEN": "127.0.0.1",
            "WHATSAPP_WEBHOOK_PORT": str(port), "WHATSAPP_CURATORS": WA_CURATOR}


def start_bot(emu: BotApiEmulator | None, workdir: Path, *, channels: dict[str, str] | None = None,
              **extra_env: str) -> BotProcess:
    """``rashut run`` on a copy of the fixture base; Telegram against ``emu`` unless ``channels``
    gives the channel settings instead."""
    kb = workdir / "kb"
    if not kb.exists():  # a restart on the same folder keeps its base and store
        shutil.copytree(FIXTURE_KB, kb)
    db = workdir / "rashut.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB_PREFIXES)}
    env.update(channels if channels is not None else telegram_env(emu))  # type: ignore[arg-type]
    env.update({
        "RASHUT_KB": str(kb),
        "RASHUT_DB": str(db),
        "RASHUT_HASH_KEY": "test",
        "RASHUT_WATCH_KB": "0",
        "XDG_DATA_HOME": str(workdir / "xdg"),
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    env.update(extra_env)
    stdout_path, stderr_path = workdir / "bot.stdout.log", workdir / "bot.stderr.log"
    out, err = stdout_path.open("ab"), stderr_path.open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                            stdout=out, stderr=err)
    return BotProcess(proc, workdir, kb, db, env, stdout_path, stderr_path, [out, err])


def wait_until(condition: Callable[[], bool], bot: BotProcess, timeout: float, what: str) -> None:
    """Poll ``condition`` until true; fail early (with the bot's logs) if the bot died."""
    deadline = time.monotonic() + timeout
    while not condition():
        if not bot.alive():
            pytest.fail(f"the bot exited (code {bot.proc.returncode}) while waiting for {what}\n{bot.logs()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}\n{bot.logs()}")
        time.sleep(0.05)


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def secrets_in(text: str, *secrets: str) -> list[str]:
    """Which of the secrets (and the secret half of a bot token) appear in ``text``."""
    found = []
    for secret in secrets:
        parts = [secret] + ([secret.split(":", 1)[1]] if ":" in secret else [])
        found += [p for p in parts if p and p in text]
    return found


def stop_and_audit(bot: BotProcess, *secrets: str) -> None:
    """Stop the bot; fail (as a teardown error) if it did not exit cleanly or its logs hold a secret.

    Done at teardown so it covers every line the bot ever wrote, whatever order the tests ran in."""
    code = bot.stop()
    logs = bot.logs()
    leaked = secrets_in(logs, *secrets)
    if leaked:
        pytest.fail(f"the bot's logs contain a secret ({len(leaked)} occurrence kinds)", pytrace=False)
    if code != 0:
        pytest.fail(f"the bot exited with code {code} on SIGTERM\n{logs}", pytrace=False)


@pytest.fixture(scope="module")
def emulator() -> Iterator[BotApiEmulator]:
    with BotApiEmulator(TOKEN).running() as emu:
        yield emu


@pytest.fixture(scope="module")
def polling_bot(emulator: BotApiEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    """The bot in polling mode, shared by a module's tests (each test uses its own chats)."""
    bot = start_bot(emulator, tmp_path_factory.mktemp("polling-bot"))
    try:
        wait_until(lambda: bool(emulator.calls("getUpdates", ok=True)), bot, STARTUP_TIMEOUT,
                   "the first getUpdates long poll")
        yield bot
    finally:
        stop_and_audit(bot, TOKEN)


@pytest.fixture(scope="module")
def webhook_bot(emulator: BotApiEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    """The bot in webhook mode: PTB's server on a free loopback port, the emulator delivering to it."""
    port = free_port()
    bot = start_bot(emulator, tmp_path_factory.mktemp("webhook-bot"),
                    WEBHOOK_URL=f"http://127.0.0.1:{port}/hook", WEBHOOK_SECRET=WEBHOOK_SECRET,
                    WEBHOOK_LISTEN="127.0.0.1", WEBHOOK_PORT=str(port), LOG_LEVEL="DEBUG")
    bot.env["_PORT"] = str(port)
    try:
        wait_until(lambda: bool(emulator.calls("setWebhook", ok=True)), bot, STARTUP_TIMEOUT, "setWebhook")
        wait_until(lambda: port_open(port), bot, STARTUP_TIMEOUT, f"the webhook server on port {port}")
        yield bot
    finally:
        stop_and_audit(bot, TOKEN, WEBHOOK_SECRET)



@pytest.fixture(scope="module")
def graph() -> Iterator[GraphApiEmulator]:
    """The strict Graph API emulator, delivering to the WhatsApp bot's webhook port."""
    port = free_port()
    with GraphApiEmulator(webhook_url=f"http://127.0.0.1:{port}/whatsapp").running() as emu:
        emu.bot_port = port  # type: ignore[attr-defined]
        yield emu


@pytest.fixture(scope="module")
def whatsapp_bot(graph: GraphApiEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    """``rashut run`` with only the WhatsApp settings: its webhook server on a free loopback port."""
    port = graph.bot_port  # type: ignore[attr-defined]
    bot = start_bot(None, tmp_path_factory.mktemp("whatsapp-bot"), channels=whatsapp_env(graph, port),
                    LOG_LEVEL="DEBUG")
    try:
        wait_until(lambda: port_open(port), bot, STARTUP_TIMEOUT, f"the webhook server on port {port}")
        yield bot
    finally:
        stop_and_audit(bot, WA_TOKEN, graph.app_secret, WA_VERIFY_TOKEN)
