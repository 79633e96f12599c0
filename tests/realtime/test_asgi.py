"""WebSockets under an ASGI server (``typhoon.realtime.asgi``), driven with ASGI events.

The ``Peer`` stands for the server; ``tests/interop/test_asgi_face.py`` runs the
same endpoints under uvicorn, hypercorn and granian for real.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from tests.web.test_asgi import Peer, http_scope

from typhoon import App, WebSocket
from typhoon.realtime import WebSocketHandler
from typhoon.web.realtime_hooks import hooks


def ws_scope(path: str, headers: list[tuple[bytes, bytes]] | None = None, **extra: Any) -> Any:
    scope = http_scope(path, headers=headers)
    scope.update(type="websocket", scheme="ws", **extra)
    del scope["method"]
    return scope


def ws_app() -> App:
    app = App()

    @app.websocket("/echo", subprotocols=("b", "a"), max_message_size=8)
    async def echo(ws: WebSocket) -> None:
        async for message in ws:
            await ws.send(message)

    @app.websocket("/pinger")
    async def pinger(ws: WebSocket) -> None:
        with pytest.raises(NotImplementedError, match="ASGI server"):
            await ws.ping()
        await ws.close(4000, "done")

    @app.websocket("/handler")
    class Handler(WebSocketHandler):
        def on_message(self, message: str | bytes) -> None:
            self.write_message({"got": message})
            self.close(4001)

    return app


async def test_websocket_accepts_with_the_preferred_subprotocol_and_echoes() -> None:
    peer = Peer(
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "hi"},
        {"type": "websocket.receive", "bytes": b"\x00"},
        {"type": "websocket.disconnect", "code": 1000},
    )
    scope = ws_scope("/echo", [(b"sec-websocket-protocol", b"a, b")])
    await ws_app()(scope, peer.receive, peer.send)
    assert peer.sent[0]["type"] == "websocket.accept"
    assert peer.sent[0]["subprotocol"] == "b"
    assert peer.sent[1:] == [
        {"type": "websocket.send", "text": "hi"},
        {"type": "websocket.send", "bytes": b"\x00"},
    ]


async def test_websocket_message_over_the_limit_closes_with_1009() -> None:
    peer = Peer({"type": "websocket.connect"}, {"type": "websocket.receive", "text": "x" * 9})
    await ws_app()(ws_scope("/echo"), peer.receive, peer.send)
    assert peer.sent[-1] == {"type": "websocket.close", "code": 1009, "reason": "message too big"}


async def test_websocket_ping_is_the_servers_job() -> None:
    peer = Peer({"type": "websocket.connect"})
    await ws_app()(ws_scope("/pinger"), peer.receive, peer.send)
    assert peer.types() == ["websocket.accept", "websocket.close"]
    assert peer.sent[-1]["code"] == 4000


async def test_websocket_handler_writes_then_closes_in_order() -> None:
    peer = Peer({"type": "websocket.connect"}, {"type": "websocket.receive", "text": "m"})
    await ws_app()(ws_scope("/handler"), peer.receive, peer.send)
    assert peer.sent[1:] == [
        {"type": "websocket.send", "text": '{"got":"m"}'},
        {"type": "websocket.close", "code": 4001, "reason": ""},
    ]


async def test_websocket_refusal_without_the_denial_extension_is_a_close() -> None:
    peer = Peer({"type": "websocket.connect"})
    scope = ws_scope("/echo", [(b"origin", b"http://evil.example")])
    await ws_app()(scope, peer.receive, peer.send)
    assert peer.types() == ["websocket.close"]


async def test_websocket_refusal_with_the_denial_extension_is_an_http_response() -> None:
    peer = Peer({"type": "websocket.connect"})
    scope = ws_scope("/nowhere", extensions={"websocket.http.response": {}})  # a 404 from routing
    await ws_app()(scope, peer.receive, peer.send)
    assert peer.types() == ["websocket.http.response.start", "websocket.http.response.body"]
    assert peer.sent[0]["status"] == 404


async def test_websocket_without_realtime_installed_is_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    installed, hooks.asgi_websocket = hooks.asgi_websocket, None
    try:
        peer = Peer({"type": "websocket.connect"})
        with caplog.at_level(logging.ERROR, "typhoon.error"):
            await ws_app()(ws_scope("/echo"), peer.receive, peer.send)
    finally:
        hooks.asgi_websocket = installed
    assert peer.sent == [{"type": "websocket.close", "code": 1011}]
    assert "typhoon.realtime is not installed" in caplog.text
