"""Both channels in one `rashut run`: one Telegram and one WhatsApp question answered by the same
process, on one runtime (one store, one base)."""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.botapi.server import BotApiEmulator
from tests.e2e.conftest import (STARTUP_TIMEOUT, TOKEN, WA_TOKEN, WAIT, BotProcess, port_open, start_bot,
                                stop_and_audit, telegram_env, wait_until, whatsapp_env)
from tests.graphapi.server import GraphApiEmulator

BUDGET_Q = "מה התקציב של החלטה 4321?"


@pytest.fixture(scope="module")
def both(emulator: BotApiEmulator, graph: GraphApiEmulator,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    port = graph.bot_port  # type: ignore[attr-defined]
    bot = start_bot(emulator, tmp_path_factory.mktemp("two-channels"),
                    channels={**telegram_env(emulator), **whatsapp_env(graph, port)})
    try:
        wait_until(lambda: bool(emulator.calls("getUpdates", ok=True)), bot, STARTUP_TIMEOUT, "the first getUpdates")
        wait_until(lambda: port_open(port), bot, STARTUP_TIMEOUT, "the WhatsApp webhook server")
        yield bot
    finally:
        stop_and_audit(bot, TOKEN, WA_TOKEN, graph.app_secret)


async def test_one_process_answers_on_both_channels(emulator: BotApiEmulator, graph: GraphApiEmulator,
                                                    both: BotProcess) -> None:
    since = emulator.mark()
    emulator.push_private_text(6001, BUDGET_Q)
    tg = await emulator.wait_for("sendMessage", lambda c: c.chat_id == 6001, WAIT, since=since)
    assert "<b>התקציב של החלטה 4321</b>" in tg.text

    start = len(graph.calls())
    graph.push(graph.text("972503330001", BUDGET_Q))
    wa = await graph.wait_for(lambda c: c.seq >= start and c.to == "972503330001" and c.ok, WAIT)
    assert (wa.text or "").startswith("*התקציב של החלטה 4321*")

    rows = both.sql("SELECT channel, count(*) FROM questions GROUP BY channel ORDER BY channel")
    assert rows == [("telegram", 1), ("whatsapp", 1)]  # one store for both
