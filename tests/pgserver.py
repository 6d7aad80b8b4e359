"""A throwaway PostgreSQL server for the tests: its own data folder, a free loopback port, stopped
and deleted afterwards. Nothing is shared with a PostgreSQL the machine may already run.

The server binaries come from Debian's ``postgresql-15`` package (``/usr/lib/postgresql/<n>/bin``);
when they are missing, ``ensure()`` installs the package with apt-get, so a clean CI machine needs
nothing pre-installed. As root, ``initdb`` and ``pg_ctl`` refuse to run, so they run as the
``postgres`` user (created by the package), in a folder that user owns.

    python -m tests.pgserver --ensure      # install the binaries if needed (make test does this)
    python -m tests.pgserver               # start one, print its URL, wait for Ctrl+C
"""
from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

PACKAGE = "postgresql-15"


def binaries() -> Path | None:
    """The newest installed server binaries folder, or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name)
                   if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else None


def ensure() -> Path:
    """The binaries folder, installing the package with apt-get if needed (root only)."""
    found = binaries()
    if found is not None:
        return found
    if os.geteuid() != 0:
        raise SystemExit(f"PostgreSQL server binaries not found; install them: sudo apt-get install {PACKAGE}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", PACKAGE], check=True, env=env)
    found = binaries()
    if found is None:
        raise SystemExit(f"apt-get installed {PACKAGE} but no server binaries appeared under /usr/lib/postgresql")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``with Server() as pg: pg.url(...)``; ``pg.create_database(name)`` for a fresh one."""

    def __init__(self, root: Path | None = None) -> None:
        self.bin = ensure()
        self.port = free_port()
        self._own_root = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="rashut-pg-"))
        self.data = self.root / "data"
        self.user = pwd.getpwuid(os.geteuid()).pw_name
        self._as: dict[str, object] = {}
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            pw = pwd.getpwnam("postgres")
            self.user = "postgres"
            self._as = {"user": pw.pw_uid, "group": pw.pw_gid}
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            os.chmod(self.root, 0o700)
        self.started = False

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / args[0]), *args[1:]], check=check, text=True, capture_output=True,
                              cwd=self.root, **self._as)  # type: ignore[arg-type]

    def start(self) -> "Server":
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", self.user, "-E", "UTF8", "--locale=C.UTF-8",
                  "--no-sync")
        opts = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.root / "server.log"), "-w", "-t", "60",
                  "start")
        self.started = True
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, name)
        return self.url(name)

    def stop(self) -> None:
        if self.started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
            self.started = False
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def running() -> Iterator[Server]:
    with Server() as pg:
        yield pg


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="a throwaway PostgreSQL server for the tests")
    p.add_argument("--ensure", action="store_true", help="only make sure the server binaries are installed")
    args = p.parse_args(argv)
    folder = ensure()
    if args.ensure:
        print(f"PostgreSQL server binaries: {folder}")
        return 0
    with running() as pg:
        print(pg.url(), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
