"""Console chat adapter: lines typed at a terminal in, plain-text replies out (the no-channel mode
of ``rashut run``, and ``rashut chat``).

Only translation: a line starting with ``/`` (or a word such as "החלטות") is a command for the
router, anything else is text (a number picks an option of the last reply, "»" or "הבא" the next
stage). The runtime runs in an event loop of its own (``call`` submits to it), so the terminal is
read in the main thread: Ctrl+C and Ctrl+D leave at once, with a goodbye, never a traceback.

Hebrew and terminals: a program writes characters in logical order and the terminal lays them out.
Terminals with bidi support (VTE-based ones, Konsole, macOS Terminal) show Hebrew right; xterm,
tmux and others show it reversed, and no program can tell which it is talking to. ``visual``
(``--visual`` or ``RASHUT_CONSOLE_BIDI=visual``) reorders each line for the second kind with
python-bidi; long lines are wrapped at the terminal's width first, so the reordering is per line.
"""
from __future__ import annotations

import logging
import shutil
import sys
import textwrap
from typing import Any, Callable, Coroutine, TextIO

from bot import texts
from bot.plain import render
from bot.replies import Reply
from bot.router import Caller, Outcome, Router, Unknown, Welcome, typed_command

log = logging.getLogger(__name__)
CALLER = Caller("console", "console", "console")
Call = Callable[[Coroutine[Any, Any, Any]], Any]


def render_outcome(outcome: Outcome) -> str:
    if isinstance(outcome, Reply):
        return render(outcome)
    if isinstance(outcome, Welcome):
        return texts.WELCOME
    if isinstance(outcome, Unknown):
        return texts.UNKNOWN_COMMAND
    return render(Reply("browse", texts.ENTRY_NOT_FOUND))


def layout(text: str, width: int, visual: bool) -> str:
    """Wrap every line at ``width`` (words and links kept whole), then, if asked, reorder each
    line into visual order for a terminal that does not apply bidi itself."""
    lines: list[str] = []
    for line in text.split("\n"):
        indent = line[: len(line) - len(line.lstrip())]
        wrapped = textwrap.wrap(line, width=max(20, width), subsequent_indent=indent, break_long_words=False,
                                break_on_hyphens=False, replace_whitespace=False) or [""]
        lines.extend(wrapped)
    if visual:
        from bidi import get_display

        lines = [get_display(line) for line in lines]
    return "\n".join(lines)


class Console:
    def __init__(self, router: Router, call: Call, *, visual: bool = False, stdin: TextIO | None = None,
                 stdout: TextIO | None = None, width: int | None = None) -> None:
        self.router = router
        self.call = call
        self.visual = visual
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.width = width

    def say(self, text: str) -> None:
        width = self.width or shutil.get_terminal_size((100, 24)).columns - 1
        print(layout(text, width, self.visual), file=self.stdout, flush=True)

    def read(self) -> str | None:
        """One line, or None at the end (Ctrl+D, end of input, Ctrl+C)."""
        try:
            if self.stdin is sys.stdin and sys.stdin.isatty():
                import readline  # noqa: F401 - line editing and history for input()

                return input("\n> ")
            self.stdout.write("\n> ")
            self.stdout.flush()
            line = self.stdin.readline()
            return line if line else None
        except (EOFError, KeyboardInterrupt):
            return None

    def answer(self, text: str) -> str | None:
        """The reply to one line, as text (None when there is nothing to say)."""
        text = text.strip()
        cmd = typed_command(text)
        if cmd is not None:
            return render_outcome(self.call(self.router.run(CALLER, *cmd)))
        reply = self.call(self.router.text(CALLER, text))
        return render(reply) if reply is not None else None

    def run(self) -> int:
        try:
            self._loop()
        except KeyboardInterrupt:  # Ctrl+C wherever it lands (while printing, too): leave, never a traceback
            pass
        self.say("\n" + texts.CONSOLE_BYE)
        return 0

    def _loop(self) -> None:
        self.say(texts.WELCOME)
        self.say(texts.CONSOLE_HINT)
        self.say(texts.CONSOLE_BIDI_HINT if not self.visual else "")
        while True:
            line = self.read()
            if line is None or line.strip() in ("/quit", "/exit"):
                break
            try:
                out = self.answer(line)
            except Exception as exc:  # noqa: BLE001 - the console's one error handler: logged, apologised, go on
                log.error("the console could not answer a line: %r", exc)
                log.debug("the console's error", exc_info=True)
                out = texts.ERROR_APOLOGY
            if out:
                self.say(out)
