"""A real Flask application on typhoon's server, through WSGIHost, with httpx."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.interop import flask_app
from tests.interop.servers import serving

from typhoon import App, Request
from typhoon.http.wsgi import WSGIHost


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    async with serving(WSGIHost(flask_app.app, threads=4)) as server:
        yield f"http://127.0.0.1:{server.port}"


async def test_routes_forms_and_json(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        index = await client.get("/")
        assert index.text == '<a href="/hello/world">hello</a>'
        assert index.headers["content-length"] == str(len(index.content))
        assert (await client.get("/hello/typhoon")).text == "Hello, typhoon!"
        form = await client.post("/form", data={"name": "Ada", "age": "36"})
        assert form.text == "Ada is 36"
        posted = await client.post("/json", json={"a": 1, "b": [2, 3]})
        assert posted.json() == {"received": {"a": 1, "b": [2, 3]}, "count": 2}
        assert (await client.get("/nowhere")).status_code == 404
        head = await client.head("/hello/typhoon")
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == str(len("Hello, typhoon!"))


async def test_a_generator_response_is_streamed_and_closed(base_url: str) -> None:
    flask_app.CLOSED.clear()
    async with (
        httpx.AsyncClient(base_url=base_url) as client,
        client.stream("GET", "/stream") as response,
    ):
        assert response.headers["transfer-encoding"] == "chunked"
        pieces = [piece async for piece in response.aiter_raw()]
    assert b"".join(pieces) == b"".join(f"chunk {i}\n".encode() for i in range(5))
    assert flask_app.CLOSED == ["/stream"]


async def test_a_large_upload_is_read_in_chunks_from_the_stream(base_url: str) -> None:
    payload = os.urandom(5 * 1024 * 1024 + 7)

    async def chunked() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 100_000):
            yield payload[start : start + 100_000]

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        sized = (await client.post("/upload", content=payload)).json()
        streamed = (await client.post("/upload", content=chunked())).json()
    for result in (sized, streamed):
        assert result["size"] == len(payload)
        assert result["sha256"] == hashlib.sha256(payload).hexdigest()
        assert result["reads"] >= len(payload) // 65536


async def test_an_exception_is_a_500_logged_once(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        async with httpx.AsyncClient(base_url=base_url) as client:
            response = await client.get("/boom")
            assert response.status_code == 500
            assert "boom" not in response.text
    # Flask logs the traceback itself (app.logger) and answers 500: nothing reaches typhoon.
    assert [r for r in caplog.records if r.name == "typhoon.error"] == []
    assert len([r for r in caplog.records if "boom" in str(r.exc_info)]) == 1


async def test_the_pool_bound_holds_and_the_loop_stays_responsive() -> None:
    """Three slow requests on two threads: at most two run at once, native routes answer."""
    flask_app.SLOW.most = 0
    app = App()
    app.mount("/flask", WSGIHost(flask_app.app, threads=2))

    @app.get("/ping")
    async def ping(request: Request) -> str:
        return "pong"

    async with (
        serving(app) as server,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client,
    ):
        started = time.monotonic()
        slow = [
            asyncio.create_task(client.get("/flask/slow", params={"s": "0.4"})) for _ in range(3)
        ]
        await asyncio.sleep(0.1)
        pinged = time.monotonic()
        assert (await client.get("/ping")).text == "pong"
        assert time.monotonic() - pinged < 0.3  # answered while the threads sleep
        assert [r.text for r in await asyncio.gather(*slow)] == ["slow done"] * 3
        elapsed = time.monotonic() - started
    assert flask_app.SLOW.most == 2
    assert elapsed >= 0.8  # the third waited for a thread: two rounds of 0.4 s
