"""HTTPServer as an object: lifecycle hooks, sockets, the context manager."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from typhoon.http import Exchange, HTTPConfig, HTTPServer


class _Hello:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def startup(self) -> None:
        self.calls.append("startup")

    async def shutdown(self) -> None:
        self.calls.append("shutdown")

    async def handle(self, exchange: Exchange) -> None:
        exchange.respond(200, [(b"content-type", b"text/plain")], b"hello")


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    await writer.wait_closed()
    return data


async def test_http_server_context_manager_runs_lifespan_hooks_once() -> None:
    app = _Hello()
    async with HTTPServer(app, HTTPConfig(access_log=False)) as server:
        await server.start()  # a second start is a no-op
        await server.listen_tcp("127.0.0.1", 0)
        assert len(server.sockets) == 1
        data = await _get(*await asyncio.open_connection("127.0.0.1", server.port))
        assert data.startswith(b"HTTP/1.1 200 OK\r\n")
        assert data.endswith(b"\r\n\r\nhello")
        assert server.connections == 0
    assert app.calls == ["startup", "shutdown"]


async def test_http_server_listen_socket_serves_a_premade_socket() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = HTTPServer(_Hello(), HTTPConfig(access_log=False))
    await server.listen_socket(sock)
    data = await _get(*await asyncio.open_connection("127.0.0.1", server.port))
    assert data.endswith(b"hello")
    assert await server.drain() is True
    await server.drain()  # draining twice is harmless


async def test_http_server_port_without_tcp_raises(tmp_path: Path) -> None:
    server = HTTPServer(_Hello(), HTTPConfig(access_log=False))
    path = str(tmp_path / "h.sock")
    await server.listen_unix(path)
    with pytest.raises(RuntimeError, match="not listening on TCP"):
        _ = server.port
    data = await _get(*await asyncio.open_unix_connection(path))
    assert data.endswith(b"hello")
    await server.drain(1)
