"""Surgical edits of curated YAML files: add lines, never rewrite the file.

Why not load-modify-dump: even ruamel.yaml's round-trip dumper re-indents lists, re-spaces flow
mappings and may move comments, so a curator's ``git diff`` after "resolve" would show lines they
never touched. Here ruamel.yaml's round-trip *composer* gives the exact position of every node
(start and end marks), and new text is spliced in at those positions. For block lists (the usual
style) the result differs from the original only by added lines; a flow list (``[a, b]``) gets
the new items inside its brackets (that one line changes). Every edit is checked before it is
returned: the edited text must parse (with the same safe loader the bot uses) to exactly the old
data plus the new questions, or nothing is written.

Writes are atomic (temp file in the same folder, fsync, ``os.replace``), so the hot reloader and
a crash never see half a file; ``write_validated`` restores the original bytes if the base no
longer validates after the write.

Text is read back with the loader's own ``safe_load`` (its depth, alias and size limits), not
``yaml.safe_load``: a user's question of 1,000 '[' is quoted instead of raising RecursionError.
"""
from __future__ import annotations

import copy
import difflib
import json
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from knowledge.errors import RashutError
from knowledge.yaml_source import safe_load

TEMP_SUFFIX = ".rashut-tmp"  # not .yaml: the knowledge watcher ignores our temp files


class EditError(RashutError):
    """The file cannot be edited safely (the message says why and where)."""


# ---------------------------------------------------------------------- scalars
def _item(text: str, probe: str) -> str:
    """``text`` plain when YAML reads ``probe`` back as ``[text]``, else double-quoted."""
    try:
        if safe_load(probe) == [text]:
            return text
    except yaml.YAMLError:
        pass
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid YAML double-quoted scalar


def block_item(text: str) -> str:
    """``text`` as a block-list item value."""
    return _item(text, f"- {text}")


def flow_item(text: str) -> str:
    """``text`` as an item of a flow list ``[...]`` (stricter: commas and brackets end a plain item)."""
    return _item(text, f"[{text}]")


# ---------------------------------------------------------------------- positions
def _compose(text: str) -> Node:
    try:
        node = YAML(typ="rt").compose(text)
    except Exception as exc:  # ruamel raises many error types; all mean "cannot edit safely"
        raise EditError(f"cannot parse the file for editing: {exc}") from exc
    if not isinstance(node, MappingNode):
        raise EditError("the file is not a YAML mapping")
    return node


def _get(mapping: MappingNode, key: str) -> tuple[ScalarNode, Node] | None:
    for k, v in mapping.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return k, v
    return None


def _find_entry(root: MappingNode, entry_id: str, within: str = "entries", key: str = "id") -> tuple[int, MappingNode]:
    found = _get(root, within)
    if found is None or not isinstance(found[1], SequenceNode):
        raise EditError(f"the file has no list of {within}")
    for index, item in enumerate(found[1].value):
        if isinstance(item, MappingNode):
            ident = _get(item, key)
            if ident is not None and isinstance(ident[1], ScalarNode) and ident[1].value == entry_id:
                if item.flow_style:
                    raise EditError(f"entry '{entry_id}' is written in flow style {{...}}; add questions by hand")
                return index, item
    raise EditError(f"entry '{entry_id}' is not in this file")


def _last_line(lines: list[str], node: Node) -> int:
    """Index of the last line holding ``node``'s text (block scalars end at the next line's column 0)."""
    end = node.end_mark
    last = end.line if end.column > 0 else end.line - 1
    return max(last, node.start_mark.line)


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _insert_after(lines: list[str], index: int, new: list[str], nl: str) -> list[str]:
    out = list(lines)
    if index >= 0 and index < len(out) and not out[index].endswith(("\n", "\r")):
        out[index] += nl  # the last line had no newline; it gets one
    return out[: index + 1] + [line + nl for line in new] + out[index + 1:]


def _trim_blank(lines: list[str], index: int, floor: int) -> int:
    while index > floor and not lines[index].strip():
        index -= 1
    return index


def _item_prefix(lines: list[str], seq: SequenceNode) -> str:
    """The text before an item's value ("      - "), copied from the list's last item."""
    item = seq.value[-1]
    line = lines[item.start_mark.line]
    prefix = line[: item.start_mark.column]
    if prefix.strip() == "-":
        return prefix
    return " " * seq.start_mark.column + "- "


# ---------------------------------------------------------------------- edits
def add_questions(text: str, entry_id: str, questions: Sequence[str], *, within: str = "entries",
                  key: str = "id") -> str:
    """Return ``text`` with ``questions`` appended to the entry's ``questions:`` list.

    A missing ``questions:`` key is added right after ``answer``. Raises ``EditError`` when the
    file cannot be edited safely; the result is verified to mean exactly "old data + questions".
    ``within``/``key`` name the list and the identifying field (``subjects``/``subject`` for the
    out-of-scope file).
    """
    if not questions:
        return text
    root = _compose(text)
    index, entry = _find_entry(root, entry_id, within, key)
    lines = text.splitlines(keepends=True)
    nl = _newline(text)
    found = _get(entry, "questions")
    attempts: list[str] = []
    if found is None:
        answer = _get(entry, "answer")
        anchor = answer[1] if answer else entry.value[-1][1]
        col = entry.value[0][0].start_mark.column
        new = [" " * col + "questions:"] + [" " * (col + 2) + "- " + block_item(q) for q in questions]
        end = _last_line(lines, anchor)
        for at in dict.fromkeys((_trim_blank(lines, end, anchor.start_mark.line), end)):
            attempts.append("".join(_insert_after(lines, at, new, nl)))
    else:
        key, value = found
        if isinstance(value, ScalarNode) and value.tag.endswith(":null"):
            new = [" " * (key.start_mark.column + 2) + "- " + block_item(q) for q in questions]
            attempts.append("".join(_insert_after(lines, key.start_mark.line, new, nl)))
        elif isinstance(value, SequenceNode) and value.flow_style:
            items = ", ".join(flow_item(q) for q in questions)
            if value.value:
                at = value.value[-1].end_mark.index
                attempts.append(text[:at] + ", " + items + text[at:])
            else:
                at = value.end_mark.index - 1  # just before ']'
                attempts.append(text[:at] + items + text[at:])
        elif isinstance(value, SequenceNode) and value.value:
            new = [_item_prefix(lines, value) + block_item(q) for q in questions]
            end = _last_line(lines, value.value[-1])
            attempts.append("".join(_insert_after(lines, end, new, nl)))
        else:
            raise EditError(f"entry '{entry_id}': 'questions' is not a list")
    expected = _expected(text, index, questions, within)
    for candidate in attempts:
        if _parses_to(candidate, expected):
            return candidate
    raise EditError(f"entry '{entry_id}': could not add questions without changing other content; add them by hand")


def _load(text: str) -> Any:
    """The data of ``text`` as the bot's loader reads it, or ``EditError``."""
    try:
        return safe_load(text)
    except yaml.YAMLError as exc:
        raise EditError(f"cannot read the file for editing: {exc}") from exc


def _expected(text: str, index: int, questions: Sequence[str], within: str = "entries") -> Any:
    data = copy.deepcopy(_load(text))
    entry = data[within][index]
    entry["questions"] = list(entry.get("questions") or []) + list(questions)
    return data


def _parses_to(text: str, expected: Any) -> bool:
    try:
        return safe_load(text) == expected
    except yaml.YAMLError:
        return False


def append_entry(text: str, entry_lines: Sequence[str], within: str = "entries") -> str:
    """Append a block-style entry (its lines, "- id: ..." first, comments allowed before it) to the
    file's ``entries`` list (or ``within``), indented like the list's items."""
    root = _compose(text)
    found = _get(root, within)
    if found is None or not isinstance(found[1], SequenceNode) or found[1].flow_style or not found[1].value:
        raise EditError(f"the file has no block list of {within} to append to")
    seq = found[1]
    lines = text.splitlines(keepends=True)
    indent = " " * seq.start_mark.column
    end = _last_line(lines, seq.value[-1])
    new = [""] + [indent + line if line else "" for line in entry_lines]
    result = "".join(_insert_after(lines, end, new, _newline(text)))
    before, after = _load(text), _load(result)
    if after.get(within, [])[:-1] != before.get(within) or len(after[within]) != len(before[within]) + 1:
        raise EditError("appending the entry would change other content")
    return result


# ---------------------------------------------------------------------- diffs and writes
def unified_diff(old: str, new: str, name: str = "file") -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        f"a/{name}", f"b/{name}"))


def changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    """(removed, added) lines between two texts."""
    removed, added = [], []
    for line in difflib.ndiff(old.splitlines(), new.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


def write_atomic(path: Path, data: bytes, expect: bytes | None = None) -> None:
    """Replace ``path`` with ``data`` in one step. With ``expect``, refuse if the file changed meanwhile."""
    path = Path(path)
    if expect is not None and path.read_bytes() != expect:
        raise EditError(f"{path.name} changed while it was being edited; nothing was written, try again")
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TEMP_SUFFIX}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    try:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)  # the rename itself survives a crash
        finally:
            os.close(fd)
    except OSError:
        pass


def write_validated(path: Path, data: bytes, validate: Callable[[], Any]) -> None:
    """Write ``data`` atomically, then ``validate()``; on any exception restore the original bytes
    (atomically too; a file that did not exist is removed again) and re-raise, so a failed edit
    leaves the folder exactly as it was."""
    path = Path(path)
    original = path.read_bytes() if path.exists() else None
    if original is None:
        write_atomic(path, data)
    else:
        write_atomic(path, data, expect=original)
    try:
        validate()
    except BaseException:
        if original is None:
            path.unlink(missing_ok=True)
        else:
            write_atomic(path, original)
        raise
