"""WebSockets, function style, against a real server on 127.0.0.1 and real clients.

The ``websockets`` client covers what a well-behaved client does; a raw socket sends
what a broken or hostile one would (bad UTF-8, bytes right behind the handshake, no
pongs).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import BINARY, CLOSE, CONT, PING, TEXT, Close, Frame

from typhoon import App, HTTPConfig, Request, Text, WebSocket
from typhoon.http import HTTPServer
from typhoon.realtime import WebSocketClosed, WebSocketOptions


@asynccontextmanager
async def serving(app: App) -> AsyncIterator[HTTPServer]:
    server = HTTPServer(app, HTTPConfig(access_log=False))
    await server.listen_tcp("127.0.0.1", 0)
    try:
        yield server
    finally:
        assert await server.drain(5), "the server did not drain within 5 s"


def url(server: HTTPServer, path: str = "/") -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


def echo_app(**options: Any) -> App:
    app = App()

    @app.websocket("/", **options)
    async def echo(ws: WebSocket) -> None:
        async for message in ws:
            await ws.send(message)

    return app


class RawClient:
    """A WebSocket client on a plain socket, for what a real client would never send."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    @asynccontextmanager
    async def opened(
        cls, server: HTTPServer, path: str = "/", extra: bytes = b"", headers: bytes = b""
    ) -> AsyncIterator[tuple[RawClient, bytes]]:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        key = base64.b64encode(os.urandom(16))
        writer.write(
            b"GET %b HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: %b\r\n"
            b"Sec-WebSocket-Version: 13\r\n%b\r\n%b" % (path.encode(), key, headers, extra)
        )
        head = await reader.readuntil(b"\r\n\r\n")
        try:
            yield cls(reader, writer), head
        finally:
            writer.close()

    def send(self, frame: Frame) -> None:
        self.writer.write(frame.serialize(mask=True, extensions=[]))

    async def frame(self) -> Frame:
        """The next frame from the server (unmasked)."""

        async def read_exact(n: int) -> bytes:
            return await self.reader.readexactly(n)

        first = await read_exact(2)
        length = first[1] & 0x7F
        extra = b""
        if length == 126:
            extra = await read_exact(2)
        elif length == 127:
            extra = await read_exact(8)
        size = int.from_bytes(extra) if extra else length
        payload = await read_exact(size)
        return Frame(
            {0: CONT, 1: TEXT, 2: BINARY, 8: CLOSE, 9: PING, 10: BINARY}[first[0] & 0x0F],
            payload,
            bool(first[0] & 0x80),
        )

    async def close_frame(self) -> Close:
        while True:
            frame = await asyncio.wait_for(self.frame(), 5)
            if frame.opcode is CLOSE:
                return Close.parse(frame.data)


# -- echo and message types ------------------------------------------------------------------


async def test_echo_text_binary_and_path_params() -> None:
    app = App()

    @app.websocket("/room/{name}")
    async def room(ws: WebSocket, name: str) -> None:
        await ws.send(f"welcome to {name}")
        await ws.send(await ws.receive_text())
        await ws.send(await ws.receive_bytes())
        await ws.send({"got": await ws.receive_json()})

    async with serving(app) as server, connect(url(server, "/room/lobby")) as client:
        assert await client.recv() == "welcome to lobby"
        await client.send("héllo")
        assert await client.recv() == "héllo"
        await client.send(b"\x00\xff")
        assert await client.recv() == b"\x00\xff"
        await client.send('{"a": [1, 2]}')
        assert await client.recv() == '{"got":{"a":[1,2]}}'
        await client.wait_closed()
        assert client.close_code == 1000  # the endpoint returned: a normal close


async def test_fragmented_messages_are_assembled() -> None:
    async with serving(echo_app()) as server, connect(url(server)) as client:
        await client.send(["frag", "mented ", "téxt"])
        assert await client.recv() == "fragmented téxt"
        await client.send([b"a", b"b", b"c"])
        assert await client.recv() == b"abc"


async def test_compression_is_negotiated_and_large_messages_round_trip() -> None:
    async with serving(echo_app()) as server, connect(url(server)) as client:
        extensions = client.protocol.extensions
        assert [e.name for e in extensions] == ["permessage-deflate"]
        big = "typhoon " * 50_000
        await client.send(big)
        assert await client.recv() == big
        await client.send("tiny")  # below the threshold: sent uncompressed
        assert await client.recv() == "tiny"


async def test_compression_can_be_turned_off() -> None:
    async with serving(echo_app(compression=False)) as server, connect(url(server)) as client:
        assert client.protocol.extensions == []
        await client.send("x" * 1000)
        assert await client.recv() == "x" * 1000


async def test_async_for_ends_when_the_client_closes() -> None:
    ended = asyncio.Event()
    codes: list[int | None] = []
    app = App()

    @app.websocket("/")
    async def endpoint(ws: WebSocket) -> None:
        async for _ in ws:
            pass
        codes.append(ws.close_code)
        ended.set()

    async with serving(app) as server:
        async with connect(url(server)) as client:
            await client.close(4000, "bye")
        await asyncio.wait_for(ended.wait(), 5)
    assert codes == [4000]


async def test_receive_after_close_raises_websocket_closed() -> None:
    results: list[Any] = []
    app = App()

    @app.websocket("/")
    async def endpoint(ws: WebSocket) -> None:
        with pytest.raises(WebSocketClosed) as info:
            await ws.receive()
        results.append(info.value.code)
        with pytest.raises(WebSocketClosed):
            await ws.send("too late")

    async with serving(app) as server:
        async with connect(url(server)) as client:
            await client.close()
        await asyncio.sleep(0.05)
    assert results == [1000]


async def test_receive_text_refuses_binary_with_1003() -> None:
    app = App()

    @app.websocket("/")
    async def endpoint(ws: WebSocket) -> None:
        await ws.receive_text()

    async with serving(app) as server, connect(url(server)) as client:
        await client.send(b"binary")
        await client.wait_closed()
        assert client.close_code == 1003


@pytest.mark.parametrize(
    "message",
    [
        pytest.param("{not json", id="malformed"),
        pytest.param(b'"\xff\xfe"', id="binary-bad-utf8"),
    ],
)
async def test_receive_json_refuses_bad_json_with_1007(message: str | bytes) -> None:
    app = App()

    @app.websocket("/")
    async def endpoint(ws: WebSocket) -> None:
        await ws.receive_json()

    async with serving(app) as server, connect(url(server)) as client:
        await client.send(message)
        await client.wait_closed()
        assert client.close_code == 1007


async def test_an_endpoint_exception_closes_with_1011_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = App()

    @app.websocket("/")
    async def endpoint(ws: WebSocket) -> None:
        await ws.receive()
        raise RuntimeError("boom")

    caplog.set_level(logging.ERROR, "typhoon.error")
    async with serving(app) as server, connect(url(server)) as client:
        await client.send("go")
        await client.wait_closed()
        assert client.close_code == 1011
    assert "exception in WebSocket endpoint /" in caplog.text


async def test_ping_round_trip() -> None:
    rtts: list[float] = []
    app = App()

    @app.websocket("/")
    async def endpoint(ws: WebSocket) -> None:
        rtts.append(await ws.ping())
        await ws.send("pinged")
        await ws.receive()

    async with serving(app) as server, connect(url(server)) as client:
        assert await client.recv() == "pinged"
    assert len(rtts) == 1
    assert 0 <= rtts[0] < 5


# -- limits and bad input ----------------------------------------------------------------


async def test_a_message_over_the_limit_closes_with_1009() -> None:
    async with (
        serving(echo_app(max_message_size=1000)) as server,
        connect(url(server), compression=None) as client,
    ):
        await client.send("x" * 1000)
        assert await client.recv() == "x" * 1000
        await client.send("x" * 1001)
        with pytest.raises(ConnectionClosed):
            await client.recv()
        assert client.close_code == 1009


async def test_a_fragmented_message_over_the_limit_closes_with_1009() -> None:
    async with (
        serving(echo_app(max_message_size=1000)) as server,
        connect(url(server), compression=None) as client,
    ):
        await client.send(["x" * 600, "x" * 600])
        with pytest.raises(ConnectionClosed):
            await client.recv()
        assert client.close_code == 1009


async def test_a_compressed_bomb_is_stopped_at_the_limit() -> None:
    async with serving(echo_app(max_message_size=10_000)) as server, connect(url(server)) as client:
        await client.send("\x00" * 1_000_000)  # a few kilobytes once compressed
        with pytest.raises(ConnectionClosed):
            await client.recv()
        assert client.close_code == 1009


async def test_invalid_utf8_closes_with_1007() -> None:
    async with serving(echo_app()) as server, RawClient.opened(server) as (client, head):
        assert head.startswith(b"HTTP/1.1 101 ")
        client.send(Frame(TEXT, b"\xff\xfe"))
        assert (await client.close_frame()).code == 1007


async def test_invalid_utf8_in_a_fragment_fails_before_the_message_ends() -> None:
    async with serving(echo_app()) as server, RawClient.opened(server) as (client, _):
        client.send(Frame(TEXT, b"ok ", fin=False))
        client.send(Frame(CONT, b"\xc3\x28", fin=False))  # bad, and the message goes on
        assert (await client.close_frame()).code == 1007


async def test_a_protocol_violation_closes_with_1002() -> None:
    async with serving(echo_app()) as server, RawClient.opened(server) as (client, _):
        client.send(Frame(CONT, b"orphan continuation"))
        assert (await client.close_frame()).code == 1002


async def test_bytes_right_behind_the_handshake_are_not_lost() -> None:
    first = Frame(TEXT, b"early bird").serialize(mask=True, extensions=[])
    async with serving(echo_app()) as server, RawClient.opened(server, extra=first) as (client, _):
        frame = await asyncio.wait_for(client.frame(), 5)
        assert frame.opcode is TEXT
        assert frame.data == b"early bird"


async def test_a_client_that_never_answers_pings_is_closed_with_1011() -> None:
    app = echo_app(ping_interval=0.05, ping_timeout=0.1)
    async with serving(app) as server, RawClient.opened(server) as (client, _):
        saw_ping = False
        while True:  # the raw client reads but never answers
            frame = await asyncio.wait_for(client.frame(), 5)
            if frame.opcode is PING:
                saw_ping = True
            if frame.opcode is CLOSE:
                assert Close.parse(frame.data).code == 1011
                break
        assert saw_ping


async def test_keepalive_pings_are_answered_by_a_real_client() -> None:
    app = echo_app(ping_interval=0.02, ping_timeout=0.5)
    async with serving(app) as server, connect(url(server)) as client:
        await asyncio.sleep(0.2)  # several ping/pong rounds
        await client.send("still here")
        assert await client.recv() == "still here"


async def test_a_slow_reader_does_not_grow_the_send_buffer() -> None:
    sent = 0
    buffered: list[int] = []
    app = App()

    @app.websocket("/")
    async def flood(ws: WebSocket) -> None:
        nonlocal sent
        chunk = os.urandom(65536)  # incompressible
        while True:
            await ws.send(chunk)
            sent += 1
            buffered.append(ws._transport.get_write_buffer_size())

    async with serving(app) as server, RawClient.opened(server) as (client, _):
        await asyncio.sleep(0.5)  # the client reads nothing
        sent_then = sent
        await asyncio.sleep(0.3)
        assert sent == sent_then, "send() must wait for a client that does not read"
        assert max(buffered) <= 2 * 65536 + 1024
        client.writer.transport.abort()


async def test_received_messages_pause_reading_when_the_endpoint_lags() -> None:
    release = asyncio.Event()
    paused: list[bool] = []
    app = App()

    @app.websocket("/", max_queue=4)
    async def lagging(ws: WebSocket) -> None:
        await release.wait()
        paused.append(ws._paused)
        count = 0
        async for _ in ws:
            count += 1
            if count == 20:
                await ws.send("got 20")

    async with serving(app) as server, connect(url(server)) as client:
        for i in range(20):
            await client.send(f"m{i}")
        await asyncio.sleep(0.1)
        release.set()
        assert await asyncio.wait_for(client.recv(), 5) == "got 20"
    assert paused == [True]


# -- the handshake -----------------------------------------------------------------------


async def test_a_plain_get_gets_426() -> None:
    async with serving(echo_app()) as server, httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{server.port}/")
    assert response.status_code == 426
    assert response.headers["upgrade"] == "websocket"


async def test_a_bad_handshake_gets_400() -> None:
    async with serving(echo_app()) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"  # no key
        )
        response = await reader.read()
        writer.close()
    assert response.startswith(b"HTTP/1.1 400 ")
    assert b"Sec-WebSocket-Key" in response


async def test_cross_origin_is_refused_with_403() -> None:
    async with serving(echo_app()) as server:
        with pytest.raises(InvalidStatus) as info:
            async with connect(url(server), origin="http://evil.example"):  # type: ignore[arg-type]
                pass
        assert info.value.response.status_code == 403
        same = f"http://127.0.0.1:{server.port}"
        async with connect(url(server), origin=same) as client:  # type: ignore[arg-type]
            await client.send("same origin")
            assert await client.recv() == "same origin"


async def test_allowed_origins_from_the_route_and_from_settings() -> None:
    app = echo_app(origins=["https://app.example"])
    async with (
        serving(app) as server,
        connect(url(server), origin="https://app.example") as client,  # type: ignore[arg-type]
    ):
        await client.send("ok")
        assert await client.recv() == "ok"
    app = App(websocket_origins=["https://other.example"])

    @app.websocket("/")
    async def endpoint(ws: WebSocket) -> None:
        await ws.send("hello")

    async with serving(app) as server:
        async with connect(url(server), origin="https://other.example") as client:  # type: ignore[arg-type]
            assert await client.recv() == "hello"
        with pytest.raises(InvalidStatus):
            async with connect(url(server), origin="https://app.example"):  # type: ignore[arg-type]
                pass


async def test_subprotocol_is_chosen_from_the_route_list() -> None:
    app = App()

    @app.websocket("/", subprotocols=["chat.v2", "chat.v1"])
    async def endpoint(ws: WebSocket) -> None:
        await ws.send(ws.subprotocol or "none")

    async with serving(app) as server:
        async with connect(url(server), subprotocols=["chat.v1", "chat.v2"]) as client:  # type: ignore[list-item]
            assert client.subprotocol == "chat.v2"
            assert await client.recv() == "chat.v2"
        async with connect(url(server), subprotocols=["other"]) as client:  # type: ignore[list-item]
            assert client.subprotocol is None
            assert await client.recv() == "none"


async def test_middleware_can_refuse_the_upgrade() -> None:
    app = echo_app()

    @app.before_request
    async def check(request: Request) -> Text | None:
        if request.query.get("token") != "s3cret":
            return Text("forbidden", status=403)
        return None

    async with serving(app) as server:
        with pytest.raises(InvalidStatus) as info:
            async with connect(url(server, "/?token=no")):
                pass
        assert info.value.response.status_code == 403
        async with connect(url(server, "/?token=s3cret")) as client:
            await client.send("in")
            assert await client.recv() == "in"


# -- lifecycle ---------------------------------------------------------------------------


async def test_graceful_drain_closes_sockets_with_1001() -> None:
    app = echo_app()
    server = HTTPServer(app, HTTPConfig(access_log=False))
    await server.listen_tcp("127.0.0.1", 0)
    client: ClientConnection = await connect(url(server))
    await client.send("before")
    assert await client.recv() == "before"
    assert await server.drain(5)
    with pytest.raises(ConnectionClosed):
        await client.recv()
    assert client.close_code == 1001
    await client.close()


async def test_a_client_that_vanishes_ends_the_endpoint() -> None:
    ended = asyncio.Event()
    codes: list[int | None] = []
    app = App()

    @app.websocket("/")
    async def endpoint(ws: WebSocket) -> None:
        async for _ in ws:
            pass
        codes.append(ws.close_code)
        ended.set()

    async with serving(app) as server, RawClient.opened(server) as (client, _):
        client.writer.transport.abort()
        await asyncio.wait_for(ended.wait(), 5)
    assert codes == [1006]


# -- registration errors -----------------------------------------------------------------


def test_registration_errors_name_the_problem() -> None:
    app = App()
    with pytest.raises(TypeError, match="async function"):
        app.websocket("/a")(lambda ws: None)

    async def endpoint(ws: WebSocket) -> None:
        pass

    with pytest.raises(TypeError, match="unknown WebSocket option"):
        app.websocket("/b", max_mesage_size=10)(endpoint)
    with pytest.raises(ValueError, match="max_message_size must be a positive int"):
        WebSocketOptions(max_message_size=0)
    with pytest.raises(ValueError, match="ping_interval"):
        WebSocketOptions(ping_interval=-1)
    with pytest.raises(TypeError, match="not a str"):
        WebSocketOptions(origins="https://a.example")  # type: ignore[arg-type]


async def test_send_refuses_what_json_cannot_encode() -> None:
    errors: list[str] = []
    app = App()

    @app.websocket("/")
    async def endpoint(ws: WebSocket) -> None:
        try:
            await ws.send(object())
        except TypeError as exc:
            errors.append(str(exc))
        await ws.send("done")

    async with serving(app) as server, connect(url(server)) as client:
        assert await client.recv() == "done"
    assert errors == ["send(): cannot encode object as JSON"]


# -- smaller behaviours ------------------------------------------------------------------


async def test_a_client_that_reads_nothing_past_the_write_limit_is_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ended = asyncio.Event()
    app = App()

    @app.websocket("/", write_limit=200_000, compression=False)
    async def flood(ws: WebSocket) -> None:
        chunk = os.urandom(65536)
        try:
            for _ in range(1000):
                ws.send_nowait(chunk)  # never waits: only the limit stops it
                await asyncio.sleep(0)
        except WebSocketClosed:
            pass
        ended.set()

    async with serving(app) as server, RawClient.opened(server) as (client, _):
        await asyncio.wait_for(ended.wait(), 5)
        client.writer.transport.abort()
    assert "client not reading" in caplog.text


async def test_close_and_ping_refuse_bad_arguments() -> None:
    results: list[str] = []
    app = App()

    @app.websocket("/")
    async def endpoint(ws: WebSocket) -> None:
        assert not ws.closed
        assert "open" in repr(ws)
        with pytest.raises(ValueError, match="close code 1005 cannot be sent"):
            await ws.close(1005)
        pinging = asyncio.ensure_future(ws.ping(b"same"))
        await asyncio.sleep(0)
        with pytest.raises(ValueError, match="already waiting for its pong"):
            await ws.ping(b"same")
        await pinging
        with pytest.raises(TypeError):
            await ws.send_text(b"bytes")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await ws.send_bytes("text")  # type: ignore[arg-type]
        results.append("checked")
        await ws.close(4002)
        assert ws.closed
        assert "closed 4002" in repr(ws)

    async with serving(app) as server, connect(url(server)) as client:
        await client.wait_closed()
        assert client.close_code == 4002
    assert results == ["checked"]


async def test_a_client_that_never_answers_the_close_is_dropped() -> None:
    app = App()

    @app.websocket("/", close_timeout=0.1)
    async def endpoint(ws: WebSocket) -> None:
        await ws.close(1000)

    async with serving(app) as server, RawClient.opened(server) as (client, _):
        assert (await client.close_frame()).code == 1000
        assert await asyncio.wait_for(client.reader.read(), 5) == b""  # dropped, unanswered


async def test_ping_hooks_may_be_async_and_their_errors_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen = asyncio.Event()
    app = App()

    @app.websocket("/")
    async def endpoint(ws: WebSocket) -> None:
        async def on_ping(data: bytes) -> None:
            seen.set()
            raise RuntimeError("hook failed")

        ws.on_ping = on_ping
        await ws.receive()

    async with serving(app) as server, connect(url(server)) as client:
        await client.ping(b"x")
        await asyncio.wait_for(seen.wait(), 5)
        await asyncio.sleep(0.01)
        await client.send("done")
    assert "exception in a WebSocket on_ping/on_pong hook" in caplog.text


def test_options_come_from_tornado_setting_names() -> None:
    options = WebSocketOptions.from_settings(
        {
            "websocket_max_message_size": 10,
            "websocket_ping_interval": 5,
            "websocket_ping_timeout": 2,
            "websocket_compression": False,
            "websocket_origins": ["https://a.example"],
        },
        subprotocols=["chat"],
    )
    assert (options.max_message_size, options.ping_interval, options.ping_timeout) == (10, 5, 2)
    assert options.compression is False
    assert options.origins == ("https://a.example",)
    assert options.subprotocols == ("chat",)
    with pytest.raises(ValueError, match="compression_threshold"):
        WebSocketOptions(compression_threshold=-1)
    with pytest.raises(ValueError, match="close_timeout"):
        WebSocketOptions(close_timeout=None)  # type: ignore[arg-type]


async def test_one_message_larger_than_the_write_limit_is_sent() -> None:
    app = echo_app(write_limit=100_000, max_message_size=1 << 20, compression=False)
    async with serving(app) as server, connect(url(server), max_size=1 << 20) as client:
        big = os.urandom(300_000)
        await client.send(big)
        assert await client.recv() == big
