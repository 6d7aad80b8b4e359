"""``serve``: a store that cannot be opened ends the run at once, with every channel closed."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.run import serve
from bot.runtime import Runtime
from bot.settings import Settings
from knowledge.errors import StoreError
from tests.store_faults import threads, threads_left


class RecordingChannel:
    name = "recording"

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def start(self, servers) -> None:
        self.calls.append("start")
        servers.on("127.0.0.1", 0).add("POST", "/hook", None)

    async def announce(self) -> None:
        self.calls.append("announce")

    async def stop_receiving(self) -> None:
        self.calls.append("stop_receiving")

    async def ack(self) -> None:
        self.calls.append("ack")

    async def close(self) -> None:
        self.calls.append("close")


async def test_a_store_that_cannot_be_opened_ends_serve_with_channels_closed(good_kb: Path, tmp_path: Path):
    db = tmp_path / "rashut.db"
    db.write_bytes(b"\x00garbage" * 512)
    runtime = Runtime.build(Settings(kb_path=good_kb, db_path=db, hash_key="k", watch_kb=False))
    first, second = RecordingChannel(), RecordingChannel()
    before = threads()
    with pytest.raises(StoreError, match=f"^{db}: is not a database"):
        await serve(runtime, [first, second])
    for ch in (first, second):
        assert "start" not in ch.calls and ch.calls[-1] == "close"  # never started, closed all the same
    assert not runtime.started and runtime.store._db is None and threads_left(before) == []


async def test_a_channel_that_fails_to_close_does_not_keep_the_others_open(good_kb: Path, tmp_path: Path):
    db = tmp_path / "rashut.db"
    db.write_bytes(b"\x00garbage" * 512)
    runtime = Runtime.build(Settings(kb_path=good_kb, db_path=db, hash_key="k", watch_kb=False))
    broken, other = RecordingChannel(), RecordingChannel()

    async def explode() -> None:
        raise RuntimeError("close failed")

    broken.close = explode  # type: ignore[method-assign]
    with pytest.raises(StoreError):  # the cause of the stop is what is reported, not the close
        await serve(runtime, [broken, other])
    assert other.calls[-1] == "close"
