"""Curator commands: /unanswered, /reload, /stats, for the allow-listed numeric user ids only.

These handlers are registered behind a user filter (see ``app.register``), so for anyone else the
command falls through to the same path as any unknown command: no "not allowed", no hint that
they exist. The rendering functions are pure so they can be tested and replaced on their own
(the grouped view of the queue will replace ``render_unanswered``).
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any, Sequence

from telegram import Update
from telegram.ext import ContextTypes

from bot import texts
from bot.store import UnansweredRow
from knowledge.errors import KnowledgeError

from .deps import Deps
from .render import MAX_MESSAGE, Line, esc, isolate, pack, render_html_lines, tg_len, with_markup
from .send import answer

log = logging.getLogger(__name__)

UNANSWERED_SHOWN = 10
QUESTION_PREVIEW = 200
RELOAD_ERRORS_SHOWN = 40


def render_unanswered(rows: Sequence[UnansweredRow], total: int, limit: int = UNANSWERED_SHOWN) -> str:
    """The open queue as HTML: the count, then the newest questions (escaped, bidi-isolated)."""
    if total == 0:
        return esc(texts.CURATOR_NO_OPEN)
    shown = list(rows[:limit])
    lines = [f"<b>{esc(texts.CURATOR_OPEN_RECENT.format(count=total, shown=len(shown)))}</b>"]
    for i, row in enumerate(shown, 1):
        text = " ".join(row.text.split())
        if len(text) > QUESTION_PREVIEW:
            text = text[: QUESTION_PREVIEW - 1] + "…"
        when = datetime.fromtimestamp(row.ts, tz=timezone.utc).strftime("%d.%m %H:%M")
        meta = f"{row.kind} · {row.chat_type} · {when}"
        best = row.candidates[0].get("entry_id") if row.candidates else None
        if best:
            meta += f" · {best}?"
        lines.append(f"{i}. {isolate(text)}\n   <i>{esc(meta)}</i>")
    return "\n".join(lines)


def render_reload_error(exc: KnowledgeError, limit: int = MAX_MESSAGE) -> str:
    """The failed reload: every file:line problem that fits, escaped, then a "more" marker."""
    head, _, tail = texts.CURATOR_RELOAD_FAILED.partition("{errors}")
    frame = tg_len(esc(head)) + tg_len(esc(tail)) + len("<pre></pre>")
    problems = [str(p) for p in exc.problems[:RELOAD_ERRORS_SHOWN]]
    more = len(exc.problems) > len(problems)
    room = limit - frame - tg_len(texts.CURATOR_RELOAD_TRUNCATED) - 2
    kept: list[str] = []
    used = 0
    for problem in problems:
        piece = esc(problem if len(problem) <= 600 else problem[:599] + "…")
        if used + tg_len(piece) + 1 > room:
            more = True
            break
        kept.append(piece)
        used += tg_len(piece) + 1
    body = "\n".join(kept) + (f"\n{esc(texts.CURATOR_RELOAD_TRUNCATED)}" if more else "")
    return f"{esc(head)}<pre>{body}</pre>{esc(tail)}"


def render_stats(stats: dict[str, Any]) -> str:
    by_kind: dict[str, int] = stats.get("by_kind", {})
    feedback = stats.get("feedback", [])
    return esc(texts.CURATOR_STATS.format(
        total=sum(by_kind.values()), answered=by_kind.get("answer", 0), clarify=by_kind.get("clarify", 0),
        unanswered=by_kind.get("unanswered", 0), open=stats.get("unanswered_by_status", {}).get("open", 0),
        up=sum(int(r[1] or 0) for r in feedback), down=sum(int(r[2] or 0) for r in feedback)))


class CuratorHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def _send_html(self, update: Update, html: str, *, per_line: bool = True) -> None:
        """Send curator HTML; ``per_line`` when tags are balanced on every line (safe to split)."""
        if update.effective_message is None:
            return
        chunks = render_html_lines(html) if per_line else with_markup(pack([[Line(raw=html)]]), None)
        await answer(update.effective_message, chunks)

    async def unanswered(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        store = self.deps.store
        rows = await store.unanswered("open") if store is not None else []
        await self._send_html(update, render_unanswered(rows, len(rows)))

    async def reload(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Validate and swap the base; on errors the running base stays and the curator sees why."""
        engine = self.deps.service.engine
        try:
            snap = await asyncio.to_thread(engine.reload)
        except KnowledgeError as exc:
            log.warning("reload refused: %d problem(s); keeping version %d", len(exc.problems),
                        engine.snapshot.version)
            await self._send_html(update, render_reload_error(exc), per_line=False)
            return
        log.info("knowledge reloaded: version %d, %d entries", snap.version, len(snap.kb.entries))
        await self._send_html(update, esc(texts.CURATOR_RELOAD_OK.format(
            entries=len(snap.kb.entries), documents=len(snap.kb.documents), version=snap.version)))

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        store = self.deps.store
        stats = await store.stats() if store is not None else {}
        await self._send_html(update, render_stats(stats))
