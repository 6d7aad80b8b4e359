"""Dismiss a queue group as out of scope *and* teach the bot so: ``rashut unanswered dismiss GROUP
--subject "..."``.

The group's questions are appended to the subject in ``out_of_scope.yaml`` (the subject and the
file are created when missing), with the same guarantees as resolving into an entry: added lines
only, the whole base validated in a staging copy first, an atomic write, the knowledge folder
locked against a concurrent curator. Next time, a question closer to these than to any entry gets
the honest "outside my knowledge" reply naming the subject instead of a guess.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge.hebrew import normalize
from knowledge.loader import file_to_edit, load_base
from knowledge.side_files import OUT_OF_SCOPE_FILE

from .curation import CurationError, kb_lock, open_group, read_source, split_questions, validate_staged
from .grouping import Group
from .yaml_edit import add_questions, append_entry, block_item, unified_diff, write_validated

if TYPE_CHECKING:
    from .storage import Storage

NEW_FILE = """\
# Subjects the base deliberately does not answer, with questions users asked about them.
# A question closer to one of these than to the best entry's own questions gets an honest
# "this is outside my knowledge" reply naming the subject.
schema: 1
subjects:
"""


@dataclass(frozen=True)
class ScopeResult:
    group_id: int
    subject: str
    rows: int  # queue rows marked dismissed
    added: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)  # already listed as out of scope
    claimed: list[tuple[str, str]] = field(default_factory=list)  # (question, entry id): not added
    new_subject: bool = False  # the subject was created (only when something was added)
    diff: str = ""
    too_long: list[str] = field(default_factory=list)  # pasted messages, not phrasings: not added


async def dismiss_out_of_scope(store: "Storage", kb_root: Path | str, group_id: int, subject: str) -> ScopeResult:
    """Add a group's questions to ``subject`` in out_of_scope.yaml, then close the group as dismissed.

    Raises ``CurationError`` (unknown group, empty subject), ``EditError`` (the file cannot be
    edited safely) or ``KnowledgeError`` (the edited base would not validate; nothing is written).
    """
    subject = " ".join(subject.split())
    if not subject:
        raise CurationError("name the subject, e.g. --subject \"שכר ותנאי העסקה של עובדים\"")
    group = await open_group(store, group_id)
    result = await asyncio.to_thread(_add_to_subject, Path(kb_root), group, subject)
    await store.set_status(group.row_ids, "dismissed")
    return result


def _add_to_subject(root: Path, group: Group, subject: str) -> ScopeResult:
    with kb_lock(root):
        kb = load_base(root)  # the disk as it is now
        listed = {normalize(q) for s in kb.out_of_scope for q in s.questions}
        add, _own, claimed, too_long = split_questions(group.questions(), None, kb)  # pasted messages are left out
        existing = [q for q in add if normalize(q) in listed]
        add = [q for q in add if normalize(q) not in listed]
        known = any(s.subject == subject for s in kb.out_of_scope)
        result = ScopeResult(group.id, subject, group.count, add, existing, claimed, False, too_long=too_long)
        if not add:
            return result  # nothing to write: no subject is created, and the report says why
        path = file_to_edit(root, OUT_OF_SCOPE_FILE)  # through a link inside the folder, never out of it
        existed = path.exists()
        old = read_source(path, OUT_OF_SCOPE_FILE) if existed else NEW_FILE
        if known:
            new = add_questions(old, subject, add, within="subjects", key="subject")
        elif not existed:
            new = old + f"  - subject: {block_item(subject)}\n    questions:\n" + \
                "".join(f"      - {block_item(q)}\n" for q in add)
        else:
            lines = [f"- subject: {block_item(subject)}", "  questions:"] + [f"    - {block_item(q)}" for q in add]
            new = append_entry(old, lines, within="subjects")
        data = new.encode("utf-8")
        validate_staged(root, OUT_OF_SCOPE_FILE, data)
        write_validated(path, data, lambda: load_base(root))
        return ScopeResult(group.id, subject, group.count, add, existing, claimed, not known,
                           unified_diff(old if existed else "", new, OUT_OF_SCOPE_FILE), too_long)
