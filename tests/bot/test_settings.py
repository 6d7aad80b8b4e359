"""Settings: read once, from the environment over an optional .env; every malformed value is one
clear error naming the variable."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings, environment
from knowledge.errors import SettingsError

REPO = Path(__file__).resolve().parents[2]


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("TELEGRAM_BOT_TOKEN=111:from-the-file\nRASHUT_HASH_KEY=file-key\n# a comment\n",
                      encoding="utf-8")
    env = environment(dotenv, base={"RASHUT_HASH_KEY": "env-key"})
    s = Settings.from_env(env)
    assert s.telegram_token == "111:from-the-file" and s.hash_key == "env-key"
    assert environment(tmp_path / "missing.env", base={}) == {}


def test_the_cli_reads_dotenv_from_the_current_folder(tmp_path: Path) -> None:
    """`rashut` run where a .env lies picks it up (here: a knowledge folder that does not exist)."""
    (tmp_path / ".env").write_text(f"RASHUT_KB={tmp_path / 'no-such-kb'}\n", encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "bot", "kb", "validate"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "no-such-kb" in done.stderr


@pytest.mark.parametrize("value, target", [
    ("/var/lib/rashut/r.db", "/var/lib/rashut/r.db"),
    ("sqlite:///var/lib/rashut/r.db", "/var/lib/rashut/r.db"),
    ("postgresql://rashut:pw@db:5432/rashut", "postgresql://rashut:pw@db:5432/rashut"),
    ("postgres://rashut@db/rashut", "postgresql://rashut@db/rashut"),
])
def test_rashut_db_takes_a_path_or_a_url(value: str, target: str) -> None:
    assert Settings.from_env({"RASHUT_DB": value}).db_target == target


@pytest.mark.parametrize("value", ["mysql://x/y", "postgresql:///nohost", "sqlite:///", "redis://h"])
def test_an_unknown_or_incomplete_database_url_is_an_error(value: str) -> None:
    with pytest.raises(SettingsError, match="RASHUT_DB"):
        Settings.from_env({"RASHUT_DB": value})


def test_whatsapp_all_or_nothing_and_curators() -> None:
    full = {"WHATSAPP_TOKEN": "t", "WHATSAPP_PHONE_NUMBER_ID": "123", "WHATSAPP_APP_SECRET": "a",
            "WHATSAPP_VERIFY_TOKEN": "v", "WHATSAPP_CURATORS": "+972-50-123-4567, 972541112222"}
    s = Settings.from_env(full)
    assert s.whatsapp and s.whatsapp_curators == {"972501234567", "972541112222"}
    assert s.is_whatsapp_curator("+972 50 1234567") and not s.is_whatsapp_curator("972500000000")
    assert {"t", "a", "v"} <= set(s.secrets())
    with pytest.raises(SettingsError, match="WHATSAPP_APP_SECRET"):
        Settings.from_env({k: v for k, v in full.items() if k != "WHATSAPP_APP_SECRET"})
    with pytest.raises(SettingsError, match="WHATSAPP_CURATORS"):
        Settings.from_env({**full, "WHATSAPP_CURATORS": "not a number"})
    assert not Settings.from_env({}).whatsapp


@pytest.mark.parametrize("name, value", [("QUESTIONS_PER_MINUTE", "-1"), ("QUESTIONS_PER_MINUTE", "many"),
                                         ("TELEGRAM_MESSAGES_PER_SECOND", "fast"), ("WEBHOOK_PORT", "x"),
                                         ("WHATSAPP_WEBHOOK_PORT", "x"), ("UNANSWERED_RETENTION_DAYS", "0")])
def test_malformed_numbers_name_the_variable(name: str, value: str) -> None:
    env = {name: value}
    if name.startswith("WHATSAPP"):
        env.update({"WHATSAPP_TOKEN": "t", "WHATSAPP_PHONE_NUMBER_ID": "1", "WHATSAPP_APP_SECRET": "a",
                    "WHATSAPP_VERIFY_TOKEN": "v"})
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(env)
