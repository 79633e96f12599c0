"""WebSocketHandler: Tornado's class-based API, against a real server and client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from typhoon import App, HTTPConfig, HTTPError, WebSocketHandler
from typhoon.http import HTTPServer
from typhoon.web.signing import create_signed_value

SECRET = "test-secret-0123456789"


@asynccontextmanager
async def serving(app: App) -> AsyncIterator[HTTPServer]:
    server = HTTPServer(app, HTTPConfig(access_log=False))
    await server.listen_tcp("127.0.0.1", 0)
    try:
        yield server
    finally:
        assert await server.drain(5), "the server did not drain within 5 s"


def url(server: HTTPServer, path: str) -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


class Recorder:
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.closed = asyncio.Event()


async def test_lifecycle_open_on_message_on_close_with_tornado_url_list() -> None:
    recorder = Recorder()

    class Echo(WebSocketHandler):
        def initialize(self, recorder: Recorder) -> None:
            self.recorder = recorder

        async def open(self, room: str) -> None:
            self.recorder.events.append(("open", room))
            await self.write_message(f"joined {room}")

        async def on_message(self, message: str | bytes) -> None:
            self.recorder.events.append(("message", message))
            if message == "json":
                await self.write_message({"kind": "json"})
            else:
                self.write_message(message, binary=isinstance(message, bytes))  # not awaited

        def on_close(self) -> None:
            self.recorder.events.append(("close", self.close_code, self.close_reason))
            self.recorder.closed.set()

    app = App([(r"/ws/(\w+)", Echo, {"recorder": recorder})])
    async with serving(app) as server:
        async with connect(url(server, "/ws/lobby")) as client:
            assert await client.recv() == "joined lobby"
            await client.send("hi")
            assert await client.recv() == "hi"
            await client.send(b"\x01")
            assert await client.recv() == b"\x01"
            await client.send("json")
            assert await client.recv() == '{"kind":"json"}'
            await client.close(1000, "done")
        await asyncio.wait_for(recorder.closed.wait(), 5)
    assert recorder.events == [
        ("open", "lobby"),
        ("message", "hi"),
        ("message", b"\x01"),
        ("message", "json"),
        ("close", 1000, "done"),
    ]


async def test_app_websocket_decorator_with_path_params_and_close() -> None:
    app = App()

    @app.websocket("/count/{n:int}")
    class Counter(WebSocketHandler):
        async def open(self, n: int) -> None:
            for i in range(n):
                await self.write_message(str(i))
            self.close(4001, "counted")

        def on_message(self, message: str | bytes) -> None:
            pass

    async with serving(app) as server, connect(url(server, "/count/3")) as client:
        assert [await client.recv() for _ in range(3)] == ["0", "1", "2"]
        await client.wait_closed()
        assert client.close_code == 4001
        assert client.close_reason == "counted"


async def test_cookies_and_current_user_come_from_the_upgrade_request() -> None:
    class Me(WebSocketHandler):
        async def get_current_user(self) -> str | None:
            value = self.get_signed_cookie("user")
            return value.decode() if value else None

        def prepare(self) -> None:
            if self.current_user is None:
                raise HTTPError(403, "log in first")

        async def open(self) -> None:
            await self.write_message(f"{self.current_user} {self.get_cookie('theme')}")

        def on_message(self, message: str | bytes) -> None:
            pass

    app = App([("/me", Me)], cookie_secret=SECRET)
    signed = create_signed_value(SECRET, "user", "ada")
    async with serving(app) as server:
        headers = {"Cookie": f"user={signed}; theme=dark"}
        async with connect(url(server, "/me"), additional_headers=headers) as client:
            assert await client.recv() == "ada dark"
        with pytest.raises(InvalidStatus) as info:
            async with connect(url(server, "/me")):
                pass
        assert info.value.response.status_code == 403


async def test_check_origin_and_select_subprotocol_can_be_overridden() -> None:
    class Picky(WebSocketHandler):
        def check_origin(self, origin: str) -> bool:
            return origin.endswith(".trusted.example")

        def select_subprotocol(self, subprotocols: list[str]) -> str | None:
            return "v2" if "v2" in subprotocols else None

        async def open(self) -> None:
            await self.write_message(self.selected_subprotocol or "-")

        def on_message(self, message: str | bytes) -> None:
            pass

    app = App([("/p", Picky)])
    async with serving(app) as server:
        async with connect(
            url(server, "/p"),
            origin="https://a.trusted.example",  # type: ignore[arg-type]
            subprotocols=["v1", "v2"],  # type: ignore[list-item]
        ) as client:
            assert client.subprotocol == "v2"
            assert await client.recv() == "v2"
        with pytest.raises(InvalidStatus) as info:
            async with connect(url(server, "/p"), origin="https://evil.example"):  # type: ignore[arg-type]
                pass
        assert info.value.response.status_code == 403


async def test_class_attributes_set_limits_and_compression_options() -> None:
    class Small(WebSocketHandler):
        max_message_size = 100

        def get_compression_options(self) -> dict[str, Any] | None:
            return None

        async def on_message(self, message: str | bytes) -> None:
            await self.write_message(message)

    app = App([("/s", Small)])
    async with serving(app) as server, connect(url(server, "/s")) as client:
        assert client.protocol.extensions == []
        await client.send("x" * 100)
        assert await client.recv() == "x" * 100
        await client.send("x" * 101)
        await client.wait_closed()
        assert client.close_code == 1009


async def test_ping_and_on_pong() -> None:
    pongs: list[bytes] = []
    got = asyncio.Event()

    class Pinger(WebSocketHandler):
        def open(self) -> None:
            self.ping(b"hello")

        def on_pong(self, data: bytes) -> None:
            pongs.append(data)
            got.set()

        def on_message(self, message: str | bytes) -> None:
            pass

    app = App([("/ping", Pinger)])
    async with serving(app) as server, connect(url(server, "/ping")):
        await asyncio.wait_for(got.wait(), 5)
    assert pongs == [b"hello"]


async def test_an_exception_in_on_message_closes_with_1011_and_on_close_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed = asyncio.Event()

    class Broken(WebSocketHandler):
        def on_message(self, message: str | bytes) -> None:
            raise ValueError("bad message")

        def on_close(self) -> None:
            closed.set()

    app = App([("/b", Broken)])
    async with serving(app) as server, connect(url(server, "/b")) as client:
        await client.send("x")
        await client.wait_closed()
        assert client.close_code == 1011
    assert closed.is_set()
    assert "bad message" in caplog.text


def test_a_handler_class_takes_no_route_options() -> None:
    class Plain(WebSocketHandler):
        def on_message(self, message: str | bytes) -> None:
            pass

    app = App()
    with pytest.raises(TypeError, match="class attributes"):
        app.websocket("/x", max_message_size=10)(Plain)
    with pytest.raises(TypeError, match="WebSocketHandler subclass"):
        app.websocket("/y")(dict)


def test_initialize_without_override_refuses_arguments() -> None:
    class Plain(WebSocketHandler):
        def on_message(self, message: str | bytes) -> None:
            pass

    with pytest.raises(TypeError, match="override initialize"):
        Plain(App(), None, db=1)  # type: ignore[arg-type]
