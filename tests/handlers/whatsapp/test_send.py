"""The sender: Meta's rate limits waited out a bounded number of times, failures classified."""
from __future__ import annotations

import logging

import pytest
from pywa_async import WhatsApp

from handlers.whatsapp import send
from handlers.whatsapp.render import Buttons, ListMessage, Row, Section, Text
from tests.handlers.whatsapp.wa_harness import PHONE_ID, ROOT, TOKEN, USER, Recorder

NO_WAIT = {send.THROUGHPUT: (0.0, 0.0, 0.0), send.PAIR_RATE: (0.0, 0.0, 0.0)}


def sender(rec: Recorder) -> send.Sender:
    session = rec.client()
    wa = WhatsApp(phone_id=PHONE_ID, token=TOKEN, session=session, api_version="23.0")
    session.base_url = f"{ROOT}/v23.0"
    s = send.Sender(wa, delays=NO_WAIT)
    return s


@pytest.mark.parametrize("code", [send.THROUGHPUT, send.PAIR_RATE, 131000])
async def test_rate_limits_are_retried_then_sent(code: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(send, "DEFAULT_DELAYS", (0.0, 0.0, 0.0))
    rec = Recorder(errors_next=[(400 if code != 131000 else 500, code)] * 2)
    s = sender(rec)
    ids = await s.send(USER, [Text("שלום")])
    assert len(ids) == 1 and ids[0].startswith("wamid.") and s.retried == 2 and len(rec.sent) == 1


async def test_bounded_then_failed_as_transient(caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder(errors_next=[(400, send.PAIR_RATE)] * 4)
    s = sender(rec)
    with caplog.at_level(logging.INFO, logger="handlers.whatsapp.send"), pytest.raises(send.SendFailed) as info:
        await s.send(USER, [Text("שלום")])
    assert info.value.transient and info.value.code == send.PAIR_RATE and rec.sent == [] and s.retried == 3
    assert "131056" in caplog.text and TOKEN not in caplog.text and USER not in caplog.text


async def test_closed_window_is_not_retried() -> None:
    rec = Recorder(errors_next=[(400, send.CLOSED_WINDOW)])
    s = sender(rec)
    with pytest.raises(send.SendFailed) as info:
        await s.send(USER, [Text("שלום")])
    assert not info.value.transient and s.retried == 0


async def test_network_errors_are_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(send, "DEFAULT_DELAYS", (0.0, 0.0, 0.0))
    rec = Recorder(network_errors_next=2)
    s = sender(rec)
    await s.send(USER, [Text("שלום")])
    assert len(rec.sent) == 1


async def test_every_kind_goes_out_as_meta_expects() -> None:
    rec = Recorder()
    s = sender(rec)
    await s.send(USER, [Text("א"), Buttons("ב", (("e:x", "כן"), ("e:y", "לא"))),
                        ListMessage("ג", "בחירה", (Section("אפשרויות", (Row("t:decisions", "החלטות", "רשימה"),)),))])
    kinds = [(m.type, m.payload.get("interactive", {}).get("type")) for m in rec.sent]
    assert kinds == [("text", None), ("interactive", "button"), ("interactive", "list")]
    assert rec.sent[1].ids() == ["e:x", "e:y"] and rec.sent[2].ids() == ["t:decisions"]
    assert all(m.payload["to"] == USER and m.payload["messaging_product"] == "whatsapp" for m in rec.sent)
