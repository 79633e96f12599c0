"""PostgresPubSub against the real PostgreSQL on 127.0.0.1:5432 (conftest's ``postgres_dsn``).

Each test uses its own tables and drops them afterwards; two hubs stand for two processes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

pytest.importorskip("asyncpg", reason="PostgresPubSub needs asyncpg (typhoon[postgres])")

import asyncpg  # type: ignore[import-untyped]

from typhoon.realtime.postgres import PostgresPubSub
from typhoon.realtime.pubsub import Message, Subscription

MakeHub = Callable[..., PostgresPubSub]


@pytest.fixture
async def table(postgres_dsn: str) -> AsyncIterator[str]:
    name = f"typhoon_test_{uuid.uuid4().hex[:16]}"
    yield name
    connection = await asyncpg.connect(postgres_dsn)
    try:
        await connection.execute(f"DROP TABLE IF EXISTS {name}_topics, {name}_log")
    finally:
        await connection.close()


@pytest.fixture
async def make_hub(postgres_dsn: str, table: str) -> AsyncIterator[MakeHub]:
    hubs: list[PostgresPubSub] = []

    def make(dsn: str = postgres_dsn, **kwargs: Any) -> PostgresPubSub:
        hub = PostgresPubSub(dsn, table=table, **kwargs)
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        await hub.close()


async def take(subscription: Subscription, count: int) -> list[Message]:
    async with asyncio.timeout(3):
        return [await anext(subscription) for _ in range(count)]


async def synced(hub: PostgresPubSub, *topics: str) -> None:
    for _ in range(600):
        if all(topic in hub._topics and hub._topics[topic].ready for topic in topics):
            return
        await asyncio.sleep(0.005)
    pytest.fail(f"{topics} not synced within 3 s")


def ids(messages: list[Message]) -> list[int]:
    return [message.id for message in messages]


async def test_a_message_published_on_one_hub_reaches_another(make_hub: MakeHub) -> None:
    a, b = make_hub(), make_hub()
    async with b.subscribe("room") as sub:
        await synced(b, "room")
        sent = await a.publish("room", {"text": "hi"})
        assert await take(sub, 1) == [sent]


async def test_ids_are_shared_and_increase_across_hubs(make_hub: MakeHub) -> None:
    a, b = make_hub(replay=4), make_hub(replay=4)
    published = [await (a if i % 2 else b).publish("t", i) for i in range(10)]

    assert ids(published) == list(range(1, 11))
    assert ids(await b.history("t")) == [7, 8, 9, 10]
    assert ids(await a.history("t", after=9)) == [10]


async def test_replay_and_concurrent_live_messages_meet_without_gap_or_duplicate(
    make_hub: MakeHub,
) -> None:
    a, b, reader = make_hub(), make_hub(), make_hub()
    await a.publish("t", "before")

    async with reader.subscribe("t", after=0) as sub:
        await asyncio.gather(*(hub.publish("t", i) for i in range(15) for hub in (a, b)))
        received = await take(sub, 31)

    assert ids(received) == list(range(1, 32))


async def test_bytes_str_and_json_keep_their_types(make_hub: MakeHub) -> None:
    a, b = make_hub(), make_hub()
    values: list[Any] = [b"\x00\xff", "\x00\xff é", {"k": [1, 2.5, None, True]}]
    for value in values:
        await a.publish("t", value)

    async with b.subscribe("t", after=0) as sub:
        assert [m.data for m in await take(sub, 3)] == values


async def test_data_too_large_for_a_notification_is_read_from_the_log(
    make_hub: MakeHub,
) -> None:
    a, b = make_hub(), make_hub()
    big = {"blob": "x" * 20_000}
    async with b.subscribe("t") as sub:
        await synced(b, "t")
        sent = await a.publish("t", big)
        assert await take(sub, 1) == [sent]

    with pytest.raises(ValueError, match="too large for a PostgreSQL notification"):
        await make_hub(replay=0).publish("t", big)


async def test_resume_from_a_cursor_on_another_hub(make_hub: MakeHub) -> None:
    a = make_hub()
    for i in range(4):
        await a.publish("t", i)

    b = make_hub()
    sub = b.subscribe("t")
    sub.resume_from("2")
    async with sub:
        await a.publish("t", 4)
        assert ids(await take(sub, 3)) == [3, 4, 5]


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


async def test_a_terminated_listen_connection_recovers_without_losing_messages(
    make_hub: MakeHub, postgres_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"typhoon_test_{uuid.uuid4().hex[:12]}"
    reader = make_hub(f"{postgres_dsn}?application_name={name}")
    publisher = make_hub()
    async with reader.subscribe("t") as sub:
        await synced(reader, "t")
        await publisher.publish("t", 1)
        assert ids(await take(sub, 1)) == [1]

        admin = await asyncpg.connect(postgres_dsn)
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = $1",
                name,
            )
        finally:
            await admin.close()
        assert killed >= 1
        for i in range(2, 6):
            await publisher.publish("t", i)

        assert ids(await take(sub, 4)) == [2, 3, 4, 5]
    assert "reconnected to PostgreSQL" in caplog.text


async def test_publish_to_an_unreachable_postgres_raises_connection_error() -> None:
    hub = PostgresPubSub("postgresql://postgres@127.0.0.1:1/postgres")
    try:
        with pytest.raises(ConnectionError, match="PostgreSQL is unreachable"):
            await hub.publish("t", 1)
        with pytest.raises(ConnectionError, match="PostgreSQL is unreachable"):
            await hub.history("t")
    finally:
        await hub.close()


def test_postgres_hub_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="dsn must start with postgresql://"):
        PostgresPubSub("mysql://x")
    with pytest.raises(TypeError, match="dsn must be a str"):
        PostgresPubSub(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="table must be lowercase"):
        PostgresPubSub(table="Robert'); DROP TABLE students;--")
    assert repr(PostgresPubSub(table="t1")).startswith("PostgresPubSub(table='t1'")


async def test_malformed_notifications_are_logged_and_skipped(
    make_hub: MakeHub, postgres_dsn: str, table: str, caplog: pytest.LogCaptureFixture
) -> None:
    hub = make_hub()
    async with hub.subscribe("t") as sub:
        await synced(hub, "t")
        admin = await asyncpg.connect(postgres_dsn)
        try:
            for junk in ("junk", '["1", "t", null]', '[1, "t", "not base64!"]'):
                await admin.execute("SELECT pg_notify($1, $2)", table, junk)
        finally:
            await admin.close()
        sent = await make_hub().publish("t", "fine")
        assert await take(sub, 1) == [sent]
    assert caplog.text.count("ignored a malformed notification") == 3


async def test_a_quiet_listen_connection_is_checked(
    make_hub: MakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("typhoon.realtime.postgres._PING_AFTER_S", 0.02)
    hub, publisher = make_hub(), make_hub()
    async with hub.subscribe("t") as sub:
        await synced(hub, "t")
        await asyncio.sleep(0.15)  # several checks, each answered
        sent = await publisher.publish("t", "still here")
        assert await take(sub, 1) == [sent]
