"""Safe YAML reading that remembers lines, so every problem can name ``file:line``.

Only ``yaml.SafeLoader`` is used: a ``!!python/object`` tag is reported as an error, never run.
Duplicate keys, which PyYAML silently merges, are reported too.

Every input a curator (or a copied file) can produce ends as a ``Problem``, never as an exception
that stops the bot at start-up or fails a reload without naming the file: a file over
``MAX_FILE_BYTES`` is refused before it is parsed; control characters are reported with line and
column; nesting deeper than ``MAX_DEPTH`` (PyYAML's composer and constructor recurse once per
level) and aliases that repeat more than ``MAX_ALIAS_EXPANSION`` of content are refused at their
line while composing, before anything is built; a value Python cannot hold (``2024-02-30``) is
refused at its line.
"""
from __future__ import annotations

import os
import re
import stat
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from .errors import Problem

# The biggest bundled file is ~86 KB (1,261 lines). 2 MB leaves a national base ~25 times that
# (about 30,000 lines in one file) while keeping one file's parse near 3 s and 50 MB; the
# unchecked 50 MB file took 67 s and 1.2 GB. Documented in docs/knowledge-schema.md and curators.md.
MAX_FILE_BYTES = 2 * 1024 * 1024
# Real files nest 5 levels (document > entries > entry > questions > text). 20 is far above that
# and far below what PyYAML's recursion survives (about 300 levels with Python's default limit).
MAX_DEPTH = 20
# Aliases may stand for at most this much content (characters of text plus one per node) beyond
# what is written, so a file never means more than twice the size cap. A billion laughs, or 2,000
# aliases of one long answer, is refused at the alias that crosses it.
MAX_ALIAS_EXPANSION = MAX_FILE_BYTES
# One problem per line with control characters, up to this many lines: a file full of them (a
# UTF-16 file read as UTF-8) should not bury every other problem.
MAX_CHARACTER_LINES = 10

# Exactly the characters PyYAML refuses (its reader raises on the first): reported all at once here.
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE
_CHARACTER_NAMES = {0x00: "NUL", 0x08: "backspace", 0x0B: "vertical tab", 0x0C: "form feed", 0x1B: "escape",
                    0x7F: "delete", 0xFFFE: "not a character", 0xFFFF: "not a character"}


class LineMap(dict):
    """A mapping that remembers its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class LineList(list):
    line: int = 0
    item_lines: list[int]


class Refused(yaml.MarkedYAMLError):
    """Valid YAML this project will not read (too deep, too many aliases, an impossible value).
    A YAMLError, so code that already handles YAML errors refuses it too."""

    def __init__(self, message: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem=message, problem_mark=mark)


class _Loader(yaml.SafeLoader):
    """SafeLoader that records lines, refuses duplicate keys and bounds depth and alias expansion.

    The bounds are checked while composing, one node at a time, so a 2 KB file nested 1,000 deep
    or a billion laughs stops at the offending line after a few hundred nodes.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[int, str]] = []
        self._depth = 0  # nodes from the root to the one being composed
        self._deepest = 0  # the deepest level reached inside the node being composed
        self._expanded = 0  # content composed so far, aliases counted as what they stand for
        self._aliased = 0  # the part of _expanded that aliases added
        self._anchored: dict[int, tuple[int, int]] = {}  # id(anchored node) -> (content, height)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)  # refuses an undefined alias itself
            self._charge_alias(node, event)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise Refused(f"nested more than {MAX_DEPTH} levels deep; knowledge files need 5", event.start_mark)
        before, outer_deepest, self._deepest = self._expanded, self._deepest, self._depth
        node = super().compose_node(parent, index)
        self._expanded += max(1, len(node.value)) if isinstance(node, yaml.ScalarNode) else 1
        if event.anchor is not None:
            self._anchored[id(node)] = (self._expanded - before, self._deepest - self._depth + 1)
        self._deepest = max(outer_deepest, self._deepest)
        self._depth -= 1
        return node

    def _charge_alias(self, node: yaml.Node, event: yaml.AliasEvent) -> None:
        """Count an alias as the content it repeats, and as deep as what it names reaches."""
        if id(node) not in self._anchored:  # still being composed: the alias is inside it
            raise Refused(f"alias *{event.anchor} is inside the mapping or list it names", event.start_mark)
        content, height = self._anchored[id(node)]
        if self._depth + height > MAX_DEPTH:
            raise Refused(f"nested more than {MAX_DEPTH} levels deep through alias *{event.anchor}",
                          event.start_mark)
        self._deepest = max(self._deepest, self._depth + height)
        self._expanded += content
        self._aliased += content
        if self._aliased > MAX_ALIAS_EXPANSION:
            raise Refused(f"aliases repeat more than {MAX_ALIAS_EXPANSION:,} characters of content "
                          f"(reached at alias *{event.anchor}); write the text out once where it is needed",
                          event.start_mark)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:  # 2024-02-30, an int of 5,000 digits
            value = node.value if isinstance(node.value, str) else ""
            shown = value if len(value) <= 40 else value[:40] + "…"
            raise Refused(f"'{shown}' is not a valid value: {exc}", node.start_mark) from None


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


# ---------------------------------------------------------------------- reading a file
def _read_bytes(path: Path, name: str) -> tuple[bytes | None, list[Problem]]:
    """At most ``MAX_FILE_BYTES`` of a regular file, or the problem that stops it.

    ``O_NOFOLLOW``: the loader resolves links and checks that they stay inside the knowledge
    folder before it calls; a link swapped in after that check is refused here, not followed.
    ``O_NONBLOCK``: a FIFO named ``*.yaml`` does not hang the open.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        return None, [Problem(f"cannot be read ({exc.strerror or exc}); check that it is a file the bot may read",
                              file=name)]
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, [Problem("is not a regular file", file=name)]
        raw = b"" if info.st_size > MAX_FILE_BYTES else fh.read(MAX_FILE_BYTES + 1)  # +1: it may have grown
    size = max(info.st_size, len(raw))
    if size > MAX_FILE_BYTES:
        return None, [Problem(f"the file is {size:,} bytes, over the limit of {MAX_FILE_BYTES:,} bytes "
                              f"({MAX_FILE_BYTES // 2**20} MB) for one knowledge file: split it into several "
                              "files, for example one per subject", file=name)]
    return raw, []


def _control_characters(text: str, name: str) -> list[Problem]:
    """One problem per line holding characters YAML forbids (NUL, escape, ...), with the column."""
    problems: list[Problem] = []
    lines_seen: set[int] = set()
    for match in _NON_PRINTABLE.finditer(text):
        start = match.start()
        line = text.count("\n", 0, start) + 1
        if line in lines_seen:
            continue
        lines_seen.add(line)
        if len(problems) == MAX_CHARACTER_LINES:
            problems.append(Problem("... and more lines with invisible control characters", file=name))
            break
        code = ord(match.group())
        label = f" ({_CHARACTER_NAMES[code]})" if code in _CHARACTER_NAMES else ""
        column = start - (text.rfind("\n", 0, start) + 1) + 1
        problems.append(Problem(f"invisible control character U+{code:04X}{label} at column {column}: YAML does not "
                                "allow it; delete it (it often comes with text pasted from a PDF or a word processor)",
                                file=name, line=line))
    return problems


def read_text(path: Path, label: str | None = None) -> tuple[str | None, list[Problem]]:
    """A knowledge file's text, or None and why: unreadable, over the size cap, not UTF-8, or
    holding control characters. Shared by the loader and the curators' edits."""
    name = label or str(path)
    raw, problems = _read_bytes(Path(path), name)
    if raw is None:
        return None, problems
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Problem(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
                              file=name, line=line)]
    text = text.removeprefix("\ufeff")
    problems = _control_characters(text, name)
    return (None, problems) if problems else (text, [])


def parse_text(text: str, name: str) -> tuple[Any, list[Problem]]:
    """Parse one document safely; return the data (or None) and the problems found."""
    loader = None
    try:
        loader = _Loader(text)  # inside the try: PyYAML's reader checks characters when it is built
        data = loader.get_single_data()
    except Refused as exc:
        return None, [Problem(str(exc.problem), file=name, line=_line(exc.problem_mark))]
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        return None, [Problem(f"character U+{exc.character:04X} is not allowed in YAML", file=name, line=line)]
    except yaml.MarkedYAMLError as exc:
        line = _line(exc.problem_mark or exc.context_mark)
        if "could not determine a constructor" in str(exc):
            tag = str(exc.problem).rsplit("tag ", 1)[-1]
            return None, [Problem(f"unsafe or unknown YAML tag {tag} refused: only plain YAML is allowed",
                                  file=name, line=line)]
        what = f"{exc.context}; {exc.problem}" if exc.context else (exc.problem or str(exc))
        return None, [Problem(f"YAML syntax: {what} (check indentation and quotes)", file=name, line=line)]
    except yaml.YAMLError as exc:
        return None, [Problem(f"YAML error: {exc}", file=name)]
    except RecursionError:  # only if some input still reaches PyYAML's recursion past MAX_DEPTH
        return None, [Problem("nested too deeply to read; knowledge files need 5 levels", file=name)]
    except (ValueError, OverflowError) as exc:  # a value built outside construct_object (PyYAML's generators)
        return None, [Problem(f"a value cannot be read: {exc}", file=name)]
    finally:
        if loader is not None:
            loader.dispose()
    problems = [Problem(f"duplicate key '{key}'", file=name, line=line, field=key)
                for line, key in loader.duplicates]
    return data, problems


def _line(mark: yaml.Mark | None) -> int | None:
    return mark.line + 1 if mark else None


def read_yaml(path: Path, label: str | None = None) -> tuple[Any, list[Problem]]:
    """Read and parse one file safely; return the data (or None) and the problems found."""
    name = label or str(path)
    text, problems = read_text(path, name)
    if text is None:
        return None, problems
    return parse_text(text, name)


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` with this module's limits, for code that checks text it is about to
    write (``bot.yaml_edit``). Raises ``yaml.YAMLError`` (``Refused`` for a limit)."""
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise Refused(f"over the limit of {MAX_FILE_BYTES:,} bytes for one knowledge file", None)
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    except RecursionError:
        raise Refused("nested too deeply to read", None) from None
    finally:
        loader.dispose()
