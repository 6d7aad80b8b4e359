"""The aiohttp request backend against a local HTTP server: payloads, errors and timeouts."""
import asyncio
import socket

import pytest
from aiohttp import web
from telegram import InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from handlers.telegram.aiohttp_request import AiohttpRequest


@pytest.fixture
async def server(unused_tcp_port):
    seen: list[dict] = []

    async def echo(request: web.Request) -> web.Response:
        form = await request.post()
        seen.append({k: (v if isinstance(v, str) else v.file.read()) for k, v in form.items()})
        return web.json_response({"ok": True, "result": True}, status=200)

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({"ok": True})

    async def refused(request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "error_code": 400, "description": "Bad Request: x"}, status=400)

    app = web.Application()
    app.router.add_post("/echo", echo)
    app.router.add_post("/slow", slow)
    app.router.add_post("/bad", refused)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", unused_tcp_port)
    await site.start()
    yield f"http://127.0.0.1:{unused_tcp_port}", seen
    await runner.cleanup()


def data(**params) -> RequestData:
    return RequestData([RequestParameter.from_input(k, v) for k, v in params.items()])


async def test_form_parameters_and_status_pass_through(server):
    url, seen = server
    async with AiohttpRequest() as req:
        status, payload = await req.do_request(f"{url}/echo", "POST", data(chat_id=5, text="שלום <b>"))
        assert status == 200 and b'"ok": true' in payload
        assert seen[-1] == {"chat_id": "5", "text": "שלום <b>"}
        status, payload = await req.do_request(f"{url}/bad", "POST", data(chat_id=5))
        assert status == 400 and b"Bad Request" in payload


async def test_files_go_as_multipart(server):
    url, seen = server
    async with AiohttpRequest() as req:
        doc = InputFile(b"hello", filename="a.txt")
        await req.do_request(f"{url}/echo", "POST", data(chat_id=1, document=doc))
        assert seen[-1]["chat_id"] == "1"
        assert b"hello" in seen[-1][next(k for k in seen[-1] if k != "chat_id")]


async def test_read_timeout_is_timed_out(server):
    url, _ = server
    async with AiohttpRequest(read_timeout=0.2) as req:
        with pytest.raises(TimedOut):
            await req.do_request(f"{url}/slow", "POST", data(x=1))


async def test_connection_refused_is_network_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening
        async with AiohttpRequest() as req:
            with pytest.raises(NetworkError):
                await req.do_request(f"http://127.0.0.1:{port}/x", "POST", data(x=1))


async def test_not_initialised_is_an_error():
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest().do_request("http://127.0.0.1:1/x", "POST")
