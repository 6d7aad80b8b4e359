"""Answers as a phone shows them: hard-wrapped lines of a paragraph joined into one.

Why: answers are written as YAML block scalars wrapped at ~100 characters for the curators'
editors, and every channel keeps line breaks, so Telegram showed a break in the middle of a
sentence on a narrow screen. The loader passes every answer, checklist item and document summary
through ``unwrap`` once, so every channel (console, Telegram, WhatsApp, ``rashut ask``) gets the
same text. Kept as written: blank lines (paragraphs), list lines (bullets, ☐, "1." / "א." / "1)")
and a line break after a sentence that ends (. ! ? : ;), which the writer meant.
"""
from __future__ import annotations

import re

# A list line: a bullet or box, or a number or Hebrew letter followed by "." or ")".
LIST_LINE = re.compile(r"^\s*(?:[•●▪◦·☐✓✔\-\*–]\s|\d{1,2}[.)]\s|[א-ת][.)]\s)")
SENTENCE_END = (".", "!", "?", ":", ";", "…", "׃")


def is_list_line(line: str) -> bool:
    return bool(LIST_LINE.match(line))


def ends_sentence(line: str) -> bool:
    """Whether a line ends a sentence (quotes and closing brackets after the mark are read through)."""
    text = line.rstrip().rstrip("\"'”’)]»")
    return text.endswith(SENTENCE_END)


def unwrap(text: str) -> str:
    """``text`` with every line break inside a sentence replaced by a space."""
    out: list[str] = []
    for raw in text.strip("\n").split("\n"):
        line = raw.strip()
        joinable = out and out[-1] and line and not is_list_line(line) and not ends_sentence(out[-1])
        if joinable:
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
    return "\n".join(out).strip()


def mid_sentence_breaks(text: str) -> list[str]:
    """The lines of ``text`` that end in the middle of a sentence: the line after them goes on with
    it (neither a blank line nor a list line). Empty for any text ``unwrap`` has passed."""
    lines = text.split("\n")
    return [line for line, after in zip(lines, lines[1:])
            if line.strip() and after.strip() and not is_list_line(after) and not ends_sentence(line)]
