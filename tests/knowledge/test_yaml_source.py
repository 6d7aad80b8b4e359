from knowledge.yaml_source import LineList, LineMap, read_yaml


def test_lines_of_mappings_keys_and_items_are_kept(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("id: x\nentries:\n  - id: one\n    title: t\n  - id: two\n", encoding="utf-8")
    data, problems = read_yaml(path)
    assert problems == []
    assert isinstance(data, LineMap) and data.key_lines["entries"] == 2
    assert isinstance(data["entries"], LineList) and data["entries"].item_lines == [3, 5]
    assert data["entries"][1].line == 5


def test_duplicate_keys_and_unsafe_tags_are_problems_with_lines(tmp_path):
    dup = tmp_path / "dup.yaml"
    dup.write_text("id: x\ntitle: a\ntitle: b\n", encoding="utf-8")
    _, problems = read_yaml(dup)
    assert [(p.line, p.field) for p in problems] == [(3, "title")]
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text("id: !!python/object/apply:os.system ['true']\n", encoding="utf-8")
    data, problems = read_yaml(unsafe)
    assert data is None and problems[0].line == 1 and "refused" in problems[0].message


# ---------------------------------------------------------------------- hardening: every bad input is a Problem
import time
from pathlib import Path

import pytest
import yaml

import knowledge.yaml_source as yaml_source
from knowledge.yaml_source import MAX_DEPTH, MAX_FILE_BYTES, safe_load
from tests.yaml_faults import FAULTS, aliased_answer, billion_laughs, merge_bomb

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
YAML_FAULTS = [f for f in FAULTS if f.name != "link-outside"]  # a link is the folder walk's business


@pytest.mark.parametrize("fault", YAML_FAULTS, ids=lambda f: f.name)
def test_each_fault_is_one_located_problem_not_an_exception(tmp_path, fault):
    fault.write(tmp_path)
    t0 = time.perf_counter()
    data, problems = read_yaml(tmp_path / fault.file, fault.file)
    assert time.perf_counter() - t0 < 2
    refused = data is None
    del data  # never let a failing assertion print a billion laughs
    assert refused and problems, problems
    assert (problems[0].file, problems[0].line) == (fault.file, fault.line), [str(p) for p in problems]
    assert fault.needle in problems[0].message, problems[0].message


def test_nesting_is_capped_in_block_style_with_the_line_of_the_level_too_deep(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5)) + "  " * (MAX_DEPTH + 5) + "x\n")
    _, problems = read_yaml(path)
    assert [p.line for p in problems] == [MAX_DEPTH] and f"more than {MAX_DEPTH} levels" in problems[0].message
    fine = tmp_path / "fine.yaml"
    fine.write_text("".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH - 1)) + "  " * (MAX_DEPTH - 1) + "x\n")
    assert read_yaml(fine)[1] == []


def test_aliases_count_towards_the_depth(tmp_path):
    """Each anchor nests the previous alias a little deeper: no single list is deep, the data is."""
    lines = ["a0: &a0 [x]"] + [f"a{i}: &a{i} [[[*a{i - 1}]]]" for i in range(1, 40)]
    path = tmp_path / "chain.yaml"
    path.write_text("\n".join(lines) + "\n")
    _, problems = read_yaml(path)
    assert len(problems) == 1 and problems[0].line is not None and "nested more than" in problems[0].message


def test_an_alias_inside_what_it_names_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("id: x\nkeywords: &k [a, *k]\n")
    _, problems = read_yaml(path)
    assert [p.line for p in problems] == [2] and "alias" in problems[0].message


def test_every_line_with_control_characters_is_reported_with_its_column(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes("id: x\ntitle: a\x00b\x00\nanswer: ok\nkeywords: [\x07, \x7f]\n".encode())
    _, problems = read_yaml(path)
    assert [(p.line, p.message.split(" at ")[1].split(":")[0]) for p in problems] == [(2, "column 9"), (4, "column 12")]
    assert "U+0007" in problems[1].message


def test_tabs_newlines_and_hebrew_marks_are_not_control_characters(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("id: x\r\ntitle: \"a\tb\"\r\nanswer: \u200fתשובה\u200e\n", encoding="utf-8")
    data, problems = read_yaml(path)
    assert problems == [] and data["title"] == "a\tb"


def test_size_cap_refuses_without_parsing(tmp_path, monkeypatch):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: b\n" * (MAX_FILE_BYTES // 5 + 1))
    monkeypatch.setattr(yaml_source, "_Loader", None)  # would fail if the file were parsed
    data, problems = read_yaml(path, "big.yaml")
    assert data is None and len(problems) == 1 and problems[0].line is None
    assert f"{MAX_FILE_BYTES:,}" in problems[0].message and "split" in problems[0].message


def test_size_cap_boundary(tmp_path, monkeypatch):
    monkeypatch.setattr(yaml_source, "MAX_FILE_BYTES", 100)
    path = tmp_path / "a.yaml"
    path.write_bytes(b"a: " + b"x" * 96 + b"\n")  # exactly 100 bytes
    assert read_yaml(path)[1] == []
    path.write_bytes(b"a: " + b"x" * 97 + b"\n")
    assert "limit" in read_yaml(path)[1][0].message


def test_billion_laughs_is_refused_fast_at_an_alias(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    t0 = time.perf_counter()
    _, problems = read_yaml(path)
    assert time.perf_counter() - t0 < 1
    line = path.read_text(encoding="utf-8").splitlines()[problems[0].line - 1]
    assert len(problems) == 1 and "*a" in line and "alias" in problems[0].message


def test_a_few_aliases_of_a_shared_source_are_fine(tmp_path):
    path = tmp_path / "shared.yaml"
    path.write_text("source: &src {name: משרד הפנים, url: 'https://example.org'}\nentries:\n"
                    + "".join(f"  - {{id: e{i}, source: *src}}\n" for i in range(50)), encoding="utf-8")
    data, problems = read_yaml(path)
    assert problems == [] and data["entries"][49]["source"]["name"] == "משרד הפנים"


def test_merge_key_bomb_is_linear_in_the_installed_pyyaml(tmp_path):
    """yaml/pyyaml#897: before PyYAML 6.0.4 (#937) ``<<: [*m, *m]`` doubled the pairs at every level
    (6.0.3: 16 levels gave 262,143 pairs, 22 levels took 45 s and 4 GB). The deepest bomb our
    depth cap lets through (8 levels: merges count as nesting as written) still tells the two
    apart: on 6.0.3 m8 holds 511 pairs for its 9 keys and the file gets 968 'duplicate key'
    problems; fixed, 9 pairs and none."""
    path = tmp_path / "merge.yaml"
    path.write_text(merge_bomb(8))
    t0 = time.perf_counter()
    data, problems = read_yaml(path)
    assert time.perf_counter() - t0 < 1
    assert problems == [] and len(data["m8"]) == 9


@pytest.mark.parametrize("levels, width, line, needle", [(40, 2, 10, "nested more than 20 levels deep through alias *m8"),
                                                         (6, 40, 5, "aliases repeat more than")])
def test_merge_key_bombs_beyond_the_caps_are_refused_with_their_line(tmp_path, levels, width, line, needle):
    path = tmp_path / "merge.yaml"
    path.write_text(merge_bomb(levels, width))
    t0 = time.perf_counter()
    _, problems = read_yaml(path)
    assert time.perf_counter() - t0 < 1
    assert [p.line for p in problems] == [line] and needle in problems[0].message, problems


def test_pyyaml_floor_is_the_release_with_the_merge_key_fix():
    floor = next(line for line in PYPROJECT.read_text().splitlines() if '"pyyaml>=' in line)
    assert '"pyyaml>=6.0.4"' in floor
    assert tuple(int(x) for x in yaml.__version__.split(".")[:3]) >= (6, 0, 4)


def test_a_recursion_error_is_still_a_problem_naming_the_file(tmp_path, monkeypatch):
    """The last line of defence, should some other input reach PyYAML's recursion."""
    monkeypatch.setattr(yaml_source, "MAX_DEPTH", 100_000)
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    data, problems = read_yaml(path, "deep.yaml")
    assert data is None and [(p.file, p.line) for p in problems] == [("deep.yaml", None)]
    assert "nested too deeply" in problems[0].message


def test_unreadable_file_is_a_problem(tmp_path):
    _, problems = read_yaml(tmp_path / "missing.yaml", "missing.yaml")
    assert [(p.file, p.line) for p in problems] == [("missing.yaml", None)] and "cannot be read" in problems[0].message


def test_safe_load_for_text_has_the_same_limits():
    assert safe_load("- [a, b]\n") == [["a", "b"]]
    with pytest.raises(yaml.YAMLError):
        safe_load("- " + "[" * 300 + "]" * 300)
    with pytest.raises(yaml.YAMLError):
        safe_load(billion_laughs())
    with pytest.raises(yaml.YAMLError):
        safe_load(aliased_answer(copies=200, words=3000))
