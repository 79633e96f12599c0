"""The test kit's in-memory WebSocket client."""

from __future__ import annotations

import pytest

from typhoon import App, WebSocket, WebSocketHandler
from typhoon.testing import AsyncTestClient, TestWebSocketClosed, WebSocketRejected


def make_app() -> App:
    app = App()

    @app.websocket("/echo/{name}", subprotocols=["v1"])
    async def echo(ws: WebSocket, name: str) -> None:
        await ws.send(f"{name} {ws.request.cookies.get('k', '-')} {ws.subprotocol}")
        async for message in ws:
            await ws.send(message)

    @app.websocket("/bye")
    async def bye(ws: WebSocket) -> None:
        await ws.close(4000, "bye now")

    class Json(WebSocketHandler):
        async def on_message(self, message: str | bytes) -> None:
            await self.write_message({"got": message})

    app.add_route("/json", Json)
    return app


async def test_echo_in_memory_with_cookies_and_subprotocol() -> None:
    async with AsyncTestClient(make_app(), cookies={"k": "v"}) as client:
        async with client.websocket("/echo/ada", subprotocols=["v1"]) as ws:
            assert ws.subprotocol == "v1"
            assert await ws.receive_text() == "ada v v1"
            await ws.send("text")
            assert await ws.receive() == "text"
            await ws.send_bytes(b"\x00\x01")
            assert await ws.receive_bytes() == b"\x00\x01"
            await ws.send_json({"a": 1})
            assert await ws.receive_json() == {"a": 1}
        assert ws.close_code == 1000


async def test_handler_class_in_memory() -> None:
    async with AsyncTestClient(make_app()) as client, client.websocket("/json") as ws:
        await ws.send("hi")
        assert await ws.receive_json() == {"got": "hi"}


async def test_the_server_closing_is_reported() -> None:
    async with AsyncTestClient(make_app()) as client, client.websocket("/bye") as ws:
        with pytest.raises(TestWebSocketClosed) as info:
            await ws.receive()
    assert (info.value.code, info.value.reason) == (4000, "bye now")


async def test_a_refused_handshake_raises_with_the_response() -> None:
    async with AsyncTestClient(make_app()) as client:
        with pytest.raises(WebSocketRejected) as info:
            async with client.websocket("/echo/x", headers={"Origin": "http://evil.example"}):
                pass
        assert info.value.status == 403
        with pytest.raises(WebSocketRejected) as missing:
            async with client.websocket("/nowhere"):
                pass
        assert missing.value.status == 404
