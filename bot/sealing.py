"""Sealing inbox payloads: what is kept to answer a message later is kept encrypted.

An update waiting in the inbox holds what is needed to reply (a Telegram chat id, a WhatsApp
phone number, the text). Everything else the store keeps is a keyed hash; this keeps the inbox
from being the exception: the payload is encrypted (Fernet: AES-128-CBC with HMAC-SHA256, from the
well-kept ``cryptography`` package) under a key derived from ``RASHUT_HASH_KEY``, and the store
wipes it once the reply was sent.
"""
from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from knowledge.errors import StoreError


class Sealer:
    def __init__(self, secret: str) -> None:
        key = hashlib.sha256(b"rashut inbox v1\0" + secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, payload: dict[str, Any]) -> bytes:
        """The payload exactly as the channel parsed it. ``surrogatepass``: a body's "\\ud800" escape
        is a lone surrogate after ``json.loads``, which plain UTF-8 cannot encode (the update could
        then never be stored, and its channel would be asked for it again for ever); ``json.loads``
        reads such bytes back with the same handler. The text is made storable where it is kept."""
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return self._fernet.encrypt(text.encode("utf-8", "surrogatepass"))

    def open(self, token: bytes) -> dict[str, Any]:
        """The payload; ``StoreError`` when it was sealed under another key or is damaged."""
        try:
            data = json.loads(self._fernet.decrypt(bytes(token)))
        except (InvalidToken, ValueError, TypeError) as exc:
            raise StoreError("an inbox payload cannot be opened (sealed under another RASHUT_HASH_KEY, "
                             "or damaged)") from exc
        if not isinstance(data, dict):
            raise StoreError("an inbox payload is not an object")
        return data
