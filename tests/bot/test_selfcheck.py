"""`rashut kb check` passes on good bases and catches a deliberately introduced collision."""
from pathlib import Path

from bot.cli import main
from bot.selfcheck import check_base
from knowledge.engine import Engine
from knowledge.loader import BUNDLED_BASE


def test_good_fixture_passes(good_kb):
    failures, total = check_base(Engine(good_kb).snapshot)
    assert total == 15 and failures == []


def test_bundled_base_passes():
    failures, total = check_base(Engine(BUNDLED_BASE).snapshot)
    assert total > 500
    assert failures == [], "\n".join(f.render() for f in failures)


def test_collision_is_caught_with_both_scores(good_kb: Path, capsys):
    # A curator gives the summary entry a question that really belongs to "who pays".
    p = good_kb / "visits.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace(
        "questions: [צריך לכתוב סיכום אחרי הביקור,", "questions: [הטיסות של המשלחת מי משלם, צריך לכתוב סיכום אחרי הביקור,"),
        encoding="utf-8")
    failures, _ = check_base(Engine(good_kb).snapshot)
    by_entry = {f.entry_id: f for f in failures}
    assert set(by_entry) == {"visits-summary", "visits-who-pays"}
    stolen = by_entry["visits-summary"]
    assert stolen.got == "visits-who-pays" and stolen.got_score > stolen.own_score
    assert "'visits-who-pays' wins" in stolen.render() and "visits.yaml:16:" in stolen.render()
    close = by_entry["visits-who-pays"]
    assert close.runner == "visits-summary" and "collides with 'visits-summary'" in close.render()
    assert main(["kb", "check", "--kb", str(good_kb)]) == 1
    out = capsys.readouterr().out
    assert "2 fail" in out
