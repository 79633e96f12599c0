"""Many concurrent keep-alive connections to one in-process server."""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Iterator

import pytest

from typhoon.http import HTTPServer

CONNECTIONS = 1000
REQUESTS_PER_CONNECTION = 3
# Client and server ends of every connection live in this process, plus some slack.
FDS_NEEDED = 2 * CONNECTIONS + 256


@pytest.fixture
def enough_file_descriptors() -> Iterator[None]:
    """Raise RLIMIT_NOFILE's soft limit to the hard limit for the test, then restore it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard == resource.RLIM_INFINITY else max(soft, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        now = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if now != resource.RLIM_INFINITY and now < FDS_NEEDED:
            pytest.fail(f"RLIMIT_NOFILE is {now} even after raising; this test needs {FDS_NEEDED}")
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def _read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """Read one Content-Length framed response; return (status line, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, fields = head.partition(b"\r\n")
    length = None
    for line in fields.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    assert length is not None, f"no content-length in {head!r}"
    return status_line, await reader.readexactly(length)


async def test_concurrency_1000_keepalive_connections_all_answered(
    enough_file_descriptors: None, server: HTTPServer
) -> None:
    connected = 0
    all_connected = asyncio.Event()
    go_on = asyncio.Event()
    answered: list[int] = []

    async def one_client(n: int) -> None:
        nonlocal connected
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            for i in range(REQUESTS_PER_CONNECTION):
                tag = f"c{n}r{i}"
                writer.write(f"GET /q?x={tag} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
                status, body = await _read_response(reader)
                assert status == b"HTTP/1.1 200 OK", (n, i, status)
                assert body == tag.encode(), (n, i, body)
                if i == 0:
                    # Hold the connection open until every client has been answered once,
                    # so that all of them are open at the same time.
                    connected += 1
                    if connected == CONNECTIONS:
                        all_connected.set()
                    await go_on.wait()
            answered.append(n)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass

    clients = asyncio.gather(*(one_client(n) for n in range(CONNECTIONS)))
    try:
        await asyncio.wait_for(asyncio.shield(all_connected.wait()), 30)
        peak = server.connections
        go_on.set()
        await asyncio.wait_for(asyncio.shield(clients), 30)
    finally:
        go_on.set()
        if not clients.done():
            clients.cancel()
        await asyncio.gather(clients, return_exceptions=True)
    assert peak == CONNECTIONS
    assert sorted(answered) == list(range(CONNECTIONS))
