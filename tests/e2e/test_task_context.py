"""Handlers run inside a Task from their first line, each with its own context.

Code that needs the current task (``asyncio.timeout()``, a TaskGroup, anyio's cancel
scopes as httpx uses them) works in a view even before its first ``await``; context
variables set by one request never reach the next one on the same connection, even
pipelined. Over a real socket: in memory, the test's own task would hide the problem.
"""

from __future__ import annotations

import asyncio
import contextvars

import httpx

from typhoon import App, HTTPConfig, Request
from typhoon.http import HTTPServer

who: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


def make_app() -> App:
    app = App()

    @app.get("/timeout")
    async def with_timeout(request: Request) -> str:
        async with asyncio.timeout(5):  # first line: needs asyncio.current_task()
            await asyncio.sleep(0)
        return "ok"

    @app.get("/taskgroup")
    async def with_task_group(request: Request) -> str:
        async with asyncio.TaskGroup() as group:
            first = group.create_task(asyncio.sleep(0, result="a"))
            second = group.create_task(asyncio.sleep(0, result="b"))
        return first.result() + second.result()

    @app.get("/httpx")
    async def with_httpx(request: Request) -> str:
        port = request.exchange.server[1] if request.exchange.server else 0
        async with httpx.AsyncClient() as client:  # anyio cancel scopes inside
            response = await client.get(f"http://127.0.0.1:{port}/timeout")
        return "inner " + response.text

    @app.get("/who")
    async def whoami(request: Request) -> str:
        before = who.get()
        who.set(request.query.get("name", "?"))
        return before

    return app


async def test_current_task_is_there_from_the_first_line() -> None:
    server = HTTPServer(make_app(), HTTPConfig(access_log=False))
    await server.listen_tcp("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            assert (await client.get("/timeout")).text == "ok"
            assert (await client.get("/taskgroup")).text == "ab"
            assert (await client.get("/httpx")).text == "inner ok"
    finally:
        assert await server.drain(5)


async def test_context_variables_do_not_leak_between_pipelined_requests() -> None:
    server = HTTPServer(make_app(), HTTPConfig(access_log=False))
    await server.listen_tcp("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            b"GET /who?name=ada HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /who?name=bob HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        answers = await reader.read()
        writer.close()
    finally:
        assert await server.drain(5)
    bodies = [part.split(b"\r\n\r\n", 1)[1][:6] for part in answers.split(b"HTTP/1.1 200")[1:]]
    assert bodies == [b"nobody", b"nobody", b"nobody"]
