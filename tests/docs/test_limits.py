"""The per-file size cap the loader enforces is the one the schema and the curators' guide state."""
from pathlib import Path

from knowledge.yaml_source import MAX_DEPTH, MAX_FILE_BYTES

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_docs_state_the_caps_the_loader_enforces():
    mb = MAX_FILE_BYTES // 2**20
    assert MAX_FILE_BYTES == mb * 2**20
    schema = (DOCS / "knowledge-schema.md").read_text(encoding="utf-8")
    assert f"at most {mb} MB (`MAX_FILE_BYTES`" in schema and f"deeper than {MAX_DEPTH} levels" in schema
    assert f"בגודל {mb}MB לכל היותר" in (DOCS / "curators.md").read_text(encoding="utf-8")
