"""Inbox payloads are sealed as they came: text a chat library accepted must survive the inbox."""
from __future__ import annotations

import json

import pytest

from bot.sealing import Sealer
from knowledge.errors import StoreError


def test_a_payload_with_an_unpaired_surrogate_is_sealed_and_opened_unchanged():
    """A Telegram or WhatsApp body may carry a "\\ud800" escape; json.loads keeps it as a lone
    surrogate. Before: sealing raised UnicodeEncodeError, so the webhook answered 503 for ever
    (and polling retried the same update for ever): one message stopped the channel."""
    body = b'{"update_id": 7, "message": {"text": "\\u05e9\\u05dc\\u05d5\\u05dd \\ud800 \\udfff", "chat": {"id": 1}}}'
    payload = json.loads(body)
    sealer = Sealer("key")
    assert sealer.open(sealer.seal(payload)) == payload


def test_a_payload_sealed_under_another_key_is_refused():
    with pytest.raises(StoreError, match="another RASHUT_HASH_KEY"):
        Sealer("other").open(Sealer("key").seal({"a": 1}))
