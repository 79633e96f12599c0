"""ASGIHost with small ASGI applications written here, on a real socket."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tests.interop.servers import serving
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from typhoon.http.asgi import ASGIHost

Scope = dict[str, Any]


async def _echo_scope(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise RuntimeError("no lifespan here")
    body = b""
    while True:
        message = await receive()
        body += message["body"]
        if not message["more_body"]:
            break
    shown = {k: v for k, v in scope.items() if k not in ("headers", "state")}
    shown["headers"] = [[n.decode(), v.decode()] for n, v in scope["headers"]]
    shown["raw_path"] = scope["raw_path"].decode()
    shown["query_string"] = scope["query_string"].decode()
    shown["body"] = body.decode()
    text = repr(shown).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
    await send({"type": "http.response.body", "body": text})


async def test_the_scope_follows_the_asgi_spec() -> None:
    async with serving(ASGIHost(_echo_scope, root_path="/proxy")) as server:
        port = server.port
        async with httpx.AsyncClient() as client:
            url = f"http://127.0.0.1:{port}/caf%C3%A9/a%20b?x=1&y=%20"
            response = await client.post(url, content=b"payload", headers={"X-Tag": "t"})
    assert response.headers["x-a"] == "1"
    scope = eval(response.text)  # the repr of plain values, from our own app
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "POST"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/proxy/café/a b"
    assert scope["raw_path"] == "/caf%C3%A9/a%20b"
    assert scope["query_string"] == "x=1&y=%20"
    assert scope["root_path"] == "/proxy"
    assert ["x-tag", "t"] in scope["headers"]
    assert scope["client"][0] == "127.0.0.1"
    assert scope["server"] == ("127.0.0.1", port)
    assert scope["body"] == "payload"


async def test_lifespan_auto_serves_an_app_without_it_and_on_refuses() -> None:
    async with serving(ASGIHost(_echo_scope)) as server, httpx.AsyncClient() as client:
        assert (await client.get(f"http://127.0.0.1:{server.port}/")).status_code == 200
    with pytest.raises(RuntimeError, match="does not support lifespan"):
        await ASGIHost(_echo_scope, lifespan="on").startup()


async def test_lifespan_startup_failed_stops_the_start() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    with pytest.raises(RuntimeError, match="no database"):
        await ASGIHost(app).startup()


async def test_head_and_a_streamed_body_with_content_length() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-length", b"10")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"01234", "more_body": True})
        await send({"type": "http.response.body", "body": b"56789"})

    async with serving(ASGIHost(app)) as server, httpx.AsyncClient() as client:
        url = f"http://127.0.0.1:{server.port}/"
        got = await client.get(url)
        assert (got.text, got.headers["content-length"]) == ("0123456789", "10")
        assert "transfer-encoding" not in got.headers
        head = await client.head(url)
        assert (head.content, head.headers["content-length"]) == (b"", "10")


async def test_errors_500_before_the_start_and_a_closed_connection_after(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/silent":
            return  # no response at all
        if scope["path"] == "/late":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"half", "more_body": True})
        raise ValueError("broken app")

    with caplog.at_level(logging.ERROR, logger="typhoon.error"):
        async with serving(ASGIHost(app)) as server, httpx.AsyncClient() as client:
            url = f"http://127.0.0.1:{server.port}"
            early = await client.get(url + "/early")
            assert (early.status_code, early.text) == (500, "500 Internal Server Error\n")
            assert (await client.get(url + "/silent")).status_code == 500
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(url + "/late")  # the chunked body never ends: closed
    messages = [r.getMessage() for r in caplog.records if r.name == "typhoon.error"]
    assert len(messages) == 3
    assert sum("exception in the ASGI application" in m for m in messages) == 2
    assert sum("without sending a response" in m for m in messages) == 1


async def test_the_app_hears_http_disconnect_when_the_client_goes() -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        first = await receive()
        assert first == {"type": "http.request", "body": b"", "more_body": False}
        heard.put_nowait((await receive())["type"])

    async with serving(ASGIHost(app), cancel_on_disconnect=False) as server:
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.transport.abort()  # gone (a half-close would still be answered)
        assert await asyncio.wait_for(heard.get(), 5) == "http.disconnect"


async def test_send_waits_for_a_slow_reader_and_raises_oserror_once_it_left() -> None:
    """Backpressure: the app's sends block while the client does not read."""
    progress: list[int] = []
    outcome: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            for i in range(10_000):
                await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
                progress.append(i)
        except BaseException as exc:
            outcome.set_result(exc)
            raise

    async with serving(ASGIHost(app), cancel_on_disconnect=False) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        await reader.read(1000)
        await asyncio.sleep(0.3)
        stalled = len(progress)
        await asyncio.sleep(0.2)
        assert len(progress) == stalled < 1000  # blocked in send, far from 655 MB
        writer.transport.abort()
        error = await asyncio.wait_for(outcome, 5)
    assert isinstance(error, OSError)


async def _ws_app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] != "websocket":
        return
    assert (await receive())["type"] == "websocket.connect"
    if scope["path"] == "/deny":
        await send({"type": "websocket.http.response.start", "status": 418, "headers": []})
        await send({"type": "websocket.http.response.body", "body": b"teapot"})
        return
    if scope["path"] == "/ignore":
        return  # never accepted: refused with 403
    await send({"type": "websocket.accept", "headers": [(b"x-room", b"lobby")]})
    await send({"type": "websocket.send", "text": "welcome"})
    message = await receive()
    assert message["type"] == "websocket.disconnect"
    RECORDED.append(message)


RECORDED: list[dict[str, Any]] = []


async def test_websocket_accept_headers_refusals_and_disconnect_code() -> None:
    RECORDED.clear()
    async with serving(ASGIHost(_ws_app)) as server:
        url = f"ws://127.0.0.1:{server.port}"
        async with connect(url + "/room") as ws:
            assert ws.response is not None
            assert ws.response.headers["x-room"] == "lobby"
            assert await ws.recv() == "welcome"
            await ws.close(4000, "bye")
        for path, status in (("/deny", 418), ("/ignore", 403)):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url + path):
                    pass
            assert refused.value.response.status_code == status
        assert refused.value.response.status_code == 403
    assert RECORDED == [{"type": "websocket.disconnect", "code": 4000, "reason": "bye"}]


async def test_an_async_generator_app_body_is_fine_with_expect_continue() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        size = 0
        while True:
            message = await receive()
            size += len(message["body"])
            if not message["more_body"]:
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})

    async def body() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"z" * 1000

    async with serving(ASGIHost(app)) as server, httpx.AsyncClient() as client:
        response = await client.post(
            f"http://127.0.0.1:{server.port}/", content=body(), headers={"expect": "100-continue"}
        )
    assert response.text == "3000"


async def test_a_graceful_drain_closes_open_websockets_with_1001() -> None:
    heard: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        heard.put_nowait(await receive())

    host = ASGIHost(app)
    async with serving(host) as server:
        ws = await connect(f"ws://127.0.0.1:{server.port}/")
    await ws.wait_closed()  # the drain at the end of serving() closed it
    assert ws.close_code == 1001
    assert (await heard.get())["code"] == 1001


async def test_an_invalid_handshake_is_refused_when_the_app_accepts() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})  # raises ClientGone: the 400 went out

    request = (
        b"GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"  # no Sec-WebSocket-Key
    )
    async with serving(ASGIHost(app)) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(request)
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 400 ")
