"""WebSockets fed by the hub: a slow consumer cannot grow memory without bound."""

from __future__ import annotations

import asyncio
import base64
import os
from typing import Any

from typhoon import App, HTTPConfig, WebSocketHandler
from typhoon.http import HTTPServer
from typhoon.realtime import MemoryPubSub, Subscription

QUEUE = 50


async def test_a_socket_that_never_reads_keeps_memory_bounded() -> None:
    handlers: list[Feed] = []
    subscriptions: list[Subscription] = []

    class Feed(WebSocketHandler):
        async def open(self) -> None:
            handlers.append(self)
            subscriptions.append(await self.subscribe("news"))

        def on_message(self, message: str | bytes) -> None:
            pass

    app = App([("/feed", Feed)], pubsub=MemoryPubSub(queue_size=QUEUE))
    server = HTTPServer(app, HTTPConfig(access_log=False))
    await server.listen_tcp("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        key = base64.b64encode(os.urandom(16))
        writer.write(
            b"GET /feed HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: %b\r\nSec-WebSocket-Version: 13\r\n\r\n" % key
        )
        await reader.readuntil(b"\r\n\r\n")
        for _ in range(100):
            if subscriptions:
                break
            await asyncio.sleep(0.01)
        payload = base64.b64encode(os.urandom(6000)).decode()  # about 8 KB, incompressible
        high: list[int] = []
        for _ in range(2000):  # 16 MB in all, to a client that reads nothing
            await app.pubsub.publish("news", payload)
            await asyncio.sleep(0)
            ws: Any = handlers[0].ws
            high.append(ws._transport.get_write_buffer_size())
        inbox = subscriptions[0]._inbox
        assert inbox is not None
        assert len(inbox.queue) <= QUEUE
        assert subscriptions[0].dropped > 1000  # the oldest went, counted
        assert max(high) < 1 << 20  # the socket's buffer stays near its high-water mark
        writer.transport.abort()
    finally:
        assert await server.drain(5)
