"""Load and validate the YAML knowledge base.

Only ``yaml.SafeLoader`` is used (a ``!!python/object`` tag is an error, never code). The loader
keeps the line of every mapping and key so each problem names file, line, entry id and field,
and it reports every problem it finds rather than stopping at the first.
"""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from .errors import KnowledgeError, Problem
from .hebrew import normalize
from .schema import KINDS, DecisionInfo, Document, Entry, KnowledgeBase, Source, Step
from .yaml_source import LineList, LineMap, read_yaml

BUNDLED_BASE = Path(__file__).parent / "base"
SYNONYMS_FILE = "synonyms.yaml"
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")

DOC_KEYS = {"schema", "kind", "id", "title", "summary", "source", "entries", "decision", "stages", "phases"}
ENTRY_KEYS = {"id", "title", "answer", "questions", "keywords", "related", "clause", "stage", "phase",
              "checklist", "source"}
SOURCE_KEYS = {"name", "url", "as_of"}
DECISION_KEYS = {"number", "date", "title", "budget", "period", "localities", "ministries"}
STEP_KEYS = {"id", "order", "name"}


class _Checker:
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
            self.add(f"must be text, got {type(value).__name__}", m, key, entry)
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


def _document(data: Any, file: str) -> tuple[Document | None, list[Problem], dict[str, int]]:
    """Validate one file's data. Returns the document (if usable), problems, entry lines."""
    c = _Checker(file)
    if not isinstance(data, LineMap):
        c.add("the file must be a mapping with schema, kind, id, title, source and entries")
        return None, c.problems, {}
    c.unknown_keys(data, DOC_KEYS, None, "the document")
    if data.get("schema") != 1:
        c.add("schema must be 1", data, "schema")
    kind = data.get("kind")
    if kind not in KINDS:
        c.add(f"kind must be one of {', '.join(KINDS)}", data, "kind")
        kind = "topic"
    doc_id = c.ident(data, "id", None)
    title = c.text(data, "title", None)
    summary = c.text(data, "summary", None, required=False)
    if "source" not in data:
        c.add("is required and missing", data, "source")
    source = c.source(data.get("source"), None) or Source("")
    decision = c.decision(data, kind)
    stages = c.steps(data, "stages") if kind == "programme" else ()
    phases = c.steps(data, "phases") if kind == "guideline" else ()
    for key, allowed_kind in (("stages", "programme"), ("phases", "guideline")):
        if key in data and kind != allowed_kind:
            c.add(f"only documents of kind '{allowed_kind}' have {key}", data, key)
    stage_ids, phase_ids = {s.id for s in stages}, {p.id for p in phases}

    raw_entries = data.get("entries")
    entries: list[Entry] = []
    lines: dict[str, int] = {}
    if not isinstance(raw_entries, list) or not raw_entries:
        c.add("must be a non-empty list of entries", data, "entries")
        raw_entries = []
    for item in raw_entries:
        if not isinstance(item, LineMap):
            c.add("each entry must be a mapping", raw_entries, None)
            continue
        eid = c.ident(item, "id", None)
        label = eid or f"<entry at line {item.line}>"
        c.unknown_keys(item, ENTRY_KEYS, label, "an entry")
        etitle = c.text(item, "title", label)
        answer = c.text(item, "answer", label)
        clause = c.text(item, "clause", label, required=False)
        stage = c.text(item, "stage", label, required=False)
        phase = c.text(item, "phase", label, required=False)
        if clause and kind != "decision":
            c.add("only decision entries carry a clause", item, "clause", label)
        if stage and stage not in stage_ids:
            c.add(f"stage '{stage}' is not declared in the document's stages", item, "stage", label)
        if phase and phase not in phase_ids:
            c.add(f"phase '{phase}' is not declared in the document's phases", item, "phase", label)
        esource = c.source(item.get("source"), label, parent=source)
        if eid is None or etitle is None or answer is None:
            continue
        lines[eid] = item.line
        entries.append(Entry(
            id=eid, title=etitle, answer=answer, doc_id=doc_id or "", kind=kind, source=esource or source,
            file=file, line=item.line, questions=c.texts(item, "questions", label),
            keywords=c.texts(item, "keywords", label), related=c.texts(item, "related", label),
            clause=clause, stage=stage, phase=phase, checklist=c.texts(item, "checklist", label),
            decision_number=decision.number if decision else None,
            decision_date=decision.date if decision else None,
        ))
    if doc_id is None or title is None:
        return None, c.problems, lines
    doc = Document(doc_id, kind, title, source, file, tuple(entries), decision, stages, phases, summary)
    return doc, c.problems, lines


def _synonyms(data: Any, file: str) -> tuple[tuple[tuple[str, ...], ...], list[Problem]]:
    c = _Checker(file)
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


def load_base(root: Path | str | None = None) -> KnowledgeBase:
    """Load every ``*.yaml`` under ``root`` (default: the bundled base) and validate the whole.

    Raises ``KnowledgeError`` listing every problem; never returns a partly valid base.
    """
    root = Path(root) if root is not None else BUNDLED_BASE
    if not root.is_dir():
        raise KnowledgeError(Problem("knowledge folder not found", file=str(root)))
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    problems: list[Problem] = []
    documents: list[Document] = []
    synonyms: tuple[tuple[str, ...], ...] = ()
    entry_lines: dict[str, tuple[str, int]] = {}
    if not files:
        problems.append(Problem("no .yaml files in the knowledge folder", file=str(root)))
    for path in files:
        label = str(path.relative_to(root))
        data, found = read_yaml(path, label)
        problems.extend(found)
        if data is None:
            continue
        if path.name == SYNONYMS_FILE and path.parent == root:
            synonyms, found = _synonyms(data, label)
            problems.extend(found)
            continue
        doc, found, lines = _document(data, label)
        problems.extend(found)
        if doc is not None:
            documents.append(doc)
            entry_lines.update({k: (label, v) for k, v in lines.items()})
    problems.extend(_cross_checks(documents))
    if problems:
        raise KnowledgeError(problems)
    return KnowledgeBase.build(root, tuple(documents), synonyms)


def _cross_checks(documents: list[Document]) -> list[Problem]:
    """Checks that need the whole base: unique ids, related ids, questions claimed twice."""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for doc in documents:
        idents = [(doc.id, doc.file, None, None)] + [(s.id, doc.file, None, None) for s in doc.stages + doc.phases]
        idents += [(e.id, e.file, e.line, e.id) for e in doc.entries]
        for ident, file, line, entry in idents:
            if ident in seen:
                problems.append(Problem(f"duplicate id (also used in {seen[ident]})", file=file, line=line,
                                        entry=entry, field="id"))
            else:
                seen[ident] = file + (f":{line}" if line else "")
    entries = {e.id: e for d in documents for e in d.entries}
    claimed: dict[str, Entry] = {}
    for e in entries.values():
        for rel in e.related:
            if rel not in entries:
                problems.append(Problem(f"related id '{rel}' does not exist", file=e.file, line=e.line,
                                        entry=e.id, field="related"))
            elif rel == e.id:
                problems.append(Problem("an entry cannot be related to itself", file=e.file, line=e.line,
                                        entry=e.id, field="related"))
        for q in e.questions:
            key = normalize(q)
            other = claimed.get(key)
            if other is not None and other.id != e.id:
                problems.append(Problem(f"question '{q}' is also claimed by entry '{other.id}' "
                                        f"({other.file}:{other.line})", file=e.file, line=e.line,
                                        entry=e.id, field="questions"))
            claimed.setdefault(key, e)
    return problems
