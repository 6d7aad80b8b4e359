"""Knowledge files that used to crash, stall or fool the loader (issue: the YAML loader is not
hardened). Shared by the loader, start-up, ``kb validate`` and reload tests, so every entry point
is checked against the same inputs.

Each fault writes one file (or link) into a knowledge folder and says what the curator must see:
the file's label, the line (None where no line exists) and a phrase of the message.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

HEAD = "schema: 1\nkind: topic\nid: bad\ntitle: כותרת\nsource: {name: מקור}\n"
ENTRY = "entries:\n  - id: bad-1\n    title: כותרת\n    answer: תשובה\n"


def billion_laughs() -> str:
    """The classic: ten anchors, each a list of nine aliases of the one before (9^9 "lol"s)."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return HEAD + "\n".join(lines) + "\n" + ENTRY


def aliased_answer(copies: int = 2000, words: int = 3000) -> str:
    """A valid-looking entry whose questions are ``copies`` aliases of a long answer: 44 KB on
    disk, 40 MB of text for the matcher (before the fix: 74 s and 2.3 GB, and accepted)."""
    long = " ".join(f"מילה{i}" for i in range(words))
    return (HEAD + "entries:\n  - id: bad-1\n    title: כותרת\n"
            f"    answer: &long \"{long}\"\n    questions: [" + ", ".join(["*long"] * copies) + "]\n")


def merge_bomb(levels: int, width: int = 2) -> str:
    """yaml/pyyaml#897: each mapping merges the one before ``width`` times, ``levels`` deep."""
    lines = ["m0: &m0 {k0: v}"] + [f"m{i}: &m{i} {{<<: [" + ", ".join([f"*m{i - 1}"] * width) + f"], k{i}: v}}"
                                   for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Fault:
    name: str
    file: str  # the label every message must start with
    line: int | None  # None: the problem has no line (the whole file is refused)
    needle: str  # part of the message
    write: Callable[[Path], None]  # writes the fault into a knowledge folder


def _text(name: str, text: str) -> Callable[[Path], None]:
    return lambda root: (root / name).write_text(text, encoding="utf-8")


def _outside_link(root: Path) -> None:
    secret = root.parent / "outside.yaml"
    secret.write_text(HEAD.replace("id: bad", "id: leaked") + ENTRY.replace("bad-1", "leaked-1"), encoding="utf-8")
    (root / "linked.yaml").symlink_to(secret)


def _big(root: Path) -> None:
    from knowledge import yaml_source

    MAX_FILE_BYTES = getattr(yaml_source, "MAX_FILE_BYTES", 2 * 1024 * 1024)
    line = "    - " + "שאלה ארוכה " * 8 + "\n"
    body = HEAD + ENTRY + "    questions:\n"
    (root / "big.yaml").write_text(body + line * (MAX_FILE_BYTES // len(line.encode()) + 1), encoding="utf-8")


FAULTS = [
    Fault("deep", "deep.yaml", 1, "nested more than", _text("deep.yaml", "a: " + "[" * 1000 + "]" * 1000 + "\n")),
    Fault("nul", "nul.yaml", 4, "U+0000 (NUL) at column 13",
          _text("nul.yaml", HEAD.replace("title: כותרת", "title: כותרת\x00 עם NUL") + ENTRY)),
    Fault("control", "control.yaml", 9, "U+001B (escape) at column 18",
          _text("control.yaml", HEAD + ENTRY.replace("answer: תשובה", "answer: תשובה\x1b[0m"))),
    Fault("bad-date", "date.yaml", 5, "2024-02-30",
          _text("date.yaml", HEAD.replace("{name: מקור}", "{name: מקור, as_of: 2024-02-30}") + ENTRY)),
    Fault("huge-number", "number.yaml", 1, "not a valid value", _text("number.yaml", "n: " + "7" * 5000 + "\n")),
    Fault("too-big", "big.yaml", None, "limit", _big),
    Fault("billion-laughs", "laughs.yaml", 12, "alias", _text("laughs.yaml", billion_laughs())),
    Fault("aliased-answer", "aliased.yaml", 10, "alias", _text("aliased.yaml", aliased_answer())),
    Fault("merge-bomb", "merge.yaml", 10, "alias", _text("merge.yaml", merge_bomb(40))),
    Fault("link-outside", "linked.yaml", None, "outside the knowledge folder", _outside_link),
]
