"""The live knowledge: a loaded base and its matcher, swapped atomically on reload.

A question takes one ``Snapshot`` at its start and finishes on it, so a reload in the middle of
traffic never mixes two bases; a base that fails validation is never swapped in.
"""
from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .fingerprint import fingerprint
from .loader import BUNDLED_BASE, load_base
from .matcher import Matcher
from .thresholds import Thresholds
from .schema import KnowledgeBase


def freeze_heap() -> None:
    """Move the (large, long-lived, acyclic) index out of the cyclic GC's reach.

    Without this a full collection walks every index object and stalls a question for tens of
    milliseconds on a big base; reference counting still frees an old base after a reload.
    """
    gc.collect()
    gc.freeze()


@dataclass(frozen=True, slots=True)
class Snapshot:
    kb: KnowledgeBase
    matcher: Matcher
    version: int
    loaded_at: float
    fingerprint: str = ""  # the content hash of the files it was loaded from (knowledge.fingerprint)


class Engine:
    def __init__(self, root: Path | str | None = None, thresholds: Thresholds | None = None) -> None:
        self.root = Path(root) if root is not None else BUNDLED_BASE
        self.thresholds = thresholds
        self._lock = threading.Lock()
        print_ = fingerprint(self.root)
        self._snapshot = self._build(load_base(self.root), 1, print_)

    def _build(self, kb: KnowledgeBase, version: int, print_: str = "") -> Snapshot:
        snap = Snapshot(kb, Matcher(kb, self.thresholds), version, time.time(), print_)
        freeze_heap()
        return snap

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def reload(self) -> Snapshot:
        """Validate the folder again and swap it in. On ``KnowledgeError`` the old base stays."""
        print_ = fingerprint(self.root)  # before loading: a change in between shows as a stale hash, reloaded again
        kb = load_base(self.root)  # raises before anything changes
        with self._lock:
            snap = self._build(kb, self._snapshot.version + 1, print_)
            self._snapshot = snap
        return snap
