"""Printing side of ``rashut unanswered ...`` and ``rashut stats`` (the logic is in ``bot.curation``).

Kept apart so the async operations the Telegram buttons share stay small and free of terminal
formatting. Output is for curators at a terminal; exports are for spreadsheets and carry no user
identifier of any kind (not even the keyed hash).
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from knowledge.errors import KnowledgeError
from knowledge.loader import load_base
from knowledge.schema import KnowledgeBase

from .curation import CurationError, dismiss_group, draft_group, resolve_group
from .scope_curation import dismiss_out_of_scope
from .grouping import Group, by_size, cluster, with_titles
from .settings import Settings
from .storage import NoStoreYet, Storage, UnansweredRow
from .store import open_store
from .yaml_edit import EditError

EXPORT_FIELDS = ("id", "time", "status", "kind", "channel", "chat_type", "text", "norm", "best_entry",
                 "best_score", "resolved_entry", "group")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # spreadsheet formula injection


try:
    _ISRAEL: Any = ZoneInfo("Asia/Jerusalem")
except ZoneInfoNotFoundError:  # no tz database in a slim image: show UTC rather than fail
    _ISRAEL = timezone.utc


def _when(ts: float) -> str:
    """Times for curators' eyes, in Israel time, labelled with the zone ("IST"/"IDT"; "UTC" where the
    image has no time zone data); exports keep ISO UTC with its offset, for machines."""
    return datetime.fromtimestamp(ts, _ISRAEL).strftime("%Y-%m-%d %H:%M %Z")


def _status(value: str) -> str | None:
    return None if value == "all" else value


def _kb_or_none(settings: Settings, err: TextIO) -> KnowledgeBase | None:
    """Titles are a convenience: a broken or missing base must not hide the queue."""
    try:
        return load_base(settings.kb_path)
    except KnowledgeError as exc:
        print(f"(knowledge base not loaded, showing entry ids only: {len(exc.problems)} problem(s))", file=err)
        return None


async def _with_store(settings: Settings, fn: Any) -> int:
    store = await open_store(settings.db_target)
    try:
        return await fn(store)
    finally:
        await store.close()


async def _reading(settings: Settings, fn: Any, err: TextIO, missing: Any = None) -> int:
    """A command that only reads opens the store read-only: it creates no folder and no file, and a
    user who may read the store but not write it can still read it. Where there is no store yet,
    nothing has been recorded: it says so and runs ``missing`` (an empty queue is not an error)."""
    try:
        store = await open_store(settings.db_path, readonly=True)
    except NoStoreYet as exc:
        print(exc, file=err)
        return await missing() if missing is not None else 0
    try:
        return await fn(store)
    finally:
        await store.close()


def dispatch(args: argparse.Namespace, settings: Settings, out: TextIO | None = None,
             err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    cmd = args.un_command
    try:
        if cmd == "list":
            return asyncio.run(_reading(settings, lambda s: list_queue(s, args, settings, out, err), err))
        if cmd == "export":
            return asyncio.run(_reading(settings, lambda s: export(s, args, out), err,
                                        missing=lambda: write_export([], args, out)))
        if cmd == "resolve":
            return asyncio.run(_with_store(settings, lambda s: resolve(s, args, settings, out)))
        if cmd == "dismiss":
            return asyncio.run(_with_store(settings, lambda s: dismiss(s, args, settings, out)))
    except (CurationError, EditError, OSError) as exc:  # OSError: e.g. a read-only knowledge folder
        print(f"error: {exc}", file=err)
        return 1
    except KnowledgeError as exc:
        print(f"nothing changed: the knowledge base would not validate ({len(exc.problems)} problem(s)):\n"
              f"{exc.render()}", file=err)
        return 1
    except BrokenPipeError:  # `... | head`: the reader left, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    raise SystemExit(f"unknown unanswered command {cmd}")


# ---------------------------------------------------------------------- list
async def list_queue(store: Storage, args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    status = _status(args.status)
    kb = _kb_or_none(settings, err)
    if not args.grouped:
        rows = await store.unanswered(status=status, limit=args.limit)
        for r in rows:
            best = f"  [{r.candidates[0]['entry_id']} {r.candidates[0]['score']:.2f}]" if r.candidates else ""
            done = f"  -> {r.entry_id}" if r.entry_id else ""
            print(f"#{r.id:<6} {_when(r.ts)}  {r.kind:<10} {r.status:<9}{best}{done}  {r.text}", file=out)
        print(f"{len(rows)} question(s), newest first", file=out)
        return 0
    rows = await store.unanswered(status=status)
    groups = by_size(with_titles(await asyncio.to_thread(cluster, rows), kb))
    for g in groups[: args.limit] if args.limit else groups:
        print_group(g, out)
    shown = min(len(groups), args.limit) if args.limit else len(groups)
    print(f"{len(groups)} group(s) of {len(rows)} question(s), largest first, {shown} shown.", file=out)
    if groups and status == "open":
        print("next: rashut unanswered resolve GROUP --entry ENTRY_ID | --new drafts/FILE.yaml ; "
              "rashut unanswered dismiss GROUP", file=out)
    return 0


def print_group(g: Group, out: TextIO) -> None:
    span = _when(g.first_ts) if g.count == 1 else f"{_when(g.first_ts)} .. {_when(g.last_ts)}"
    print(f"\n#{g.id}  {g.count} question(s), {g.askers} asker(s), {span}", file=out)
    if g.best_entry:
        title = f" \"{g.best_title}\"" if g.best_title else ""
        print(f"    nearest entry: {g.best_entry}{title} (score {g.best_score:.2f})", file=out)
    for text in g.examples:
        print(f"    - {text}", file=out)
    more = len(g.questions()) - len(g.examples)
    if more > 0:
        print(f"    ... and {more} more phrasing(s)", file=out)


# ---------------------------------------------------------------------- export
def _safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def export_record(r: UnansweredRow, group: int | None) -> dict[str, Any]:
    """One exported row. Deliberately without user_hash: exports leave the server."""
    best = r.candidates[0] if r.candidates else {}
    return {"id": r.id, "time": datetime.fromtimestamp(r.ts, timezone.utc).isoformat(timespec="seconds"),
            "status": r.status, "kind": r.kind, "channel": r.channel, "chat_type": r.chat_type, "text": r.text,
            "norm": r.norm, "best_entry": best.get("entry_id"), "best_score": best.get("score"),
            "resolved_entry": r.entry_id, "group": group}


@contextmanager
def _target(path: Path | None, fmt: str, out: TextIO) -> Iterator[TextIO]:
    if path is None:
        yield out
        return
    # A BOM lets spreadsheet programs read Hebrew CSV as UTF-8; JSON lines stay plain UTF-8.
    with open(path, "w", encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="") as fh:
        yield fh


async def export(store: Storage, args: argparse.Namespace, out: TextIO) -> int:
    rows = await store.unanswered(status=_status(args.status))
    open_rows = [r for r in rows if r.status == "open"]
    group_of = {rid: g.id for g in await asyncio.to_thread(cluster, open_rows) for rid in g.row_ids}
    return await write_export([export_record(r, group_of.get(r.id)) for r in rows], args, out)


async def write_export(records: list[dict[str, Any]], args: argparse.Namespace, out: TextIO) -> int:
    """The export file or stream; with no records still a valid one (a CSV keeps its header)."""
    with _target(args.output, args.format, out) as fh:
        if args.format == "jsonl":
            for rec in records:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        else:
            writer = csv.DictWriter(fh, fieldnames=EXPORT_FIELDS, lineterminator="\n")
            writer.writeheader()
            for rec in records:
                writer.writerow({k: _safe_cell(v) for k, v in rec.items()})
    if args.output is not None:
        print(f"{len(records)} question(s) written to {args.output}", file=out)
    return 0


# ---------------------------------------------------------------------- resolve / dismiss
async def resolve(store: Storage, args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    if args.new is not None:
        d = await draft_group(store, settings.kb_path, args.group, args.new)
        print(f"draft entry '{d.entry_id}' with {len(d.questions)} question(s) written to {d.path}", file=out)
        for q, other in d.claimed:
            print(f"  not included (already a question of '{other}'): {q}", file=out)
        if d.todo:
            print("still to fill in (rashut kb validate says):", file=out)
            for line in d.todo:
                print(f"  {line}", file=out)
        print(f"group #{d.group_id} stays open; when the entry is in the knowledge folder run: "
              f"rashut unanswered resolve {d.group_id} --entry <its id>", file=out)
        return 0
    r = await resolve_group(store, settings.kb_path, args.group, args.entry)
    _report(out, r.diff, f"group #{r.group_id}: {len(r.added)} question(s) added to '{r.entry_id}' in {r.file}; "
                         f"{r.rows} queue row(s) marked resolved",
            [f"already there: {q}" for q in r.existing]
            + [f"not added, already a question of '{other}': {q}" for q, other in r.claimed]
            + [f"not added, too long to be a phrasing ({len(q)} characters): {q[:80]}..." for q in r.too_long])
    return 0


def _report(out: TextIO, diff: str, headline: str, notes: list[str]) -> None:
    """What an edit of the knowledge folder did: the diff, one line, then a line per question left out."""
    if diff:
        out.write(diff if diff.endswith("\n") else diff + "\n")
    print(headline, file=out)
    for note in notes:
        print(f"  {note}", file=out)


async def dismiss(store: Storage, args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    if not args.subject:
        n = await dismiss_group(store, args.group)
        print(f"group #{args.group}: {n} queue row(s) dismissed", file=out)
        return 0
    r = await dismiss_out_of_scope(store, settings.kb_path, args.group, args.subject)
    if r.added:
        where = "new subject" if r.new_subject else "subject"
        headline = (f"group #{r.group_id}: {len(r.added)} question(s) added to the {where} '{r.subject}' in "
                    f"out_of_scope.yaml; {r.rows} queue row(s) dismissed")
    else:
        headline = (f"group #{r.group_id}: {r.rows} queue row(s) dismissed; nothing was added to out_of_scope.yaml, "
                    f"so the subject '{r.subject}' was not created or changed (every question is listed below)")
    _report(out, r.diff, headline,
            [f"already out of scope: {q}" for q in r.existing]
            + [f"not added, a question of entry '{other}': {q}" for q, other in r.claimed]
            + [f"not added, too long to be a phrasing ({len(q)} characters): {q[:80]}..." for q in r.too_long])
    return 0


# ---------------------------------------------------------------------- stats
def stats_command(args: argparse.Namespace, settings: Settings, out: TextIO | None = None,
                  err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    return asyncio.run(_reading(settings, lambda s: print_stats(s, args.days, settings, out, err), err))


async def print_stats(store: Storage, days: int, settings: Settings, out: TextIO, err: TextIO) -> int:
    stats = await store.stats(since=time.time() - days * 86400)
    kb = _kb_or_none(settings, err)
    title = (lambda e: f"  {kb.entries[e].title}" if kb and e in kb.entries else "")
    kinds = stats.by_kind
    asked = stats.asked
    print(f"last {days} day(s): {asked} question(s), plus {kinds.get('smalltalk', 0)} smalltalk and "
          f"{kinds.get('browse', 0)} browse", file=out)
    for k, label in (("answer", "answered"), ("clarify", "clarify"), ("unanswered", "unanswered")):
        share = 100 * kinds.get(k, 0) / asked if asked else 0.0
        print(f"  {label:<11} {kinds.get(k, 0):>6}  {share:5.1f}%", file=out)
    print("\nper day, UTC (answer / clarify / unanswered):", file=out)
    for day, by in stats.per_day.items():
        print(f"  {day}  {by.get('answer', 0):>5} / {by.get('clarify', 0):>5} / {by.get('unanswered', 0):>5}",
              file=out)
    print("\ntop entries:", file=out)
    for entry_id, n in stats.top_entries:
        print(f"  {n:>5}  {entry_id}{title(entry_id)}", file=out)
    print("\nmost 👎 (all time):", file=out)
    for entry_id, up, down in [f for f in stats.feedback if f.down][:10]:
        print(f"  👎 {down:>3}  👍 {up or 0:>3}  {entry_id}{title(entry_id)}", file=out)
    open_rows = await store.unanswered(status="open")
    groups = await asyncio.to_thread(cluster, open_rows)
    by_status = stats.unanswered_by_status
    print(f"\nqueue: {len(open_rows)} open question(s) in {len(groups)} group(s); "
          f"{by_status.get('resolved', 0)} resolved, {by_status.get('dismissed', 0)} dismissed", file=out)
    return 0
