"""`rashut run` in webhook mode: the emulator delivers updates to PTB's webhook server.

Telegram proves a delivery is genuine with the ``X-Telegram-Bot-Api-Secret-Token`` header; a
request without it, or with another value, must get 403 and never reach a handler.
"""
from __future__ import annotations

import pytest

from tests.botapi.server import BotApiEmulator
from tests.e2e.conftest import TOKEN, WAIT, WEBHOOK_SECRET, BotProcess, secrets_in

BUDGET_Q = "מה התקציב של החלטה 4321?"


def to(chat_id: int):
    return lambda c: c.chat_id == chat_id


@pytest.fixture(autouse=True)
def _bot_alive(webhook_bot: BotProcess):
    yield
    assert webhook_bot.alive(), f"the bot died during the test\n{webhook_bot.logs()}"


async def test_webhook_is_registered_with_the_secret(emulator: BotApiEmulator, webhook_bot: BotProcess):
    call = emulator.calls("setWebhook", ok=True)[-1]
    assert call.params["url"] == webhook_bot.env["WEBHOOK_URL"]
    assert call.params["secret_token"] == WEBHOOK_SECRET
    assert emulator.webhook["url"] == webhook_bot.env["WEBHOOK_URL"]


async def test_correct_delivery_is_answered(emulator: BotApiEmulator, webhook_bot: BotProcess):
    user = 7001
    since = emulator.mark()
    uid = emulator.push_private_text(user, BUDGET_Q)
    call = await emulator.wait_for("sendMessage", to(user), WAIT, since=since)
    assert "<b>התקציב של החלטה 4321</b>" in call.text and "📄 מקור:" in call.text
    delivery = await emulator.wait_for_delivery(lambda d: d.update_id == uid and d.status is not None, WAIT)
    assert delivery.status == 200 and delivery.secret_sent == WEBHOOK_SECRET
    # and a button press comes back the same way
    since = emulator.mark()
    update = emulator.callback_query(user, call.result, "e:decision-4321-localities")
    emulator.push_update(update)
    entry = await emulator.wait_for("sendMessage", to(user), WAIT, since=since)
    assert "היישובים בהחלטה 4321" in entry.text
    assert emulator.calls("answerCallbackQuery", since=since, ok=True)


@pytest.mark.parametrize("secret", ["wrong-secret", None, WEBHOOK_SECRET + "x", ""],
                         ids=["wrong", "missing", "longer", "empty"])
async def test_delivery_without_the_right_secret_is_refused(emulator: BotApiEmulator, webhook_bot: BotProcess,
                                                             secret: str | None):
    user = 7100 + len(secret or "")
    since = emulator.mark()
    status = await emulator.deliver(emulator.private_message(user, BUDGET_Q), secret_token=secret)
    assert status == 403
    # Proof that no handler ran: a genuine question from the same user, delivered afterwards,
    # gets the only reply (had the refused update been accepted, it would have been queued first).
    emulator.push_private_text(user, "מי משלם על הטיסות של המשלחת?")
    reply = await emulator.wait_for("sendMessage", to(user), WAIT, since=since)
    assert "מי משלם על מה באירוח משלחת" in reply.text
    sent = [c for c in emulator.calls("sendMessage", since=since) if c.chat_id == user]
    assert len(sent) == 1, [c.text for c in sent]


async def test_no_failed_calls_and_secrets_never_logged(emulator: BotApiEmulator, webhook_bot: BotProcess):
    """Nothing the bot sent was rejected, every emulator delivery succeeded, and the (DEBUG) logs
    hold neither the token nor the webhook secret (audited again at shutdown: ``stop_and_audit``)."""
    user = 7002
    since = emulator.mark()
    emulator.push_private_text(user, BUDGET_Q)
    await emulator.wait_for("sendMessage", to(user), WAIT, since=since)
    failed = [(c.method, c.status, c.description) for c in emulator.calls(ok=False) if not c.abandoned]
    assert failed == [], failed
    answered = [d.status for d in emulator.deliveries() if not d.raw and d.status is not None]
    assert answered and set(answered) == {200}
    logs = webhook_bot.logs()
    assert "ready (webhook)" in logs and "DEBUG" in logs
    assert secrets_in(logs, TOKEN, WEBHOOK_SECRET) == []
