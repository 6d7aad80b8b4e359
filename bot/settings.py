"""Settings, read once from the environment (or a plain dict in tests) into a frozen object."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from knowledge.errors import SettingsError
from knowledge.loader import BUNDLED_BASE

DEFAULT_HASH_KEY = "rashut-dev-only-key"  # used only when RASHUT_HASH_KEY is unset; logged as a warning


def environment(dotenv: Path | str = ".env", base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings' source: the process environment over an optional ``.env`` file (python-dotenv);
    a variable set in the environment always wins over the file."""
    env = dict(os.environ if base is None else base)
    path = Path(dotenv)
    if path.is_file():
        from dotenv import dotenv_values

        for key, value in dotenv_values(path).items():
            if value is not None and key not in env:
                env[key] = value
    return env


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
    db_path: Path = field(default_factory=_default_db)  # the SQLite file (when db_url is not set)
    db_url: str | None = None  # postgresql://user:pass@host:port/db: the shared store for replicas
    curator_ids: frozenset[int] = frozenset()
    curator_chat_id: int | None = None
    hash_key: str = DEFAULT_HASH_KEY
    retention_days: float = 180.0
    digest_time: str = "08:00"  # daily digest to the curators' chat, Israel time
    watch_kb: bool = True
    log_level: str = "INFO"
    questions_per_minute: int = 20  # per user; 0 turns the limit off
    telegram_rate: float = 30.0  # messages per second to all chats (Telegram's broadcast limit)
    console_visual: bool = False  # the console reorders Hebrew for terminals without bidi
    # WhatsApp Cloud API (handlers/whatsapp); the channel runs when all four secrets are set
    whatsapp_token: str | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_app_secret: str | None = None
    whatsapp_verify_token: str | None = None
    whatsapp_api_base_url: str = "https://graph.facebook.com"
    whatsapp_api_version: str = "23.0"
    whatsapp_webhook_listen: str = "127.0.0.1"
    whatsapp_webhook_port: int = 8444
    whatsapp_curators: frozenset[str] = frozenset()  # phone numbers, digits only (972...)
    whatsapp_rate: float = 70.0  # messages per second the number may send (Meta's default tier: 80)

    @property
    def whatsapp(self) -> bool:
        return bool(self.whatsapp_token)

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
        wa = _whatsapp(get, integer)
        return cls(
            **wa,
            telegram_token=get("TELEGRAM_BOT_TOKEN"),
            telegram_api_base_url=get("TELEGRAM_API_BASE_URL"),
            webhook_url=webhook_url,
            webhook_secret=secret,
            webhook_listen=get("WEBHOOK_LISTEN") or "127.0.0.1",
            webhook_port=integer("WEBHOOK_PORT", 8443) or 8443,
            kb_path=Path(get("RASHUT_KB")) if get("RASHUT_KB") else BUNDLED_BASE,
            **_database(get("RASHUT_DB")),
            curator_ids=frozenset(curators),
            curator_chat_id=integer("CURATOR_CHAT_ID", None),
            hash_key=get("RASHUT_HASH_KEY") or DEFAULT_HASH_KEY,
            retention_days=retention_days,
            digest_time=get("DIGEST_TIME") or "08:00",
            watch_kb=(get("RASHUT_WATCH_KB") or "1") not in ("0", "false", "no"),
            log_level=(get("LOG_LEVEL") or "INFO").upper(),
            questions_per_minute=_non_negative(integer("QUESTIONS_PER_MINUTE", 20), "QUESTIONS_PER_MINUTE"),
            console_visual=_bidi(get("RASHUT_CONSOLE_BIDI")),
            telegram_rate=float(_non_negative(integer("TELEGRAM_MESSAGES_PER_SECOND", 30),
                                              "TELEGRAM_MESSAGES_PER_SECOND") or 30),
        )

    def db_fields(self) -> dict[str, object]:
        return {"db_path": self.db_path, "db_url": self.db_url}

    @property
    def db_target(self) -> str:
        """What ``bot.store.make_store`` opens: the PostgreSQL URL, else the SQLite path."""
        return self.db_url or str(self.db_path)

    def secrets(self) -> list[str | None]:
        """Every secret a setting holds: kept out of logs and out of stored text."""
        return [self.telegram_token, self.webhook_secret, self.hash_key if self.hash_key != DEFAULT_HASH_KEY else None,
                self.whatsapp_token, self.whatsapp_app_secret, self.whatsapp_verify_token]

    def is_curator(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.curator_ids

    def is_whatsapp_curator(self, wa_id: str | None) -> bool:
        return wa_id is not None and phone_digits(wa_id) in self.whatsapp_curators


def _database(value: str | None) -> dict[str, object]:
    """``RASHUT_DB``: a path or ``sqlite:///path`` is the SQLite file; ``postgresql://`` (or
    ``postgres://``) is PostgreSQL; any other scheme is an error, never taken for a file name."""
    if not value:
        return {"db_path": _default_db()}
    scheme, sep, rest = value.partition("://")
    if not sep:
        return {"db_path": Path(value)}
    scheme = scheme.lower()
    if scheme == "sqlite":
        if not rest.strip("/"):
            raise SettingsError("RASHUT_DB=sqlite:/// needs a file path, e.g. sqlite:////var/lib/rashut/rashut.db")
        return {"db_path": Path("/" + rest.lstrip("/") if rest.startswith("/") else rest)}  # sqlite:///var/x.db
    if scheme in ("postgresql", "postgres"):
        if not rest or rest.startswith("/"):
            raise SettingsError("RASHUT_DB needs a host in a PostgreSQL URL: postgresql://user:pass@host:5432/db")
        return {"db_url": f"postgresql://{rest}"}
    raise SettingsError(f"RASHUT_DB: unknown scheme {scheme!r} (use a file path, sqlite:///path or "
                        "postgresql://user:pass@host:port/db)")


def _bidi(value: str | None) -> bool:
    if value in (None, "terminal", "logical"):
        return False
    if value == "visual":
        return True
    raise SettingsError(f"RASHUT_CONSOLE_BIDI must be 'visual' or 'terminal', got {value!r}")


def _non_negative(value: int | None, name: str) -> int:
    if value is None or value < 0:
        raise SettingsError(f"{name} must be 0 or more")
    return value


WHATSAPP_REQUIRED = ("WHATSAPP_TOKEN", "WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN")


def phone_digits(number: str) -> str:
    """A phone number as WhatsApp writes it: digits only, international, no + or leading zeros."""
    return "".join(ch for ch in number if ch.isdigit()).lstrip("0")


def _whatsapp(get: Callable[[str], str | None], integer: Callable[[str, int | None], int | None]) -> dict[str, object]:
    """The WhatsApp settings: all four secrets or none (a half-configured channel is an error)."""
    given = {name: get(name) for name in WHATSAPP_REQUIRED}
    missing = [name for name, value in given.items() if not value]
    if len(missing) not in (0, len(WHATSAPP_REQUIRED)):
        raise SettingsError(f"WhatsApp is half configured: {', '.join(missing)} missing (set all of "
                            f"{', '.join(WHATSAPP_REQUIRED)}, or none)")
    phone_id = given["WHATSAPP_PHONE_NUMBER_ID"]
    if phone_id and not phone_id.isdigit():
        raise SettingsError(f"WHATSAPP_PHONE_NUMBER_ID must be the numeric id Meta shows, got {phone_id!r}")
    root = (get("WHATSAPP_API_BASE_URL") or "https://graph.facebook.com").rstrip("/")
    if not root.startswith(("https://", "http://")):
        raise SettingsError(f"WHATSAPP_API_BASE_URL must be an http(s) URL, got {root!r}")
    version = (get("WHATSAPP_API_VERSION") or "23.0").lstrip("v")
    try:
        float(version)
    except ValueError:
        raise SettingsError(f"WHATSAPP_API_VERSION must look like 23.0, got {version!r}") from None
    curators = set()
    for part in (get("WHATSAPP_CURATORS") or "").replace(";", ",").split(","):
        if part.strip():
            digits = phone_digits(part)
            if len(digits) < 8 or not all(c.isdigit() or c in "+-() " for c in part.strip()):
                raise SettingsError(f"WHATSAPP_CURATORS must be comma-separated phone numbers (972...), got {part!r}")
            curators.add(digits)
    rate = get("WHATSAPP_MESSAGES_PER_SECOND")
    try:
        per_second = float(rate) if rate else 70.0
    except ValueError:
        raise SettingsError(f"WHATSAPP_MESSAGES_PER_SECOND must be a number, got {rate!r}") from None
    return dict(whatsapp_rate=per_second, whatsapp_token=given["WHATSAPP_TOKEN"], whatsapp_phone_number_id=phone_id,
                whatsapp_app_secret=given["WHATSAPP_APP_SECRET"], whatsapp_verify_token=given["WHATSAPP_VERIFY_TOKEN"],
                whatsapp_api_base_url=root, whatsapp_api_version=version,
                whatsapp_webhook_listen=get("WHATSAPP_WEBHOOK_LISTEN") or "127.0.0.1",
                whatsapp_webhook_port=integer("WHATSAPP_WEBHOOK_PORT", 8444) or 8444,
                whatsapp_curators=frozenset(curators))
