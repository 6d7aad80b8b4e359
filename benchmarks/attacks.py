"""The webhook attacks of the hardening issue, run against a real ``rashut run``; JSON on stdout.

    python -m benchmarks.attacks [--json benchmarks/out/attacks.json] [--repo DIR] [--mode telegram|whatsapp]

``rashut run`` is started as in production (``python -m bot run`` in the repository, or in
``--repo DIR``, another checkout, to measure older code the same way) on the e2e tests' fixture
base: once in Telegram webhook mode against the Bot API emulator (``tests/botapi/server.py``),
once in WhatsApp mode against the Graph API emulator (``tests/graphapi/server.py``). The emulators
run in threads of this process and deliver real updates to the bot; the attacks are raw sockets
from this process. Everything is on 127.0.0.1. What is measured:

* **floods**: 24 connections at once, each announcing a 95 MB body and sending it as fast as the
  socket takes it, without the secret, with a wrong one, to ``/whatsapp`` without a signature (and
  with the secret or a signature, by ``Content-Length`` and chunked). Per flood: the bot's peak
  RSS during it (the kernel's own high-water mark, ``VmHWM``, reset to the current RSS first via
  ``/proc/PID/clear_refs``; sampled every millisecond as well where that is not allowed), its RSS
  before, its CPU seconds, and per connection the status, the time from the end of the headers to
  the status line, and how many body bytes the socket took before the bot closed it.
* **slow connections**: 300 connections that send half a request's headers and stall (also: that
  send nothing, and that trickle a header byte a second); how many are still open 1 s after they
  were opened, 1 s after the header timeout, and after 15 s; whether a real update is answered
  while they are open.
* **connection limit**: 600 idle connections at once: how many got 503, how many were held, and
  how long a real update then took to be answered (its sender retries a 503, as Telegram does).
* **malformed bodies** with the right secret (or signature): the status of each, and how many
  lines the bot logged for it; ``application/json; charset=utf-8`` (and other spellings).
* after every attack, a normal update: answered or not, and in how many seconds.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import psutil

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.common import machine  # noqa: E402
from handlers.webserver import HEADER_TIMEOUT  # noqa: E402 - the production default the bot runs with
from tests.botapi.server import BotApiEmulator  # noqa: E402
from tests.graphapi.inbound import sign  # noqa: E402
from tests.graphapi.server import DEFAULT_TOKEN as WA_TOKEN, GraphApiEmulator  # noqa: E402

FIXTURE_KB = REPO / "tests" / "e2e" / "fixtures" / "kb"
TOKEN = "123456:ATTACK-TOKEN-abcdefghijklmnopqrstuvwxyz0123"
SECRET = "attack-Webhook_Secret-0123456789"
VERIFY = "attack-verify-token"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SIGNATURE = "X-Hub-Signature-256"
QUESTION = "מה התקציב של החלטה 4321?"
MB = 2**20
BLOCK = 64 * 1024  # the flood's write size, so the bytes a socket took are counted to 64 KB
FLOOD_BYTES = 95 * MB
FLOOD_CLIENTS = 24
SLOW_CLIENTS = 300
LIMIT_CLIENTS = 600
WA_CAP_MB = 3  # handlers/whatsapp/channel.py MAX_NOTIFICATION: the most a body with a wrong signature costs
WA_CAP_CLIENTS = 500
STARTUP = 90.0
ANSWER_WAIT = 30.0
_SCRUB = ("TELEGRAM_", "WEBHOOK_", "RASHUT_", "CURATOR_", "UNANSWERED_", "DIGEST_", "LOG_LEVEL", "WHATSAPP_",
          "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


# ---------------------------------------------------------------------------- the bot process
@dataclass
class Bot:
    """A ``rashut run`` subprocess, its webhook port and its log file."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    workdir: Path
    _out: Any = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_size(self) -> int:
        return self.log.stat().st_size

    def log_lines_since(self, offset: int) -> list[str]:
        with self.log.open("rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace").splitlines()

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        if self._out is not None:
            self._out.close()
        return self.proc.returncode


def start_bot(repo: Path, workdir: Path, port: int, channel_env: dict[str, str]) -> Bot:
    kb = workdir / "kb"
    shutil.copytree(FIXTURE_KB, kb)
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    env.update(channel_env)
    env.update({"RASHUT_KB": str(kb), "RASHUT_DB": str(workdir / "rashut.db"), "RASHUT_HASH_KEY": "attacks",
                "RASHUT_WATCH_KB": "0", "XDG_DATA_HOME": str(workdir / "xdg"), "NO_PROXY": "127.0.0.1,localhost",
                "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    log = workdir / "bot.log"
    out = log.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=repo, env=env, stdin=subprocess.DEVNULL,
                            stdout=out, stderr=subprocess.STDOUT)
    return Bot(proc, port, log, workdir, out)


def wait_until(condition: Callable[[], bool], bot: Bot, what: str, timeout: float = STARTUP) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if not bot.alive():
            raise SystemExit(f"the bot exited while waiting for {what}:\n{bot.log.read_text(errors='replace')}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


# ---------------------------------------------------------------------------- memory
class Memory:
    """Peak RSS of a process over an interval: the kernel's high-water mark (VmHWM) after resetting
    it to the current RSS, and a 1 ms sampler beside it (the only figure if the reset is refused)."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.pid = pid
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sampled_peak = 0
        self.hwm_reset = False

    def _status(self, field_name: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
        return 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                self.sampled_peak = max(self.sampled_peak, self.proc.memory_info().rss)
            time.sleep(0.001)

    def __enter__(self) -> "Memory":
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
            self.hwm_reset = True
        except OSError:
            self.hwm_reset = False
        self.before = self.proc.memory_info().rss
        self.cpu_before = sum(self.proc.cpu_times()[:2])
        self.sampled_peak = self.before
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        self.hwm = self._status("VmHWM")
        self.after = self.proc.memory_info().rss
        self.cpu = sum(self.proc.cpu_times()[:2]) - self.cpu_before

    def report(self) -> dict[str, Any]:
        peak = max(self.hwm, self.sampled_peak) if self.hwm_reset else self.sampled_peak
        return {"rss_before_mib": mib(self.before), "rss_peak_mib": mib(peak), "rss_after_mib": mib(self.after),
                "peak_from": "VmHWM after clear_refs, and a 1 ms sampler" if self.hwm_reset else "1 ms sampler",
                "bot_cpu_seconds": round(self.cpu, 3)}


def mib(n: int) -> float:
    return round(n / MB, 1)


# ---------------------------------------------------------------------------- raw requests
def head(path: str, headers: dict[str, str], length: int | None = None, method: str = "POST") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def one_flood(port: int, path: str, headers: dict[str, str], size: int, chunked: bool) -> dict[str, Any]:
    """One connection: headers, then the body as fast as the socket takes it, while waiting for the
    answer. The time is from the end of the headers to the status line. Raw non-blocking sockets,
    so a failed write (the bot closed the connection) does not keep the answer from being read."""
    loop = asyncio.get_running_loop()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setblocking(False)
    hdrs = {**headers, "Transfer-Encoding": "chunked"} if chunked else headers
    await loop.sock_sendall(sock, head(path, hdrs, None if chunked else size))
    start = time.monotonic()
    sent = 0
    block = b"x" * BLOCK
    frame = b"%x\r\n%s\r\n" % (len(block), block) if chunked else block

    async def send() -> None:
        nonlocal sent
        with contextlib.suppress(OSError):
            while sent < size:
                await loop.sock_sendall(sock, frame)
                sent += len(block)
            if chunked:
                await loop.sock_sendall(sock, b"0\r\n\r\n")

    sender = asyncio.create_task(send())
    status: int | None = None
    answered_after: float | None = None
    data = b""
    with contextlib.suppress(asyncio.TimeoutError, OSError):
        async with asyncio.timeout(60):
            while b"\r\n" not in data:
                chunk = await loop.sock_recv(sock, 4096)
                if not chunk:
                    break
                data += chunk
    if data.startswith(b"HTTP/") and b"\r\n" in data:
        status, answered_after = int(data.split()[1]), time.monotonic() - start
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(sender, 60)
    sender.cancel()
    sock.close()
    return {"status": status, "answered_after_s": round(answered_after, 4) if answered_after is not None else None,
            "body_bytes_taken": sent}


async def flood(bot: Bot, path: str, headers: dict[str, str], *, chunked: bool = False,
                clients: int = FLOOD_CLIENTS, size: int = FLOOD_BYTES) -> dict[str, Any]:
    with Memory(bot.pid) as mem:
        results = await asyncio.gather(*(one_flood(bot.port, path, headers, size, chunked) for _ in range(clients)))
    times = [r["answered_after_s"] for r in results if r["answered_after_s"] is not None]
    taken = [r["body_bytes_taken"] for r in results]
    return {"clients": clients, "announced_mib_each": mib(size), "chunked": chunked, **mem.report(),
            "statuses": {str(k): sum(1 for r in results if r["status"] == k)
                         for k in sorted({r["status"] for r in results}, key=str)},
            "answered": len(times), "answered_after_s_max": max(times) if times else None,
            "answered_after_s_median": sorted(times)[len(times) // 2] if times else None,
            "body_mib_taken_max": mib(max(taken)), "body_mib_taken_total": mib(sum(taken))}


def post(port: int, path: str, headers: dict[str, str], body: bytes, timeout: float = 30) -> int | None:
    """One request on a fresh connection; the status (None: closed without an answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head(path, {**headers, "Connection": "close"}, len(body)) + body)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                return None
            data += chunk
        return int(data.split()[1])


# ---------------------------------------------------------------------------- slow and idle connections
def still_open(s: socket.socket) -> bool:
    """Read what is there without waiting: the server's close (EOF or reset) means closed."""
    try:
        while True:
            if s.recv(65536, socket.MSG_DONTWAIT) == b"":
                return False
    except BlockingIOError:
        return True
    except OSError:
        return False


def open_many(port: int, n: int, first: bytes) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.settimeout(None)  # blocking, so MSG_DONTWAIT reads answer at once (a timeout would wait)
        if first:
            s.sendall(first)
        socks.append(s)
    return socks


def slow(bot: Bot, ask: Callable[[], float | None], first: bytes, *, trickle: bytes = b"",
         n: int = SLOW_CLIENTS) -> dict[str, Any]:
    """``n`` connections that send ``first`` (part of a request's headers) and then stall, or
    trickle ``trickle`` a byte a second; open counts at 1 s, header timeout + 1 s and 15 s."""
    opened = time.monotonic()
    socks = open_many(bot.port, n, first)
    opened_in = time.monotonic() - opened
    stop = threading.Event()

    def trickler() -> None:
        i = 0
        while trickle and not stop.wait(1.0):
            for s in socks:
                with contextlib.suppress(OSError):
                    s.send(trickle[i % len(trickle):i % len(trickle) + 1])
            i += 1

    thread = threading.Thread(target=trickler, daemon=True)
    thread.start()
    counts: dict[str, int] = {}
    answered_during: float | None = None
    with Memory(bot.pid) as mem:
        for label, at in (("open_after_1s", 1.0), (f"open_after_{HEADER_TIMEOUT + 1:g}s", HEADER_TIMEOUT + 1),
                          ("open_after_15s", 15.0)):
            time.sleep(max(0.0, opened + at - time.monotonic()))
            counts[label] = sum(still_open(s) for s in socks)
            if label == "open_after_1s":
                answered_during = ask()  # a real update while they are all open
    stop.set()
    thread.join()
    for s in socks:
        s.close()
    return {"connections": n, "sent_first": first.decode("latin-1"), "trickled": bool(trickle), **counts,
            "opened_in_s": round(opened_in, 3), "update_answered_while_open_s": answered_during,
            "rss_peak_mib": mem.report()["rss_peak_mib"]}


def connection_limit(bot: Bot, ask: Callable[[], float | None], n: int = LIMIT_CLIENTS) -> dict[str, Any]:
    """``n`` idle connections at once: answered 503 and closed, or held; a real update meanwhile
    (the emulator's delivery may use a connection it already has open, or get a 503 and retry, as
    Telegram does); how many are still held after the header timeout."""
    opened = time.monotonic()
    socks = open_many(bot.port, n, b"")
    time.sleep(max(0.0, opened + 1.0 - time.monotonic()))
    refused = held = other = 0
    for s in socks:
        try:
            data = s.recv(64, socket.MSG_DONTWAIT)
            if data.startswith(b"HTTP/1.1 503"):
                refused += 1
            else:
                other += 1
        except BlockingIOError:
            held += 1
        except OSError:
            other += 1
    answered = ask()
    time.sleep(max(0.0, opened + HEADER_TIMEOUT + 1 - time.monotonic()))
    held_later = sum(still_open(s) for s in socks)
    for s in socks:
        s.close()
    return {"connections": n, "got_503": refused, "held_open": held, "other": other,
            "update_answered_during_s": answered, f"held_open_after_{HEADER_TIMEOUT + 1:g}s": held_later}


# ---------------------------------------------------------------------------- malformed bodies
MALFORMED: dict[str, bytes] = {
    "truncated JSON": b'{"update_id": 900001, "message": {"text": "x"',
    "empty": b"",
    "not UTF-8": b'{"update_id": 900002, "message": {"text": "\xff\xfe"}}',
    "nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "a 5,000-digit number": b'{"update_id": ' + b"7" * 5000 + b"}",
    "JSON that is not an object": b"[1, 2]",
    "an object without update_id": b'{"message": {"text": "x"}}',
    "update_id true": b'{"update_id": true}',
}
CONTENT_TYPES = ["application/json; charset=utf-8", "application/json;charset=UTF-8", "APPLICATION/JSON",
                 "application/json; charset=utf-8; foo=bar"]


def malformed(bot: Bot, path: str, headers: Callable[[bytes], dict[str, str]]) -> dict[str, Any]:
    out = {}
    for name, body in MALFORMED.items():
        offset = bot.log_size()
        status = post(bot.port, path, headers(body), body)
        time.sleep(0.3)  # the log line is written before the answer; this is for the file's flush
        lines = [line for line in bot.log_lines_since(offset) if line.strip()]
        out[name] = {"status": status, "log_lines": len(lines), "log": [line[-160:] for line in lines[:3]]}
    return out


def content_types(bot: Bot, emu: BotApiEmulator) -> dict[str, Any]:
    """A real update with the right secret under each spelling of a JSON content type: the status,
    and whether the bot then answered it (a sendMessage to its chat; the emulator never saw the
    update, so it may refuse that chat, but the call shows the update was handled)."""
    out = {}
    for i, ct in enumerate(CONTENT_TYPES):
        chat = 9500 + i
        since = emu.mark()
        update = emu.private_message(chat, QUESTION)
        update["message"]["message_id"] = 1
        body = json.dumps({"update_id": 990_000 + i, **update}).encode()
        status = post(bot.port, "/hook", {"Content-Type": ct, SECRET_HEADER: SECRET}, body)
        try:
            asyncio.run(emu.wait_for("sendMessage", lambda c: c.chat_id == chat, ANSWER_WAIT, since=since, ok=None))
            handled = True
        except TimeoutError:
            handled = False
        out[ct] = {"status": status, "handled": handled}
    return out


# ---------------------------------------------------------------------------- the two runs
@dataclass
class Run:
    results: dict[str, Any] = field(default_factory=dict)

    def after(self, name: str, ask: Callable[[], float | None]) -> None:
        self.results.setdefault("normal_update_answered_after_attack_s", {})[name] = ask()


@contextlib.contextmanager
def telegram_bot(repo: Path, tmp: Path) -> Iterator[tuple[Bot, BotApiEmulator]]:
    port = free_port()
    (tmp / "telegram").mkdir()
    with BotApiEmulator(TOKEN).running() as emu:
        bot = start_bot(repo, tmp / "telegram", port, {
            "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": emu.base_url,
            "WEBHOOK_URL": f"http://127.0.0.1:{port}/hook", "WEBHOOK_SECRET": SECRET,
            "WEBHOOK_LISTEN": "127.0.0.1", "WEBHOOK_PORT": str(port)})
        try:
            wait_until(lambda: bool(emu.calls("setWebhook", ok=True)), bot, "setWebhook")
            wait_until(lambda: port_open(port), bot, "the webhook port")
            yield bot, emu
        finally:
            bot.stop()


def telegram_asker(emu: BotApiEmulator) -> Callable[[], float | None]:
    users = iter(range(8000, 9000))

    def ask() -> float | None:
        user = next(users)
        since = emu.mark()
        start = time.monotonic()
        emu.push_private_text(user, QUESTION)
        try:
            asyncio.run(emu.wait_for("sendMessage", lambda c: c.chat_id == user, ANSWER_WAIT, since=since))
        except TimeoutError:
            return None
        return round(time.monotonic() - start, 3)

    return ask


def run_telegram(repo: Path, tmp: Path) -> dict[str, Any]:
    run = Run()
    with telegram_bot(repo, tmp) as (bot, emu):
        ask = telegram_asker(emu)
        time.sleep(2.0)  # let start-up settle (index built, first deliveries done) before measuring
        run.results["idle_rss_mib"] = mib(psutil.Process(bot.pid).memory_info().rss)
        run.results["first_update_answered_s"] = ask()
        json_type = {"Content-Type": "application/json"}
        floods = run.results["floods"] = {}
        for name, headers, chunked in (
                ("no secret", json_type, False),
                ("wrong secret", {**json_type, SECRET_HEADER: "wrong-" + SECRET}, False),
                ("right secret, Content-Length 95 MB", {**json_type, SECRET_HEADER: SECRET}, False),
                ("right secret, chunked 95 MB", {**json_type, SECRET_HEADER: SECRET}, True)):
            floods[name] = asyncio.run(flood(bot, "/hook", headers, chunked=chunked))
            run.after(f"flood: {name}", ask)
        slows = run.results["slow_connections"] = {}
        partial = b"POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + \
            SECRET_HEADER.encode() + b": "
        slows["half-sent headers, then nothing"] = slow(bot, ask, partial)
        run.after("slow: half-sent headers", ask)
        slows["part of the request line, then nothing"] = slow(bot, ask, b"POST /ho")
        run.after("slow: part of the request line", ask)
        slows["nothing at all"] = slow(bot, ask, b"")
        run.after("slow: nothing at all", ask)
        slows["headers trickled a byte a second"] = slow(bot, ask, b"POST /hook HTTP/1.1\r\n",
                                                         trickle=b"X-Padding: " + b"p" * 64 + b"\r\n")
        run.after("slow: trickled headers", ask)
        run.results["connection_limit"] = connection_limit(bot, ask)
        run.after("connection limit", ask)
        run.results["malformed_with_secret"] = malformed(bot, "/hook", lambda body: {
            "Content-Type": "application/json", SECRET_HEADER: SECRET})
        run.after("malformed bodies", ask)
        run.results["content_types_with_secret"] = content_types(bot, emu)
        run.results["bot_alive_at_end"] = bot.alive()
    return run.results


def run_whatsapp(repo: Path, tmp: Path) -> dict[str, Any]:
    run = Run()
    port = free_port()
    (tmp / "whatsapp").mkdir()
    with GraphApiEmulator(webhook_url=f"http://127.0.0.1:{port}/whatsapp").running() as graph:
        bot = start_bot(repo, tmp / "whatsapp", port, {
            "WHATSAPP_TOKEN": WA_TOKEN, "WHATSAPP_PHONE_NUMBER_ID": graph.phone_number_id,
            "WHATSAPP_APP_SECRET": graph.app_secret, "WHATSAPP_VERIFY_TOKEN": VERIFY,
            "WHATSAPP_API_BASE_URL": graph.url, "WHATSAPP_WEBHOOK_LISTEN": "127.0.0.1",
            "WHATSAPP_WEBHOOK_PORT": str(port)})
        try:
            wait_until(lambda: port_open(port), bot, "the webhook port")
            numbers = iter(range(972530000000, 972530001000))

            def ask() -> float | None:
                wa_id = str(next(numbers))
                start_seq = len(graph.calls())
                start = time.monotonic()
                graph.push(graph.text(wa_id, QUESTION))
                try:
                    asyncio.run(graph.wait_for(lambda c: c.seq >= start_seq and c.to == wa_id and c.ok
                                               and c.kind == "message", ANSWER_WAIT))
                except TimeoutError:
                    return None
                return round(time.monotonic() - start, 3)

            time.sleep(2.0)
            run.results["idle_rss_mib"] = mib(psutil.Process(bot.pid).memory_info().rss)
            run.results["first_update_answered_s"] = ask()
            json_type = {"Content-Type": "application/json"}
            floods = run.results["floods"] = {}
            for name, headers, chunked in (
                    ("no signature", json_type, False),
                    ("wrong signature, Content-Length 95 MB", {**json_type, SIGNATURE: "sha256=" + "0" * 64}, False),
                    ("wrong signature, chunked 95 MB", {**json_type, SIGNATURE: "sha256=" + "0" * 64}, True)):
                floods[name] = asyncio.run(flood(bot, "/whatsapp", headers, chunked=chunked))
                run.after(f"flood: {name}", ask)
            # What the signature cannot prevent: it is checked over the whole body, so a wrong one is
            # found only after up to the 3 MB cap is read. 500 such bodies at once (the connection
            # limit is 512):
            name = f"wrong signature, {WA_CAP_MB} MB each, {WA_CAP_CLIENTS} at once"
            floods[name] = asyncio.run(flood(bot, "/whatsapp", {**json_type, SIGNATURE: "sha256=" + "0" * 64},
                                             clients=WA_CAP_CLIENTS, size=WA_CAP_MB * MB))
            run.after(f"flood: {name}", ask)
            partial = b"POST /whatsapp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + \
                SIGNATURE.encode() + b": sha256="
            run.results["slow_connections"] = {"half-sent headers, then nothing": slow(bot, ask, partial)}
            run.after("slow: half-sent headers", ask)
            run.results["malformed_with_signature"] = malformed(bot, "/whatsapp", lambda body: {
                "Content-Type": "application/json", SIGNATURE: sign(body, graph.app_secret)})
            run.after("malformed bodies", ask)
            run.results["bot_alive_at_end"] = bot.alive()
        finally:
            bot.stop()
    return run.results


def lscpu_head() -> list[str]:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return out.splitlines()[:10]


def code_of(repo: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(repo), "describe", "--always", "--dirty"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or str(repo)
    except (OSError, subprocess.SubprocessError):
        return str(repo)


def bot_aiohttp(repo: Path) -> str:
    """The aiohttp the bot subprocess imports (PYTHONPATH may put another one first)."""
    try:
        return subprocess.run([sys.executable, "-c", "import aiohttp; print(aiohttp.__version__)"], cwd=repo,
                              capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="webhook attacks against a running rashut run")
    p.add_argument("--json", type=Path, help="also write the JSON here")
    p.add_argument("--repo", type=Path, default=REPO, help="the checkout whose `python -m bot run` is attacked")
    p.add_argument("--mode", choices=("telegram", "whatsapp", "both"), default="both")
    args = p.parse_args(argv)
    repo = args.repo.resolve()
    result: dict[str, Any] = {"machine": {**machine(), "lscpu": lscpu_head(),
                                          "mem_total_mib": mib(psutil.virtual_memory().total)},
                              "code": code_of(repo), "repo": str(repo), "bot_aiohttp": bot_aiohttp(repo)}
    with tempfile.TemporaryDirectory(prefix="rashut-attacks-") as tmp:
        if args.mode in ("telegram", "both"):
            result["telegram"] = run_telegram(repo, Path(tmp))
        if args.mode in ("whatsapp", "both"):
            result["whatsapp"] = run_whatsapp(repo, Path(tmp))
    text = json.dumps(result, ensure_ascii=False, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
