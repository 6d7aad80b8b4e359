from pathlib import Path

import pytest

from knowledge.errors import KnowledgeError
from knowledge.loader import BUNDLED_BASE, load_base

DATA = Path(__file__).parent.parent / "data"


def test_good_fixture_loads_with_structure():
    kb = load_base(DATA / "good")
    assert len(kb.entries) == 5
    d = kb.decision(546)
    assert d is not None and d.decision.date.isoformat() == "2013-07-14"
    e = kb.entries["dec-546-localities"]
    assert e.clause == "3(ב)" and e.decision_number == 546 and e.file == "decision-546.yaml"
    assert e.line == 24
    assert kb.entries["visits-who-pays"].checklist == ("לסכם מראש מי משלם על מה",)
    assert [p.id for p in kb.document("visits").phases] == ["visits-before", "visits-after"]
    assert kb.synonyms[0][0] == "משלחת"


def test_entry_source_inherits_document_source():
    kb = load_base(DATA / "good")
    src = kb.entries["dec-546-budget"].source
    assert src.name == "טקסט ההחלטה" and src.url == "https://example.org/546"


@pytest.mark.parametrize(
    "case, file, line, needle",
    [
        ("indentation", "decision-2025.yaml", 9, "YAML syntax"),
        ("unknown-key", "visits.yaml", 19, "field 'anwser_extra': unknown key"),
        ("duplicate-id", "decision-546.yaml", 15, "duplicate id"),
        ("python-tag", "decision-2025.yaml", 10, "python/object/apply:os.system' refused"),
        ("empty-answer", "visits.yaml", 19, "field 'answer': must not be empty"),
        ("non-utf8", "visits.yaml", 19, "not valid UTF-8"),
        ("dangling-related", "decision-546.yaml", 15, "related id 'dec-546-nowhere' does not exist"),
        ("shared-question", "decision-546.yaml", 15, "is also claimed by entry 'dec-2025-budget'"),
        ("duplicate-key", "visits.yaml", 13, "duplicate key 'phase'"),
    ],
)
def test_broken_fixtures_name_file_and_line(case, file, line, needle):
    with pytest.raises(KnowledgeError) as info:
        load_base(DATA / "broken" / case)
    rendered = str(info.value)
    assert f"{file}:{line}:" in rendered, rendered
    assert needle in rendered, rendered


def test_python_tag_is_never_executed(tmp_path, monkeypatch):
    called = []
    monkeypatch.setattr("os.system", lambda *a: called.append(a))
    with pytest.raises(KnowledgeError):
        load_base(DATA / "broken" / "python-tag")
    assert called == []


def test_all_problems_are_reported_not_just_the_first(good_kb):
    (good_kb / "visits.yaml").write_text(
        (good_kb / "visits.yaml").read_text().replace("phase: visits-after", "phase: visits-later\n    color: red"),
        encoding="utf-8")
    with pytest.raises(KnowledgeError) as info:
        load_base(good_kb)
    messages = [str(p) for p in info.value.problems]
    assert any("'visits-later' is not declared" in m for m in messages)
    assert any("field 'color': unknown key" in m for m in messages)


def test_missing_fields_and_wrong_kind(good_kb):
    (good_kb / "x.yaml").write_text("schema: 2\nkind: memo\nid: Bad Id\nentries: []\n", encoding="utf-8")
    with pytest.raises(KnowledgeError) as info:
        load_base(good_kb)
    text = str(info.value)
    for needle in ("x.yaml:1: field 'schema': schema must be 1", "field 'kind'", "not a valid id",
                   "field 'title': is required", "field 'source': is required", "field 'entries'"):
        assert needle in text, text


def test_decision_requires_number_and_date(good_kb):
    p = good_kb / "decision-2025.yaml"
    p.write_text(p.read_text().replace("number: 2025, date: 2014-09-23", "number: abc, date: soon"), encoding="utf-8")
    with pytest.raises(KnowledgeError) as info:
        load_base(good_kb)
    assert "decision-2025.yaml:6: field 'number': decision number must be a positive whole number" in str(info.value)


def test_empty_folder_and_missing_folder(tmp_path):
    with pytest.raises(KnowledgeError, match="no .yaml files"):
        load_base(tmp_path)
    with pytest.raises(KnowledgeError, match="not found"):
        load_base(tmp_path / "nope")


def test_bundled_base_is_valid():
    kb = load_base(BUNDLED_BASE)
    assert len(kb.entries) > 50


def test_bundled_decision_answers_state_their_number_and_date_and_every_entry_names_a_source():
    """The issue's rule for the bundled base: an answer about a decision says which decision and
    when, in its own text (not only in the citation line), and no entry is without a source."""
    kb = load_base(BUNDLED_BASE)
    for e in kb.entries.values():
        assert e.source is not None and e.source.name.strip(), e.id
        if e.decision_number is not None:
            d = e.decision_date
            assert str(e.decision_number) in e.answer, e.id
            assert f"{d.day}.{d.month}.{d.year}" in e.answer, e.id


# ---------------------------------------------------------------------- hardening: links and start-up
import os
import time

from bot.cli import main
from knowledge.engine import Engine
from tests.yaml_faults import FAULTS, HEAD, ENTRY


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_start_up_with_a_bad_file_is_a_problem_naming_the_file(good_kb, fault):
    """``Engine(root)`` is what the Telegram runner and the console chat build at start-up."""
    fault.write(good_kb)
    t0 = time.perf_counter()
    with pytest.raises(KnowledgeError) as info:
        Engine(good_kb)
    assert time.perf_counter() - t0 < 5
    first = info.value.problems[0]
    assert (first.file, first.line) == (fault.file, fault.line), info.value.render(limit=3)
    assert fault.needle in first.message


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_kb_validate_lists_the_problem_and_fails(good_kb, fault, capsys):
    fault.write(good_kb)
    assert main(["kb", "validate", "--kb", str(good_kb)]) == 1
    err = capsys.readouterr().err
    where = f"{fault.file}:{fault.line}:" if fault.line else f"{fault.file}: "
    assert where in err and fault.needle in err and "Traceback" not in err, err[:2000]


def _doc(doc_id: str) -> str:
    return HEAD.replace("id: bad", f"id: {doc_id}") + ENTRY.replace("bad-1", f"{doc_id}-1")


def test_file_link_outside_the_folder_is_refused_and_never_served(good_kb):
    outside = good_kb.parent / "outside.yaml"
    outside.write_text(_doc("leaked"), encoding="utf-8")
    (good_kb / "linked.yaml").symlink_to(outside)
    with pytest.raises(KnowledgeError) as info:
        load_base(good_kb)
    (problem,) = info.value.problems
    assert problem.file == "linked.yaml" and problem.line is None
    assert f"link to {outside}, outside the knowledge folder" in problem.message


def test_folder_link_outside_the_folder_is_refused(good_kb):
    outside = good_kb.parent / "elsewhere"
    outside.mkdir()
    (outside / "x.yaml").write_text(_doc("leaked"), encoding="utf-8")
    (good_kb / "more").symlink_to(outside, target_is_directory=True)
    with pytest.raises(KnowledgeError) as info:
        load_base(good_kb)
    assert [(p.file, p.line) for p in info.value.problems] == [("more", None)]
    assert "folder link" in info.value.problems[0].message and "outside the knowledge folder" in str(info.value)


def test_folder_links_and_loops_inside_the_folder_neither_hang_nor_load_twice(good_kb):
    sub = good_kb / "sub"
    sub.mkdir()
    (sub / "extra.yaml").write_text(_doc("extra"), encoding="utf-8")
    (good_kb / "loop").symlink_to(good_kb, target_is_directory=True)  # the folder inside itself
    (sub / "up").symlink_to("..", target_is_directory=True)
    (good_kb / "sub-again").symlink_to(sub, target_is_directory=True)
    t0 = time.perf_counter()
    kb = load_base(good_kb)
    assert time.perf_counter() - t0 < 5
    assert len(kb.entries) == 6 and kb.entries["extra-1"].file == os.path.join("sub", "extra.yaml")


def test_a_file_link_loop_is_a_problem_naming_the_link(good_kb):
    (good_kb / "a.yaml").symlink_to(good_kb / "b.yaml")
    (good_kb / "b.yaml").symlink_to(good_kb / "a.yaml")
    with pytest.raises(KnowledgeError) as info:
        load_base(good_kb)
    assert [(p.file, "loop" in p.message) for p in info.value.problems] == [("a.yaml", True), ("b.yaml", True)]


def test_a_file_link_inside_the_folder_is_read_under_its_own_name(good_kb):
    store = good_kb / "store"
    store.mkdir()
    (store / "extra.txt").write_text(_doc("extra"), encoding="utf-8")  # not .yaml: read only through the link
    (good_kb / "extra.yaml").symlink_to(Path("store") / "extra.txt")
    kb = load_base(good_kb)
    assert kb.entries["extra-1"].file == "extra.yaml"


def test_dangling_links_such_as_editor_lock_files_are_skipped(good_kb):
    (good_kb / ".#visits.yaml").symlink_to("curator@host.12345:1700000000")  # how Emacs locks a file
    assert len(load_base(good_kb).entries) == 5


def test_the_knowledge_folder_itself_may_be_a_link(good_kb, tmp_path):
    """A common deployment: /srv/kb -> /srv/kb-2025-06, swapped atomically to publish a new base."""
    link = tmp_path / "current"
    link.symlink_to(good_kb, target_is_directory=True)
    kb = load_base(link)
    assert len(kb.entries) == 5 and kb.entries["visits-who-pays"].file == "visits.yaml"


def test_a_folder_that_cannot_be_listed_is_a_problem_not_a_silent_gap(good_kb, monkeypatch):
    (good_kb / "sub").mkdir()
    real_scandir = os.scandir

    def scandir(path):  # the tests run as root, which can list anything: refuse like chmod 000 would
        if Path(path).name == "sub":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(KnowledgeError) as info:
        load_base(good_kb)
    assert [str(p) for p in info.value.problems] == ["sub: folder cannot be read (Permission denied)"]


def test_every_answer_that_dates_decision_546_carries_the_13_7_caveat():
    """The fact sheet rates 14.7.2013 medium-high (later decisions cite 13.7.2013): wherever an
    answer states the date, it says so."""
    from knowledge.loader import load_base

    stated = [e for e in load_base().entries.values() if "14.7.2013" in e.answer]
    assert stated and all("13.7.2013" in e.answer for e in stated)


@pytest.mark.parametrize("broken, message", [('    title: ""', "must not be empty"), ("    title: [a, b]", "got a list")])
def test_a_broken_entry_is_one_error_not_two(good_kb, broken, message):
    """An entry whose title is broken is reported once; a related id naming it is not a second error."""
    path = good_kb / "decision-546.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    title: יישובי המטרה של החלטה 546", broken, 1), encoding="utf-8")
    with pytest.raises(KnowledgeError) as info:
        load_base(good_kb)
    (problem,) = info.value.problems
    assert problem.entry == "dec-546-localities" and problem.field == "title" and message in problem.message
