"""ASGIHost and WSGIHost facing misbehaving applications, bad arguments and odd input."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from tests.interop.servers import serving
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from typhoon.http import HTTPLimits
from typhoon.http.asgi import ASGIHost
from typhoon.http.asgi_hooks import hooks
from typhoon.http.wsgi import WSGIHost

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], None]]


def test_constructors_check_their_arguments() -> None:
    with pytest.raises(TypeError, match="needs an ASGI application"):
        ASGIHost(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lifespan must be"):
        ASGIHost(_misuse, lifespan="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="root_path must not end"):
        ASGIHost(_misuse, root_path="/x/")
    with pytest.raises(TypeError, match="needs a WSGI application"):
        WSGIHost(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="root_path must not end"):
        WSGIHost(_wsgi_misuse, root_path="/x/")
    with pytest.raises(ValueError, match="threads must be"):
        WSGIHost(_wsgi_misuse, threads=0)
    assert repr(ASGIHost(_misuse)).startswith("<ASGIHost <function _misuse")
    assert repr(WSGIHost(_wsgi_misuse, threads=3)).endswith(" threads=3>")


async def _misuse(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    start = {"type": "http.response.start", "status": 200, "headers": []}
    if path == "/start-twice":
        await send(start)
        await send(start)
    elif path == "/body-first":
        await send({"type": "http.response.body", "body": b"x"})
    elif path == "/bad-status":
        await send({"type": "http.response.start", "status": 42})
    elif path == "/unknown":
        await send({"type": "http.response.push"})
    elif path == "/after-end":
        await send(start)
        await send({"type": "http.response.body", "body": b"done"})
        await send({"type": "http.response.body", "body": b"more"})
    elif path == "/unfinished":
        await send(start)
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
    elif path == "/read":
        while (await receive())["more_body"]:
            pass
        await send(start)
        await send({"type": "http.response.body", "body": b"read"})


async def test_asgi_misuse_is_a_500_or_a_closed_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="typhoon.error"):
        async with serving(ASGIHost(_misuse)) as server, httpx.AsyncClient() as client:
            url = f"http://127.0.0.1:{server.port}"
            for path in ("/start-twice", "/body-first", "/bad-status", "/unknown"):
                assert (await client.get(url + path)).status_code == 500, path
            assert (await client.get(url + "/after-end")).text == "done"  # already answered
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(url + "/unfinished")
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "without completing its response" in messages
    assert messages.count("exception in the ASGI application") == 5


async def test_asgi_body_over_the_limit_is_a_413() -> None:
    limits = HTTPLimits(max_body_bytes=1000)
    async with serving(ASGIHost(_misuse), limits=limits) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        head = b"POST /read HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        writer.write(head + b"1f4\r\n" + b"y" * 500 + b"\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)  # the app is reading by now
        writer.write((b"1f4\r\n" + b"y" * 500 + b"\r\n") * 2)
        response = await asyncio.wait_for(reader.read(), 5)
        writer.close()
    assert response.startswith(b"HTTP/1.1 413 ")


async def test_asgi_lifespan_errors_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def failing_shutdown(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.failed", "message": "disk full"})

    async def raising_after_startup(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        raise RuntimeError("teardown broke")

    async def unknown_message(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.ready"})

    with caplog.at_level(logging.DEBUG, logger="typhoon.error"):
        for app in (failing_shutdown, raising_after_startup):
            host = ASGIHost(app)
            await host.startup()
            await host.startup()  # a second call does nothing
            await host.shutdown()
            await host.shutdown()
        unsupported = ASGIHost(unknown_message)
        await unsupported.startup()  # the ValueError says: no lifespan here
        await unsupported.shutdown()
        await ASGIHost(unknown_message, lifespan="off").startup()
    messages = [r.getMessage() for r in caplog.records]
    assert "ASGI lifespan shutdown failed: disk full" in messages
    assert "exception in the ASGI application's lifespan" in messages
    assert "the ASGI application does not support lifespan" in messages


async def _ws_misuse(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "websocket":
        return
    await receive()
    path = scope["path"]
    if path == "/send-first":
        await send({"type": "websocket.send", "text": "too early"})
    elif path == "/raise":
        raise RuntimeError("ws app broke")
    elif path == "/raise-open":
        await send({"type": "websocket.accept"})
        raise RuntimeError("ws app broke while open")
    elif path == "/empty-send":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send"})
    elif path == "/unknown":
        await send({"type": "websocket.push"})
    elif path == "/twice":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.accept"})
    elif path == "/body-first":
        await send({"type": "websocket.http.response.body", "body": b""})
    elif path == "/close-twice":
        await send({"type": "websocket.close"})
        await send({"type": "websocket.close"})
        assert (await receive())["type"] == "websocket.disconnect"
    elif path == "/gone":
        await send({"type": "websocket.accept"})
        assert (await receive())["type"] == "websocket.disconnect"
        try:
            await send({"type": "websocket.send", "bytes": b"late"})
        except OSError:
            GONE.append("OSError")


GONE: list[str] = []


async def test_asgi_websocket_misuse(caplog: pytest.LogCaptureFixture) -> None:
    GONE.clear()
    with caplog.at_level(logging.ERROR, logger="typhoon.error"):
        async with serving(ASGIHost(_ws_misuse)) as server:
            url = f"ws://127.0.0.1:{server.port}"
            for path, status in (
                ("/send-first", 500),
                ("/raise", 500),
                ("/unknown", 500),
                ("/body-first", 500),
                ("/close-twice", 403),
            ):
                with pytest.raises(InvalidStatus) as refused:
                    async with connect(url + path):
                        pass
                assert refused.value.response.status_code == status, path
            for path in ("/raise-open", "/empty-send", "/twice"):
                async with connect(url + path) as ws:
                    await ws.wait_closed()
                assert ws.close_code == 1011, path
            async with connect(url + "/gone"):
                pass
    assert GONE == ["OSError"]
    assert sum("WebSocket" in r.getMessage() for r in caplog.records) == 7


async def test_asgi_websocket_without_the_realtime_hook_is_a_501() -> None:
    installed = hooks.websocket
    hooks.websocket = None
    try:
        async with serving(ASGIHost(_ws_misuse)) as server:
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"ws://127.0.0.1:{server.port}/"):
                    pass
    finally:
        hooks.websocket = installed
    assert refused.value.response.status_code == 501


def _wsgi_misuse(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
    path = environ["PATH_INFO"]
    stream = environ["wsgi.input"]
    if path == "/twice":
        start_response("200 OK", [])
        start_response("200 OK", [])
    elif path == "/write-first":
        start_response.__self__.write(b"x")  # type: ignore[attr-defined]
    elif path == "/bad-status":
        start_response("OK", [])
    elif path == "/no-start":
        return iter([b"body"])
    elif path == "/no-start-list":
        return [b"body"]  # type: ignore[return-value]
    elif path == "/bad-header":
        start_response("200 OK", [("x-bad", "a\r\nb")])
        return [b"x"]  # type: ignore[return-value]
    elif path == "/lines":
        start_response("200 OK", [])
        lines = [stream.readline(4), stream.readline(), *stream]
        buffer = bytearray(3)
        count = io.BufferedReader(stream).readinto(buffer)
        return iter([repr((lines, count, stream.read(None))).encode()])
    return iter([])


async def test_wsgi_misuse_is_a_500(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="typhoon.error"):
        async with serving(WSGIHost(_wsgi_misuse)) as server, httpx.AsyncClient() as client:
            url = f"http://127.0.0.1:{server.port}"
            for path in (
                "/twice",
                "/write-first",
                "/bad-status",
                "/no-start",
                "/no-start-list",
                "/bad-header",
            ):
                assert (await client.get(url + path)).status_code == 500, path
            lines = await client.post(url + "/lines", content=b"abcdefg\nsecond\nthird")
    assert lines.text == repr(([b"abcd", b"efg\n", b"second\n", b"third"], 0, b""))
    assert len([r for r in caplog.records if r.name == "typhoon.error"]) == 6


async def test_wsgi_input_for_a_get_reads_nothing_and_underscored_headers_are_dropped() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [])
        headers = sorted(k for k in environ if k.startswith("HTTP_X"))
        return [repr((environ["wsgi.input"].read(), headers)).encode()]

    async with serving(WSGIHost(app)) as server, httpx.AsyncClient() as client:
        response = await client.get(
            f"http://127.0.0.1:{server.port}/", headers={"x-a": "1", "x_b": "2", "x-c": "3"}
        )
        response2 = await client.get(
            f"http://127.0.0.1:{server.port}/", headers=[("x-a", "1"), ("x-a", "2")]
        )
    assert response.text == repr((b"", ["HTTP_X_A", "HTTP_X_C"]))
    assert response2.text == repr((b"", ["HTTP_X_A"]))
