"""The in-memory hub: ids, replay, cursors, overflow, long polling, drain and bounds."""

from __future__ import annotations

import asyncio
import gc
import json
import math
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from typhoon.realtime.pubsub import (
    MemoryPubSub,
    Message,
    PubSub,
    SlowConsumer,
    Subscription,
    hub_from_setting,
)


async def take(subscription: Subscription, count: int) -> list[Message]:
    """The next ``count`` messages, failing the test instead of hanging."""
    async with asyncio.timeout(2):
        return [await anext(subscription) for _ in range(count)]


async def pending(subscription: Subscription) -> bool:
    """Whether the next message is still to come (nothing queued for it now)."""
    try:
        async with asyncio.timeout(0.05):
            await anext(subscription)
    except TimeoutError:
        return True
    return False


def ids(messages: list[Message]) -> list[int]:
    return [message.id for message in messages]


@pytest.fixture
async def hub() -> Any:
    async with MemoryPubSub() as hub:
        yield hub


# -- ids, ordering, replay -------------------------------------------------------------


async def test_publish_numbers_each_topic_from_1(hub: MemoryPubSub) -> None:
    first = await hub.publish("a", "x")
    second = await hub.publish("a", "y")
    other = await hub.publish("b", "z")

    assert first == Message("a", 1, "x")
    assert second == Message("a", 2, "y")
    assert other == Message("b", 1, "z")


async def test_subscriber_receives_live_messages_in_order(hub: MemoryPubSub) -> None:
    async with hub.subscribe("t") as sub:
        for i in range(5):
            await hub.publish("t", {"n": i})
        received = await take(sub, 5)

    assert ids(received) == [1, 2, 3, 4, 5]
    assert [m.data for m in received] == [{"n": i} for i in range(5)]


async def test_subscription_is_lazy_until_first_iteration(hub: MemoryPubSub) -> None:
    sub = hub.subscribe("t")
    await hub.publish("t", "before start")  # not seen: the subscription reads "from now"

    assert hub._topics["t"].inboxes == set()
    next_message = asyncio.ensure_future(anext(sub))
    await asyncio.sleep(0)
    await hub.publish("t", "after start")

    assert (await next_message).data == "after start"
    sub.close()


async def test_after_replays_buffered_then_live_without_gap_or_duplicate(
    hub: MemoryPubSub,
) -> None:
    for i in range(1, 6):
        await hub.publish("t", i)

    async with hub.subscribe("t", after=2) as sub:
        await hub.publish("t", 6)
        received = await take(sub, 4)

    assert ids(received) == [3, 4, 5, 6]


async def test_after_mapping_sets_a_position_per_topic(hub: MemoryPubSub) -> None:
    for _ in range(3):
        await hub.publish("a", "a")
        await hub.publish("b", "b")

    async with hub.subscribe("a", "b", "c", after={"a": 1, "b": 2}) as sub:
        await hub.publish("c", "c")
        received = await take(sub, 4)

    assert sorted((m.topic, m.id) for m in received) == [("a", 2), ("a", 3), ("b", 3), ("c", 1)]


async def test_replay_buffer_keeps_the_last_replay_messages() -> None:
    async with MemoryPubSub(replay=3) as hub:
        for i in range(10):
            await hub.publish("t", i)

        assert ids(await hub.history("t")) == [8, 9, 10]
        assert ids(await hub.history("t", after=9)) == [10]
        assert await hub.history("unknown") == []
        async with hub.subscribe("t", after=0) as sub:
            assert ids(await take(sub, 3)) == [8, 9, 10]


async def test_replay_zero_keeps_nothing_and_forgets_unread_topics() -> None:
    async with MemoryPubSub(replay=0) as hub:
        await hub.publish("t", "a")
        assert await hub.history("t") == []
        assert hub._topics == {}
        async with hub.subscribe("t", after=0) as sub:
            await hub.publish("t", "live")
            assert [m.data for m in await take(sub, 1)] == ["live"]


async def test_multi_topic_subscription_reads_every_topic(hub: MemoryPubSub) -> None:
    async with hub.subscribe("a", "b", "a") as sub:
        assert sub.topics == ("a", "b")
        await hub.publish("a", 1)
        await hub.publish("b", 2)
        await hub.publish("c", 3)
        await hub.publish("a", 4)
        received = await take(sub, 3)

    assert [(m.topic, m.data) for m in received] == [("a", 1), ("b", 2), ("a", 4)]


async def test_subscription_close_ends_a_pending_iteration(hub: MemoryPubSub) -> None:
    sub = hub.subscribe("t")
    reader = asyncio.ensure_future(anext(sub))
    await asyncio.sleep(0)
    sub.close()

    with pytest.raises(StopAsyncIteration):
        await reader
    with pytest.raises(StopAsyncIteration):
        await anext(sub)
    assert "t" not in hub._topics
    sub.close()  # idempotent


async def test_async_for_reads_until_close(hub: MemoryPubSub) -> None:
    received: list[Any] = []
    async with hub.subscribe("t") as sub:
        await hub.publish("t", "one")
        await hub.publish("t", "two")
        async for message in sub:
            received.append(message.data)
            if len(received) == 2:
                sub.close()
    assert received == ["one", "two"]


# -- cursors ----------------------------------------------------------------------------


async def test_cursor_of_one_topic_is_the_last_id_yielded(hub: MemoryPubSub) -> None:
    await hub.publish("t", "old")
    sub = hub.subscribe("t")
    assert sub.cursor == ""  # not started, read from now: no position yet

    async with sub:
        assert sub.cursor == "1"
        await hub.publish("t", "new")
        await take(sub, 1)
        assert sub.cursor == "2"
        async with sub:  # entering again starts nothing new
            assert repr(sub) == "<Subscription ['t'] started cursor='2'>"
    assert repr(sub) == "<Subscription ['t'] closed cursor='2'>"
    assert repr(hub.subscribe("a", "b")) == "<Subscription ['a', 'b'] new cursor=''>"
    assert repr(hub) == "MemoryPubSub(replay=100, queue_size=1000, overflow='drop_oldest')"


async def test_cursor_of_several_topics_is_a_topic_id_token(hub: MemoryPubSub) -> None:
    odd = "x,y=z%é 1"
    async with hub.subscribe("a", odd, after={"a": 0}) as sub:
        await hub.publish(odd, "v")
        await take(sub, 1)
        assert sub.cursor == "a=0,x%2Cy%3Dz%25%C3%A9%201=1"


async def test_resume_from_replays_what_came_after_the_cursor(hub: MemoryPubSub) -> None:
    for i in range(5):
        await hub.publish("t", i)

    first = hub.subscribe("t", after=0)
    assert ids(await take(first, 2)) == [1, 2]
    cursor = first.cursor
    first.close()

    second = hub.subscribe("t")
    second.resume_from(cursor)
    assert ids(await take(second, 3)) == [3, 4, 5]
    second.close()


@pytest.mark.parametrize("topics", [("a", "b"), ("chat:1", "x,y=z%", "ünï cödé", "a b")])
async def test_cursor_token_round_trips_through_resume_from(
    hub: MemoryPubSub, topics: tuple[str, ...]
) -> None:
    for topic in topics:
        await hub.publish(topic, 1)
        await hub.publish(topic, 2)

    first = hub.subscribe(*topics, after=0)
    await take(first, len(topics) + 1)
    cursor = first.cursor
    positions = dict(first._inbox.positions)
    first.close()

    second = hub.subscribe(*topics)
    second.resume_from(cursor)
    assert second._inbox.positions == positions
    assert cursor.isascii()
    assert cursor.isprintable()
    second.close()


async def test_resume_from_ignores_unknown_topics_and_keeps_unnamed_ones(
    hub: MemoryPubSub,
) -> None:
    sub = hub.subscribe("a", "b", after={"b": 4})
    sub.resume_from("a=2,zzz=9")
    assert sub._inbox.positions == {"a": 2, "b": 4}
    sub.resume_from("")
    assert sub._inbox.positions == {"a": 2, "b": 4}
    single = hub.subscribe("a")
    single.resume_from(" 7 ")
    assert single.cursor == "7"
    single.resume_from("a=8")
    assert single.cursor == "8"


@pytest.mark.parametrize(
    ("topics", "token"),
    [
        (("a",), "abc"),
        (("a",), "-1"),
        (("a",), "1.5"),
        (("a",), "a="),
        (("a",), "=3"),
        (("a",), "a=x"),
        (("a",), "a=1,,b=2"),
        (("a",), "99999999999999999999"),
        (("a",), "a=9223372036854775808"),
        (("a", "b"), "7"),
        (("a", "b"), "a=1,a=2"),
    ],
)
async def test_resume_from_a_malformed_token_raises_value_error_naming_it(
    hub: MemoryPubSub, topics: tuple[str, ...], token: str
) -> None:
    sub = hub.subscribe(*topics)
    with pytest.raises(ValueError, match="malformed cursor") as caught:
        sub.resume_from(token)
    assert repr(token) in str(caught.value)


async def test_resume_from_refuses_a_non_str_and_a_started_subscription(
    hub: MemoryPubSub,
) -> None:
    sub = hub.subscribe("t")
    with pytest.raises(TypeError, match="cursor must be a str"):
        sub.resume_from(7)  # type: ignore[arg-type]
    async with sub:
        with pytest.raises(RuntimeError, match="before iteration starts"):
            sub.resume_from("1")


async def test_a_cursor_ahead_of_the_topic_counts_as_zero(hub: MemoryPubSub) -> None:
    # The client's cursor comes from a previous life of the hub: all is new to it.
    await hub.publish("t", "a")
    await hub.publish("t", "b")
    sub = hub.subscribe("t")
    sub.resume_from("40")
    assert ids(await take(sub, 2)) == [1, 2]
    sub.close()
    assert ids((await hub.wait("t", after=40, timeout=0))[0]) == [1, 2]


# -- overflow and bounds ----------------------------------------------------------------


async def test_drop_oldest_keeps_the_newest_and_counts_the_dropped(hub: MemoryPubSub) -> None:
    async with hub.subscribe("t", queue_size=3) as sub:
        for i in range(10):
            await hub.publish("t", i)
        assert sub.dropped == 7
        assert ids(await take(sub, 3)) == [8, 9, 10]
        assert await pending(sub)


async def test_disconnect_ends_the_slow_subscriber_with_slow_consumer() -> None:
    async with MemoryPubSub(queue_size=2, overflow="disconnect") as hub:
        slow = hub.subscribe("t")
        fast = hub.subscribe("t", overflow="drop_oldest", queue_size=100)
        await slow.__aenter__()
        await fast.__aenter__()
        for i in range(3):
            await hub.publish("t", i)

        with pytest.raises(SlowConsumer, match="more than 2 messages behind") as caught:
            await anext(slow)
        assert caught.value.topics == ("t",)
        assert caught.value.queue_size == 2
        assert isinstance(caught.value, Exception)
        with pytest.raises(StopAsyncIteration):
            await anext(slow)
        assert hub._topics["t"].inboxes == {fast._inbox}  # the slow one is detached
        assert ids(await take(fast, 3)) == [1, 2, 3]
        fast.close()


async def test_slow_consumer_that_never_reads_stays_bounded(hub: MemoryPubSub) -> None:
    async with hub.subscribe("t") as sub:
        for i in range(100_000):
            await hub.publish("t", i)

        assert len(sub._inbox.queue) == hub.queue_size == 1000
        assert sub.dropped == 99_000
        assert len(hub._topics["t"].buffer) == hub.replay == 100
        assert ids(await take(sub, 2)) == [99_001, 99_002]


async def test_a_dropped_subscription_is_detached_when_collected(hub: MemoryPubSub) -> None:
    sub = hub.subscribe("t")
    await sub.__aenter__()
    assert len(hub._topics["t"].inboxes) == 1

    del sub
    gc.collect()

    assert "t" not in hub._topics


async def test_idle_topics_are_forgotten_only_when_nothing_is_buffered(
    hub: MemoryPubSub,
) -> None:
    async with hub.subscribe("quiet"):
        pass
    await hub.wait("quiet", timeout=0)
    assert "quiet" not in hub._topics

    await hub.publish("kept", 1)
    async with hub.subscribe("kept"):
        pass
    assert hub._topics["kept"].inboxes == set()
    assert ids(await hub.history("kept")) == [1]


# -- wait() -------------------------------------------------------------------------------


async def test_wait_returns_buffered_messages_at_once_up_to_limit(hub: MemoryPubSub) -> None:
    for i in range(5):
        await hub.publish("t", i)

    messages, cursor = await hub.wait("t", after=1, limit=2, timeout=0)
    assert (ids(messages), cursor) == ([2, 3], 3)
    messages, cursor = await hub.wait("t", after=cursor, timeout=0)
    assert (ids(messages), cursor) == ([4, 5], 5)


async def test_wait_times_out_with_no_messages_and_the_same_cursor(hub: MemoryPubSub) -> None:
    await hub.publish("t", "x")

    assert await hub.wait("t", after=1, timeout=0.01) == ([], 1)
    assert await hub.wait("t", timeout=0.01) == ([], 1)
    assert await hub.wait("empty", timeout=0) == ([], 0)
    assert hub._topics["t"].waiters == set()


async def test_wait_from_now_returns_the_next_message(hub: MemoryPubSub) -> None:
    await hub.publish("t", "old")
    waiting = asyncio.ensure_future(hub.wait("t"))
    await asyncio.sleep(0)
    await hub.publish("t", "new")

    messages, cursor = await waiting
    assert [m.data for m in messages] == ["new"]
    assert cursor == 2


async def test_wait_with_replay_zero_returns_the_message_that_woke_it() -> None:
    async with MemoryPubSub(replay=0) as hub:
        waiting = asyncio.ensure_future(hub.wait("t", after=0))
        await asyncio.sleep(0)
        await hub.publish("t", "only")
        assert await waiting == ([Message("t", 1, "only")], 1)
        assert hub._topics == {}


async def test_wait_cancelled_leaves_no_waiter_behind(hub: MemoryPubSub) -> None:
    waiting = [asyncio.ensure_future(hub.wait("t", after=0)) for _ in range(3)]
    await asyncio.sleep(0)
    assert len(hub._topics["t"].waiters) == 3

    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)

    assert "t" not in hub._topics
    assert all(task.cancelled() for task in waiting)


async def test_wait_with_a_kept_topic_removes_its_waiter_when_cancelled(
    hub: MemoryPubSub,
) -> None:
    await hub.publish("t", "x")
    task = asyncio.ensure_future(hub.wait("t", after=1))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert hub._topics["t"].waiters == set()


# -- drain and close -------------------------------------------------------------------------


async def test_drain_ends_iterators_and_wakes_waits(hub: MemoryPubSub) -> None:
    await hub.publish("t", "x")
    sub = hub.subscribe("t")
    reader = asyncio.ensure_future(anext(sub))
    waiting = asyncio.ensure_future(hub.wait("t", after=1, timeout=30))
    await asyncio.sleep(0)

    hub.drain()

    with pytest.raises(StopAsyncIteration):
        await reader
    assert await waiting == ([], 1)
    assert hub.is_draining
    later = hub.subscribe("t", after=0)
    with pytest.raises(StopAsyncIteration):
        await anext(later)
    assert await hub.wait("t", after=1, timeout=30) == ([], 1)  # no waiting any more
    assert ids((await hub.wait("t", after=0))[0]) == [1]
    assert (await hub.publish("t", "still works")).id == 2


async def test_close_is_idempotent_and_later_calls_raise() -> None:
    hub = MemoryPubSub()
    sub = hub.subscribe("t")
    await sub.__aenter__()
    await hub.close()
    await hub.close()

    with pytest.raises(StopAsyncIteration):
        await anext(sub)
    with pytest.raises(RuntimeError, match="MemoryPubSub is closed"):
        await hub.publish("t", 1)
    with pytest.raises(RuntimeError, match="closed"):
        await hub.wait("t")
    with pytest.raises(RuntimeError, match="closed"):
        await hub.history("t")


# -- argument checks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"replay": -1}, ValueError, "replay must be at least 0"),
        ({"replay": 1.5}, TypeError, "replay must be an int"),
        ({"queue_size": 0}, ValueError, "queue_size must be at least 1"),
        ({"queue_size": True}, TypeError, "queue_size must be an int"),
        ({"overflow": "block"}, ValueError, "overflow must be 'drop_oldest' or 'disconnect'"),
    ],
)
def test_hub_arguments_are_checked(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        MemoryPubSub(**kwargs)


def test_the_base_hub_is_abstract() -> None:
    with pytest.raises(TypeError, match="abstract"):
        PubSub()  # type: ignore[abstract]


def _calls(hub: PubSub) -> list[tuple[Callable[[], object], type[Exception], str]]:
    return [
        (lambda: hub.subscribe(), ValueError, "at least one topic"),
        (lambda: hub.subscribe(""), ValueError, "topics must not be empty"),
        (lambda: hub.subscribe(["a"]), TypeError, "topics must be a str"),  # type: ignore[arg-type]
        (lambda: hub.subscribe("a", after=-1), ValueError, "after must be at least 0"),
        (lambda: hub.subscribe("a", after=2**63), ValueError, "after must be at most"),
        (lambda: hub.subscribe("a", after="3"), TypeError, "after must be an int"),  # type: ignore[arg-type]
        (lambda: hub.subscribe("a", after={"b": 1}), ValueError, "after names 'b'"),
        (lambda: hub.subscribe("a", after={"a": -2}), ValueError, r"after\['a'\]"),
        (lambda: hub.subscribe("a", queue_size=0), ValueError, "queue_size must be at least 1"),
        (lambda: hub.subscribe("a", overflow="x"), ValueError, "overflow must be"),  # type: ignore[arg-type]
    ]


async def test_subscribe_arguments_are_checked(hub: MemoryPubSub) -> None:
    for call, error, match in _calls(hub):
        with pytest.raises(error, match=match):
            call()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda hub: hub.publish("", 1), ValueError, "topic must not be empty"),
        (lambda hub: hub.publish(b"t", 1), TypeError, "topic must be a str"),
        (lambda hub: hub.publish("\ud800", 1), ValueError, "topic must be encodable as UTF-8"),
        (lambda hub: hub.publish("a\x00b", 1), ValueError, "topic must not contain NUL"),
        (lambda hub: hub.wait(""), ValueError, "topic must not be empty"),
        (lambda hub: hub.wait("t", after=-1), ValueError, "after must be at least 0"),
        (lambda hub: hub.wait("t", timeout=-1), ValueError, "timeout must be 0 or more"),
        (lambda hub: hub.wait("t", timeout=math.nan), ValueError, "timeout must be 0 or more"),
        (lambda hub: hub.wait("t", timeout="1"), TypeError, "timeout must be a number"),
        (lambda hub: hub.wait("t", limit=0), ValueError, "limit must be at least 1"),
        (lambda hub: hub.history("t", after=None), TypeError, "after must be an int"),
    ],
)
async def test_call_arguments_are_checked(
    hub: MemoryPubSub,
    call: Callable[[MemoryPubSub], Awaitable[object]],
    error: type[Exception],
    match: str,
) -> None:
    with pytest.raises(error, match=match):
        await call(hub)
    assert hub._topics == {}


@pytest.mark.parametrize(
    "data",
    ["text", b"\x00bytes", None, True, 3, -(2**63), 2**64 - 1, 1.5, [], {"a": [1, {"b": None}]}],
)
async def test_publish_accepts_str_bytes_and_json_values(hub: MemoryPubSub, data: Any) -> None:
    assert (await hub.publish("t", data)).data == data


def _cycle() -> list[Any]:
    looped: list[Any] = []
    looped.append(looped)
    return looped


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        ((1, 2), TypeError, r"data is a tuple \(use a list\)"),
        ({"a": b"x"}, TypeError, r"data\['a'\] is a bytes"),
        ({1: "x"}, TypeError, "non-str key 1"),
        ([math.nan], ValueError, r"data\[0\] is nan"),
        (math.inf, ValueError, "data is inf"),
        (2**64, ValueError, "outside the 64-bit range"),
        ({"s": {1, 2}}, TypeError, r"data\['s'\] is a set"),
        (object(), TypeError, "data is a object"),
        (_cycle(), ValueError, "nested more than 100 levels"),
    ],
)
async def test_publish_refuses_data_no_backend_can_carry(
    hub: MemoryPubSub, data: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        await hub.publish("t", data)
    assert hub._topics == {}


# -- hub_from_setting ---------------------------------------------------------------------


async def test_hub_from_setting_builds_or_passes_through_a_hub() -> None:
    assert isinstance(hub_from_setting(None), MemoryPubSub)
    assert isinstance(hub_from_setting("memory"), MemoryPubSub)
    mine = MemoryPubSub(replay=5)
    assert hub_from_setting(mine) is mine


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://h/1", "unix:///tmp/r.sock"])
async def test_hub_from_setting_makes_a_redis_hub_from_a_url(url: str) -> None:
    pytest.importorskip("redis")
    from typhoon.realtime.redis import RedisPubSub

    hub = hub_from_setting(url)
    assert isinstance(hub, RedisPubSub)
    assert hub.url == url
    await hub.close()  # never connected: nothing to release


@pytest.mark.parametrize(
    ("value", "error"), [("postgres://x", ValueError), ("", ValueError), (42, TypeError)]
)
def test_hub_from_setting_refuses_anything_else_naming_pubsub(
    value: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match="pubsub must be"):
        hub_from_setting(value)


def test_the_hub_imports_without_redis() -> None:
    probe = (
        "import json, sys; import typhoon.realtime.pubsub; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'redis')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_without_redis_installed_a_redis_setting_says_what_to_install() -> None:
    probe = (
        "import sys; sys.modules['redis'] = None\n"
        "from typhoon.realtime.pubsub import MemoryPubSub, hub_from_setting\n"
        "assert isinstance(hub_from_setting(None), MemoryPubSub)\n"
        "try:\n"
        "    hub_from_setting('redis://127.0.0.1:6379/0')\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'typhoon[redis]'" in result.stdout
