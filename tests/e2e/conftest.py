"""The in-process test application and servers for the end-to-end tests.

Every server here listens on 127.0.0.1 (or a Unix socket in a short temporary
directory) and is drained when the test ends. The application is a typhoon ``App``
for the ordinary routes, wrapped by a plain :class:`~typhoon.http.Application` that
serves ``/stream`` straight from the exchange (a streamed, chunked response).
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from typhoon import JSON, App, Request, Text
from typhoon.http import Exchange, HTTPConfig, HTTPServer

STREAM_PARTS = tuple(f"part {i}\n".encode() for i in range(5))


def _web_app() -> App:
    app = App()

    @app.get("/")
    async def hello(request: Request) -> Text:
        return Text("Hello, world!")

    @app.get("/q")
    async def query(request: Request) -> Text:
        return Text(request.query.get("x", "-"))

    @app.get("/peer")
    async def peer(request: Request) -> Text:
        client = request.client
        return Text("-" if client is None else str(client[1]))

    @app.post("/echo")
    async def echo(request: Request) -> JSON:
        return JSON(await request.json())

    @app.post("/body")
    async def body(request: Request) -> bytes:
        return await request.body()

    @app.post("/size")
    async def size(request: Request) -> dict[str, object]:
        data = await request.body()
        return {"length": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    return app


class E2EApp:
    """The application every in-process test server runs."""

    def __init__(self) -> None:
        self.web = _web_app()

    async def startup(self) -> None:
        await self.web.startup()

    async def shutdown(self) -> None:
        await self.web.shutdown()

    async def handle(self, exchange: Exchange) -> None:
        if exchange.path == b"/stream":
            exchange.start(200, [(b"content-type", b"text/plain; charset=utf-8")])
            for part in STREAM_PARTS:
                await exchange.write(part)
                await asyncio.sleep(0.01)
            await exchange.end()
            return
        await self.web.handle(exchange)


@pytest.fixture
def app() -> E2EApp:
    return E2EApp()


@pytest.fixture
async def server(app: E2EApp) -> AsyncIterator[HTTPServer]:
    """An HTTPServer for ``app`` on 127.0.0.1 and a free port; drained at the end."""
    http_server = HTTPServer(app, HTTPConfig(access_log=False))
    await http_server.listen_tcp("127.0.0.1", 0)
    try:
        yield http_server
    finally:
        assert await http_server.drain(5), "the server did not drain within 5 s"


@pytest.fixture
def uds_path() -> Iterator[Path]:
    """A Unix socket path short enough for AF_UNIX (pytest's tmp_path may be too long)."""
    directory = Path(tempfile.mkdtemp(prefix="typhoon-e2e-", dir="/tmp"))
    try:
        yield directory / "http.sock"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
async def unix_server(app: E2EApp, uds_path: Path) -> AsyncIterator[HTTPServer]:
    """An HTTPServer for ``app`` on the Unix socket ``uds_path``; drained at the end."""
    http_server = HTTPServer(app, HTTPConfig(access_log=False))
    await http_server.listen_unix(str(uds_path))
    try:
        yield http_server
    finally:
        assert await http_server.drain(5), "the server did not drain within 5 s"
