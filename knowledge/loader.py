"""Load and validate the YAML knowledge base.

Only ``yaml.SafeLoader`` is used (a ``!!python/object`` tag is an error, never code). The loader
keeps the line of every mapping and key so each problem names file, line, entry id and field,
and it reports every problem it finds rather than stopping at the first.
"""
from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

from .checker import Checker
from .errors import KnowledgeError, Problem
from .hebrew import normalize
from .layout import unwrap  # answers as a phone shows them, in one place for every channel
from .schema import KINDS, Document, Entry, KnowledgeBase, OutOfScope, Source
from .side_files import OUT_OF_SCOPE_FILE, SYNONYMS_FILE, read_out_of_scope, read_synonyms
from .yaml_source import LineMap, read_yaml

BUNDLED_BASE = Path(__file__).parent / "base"

DOC_KEYS = {"schema", "kind", "id", "title", "summary", "source", "entries", "decision", "stages", "phases"}
ENTRY_KEYS = {"id", "title", "answer", "questions", "keywords", "related", "clause", "stage", "phase",
              "checklist", "source"}


def _document(data: Any, file: str) -> tuple[Document | None, list[Problem], dict[str, int]]:
    """Validate one file's data. Returns the document (if usable), problems, entry lines."""
    c = Checker(file)
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
        if eid is not None:
            lines[eid] = item.line  # declared, even when its other fields fail: not a missing related id
        if eid is None or etitle is None or answer is None:
            continue
        entries.append(Entry(
            id=eid, title=etitle, answer=unwrap(answer), doc_id=doc_id or "", kind=kind, source=esource or source,
            file=file, line=item.line, questions=c.texts(item, "questions", label),
            keywords=c.texts(item, "keywords", label), related=c.texts(item, "related", label),
            clause=clause, stage=stage, phase=phase, checklist=tuple(unwrap(x) for x in c.texts(item, "checklist", label)),
            decision_number=decision.number if decision else None,
            decision_date=decision.date if decision else None,
        ))
    if doc_id is None or title is None:
        return None, c.problems, lines
    doc = Document(doc_id, kind, title, source, file, tuple(entries), decision, stages, phases,
                   unwrap(summary) if summary else summary)
    return doc, c.problems, lines


def knowledge_files(root: Path) -> tuple[list[tuple[str, Path]], list[Problem]]:
    """Every ``*.yaml``/``*.yml`` file of the base as (label relative to ``root``, path to read),
    sorted, and the problems of the links that were refused.

    A walk of our own, not ``rglob``, because links must be seen to be judged. A link, to a file or
    a folder, that leads outside the knowledge folder is refused: its content is not the curators'
    and must never be served. A folder link that stays inside is skipped: its files are read where
    they really are, and a loop such as ``loop -> .`` ends there. A file link inside is read under
    its own name (its target's real path is what gets opened). A dangling link is skipped, as
    before: editors leave them as lock files (Emacs's ``.#visits.yaml``).
    """
    real_root = root.resolve()
    files: list[tuple[str, Path]] = []
    problems: list[Problem] = []

    def unreadable(exc: OSError) -> None:  # os.walk would skip a folder it cannot list in silence
        where = Path(exc.filename or root)
        label = str(where.relative_to(root)) if where.is_relative_to(root) else str(where)
        problems.append(Problem(f"folder cannot be read ({exc.strerror or exc})", file=label))

    for here, dirnames, filenames in os.walk(root, onerror=unreadable):  # never descends into a link
        dirnames.sort()
        for name in dirnames:
            path = Path(here, name)
            if path.is_symlink():
                _target, problem = _link_target(path, real_root, str(path.relative_to(root)), "folder link")
                problems.extend([problem] if problem else [])
        for name in sorted(filenames):
            path = Path(here, name)
            if path.suffix not in (".yaml", ".yml"):
                continue
            label = str(path.relative_to(root))
            if not path.is_symlink():
                if path.is_file():  # a FIFO or a device named *.yaml is not a knowledge file
                    files.append((label, path))
                continue
            target, problem = _link_target(path, real_root, label, "link")
            problems.extend([problem] if problem else [])
            if target is not None and target.is_file():
                files.append((label, target))
    files.sort(key=lambda item: Path(item[0]))
    return files, problems


def _link_target(path: Path, real_root: Path, label: str, what: str) -> tuple[Path | None, Problem | None]:
    """Where a link really leads, if it stays inside the folder; None when it leads nowhere."""
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        return None, None  # dangling
    except (RuntimeError, OSError) as exc:  # Python 3.11 says RuntimeError for a loop, later ELOOP
        if isinstance(exc, RuntimeError) or exc.errno == errno.ELOOP:
            return None, Problem(f"is a {what} that leads back to itself (a link loop): remove it", file=label)
        return None, None
    if not target.is_relative_to(real_root):
        return None, Problem(f"is a {what} to {target}, outside the knowledge folder: refused; copy the "
                             "file(s) into the folder instead", file=label)
    return target, None


def file_to_edit(root: Path | str, label: str) -> Path:
    """The real file behind ``label`` (a label of ``knowledge_files``), for the curators' edits.

    Through a link inside the folder to its target: an atomic replace of the link itself would
    cut it off from the file the curators keep. Never outside the folder (``KnowledgeError``).
    A missing file (or a dangling link) is returned as is: the edit creates it.
    """
    path = Path(root) / label
    if not path.is_symlink():
        return path
    target, problem = _link_target(path, Path(root).resolve(), label, "link")
    if problem is not None:
        raise KnowledgeError(problem)
    return target if target is not None else path


def load_base(root: Path | str | None = None) -> KnowledgeBase:
    """Load every ``*.yaml`` under ``root`` (default: the bundled base) and validate the whole.

    Raises ``KnowledgeError`` listing every problem; never returns a partly valid base.
    """
    root = Path(root) if root is not None else BUNDLED_BASE
    if not root.is_dir():
        raise KnowledgeError(Problem("knowledge folder not found", file=str(root)))
    files, problems = knowledge_files(root)
    documents: list[Document] = []
    synonyms: tuple[tuple[str, ...], ...] = ()
    out_of_scope: tuple[OutOfScope, ...] = ()
    entry_lines: dict[str, tuple[str, int]] = {}
    if not files and not problems:
        problems.append(Problem("no .yaml files in the knowledge folder", file=str(root)))
    for label, path in files:
        data, found = read_yaml(path, label)
        problems.extend(found)
        if data is None:
            continue
        if label == SYNONYMS_FILE:  # the side files sit at the top of the folder
            synonyms, found = read_synonyms(data, label)
            problems.extend(found)
            continue
        if label == OUT_OF_SCOPE_FILE:
            out_of_scope, found = read_out_of_scope(data, label)
            problems.extend(found)
            continue
        doc, found, lines = _document(data, label)
        problems.extend(found)
        if doc is not None:
            documents.append(doc)
            entry_lines.update({k: (label, v) for k, v in lines.items()})
    problems.extend(_cross_checks(documents, out_of_scope, declared=set(entry_lines)))
    if problems:
        raise KnowledgeError(problems)
    return KnowledgeBase.build(root, tuple(documents), synonyms, out_of_scope)


def _cross_checks(documents: list[Document], out_of_scope: tuple[OutOfScope, ...] = (),
                  declared: set[str] | None = None) -> list[Problem]:
    """Checks that need the whole base: unique ids, related ids, questions claimed twice (by two
    entries, or by an entry and an out-of-scope subject). ``declared`` holds the ids of entries that
    were written but had errors of their own: a related id naming one of them is not a second error."""
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
            if rel not in entries and rel not in (declared or set()):
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
    for subject in out_of_scope:
        for q in subject.questions:
            other = claimed.get(normalize(q))
            if other is not None:
                problems.append(Problem(f"out-of-scope question '{q}' is an alternate question of entry "
                                        f"'{other.id}' ({other.file}:{other.line})", file=subject.file,
                                        line=subject.line, entry=subject.subject, field="questions"))
    return problems
