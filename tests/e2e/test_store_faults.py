"""`rashut run` on a store it cannot open (issue: a corrupt or read-only database leaves a silent
zombie): with Telegram against the Bot API emulator, and with the WhatsApp settings, the process
exits non-zero within seconds with one line naming the file and the cause, so a supervisor sees a
dead container and restarts it, instead of a live one that polls nothing and says nothing.
"""
from __future__ import annotations

import pytest

from tests.botapi.server import BotApiEmulator
from tests.e2e.conftest import free_port, telegram_env, whatsapp_env
from tests.graphapi.server import GraphApiEmulator
from tests.store_faults import (FAULTS, TIMEOUT, can_read, cannot_write, copy_kb, restore_permissions, run_many,
                                scrubbed_env)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_run_exits_with_one_line_on_a_store_it_cannot_open(fault, tmp_path, emulator: BotApiEmulator,
                                                           graph: GraphApiEmulator):
    folder = tmp_path / "volume"
    folder.mkdir()
    kb = copy_kb(tmp_path)
    try:
        db = fault.make(folder)
        if fault.permission:
            assert cannot_write(db), f"{db} is writable here: this run would not test the permission"
            assert can_read(db) == fault.readable
        env = scrubbed_env(db, kb, tmp_path)
        telegram = {**env, **telegram_env(emulator)}
        whatsapp = {**env, **whatsapp_env(graph, free_port())}
        outcomes = run_many([("run (telegram)", ["run"], telegram), ("run (whatsapp)", ["run"], whatsapp)],
                            demote=fault.permission)
    finally:
        restore_permissions(folder)
    problems = [o.problem(code="non-zero", line=fault.writer, db=db) for o in outcomes]
    assert not [p for p in problems if p], "\n".join(p for p in problems if p)
    assert max(o.seconds for o in outcomes) < TIMEOUT
