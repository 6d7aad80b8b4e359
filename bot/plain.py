"""A reply as plain text: what the console chat and ``rashut ask`` print."""
from __future__ import annotations

from . import texts
from .replies import Reply

KIND_MARK = {"answer": "✅", "clarify": "❓", "unanswered": "🤷", "browse": "📚", "smalltalk": "💬"}


def render(reply: Reply) -> str:
    """Title with a mark for the kind, the text with its citation, then the numbered options."""
    lines = [f"{KIND_MARK.get(reply.kind, '')} {reply.title}" if reply.title else KIND_MARK.get(reply.kind, "")]
    lines.append(reply.plain_text())
    if reply.options:
        if reply.options_heading:
            lines.append(reply.options_heading)
        for i, opt in enumerate(reply.options, 1):
            ref = opt.entry_id or opt.target or ""
            lines.append(f"  {i}. {opt.label}  [{ref}]")
    if reply.next:
        lines.append(f"  » {reply.next.label} {texts.NEXT_WORD_HINT} [{reply.next.target}]")
    return "\n".join(line for line in lines if line)
