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

from bot.reloader import KnowledgeReloader
from bot.service import AnswerService
from bot.settings import Settings
from bot.store import Store

Callback = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, Any]]
HANDLER_ATTR = "rashut_handler"
DEPS_KEY = "rashut.deps"  # where ``app.register`` leaves the Deps in ``bot_data`` for the runner
App: TypeAlias = Application[Any, Any, Any, Any, Any, Any]  # the default-typed Application


@dataclass(slots=True)
class Deps:
    """Shared by every handler. Not frozen only for ``reloader``: the runner starts the watcher
    once the event loop runs (``post_init``) and sets it here, where /reload and the curators'
    buttons find it; without one (tests, ``RASHUT_WATCH_KB=0``) they reload the engine directly."""

    settings: Settings
    service: AnswerService
    store: Store | None
    reloader: KnowledgeReloader | None = None


def deps_of(app: Application[Any, Any, Any, Any, Any, Any]) -> Deps | None:
    """The Deps an application was built with (None for an application not built by ``app``)."""
    deps = app.bot_data.get(DEPS_KEY) if isinstance(app.bot_data, dict) else None
    return deps if isinstance(deps, Deps) else None


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
