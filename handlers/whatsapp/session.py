"""The HTTP client pywa sends through: an ``httpx.AsyncClient`` whose requests go out on aiohttp.

Why: pywa speaks httpx, and httpx's request machinery (request building, auth and redirect
handling, httpcore's HTTP/1.1) cost more CPU per send than answering the question did, making a
WhatsApp answer dearer than a Telegram one (whose Bot API calls already go through aiohttp).
pywa only calls ``request(method, url, json=..., params=...)`` and reads the response's status,
headers and JSON, so this overrides exactly that, keeps httpx's types for pywa, and maps aiohttp's
failures onto httpx's exceptions (which pywa and the sender handle).
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import httpx


class AiohttpSession(httpx.AsyncClient):
    """Use like ``httpx.AsyncClient`` (pywa sets ``base_url`` and the Authorization header)."""

    def __init__(self, *, timeout: float = 10.0, connections: int = 64) -> None:
        super().__init__(timeout=httpx.Timeout(timeout))
        self._timeout_s = timeout
        self._connections = connections
        self._aio: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._aio is None or self._aio.closed:
            self._aio = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                timeout=aiohttp.ClientTimeout(total=self._timeout_s), json_serialize=json.dumps)
        return self._aio

    async def request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        target = self._merge_url(url)
        headers = dict(self.headers)
        headers.update(kwargs.get("headers") or {})
        body = kwargs.get("json")
        data, content = kwargs.get("data"), kwargs.get("content")
        payload: bytes | None = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif content is not None:
            payload = content if isinstance(content, bytes) else str(content).encode()
        request = httpx.Request(method, target, headers=headers)
        if kwargs.get("files"):
            return await super().request(method, url, **kwargs)  # media uploads: not used by the bot
        try:
            async with self._session().request(method, str(target), params=kwargs.get("params"),
                                               data=payload if payload is not None else data,
                                               headers=headers) as resp:
                raw = await resp.read()
                return httpx.Response(resp.status, headers=list(resp.headers.items()), content=raw,
                                      request=request)
        except asyncio.TimeoutError:
            raise httpx.ReadTimeout("timed out", request=request) from None
        except aiohttp.ClientError as exc:
            raise httpx.ConnectError(f"{type(exc).__name__}: {exc}", request=request) from None

    async def aclose(self) -> None:
        if self._aio is not None:
            await self._aio.close()
        await super().aclose()
