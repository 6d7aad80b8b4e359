import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.curation_cli import EXPORT_FIELDS
from tests.store_faults import (FAULTS, NO_STORE_YET, TIMEOUT, can_read, cannot_write, copy_kb, created_nothing,
                                restore_permissions, run_all, scrubbed_env)

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


# ---------------------------------------------------------------------- a broken store (issue: silent zombies)
WRITERS = {"chat": ["chat"],
           "unanswered resolve": ["unanswered", "resolve", "1", "--entry", "dec-546-budget"],
           "unanswered dismiss": ["unanswered", "dismiss", "1"]}
READERS = {"stats": ["stats"], "unanswered list": ["unanswered", "list"],
           "unanswered list --grouped": ["unanswered", "list", "--grouped"],
           "unanswered export": ["unanswered", "export"]}
# what each reader prints from the three-question store of the read-only faults
READ_OUTPUT = {"stats": "queue: 3 open question(s)", "unanswered list": "3 question(s), newest first",
               "unanswered list --grouped": "of 3 question(s)", "unanswered export": "id,time,status"}


def _verdicts(fault, outcomes, db) -> list[str | None]:
    found = []
    for o in outcomes:
        if o.command in WRITERS:
            found.append(o.problem(code="non-zero", line=fault.writer, db=db))
        elif fault.reader == "fails":
            found.append(o.problem(code="non-zero", line=fault.reader_says, db=db))
        elif fault.reader == "empty":
            found.append(o.problem(code="zero", line=NO_STORE_YET, db=db))
        else:
            found.append(o.problem(code="zero", line=None, db=db) or (
                None if READ_OUTPUT[o.command] in o.stdout else f"{o.command}: read nothing: {o.stdout[-300:]!r}"))
    return found


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_every_store_command_on_a_broken_store_exits_with_one_line(fault, tmp_path):
    """stats, unanswered list|list --grouped|export|resolve|dismiss and the console chat, as a curator
    runs them: no hang, no traceback, one line with the file and the cause; a read-only command
    reads what it may read, and finds no store where there is none (exit 0, nothing created)."""
    folder = tmp_path / "volume"
    folder.mkdir()
    kb = copy_kb(tmp_path)
    try:
        db = fault.make(folder)
        if fault.permission:
            assert cannot_write(db), f"{db} is writable here: this run would not test the permission"
            assert can_read(db) == fault.readable
        before = set(folder.rglob("*"))
        outcomes = run_all({**WRITERS, **READERS}, scrubbed_env(db, kb, tmp_path), demote=fault.permission)
        made = created_nothing(db, folder, before) if fault.reader == "empty" else None
    finally:
        restore_permissions(folder)
    problems = [p for p in [*_verdicts(fault, outcomes, db), made] if p]
    assert not problems, "\n".join(problems)
    assert max(o.seconds for o in outcomes) < TIMEOUT


def test_read_only_commands_on_a_missing_store_create_nothing(tmp_path):
    """A path in a writable place that does not exist yet: an empty queue, not an error, and no
    folder or file appears (before: stats created the folder and an empty database)."""
    db = tmp_path / "not" / "yet" / "rashut.db"
    outcomes = run_all(READERS, scrubbed_env(db, copy_kb(tmp_path), tmp_path))
    problems = [o.problem(code="zero", line=NO_STORE_YET, db=db) for o in outcomes]
    assert not [p for p in problems if p], problems
    assert not (tmp_path / "not").exists()
    export = next(o for o in outcomes if o.command == "unanswered export")
    assert export.stdout.splitlines() == [",".join(EXPORT_FIELDS)]  # an empty export, still a CSV with its header


# ---------------------------------------------------------------------- ask: what it reads is not always UTF-8
def _ask_bytes(*args: bytes | str, stdin: bytes = b"", **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", "ask", "--kb", str(DATA / "good"), *args], cwd=REPO,
                          input=stdin, capture_output=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(REPO / ".venv"), **env})


@pytest.mark.parametrize("env", [{}, {"PYTHONIOENCODING": "utf-8"}, {"LC_ALL": "C.UTF-8"}],
                         ids=["plain-shell", "strict-utf8-io", "c-utf8"])
def test_ask_output_is_utf8_whatever_bytes_come_in(env):
    """Invalid bytes (a Latin-1 or cp1255 paste, a cut multi-byte character) become U+FFFD, in stdin
    lines and in arguments; before, they were echoed raw (the JSON was not UTF-8) or traced back."""
    lines = [b"\xf9\xec\xe5\xed",  # "שלום" in cp1255
             "מה התקציב של החלטה 546".encode() + b" \xd7",  # a two-byte letter cut in half
             b"ok \xed\xa0\x80 surrogate"]  # U+D800 as CESU-8 would write it
    p = _ask_bytes(stdin=b"\n".join(lines) + b"\n", **env)
    assert p.returncode == 0 and b"Traceback" not in p.stderr, p.stderr
    objs = [json.loads(line) for line in p.stdout.decode("utf-8").splitlines()]  # strict: raises on bad bytes
    assert [o["question"] for o in objs] == ["\ufffd" * 4, "מה התקציב של החלטה 546 \ufffd",
                                             "ok \ufffd\ufffd\ufffd surrogate"]
    assert objs[1]["entry_id"] == "dec-546-budget"
    p = _ask_bytes("--json", b"\xe4\xe7\xec\xe8\xe4 546", **env)
    assert p.returncode == 0 and b"Traceback" not in p.stderr, p.stderr
    assert json.loads(p.stdout.decode("utf-8"))["question"] == "\ufffd" * 5 + " 546"
    p = _ask_bytes(b"\xff question", **env)  # the readable form too
    assert p.returncode == 0 and b"\xff" not in p.stdout, p.stdout
    p.stdout.decode("utf-8")
