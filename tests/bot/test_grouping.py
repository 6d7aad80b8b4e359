"""bot.grouping: the queue is clustered by meaning-ish similarity, with stable group numbers."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from bot.grouping import by_size, cluster, grouped, with_titles
from bot.replies import Question
from bot.service import AnswerService
from bot.store import SqliteStore as Store, UnansweredRow
from knowledge.engine import Engine

FIXTURE = Path(__file__).parent / "fixtures_curation" / "kb"

FLIGHTS = ["מי מכסה את כרטיסי הטיסה של האורחים", "מי מכסה כרטיסי טיסה לאורחים",
           "כרטיסי הטיסה של האורחים על חשבון מי", "מי מכסה את ההוצאות של כרטיסי הטיסה לחברי המשלחת"]
PARKING = ["איך מבקשים תו חניה לנכה", "בקשה לתו חניה נכים", "איך מגישים בקשה לתו חניה לנכים"]
COLLECTION = ["מה שעות הפעילות של מחלקת הגבייה", "שעות פעילות מחלקת גבייה"]
SINGLES = ["מה התקציב של החלטה 999", "מה התקציב של החלטה 998", "כמה עולה שלט חוצות",
           "מתי פותחים את הבריכה העירונית"]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(FIXTURE)


def rows_for(engine: Engine, texts: list[str], start: int = 1, users: int = 3) -> list[UnansweredRow]:
    """Rows as the service would log them: real matcher output (normalised text, candidates)."""
    out = []
    for i, text in enumerate(texts, start):
        m = engine.snapshot.matcher.match(text)
        out.append(UnansweredRow(i, 1000.0 + i, text, m.normalized, "test", "private", f"user-{i % users}",
                                 m.decision, [{"entry_id": c.entry_id, "score": c.score} for c in m.candidates],
                                 "open", None))
    return out


def members(groups) -> list[set[str]]:
    return [{r.text for r in g.rows} for g in groups]


@pytest.mark.parametrize("seed", [None, *range(20)])
def test_similar_questions_group_and_different_ones_do_not(engine, seed):
    texts = FLIGHTS + PARKING + COLLECTION + SINGLES
    if seed is not None:  # whatever order the questions arrived in
        random.Random(seed).shuffle(texts)
    groups = cluster(rows_for(engine, texts))
    got = members(groups)
    for topic in (FLIGHTS, PARKING, COLLECTION):
        assert set(topic) in got, f"{topic} not one group: {got}"
    for single in SINGLES:
        assert {single} in got, f"{single!r} should stand alone: {got}"
    assert len(groups) == 3 + len(SINGLES)


def test_numbers_are_facts_not_fuzz(engine):
    groups = cluster(rows_for(engine, ["מה התקציב של החלטה 999", "מה התקציב של החלטה 998",
                                       "מה התקציב של החלטה 999?"]))
    assert members(groups) == [{"מה התקציב של החלטה 999", "מה התקציב של החלטה 999?"}, {"מה התקציב של החלטה 998"}]


def test_group_numbers_are_the_smallest_row_id_and_stable(engine):
    texts = FLIGHTS + PARKING + COLLECTION + SINGLES
    random.Random(7).shuffle(texts)
    rows = rows_for(engine, texts)
    groups = cluster(rows)
    assert all(g.id == min(g.row_ids) for g in groups)
    ids = {g.id: set(g.row_ids) for g in groups}
    # input order does not matter
    assert {g.id: set(g.row_ids) for g in cluster(list(reversed(rows)))} == ids
    # newer questions never renumber or split existing groups
    later = rows_for(engine, ["מי מכסה כרטיסי טיסה לאורחים מחו\"ל", "איך מזמינים פינוי גזם"], start=100)
    after = {g.id: set(g.row_ids) for g in cluster(rows + later)}
    for gid, rids in ids.items():
        assert after[gid] >= rids and (after[gid] - rids) <= {100, 101}
    # closing one whole group leaves every other group exactly as it was
    for victim in groups:
        rest = [r for r in rows if r.id not in victim.row_ids]
        assert {g.id: set(g.row_ids) for g in cluster(rest)} == {k: v for k, v in ids.items() if k != victim.id}


def test_group_summary(engine):
    rows = rows_for(engine, FLIGHTS + [FLIGHTS[0]], users=2)
    (g,) = cluster(rows)
    assert g.count == 5 and g.askers == 2
    assert g.first_ts == 1001.0 and g.last_ts == 1005.0
    assert g.examples[0] == FLIGHTS[0] and len(g.examples) == 3  # most asked first
    assert g.questions() == FLIGHTS  # distinct, after normalisation
    assert g.best_entry == "visits-who-pays" and 0 < g.best_score < 1
    titled = with_titles([g], engine.snapshot.kb)[0]
    assert titled.best_title == "מי משלם על מה באירוח משלחת"


def test_vanished_candidate_is_dropped(engine):
    (g,) = cluster(rows_for(engine, FLIGHTS[:1]))
    kb = Engine(FIXTURE).snapshot.kb
    ghost = type(g)(g.id, g.rows, "no-such-entry", 0.9)
    assert with_titles([ghost], kb)[0].best_entry is None


def test_largest_first(engine):
    groups = by_size(cluster(rows_for(engine, SINGLES + FLIGHTS + COLLECTION)))
    assert [g.count for g in groups][:2] == [4, 2]


async def test_grouped_from_a_real_store(engine, tmp_path):
    store = await Store.open(tmp_path / "q.db")
    try:
        service = AnswerService(engine, store, hash_key="k")
        for i, text in enumerate(FLIGHTS + PARKING + ["מי משלם על הטיסות של המשלחת?"]):
            await service.handle(Question(text, channel="test", user_id=str(i % 2)))
        groups = await grouped(store, engine.snapshot)
        assert [g.count for g in groups] == [4, 3]  # the answered question is not in the queue
        assert groups[0].best_entry == "visits-who-pays" and groups[0].best_title
        assert groups[0].askers == 2
    finally:
        await store.close()


def test_many_rows_stay_fast(engine):
    import time

    rng = random.Random(1)
    words = "תקציב החלטה משלחת טיסה לינה מתנה אשכול רשות מועצה חניה נכים גבייה ארנונה בריכה".split()
    rows = [UnansweredRow(i, float(i), t, t, "t", "p", None, "unanswered", [], "open", None)
            for i in range(1, 1501) for t in [" ".join(rng.sample(words, 3))]]
    t0 = time.perf_counter()
    groups = cluster(rows)
    elapsed = time.perf_counter() - t0
    print(f"1,500 rows ({len({r.text for r in rows})} distinct) -> {len(groups)} groups in {elapsed:.2f} s")
    assert sum(g.count for g in groups) == 1500 and elapsed < 20
