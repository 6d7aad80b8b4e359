"""The two knowledge files that are not documents: synonyms and out-of-scope subjects.

Both sit at the top of the knowledge folder. They are read with the same line-keeping YAML and
``Checker`` as documents, so their problems name file, line and field in the same way.
"""
from __future__ import annotations

from typing import Any

from .checker import Checker
from .errors import Problem
from .schema import OutOfScope
from .yaml_source import LineList, LineMap

SYNONYMS_FILE = "synonyms.yaml"
OUT_OF_SCOPE_FILE = "out_of_scope.yaml"
SUBJECT_KEYS = {"subject", "questions"}


def read_synonyms(data: Any, file: str) -> tuple[tuple[tuple[str, ...], ...], list[Problem]]:
    c = Checker(file)
    if not isinstance(data, LineMap):
        c.add("synonyms.yaml must be a mapping with schema and synonyms")
        return (), c.problems
    c.unknown_keys(data, {"schema", "synonyms"}, None, "the synonyms file")
    groups = data.get("synonyms")
    if not isinstance(groups, list):
        c.add("must be a list of groups, each a list of words or phrases", data, "synonyms")
        return (), c.problems
    out = []
    for i, group in enumerate(groups):
        line = groups.item_lines[i] if isinstance(groups, LineList) else None
        if not isinstance(group, list) or len(group) < 2 or not all(isinstance(w, str) and w.strip() for w in group):
            c.problems.append(Problem("each group must list at least two non-empty words or phrases",
                                      file=file, line=line, field="synonyms"))
            continue
        out.append(tuple(w.strip() for w in group))
    return tuple(out), c.problems


def read_out_of_scope(data: Any, file: str) -> tuple[tuple[OutOfScope, ...], list[Problem]]:
    c = Checker(file)
    if not isinstance(data, LineMap):
        c.add("out_of_scope.yaml must be a mapping with schema and subjects")
        return (), c.problems
    c.unknown_keys(data, {"schema", "subjects"}, None, "the out-of-scope file")
    if data.get("schema") != 1:
        c.add("schema must be 1", data, "schema")
    subjects = data.get("subjects")
    if not isinstance(subjects, list):
        c.add("must be a list of {subject, questions}", data, "subjects")
        return (), c.problems
    out = []
    for i, item in enumerate(subjects):
        if not isinstance(item, LineMap):
            line = subjects.item_lines[i] if isinstance(subjects, LineList) else None
            c.problems.append(Problem("each item must be a mapping {subject, questions}",
                                      file=file, line=line, field="subjects"))
            continue
        c.unknown_keys(item, SUBJECT_KEYS, None, "a subject")
        subject = c.text(item, "subject", None)
        questions = c.texts(item, "questions", None)
        if not questions:
            c.add("list at least one question users asked about this subject", item, "questions")
        if subject and questions:
            out.append(OutOfScope(subject, questions, file, item.line))
    return tuple(out), c.problems
