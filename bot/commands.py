"""Implementations behind ``rashut`` sub-commands (argument parsing lives in ``bot.cli``)."""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any, BinaryIO, Iterator, TextIO

from knowledge.engine import Engine
from knowledge.loader import load_base

from .plain import render
from .replies import Reply
from .service import AnswerService
from .settings import Settings
from .storage import storable


def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    cmd = args.command
    if cmd == "kb":
        return {"validate": kb_validate, "stats": kb_stats, "check": kb_check}[args.kb_command](settings)
    if cmd == "ask":
        return ask(args, settings)
    if cmd == "eval":
        return run_eval(args, settings)
    if cmd in ("chat", "run"):
        from . import run

        return run.chat(settings, visual=getattr(args, "visual", None)) if cmd == "chat" else run.run(settings)
    if cmd == "unanswered":
        from . import curation_cli

        return curation_cli.dispatch(args, settings)
    if cmd == "stats":
        from . import curation_cli

        return curation_cli.stats_command(args, settings)
    raise SystemExit(f"unknown command {cmd}")


# ---------------------------------------------------------------------- kb
def kb_validate(settings: Settings) -> int:
    kb = load_base(settings.kb_path)  # KnowledgeError is reported by the CLI with every problem
    files = {d.file for d in kb.documents}
    print(f"OK: {len(kb.entries)} entries in {len(kb.documents)} documents ({len(files)} files), "
          f"{len(kb.synonyms)} synonym groups, {len(kb.out_of_scope)} out-of-scope subjects "
          f"({sum(len(s.questions) for s in kb.out_of_scope)} questions) — {settings.kb_path}")
    return 0


def kb_stats(settings: Settings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    kb = load_base(settings.kb_path)
    by_kind = Counter(d.kind for d in kb.documents)
    entries_by_kind = Counter(e.kind for e in kb.entries.values())
    print(f"documents: {len(kb.documents)}  entries: {len(kb.entries)}  synonym groups: {len(kb.synonyms)}  "
          f"out-of-scope subjects: {len(kb.out_of_scope)}", file=out)
    print("\nper kind (documents / entries):", file=out)
    for kind in sorted(by_kind):
        print(f"  {kind:<10} {by_kind[kind]:>3} / {entries_by_kind[kind]:>4}", file=out)
    print("\nper file (entries / alternate questions):", file=out)
    for doc in sorted(kb.documents, key=lambda d: d.file):
        nq = sum(len(e.questions) for e in doc.entries)
        print(f"  {doc.file:<45} {len(doc.entries):>4} / {nq:>5}", file=out)
    few = [e for e in kb.entries.values() if len(e.questions) < 3]
    none = [e for e in few if not e.questions]
    nosource = [e for e in kb.entries.values() if not e.source.name]
    print(f"\nentries without alternate questions: {len(none)}", file=out)
    print(f"entries with fewer than 3 alternate questions: {len(few)}", file=out)
    for e in few:
        print(f"  {e.file}:{e.line} {e.id} ({len(e.questions)})", file=out)
    print(f"entries without a source: {len(nosource)}", file=out)
    for e in nosource:
        print(f"  {e.file}:{e.line} {e.id}", file=out)
    return 0


def kb_check(settings: Settings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    from .selfcheck import check_base

    engine = Engine(settings.kb_path)
    failures, total = check_base(engine.snapshot)
    for f in failures:
        print(f.render(), file=out)
    print(f"{total - len(failures)}/{total} alternate questions come back to their own entry; "
          f"{len(failures)} fail", file=out)
    return 1 if failures else 0


# ---------------------------------------------------------------------- ask
def reply_json(question: str, reply: Reply) -> dict[str, Any]:
    src = reply.citation
    return {
        "question": question,
        "answered": reply.kind == "answer",
        "kind": reply.kind,
        "entry_id": reply.entry_id,
        "score": round(reply.score, 4),
        "answer": reply.plain_text(),
        "source": ({"name": src.source_name, "url": src.url,
                    "as_of": src.as_of.isoformat() if src.as_of else None} if src else None),
        "suggestions": [{"entry_id": o.entry_id, "title": o.label, "score": o.score} for o in reply.options
                        if o.entry_id],
    }


def readable(text: str) -> str:
    """A question as typed, with every byte that was not UTF-8 as U+FFFD (what any editor shows
    for a paste in another encoding). Python decodes arguments, and stdin in a C locale, with
    ``surrogateescape``: one lone surrogate per such byte, which the JSON output then wrote back
    as the raw byte, so the output was not UTF-8."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte
        return storable(text)


def stdin_lines(stream: BinaryIO) -> Iterator[str]:
    """Lines read as bytes and decoded here, whatever the locale's encoding and error handler."""
    for raw in stream:
        yield raw.decode("utf-8", "replace").rstrip("\r\n")


def ask(args: argparse.Namespace, settings: Settings) -> int:
    service = AnswerService(Engine(settings.kb_path))
    if args.question:
        questions = [readable(" ".join(args.question))]
        as_json = args.json
    else:
        questions = None
        as_json = True  # the stdin contract is JSON lines
    out = sys.stdout

    def emit(q: str) -> None:
        reply, _ = service.respond(q)
        if as_json:
            out.write(json.dumps(reply_json(q, reply), ensure_ascii=False) + "\n")
        else:
            out.write(render(reply) + "\n")
        out.flush()

    if questions is not None:
        for q in questions:
            emit(q)
        return 0
    for line in stdin_lines(sys.stdin.buffer):
        emit(line)
    return 0


# ---------------------------------------------------------------------- eval
def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    from .evaluate import SETS, evaluate, is_fresh, load_items, pooled

    service = AnswerService(Engine(settings.kb_path))
    names = list(SETS) if args.set == "all" else [args.set]
    ok = True
    fresh = []
    for name in names:
        report = evaluate(service, load_items(SETS[name]), name)
        report.render(sys.stdout, confusions=not args.quiet)
        ok &= report.passes()
        fresh += [report] if is_fresh(name) else []
    if len(fresh) > 1:  # answer quality: the held-out sets together, for information (no bar)
        pooled(fresh, "pooled held-out sets").render(sys.stdout, confusions=False)
    print("PASS" if ok else "FAIL: below the bars")
    return 0 if ok else 1
