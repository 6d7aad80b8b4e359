"""Console chat adapter: stdin lines in, plain-text replies out (the no-token mode of ``rashut run``)."""
from __future__ import annotations

import sys
from typing import TextIO

from bot.replies import Question, Reply
from bot.service import AnswerService
from bot import texts

KIND_MARK = {"answer": "✅", "clarify": "❓", "unanswered": "🤷", "browse": "📚", "smalltalk": "💬"}


def render(reply: Reply) -> str:
    lines = [f"{KIND_MARK.get(reply.kind, '')} {reply.title}" if reply.title else KIND_MARK.get(reply.kind, "")]
    lines.append(reply.plain_text())
    if reply.options:
        head = texts.RELATED if reply.kind == "answer" else ""
        if head:
            lines.append(head)
        for i, opt in enumerate(reply.options, 1):
            ref = opt.entry_id or opt.target or ""
            lines.append(f"  {i}. {opt.label}  [{ref}]")
    if reply.next:
        lines.append(f"  » {reply.next.label} [{reply.next.target}]")
    return "\n".join(line for line in lines if line)


async def chat(service: AnswerService, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    """Interactive loop. A number picks an option of the previous reply; /commands browse."""
    print(texts.WELCOME, file=stdout)
    print("(יציאה: Ctrl+D או /quit · /decisions · /programmes · /visits · /help)", file=stdout)
    last: Reply | None = None
    while True:
        stdout.write("\n> ")
        stdout.flush()
        line = stdin.readline()
        if not line:
            break
        text = line.strip()
        if text in ("/quit", "/exit"):
            break
        reply: Reply | None
        if last and text.isdigit() and 1 <= int(text) <= len(last.options):
            opt = last.options[int(text) - 1]
            reply = service.entry(opt.entry_id) if opt.entry_id else service.open(opt.target or "")
        elif text == "/help":
            reply = Reply("browse", texts.HELP)
        elif text == "/decisions":
            reply = service.decisions()
        elif text.startswith("/decision "):
            arg = text.split(maxsplit=1)[1]
            reply = service.decision(int(arg)) if arg.isdigit() else Reply("browse", texts.DECISION_USAGE)
        elif text == "/programmes":
            reply = service.programmes()
        elif text == "/visits":
            reply = service.visits()
        elif text.startswith("/search"):
            reply = service.search(text[len("/search"):].strip())
        elif text.startswith("»") and last and last.next:
            reply = service.open(last.next.target or "")
        else:
            reply = await service.handle(Question(text, channel="console", chat_type="private", user_id="console"))
        if reply is None:
            reply = Reply("browse", texts.ENTRY_NOT_FOUND)
        print(render(reply), file=stdout)
        last = reply
