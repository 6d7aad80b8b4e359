"""A python-telegram-bot request backend on aiohttp.

Why: the default backend (httpx) spends more CPU per Bot API call than the whole answer pipeline;
on a 2-core machine it capped the bot near 250 updates per second. PTB documents ``BaseRequest``
as the extension point for another HTTP library; this one keeps PTB's semantics (timeouts map to
``TimedOut``, transport failures to ``NetworkError``, the status code and payload go back to PTB,
which turns Bot API errors into its exceptions and applies the rate limiter's retries).
"""
from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class AiohttpRequest(BaseRequest):
    """One aiohttp session per request object (PTB keeps one for calls, one for getUpdates)."""

    def __init__(self, connection_pool_size: int = 256, read_timeout: float | None = 5.0,
                 write_timeout: float | None = 5.0, connect_timeout: float | None = 5.0,
                 pool_timeout: float | None = 1.0, media_write_timeout: float | None = 20.0) -> None:
        self._pool_size = connection_pool_size
        self._read, self._write, self._connect, self._pool = read_timeout, write_timeout, connect_timeout, pool_timeout
        self._media_write = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
                         write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
                         connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
                         pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.contains_files if request_data else False
        read = self._read if isinstance(read_timeout, DefaultValue) else read_timeout
        write = (self._media_write if files else self._write) if isinstance(write_timeout, DefaultValue) \
            else write_timeout
        connect = self._connect if isinstance(connect_timeout, DefaultValue) else connect_timeout
        pool = self._pool if isinstance(pool_timeout, DefaultValue) else pool_timeout
        # aiohttp has no separate write timeout; for an upload the socket read timeout is widened to
        # the write timeout so a slow upload is not cut as a slow answer.
        sock_read = read
        if files and read is not None:
            sock_read = None if write is None else max(read, write)
        timeout = aiohttp.ClientTimeout(total=None, connect=pool, sock_connect=connect, sock_read=sock_read)
        data: Any = None
        if request_data is not None:
            data = self._form(request_data) if files else request_data.json_parameters
        try:
            async with self._session.request(method, url, data=data, timeout=timeout) as response:
                return response.status, await response.read()
        except asyncio.TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{exc.__class__.__name__}: {exc}") from exc

    @staticmethod
    def _form(request_data: RequestData) -> aiohttp.FormData:
        form = aiohttp.FormData()
        for name, value in request_data.json_parameters.items():
            form.add_field(name, value)
        for name, part in (request_data.multipart_data or {}).items():
            if isinstance(part, tuple):
                filename, content, mimetype = (tuple(part) + (None, None))[:3]
                form.add_field(name, content, filename=filename, content_type=mimetype)
            else:
                form.add_field(name, part)
        return form
