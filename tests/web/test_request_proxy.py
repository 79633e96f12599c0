"""The web layer behind a trusted proxy: request.client, scheme, host and url, and the
access log, all see what the proxy forwarded (a real server on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from typhoon.http import HTTPServer
from typhoon.web import App, Request, Text


async def test_web_request_and_access_log_see_the_resolved_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = App()

    @app.get("/x")
    async def where(request: Request) -> Text:
        return Text(f"{request.client} {request.scheme} {request.host} {request.url}")

    caplog.set_level(logging.INFO, logger="typhoon.access")
    async with HTTPServer(app) as server:
        await server.listen_tcp("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            b"GET /x?q=1 HTTP/1.1\r\nHost: backend:8000\r\nX-Forwarded-For: 203.0.113.7\r\n"
            b"X-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.example\r\n"
            b"Connection: close\r\n\r\n"
        )
        data = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        await writer.wait_closed()
    body = data.partition(b"\r\n\r\n")[2].decode()
    assert body == "('203.0.113.7', 0) https shop.example https://shop.example/x?q=1"
    assert any(r.getMessage().startswith("203.0.113.7 - - [") for r in caplog.records)
