"""Shared fixtures. Tests never reach the network: everything runs on files and 127.0.0.1."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
GOOD_KB = DATA / "good"


@pytest.fixture
def good_kb(tmp_path: Path) -> Path:
    """A writable copy of the small, valid fixture base."""
    dest = tmp_path / "kb"
    shutil.copytree(GOOD_KB, dest)
    return dest


# ---------------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="session")
def pg_server():
    """One throwaway PostgreSQL server for the whole run (``tests/pgserver.py``). A machine without
    the server binaries gets them installed; a server that cannot start fails the tests that need
    it, never skips them."""
    from tests.pgserver import Server

    with Server() as server:
        yield server


@pytest.fixture
def pg_url(pg_server, request) -> str:
    """A fresh, empty database on the throwaway server, for one test."""
    import re
    import uuid

    name = "t_" + re.sub(r"\W", "_", request.node.name.lower())[:40] + "_" + uuid.uuid4().hex[:8]
    return pg_server.create_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request, tmp_path: Path) -> str:
    """Where a store lives, once for each backend: every test using it runs against both."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture
async def any_store(store_target: str):
    from bot.store import open_store

    store = await open_store(store_target)
    yield store
    await store.close()
