"""Settings, read once from the environment (or a plain dict in tests) into a frozen object."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from knowledge.errors import SettingsError
from knowledge.loader import BUNDLED_BASE

DEFAULT_HASH_KEY = "rashut-dev-only-key"  # used only when RASHUT_HASH_KEY is unset; logged as a warning


def _default_db() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or (Path.home() / ".local" / "share")
    return Path(base) / "rashut" / "rashut.db"


@dataclass(frozen=True, slots=True)
class Settings:
    telegram_token: str | None = None
    telegram_api_base_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    kb_path: Path = BUNDLED_BASE
    db_path: Path = field(default_factory=_default_db)
    curator_ids: frozenset[int] = frozenset()
    curator_chat_id: int | None = None
    hash_key: str = DEFAULT_HASH_KEY
    retention_days: float = 180.0
    digest_time: str = "08:00"  # daily digest to the curators' chat, Israel time
    watch_kb: bool = True
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value and value.strip() else None

        def integer(name: str, default: int | None) -> int | None:
            raw = get(name)
            if raw is None:
                return default
            try:
                return int(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None

        curators: set[int] = set()
        for part in (get("CURATOR_IDS") or "").replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if not part.lstrip("-").isdigit():
                raise SettingsError(f"CURATOR_IDS must be comma-separated numeric Telegram user ids, got {part!r}")
            curators.add(int(part))
        retention = get("UNANSWERED_RETENTION_DAYS")
        try:
            retention_days = float(retention) if retention else 180.0
        except ValueError:
            raise SettingsError(f"UNANSWERED_RETENTION_DAYS must be a number, got {retention!r}") from None
        if retention_days <= 0:
            raise SettingsError("UNANSWERED_RETENTION_DAYS must be positive")
        webhook_url = get("WEBHOOK_URL")
        secret = get("WEBHOOK_SECRET")
        if webhook_url and not secret:
            raise SettingsError("WEBHOOK_SECRET is required when WEBHOOK_URL is set")
        if secret and not all(c.isalnum() or c in "_-" for c in secret):
            raise SettingsError("WEBHOOK_SECRET may contain only A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return cls(
            telegram_token=get("TELEGRAM_BOT_TOKEN"),
            telegram_api_base_url=get("TELEGRAM_API_BASE_URL"),
            webhook_url=webhook_url,
            webhook_secret=secret,
            webhook_listen=get("WEBHOOK_LISTEN") or "127.0.0.1",
            webhook_port=integer("WEBHOOK_PORT", 8443) or 8443,
            kb_path=Path(get("RASHUT_KB")) if get("RASHUT_KB") else BUNDLED_BASE,
            db_path=Path(get("RASHUT_DB")) if get("RASHUT_DB") else _default_db(),
            curator_ids=frozenset(curators),
            curator_chat_id=integer("CURATOR_CHAT_ID", None),
            hash_key=get("RASHUT_HASH_KEY") or DEFAULT_HASH_KEY,
            retention_days=retention_days,
            digest_time=get("DIGEST_TIME") or "08:00",
            watch_kb=(get("RASHUT_WATCH_KB") or "1") not in ("0", "false", "no"),
            log_level=(get("LOG_LEVEL") or "INFO").upper(),
        )

    def is_curator(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.curator_ids
