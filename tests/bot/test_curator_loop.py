"""The whole curator loop, for real: users ask what the bot cannot answer -> the queue groups it ->
a curator resolves the group into an existing entry with the command line (another process) ->
the YAML file gains only the new question lines -> the running bot's watcher reloads the base ->
the same Engine and AnswerService now answer those questions. No restart, no mocks."""
from __future__ import annotations

import asyncio
import difflib
import os
import re
import shutil
import sys
import time
from pathlib import Path

from bot.grouping import grouped
from bot.reloader import KnowledgeReloader
from bot.replies import Question
from bot.service import AnswerService
from bot.store import SqliteStore as Store
from knowledge.engine import Engine, Snapshot

REPO = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).parent / "fixtures_curation" / "kb"
FLIGHTS = ["מי מכסה את כרטיסי הטיסה של האורחים", "מי מכסה כרטיסי טיסה לאורחים",
           "כרטיסי הטיסה של האורחים על חשבון מי", "מי מכסה את ההוצאות של כרטיסי הטיסה לחברי המשלחת"]
PARKING = ["איך מבקשים תו חניה לנכה", "בקשה לתו חניה נכים"]
ADDED_ITEM = re.compile(r"^\+\s+- \S")


async def cli(*args: str) -> tuple[int, str, str]:
    """Run ``rashut`` as a separate process, the way a curator does next to the running bot."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO),
           "HOME": os.environ.get("HOME", "/tmp"), "PYTHONIOENCODING": "utf-8"}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", *args, cwd=REPO, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode, out.decode(), err.decode()


async def until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_curator_loop_without_restart(tmp_path):
    kb, db = tmp_path / "kb", tmp_path / "rashut.db"
    shutil.copytree(FIXTURE, kb)
    engine = Engine(kb)
    store = await Store.open(db)
    service = AnswerService(engine, store, hash_key="loop-key")
    swapped: list[Snapshot] = []
    errors: list[str] = []

    async def on_success(snap: Snapshot) -> None:
        swapped.append(snap)

    async def on_error(text: str) -> None:
        errors.append(text)

    reloader = KnowledgeReloader(engine, on_success=on_success, on_error=on_error,
                                 debounce_ms=800, step_ms=150, rust_timeout_ms=200)
    try:
        await reloader.start()
        await reloader.wait_ready()

        # 1. Staff ask; the bot has no confident answer, says so, and queues the questions.
        for i, q in enumerate(FLIGHTS + FLIGHTS[:2] + PARKING):
            reply = await service.handle(Question(q, channel="test", user_id=f"staff-{i % 4}"))
            assert reply.kind in ("clarify", "unanswered") and reply.logged, (q, reply.kind)

        # 2. The curator reads the queue: one group per topic, largest first, with the near miss.
        groups = await grouped(store, engine.snapshot)
        assert [set(g.questions()) for g in groups] == [set(FLIGHTS), set(PARKING)]
        flights = groups[0]
        assert flights.count == 6 and flights.askers == 4 and flights.best_entry == "visits-who-pays"
        rc, out, err = await cli("unanswered", "list", "--grouped", "--db", str(db), "--kb", str(kb))
        assert rc == 0 and f"#{flights.id}  6 question(s), 4 asker(s)" in out, err

        # 3. ... and resolves the group into the existing entry, from another process.
        before = (kb / "visits.yaml").read_text(encoding="utf-8")
        rc, out, err = await cli("unanswered", "resolve", str(flights.id), "--entry", "visits-who-pays",
                                 "--db", str(db), "--kb", str(kb))
        assert rc == 0, err
        after = (kb / "visits.yaml").read_text(encoding="utf-8")

        # 4. The file differs only by the added question lines.
        diff = list(difflib.unified_diff(before.splitlines(), after.splitlines(), "a/visits.yaml",
                                         "b/visits.yaml", lineterm=""))
        print("\n".join(diff))
        changed = [line for line in diff[2:] if line.startswith(("+", "-"))]
        assert changed and all(ADDED_ITEM.match(line) for line in changed), changed
        assert sorted(line.split("- ", 1)[1] for line in changed) == sorted(FLIGHTS)

        # 5. Without any restart, the watcher reloads and the same service answers them.
        await until(lambda: swapped)
        assert errors == [] and engine.snapshot is swapped[-1] and engine.snapshot.version >= 2
        for q in FLIGHTS:
            reply = await service.handle(Question(q, channel="test", user_id="staff-9"))
            assert reply.kind == "answer" and reply.entry_id == "visits-who-pays", (q, reply.kind)

        # 6. The queue now holds only what is still unanswered.
        assert [set(g.questions()) for g in await grouped(store, engine.snapshot)] == [set(PARKING)]
        resolved = await store.unanswered(status="resolved")
        assert len(resolved) == 6 and {r.entry_id for r in resolved} == {"visits-who-pays"}
    finally:
        await reloader.stop()
        await store.close()
