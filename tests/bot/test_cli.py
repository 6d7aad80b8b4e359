import json
import subprocess
import sys
from pathlib import Path

from bot.cli import main

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=REPO, input=stdin, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(REPO / ".venv"),
                                                       "RASHUT_DB": "/tmp/rashut-cli-test.db"})


def test_validate_ok_and_broken(capsys):
    assert main(["kb", "validate", "--kb", str(DATA / "good")]) == 0
    assert "OK: 5 entries" in capsys.readouterr().out
    assert main(["kb", "validate", "--kb", str(DATA / "broken" / "indentation")]) == 1
    err = capsys.readouterr().err
    assert "decision-2025.yaml:9:" in err


def test_stats(capsys):
    assert main(["kb", "stats", "--kb", str(DATA / "good")]) == 0
    out = capsys.readouterr().out
    assert "decision" in out and "guideline" in out and "entries without alternate questions: 0" in out


def test_ask_json_contract():
    p = run("ask", "--json", "--kb", str(DATA / "good"), "מה התקציב של החלטה 546")
    obj = json.loads(p.stdout)
    assert set(obj) == {"question", "answered", "kind", "entry_id", "score", "answer", "source", "suggestions"}
    assert obj["answered"] is True and obj["entry_id"] == "dec-546-budget" and "14.7.2013" in obj["answer"]


def test_ask_547_is_not_546():
    p = run("ask", "--json", "--kb", str(DATA / "good"), "החלטה 547")
    obj = json.loads(p.stdout)
    assert obj["answered"] is False and obj["entry_id"] is None and "546" not in (obj["entry_id"] or "")
    assert "547" in obj["answer"] and "העברתי" not in obj["answer"]  # nothing was queued, so nothing is claimed


def test_ask_stdin_one_line_per_line_in_order():
    questions = ["מה התקציב של החלטה 546", "", "שלום", "🙂", "x" * 10_000, "מי משלם טיסות למשלחת",
                 "החלטה 547", "\u202e<b>&amp;</b>"]
    p = run("ask", "--kb", str(DATA / "good"), stdin="\n".join(questions) + "\n")
    lines = p.stdout.splitlines()
    assert len(lines) == len(questions), p.stderr
    objs = [json.loads(line) for line in lines]
    assert [o["question"] for o in objs] == questions
    assert objs[0]["entry_id"] == "dec-546-budget" and objs[5]["entry_id"] == "visits-who-pays"
    assert objs[2]["kind"] == "smalltalk" and objs[6]["answered"] is False
