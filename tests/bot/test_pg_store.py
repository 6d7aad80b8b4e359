"""What only the shared store does: a lost database connection costs neither answers nor what
was to be stored, and says so in /stats; replicas hear each other's reloads."""
from __future__ import annotations

import asyncio
from pathlib import Path

from bot import texts
from bot.curator import stats_text
from bot.pg_store import PgStore, safe_label
from bot.runtime import Runtime
from knowledge.errors import StoreError
from tests.handlers.whatsapp.wa_harness import Harness, Recorder, wa_settings
from tests.pgserver import Server


def test_the_password_never_reaches_a_message() -> None:
    assert safe_label("postgresql://rashut:s3cret@db.internal:5432/rashut") == "postgresql://rashut@db.internal:5432/rashut"


async def test_a_database_that_cannot_be_reached_is_one_clear_error(tmp_path: Path) -> None:
    store = PgStore("postgresql://nobody:pw@127.0.0.1:1/none")
    try:
        await store.connect()
    except StoreError as exc:
        assert "127.0.0.1:1" in str(exc) and "pw" not in str(exc) and "cannot connect" in str(exc)
    else:
        raise AssertionError("connected to nothing")


async def test_lost_connection_keeps_answering_keeps_writes_and_says_so(tmp_path: Path, good_kb: Path) -> None:
    kb = Path(__file__).resolve().parents[1] / "handlers" / "telegram" / "fixtures" / "kb"
    with Server() as pg:
        url = pg.create_database("outage")
        store = PgStore(url)
        await store.connect()
        runtime = Runtime.build(wa_settings(kb, tmp_path / "unused.db"), store=store)
        wa = Harness(runtime, Recorder())
        try:
            pg.halt()  # the database goes away
            (answer,) = await wa.text("מה התקציב של החלטה 1234")
            assert answer.text.startswith("*התקציב של החלטה 1234*")  # answered from the loaded base
            (unknown,) = await wa.text("מה מזג האוויר מחר", wa_id="972509999000")
            assert texts.QUEUED_NOTE not in unknown.text  # no promise the write cannot keep
            assert runtime.inbox.counters.direct == 2
            health = store.health()
            assert not health.ok and health.waiting >= 3  # two questions' statistics and the queue row
            shown = stats_text(await runtime.curator.stats())
            assert texts.CURATOR_STORE_DOWN.split("{")[0] in shown
            pg.resume()  # back: the kept writes are written
            for _ in range(300):
                if store.health().waiting == 0:
                    break
                await asyncio.sleep(0.1)
            assert store.health().ok and store.health().waiting == 0
            assert [r.text for r in await store.unanswered()] == ["מה מזג האוויר מחר"]
            assert (await store.stats()).by_kind.get("answer") == 1
        finally:
            await wa.channel.close()
            await store.close()


async def test_replicas_hear_each_others_bases(pg_url: str) -> None:
    a, b = PgStore(pg_url), PgStore(pg_url)
    await a.connect()
    await b.connect()
    heard: list[str] = []

    async def on_change(fp: str) -> None:
        heard.append(fp)

    try:
        b.listen(on_change)
        for _ in range(50):
            await a.announce("f" * 64)
            await asyncio.sleep(0.1)
            if heard:
                break
        assert heard and heard[0] == "f" * 64
    finally:
        await a.close()
        await b.close()
