"""Two typhoon servers on different ports sharing one Redis: what is published through
one reaches WebSocket, SSE and long-poll clients of the other, and an SSE client that
reconnects (to either) with Last-Event-ID misses nothing.

Each server has its own hub and its own Redis connections, as two processes would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import msgspec
import pytest
from examples.live_chat import create_app
from websockets.asyncio.client import connect

from typhoon import HTTPConfig
from typhoon.http import HTTPServer
from typhoon.realtime.redis import RedisPubSub


@pytest.fixture
async def two_servers(redis_url: str) -> AsyncIterator[tuple[str, str]]:
    prefix = f"typhoon-test-{uuid.uuid4().hex}:"
    async with AsyncExitStack() as stack:
        bases = []
        hubs = []
        for _ in range(2):
            hub = RedisPubSub(redis_url, prefix=prefix)
            hubs.append(hub)
            server = HTTPServer(create_app(pubsub=hub), HTTPConfig(access_log=False))
            await server.listen_tcp("127.0.0.1", 0)
            stack.push_async_callback(server.drain, 5)
            bases.append(f"127.0.0.1:{server.port}")
        yield bases[0], bases[1]
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def post(http: httpx.AsyncClient, base: str, nick: str, body: str) -> int:
    response = await http.post(f"http://{base}/a/message/new", json={"nick": nick, "body": body})
    assert response.status_code == 200, response.text
    message_id: int = response.json()["id"]
    return message_id


async def sse_events(
    http: httpx.AsyncClient, base: str, count: int, last_event_id: str | None = None
) -> list[tuple[str, dict[str, str]]]:
    """Read ``count`` events from ``/events``: (id, data) pairs; then disconnect."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    events: list[tuple[str, dict[str, str]]] = []
    async with http.stream("GET", f"http://{base}/events", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event_id, data = "", ""
        async for line in response.aiter_lines():
            if line.startswith("id:"):
                event_id = line[3:].strip()
            elif line.startswith("data:"):
                data = line[5:].strip()
            elif line == "" and data:
                events.append((event_id, msgspec.json.decode(data)))
                event_id, data = "", ""
                if len(events) == count:
                    break
    return events


async def test_a_websocket_on_one_server_gets_what_is_posted_to_the_other(
    two_servers: tuple[str, str],
) -> None:
    a, b = two_servers
    async with connect(f"ws://{a}/ws") as ws, httpx.AsyncClient() as http:
        await asyncio.sleep(0.2)  # the subscription reaches Redis
        posted = await post(http, b, "ada", "hello from b")
        received = msgspec.json.decode(await asyncio.wait_for(ws.recv(), 5))
        assert received == {"id": posted, "nick": "ada", "body": "hello from b"}
        await ws.send(msgspec.json.encode({"nick": "bob", "body": "hi from a's socket"}))
        response = await http.get(f"http://{b}/a/message/updates", params={"cursor": posted})
        update = response.json()
        assert [m["body"] for m in update["messages"]] == ["hi from a's socket"]
        assert update["cursor"] == posted + 1


async def test_an_sse_client_resumes_on_the_other_server_and_misses_nothing(
    two_servers: tuple[str, str],
) -> None:
    a, b = two_servers
    async with httpx.AsyncClient(timeout=10) as http:
        reader = asyncio.create_task(sse_events(http, a, 2))
        await asyncio.sleep(0.2)
        await post(http, b, "ada", "one")
        await post(http, b, "ada", "two")
        first = await asyncio.wait_for(reader, 5)
        assert [data["body"] for _, data in first] == ["one", "two"]
        # Disconnected: two more messages go by, published through either server.
        await post(http, a, "bob", "three")
        await post(http, b, "bob", "four")
        resumed = await asyncio.wait_for(sse_events(http, b, 2, last_event_id=first[-1][0]), 5)
    assert [data["body"] for _, data in resumed] == ["three", "four"]
    ids = [int(event_id) for event_id, _ in first + resumed]
    assert ids == sorted(ids)
    assert len(set(ids)) == 4


async def test_a_long_poll_on_one_server_wakes_for_a_post_to_the_other(
    two_servers: tuple[str, str],
) -> None:
    a, b = two_servers
    async with httpx.AsyncClient(timeout=10) as http:
        # The topic is new (a fresh key prefix): cursor 0 waits for its first message.
        poll = asyncio.create_task(http.get(f"http://{a}/a/message/updates", params={"cursor": 0}))
        await asyncio.sleep(0.2)
        assert not poll.done()
        await post(http, b, "eve", "wake up")
        update = (await asyncio.wait_for(poll, 5)).json()
    assert [m["body"] for m in update["messages"]] == ["wake up"]
