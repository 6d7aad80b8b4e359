"""Every link in the documentation resolves inside a clone, and nothing points outside it."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", REPO / ".env.example", *sorted((REPO / "docs").rglob("*.md")),
        *sorted((REPO / "benchmarks").rglob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_relative_links_resolve_inside_the_repository() -> None:
    broken = []
    for doc in DOCS:
        for target in LINK.findall(doc.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "mailto:", "#")):
                continue
            path = (doc.parent / target.split("#", 1)[0]).resolve()
            if not path.exists() or not path.is_relative_to(REPO):
                broken.append(f"{doc.relative_to(REPO)} -> {target}")
    assert broken == []
    assert len(DOCS) > 5


def test_nothing_points_outside_the_clone() -> None:
    outside = []
    for path in [*DOCS, *REPO.glob("*.toml"), REPO / "Makefile", REPO / "Dockerfile",
                 *(p for pkg in ("bot", "knowledge", "handlers", "benchmarks") for p in (REPO / pkg).rglob("*.py"))]:
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "../shared" in line or "/work/shared" in line:
                outside.append(f"{path.relative_to(REPO)}:{i}")
    assert outside == []
