"""One hardened aiohttp server for every webhook (Telegram's and WhatsApp's).

Why our own and not python-telegram-bot's: PTB's tornado server buffers the whole body (up to
100 MB) before it checks the secret header, holds half-sent headers for an hour, and answers a
malformed body with 500, which Telegram then retries forever. The rules here hold for every route:

* a route's guard checks headers (a secret, a signature's presence) before a byte of the body is
  read, and a refused request is answered at once and the connection closed;
* bodies are capped (``Content-Length`` over the cap is refused unread; a body without one is cut
  at the cap) and must arrive within ``body_timeout`` seconds;
* a connection must send its request headers within ``header_timeout`` seconds of opening, or of
  its previous response (aiohttp's keep-alive timer, which closes a connection still waiting for
  its headers);
* at most ``max_connections`` connections are open at once; one more is answered 503 and closed;
* while the process shuts down, new requests get 503 (the sender retries, nothing is lost).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20  # 1 MB: a Telegram update or a WhatsApp notification is a few KB
HEADER_TIMEOUT = 5.0
BODY_TIMEOUT = 10.0
MAX_CONNECTIONS = 512
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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


async def read_body(request: web.Request, limit: int = MAX_BODY, timeout: float = BODY_TIMEOUT) -> bytes:
    """The body, at most ``limit`` bytes, within ``timeout`` seconds; ``BodyError`` otherwise."""
    length = request.content_length
    if length is not None and length > limit:
        raise BodyError(413, f"body of {length} bytes is over the {limit}-byte limit")
    try:
        async with asyncio.timeout(timeout):
            data = await request.content.read(limit + 1)
            if len(data) <= limit and length is not None:
                while len(data) < length:  # read() may return early; the body is still under the cap
                    more = await request.content.read(limit + 1 - len(data))
                    if not more:
                        break
                    data += more
    except TimeoutError:
        raise BodyError(408, f"body not received within {timeout:.0f} s") from None
    if len(data) > limit:
        raise BodyError(413, f"body over the {limit}-byte limit")
    return data


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler


class _Reject(asyncio.Protocol):
    """Answers a connection over the limit with 503 and closes it."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        transport.close()


class WebServer:
    """Routes on one listen address and port. ``add`` routes, then ``await start()`` / ``stop()``."""

    def __init__(self, listen: str, port: int, *, header_timeout: float = HEADER_TIMEOUT,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        self.listen, self.port = listen, port
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.routes: list[Route] = []
        self.stopping = False
        self._runner: web.AppRunner | None = None
        self._server: asyncio.base_events.Server | None = None
        self.rejected = 0

    def add(self, method: str, path: str, handler: Handler) -> None:
        self.routes.append(Route(method, "/" + path.strip("/"), handler))

    def _wrap(self, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            if self.stopping:
                return refuse(503)
            return await handler(request)
        return guarded

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY)
        for r in self.routes:
            app.router.add_route(r.method, r.path, self._wrap(r.handler))
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     keepalive_timeout=self.header_timeout, lingering_time=1.0)
        await self._runner.setup()
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()

        def protocol() -> asyncio.Protocol:
            if len(server.connections) >= self.max_connections:
                self.rejected += 1
                return _Reject()
            return server()

        self._server = await loop.create_server(protocol, self.listen, self.port, backlog=self.max_connections)
        log.info("webhook server listening on %s:%d (%s)", self.listen, self.port,
                 ", ".join(r.path for r in self.routes))

    def drain(self) -> None:
        """Stop taking requests (they get 503); in-flight ones finish."""
        self.stopping = True

    async def stop(self) -> None:
        self.stopping = True
        if self._server is not None:
            self._server.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def open_connections(self) -> int:
        server = self._runner.server if self._runner is not None else None
        return len(server.connections) if server is not None else 0


class WebServers:
    """One ``WebServer`` per listen address and port: channels on the same port share one server."""

    def __init__(self) -> None:
        self._by_addr: dict[tuple[str, int], WebServer] = {}

    def on(self, listen: str, port: int) -> WebServer:
        key = (listen, port)
        if key not in self._by_addr:
            self._by_addr[key] = WebServer(listen, port)
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
