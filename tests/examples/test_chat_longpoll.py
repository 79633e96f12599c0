"""examples/chat_longpoll.py: the long-polling chat, in memory and over a real socket."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from examples.chat_longpoll import TOPIC, create_app

from typhoon import App, HTTPConfig
from typhoon.http import HTTPServer
from typhoon.testing import AsyncTestClient


def waiters(app: App) -> int:
    topic = app.pubsub._topics.get(TOPIC)
    return 0 if topic is None else len(topic.waiters)


async def test_post_then_poll_returns_at_once_with_the_next_cursor() -> None:
    async with AsyncTestClient(create_app()) as client:
        first = await client.post("/a/message/new", json={"nick": "ada", "body": "hello"})
        assert first.status_code == 200
        assert first.json() == {"id": 1, "nick": "ada", "body": "hello"}
        await client.post("/a/message/new", json={"nick": "bob", "body": " hi "})
        update = (await client.get("/a/message/updates", params={"cursor": 0})).json()
        assert update == {
            "messages": [
                {"id": 1, "nick": "ada", "body": "hello"},
                {"id": 2, "nick": "bob", "body": "hi"},
            ],
            "cursor": 2,
        }


async def test_a_poll_waits_for_the_next_message() -> None:
    app = create_app()
    async with AsyncTestClient(app) as client:
        poll = asyncio.create_task(client.get("/a/message/updates", params={"cursor": 0}))
        await asyncio.sleep(0.05)
        assert not poll.done()
        assert waiters(app) == 1
        await client.post("/a/message/new", json={"nick": "eve", "body": "wake"})
        update = (await asyncio.wait_for(poll, 5)).json()
    assert [m["body"] for m in update["messages"]] == ["wake"]
    assert waiters(app) == 0


async def test_the_page_shows_the_history_escaped() -> None:
    async with AsyncTestClient(create_app()) as client:
        await client.post("/a/message/new", json={"nick": "<b>", "body": "<script>x</script>"})
        page = (await client.get("/")).text
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<script>x</script>" not in page
    assert "let cursor = 1;" in page


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([1], "the body must be a JSON object"),
        ({"nick": "a"}, "body must be a non-empty string"),
        ({"nick": " ", "body": "x"}, "nick must be a non-empty string"),
        ({"nick": "a", "body": "x" * 1001}, "body is longer than 1000 characters"),
    ],
)
async def test_bad_messages_get_400_naming_the_field(body: Any, reason: str) -> None:
    async with AsyncTestClient(create_app()) as client:
        response = await client.post("/a/message/new", json=body)
    assert response.status_code == 400
    assert reason in response.text


async def test_a_bad_cursor_gets_400() -> None:
    async with AsyncTestClient(create_app()) as client:
        response = await client.get("/a/message/updates", params={"cursor": "-1"})
    assert response.status_code == 400
    assert "cursor must be a non-negative integer" in response.text


async def test_a_client_that_goes_away_cancels_its_wait() -> None:
    app = create_app()
    server = HTTPServer(app, HTTPConfig(access_log=False))
    await server.listen_tcp("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /a/message/updates?cursor=0 HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        for _ in range(100):
            if waiters(app):
                break
            await asyncio.sleep(0.01)
        assert waiters(app) == 1
        writer.close()  # the tab is closed: the server sees EOF
        for _ in range(100):
            if not waiters(app):
                break
            await asyncio.sleep(0.01)
        assert waiters(app) == 0
        assert await reader.read() == b""  # closed without an answer
    finally:
        assert await server.drain(5)
