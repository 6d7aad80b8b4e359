"""What every Telegram handler needs, and the wrapper that names a handler in error reports.

Handlers are small classes holding a ``Deps`` rather than reaching into ``context.bot_data``, so
their dependencies are typed and a test can see exactly what a handler uses. Everything comes
from the runtime (``bot.runtime``): the adapter builds nothing of its own.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Coroutine, TypeAlias

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes

from bot.curator import CuratorService
from bot.router import Router
from bot.service import AnswerService
from bot.settings import Settings

Callback = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, Any]]
HANDLER_ATTR = "rashut_handler"
App: TypeAlias = Application[Any, Any, Any, Any, Any, Any]  # the default-typed Application
CHANNEL = "telegram"


@dataclass(frozen=True, slots=True)
class Deps:
    settings: Settings
    router: Router
    service: AnswerService  # stateless reads only (inline cards); questions go through the router
    curator: CuratorService


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
