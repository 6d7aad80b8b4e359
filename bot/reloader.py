"""Hot reload of the knowledge folder: a curator saves a file, the bot answers from it.

Why a watcher and not a timer: saves are rare and curators expect to see the effect (or the
error) within seconds. ``watchfiles.awatch`` reports changes in batches after a quiet period
(``step``) so one editor save (temp file, rename, chmod) costs one reload, not five.

Every reload runs ``Engine.reload`` in a worker thread (validation and index building are CPU
work; the event loop keeps answering meanwhile). The engine swaps the snapshot atomically, and a
question that already took its snapshot finishes on it. A base that does not validate is never
swapped in: ``on_error`` receives the file:line problems once per failed reload, and the old base
keeps serving; ``on_success`` receives the new snapshot.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable

from watchfiles import Change, awatch

from knowledge.engine import Engine, Snapshot
from knowledge.errors import KnowledgeError

log = logging.getLogger(__name__)

ErrorCallback = Callable[[str], Awaitable[None]]
SuccessCallback = Callable[[Snapshot], Awaitable[None]]
MAX_PROBLEMS = 20  # a chat message has a size limit; the full list is in the log and `rashut kb validate`


def yaml_only(change: Change, path: str) -> bool:
    """Only knowledge files matter: editor swap files and our own temp files are ignored."""
    name = Path(path).name
    return name.endswith((".yaml", ".yml")) and not name.startswith((".", "~"))


@dataclass(frozen=True, slots=True)
class ReloadResult:
    ok: bool
    snapshot: Snapshot  # the snapshot serving after the attempt (the old one when not ok)
    errors: str = ""  # file:line problems when not ok

    @property
    def info(self) -> "BaseInfo":
        return BaseInfo.of(self.snapshot)


@dataclass(frozen=True, slots=True)
class BaseInfo:
    """What a curator is told about the base now serving (adapters never read a snapshot)."""

    version: int
    entries: int
    documents: int

    @classmethod
    def of(cls, snapshot: Snapshot) -> "BaseInfo":
        return cls(snapshot.version, len(snapshot.kb.entries), len(snapshot.kb.documents))


class KnowledgeReloader:
    """Watches ``engine.root`` and reloads the engine on change. ``await start()`` / ``await stop()``."""

    def __init__(self, engine: Engine, *, on_success: SuccessCallback | None = None,
                 on_error: ErrorCallback | None = None, debounce_ms: int = 1600, step_ms: int = 300,
                 rust_timeout_ms: int = 1000, force_polling: bool | None = None) -> None:
        self.engine = engine
        self.on_success = on_success
        self.on_error = on_error
        self.debounce_ms, self.step_ms, self.rust_timeout_ms = debounce_ms, step_ms, rust_timeout_ms
        self.force_polling = force_polling
        self._lock = asyncio.Lock()  # one reload at a time: watcher, /reload and resolve buttons
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.on_loaded: SuccessCallback | None = None  # after every successful reload, whoever asked
        self.reloads = 0
        self.failures = 0

    # ------------------------------------------------------------------ lifecycle
    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._ready.clear()
        self._task = asyncio.create_task(self._watch(), name="knowledge-reloader")

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until the watcher is really watching (changes before that could be missed)."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stop.set()  # the watch thread checks it every `step` ms
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=5 + self.rust_timeout_ms / 1000)
        except asyncio.TimeoutError:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - already logged by the task
            pass
        self._task = None

    async def __aenter__(self) -> "KnowledgeReloader":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ reloading
    async def reload_now(self, *, notify: bool = True, announce: bool = True) -> ReloadResult:
        """Reload once, now. Serialised, so concurrent triggers never interleave.

        ``notify`` sends the result to ``on_success`` / ``on_error`` (the curators' broadcast);
        a curator who reloads by hand sees the result in their own chat and passes False.
        ``announce`` runs ``on_loaded`` (the other replicas are told); False when this reload
        followed another replica's announcement."""
        async with self._lock:
            self.reloads += 1
            try:
                snap = await asyncio.to_thread(self.engine.reload)
            except KnowledgeError as exc:
                self.failures += 1
                text = exc.render(limit=MAX_PROBLEMS)
                log.error("knowledge reload failed, keeping version %d:\n%s", self.engine.snapshot.version,
                          exc.render())
                if notify:
                    await self._notify(self.on_error, text)
                return ReloadResult(False, self.engine.snapshot, text)
            except Exception as exc:  # noqa: BLE001 - e.g. the folder vanished; keep serving
                self.failures += 1
                text = f"{self.engine.root}: {type(exc).__name__}: {exc}"
                log.exception("knowledge reload crashed, keeping version %d", self.engine.snapshot.version)
                if notify:
                    await self._notify(self.on_error, text)
                return ReloadResult(False, self.engine.snapshot, text)
            log.info("knowledge reloaded: version %d, %d entries", snap.version, len(snap.kb))
            if announce:
                await self._notify(self.on_loaded, snap)
            if notify:
                await self._notify(self.on_success, snap)
            return ReloadResult(True, snap)

    @staticmethod
    async def _notify(callback: Callable[[object], Awaitable[None]] | None, arg: object) -> None:
        if callback is None:
            return
        try:
            await callback(arg)
        except Exception:  # noqa: BLE001 - a failed chat message must not stop reloading
            log.exception("reload notification failed")

    async def _watch(self) -> None:
        root = Path(self.engine.root)
        while not self._stop.is_set():
            try:
                async for changes in awatch(root, watch_filter=yaml_only, debounce=self.debounce_ms,
                                            step=self.step_ms, stop_event=self._stop,
                                            rust_timeout=self.rust_timeout_ms, yield_on_timeout=True,
                                            force_polling=self.force_polling):
                    self._ready.set()  # any yield, even an empty one on timeout, means we are watching
                    if changes:
                        log.info("knowledge files changed: %s", ", ".join(sorted({Path(p).name for _c, p in changes})))
                        await self.reload_now()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - e.g. the folder was replaced; try again shortly
                log.exception("knowledge watcher failed; restarting in 2 s")
                try:
                    await asyncio.wait_for(self._stop.wait(), 2.0)
                except asyncio.TimeoutError:
                    pass
