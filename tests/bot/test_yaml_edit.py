"""bot.yaml_edit: questions are added to curated YAML files without touching anything else."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.yaml_edit import (EditError, add_questions, append_entry, block_item, changed_lines, flow_item,
                           unified_diff, write_atomic, write_validated)
from knowledge.errors import KnowledgeError
from knowledge.loader import load_base

FIXTURE = Path(__file__).parent / "fixtures_curation" / "kb"
NEW = ["מי מכסה את כרטיסי הטיסה של האורחים?", "שאלה: עם נקודתיים", "- מתחיל במקף", "צה\"ל # לא הערה"]


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    dest = tmp_path / "kb"
    shutil.copytree(FIXTURE, dest)
    return dest


def _only_added(old: str, new: str) -> list[str]:
    removed, added = changed_lines(old, new)
    assert removed == [], f"lines changed or removed:\n{unified_diff(old, new)}"
    return added


def _questions(text: str, entry_id: str) -> list[str]:
    for e in yaml.safe_load(text)["entries"]:
        if e["id"] == entry_id:
            return e.get("questions") or []
    raise AssertionError(entry_id)


@pytest.mark.parametrize("entry_id", ["visits-who-pays", "visits-gifts"])
def test_block_list_gets_only_added_lines(kb, entry_id):
    old = (kb / "visits.yaml").read_text(encoding="utf-8")
    new = add_questions(old, entry_id, NEW)
    print(unified_diff(old, new, "visits.yaml"))
    added = _only_added(old, new)
    assert len(added) == len(NEW) and all(line.lstrip().startswith("- ") for line in added)
    assert _questions(new, entry_id) == _questions(old, entry_id) + NEW
    # every comment, and the original order of lines, survive
    assert [line for line in new.splitlines() if "#" in line and "לא הערה" not in line] == \
           [line for line in old.splitlines() if "#" in line]
    # the items copy the list's own indentation style
    item_prefix = next(line for line in old.splitlines() if _questions(old, entry_id)[0] in line).split("-")[0]
    assert all(line.startswith(item_prefix + "- ") for line in added)


def test_missing_questions_key_is_added_after_answer(kb):
    old = (kb / "topics" / "clusters.yaml").read_text(encoding="utf-8")
    new = add_questions(old, "clusters-what-is", ["מה זה אשכול אזורי"])
    added = _only_added(old, new)
    assert [a.strip() for a in added] == ["questions:", "- מה זה אשכול אזורי"]
    lines = new.splitlines()
    at = lines.index("    questions:")
    assert lines[at - 1].strip() == "באספקת שירותים ובפיתוח אזורי."  # right after the answer's last line
    assert lines[at + 2].strip().startswith("# no alternate questions yet")  # the comment stays below
    assert yaml.safe_load(new)["entries"][0]["answer"] == yaml.safe_load(old)["entries"][0]["answer"]


def test_null_questions_key_gets_items(tmp_path):
    old = "schema: 1\nentries:\n  - id: a\n    answer: x\n    questions:   # none yet\n    keywords: [k]\n"
    new = add_questions(old, "a", ["שאלה חדשה"])
    assert _only_added(old, new) == ["      - שאלה חדשה"]
    assert yaml.safe_load(new)["entries"][0]["questions"] == ["שאלה חדשה"]


def test_flow_list_changes_one_line_and_keeps_meaning(kb):
    old = (kb / "visits.yaml").read_text(encoding="utf-8")
    new = add_questions(old, "visits-summary", NEW)
    removed, added = changed_lines(old, new)
    assert len(removed) == 1 and len(added) == 1 and removed[0].strip().startswith("questions: [")
    assert _questions(new, "visits-summary") == _questions(old, "visits-summary") + NEW


@pytest.mark.parametrize("text", NEW + ["רגיל", "מה זה?", "[סוגריים]", "{x}", "yes", "123", "a, b", "'גרש"])
def test_scalars_round_trip(text):
    assert yaml.safe_load(f"- {block_item(text)}") == [text]
    assert yaml.safe_load(f"[{flow_item(text)}]") == [text]


def test_non_ascii_rtl_and_crlf_preserved(tmp_path):
    rtl = "\u200fמה התקציב? \u202bהחלטה 546\u202c 🙂"
    old = ("schema: 1\r\n# הערה בעברית\r\nentries:\r\n  - id: a\r\n    answer: תשובה – עם מקף\r\n"
           "    questions:\r\n      - \"צה״ל\"\r\n")
    new = add_questions(old, "a", [rtl])
    assert new.startswith(old) and new.endswith("\r\n") and "\n" not in new.replace("\r\n", "")
    assert yaml.safe_load(new)["entries"][0]["questions"] == ["צה״ל", rtl]
    path = tmp_path / "a.yaml"
    path.write_bytes(old.encode("utf-8"))
    write_atomic(path, new.encode("utf-8"))
    assert path.read_bytes() == new.encode("utf-8")  # byte for byte, bidi marks and emoji included


def test_file_without_final_newline(tmp_path):
    old = "schema: 1\nentries:\n  - id: a\n    answer: x\n    questions:\n      - q1"
    new = add_questions(old, "a", ["q2"])
    assert yaml.safe_load(new)["entries"][0]["questions"] == ["q1", "q2"]


def test_refuses_what_it_cannot_edit_safely():
    with pytest.raises(EditError, match="flow style"):
        add_questions("entries:\n  - {id: a, answer: x}\n", "a", ["q"])
    with pytest.raises(EditError, match="not in this file"):
        add_questions("entries:\n  - id: a\n    answer: x\n", "b", ["q"])
    with pytest.raises(EditError, match="not a list"):
        add_questions("entries:\n  - id: a\n    answer: x\n    questions: q\n", "a", ["q2"])
    with pytest.raises(EditError, match="cannot parse"):
        add_questions("entries: [\n", "a", ["q"])


def test_append_entry_only_adds(kb):
    old = (kb / "topics" / "clusters.yaml").read_text(encoding="utf-8")
    new = append_entry(old, ["- id: clusters-new", "  title: חדש", "  answer: תשובה"])
    _only_added(old, new)
    assert yaml.safe_load(new)["entries"][-1] == {"id": "clusters-new", "title": "חדש", "answer": "תשובה"}
    (kb / "topics" / "clusters.yaml").write_text(new, encoding="utf-8")
    assert load_base(kb).entry("clusters-new") is not None


def test_broken_result_restores_original_bytes(kb):
    path = kb / "visits.yaml"
    original = path.read_bytes()
    broken = original + "  - id: visits-broken\n    answer: [לא סגור\n".encode()
    with pytest.raises(KnowledgeError) as info:
        write_validated(path, broken, lambda: load_base(kb))
    assert "visits.yaml:" in str(info.value)
    assert path.read_bytes() == original
    assert not [p for p in kb.iterdir() if p.name.startswith(".")]  # no temp files left behind
    load_base(kb)  # and the base is valid again


def test_write_atomic_refuses_a_file_changed_meanwhile(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_bytes(b"one\n")
    with pytest.raises(EditError, match="changed while"):
        write_atomic(path, b"two\n", expect=b"something else\n")
    assert path.read_bytes() == b"one\n"


def test_write_atomic_keeps_permissions(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_bytes(b"x: 1\n")
    path.chmod(0o640)
    write_atomic(path, b"x: 2\n")
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("text", ["[" * 1000, "{a: " * 500, "a\x00b", "*alias", "&anchor x"])
def test_scalars_that_would_trip_the_yaml_reader_still_round_trip(text):
    """A user's question (or a subject a curator types) goes through the loader's own limits, so
    1,000 '[' are quoted, not a RecursionError."""
    assert yaml.safe_load(f"- {block_item(text)}") == [text]
    assert yaml.safe_load(f"[{flow_item(text)}]") == [text]
