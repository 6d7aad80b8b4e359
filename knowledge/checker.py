"""Problem collection shared by the loaders of the knowledge files.

One ``Checker`` per file turns its line-keeping YAML into schema values and records every problem
with the file, line, entry id and field, so a curator sees all of them at once.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any

from .errors import Problem
from .schema import DecisionInfo, Source, Step
from .yaml_source import LineList, LineMap

ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
SOURCE_KEYS = {"name", "url", "as_of"}
DECISION_KEYS = {"number", "date", "title", "budget", "period", "localities", "ministries"}
STEP_KEYS = {"id", "order", "name"}


def kind_of(value: object) -> str:
    """What a YAML value is, in the words of someone who wrote the file (not a Python type name)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping (key: value lines)"
    if isinstance(value, (int, float)):
        return "a number"
    return "a date" if type(value).__name__ in ("date", "datetime") else type(value).__name__


class Checker:
    """Collects problems for one file while turning its data into schema objects."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, message: str, node: Any = None, key: str | None = None, entry: str | None = None) -> None:
        line = None
        if isinstance(node, (LineMap, LineList)):
            line = node.line
            if key is not None and isinstance(node, LineMap):
                line = node.key_lines.get(key, node.line)
        self.problems.append(Problem(message, file=self.file, line=line, entry=entry, field=key))

    def unknown_keys(self, m: LineMap, allowed: set[str], entry: str | None, where: str) -> None:
        for k in m:
            if str(k) not in allowed:
                self.add(f"unknown key in {where} (allowed: {', '.join(sorted(allowed))})", m, str(k), entry)

    def text(self, m: LineMap, key: str, entry: str | None, required: bool = True) -> str | None:
        value = m.get(key)
        if value is None:
            if required:
                self.add("is required and missing", m, key, entry)
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.add(f"must be text, got {kind_of(value)}", m, key, entry)
            return None
        if required and not value.strip():
            self.add("must not be empty", m, key, entry)
            return None
        return value.strip()

    def texts(self, m: LineMap, key: str, entry: str | None) -> tuple[str, ...]:
        value = m.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.add("must be a list", m, key, entry)
            return ()
        out = []
        for i, item in enumerate(value):
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                item = str(item)
            if not isinstance(item, str) or not item.strip():
                self.add(f"item {i + 1} must be non-empty text", m, key, entry)
                continue
            out.append(item.strip())
        return tuple(out)

    def ident(self, m: LineMap, key: str, entry: str | None) -> str | None:
        value = self.text(m, key, entry)
        if value is not None and not ID_RE.match(value):
            self.add(f"'{value}' is not a valid id (a-z, 0-9, '-', at most 40 characters)", m, key, entry)
            return None
        return value

    def source(self, m: Any, entry: str | None, parent: Source | None = None) -> Source | None:
        if m is None:
            return parent
        if not isinstance(m, LineMap):
            self.add("source must be a mapping {name, url, as_of}", None, "source", entry)
            return parent
        self.unknown_keys(m, SOURCE_KEYS, entry, "source")
        name = self.text(m, "name", entry, required=parent is None)
        url = self.text(m, "url", entry, required=False)
        if url and not url.startswith(("http://", "https://")):
            self.add("url must start with http:// or https://", m, "url", entry)
        as_of = m.get("as_of")
        if as_of is not None and not isinstance(as_of, date):
            self.add("as_of must be a date (YYYY-MM-DD)", m, "as_of", entry)
            as_of = None
        if parent is not None:
            return Source(name or parent.name, url or (None if name else parent.url),
                          as_of or (None if name else parent.as_of))
        return Source(name or "", url, as_of)

    def steps(self, data: LineMap, key: str) -> tuple[Step, ...]:
        value = data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.add("must be a list of {id, order, name}", data, key)
            return ()
        out = []
        for item in value:
            if not isinstance(item, LineMap):
                self.add("each item must be a mapping {id, order, name}", data, key)
                continue
            self.unknown_keys(item, STEP_KEYS, None, key)
            sid, name, order = self.ident(item, "id", None), self.text(item, "name", None), item.get("order")
            if not isinstance(order, int) or isinstance(order, bool):
                self.add("order must be a whole number", item, "order")
                continue
            if sid and name:
                out.append(Step(sid, order, name))
        return tuple(sorted(out, key=lambda s: s.order))

    def decision(self, data: LineMap, kind: str) -> DecisionInfo | None:
        value = data.get("decision")
        if kind != "decision":
            if value is not None:
                self.add("only documents of kind 'decision' have a decision block", data, "decision")
            return None
        if not isinstance(value, LineMap):
            self.add("kind 'decision' requires a decision block {number, date, title, ...}", data, "decision")
            return None
        self.unknown_keys(value, DECISION_KEYS, None, "decision")
        number, when = value.get("number"), value.get("date")
        if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
            self.add("decision number must be a positive whole number", value, "number")
            return None
        if not isinstance(when, date):
            self.add("decision date must be a date (YYYY-MM-DD)", value, "date")
            return None
        title = self.text(value, "title", None)
        return DecisionInfo(number, when, title or "", self.text(value, "budget", None, False),
                            self.text(value, "period", None, False), self.texts(value, "localities", None),
                            self.texts(value, "ministries", None))
