"""What every Telegram handler needs, and the wrapper that names a handler in error reports.

Handlers are small classes holding a ``Deps`` rather than reaching into ``context.bot_data``, so
their dependencies are typed and a test can see exactly what a handler uses.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Coroutine, TypeAlias

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes

from bot.service import AnswerService
from bot.settings import Settings
from bot.store import Store

Callback = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, Any]]
HANDLER_ATTR = "rashut_handler"
App: TypeAlias = Application[Any, Any, Any, Any, Any, Any]  # the default-typed Application


@dataclass(frozen=True, slots=True)
class Deps:
    settings: Settings
    service: AnswerService
    store: Store | None


def named(name: str, fn: Callback) -> Callback:
    """Wrap a callback so an exception it raises carries the handler's name for the error log.

    PTB's error handler gets the update and the exception but not which handler failed; the
    name is attached to the exception on its way out.
    """

    @functools.wraps(fn)
    async def wrapper(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Any:
        try:
            return await fn(update, context)
        except ApplicationHandlerStop:
            raise
        except Exception as exc:
            if not hasattr(exc, HANDLER_ATTR):
                try:
                    setattr(exc, HANDLER_ATTR, name)
                except (AttributeError, TypeError):
                    pass
            raise

    return wrapper
