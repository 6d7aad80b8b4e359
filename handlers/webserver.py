"""One hardened aiohttp server for every webhook (Telegram's and WhatsApp's).

Why our own and not python-telegram-bot's: PTB's tornado server buffers the whole body (up to
100 MB) before it checks the secret header, holds half-sent headers for an hour, and answers a
malformed body with 500, which Telegram then retries forever. The rules here hold for every route
(``docs/reliability.md`` has each attack and what it measured):

* a route's guard checks headers (a secret, a signature's presence) before a byte of the body is
  read, and a refused request is answered at once and the connection closed (no lingering read of
  the rest: ``lingering_time=0``);
* bodies are capped (``Content-Length`` over the cap is refused unread; a body without one, sent
  chunked, is cut at the cap) and must arrive within ``body_timeout`` seconds;
* a connection must send its first request's headers within ``header_timeout`` seconds of opening
  (our own timer: aiohttp 3.13.5 and 3.14.0, both allowed by pyproject, arm none before a first
  response, so a connection that never finished its headers stayed open for good; 3.14.5 does);
  after a response, aiohttp's keep-alive timer gives the next request the same time;
* the bodies held at once by the requests in progress are capped too (``body_budget``, 32 MB): a
  WhatsApp signature can only be checked over the whole body, so without it 500 connections with
  wrong signatures made the server hold 500 x 3 MB (772.6 MiB peak RSS); past the budget a request
  is answered 503 (the sender retries) before more of its body is read;
* at most ``max_connections`` connections are open at once; one more is answered 503 and closed.
  Counted when the connection is made, not in the protocol factory: the event loop calls the
  factory for a whole burst of accepted sockets before any of them is made, so a count there let
  all 300 of a burst through a limit of 50;
* while the process shuts down, new requests get 503 (the sender retries, nothing is lost).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20  # 1 MB: a Telegram update or a WhatsApp notification is a few KB
HEADER_TIMEOUT = 5.0
BODY_TIMEOUT = 10.0
MAX_CONNECTIONS = 512
BACKLOG = 1024  # accepted by the kernel, not yet by us: a burst is answered (503 past the limit), not dropped
BODY_BUDGET = 32 << 20  # 32 x a Telegram update's cap, 10 x a WhatsApp notification's
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REJECT = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class BodyBudget:
    """Bytes of request bodies held at once by the requests in progress on one server; what a
    request took is given back when its handler returns (``WebServer`` does it, whatever happened)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self._held: dict[int, int] = {}  # id(request) -> bytes; requests are unhashable mappings

    def take(self, request: web.Request, n: int) -> bool:
        if self.used + n > self.total:
            return False
        self.used += n
        self._held[id(request)] = self._held.get(id(request), 0) + n
        return True

    def release(self, request: web.Request) -> None:
        self.used -= self._held.pop(id(request), 0)


BODY_TIMEOUT_KEY = web.AppKey("body_timeout", float)
BODY_BUDGET_KEY = web.AppKey("body_budget", BodyBudget)


class BodyError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def refuse(status: int, text: str = "") -> web.Response:
    """An answer that also closes the connection (the rest of the body is never read)."""
    resp = web.Response(status=status, text=text)
    resp.force_close()
    return resp


async def read_body(request: web.Request, limit: int = MAX_BODY, timeout: float | None = None) -> bytes:
    """The body, at most ``limit`` bytes, within ``timeout`` seconds (default: the server's
    ``body_timeout``); ``BodyError`` otherwise. Read until the end of the body whether or not it
    has a ``Content-Length`` (a chunked one has none), so a chunked body is neither cut short nor
    let past the cap."""
    if timeout is None:
        timeout = request.config_dict.get(BODY_TIMEOUT_KEY, BODY_TIMEOUT)
    budget = request.config_dict.get(BODY_BUDGET_KEY)
    length = request.content_length
    if length is not None and length > limit:
        raise BodyError(413, f"body of {length} bytes is over the {limit}-byte limit")
    if length is not None and budget is not None and not budget.take(request, length):
        raise BodyError(503, "the bodies of the requests in progress fill the body budget")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while chunk := await request.content.read(limit + 1 - size):
                size += len(chunk)
                if size > limit:
                    raise BodyError(413, f"body over the {limit}-byte limit")
                if length is None and budget is not None and not budget.take(request, len(chunk)):
                    raise BodyError(503, "the bodies of the requests in progress fill the body budget")
                chunks.append(chunk)
    except TimeoutError:
        raise BodyError(408, f"body not received within {timeout:g} s") from None
    except (ConnectionError, HttpProcessingError) as exc:  # the sender went away, or broke the framing
        raise BodyError(400, f"body not received whole ({type(exc).__name__})") from None
    return b"".join(chunks)


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler


class _Gate(asyncio.Protocol):
    """The protocol a new connection starts with: ``WebServer.admit`` counts it and either answers
    503 or hands the transport to aiohttp's own protocol."""

    def __init__(self, server: "WebServer") -> None:
        self.server = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.server.admit(transport)


class WebServer:
    """Routes on one listen address and port. ``add`` routes, then ``await start()`` / ``stop()``."""

    def __init__(self, listen: str, port: int, *, header_timeout: float = HEADER_TIMEOUT,
                 body_timeout: float = BODY_TIMEOUT, body_budget: int = BODY_BUDGET,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        self.listen, self.port = listen, port
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.budget = BodyBudget(body_budget)
        self.max_connections = max_connections
        self.routes: list[Route] = []
        self.stopping = False
        self._runner: web.AppRunner | None = None
        self._server: asyncio.base_events.Server | None = None
        self._awaiting: dict[Any, asyncio.TimerHandle] = {}  # aiohttp protocol -> its header deadline
        self.rejected = 0  # connections over max_connections

    def add(self, method: str, path: str, handler: Handler) -> None:
        self.routes.append(Route(method, "/" + path.strip("/"), handler))

    def _wrap(self, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            if self.stopping:
                return refuse(503)
            try:
                return await handler(request)
            finally:
                self.budget.release(request)
        return guarded

    @web.middleware
    async def _arrived(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The request's headers are in (every path, also a 404): its connection's deadline is off."""
        timer = self._awaiting.pop(request.protocol, None)
        if timer is not None:
            timer.cancel()
        return await handler(request)

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._arrived])
        app[BODY_TIMEOUT_KEY] = self.body_timeout
        app[BODY_BUDGET_KEY] = self.budget
        for r in self.routes:
            app.router.add_route(r.method, r.path, self._wrap(r.handler))
        # lingering_time=0: a refused request's connection is closed right after the answer; aiohttp
        # would otherwise go on reading (and discarding) the unwanted body, a whole 95 MB of it
        # within one second on loopback.
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     keepalive_timeout=self.header_timeout, lingering_time=0)
        await self._runner.setup()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Gate(self), self.listen, self.port,
                                                backlog=max(BACKLOG, self.max_connections))
        log.info("webhook server listening on %s:%d (%s)", self.listen, self.port,
                 ", ".join(r.path for r in self.routes))

    def admit(self, transport: asyncio.Transport) -> None:
        """A new connection: 503 and closed if ``max_connections`` are open (or the server is gone),
        else aiohttp's protocol takes the transport, with ``header_timeout`` to send its headers."""
        server = self._runner.server if self._runner is not None else None
        if server is None or len(server.connections) >= self.max_connections:
            self.rejected += 1
            transport.write(REJECT)
            transport.close()
            return
        protocol = server()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        self._awaiting[protocol] = asyncio.get_running_loop().call_later(
            self.header_timeout, self._headers_late, protocol)

    def _headers_late(self, protocol: Any) -> None:
        """The deadline passed before the connection's first headers were in: closed, without an answer."""
        if self._awaiting.pop(protocol, None) is not None and protocol.transport is not None:
            protocol.force_close()

    def drain(self) -> None:
        """Stop taking requests (they get 503); in-flight ones finish."""
        self.stopping = True

    async def stop(self) -> None:
        self.stopping = True
        if self._server is not None:
            self._server.close()
        for timer in self._awaiting.values():
            timer.cancel()
        self._awaiting.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def bound_port(self) -> int:
        """The port listened on (the one the system chose when ``port`` was 0)."""
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def open_connections(self) -> int:
        server = self._runner.server if self._runner is not None else None
        return len(server.connections) if server is not None else 0


class WebServers:
    """One ``WebServer`` per listen address and port: channels on the same port share one server.
    ``options`` (timeouts, ``max_connections``) go to every server; tests pass small timeouts."""

    def __init__(self, **options: Any) -> None:
        self._by_addr: dict[tuple[str, int], WebServer] = {}
        self._options = options

    def on(self, listen: str, port: int) -> WebServer:
        key = (listen, port)
        if key not in self._by_addr:
            self._by_addr[key] = WebServer(listen, port, **self._options)
        return self._by_addr[key]

    def __bool__(self) -> bool:
        return bool(self._by_addr)

    async def start(self) -> None:
        for s in self._by_addr.values():
            await s.start()

    def drain(self) -> None:
        for s in self._by_addr.values():
            s.drain()

    async def stop(self) -> None:
        for s in self._by_addr.values():
            await s.stop()
