"""The live knowledge: a loaded base and its matcher, swapped atomically on reload.

A question takes one ``Snapshot`` at its start and finishes on it, so a reload in the middle of
traffic never mixes two bases; a base that fails validation is never swapped in.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .loader import BUNDLED_BASE, load_base
from .matcher import Matcher, Thresholds
from .schema import KnowledgeBase


@dataclass(frozen=True, slots=True)
class Snapshot:
    kb: KnowledgeBase
    matcher: Matcher
    version: int
    loaded_at: float


class Engine:
    def __init__(self, root: Path | str | None = None, thresholds: Thresholds | None = None) -> None:
        self.root = Path(root) if root is not None else BUNDLED_BASE
        self.thresholds = thresholds
        self._lock = threading.Lock()
        self._snapshot = self._build(load_base(self.root), 1)

    @classmethod
    def from_base(cls, kb: KnowledgeBase, thresholds: Thresholds | None = None) -> "Engine":
        engine = cls.__new__(cls)
        engine.root, engine.thresholds, engine._lock = kb.root, thresholds, threading.Lock()
        engine._snapshot = engine._build(kb, 1)
        return engine

    def _build(self, kb: KnowledgeBase, version: int) -> Snapshot:
        return Snapshot(kb, Matcher(kb, self.thresholds), version, time.time())

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def reload(self) -> Snapshot:
        """Validate the folder again and swap it in. On ``KnowledgeError`` the old base stays."""
        kb = load_base(self.root)  # raises before anything changes
        with self._lock:
            snap = self._build(kb, self._snapshot.version + 1)
            self._snapshot = snap
        return snap
