"""Console chat adapter: stdin lines in, plain-text replies out (the no-channel mode of ``rashut run``).

Only translation: a line starting with ``/`` is a command for the router, anything else is text
(a number picks an option of the last reply, "»" or "הבא" the next stage); outcomes are printed
as plain text.
"""
from __future__ import annotations

import sys
from typing import TextIO

from bot import texts
from bot.plain import render
from bot.replies import Reply
from bot.router import Caller, Outcome, Router, Unknown, Welcome

CALLER = Caller("console", "console", "console")


def render_outcome(outcome: Outcome) -> str:
    if isinstance(outcome, Reply):
        return render(outcome)
    if isinstance(outcome, Welcome):
        return texts.WELCOME
    if isinstance(outcome, Unknown):
        return texts.UNKNOWN_COMMAND
    return render(Reply("browse", texts.ENTRY_NOT_FOUND))


async def chat(router: Router, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    """Interactive loop until end of input or /quit."""
    print(texts.WELCOME, file=stdout)
    print("(יציאה: Ctrl+D או /quit · /decisions · /programmes · /visits · /help)", file=stdout)
    while True:
        stdout.write("\n> ")
        stdout.flush()
        line = stdin.readline()
        if not line:
            break
        text = line.strip()
        if text in ("/quit", "/exit"):
            break
        if text.startswith("/") and len(text) > 1:
            name, _, arg = text[1:].partition(" ")
            print(render_outcome(await router.run(CALLER, name, arg.strip())), file=stdout)
        else:
            reply = await router.text(CALLER, text)
            if reply is not None:
                print(render(reply), file=stdout)
