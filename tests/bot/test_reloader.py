"""bot.reloader: a save in the knowledge folder reaches the running bot; a broken save never does."""
from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import time
from pathlib import Path
from typing import Callable

import pytest

from bot.reloader import KnowledgeReloader, yaml_only
from bot.yaml_edit import write_atomic
from bot.replies import Question
from bot.service import AnswerService
from bot.store import SqliteStore as Store
from knowledge.engine import Engine, Snapshot
from tests.yaml_faults import FAULTS

FIXTURE = Path(__file__).parent / "fixtures_curation" / "kb"
NEW_QUESTION = "מי מכסה את כרטיסי הטיסה של האורחים"
FILE_LINE = re.compile(r"[\w./-]+\.yaml:\d+")


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    dest = tmp_path / "kb"
    shutil.copytree(FIXTURE, dest)
    return dest


async def until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def add_question(kb: Path) -> None:
    path = kb / "visits.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("      - מי משלם על הטיסות של המשלחת?\n",
                                 f"      - מי משלם על הטיסות של המשלחת?\n      - {NEW_QUESTION}\n"),
                    encoding="utf-8")


class Recorder:
    def __init__(self) -> None:
        self.ok: list[Snapshot] = []
        self.errors: list[str] = []

    async def on_success(self, snap: Snapshot) -> None:
        self.ok.append(snap)

    async def on_error(self, text: str) -> None:
        self.errors.append(text)


def test_filter_ignores_temp_and_swap_files():
    assert yaml_only(None, "/kb/visits.yaml") and yaml_only(None, "/kb/a/b.yml")
    for name in (".visits.yaml.123.rashut-tmp", ".visits.yaml.swp", "4913", "notes.txt", "~visits.yaml",
                 ".#visits.yaml"):
        assert not yaml_only(None, f"/kb/{name}"), name


async def test_watchfiles_picks_up_good_and_broken_saves(kb):
    engine, rec = Engine(kb), Recorder()
    service = AnswerService(engine)
    assert service.respond(NEW_QUESTION)[0].kind != "answer"
    reloader = KnowledgeReloader(engine, on_success=rec.on_success, on_error=rec.on_error,
                                 debounce_ms=800, step_ms=150, rust_timeout_ms=200)
    path = kb / "visits.yaml"
    original = path.read_bytes()
    async with reloader:
        await reloader.wait_ready()
        add_question(kb)  # a plain in-place save, as many editors do
        await until(lambda: rec.ok)
        assert engine.snapshot is rec.ok[-1] and engine.snapshot.version >= 2
        reply = service.respond(NEW_QUESTION)[0]
        assert reply.kind == "answer" and reply.entry_id == "visits-who-pays"

        good, live = path.read_bytes(), engine.snapshot
        write_atomic(path, b"schema: 1\nentries: [\n")  # one atomic save of a broken file
        await until(lambda: rec.errors)
        assert "visits.yaml:" in rec.errors[0] and engine.snapshot is live  # the old base serves
        assert service.respond(NEW_QUESTION)[0].entry_id == "visits-who-pays"

        saved = len(rec.ok)
        write_atomic(path, good)
        await until(lambda: len(rec.ok) > saved)
        assert engine.snapshot.version > live.version
        await asyncio.sleep(0.6)
    assert len(rec.errors) == 1 and not reloader.running
    assert original != good


async def test_one_save_burst_is_one_reload_and_one_notification(kb):
    engine, rec = Engine(kb), Recorder()
    reloader = KnowledgeReloader(engine, on_success=rec.on_success, on_error=rec.on_error,
                                 debounce_ms=1500, step_ms=300, rust_timeout_ms=200)
    async with reloader:
        await reloader.wait_ready()
        path = kb / "visits.yaml"
        for i in range(5):  # an editor that truncates, writes in pieces and touches the file
            path.write_text(f"schema: 1\n# save {i}\nentries: [\n", encoding="utf-8")
            (kb / "notes.txt").write_text(str(i))  # not a knowledge file: ignored
        await until(lambda: rec.errors)
        await asyncio.sleep(1.0)
    assert len(rec.errors) == 1 and rec.ok == [] and reloader.reloads == 1


async def test_in_flight_question_finishes_on_its_snapshot(kb, tmp_path):
    class CountingEngine(Engine):
        reads = 0

        @property
        def snapshot(self) -> Snapshot:
            CountingEngine.reads += 1
            return self._snapshot

    class GateStore(Store):
        """Holds a question inside ``handle`` (after matching) until the test lets it go."""

        entered = asyncio.Event()
        release = asyncio.Event()

        async def log_unanswered(self, **kw):  # type: ignore[override]
            GateStore.entered.set()
            await GateStore.release.wait()
            return await super().log_unanswered(**kw)

    engine = CountingEngine(kb)
    store = await GateStore.open(tmp_path / "q.db")
    try:
        service = AnswerService(engine, store)
        reloader = KnowledgeReloader(engine)
        CountingEngine.reads = 0
        task = asyncio.create_task(service.handle(Question(NEW_QUESTION, channel="test")))
        await GateStore.entered.wait()
        add_question(kb)
        result = await reloader.reload_now()  # the new base is live while the question is in flight
        assert result.ok and engine._snapshot.version == 2
        GateStore.release.set()
        reply = await task
        assert reply.kind == "clarify"  # decided on version 1, where the question was unknown
        assert CountingEngine.reads == 1  # one snapshot read per question, never a second
        reply = await service.handle(Question(NEW_QUESTION, channel="test"))
        assert reply.kind == "answer" and reply.entry_id == "visits-who-pays"
    finally:
        await store.close()


async def test_callback_failure_does_not_stop_reloading(kb):
    calls = []

    async def explode(arg) -> None:
        calls.append(arg)
        raise RuntimeError("chat is down")

    engine = Engine(kb)
    reloader = KnowledgeReloader(engine, on_success=explode, on_error=explode)
    (kb / "bad.yaml").write_text("- not a mapping\n", encoding="utf-8")
    assert not (await reloader.reload_now()).ok
    (kb / "bad.yaml").unlink()
    assert (await reloader.reload_now()).ok
    assert len(calls) == 2 and engine.snapshot.version == 2 and reloader.failures == 1


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
async def test_a_hostile_file_fails_the_reload_with_a_problem_naming_it(kb, fault):
    """Deep nesting, NUL, a billion laughs, a link out of the folder...: the reload fails like any
    broken save (the old base serves, the curators get the file:line), never as a crash."""
    engine, rec = Engine(kb), Recorder()
    live = engine.snapshot
    reloader = KnowledgeReloader(engine, on_success=rec.on_success, on_error=rec.on_error)
    fault.write(kb)
    t0 = time.perf_counter()
    result = await reloader.reload_now()
    assert time.perf_counter() - t0 < 5
    assert not result.ok and engine.snapshot is live and rec.ok == []
    assert rec.errors == [result.errors]  # the curators' notification carries the same text
    first = result.errors.splitlines()[0]
    where = f"{fault.file}:{fault.line}: " if fault.line else f"{fault.file}: "
    assert first.startswith(where) and fault.needle in first, result.errors
    assert "Error:" not in result.errors  # not "kb: RecursionError: maximum recursion depth exceeded"
    assert engine.snapshot.kb.entry("leaked-1") is None


async def test_the_watcher_and_reload_live_with_folder_links_and_loops(kb):
    """``loop -> .`` and ``topics/up -> ..`` inside the folder: the watcher starts, sees a save and
    reloads (no hang, nothing loaded twice)."""
    (kb / "loop").symlink_to(kb, target_is_directory=True)
    (kb / "topics" / "up").symlink_to("..", target_is_directory=True)
    engine, rec = Engine(kb), Recorder()
    reloader = KnowledgeReloader(engine, on_success=rec.on_success, on_error=rec.on_error,
                                 debounce_ms=500, step_ms=100, rust_timeout_ms=200)
    async with reloader:
        await reloader.wait_ready()
        add_question(kb)
        await until(lambda: rec.ok)
    assert rec.errors == [] and len(rec.ok[-1].kb) == len(engine.snapshot.kb)
    assert NEW_QUESTION in engine.snapshot.kb.entry("visits-who-pays").questions


async def test_stop_is_prompt_and_idempotent(kb):
    reloader = KnowledgeReloader(Engine(kb), rust_timeout_ms=200, step_ms=50)
    await reloader.start()
    await reloader.start()
    await reloader.wait_ready()
    t0 = time.monotonic()
    await reloader.stop()
    await reloader.stop()
    assert time.monotonic() - t0 < 3 and not reloader.running


# ---------------------------------------------------------------------- reload under load
BROKEN = [  # (file, content): every kind of mistake a curator makes, each must be refused
    ("visits.yaml", "schema: 1\nentries: [\n  - id: x\n"),  # YAML syntax
    ("extra.yaml", "schema: 1\nkind: topic\nid: extra\ntitle: t\nsource: {name: s}\nentries:\n"
                   "  - id: extra-1\n    title: t\n    answer: ''\n"),  # empty answer
    ("extra.yaml", "schema: 1\nkind: topic\nid: extra\ntitle: t\nsource: {name: s}\nentries:\n"
                   "  - id: visits-gifts\n    title: t\n    answer: a\n"),  # duplicate id
    ("extra.yaml", "schema: 1\nkind: topic\nid: extra\ntitle: t\nsource: {name: s}\nentries:\n"
                   "  - id: extra-1\n    title: t\n    answer: a\n    questions: [מה התקציב של 546]\n"),  # claimed
    ("extra.yaml", "schema: 1\nkind: topic\nid: extra\ntitle: t\nsource: {name: s}\nentries:\n"
                   "  - id: extra-1\n    title: t\n    answer: a\n    related: [nowhere]\n"),  # dangling
]
QUESTIONS = ["מי משלם על הטיסות של המשלחת?", "כמה כסף יש בהחלטה 546", "מה התקציב של החלטה 999",
             "מה שעות הפעילות של מחלקת הגבייה", NEW_QUESTION, "תודה רבה", "איך רשות מצטרפת לאשכול",
             "מתנה למשלחת"]


def good_state(kb: Path, original: bytes, n: int) -> None:
    """Good base number n: the original plus an entry of its own (so versions really differ)."""
    (kb / "extra.yaml").unlink(missing_ok=True)
    (kb / "visits.yaml").write_bytes(original)
    (kb / "extra.yaml").write_text(
        "schema: 1\nkind: topic\nid: extra\ntitle: שעות פעילות\nsource: {name: בדיקה}\nentries:\n"
        f"  - id: collection-hours-{n}\n    title: שעות הפעילות של מחלקת הגבייה\n"
        f"    answer: א-ה 8:00-13:00 (גרסה {n})\n    questions: [מה שעות הפעילות של מחלקת הגבייה]\n",
        encoding="utf-8")


async def test_reload_under_load(kb, tmp_path):
    n_questions, n_reloads = 1000, 20
    seen: dict[asyncio.Task, Snapshot] = {}

    class RecordingEngine(Engine):
        @property
        def snapshot(self) -> Snapshot:
            snap = self._snapshot
            seen[asyncio.current_task()] = snap
            return snap

    engine, rec = RecordingEngine(kb), Recorder()
    valid: dict[int, frozenset[str]] = {1: frozenset(engine._snapshot.kb.entries)}

    async def on_success(snap: Snapshot) -> None:
        valid[snap.version] = frozenset(snap.kb.entries)
        await rec.on_success(snap)

    reloader = KnowledgeReloader(engine, on_success=on_success, on_error=rec.on_error)
    store = await Store.open(tmp_path / "load.db")
    service = AnswerService(engine, store, hash_key="k")
    original = (kb / "visits.yaml").read_bytes()
    done = in_flight = max_in_flight = during_reload = 0
    reloading = False
    latencies: list[float] = []

    async def ask(i: int):
        nonlocal done
        nonlocal in_flight, max_in_flight, during_reload
        await asyncio.sleep(i * 0.002)  # questions arrive as a stream (~500/s), many in flight at once
        t0 = time.perf_counter()
        in_flight += 1
        max_in_flight = max(max_in_flight, in_flight)
        during_reload += reloading  # this question starts while a reload runs in its thread
        reply = await service.handle(Question(QUESTIONS[i % len(QUESTIONS)], channel="test", user_id=str(i % 50)))
        in_flight -= 1
        latencies.append(time.perf_counter() - t0)
        done += 1
        return reply, seen.pop(asyncio.current_task())

    async def reload_loop() -> list[bool]:
        nonlocal reloading
        outcomes = []
        for k in range(1, n_reloads + 1):
            while done < k * n_questions // (n_reloads + 2):  # spread the reloads over the burst
                await asyncio.sleep(0.001)
            if k % 2:
                name, content = BROKEN[(k // 2) % len(BROKEN)]
                (kb / "extra.yaml").unlink(missing_ok=True)
                (kb / name).write_text(content, encoding="utf-8")
            else:
                good_state(kb, original, k // 2)
            reloading = True
            outcomes.append((await reloader.reload_now()).ok)
            reloading = False
        return outcomes

    t0 = time.perf_counter()
    try:
        results = await asyncio.gather(*(ask(i) for i in range(n_questions)), reload_loop(),
                                       return_exceptions=True)
        elapsed = time.perf_counter() - t0
        integrity = await store.integrity_check()
        queued = await store.count_unanswered()
    finally:
        await store.close()
    outcomes, answers = results[-1], results[:-1]
    raised = [r for r in answers + [outcomes] if isinstance(r, BaseException)]
    assert raised == [], raised[:3]
    versions = [snap.version for _reply, snap in answers]
    answered = [(reply.entry_id, snap.version) for reply, snap in answers if reply.kind == "answer"]
    bad = [(e, v) for e, v in answered if e not in valid.get(v, ())]
    latencies.sort()
    print(f"\nreload under load: {n_questions} questions, {n_reloads} reloads "
          f"({outcomes.count(True)} good, {outcomes.count(False)} broken), {len(rec.errors)} error notifications, "
          f"{len(rec.ok)} success notifications; versions answered from: {sorted(set(versions))}; "
          f"{len(answered)} answers, {len(bad)} from an invalid base; {queued} queued for curators; "
          f"{during_reload} questions started while a reload was running, up to {max_in_flight} in flight; "
          f"{elapsed:.2f} s total, latency p50 {statistics.median(latencies) * 1000:.1f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms; integrity {integrity}")
    assert outcomes == [False, True] * (n_reloads // 2)
    assert len(rec.errors) == n_reloads // 2 and len(rec.ok) == n_reloads // 2
    assert all(FILE_LINE.search(text) for text in rec.errors), rec.errors
    assert bad == [] and set(versions) <= set(valid) and len(set(versions)) > 3  # reloads overlapped the burst
    assert during_reload > 0  # the event loop kept answering while reloads ran in their thread
    assert engine._snapshot.version == 1 + n_reloads // 2
    assert integrity == "ok" and queued == sum(1 for r, _s in answers if r.kind in ("clarify", "unanswered"))
    hours = {e for e, _v in answered if e.startswith("collection-hours-")}
    assert len(hours) > 1  # answers really came from different good bases
