"""A question the bot acknowledged ("passed to the curators") survives the process being killed.

A child process writes unanswered questions through ``Store.log_unanswered`` from several
concurrent tasks and prints ``ACK n`` only after the call returned, which is the moment the bot
would tell the user. The test SIGKILLs it mid-burst (no clean shutdown, no atexit, no WAL
checkpoint), then opens the database: it must pass ``PRAGMA integrity_check`` and hold every
acknowledged question.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

WRITER = r"""
import asyncio, sys
from bot.store import SqliteStore as Store

async def main(path, workers):
    store = await Store.open(path)
    counter = iter(range(10**9))

    async def worker():
        while True:
            n = next(counter)
            await store.log_unanswered(text=f"שאלה {n} 🙂", norm=f"שאלה {n}", channel="test",
                                       chat_type="private", user_hash=f"h{n % 7}", kind="unanswered",
                                       candidates=[{"entry_id": "x", "score": 0.1}])
            sys.stdout.write(f"ACK {n}\n")  # the user is told only now
            sys.stdout.flush()

    print("READY", flush=True)
    await asyncio.gather(*(worker() for _ in range(workers)))

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("kill_after, workers", [(1, 1), (150, 1), (400, 8), (1500, 16)])
def test_acknowledged_questions_survive_sigkill(tmp_path, kill_after, workers):
    db = tmp_path / "crash.db"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(workers)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    acked: set[int] = set()
    try:
        assert proc.stdout.readline().strip() == "READY", proc.stderr.read()
        deadline = time.monotonic() + 120
        while len(acked) < kill_after:
            line = proc.stdout.readline()
            assert line, f"writer died early: {proc.stderr.read()}"
            acked.add(int(line.split()[1]))
            assert time.monotonic() < deadline
        os.kill(proc.pid, signal.SIGKILL)  # mid-burst: other writes are in flight right now
    finally:
        if proc.poll() is None:
            proc.kill()
        rest, _err = proc.communicate(timeout=30)
    # ACKs already in the pipe when the process died were acknowledged too.
    acked.update(int(line.split()[1]) for line in rest.splitlines() if line.startswith("ACK "))
    assert proc.returncode == -signal.SIGKILL

    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {int(text.split()[1]) for (text,) in con.execute("SELECT text FROM unanswered")}
        rows = con.execute("SELECT count(*) FROM unanswered").fetchone()[0]
    finally:
        con.close()
    missing = acked - stored
    print(f"\nSIGKILL after {len(acked)} ACKs with {workers} writer task(s): {rows} rows stored, "
          f"{len(missing)} acknowledged but missing, integrity ok")
    assert missing == set()
    assert rows == len(stored)  # no duplicates, no torn rows
