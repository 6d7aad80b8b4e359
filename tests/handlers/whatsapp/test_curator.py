"""Curators on WhatsApp: the queue, a group's buttons, attaching from the phone; notices only
inside the 24-hour window."""
from __future__ import annotations

import time

from bot import texts
from tests.handlers.whatsapp.wa_harness import CURATOR, USER, Harness

FLIGHTS = ("מי משלם על הטיסות של המשלחת", "מי מכסה טיסות של משלחת", "מי משלם את הטיסות למשלחת")


async def test_queue_group_attach_then_answered(wa: Harness) -> None:
    for i, q in enumerate(FLIGHTS):
        await wa.text(q, wa_id=f"97250100000{i}")
    (queue,) = await wa.text("/unanswered", wa_id=CURATOR)
    assert queue.payload["interactive"]["type"] == "list"
    group = next(i for i in queue.ids() if i.startswith("cg:"))
    (detail,) = await wa.press(group, wa_id=CURATOR, kind="list_reply")
    attach = next(i for i in detail.ids() if i.startswith("cr:"))
    (done,) = await wa.press(attach, wa_id=CURATOR)
    assert "נוספו" in done.text
    (answer,) = await wa.text(FLIGHTS[1], wa_id=USER)
    assert answer.text.startswith("*סיכום ביקור משלחת*")


async def test_strangers_pressing_curator_buttons_change_nothing(wa: Harness) -> None:
    await wa.text(FLIGHTS[0], wa_id="972501000009")
    groups = await wa.runtime.curator.groups()
    (stale,) = await wa.press(f"cd:{groups[0].id}", wa_id=USER)
    assert stale.text == texts.ENTRY_NOT_FOUND
    assert len(await wa.runtime.curator.groups()) == len(groups)


async def test_notices_go_only_to_curators_inside_the_window(wa: Harness) -> None:
    notifier = wa.channel.notifier
    assert await notifier.digest("סיכום") == 0  # the curator never wrote: outside the window
    await wa.text("שלום", wa_id=CURATOR)  # now they did
    before = len(wa.recorder.sent)
    assert await notifier.digest("סיכום") == 1
    (sent,) = wa.recorder.sent[before:]
    assert sent.payload["to"] == CURATOR and sent.text == "סיכום"
    store = wa.runtime.store
    assert store is not None
    key = wa.runtime.router.conversations.key("wa-curator-seen", CURATOR)
    await store.remember(key, str(time.time() - 25 * 3600))  # a day and an hour ago
    assert await notifier.reload_failed("x.yaml:1: broken") == 0
