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
