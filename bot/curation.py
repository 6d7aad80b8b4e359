"""The curator loop: turn the unanswered queue into knowledge.

The operations behind ``rashut unanswered list|export|resolve|dismiss`` (printed by
``bot.curation_cli``) and the curator service (``bot.curator``), so a chat button runs exactly the
code the command line runs: ``grouped``, ``resolve_group``, ``draft_group``, ``dismiss_group`` and
``digest_text``.

Resolving a group edits one YAML file in place (``bot.yaml_edit``: added lines only), after the
whole base validated with the edit in a staging copy, so the watched folder never holds a broken
base because of us; the running bot's reloader picks the change up by itself.
"""
from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from knowledge.errors import KnowledgeError, RashutError
from knowledge.hebrew import normalize
from knowledge.loader import file_to_edit, knowledge_files, load_base
from knowledge.schema import Entry, KnowledgeBase
from knowledge.yaml_source import read_text

from . import texts
from .grouping import Group, find_group, grouped
from .yaml_edit import EditError, add_questions, append_entry, block_item, unified_diff, write_atomic, write_validated

if TYPE_CHECKING:
    from knowledge.engine import Snapshot

    from .storage import Storage

__all__ = ["CurationError", "DraftResult", "EditError", "Group", "ResolveResult", "digest_text", "dismiss_group",
           "draft_group", "grouped", "resolve_group"]

MAX_QUESTION_CHARS = 300  # longer texts are pasted messages, not phrasings worth keeping


class CurationError(RashutError):
    """A curator action cannot be done as asked (the message says what to do instead)."""


@dataclass(frozen=True)
class ResolveResult:
    group_id: int
    entry_id: str
    file: str  # relative to the knowledge folder
    rows: int  # queue rows marked resolved
    added: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)  # the entry already had them
    claimed: list[tuple[str, str]] = field(default_factory=list)  # (question, other entry id): not added
    too_long: list[str] = field(default_factory=list)  # pasted messages, not phrasings: not added
    diff: str = ""


@dataclass(frozen=True)
class DraftResult:
    group_id: int
    entry_id: str
    path: Path
    questions: list[str]
    claimed: list[tuple[str, str]]
    todo: list[str]  # what validation still asks for, file:line (the empty answer at least)


# ---------------------------------------------------------------------- helpers
@contextmanager
def kb_lock(root: Path) -> Iterator[None]:
    """One writer per knowledge folder (CLI and Telegram buttons may resolve at the same time).
    A lock on the folder itself: no lock file appears in the watched folder."""
    fd = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


async def open_group(store: "Storage", group_id: int) -> Group:
    group, holder = await find_group(store, group_id)
    if group is not None:
        return group
    if holder is not None:
        raise CurationError(f"question #{group_id} belongs to group #{holder.id}; use that number")
    raise CurationError(f"no open group #{group_id}; list the queue again: rashut unanswered list --grouped")


def split_questions(questions: list[str], entry: Entry | None, kb: KnowledgeBase | None) -> tuple[
        list[str], list[str], list[tuple[str, str]], list[str]]:
    """(to add, already in the entry, claimed by another entry, too long), after normalisation."""
    own = {normalize(q) for q in entry.questions} if entry else set()
    claimed_by = {normalize(q): e.id for e in (kb.entries.values() if kb else ()) for q in e.questions
                  if entry is None or e.id != entry.id}
    add, existing, claimed, too_long = [], [], [], []
    seen: set[str] = set()
    for q in questions:
        q = " ".join(q.split())
        key = normalize(q)
        if not key or key in seen:
            continue  # a repeat within the group itself
        seen.add(key)
        if len(q) > MAX_QUESTION_CHARS:
            too_long.append(q)
        elif key in own:
            existing.append(q)
        elif key in claimed_by:
            claimed.append((q, claimed_by[key]))
        else:
            add.append(q)
    return add, existing, claimed, too_long


# ---------------------------------------------------------------------- resolve into an entry
async def resolve_group(store: "Storage", kb_root: Path | str, group_id: int, entry_id: str) -> ResolveResult:
    """Add a group's questions to ``entry_id`` in its YAML file and close the group.

    Raises ``CurationError`` (unknown group or entry), ``EditError`` (file cannot be edited safely)
    or ``KnowledgeError`` (the edited base would not validate; the file is left as it was).
    """
    group = await open_group(store, group_id)
    result = await asyncio.to_thread(_resolve_files, Path(kb_root), group, entry_id)
    await store.set_status(group.row_ids, "resolved", entry_id)
    return result


def _resolve_files(root: Path, group: Group, entry_id: str) -> ResolveResult:
    with kb_lock(root):
        kb = load_base(root)  # the disk as it is now, not the bot's snapshot
        entry = kb.entry(entry_id)
        if entry is None:
            raise CurationError(f"no entry '{entry_id}' in {root}")
        add, existing, claimed, too_long = split_questions(group.questions(), entry, kb)
        result = ResolveResult(group.id, entry_id, entry.file, group.count, add, existing, claimed, too_long)
        if not add:
            return result
        path = file_to_edit(root, entry.file)  # through a link inside the folder, never out of it
        old = read_source(path, entry.file)
        new = add_questions(old, entry_id, add)
        data = new.encode("utf-8")
        validate_staged(root, entry.file, data)
        write_validated(path, data, lambda: load_base(root))
        return ResolveResult(group.id, entry_id, entry.file, group.count, add, existing, claimed, too_long,
                             unified_diff(old, new, entry.file))


def read_source(path: Path, label: str) -> str:
    """A knowledge file's text for editing, read with the loader's own checks (size cap, UTF-8,
    control characters): the file validated a moment ago, but another editor may have saved since."""
    text, problems = read_text(path, label)
    if text is None:
        raise KnowledgeError(problems)
    return text


def validate_staged(root: Path, rel: str, data: bytes) -> None:
    """Validate the whole base with the edited file in a scratch copy (raises KnowledgeError).

    The copy holds exactly the files the loader reads, as plain files under their labels. A copy
    of the folder (``copytree``) would follow its links: ``loop -> .`` was copied until the system
    refused (a raw ``shutil.Error``), a second way to a folder doubled its entries, and a link
    leading outside brought outside files into the check.
    """
    files, problems = knowledge_files(root)
    if problems:
        raise KnowledgeError(problems)
    with tempfile.TemporaryDirectory(prefix="rashut-stage-") as tmp:
        stage = Path(tmp) / "kb"
        stage.mkdir()
        for label, path in files:
            (stage / label).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, stage / label)
        (stage / rel).parent.mkdir(parents=True, exist_ok=True)
        (stage / rel).write_bytes(data)
        load_base(stage)


# ---------------------------------------------------------------------- draft a new entry
DRAFT_HEADER = """\
# טיוטות לפריטי ידע חדשים, מתור השאלות (rashut unanswered resolve GROUP --new FILE).
# הקובץ נמצא מחוץ לתיקיית הידע בכוונה: פריט עם תשובה ריקה אינו תקין, והבוט ממשיך לענות מהמאגר הקודם.
# 1. השלימו answer (ועדכנו title ו-id). 2. בדקו: rashut kb validate --kb <התיקייה של הקובץ הזה>
# 3. העבירו את הפריט לקובץ המתאים בתיקיית הידע; הבוט טוען אותו מחדש מעצמו.
# 4. סגרו את הקבוצה: rashut unanswered resolve GROUP --entry <id>
schema: 1
kind: topic
id: drafts
title: טיוטות של פריטים חדשים
source: {name: "טיוטה – יש להשלים מקור"}
entries:
"""


def _draft_lines(group: Group, entry_id: str, questions: list[str]) -> list[str]:
    best = f", candidate {group.best_entry} ({group.best_score:.2f})" if group.best_entry else ""
    lines = [f"# group #{group.id}: {group.count} questions, {group.askers} askers{best}",
             f"- id: {entry_id}",
             f"  title: {block_item(questions[0] if questions else 'TODO')}  # TODO: a short title",
             '  answer: ""  # TODO: the answer, short and factual, with numbers and dates exact',
             "  questions:"]
    return lines + [f"    - {block_item(q)}" for q in questions]


async def draft_group(store: "Storage", kb_root: Path | str, group_id: int, draft: Path | str) -> DraftResult:
    """Write a draft entry for a group into ``draft`` (created or appended), outside the knowledge folder.

    The group stays open: it is closed with ``resolve_group(..., entry_id)`` once the filled-in
    entry is in the base (its questions are then already there, so nothing is added twice).
    """
    group = await open_group(store, group_id)
    return await asyncio.to_thread(_draft_file, Path(kb_root), group, Path(draft))


def _draft_file(root: Path, group: Group, draft: Path) -> DraftResult:
    if draft.resolve().is_relative_to(root.resolve()):
        raise CurationError(f"{draft} is inside the knowledge folder; an entry without an answer would break "
                            "the base. Write drafts outside it, e.g. --new drafts/new.yaml")
    try:
        kb: KnowledgeBase | None = load_base(root)
    except KnowledgeError:
        kb = None  # still useful to draft; the claim check happens again on validation
    entry_id = f"new-{group.id}"
    add, _existing, claimed, _too_long = split_questions(group.questions(), None, kb)
    lines = _draft_lines(group, entry_id, add)
    if draft.exists():
        old = read_source(draft, str(draft))
        if f"id: {entry_id}\n" in old or f"id: {entry_id}\r\n" in old:
            raise CurationError(f"group #{group.id} is already drafted in {draft} (entry '{entry_id}')")
        new = append_entry(old, lines)
    else:
        draft.parent.mkdir(parents=True, exist_ok=True)
        new = DRAFT_HEADER + "".join(f"  {line}\n" for line in lines)
    write_atomic(draft, new.encode("utf-8"))
    return DraftResult(group.id, entry_id, draft, add, claimed, _draft_todo(draft))


def _draft_todo(draft: Path) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="rashut-draft-") as tmp:
        shutil.copy(draft, Path(tmp) / draft.name)
        try:
            load_base(tmp)
        except KnowledgeError as exc:
            return [str(p) for p in exc.problems]
    return []


async def dismiss_group(store: "Storage", group_id: int) -> int:
    """Close a group as out of scope; returns the number of queue rows closed."""
    group = await open_group(store, group_id)
    await store.set_status(group.row_ids, "dismissed")
    return group.count


# ---------------------------------------------------------------------- digest
async def digest_text(store: "Storage", snapshot: "Snapshot | None", *, top: int = 5, hours: float = 24) -> str:
    """The daily Hebrew digest for the curators' chat: traffic, largest open groups, most 👎."""
    stats = await store.stats(since=time.time() - hours * 3600)
    kind = stats.by_kind
    asked = stats.asked
    lines = [texts.DIGEST_TITLE]
    if asked:
        lines.append(texts.DIGEST_TRAFFIC.format(total=asked, answered=_pct(kind.get("answer", 0), asked),
                                                 clarify=_pct(kind.get("clarify", 0), asked),
                                                 unanswered=_pct(kind.get("unanswered", 0), asked)))
    else:
        lines.append(texts.DIGEST_NO_TRAFFIC)
    groups = await grouped(store, snapshot)
    if groups:
        lines.append(texts.DIGEST_OPEN.format(rows=sum(g.count for g in groups), groups=len(groups)))
        for g in groups[:top]:
            line = texts.DIGEST_GROUP.format(id=g.id, count=g.count, askers=g.askers, example=g.examples[0])
            if g.best_title:
                line += texts.DIGEST_CANDIDATE.format(title=g.best_title)
            lines.append(line)
    else:
        lines.append(texts.CURATOR_NO_OPEN)
    down = [(e, up, dn) for e, up, dn in stats.feedback if dn]
    if down:
        lines.append(texts.DIGEST_DOWNVOTED)
        kb = snapshot.kb if snapshot else None
        for entry_id, up, dn in down[:top]:
            entry = kb.entry(entry_id) if kb else None
            lines.append(texts.DIGEST_DOWNVOTED_LINE.format(title=entry.title if entry else entry_id,
                                                            id=entry_id, down=dn, up=up or 0))
    lines.append(texts.DIGEST_HOWTO)
    return "\n".join(lines)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "0%"
