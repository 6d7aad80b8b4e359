"""The console chat, run as a person runs it: `rashut run` with no channel, under a pseudo-terminal
(Ctrl+C and Ctrl+D leave at once with a goodbye and exit status 0); without a terminal and without a
channel it refuses with one line (what a container with no settings does); the layout of Hebrew."""
from __future__ import annotations

import contextlib
import os
import pty
import signal
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot import texts
from handlers.console import layout

REPO = Path(__file__).resolve().parents[2]


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TELEGRAM_", "WHATSAPP_", "RASHUT_", "WEBHOOK_", "CURATOR_"))}
    env.update(XDG_DATA_HOME=str(tmp_path / "xdg"), PYTHONPATH=str(REPO), HOME=str(tmp_path), TERM="xterm")
    return env


def read_until(fd: int, needle: str, timeout: float = 60) -> str:
    buf, end = b"", time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            buf += data
            if needle.encode() in buf:
                break
    return buf.decode("utf-8", errors="replace")


def wait_exit(pid: int, timeout: float) -> int:
    """The child's wait status; fails (never hangs) when it does not exit in time."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.05)
    pytest.fail(f"the console did not exit within {timeout} s")


@pytest.mark.parametrize("key", [b"\x03", b"\x04"], ids=["ctrl-c", "ctrl-d"])
def test_ctrl_c_and_ctrl_d_leave_at_once_with_a_goodbye(tmp_path: Path, key: bytes) -> None:
    pid, fd = pty.fork()
    if pid == 0:  # the child: `rashut run` on a terminal, no channel configured
        os.chdir(tmp_path)
        os.execvpe(sys.executable, [sys.executable, "-m", "bot", "run"], clean_env(tmp_path))
    try:
        banner = read_until(fd, "> ")
        assert texts.CONSOLE_BIDI_HINT in banner
        os.write(fd, "מה התקציב של החלטה 546\n".encode())
        answer = read_until(fd, "> ")
        assert "546" in answer and "📄" in answer
        time.sleep(0.3)  # the prompt is up; a person reads the answer before pressing anything
        os.write(fd, key)
        bye = read_until(fd, texts.CONSOLE_BYE, timeout=15)
        status = wait_exit(pid, 15)
    finally:
        os.close(fd)
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    assert texts.CONSOLE_BYE in bye and "Traceback" not in bye
    assert os.waitstatus_to_exitcode(status) == 0


def test_no_channel_and_no_terminal_refuses_in_one_line(tmp_path: Path) -> None:
    """A container started without settings: not a silent exit 0, one line and a non-zero code."""
    done = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=clean_env(tmp_path),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "no channel is configured" in done.stderr
    assert not (tmp_path / "xdg").exists()  # and nothing was created


def test_layout_wraps_then_reorders_each_line() -> None:
    text = "החלטה 546 מיום 14.7.2013 – תקציב של כ-500 מיליון ש\"ח על פני חמש שנים https://example.org/a-very-long-link"
    logical = layout(text, 30, visual=False).split("\n")
    assert len(logical) > 2 and all(len(line) <= 30 or line.startswith("https://") for line in logical)
    assert "https://example.org/a-very-long-link" in logical  # a link is never cut
    assert layout("שלום עולם", 30, visual=True) == "םלוע םולש"  # a Hebrew line, laid out right to left
    assert layout("החלטה 546", 30, visual=True) == "546 הטלחה"  # a number keeps its own direction
    assert len(layout(text, 30, visual=True).split("\n")) == len(logical)  # reordered line by line
    assert layout("", 30, visual=True) == ""
