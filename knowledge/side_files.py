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


def _line(seq: Any, i: int) -> int | None:
    return seq.item_lines[i] if isinstance(seq, LineList) else None


def _top_list(c: Checker, data: Any, name: str, key: str, what: str, shape: str, schema: bool) -> list[Any] | None:
    """The file's one list (``key``), after the checks both side files share; None if unusable."""
    if not isinstance(data, LineMap):
        c.add(f"{name} must be a mapping with schema and {key}")
        return None
    c.unknown_keys(data, {"schema", key}, None, f"the {what} file")
    if schema and data.get("schema") != 1:
        c.add("schema must be 1", data, "schema")
    value = data.get(key)
    if not isinstance(value, list):
        c.add(shape, data, key)
        return None
    return value


def read_synonyms(data: Any, file: str) -> tuple[tuple[tuple[str, ...], ...], list[Problem]]:
    c = Checker(file)
    groups = _top_list(c, data, SYNONYMS_FILE, "synonyms", "synonyms", "must be a list of groups, each a list of words or phrases",
                       schema=False)
    out = []
    for i, group in enumerate(groups or ()):
        if not isinstance(group, list) or len(group) < 2 or not all(isinstance(w, str) and w.strip() for w in group):
            c.problems.append(Problem("each group must list at least two non-empty words or phrases",
                                      file=file, line=_line(groups, i), field="synonyms"))
            continue
        out.append(tuple(w.strip() for w in group))
    return tuple(out), c.problems


def read_out_of_scope(data: Any, file: str) -> tuple[tuple[OutOfScope, ...], list[Problem]]:
    c = Checker(file)
    subjects = _top_list(c, data, OUT_OF_SCOPE_FILE, "subjects", "out-of-scope", "must be a list of {subject, questions}", schema=True)
    out = []
    for i, item in enumerate(subjects or ()):
        if not isinstance(item, LineMap):
            c.problems.append(Problem("each item must be a mapping {subject, questions}",
                                      file=file, line=_line(subjects, i), field="subjects"))
            continue
        c.unknown_keys(item, SUBJECT_KEYS, None, "a subject")
        subject = c.text(item, "subject", None)
        questions = c.texts(item, "questions", None)
        if not questions:
            c.add("list at least one question users asked about this subject", item, "questions")
        if subject and questions:
            out.append(OutOfScope(subject, questions, file, item.line))
    return tuple(out), c.problems
