"""Every `rashut` command the README and the curators' guide show is one the command line accepts."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from bot.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
COMMAND = re.compile(r"^(?:\.venv/bin/)?rashut\s+(.+?)(?:\s+#.*)?$")


def commands() -> list[tuple[str, str]]:
    found = []
    for doc in (REPO / "README.md", REPO / "docs" / "curators.md", REPO / "docs" / "deployment.md"):
        for line in doc.read_text(encoding="utf-8").splitlines():
            for part in re.findall(r"`((?:\.venv/bin/)?rashut [^`]+)`", line) or [line.strip()]:
                m = COMMAND.match(part.strip())
                if m and "<" not in m.group(1):
                    found.append((doc.name, m.group(1)))
    return found


def test_the_docs_show_commands() -> None:
    assert len(commands()) > 20


@pytest.mark.parametrize("doc, args", commands())
def test_documented_command_parses(doc: str, args: str) -> None:
    words = [w for w in shlex.split(args) if w != "|"]
    words = [w.replace("GROUP", "7").replace("ENTRY_ID", "some-entry") for w in words]
    try:
        build_parser().parse_args(words)
    except SystemExit as exc:
        pytest.fail(f"{doc}: `rashut {args}` is not a valid command (exit {exc.code})")
