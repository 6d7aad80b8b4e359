"""Store files that used to leave ``rashut`` hanging or tracing back (issue: a corrupt or read-only
database leaves a silent zombie). Shared by the store, command-line and ``rashut run`` tests, so every
command that opens the store is checked against the same inputs.

Each fault prepares a ``RASHUT_DB`` path in a folder of its own and says what a command must answer:
a command that writes (``run``, ``chat``, ``unanswered resolve|dismiss``) exits non-zero with one
line naming the file and the cause; a read-only one (``stats``, ``unanswered list|export``) does the
same, except where reading is possible (a read-only file it may read) or there is no store yet.

Root ignores file permissions, so the permission faults would prove nothing when the suite runs as
root (CI and the development machine do). There the command runs without the capabilities that let
root override permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, dropped from the
bounding set before exec), so the kernel checks the mode bits as for any user; ``cannot_write``
checks that it really cannot write before a test relies on it. Not ``user="nobody"``: the virtual
environment's interpreter lives under ``/root`` (mode 0700), which nobody can reach.
"""
from __future__ import annotations

import ctypes
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

from bot.sqlite_schema import MIGRATIONS

REPO = Path(__file__).resolve().parents[1]
GOOD_KB = REPO / "tests" / "data" / "good"
TIMEOUT = 30.0  # a cold interpreter on two busy cores starts in about a second; a hang never ends
# What a developer's shell might carry that must not reach the command (as in tests/e2e/conftest.py).
SCRUB_PREFIXES = ("TELEGRAM_", "WEBHOOK_", "RASHUT_", "CURATOR_", "UNANSWERED_", "DIGEST_", "LOG_LEVEL", "WHATSAPP_",
                  "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")

Reader = Literal["fails", "reads", "empty"]  # what a read-only command does with the fault


@dataclass(frozen=True)
class Fault:
    name: str
    make: Callable[[Path], Path]  # prepares the fault in a folder; returns the RASHUT_DB path
    writer: str  # the cause every command that writes must name
    reader: Reader
    reader_says: str  # the cause a failing reader names, or "" when it reads or finds no store
    permission: bool = False  # means something only where permissions are enforced
    readable: bool = False  # a permission fault: this user may read the file (but never write it)


# ---------------------------------------------------------------------- making the files
def real_store(path: Path, questions: int = 0) -> Path:
    """A database made the way the bot makes it (every migration, WAL), with ``questions`` rows in
    the queue and in the statistics."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    for version, script in enumerate(MIGRATIONS, start=1):
        con.executescript(f"BEGIN; {script}; PRAGMA user_version={version}; COMMIT;")
    now = time.time()
    con.executemany("INSERT INTO unanswered(ts, text, norm, channel, chat_type, user_hash, kind)"
                    " VALUES (?,?,?,?,?,?,?)",
                    [(now - i, f"שאלה שאין לה תשובה מספר {i} " + "מילה " * 40, "שאלה", "telegram", "private",
                      f"{i:032x}", "unanswered") for i in range(questions)])
    con.executemany("INSERT INTO questions(ts, channel, chat_type, user_hash, kind, entry_id, score)"
                    " VALUES (?,?,?,?,?,?,?)",
                    [(now - i, "telegram", "private", f"{i:032x}", "answer", "dec-546-budget", 0.9)
                     for i in range(questions)])
    con.commit()
    con.close()  # the last connection checkpoints and removes the -wal file
    return path


def _garbage(folder: Path) -> Path:
    db = folder / "rashut.db"
    db.write_bytes(random.Random(546).randbytes(16 * 1024))
    return db


def _bad_header(folder: Path) -> Path:
    db = folder / "rashut.db"
    db.write_bytes(b"SQLite format 3\x00" + random.Random(2025).randbytes(16 * 1024 - 16))
    return db


def _bad_pages(folder: Path) -> Path:
    """A real store whose header and schema are intact and whose middle pages are overwritten."""
    db = real_store(folder / "rashut.db", questions=600)
    size = db.stat().st_size
    assert size > 64 * 1024, size
    with db.open("r+b") as fh:
        fh.seek(size // 3)
        fh.write(random.Random(1982).randbytes(size // 3))
    return db


def _is_a_folder(folder: Path) -> Path:
    db = folder / "rashut.db"
    db.mkdir()
    return db


def _parent_is_a_file(folder: Path) -> Path:
    (folder / "data").write_text("not a folder\n")
    return folder / "data" / "rashut.db"


def _read_only_file(folder: Path) -> Path:
    """A store this user may read but not write, in a folder it may write."""
    db = real_store(folder / "rashut.db", questions=3)
    db.chmod(0o444)
    return db


def _read_only_volume(folder: Path) -> Path:
    """The data volume of another owner: the store and its folder readable, neither writable."""
    (folder / "data").mkdir()
    db = real_store(folder / "data" / "rashut.db", questions=3)
    db.chmod(0o444)
    (folder / "data").chmod(0o555)
    return db


def _read_only_folder(folder: Path) -> Path:
    """A read-only folder where the store does not exist yet."""
    (folder / "data").mkdir()
    (folder / "data").chmod(0o555)
    return folder / "data" / "rashut.db"


def _unreachable_folder(folder: Path) -> Path:
    """A store in a folder this user may not enter (another owner's, mode 0700)."""
    (folder / "data").mkdir()
    db = real_store(folder / "data" / "rashut.db", questions=3)
    (folder / "data").chmod(0o000)
    return db


def _parent_cannot_be_created(folder: Path) -> Path:
    (folder / "data").mkdir()
    (folder / "data").chmod(0o555)
    return folder / "data" / "rashut" / "rashut.db"


FAULTS = [
    Fault("garbage", _garbage, "is not a database", "fails", "is not a database"),
    Fault("bad-header", _bad_header, "is not a database", "fails", "is not a database"),
    Fault("bad-pages", _bad_pages, "is damaged", "fails", "is damaged"),
    Fault("is-a-folder", _is_a_folder, "is a folder", "fails", "is a folder"),
    Fault("parent-is-a-file", _parent_is_a_file, "cannot create its folder", "empty", ""),
    Fault("read-only-file", _read_only_file, "is read-only", "reads", "", permission=True, readable=True),
    Fault("read-only-volume", _read_only_volume, "is read-only", "fails", "is read-only", permission=True,
          readable=True),
    Fault("unreachable-folder", _unreachable_folder, "permission denied", "fails", "permission denied",
          permission=True),
    Fault("read-only-folder", _read_only_folder, "cannot create", "empty", "", permission=True),
    Fault("parent-cannot-be-created", _parent_cannot_be_created, "cannot create its folder", "empty", "",
          permission=True),
]
NO_STORE_YET = "no store here yet (nothing has been recorded)"


def restore_permissions(folder: Path) -> None:
    """Make a fault's folder removable again (pytest cleans up as this user): each folder is opened
    up before it is entered."""
    folder.chmod(0o755)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            Path(root, name).chmod(0o755)
        for name in files:
            Path(root, name).chmod(0o644)


def threads() -> set[threading.Thread]:
    """The live non-daemon threads (aiosqlite's connection threads are such: one left running keeps
    the process alive after its work is done)."""
    return {t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()}


def threads_left(before: set[threading.Thread]) -> list[threading.Thread]:
    """Threads started since ``before`` that do not end within a second (a closed connection's
    thread may still be returning from its last call)."""
    for t in threads() - before:
        t.join(1.0)
    return sorted(threads() - before, key=lambda t: t.name)


# ---------------------------------------------------------------------- running as a user permissions apply to
_PR_CAPBSET_DROP = 24
_OVERRIDES = (1, 2, 3)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER (linux/capability.h)


def unprivileged() -> dict[str, Any]:
    """``subprocess`` arguments for a process that file permissions apply to: nothing to add for a
    normal user; for root, the override capabilities are dropped before exec (see the docstring)."""
    if os.geteuid() != 0:
        return {}
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here, not in the forked child

    def drop() -> None:
        for cap in _OVERRIDES:
            if prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), f"prctl(PR_CAPBSET_DROP, {cap})")

    return {"preexec_fn": drop}


_PROBE = """
import os, sys
target = sys.argv[1]
try:
    if os.path.exists(target):
        open(target, "r+b").close()
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "xb").close()
except PermissionError:
    raise SystemExit(13)
"""


def cannot_write(db: Path) -> bool:
    """True when a command run with ``unprivileged()`` can neither write ``db`` nor create it."""
    probe = subprocess.run([sys.executable, "-c", _PROBE, str(db)], capture_output=True, text=True,
                           timeout=TIMEOUT, **unprivileged())
    return probe.returncode == 13


def can_read(db: Path) -> bool:
    probe = subprocess.run([sys.executable, "-c", "import sys; open(sys.argv[1], 'rb').read(100)", str(db)],
                           capture_output=True, timeout=TIMEOUT, **unprivileged())
    return probe.returncode == 0


# ---------------------------------------------------------------------- running commands
def scrubbed_env(db: Path, kb: Path, workdir: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh shell: nothing of ours leaks in; no RASHUT_HASH_KEY either, as a
    curator's shell would have it (its warning must not add a line to the error)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUB_PREFIXES)}
    env.update({"RASHUT_DB": str(db), "RASHUT_KB": str(kb), "RASHUT_WATCH_KB": "0",
                "XDG_DATA_HOME": str(workdir / "xdg"), "HOME": str(workdir), "NO_PROXY": "127.0.0.1,localhost",
                "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


@dataclass(frozen=True)
class Outcome:
    command: str
    code: int | None  # None: still running at the timeout (killed)
    stdout: str
    stderr: str
    seconds: float

    def lines(self) -> list[str]:
        return self.stderr.strip().splitlines()

    def problem(self, *, code: Literal["zero", "non-zero"], line: str | None, db: Path) -> str | None:
        """What is wrong with this outcome, or None. ``line``: a phrase the one stderr line must hold
        (besides the path); None: stderr must be empty."""
        said = f"{self.command}: exit {self.code} after {self.seconds:.1f} s, stderr {self.stderr[-800:]!r}"
        if self.code is None:
            return f"{said}: still running after {TIMEOUT:.0f} s (a hang)"
        if "Traceback" in self.stderr:
            return f"{said}: a traceback"
        if (self.code == 0) != (code == "zero"):
            return f"{said}: expected a {code} exit"
        if line is None:
            return f"{said}: expected nothing on stderr" if self.stderr.strip() else None
        lines = self.lines()
        if len(lines) != 1 or str(db) not in lines[0] or line not in lines[0]:
            return f"{said}: expected exactly one line naming {db} and {line!r}"
        return None


def run_rashut(name: str, args: list[str], env: dict[str, str], *, demote: bool = False) -> Outcome:
    """``python -m bot ARGS`` from the repository root, stdin closed, killed at the timeout."""
    started = time.monotonic()
    try:
        p = subprocess.run([sys.executable, "-m", "bot", *args], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=TIMEOUT, **(unprivileged() if demote else {}))
        return Outcome(name, p.returncode, p.stdout, p.stderr, time.monotonic() - started)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return Outcome(name, None, out, err, time.monotonic() - started)


def run_many(jobs: list[tuple[str, list[str], dict[str, str]]], *, demote: bool = False) -> list[Outcome]:
    """Every (name, arguments, environment) at once: each is its own process, mostly waiting on imports."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda job: run_rashut(*job, demote=demote), jobs))


def run_all(commands: dict[str, list[str]], env: dict[str, str], *, demote: bool = False) -> list[Outcome]:
    return run_many([(name, args, env) for name, args in commands.items()], demote=demote)


def copy_kb(workdir: Path) -> Path:
    """A writable knowledge folder (``resolve`` and ``dismiss`` would edit it if they got that far)."""
    kb = workdir / "kb"
    shutil.copytree(GOOD_KB, kb)
    return kb


def created_nothing(db: Path, folder: Path, before: set[Path]) -> str | None:
    """A read-only command must not create the store, its folder, or SQLite's side files."""
    after = set(folder.rglob("*"))
    new = sorted(str(p.relative_to(folder)) for p in after - before)
    return f"created {new}" if new else None
