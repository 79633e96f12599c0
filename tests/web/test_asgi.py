"""The ASGI face of App, driven in process with ASGI events (no server).

``tests/interop/test_asgi_face.py`` runs the same app under real ASGI servers; these
tests pin down the event sequences, including the cases a real server makes hard to
provoke (a body growing past the limit, a failing lifespan, errors mid-stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from typhoon import App, File, HTTPError, Request, Response, Streaming
from typhoon.web.asgi import Message


class Peer:
    """The server's side of one ASGI call: queued events in, sent events recorded."""

    def __init__(self, *events: Message) -> None:
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        for event in events:
            self.inbox.put_nowait(event)
        self.sent: list[Message] = []
        self.received = 0

    async def receive(self) -> Message:
        self.received += 1
        return await self.inbox.get()

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    def types(self) -> list[str]:
        return [m["type"] for m in self.sent]

    def response(self) -> tuple[int, dict[bytes, bytes], bytes]:
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")
        return start["status"], dict(start["headers"]), body


def http_scope(
    path: str = "/",
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    query: bytes = b"",
    root_path: str = "",
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": root_path,
        "headers": [(b"host", b"example.com"), *(headers or [])],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


def make_app(**settings: Any) -> App:
    app = App(**settings)

    @app.get("/hello/{name}")
    async def hello(request: Request, name: str) -> dict[str, Any]:
        return {"name": name, "q": request.query.get("q"), "url": request.url}

    @app.post("/size")
    async def size(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.get("/empty")
    async def empty(request: Request) -> None:
        return None

    @app.get("/where")
    async def where(request: Request) -> dict[str, str]:
        return {"path": request.path, "root_path": request.root_path}

    @app.get("/broken-stream")
    async def broken_stream(request: Request) -> Streaming:
        async def pieces() -> AsyncIterator[bytes]:
            yield b"first"
            raise RuntimeError("mid-stream")

        return Streaming(pieces())

    @app.get("/hang")
    async def hang(request: Request) -> Response:
        app.settings["hang_started"].set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            app.settings["hang_cancelled"] = True
            raise
        return Response(b"late")

    @app.get("/fail")
    async def fail(request: Request) -> Response:
        raise HTTPError(409, "taken")

    return app


async def test_get_sends_start_then_body_with_content_length() -> None:
    peer = Peer()
    await make_app()(http_scope("/hello/ann", query=b"q=1"), peer.receive, peer.send)
    status, headers, body = peer.response()
    assert status == 200
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"content-length"] == str(len(body)).encode()
    assert body == b'{"name":"ann","q":"1","url":"http://example.com/hello/ann?q=1"}'
    assert peer.sent[-1]["more_body"] is False
    assert peer.received == 0  # no body was read, and no watcher was needed yet


async def test_head_keeps_the_length_and_drops_the_body() -> None:
    peer = Peer()
    await make_app()(http_scope("/hello/ann", "HEAD"), peer.receive, peer.send)
    status, headers, body = peer.response()
    assert (status, body) == (200, b"")
    assert int(headers[b"content-length"]) > 0


async def test_204_has_neither_length_nor_body() -> None:
    peer = Peer()
    await make_app()(http_scope("/empty"), peer.receive, peer.send)
    status, headers, body = peer.response()
    assert (status, body) == (204, b"")
    assert b"content-length" not in headers


async def test_body_arrives_over_several_events() -> None:
    peer = Peer(
        {"type": "http.request", "body": b"abc", "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": b"de", "more_body": False},
    )
    scope = http_scope("/size", "POST", [(b"transfer-encoding", b"chunked")])
    await make_app()(scope, peer.receive, peer.send)
    assert peer.response()[2] == b'{"bytes":5}'


async def test_body_growing_past_the_limit_is_413() -> None:
    peer = Peer(
        {"type": "http.request", "body": b"x" * 6, "more_body": True},
        {"type": "http.request", "body": b"x" * 6, "more_body": False},
    )
    scope = http_scope("/size", "POST", [(b"transfer-encoding", b"chunked")])
    await make_app(max_body_bytes=10)(scope, peer.receive, peer.send)
    assert peer.response()[0] == 413


async def test_declared_body_over_the_limit_is_413_unread() -> None:
    peer = Peer()
    scope = http_scope("/size", "POST", [(b"content-length", b"11")])
    await make_app(max_body_bytes=10)(scope, peer.receive, peer.send)
    assert peer.response()[0] == 413
    assert peer.received == 0


async def test_http_error_is_answered_by_its_status() -> None:
    peer = Peer()
    await make_app()(http_scope("/fail"), peer.receive, peer.send)
    assert peer.response()[0] == 409


async def test_error_after_the_head_left_reaches_the_server() -> None:
    peer = Peer()
    with pytest.raises(RuntimeError, match="mid-stream"):
        await make_app()(http_scope("/broken-stream"), peer.receive, peer.send)
    assert peer.types()[:2] == ["http.response.start", "http.response.body"]
    assert peer.sent[1]["body"] == b"first"


@pytest.mark.parametrize("path", ["/base/where", "/where"])
async def test_root_path_is_taken_off_the_path(path: str) -> None:
    peer = Peer()
    await make_app()(http_scope(path, root_path="/base"), peer.receive, peer.send)
    assert peer.response()[2] == b'{"path":"/where","root_path":"/base"}'


async def test_disconnect_cancels_the_handler_quietly() -> None:
    app = make_app(hang_started=asyncio.Event())
    peer = Peer()
    call = asyncio.create_task(app(http_scope("/hang"), peer.receive, peer.send))
    await app.settings["hang_started"].wait()
    peer.inbox.put_nowait({"type": "http.disconnect"})
    await asyncio.wait_for(call, 5)
    assert app.settings["hang_cancelled"] is True
    assert peer.sent == []


async def test_lifespan_runs_startup_and_shutdown() -> None:
    app = make_app()
    calls: list[str] = []

    @contextlib.asynccontextmanager
    async def context(app: App) -> AsyncIterator[None]:
        calls.append("enter")
        yield
        calls.append("exit")

    app._lifespan = context
    app.on_startup(lambda: calls.append("startup"))
    app.on_shutdown(lambda: calls.append("shutdown"))
    peer = Peer({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, peer.receive, peer.send)
    assert peer.types() == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert calls == ["enter", "startup", "shutdown", "exit"]


async def test_lifespan_startup_failure_is_reported_with_its_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app()

    @app.on_startup
    def no_database() -> None:
        raise RuntimeError("no database")

    peer = Peer({"type": "lifespan.startup"})
    with caplog.at_level(logging.ERROR, "typhoon.error"):
        await app({"type": "lifespan", "asgi": {"version": "3.0"}}, peer.receive, peer.send)
    assert peer.sent == [
        {"type": "lifespan.startup.failed", "message": "RuntimeError: no database"}
    ]


async def test_unknown_scope_type_raises() -> None:
    peer = Peer()
    with pytest.raises(ValueError, match="webtransport"):
        await make_app()({"type": "webtransport"}, peer.receive, peer.send)


async def test_file_goes_in_chunks_without_sendfile(tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000
    (tmp_path / "big.bin").write_bytes(data)
    app = App()

    @app.get("/file")
    async def file(request: Request) -> File:
        return File(tmp_path / "big.bin", chunk_size=65536)

    peer = Peer()
    await app(http_scope("/file"), peer.receive, peer.send)
    status, headers, body = peer.response()
    assert (status, headers[b"content-length"], body) == (200, b"256000", data)
    pieces = [m for m in peer.sent if m["type"] == "http.response.body"]
    assert len(pieces) > 2  # streamed: start, several pieces, the end
    assert [m["more_body"] for m in pieces][-1] is False


async def test_disconnect_while_reading_the_body_cancels_the_handler() -> None:
    app = App()
    seen: list[str] = []

    @app.post("/read")
    async def read(request: Request) -> Response:
        try:
            await request.body()
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        return Response(b"read")

    peer = Peer(
        {"type": "http.request", "body": b"a", "more_body": True}, {"type": "http.disconnect"}
    )
    scope = http_scope("/read", "POST", [(b"content-length", b"100")])
    await asyncio.wait_for(app(scope, peer.receive, peer.send), 5)
    assert seen == ["cancelled"]
    assert peer.sent == []


async def test_stream_shorter_than_its_content_length_is_left_incomplete() -> None:
    app = App()

    @app.get("/short")
    async def short(request: Request) -> Streaming:
        async def pieces() -> AsyncIterator[bytes]:
            yield b"abc"

        return Streaming(pieces(), headers={"content-length": "10"})

    peer = Peer()
    with pytest.raises(RuntimeError, match="shorter than its Content-Length"):
        await app(http_scope("/short"), peer.receive, peer.send)
    assert all(m.get("more_body", True) for m in peer.sent)  # the server drops the connection
