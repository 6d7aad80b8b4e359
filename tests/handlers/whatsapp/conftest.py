"""Fixtures of the WhatsApp adapter tests; the harness lives in ``wa_harness``."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import AsyncIterator

import pytest

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.runtime import Runtime  # noqa: E402
from bot.sqlite_store import SqliteStore  # noqa: E402
from tests.handlers.whatsapp.wa_harness import Harness, Recorder, wa_settings  # noqa: E402

FIXTURE_KB = REPO / "tests" / "handlers" / "telegram" / "fixtures" / "kb"


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    dest = tmp_path / "kb"
    shutil.copytree(FIXTURE_KB, dest)
    return dest


@pytest.fixture
async def wa(kb_dir: Path, tmp_path: Path) -> AsyncIterator[Harness]:
    store = await SqliteStore.open(tmp_path / "wa.db")
    runtime = Runtime.build(wa_settings(kb_dir, tmp_path / "wa.db"), store=store)
    h = Harness(runtime, Recorder())
    yield h
    await h.channel.close()
    await store.close()
