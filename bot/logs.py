"""Logging set-up: secrets never reach a log line, whatever logs them.

Tokens are passwords: httpx request logging (URLs carry the Telegram token) is turned down, and a
filter on every root handler replaces each configured secret (and its URL-quoted form, and the
secret half of a bot token) in any record that still carries it, arguments and tracebacks included.

User data appears in logs only hashed or redacted, at every level: the chat libraries' own loggers
(which at DEBUG print whole updates and payloads, names and phone numbers included) never go below
INFO, and the same filter replaces anything shaped like a phone number or a long user id (9 to 15
digits, with an optional +) by ``[number]``.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import sys
import time
from typing import Iterable
from urllib.parse import quote

REDACTED = "[REDACTED]"
NUMBER = "[number]"
_LONG_NUMBER = re.compile(r"(?<![\d.])\+?\d{9,15}(?![\d.])")
# Libraries that log user data (updates, payloads, recipients) at DEBUG: kept at INFO or above.
CHATTY = ("telegram", "pywa", "pywa_async", "httpx", "httpcore", "aiosqlite", "apscheduler", "watchfiles",
          "aiohttp.access", "asyncio")


_PSEUDONYM_KEY = ["rashut-log-pseudonyms"]


def pseudonym(value: object) -> str:
    """A short keyed hash standing for a chat or user id in a log line ("chat #3fa2c1d0"): the same
    id always reads the same, so a log can be followed, but the id itself is not in it."""
    digest = hmac.new(_PSEUDONYM_KEY[0].encode(), str(value).encode(), hashlib.sha256).hexdigest()
    return f"#{digest[:8]}"


class RedactSecrets(logging.Filter):
    """Replace secrets in a record's message, arguments, traceback and stack text; ``numbers`` also
    replaces phone-number-shaped digit runs (for logs; stored question text keeps its numbers)."""

    def __init__(self, secrets: Iterable[str | None], *, numbers: bool = True) -> None:
        super().__init__()
        self.numbers = numbers
        found: set[str] = set()
        for s in secrets:
            if not s:
                continue
            found.update({s, quote(s, safe="")})
            _, colon, tail = s.partition(":")
            if colon and len(tail) >= 8:  # the secret half of a bot token, in any URL spelling
                found.add(tail)
        self.secrets = sorted(found, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, REDACTED)
        return _LONG_NUMBER.sub(NUMBER, text) if self.numbers else text

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):  # a library logging a whole update: its id, not its contents
            record.args = tuple(f"update {a.update_id}" if hasattr(a, "update_id") and not isinstance(a, (int, str))
                                else a for a in record.args)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is still logged, just not formatted
            message = str(record.msg)
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class UtcFormatter(logging.Formatter):
    """Log times in UTC, and saying so (``2026-12-04T01:53:48Z``): servers and containers disagree on
    local time, and a log read beside another must line up."""

    converter = staticmethod(time.gmtime)  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%SZ")


def configure(level: str) -> None:
    """The process's logging: one stderr handler, UTC times."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(UtcFormatter())
        root.addHandler(handler)
    root.setLevel(level)


def install_log_guards(secrets: Iterable[str | None], level: str = "INFO",
                       pseudonym_key: str | None = None) -> RedactSecrets:
    """Quiet httpx/httpcore (they log URLs, which contain the token) and redact on every root handler."""
    if pseudonym_key:
        _PSEUDONYM_KEY[0] = pseudonym_key
    root = logging.getLogger()
    if not root.handlers:
        configure(level)
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in CHATTY:
        lib = logging.getLogger(name)
        if lib.getEffectiveLevel() < logging.INFO:
            lib.setLevel(logging.INFO)
    guard = RedactSecrets(secrets)
    for handler in root.handlers:
        handler.addFilter(guard)
    return guard
