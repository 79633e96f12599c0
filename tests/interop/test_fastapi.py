"""A real FastAPI application on typhoon's server, through ASGIHost, with real clients."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.interop import fastapi_app
from tests.interop.servers import serving
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from typhoon.http.asgi import ASGIHost


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    async with serving(ASGIHost(fastapi_app.app)) as server:
        yield f"http://127.0.0.1:{server.port}"


async def test_json_routes_with_path_and_query_parameters(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.get("/items/42", params={"q": "typhoon"})
        assert response.status_code == 200
        assert response.json() == {"item_id": 42, "q": "typhoon"}
        assert (await client.get("/items/nope")).status_code == 422
        created = await client.post("/items", json={"name": "kite", "price": 3})
        assert created.json() == {"created": {"name": "kite", "price": 3}}
        assert (await client.get("/missing")).status_code == 404


async def test_lifespan_startup_fills_the_state_and_shutdown_runs() -> None:
    fastapi_app.EVENTS.clear()
    async with serving(ASGIHost(fastapi_app.app, lifespan="on")) as server:
        assert fastapi_app.EVENTS == ["startup"]
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{server.port}/state")
        assert response.json() == {"greeting": "hello from lifespan"}
    assert fastapi_app.EVENTS == ["startup", "shutdown"]


async def test_a_streamed_upload_of_several_megabytes_arrives_in_pieces(base_url: str) -> None:
    payload = os.urandom(6 * 1024 * 1024)

    async def body() -> AsyncIterator[bytes]:  # chunked on the wire
        for start in range(0, len(payload), 256 * 1024):
            yield payload[start : start + 256 * 1024]

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        response = await client.post("/upload", content=body())
        sized = await client.post("/upload", content=payload)  # with a Content-Length
    for result in (response.json(), sized.json()):
        assert result["size"] == len(payload)
        assert result["sha256"] == hashlib.sha256(payload).hexdigest()
        assert result["pieces"] > 1  # read as it arrived, not in one buffer


async def test_a_streaming_response_arrives_chunk_by_chunk(base_url: str) -> None:
    async with (
        httpx.AsyncClient(base_url=base_url) as client,
        client.stream("GET", "/stream") as response,
    ):
        assert response.headers["transfer-encoding"] == "chunked"
        text = "".join([piece async for piece in response.aiter_text()])
    assert text == "".join(fastapi_app.STREAM_PARTS)


async def test_an_exception_is_a_500_logged_once(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="typhoon.error"):
        async with httpx.AsyncClient(base_url=base_url) as client:
            response = await client.get("/boom")
            assert response.status_code == 500
            assert "boom" not in response.text
            assert (await client.get("/items/1")).status_code == 200  # the connection lives
    logged = [r for r in caplog.records if r.name == "typhoon.error"]
    assert len(logged) == 1
    assert logged[0].exc_info is not None


async def test_websocket_echo_with_subprotocol_text_bytes_and_close(base_url: str) -> None:
    url = base_url.replace("http", "ws") + "/ws"
    async with connect(url, subprotocols=["echo"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "echo"
        await ws.send("hi")
        assert await ws.recv() == "echo: hi"
        await ws.send(b"\x01\x02\x03")
        assert await ws.recv() == b"\x03\x02\x01"
        await ws.send("close")
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "asked to")


async def test_websocket_closed_by_the_client_reaches_the_app(base_url: str) -> None:
    url = base_url.replace("http", "ws") + "/ws"
    async with connect(url) as ws:
        assert ws.subprotocol is None
        await ws.send("one")
        assert await ws.recv() == "echo: one"
    assert ws.close_code == 1000


async def test_websocket_closed_before_accept_is_a_403(base_url: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(base_url.replace("http", "ws") + "/ws-denied"):
            pass
    assert refused.value.response.status_code == 403
