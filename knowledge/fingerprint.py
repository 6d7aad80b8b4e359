"""The content hash of a knowledge folder: what replicas compare to know they serve the same base.

Several replicas read one shared folder; a curator's change through one of them reaches the others
as this hash (``bot.pg_store`` sends it with PostgreSQL's NOTIFY). A replica whose loaded base has
another hash reloads; equal hashes mean the same files, byte for byte, under the same names.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from .loader import knowledge_files


def fingerprint(root: Path | str) -> str:
    """sha256 over every knowledge file's name and bytes, in the loader's order (hex, 64 chars)."""
    h = hashlib.sha256()
    files, _problems = knowledge_files(Path(root))
    for label, path in files:
        try:
            data = path.read_bytes()
        except OSError:
            data = b""
        h.update(label.encode() + b"\0" + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()
