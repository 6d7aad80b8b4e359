"""docs/coverage.md must map every source row to existing entries, or say why not."""
import re
from pathlib import Path

from knowledge.loader import load_base

ROOT = Path(__file__).resolve().parents[2]


def rows():
    lines = (ROOT / "docs" / "coverage.md").read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines):
        header = n + 1 < len(lines) and lines[n + 1].startswith("| ---")
        if line.startswith("|") and not set(line) <= set("|- ") and not header:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            yield line, cells


def test_every_row_has_entries_or_a_reason():
    kb = load_base()
    ids = set(kb.entries) | {d.id for d in kb.documents}
    id_like = re.compile(r"\b[a-z0-9]+(?:-[a-z0-9]+)+\b")
    checked = 0
    for line, cells in rows():
        if len(cells) < 3 or cells[0] in ("#", "file") or cells[0].startswith(("`knowledge/", "`tests/")) or "entry ids" in line or "entries" == cells[-1]:
            continue
        named = [t for c in cells for t in id_like.findall(c) if t.split("-")[0] in {i.split("-")[0] for i in ids}]
        unknown = [t for t in named if t not in ids and not t.endswith(".yaml")]
        assert not unknown, f"unknown ids {unknown} in: {line}"
        has_ids = any(t in ids for t in named)
        has_reason = "not mapped" in line.lower() or "לא ממופה" in line
        assert has_ids or has_reason, f"row with neither entry ids nor a reason: {line}"
        checked += 1
    assert checked > 100


def test_every_entry_is_mapped_somewhere():
    kb = load_base()
    text = (ROOT / "docs" / "coverage.md").read_text(encoding="utf-8")
    missing = [e for e in kb.entries if e not in text]
    assert not missing, f"entries answering nothing in the sources: {missing}"
