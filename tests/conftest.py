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
