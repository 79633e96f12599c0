"""RedisPubSub against the real Redis on 127.0.0.1:6379 (see conftest.py's ``redis_url``).

Each test uses its own key prefix and deletes its keys afterwards. Two hubs in one test
stand for two processes: they share nothing but Redis. One test runs a real second OS
process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("redis", reason="RedisPubSub needs the redis package (typhoon[redis])")

import redis.asyncio as aioredis

import typhoon
from typhoon.realtime.pubsub import Message, SlowConsumer, Subscription
from typhoon.realtime.redis import RedisPubSub

MakeHub = Callable[..., RedisPubSub]
SRC = str(Path(typhoon.__file__).resolve().parents[1])  # for the child process's imports


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    prefix = f"typhoon-test:{uuid.uuid4().hex}:"
    yield prefix
    client = aioredis.Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def make_hub(redis_url: str, prefix: str) -> AsyncIterator[MakeHub]:
    hubs: list[RedisPubSub] = []

    def make(url: str = redis_url, **kwargs: Any) -> RedisPubSub:
        hub = RedisPubSub(url, prefix=prefix, **kwargs)
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        await hub.close()


async def take(subscription: Subscription, count: int) -> list[Message]:
    async with asyncio.timeout(3):
        return [await anext(subscription) for _ in range(count)]


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]], *, every_s: float = 0.005
) -> None:
    """Poll ``condition`` for up to 3 s: the states it checks have no event to await."""
    for _ in range(int(3 / every_s)):
        holds = condition()
        if holds if isinstance(holds, bool) else await holds:
            return
        await asyncio.sleep(every_s)
    pytest.fail("the condition did not hold within 3 s")


async def synced(hub: RedisPubSub, *topics: str) -> None:
    """Wait until ``hub`` has subscribed to ``topics`` and read their history."""
    await eventually(
        lambda: all(topic in hub._topics and hub._topics[topic].ready for topic in topics)
    )


def ids(messages: list[Message]) -> list[int]:
    return [message.id for message in messages]


async def subscribers_of(redis_url: str, channel: str) -> int:
    client = aioredis.Redis.from_url(redis_url)
    try:
        [(_, count)] = await client.pubsub_numsub(channel)
        return int(count)
    finally:
        await client.aclose()


async def kill_pubsub_connections(redis_url: str, client_name: str) -> int:
    """``CLIENT KILL`` the pub/sub connections named ``client_name`` (only ours)."""
    admin = aioredis.Redis.from_url(redis_url)
    try:
        killed = 0
        for client in await admin.client_list(_type="pubsub"):
            if client["name"] == client_name:
                await admin.client_kill_filter(_id=client["id"])
                killed += 1
        return killed
    finally:
        await admin.aclose()


# -- across hubs ---------------------------------------------------------------------------


async def test_a_message_published_on_one_hub_reaches_another(make_hub: MakeHub) -> None:
    a, b = make_hub(), make_hub()
    async with b.subscribe("room") as sub:
        await synced(b, "room")
        sent = await a.publish("room", {"text": "hi"})
        assert await take(sub, 1) == [sent]


async def test_ids_are_shared_and_increase_across_hubs(make_hub: MakeHub) -> None:
    a, b = make_hub(), make_hub()
    published = [await (a if i % 2 else b).publish("t", i) for i in range(10)]

    assert ids(published) == list(range(1, 11))
    assert [(m.id, m.data) for m in await a.history("t")] == [(i + 1, i) for i in range(10)]
    assert ids(await b.history("t", after=8)) == [9, 10]


async def test_replay_and_concurrent_live_messages_meet_without_gap_or_duplicate(
    make_hub: MakeHub,
) -> None:
    a, b, reader = make_hub(), make_hub(), make_hub()
    await a.publish("t", "before")

    async with reader.subscribe("t", after=0) as sub:
        # Published while the reader subscribes and reads the history: both overlap.
        await asyncio.gather(*(hub.publish("t", i) for i in range(20) for hub in (a, b)))
        received = await take(sub, 41)

    assert ids(received) == list(range(1, 42))


async def test_bytes_and_str_keep_their_types_between_hubs(make_hub: MakeHub) -> None:
    a, b = make_hub(), make_hub()
    values: list[Any] = [b"\x00\xff", "\x00\xff", {"k": [1, 2.5, None, True, "é"]}, 2**64 - 1]
    for value in values:
        await a.publish("t", value)

    async with b.subscribe("t", after=0) as sub:
        received = [m.data for m in await take(sub, len(values))]

    assert received == values
    assert [type(value) for value in received] == [type(value) for value in values]


async def test_resume_from_a_cursor_on_another_hub_replays_from_redis(
    make_hub: MakeHub,
) -> None:
    a = make_hub()
    for i in range(5):
        await a.publish("t", i)
    first = a.subscribe("t", after=0)
    assert ids(await take(first, 2)) == [1, 2]
    cursor = first.cursor
    first.close()

    b = make_hub()  # the client reconnects to another process
    second = b.subscribe("t")
    second.resume_from(cursor)
    async with second:
        await a.publish("t", 5)
        assert ids(await take(second, 4)) == [3, 4, 5, 6]


async def test_after_mapping_on_several_topics_from_redis(make_hub: MakeHub) -> None:
    a, b = make_hub(), make_hub()
    for _ in range(3):
        await a.publish("x", "x")
        await a.publish("y", "y")

    async with b.subscribe("x", "y", after={"x": 2, "y": 0}) as sub:
        received = await take(sub, 4)
        assert sorted((m.topic, m.id) for m in received) == [
            ("x", 3),
            ("y", 1),
            ("y", 2),
            ("y", 3),
        ]
        assert sub.cursor == "x=3,y=3"


async def test_redis_keeps_replay_entries_per_topic(
    make_hub: MakeHub, redis_url: str, prefix: str
) -> None:
    hub = make_hub(replay=3)
    for i in range(5):
        await hub.publish("t", i)

    assert ids(await hub.history("t")) == [3, 4, 5]
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert await client.llen(f"{prefix}log:t") == 3
        assert await client.get(f"{prefix}seq:t") == b"5"
    finally:
        await client.aclose()


async def test_wait_on_one_hub_returns_a_message_published_on_another(
    make_hub: MakeHub,
) -> None:
    a, b = make_hub(), make_hub()
    old = await a.publish("t", "old")

    waiting = asyncio.ensure_future(b.wait("t", timeout=5))
    await synced(b, "t")
    new = await a.publish("t", "new")

    assert await waiting == ([new], 2)
    assert await b.wait("t", after=0, timeout=5) == ([old, new], 2)
    assert await b.wait("t", after=2, timeout=0.05) == ([], 2)


async def test_wait_cancelled_leaves_no_topic_behind(make_hub: MakeHub) -> None:
    hub = make_hub()
    waiting = asyncio.ensure_future(hub.wait("t", timeout=5))
    await synced(hub, "t")
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert hub._topics == {}


async def test_a_topic_is_unsubscribed_once_its_last_reader_leaves(
    make_hub: MakeHub, redis_url: str, prefix: str
) -> None:
    hub = make_hub()
    async with hub.subscribe("t"):
        await synced(hub, "t")
        assert await subscribers_of(redis_url, f"{prefix}pub:t") == 1

    assert hub._topics == {}
    await make_hub().publish("t", "nobody reads this any more")

    async def unsubscribed() -> bool:
        return await subscribers_of(redis_url, f"{prefix}pub:t") == 0

    await eventually(unsubscribed, every_s=0.05)


async def test_a_topic_left_and_joined_again_keeps_receiving(make_hub: MakeHub) -> None:
    a, b = make_hub(), make_hub()
    for _ in range(3):
        async with b.subscribe("t") as sub:
            await synced(b, "t")
            sent = await a.publish("t", "x")
            assert await take(sub, 1) == [sent]


async def test_overflow_policies_apply_to_redis_readers(make_hub: MakeHub) -> None:
    a, b = make_hub(), make_hub(queue_size=2)
    dropping = b.subscribe("t")
    failing = b.subscribe("t", overflow="disconnect")
    async with dropping, failing:
        await synced(b, "t")
        for i in range(5):
            await a.publish("t", i)
        await eventually(lambda: b._topics["t"].last_id == 5)

        assert dropping.dropped == 3
        assert ids(await take(dropping, 2)) == [4, 5]
        with pytest.raises(SlowConsumer):
            await anext(failing)


async def test_drain_ends_redis_subscriptions_and_waits(make_hub: MakeHub) -> None:
    hub = make_hub()
    sub = hub.subscribe("t")
    reader = asyncio.ensure_future(anext(sub))
    waiting = asyncio.ensure_future(hub.wait("t", after=0, timeout=5))
    await synced(hub, "t")

    hub.drain()

    with pytest.raises(StopAsyncIteration):
        await reader
    assert await waiting == ([], 0)


# -- connection loss ----------------------------------------------------------------------


async def test_a_killed_pubsub_connection_recovers_without_losing_messages(
    make_hub: MakeHub, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"typhoon-test-{uuid.uuid4().hex}"
    reader = make_hub(f"{redis_url}?client_name={name}")
    publisher = make_hub()
    async with reader.subscribe("t") as sub:
        await synced(reader, "t")
        await publisher.publish("t", 1)
        assert ids(await take(sub, 1)) == [1]

        assert await kill_pubsub_connections(redis_url, name) == 1
        for i in range(2, 6):  # the reader is not subscribed while these go out
            await publisher.publish("t", i)

        assert ids(await take(sub, 4)) == [2, 3, 4, 5]
        await publisher.publish("t", 6)
        assert ids(await take(sub, 1)) == [6]

    assert "connection to Redis" in caplog.text
    assert "reconnected to Redis" in caplog.text


async def test_messages_beyond_the_replay_window_are_reported_as_lost(
    make_hub: MakeHub, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"typhoon-test-{uuid.uuid4().hex}"
    reader = make_hub(f"{redis_url}?client_name={name}", replay=2)
    publisher = make_hub(replay=2)
    async with reader.subscribe("t") as sub:
        await synced(reader, "t")
        await kill_pubsub_connections(redis_url, name)
        for i in range(5):
            await publisher.publish("t", i)

        assert ids(await take(sub, 2)) == [4, 5]
    assert "3 message(s) of topic 't'" in caplog.text


async def test_a_waiter_recovers_after_its_pubsub_connection_is_killed(
    make_hub: MakeHub, redis_url: str
) -> None:
    name = f"typhoon-test-{uuid.uuid4().hex}"
    reader = make_hub(f"{redis_url}?client_name={name}")
    publisher = make_hub()
    waiting = asyncio.ensure_future(reader.wait("t", after=0, timeout=5))
    await synced(reader, "t")
    await kill_pubsub_connections(redis_url, name)
    sent = await publisher.publish("t", "during the outage")

    assert await waiting == ([sent], 1)


async def test_ids_restart_with_the_readers_when_redis_loses_its_data(
    make_hub: MakeHub, redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"typhoon-test-{uuid.uuid4().hex}"
    reader = make_hub(f"{redis_url}?client_name={name}")
    publisher = make_hub()
    async with reader.subscribe("t") as sub:
        await synced(reader, "t")
        for i in range(3):
            await publisher.publish("t", i)
        assert ids(await take(sub, 3)) == [1, 2, 3]

        client = aioredis.Redis.from_url(redis_url)
        try:
            await client.delete(f"{prefix}seq:t", f"{prefix}log:t")  # as a restart would
        finally:
            await client.aclose()
        await kill_pubsub_connections(redis_url, name)
        await eventually(lambda: "went back from 3 to 0" in caplog.text)

        assert (await publisher.publish("t", "again")).id == 1
        assert [(m.id, m.data) for m in await take(sub, 1)] == [(1, "again")]
        assert sub.cursor == "1"


async def test_a_redis_error_while_reading_history_is_logged_and_retried(
    make_hub: MakeHub, redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        await client.set(f"{prefix}log:t", "not a list")  # LRANGE fails with WRONGTYPE
        hub = make_hub()
        sub = hub.subscribe("t", after=0)
        reader = asyncio.ensure_future(anext(sub))
        await eventually(lambda: "listener error" in caplog.text)
        assert not reader.done()

        await client.delete(f"{prefix}log:t")
        await client.set(f"{prefix}seq:t", 6)
        await synced(hub, "t")
        sent = await make_hub().publish("t", "after the repair")
        assert await asyncio.wait_for(reader, 3) == sent == Message("t", 7, "after the repair")
        sub.close()
    finally:
        await client.aclose()


async def test_malformed_entries_on_a_channel_are_logged_and_skipped(
    make_hub: MakeHub, redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    hub = make_hub()
    async with hub.subscribe("t") as sub:
        await synced(hub, "t")
        client = aioredis.Redis.from_url(redis_url)
        try:
            for junk in (b"junk", b"1 \xc1", b"x1 \x01"):
                await client.publish(f"{prefix}pub:t", junk)
        finally:
            await client.aclose()
        sent = await make_hub().publish("t", "fine")
        assert await take(sub, 1) == [sent]
    assert caplog.text.count("ignored a malformed entry of topic 't'") == 3


async def test_a_quiet_connection_is_checked_with_ping(
    make_hub: MakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("typhoon.realtime.redis._TICK_S", 0.01)
    monkeypatch.setattr("typhoon.realtime.redis._PING_AFTER_S", 0.02)
    hub, publisher = make_hub(), make_hub()
    async with hub.subscribe("t") as sub:
        await synced(hub, "t")
        await asyncio.sleep(0.2)  # several PINGs, each answered
        sent = await publisher.publish("t", "still here")
        assert await take(sub, 1) == [sent]


async def test_publish_to_an_unreachable_redis_raises_connection_error() -> None:
    hub = RedisPubSub("redis://user:secret@127.0.0.1:1/0")
    try:
        with pytest.raises(ConnectionError, match="unreachable") as caught:
            await hub.publish("t", 1)
        assert "secret" not in str(caught.value)
        with pytest.raises(ConnectionError, match="unreachable"):
            await hub.history("t")
        assert "secret" not in repr(hub)
    finally:
        await hub.close()


async def test_readers_wait_out_an_unreachable_redis(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="typhoon.pubsub")
    hub = RedisPubSub("redis://127.0.0.1:1/0")
    try:
        async with hub.subscribe("t") as sub:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.1):
                    await anext(sub)
            assert await hub.wait("t", after=3, timeout=0.05) == ([], 3)
            with pytest.raises(ConnectionError, match="could not learn the last id"):
                await hub.wait("t", timeout=0.05)
            waiting = asyncio.ensure_future(hub.wait("t", timeout=5))
            await asyncio.sleep(0.01)
            hub.drain()
            assert await waiting == ([], 0)
    finally:
        await hub.close()
    assert "Redis at redis://127.0.0.1:1/0 is unreachable" in caplog.text


def test_redis_hub_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="url must start with redis://"):
        RedisPubSub("http://127.0.0.1")
    with pytest.raises(TypeError, match="url must be a str"):
        RedisPubSub(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="prefix must be a str"):
        RedisPubSub(prefix=b"x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="replay must be at least 0"):
        RedisPubSub(replay=-1)


# -- a second OS process ------------------------------------------------------------------

_PUBLISHER = """
import asyncio, sys
from typhoon.realtime.redis import RedisPubSub

async def main(url, prefix, count):
    async with RedisPubSub(url, prefix=prefix) as hub:
        for n in range(count):
            await hub.publish("t", {"from": "child", "n": n})

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def test_a_message_published_by_another_os_process_arrives(
    make_hub: MakeHub, redis_url: str, prefix: str
) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    reader = make_hub()
    async with reader.subscribe("t") as sub:
        await synced(reader, "t")
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _PUBLISHER,
            redis_url,
            prefix,
            "3",
            env=env,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(child.communicate(), 20)
        assert child.returncode == 0, stderr.decode()

        received = await take(sub, 3)
        assert [(m.id, m.data) for m in received] == [
            (n + 1, {"from": "child", "n": n}) for n in range(3)
        ]
        assert (await reader.publish("t", "parent")).id == 4
