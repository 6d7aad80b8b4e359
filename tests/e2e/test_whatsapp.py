"""`rashut run` with only the WhatsApp settings, as a subprocess, against the strict Graph API
emulator: the handshake, real conversations, the webhook's refusals, redelivery, and a curator
working the queue from WhatsApp.

Every test uses its own phone numbers and looks only at sends made after its mark, so the tests
share one bot process (started once per module).
"""
from __future__ import annotations

import sqlite3

import pytest

from bot import texts
from tests.e2e.conftest import WA_CURATOR, WA_TOKEN, WA_VERIFY_TOKEN, WAIT, BotProcess, secrets_in
from tests.graphapi.server import Call, GraphApiEmulator

BUDGET_Q = "מה התקציב של החלטה 4321?"
CLARIFY_Q = "ביטוח של המשלחת שלנו בשבוע הבא"


@pytest.fixture(autouse=True)
def _bot_alive(whatsapp_bot: BotProcess):
    yield
    assert whatsapp_bot.alive(), f"the bot died during the test\n{whatsapp_bot.logs()}"


async def ask(emu: GraphApiEmulator, wa_id: str, text: str, *, count: int = 1) -> list[Call]:
    """Push a text from ``wa_id`` and wait for ``count`` sends to it."""
    since = len(emu.calls())
    emu.push(emu.text(wa_id, text))
    return await sends(emu, wa_id, since, count)


async def sends(emu: GraphApiEmulator, wa_id: str, since: int, count: int = 1) -> list[Call]:
    await emu.wait_for(lambda c: c.kind == "message" and c.ok and c.to == wa_id
                       and len(emu.sent(wa_id, since=since)) >= count, WAIT)
    return emu.sent(wa_id, since=since)


async def test_handshake_answers_only_the_right_verify_token(graph: GraphApiEmulator, whatsapp_bot) -> None:
    ok = await graph.across(graph.verify(verify_token=WA_VERIFY_TOKEN))
    assert (ok.status, ok.body) == (200, ok.challenge)
    wrong = await graph.across(graph.verify(verify_token="not-the-token"))
    assert wrong.status == 403 and wrong.challenge not in wrong.body
    unsubscribe = await graph.across(graph.verify(verify_token=WA_VERIFY_TOKEN, mode="unsubscribe"))
    assert unsubscribe.status == 403


async def test_question_answered_with_citation_and_votes(graph: GraphApiEmulator, whatsapp_bot) -> None:
    (call,) = await ask(graph, "972501110001", BUDGET_Q)
    assert call.type == "interactive" and call.interactive_type == "list"
    body = call.text or ""
    assert body.startswith("*התקציב של החלטה 4321*")  # our bold title
    assert "12 מיליון" in body and "(<500 מנויים)" in body  # no HTML escaping on WhatsApp
    assert "📄 מקור:" in body and "החלטה 4321" in body.split("📄 מקור:")[1]
    assert "https://example.org/rashut-tests/decision-4321" in body
    rows = [r[0] for r in call.rows()]
    assert "e:decision-4321-localities" in rows and rows[-2:] == ["v:1:decision-4321-budget",
                                                                   "v:-1:decision-4321-budget"]


async def test_clarify_then_button_opens_the_entry(graph: GraphApiEmulator, whatsapp_bot) -> None:
    user = "972501110002"
    (call,) = await ask(graph, user, CLARIFY_Q)
    assert texts.CLARIFY in (call.text or "") and call.interactive_type == "button"
    ids = [b[0] for b in call.buttons()]
    assert {"e:test-visits-health-insurance", "e:test-visits-liability-insurance"} <= set(ids)
    assert all(len(title) <= 20 for _, title in call.buttons())
    since = len(graph.calls())
    graph.push(graph.button_reply(user, call, "e:test-visits-health-insurance"))
    (entry,) = await sends(graph, user, since)
    assert (entry.text or "").startswith("*ביטוח בריאות לחברי המשלחת*")


async def test_number_after_options_picks_one(graph: GraphApiEmulator, whatsapp_bot) -> None:
    user = "972501110003"
    await ask(graph, user, CLARIFY_Q)
    (picked,) = await ask(graph, user, "2")
    assert (picked.text or "").startswith("*ביטוח")
    (wrong,) = await ask(graph, user, "7")
    assert texts.OPTION_OUT_OF_RANGE.format(number=7, count=3).split(".")[0] in (wrong.text or "")


async def test_browse_by_list_message(graph: GraphApiEmulator, whatsapp_bot) -> None:
    user = "972501110004"
    (menu,) = await ask(graph, user, "החלטות")
    assert menu.interactive_type == "list"
    assert ("t:decision:4321" in [r[0] for r in menu.rows()])
    since = len(graph.calls())
    graph.push(graph.list_reply(user, menu, "t:decision:4321"))
    (page,) = await sends(graph, user, since)
    assert "4321" in (page.text or "") and page.interactive_type == "list"
    assert {"e:decision-4321-budget", "e:decision-4321-apply"} <= {r[0] for r in page.rows()}
    assert all(len(r[1]) <= 24 and (r[2] is None or len(r[2]) <= 72) for r in page.rows())


async def test_a_vote_is_stored(graph: GraphApiEmulator, whatsapp_bot: BotProcess) -> None:
    user = "972501110005"
    (answer,) = await ask(graph, user, BUDGET_Q)
    since = len(graph.calls())
    graph.push(graph.list_reply(user, answer, "v:-1:decision-4321-budget"))
    (thanks,) = await sends(graph, user, since)
    assert thanks.text == texts.FEEDBACK_THANKS_DOWN
    rows = whatsapp_bot.sql("SELECT entry_id, vote, channel, user_hash FROM feedback WHERE channel='whatsapp'")
    assert ("decision-4321-budget", -1, "whatsapp") in [r[:3] for r in rows]
    assert all(user not in (r[3] or "") for r in rows)  # a keyed hash, never the number


@pytest.mark.parametrize("sign, status", [("none", 401), ("wrong", 403)])
async def test_unsigned_or_wrongly_signed_posts_are_refused_unrun(graph: GraphApiEmulator, whatsapp_bot: BotProcess,
                                                                   sign: str, status: int) -> None:
    user = "972501110006" if sign == "none" else "972501110007"
    before = whatsapp_bot.sql("SELECT count(*) FROM inbox")[0][0]
    delivery = await graph.across(graph.deliver(graph.text(user, BUDGET_Q), sign=sign))
    assert delivery.status == status
    assert whatsapp_bot.sql("SELECT count(*) FROM inbox")[0][0] == before  # nothing stored
    # and nothing answered: a signed message afterwards is the first thing this user gets
    (call,) = await ask(graph, user, "שלום")
    assert graph.sent(user) == [call]


async def test_same_wamid_twice_is_answered_once(graph: GraphApiEmulator, whatsapp_bot: BotProcess) -> None:
    user = "972501110008"
    env = graph.text(user, BUDGET_Q)
    first = await graph.across(graph.deliver(env, times=2))
    assert first.status == 200
    await sends(graph, user, 0)
    again = await graph.across(graph.redeliver(first))
    assert again.status == 200
    (control,) = await ask(graph, user, "תודה")  # a later message is answered: the bot had time to answer twice
    assert len([c for c in graph.sent(user) if (c.text or "").startswith("*התקציב")]) == 1
    assert control.text == texts.SMALLTALK_THANKS


@pytest.mark.parametrize("kind", ["image", "audio", "document", "sticker", "location", "contacts", "unsupported"])
async def test_anything_but_text_gets_the_polite_reply(graph: GraphApiEmulator, whatsapp_bot, kind: str) -> None:
    user = f"97250222{['image', 'audio', 'document', 'sticker', 'location', 'contacts', 'unsupported'].index(kind):04d}"
    since = len(graph.calls())
    graph.push(getattr(graph, kind)(user))
    (call,) = await sends(graph, user, since)
    assert call.text == texts.WA_TEXT_ONLY


async def test_reaction_and_status_callbacks(graph: GraphApiEmulator, whatsapp_bot) -> None:
    user = "972501110009"
    (answer,) = await ask(graph, user, BUDGET_Q)
    for state in ("sent", "delivered", "read", "failed"):
        d = await graph.across(graph.deliver(graph.status(answer, state, error_code=131026 if state == "failed"
                                                          else None)))
        assert d.status == 200
    since = len(graph.calls())
    graph.push(graph.reaction(user, answer))
    (polite,) = await sends(graph, user, since)
    assert polite.text == texts.WA_TEXT_ONLY


async def test_malformed_and_oversized_bodies(graph: GraphApiEmulator, whatsapp_bot) -> None:
    import aiohttp

    from tests.graphapi.inbound import sign

    url = graph.webhook_url
    async with aiohttp.ClientSession() as s:
        for body, want in ((b"{not json", 400), (b"", 400), (b"\xff\xfe", 400), (b"[" * 5000 + b"]" * 5000, 400),
                           (b'{"entry": 1}', 400)):
            async with s.post(url, data=body, headers={"X-Hub-Signature-256": sign(body, graph.app_secret),
                                                       "Content-Type": "application/json"}) as r:
                assert r.status == want, body[:20]
        big = b"x" * (3 * 1024 * 1024 + 1)
        async with s.post(url, data=big, headers={"X-Hub-Signature-256": "sha256=00"}) as r:
            assert r.status == 413


async def test_curator_resolves_a_group_from_whatsapp(graph: GraphApiEmulator, whatsapp_bot) -> None:
    asked = "ביטוח למשלחת שלנו שמגיעה בחודש הבא"
    (unsure,) = await ask(graph, "972501110010", asked)
    assert texts.CLARIFY in (unsure.text or "")  # not answered yet: queued, with its candidates
    # the curator opens the queue, picks the group, attaches it to the nearest entry
    (queue,) = await ask(graph, WA_CURATOR, "/unanswered")
    assert queue.interactive_type == "list", queue.payload
    group = next((r for r in queue.rows() if r[2] and "ביטוח" in r[2]), None)
    assert group is not None, queue.rows()
    since = len(graph.calls())
    graph.push(graph.list_reply(WA_CURATOR, queue, group[0]))
    (detail,) = await sends(graph, WA_CURATOR, since)
    attach = next((b for b in detail.buttons() if b[0].startswith("cr:")), None)
    assert attach is not None, (detail.text, detail.buttons())
    since = len(graph.calls())
    graph.push(graph.button_reply(WA_CURATOR, detail, attach[0]))
    (done,) = await sends(graph, WA_CURATOR, since)
    assert "נוספו" in (done.text or "")
    # the next person asking the same is answered without a restart
    (answer,) = await ask(graph, "972501110011", asked)
    assert (answer.text or "").startswith("*")


async def test_curator_commands_are_unknown_to_others(graph: GraphApiEmulator, whatsapp_bot) -> None:
    (unknown,) = await ask(graph, "972501110012", "/unanswered")
    (other,) = await ask(graph, "972501110012", "/no_such_command")
    assert unknown.text == other.text == texts.WA_UNKNOWN_COMMAND


def test_secrets_and_numbers_stay_out_of_logs(whatsapp_bot: BotProcess, graph: GraphApiEmulator) -> None:
    logs = whatsapp_bot.logs()
    assert secrets_in(logs, WA_TOKEN, graph.app_secret, WA_VERIFY_TOKEN) == []
    assert "97250111" not in logs and "97250222" not in logs and WA_CURATOR not in logs
    db = sqlite3.connect(f"file:{whatsapp_bot.db}?mode=ro", uri=True)
    try:
        dump = "\n".join(db.iterdump())
    finally:
        db.close()
    assert "97250111" not in dump and WA_CURATOR not in dump  # hashes only; inbox payloads are sealed
