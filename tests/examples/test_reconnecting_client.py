"""examples/reconnecting_client.py: pings the echo server and survives its restart."""

from __future__ import annotations

import asyncio

from examples.echo_server import start
from examples.reconnecting_client import Pinger, connect_forever


async def next_reply(replies: asyncio.Queue[bytes]) -> bytes:
    return await asyncio.wait_for(replies.get(), 5)


async def test_the_client_comes_back_after_the_server_restarts() -> None:
    server = await start("tcp:0:interface=127.0.0.1")
    port = server.port
    endpoint = f"tcp:127.0.0.1:{port}"
    replies: asyncio.Queue[bytes] = asyncio.Queue()
    client = connect_forever(endpoint, replies, interval=0.05)
    async with client:
        assert await next_reply(replies) == b"ping 1"
        first = await client.wait_connected(5)
        assert isinstance(first, Pinger)

        assert await server.drain(5)  # the outage: the connection is closed, port refused
        await asyncio.sleep(0.1)
        assert not client.connected
        assert client.failure is not None or client.delay is not None

        server = await start(f"tcp:{port}:interface=127.0.0.1")
        second = await client.wait_connected(5)
        assert second is not first
        # Later echoes of the first connection may still be queued; a new connection's
        # pings count afresh from 1.
        while await next_reply(replies) != b"ping 1":
            pass
    assert not client.running
    await server.drain(5)
