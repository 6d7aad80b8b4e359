"""Safe YAML reading that remembers lines, so every problem can name ``file:line``.

Only ``yaml.SafeLoader`` is used: a ``!!python/object`` tag is reported as an error, never run.
Duplicate keys, which PyYAML silently merges, are reported too.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml

from .errors import Problem


class LineMap(dict):
    """A mapping that remembers its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class LineList(list):
    line: int = 0
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    """SafeLoader that records lines and refuses duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[int, str]] = []


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> LineMap:
    loader.flatten_mapping(node)
    result = LineMap()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool, date)) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain scalar", key_node.start_mark)
        if key in result:
            loader.duplicates.append((key_node.start_mark.line + 1, str(key)))
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[str(key)] = key_node.start_mark.line + 1
    return result


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def read_yaml(path: Path, label: str | None = None) -> tuple[Any, list[Problem]]:
    """Parse one file safely; return the data (or None) and the problems found."""
    name = label or str(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Problem(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
                              file=name, line=line)]
    text = text.removeprefix("\ufeff")
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        if "could not determine a constructor" in str(exc):
            tag = str(exc.problem).rsplit("tag ", 1)[-1]
            return None, [Problem(f"unsafe or unknown YAML tag {tag} refused: only plain YAML is allowed",
                                  file=name, line=line)]
        what = f"{exc.context}; {exc.problem}" if exc.context else (exc.problem or str(exc))
        return None, [Problem(f"YAML syntax: {what} (check indentation and quotes)", file=name, line=line)]
    except yaml.YAMLError as exc:
        return None, [Problem(f"YAML error: {exc}", file=name)]
    finally:
        loader.dispose()
    problems = [Problem(f"duplicate key '{key}'", file=name, line=line, field=key)
                for line, key in loader.duplicates]
    return data, problems
