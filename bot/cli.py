"""The ``rashut`` command line: run, chat, ask, kb, unanswered, stats."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Sequence

from knowledge.errors import KnowledgeError, RashutError

from .evaluate import SETS
from .logs import configure
from .settings import Settings, environment

log = logging.getLogger("rashut")


def _kb_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kb", type=Path, default=None, help="knowledge folder (default: $RASHUT_KB or the bundled base)")


def _db_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=None, help="the store: a SQLite path or a postgresql:// URL (default: $RASHUT_DB)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rashut", description="Rashut: answers for local-authority staff")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("run", help="Telegram when TELEGRAM_BOT_TOKEN is set, otherwise the console chat")
    _kb_arg(p)
    _db_arg(p)
    p = sub.add_parser("chat", help="console chat")
    p.add_argument("--visual", action="store_true", default=None,
                   help="reorder Hebrew for terminals that show it reversed (xterm, tmux...)")
    _kb_arg(p)
    _db_arg(p)
    p = sub.add_parser("ask", help="answer one question, or one per stdin line as JSON lines")
    p.add_argument("question", nargs="*", help="the question; omit to read one question per line from stdin")
    p.add_argument("--json", action="store_true", help="one JSON object per question")
    _kb_arg(p)

    kb = sub.add_parser("kb", help="knowledge base tools").add_subparsers(dest="kb_command", required=True)
    for name, help_text in (("validate", "validate every file, list all errors"),
                            ("stats", "counts per kind and file, entries without alternate questions"),
                            ("check", "ask every alternate question; list those that miss their entry")):
        p = kb.add_parser(name, help=help_text)
        _kb_arg(p)

    un = sub.add_parser("unanswered", help="the curators' queue").add_subparsers(dest="un_command", required=True)
    p = un.add_parser("list", help="open questions (newest first)")
    p.add_argument("--grouped", action="store_true", help="cluster similar questions")
    p.add_argument("--status", default="open", choices=["open", "resolved", "dismissed", "all"])
    p.add_argument("--limit", type=int, default=50)
    _db_arg(p)
    _kb_arg(p)
    p = un.add_parser("export", help="export without user identifiers")
    p.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    p.add_argument("--status", default="open", choices=["open", "resolved", "dismissed", "all"])
    p.add_argument("--output", "-o", type=Path, default=None)
    _db_arg(p)
    p = un.add_parser("resolve", help="append a group's questions to an entry (or a new draft entry)")
    p.add_argument("group", type=int)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--entry", help="entry id that answers these questions")
    target.add_argument("--new", type=Path, help="YAML file to write a draft entry into")
    _db_arg(p)
    _kb_arg(p)
    p = un.add_parser("dismiss", help="close a group as out of scope")
    p.add_argument("group", type=int)
    p.add_argument("--subject", help="also add its questions to this subject in out_of_scope.yaml, so the "
                                     "bot says the subject is outside its knowledge next time")
    _db_arg(p)
    _kb_arg(p)

    p = sub.add_parser("eval", help="accuracy on the evaluation sets; fails below the bars")
    p.add_argument("--set", choices=[*SETS, "all"], default="all")
    p.add_argument("--quiet", action="store_true", help="no confusion list")
    _kb_arg(p)

    p = sub.add_parser("stats", help="usage statistics from the store")
    p.add_argument("--days", type=int, default=30)
    _db_arg(p)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    import dataclasses

    settings = Settings.from_env(environment())  # the environment, then an optional ./.env
    changes = {}
    if getattr(args, "kb", None):
        changes["kb_path"] = args.kb
    if getattr(args, "db", None):
        changes.update(Settings.from_env({"RASHUT_DB": args.db}).db_fields())
    return dataclasses.replace(settings, **changes) if changes else settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["run", *(argv or [])])
    try:
        settings = _settings(args)
        configure(settings.log_level)
        from . import commands

        return commands.dispatch(args, settings)
    except KnowledgeError as exc:
        print(f"knowledge base has {len(exc.problems)} error(s):\n{exc.render()}", file=sys.stderr)
        return 1
    except RashutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
