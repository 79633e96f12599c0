"""Server-Sent Events: the wire format, EventStream and SSEHandler.

In memory through typhoon's test kit, and over a real socket with httpx. Streams are
read back with a small parser written from the WHATWG algorithm ("Interpreting an
event stream"), so the tests check what a browser would see, not just the bytes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from typhoon import App, HTTPConfig, HTTPError, Request, Response
from typhoon.http import HTTPServer
from typhoon.http.errors import ClientDisconnected
from typhoon.realtime.sse import (
    HEARTBEAT,
    Event,
    EventStream,
    SSEHandler,
    encode_comment,
    encode_event,
)
from typhoon.testing import AsyncTestClient, ResponseTimeoutError, TestResponse

TIMEOUT_S = 5.0

# -- reading a stream as a browser does ---------------------------------------------------------


@dataclass
class Received:
    """One dispatched event, as EventSource would hand it to the page."""

    data: str
    type: str = "message"
    last_event_id: str = ""


@dataclass
class Parsed:
    events: list[Received] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    retry: int | None = None


def parse_stream(text: str) -> Parsed:
    """Interpret an event stream (WHATWG HTML, 9.2.6), comments and retry kept."""
    parsed = Parsed()
    data: list[str] = []
    event_type = ""
    last_id = ""
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line:
            if data:
                joined = "\n".join(data)
                parsed.events.append(Received(joined, event_type or "message", last_id))
            data, event_type = [], ""
            continue
        if line.startswith(":"):
            parsed.comments.append(line[1:].removeprefix(" "))
            continue
        name, colon, value = line.partition(":")
        value = value.removeprefix(" ") if colon else ""
        if name == "data":
            data.append(value)
        elif name == "event":
            event_type = value
        elif name == "id" and "\x00" not in value:
            last_id = value
        elif name == "retry" and value.isdigit():
            parsed.retry = int(value)
    return parsed


async def read_until(response: TestResponse, events: int) -> Parsed:
    """Read a streamed test response until ``events`` events have arrived."""
    text = ""
    async for piece in response.aiter_text():
        text += piece
        if len(parse_stream(text).events) >= events:
            break
    return parse_stream(text)


# -- sources ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """Shaped like the hub's Message (topic, id, data); the stream only duck-types it."""

    topic: str
    id: int
    data: Any


class Topic:
    """The messages of one topic, kept for replay, and its live subscriptions."""

    def __init__(self, name: str, items: list[Any]) -> None:
        self.name = name
        self.messages = [Message(name, i, data) for i, data in enumerate(items, 1)]
        self.subscriptions: list[TopicLog] = []

    def publish(self, data: Any) -> None:
        self.messages.append(Message(self.name, len(self.messages) + 1, data))
        for subscription in self.subscriptions:
            subscription.more.set()

    def subscribe(self) -> TopicLog:
        subscription = TopicLog(self.name, [], live=True)
        subscription.messages = self.messages  # shared: sees what is published
        self.subscriptions.append(subscription)
        return subscription


class TopicLog:
    """A real resumable source, shaped like a hub Subscription on one topic.

    It replays the messages after ``resume_from(cursor)``, then ends (or, when ``live``,
    waits for what its :class:`Topic` publishes). Its cursor is ``"<topic>:<id>"``, so a
    test can tell it from the message id.
    """

    def __init__(self, topic: str, items: list[Any], *, live: bool = False) -> None:
        self.topic = topic
        self.messages = [Message(topic, i, data) for i, data in enumerate(items, 1)]
        self.live = live
        self.after = 0
        self.position = 0
        self.resumed_from: list[str] = []
        self.started = False
        self.closed = False
        self.more = asyncio.Event()

    @property
    def cursor(self) -> str:
        return f"{self.topic}:{self.position}"

    def resume_from(self, cursor: str) -> None:
        if self.started:
            raise RuntimeError("resume_from() after iteration started")
        topic, _, number = cursor.partition(":")
        if topic != self.topic or not number.isdigit():
            raise ValueError(f"malformed cursor {cursor!r}")
        self.resumed_from.append(cursor)
        self.after = self.position = int(number)

    def __aiter__(self) -> TopicLog:
        return self

    async def __anext__(self) -> Message:
        self.started = True
        while True:
            if self.closed:
                raise StopAsyncIteration
            pending = [m for m in self.messages if m.id > max(self.after, self.position)]
            if pending:
                self.position = pending[0].id
                return pending[0]
            if not self.live:
                raise StopAsyncIteration
            self.more.clear()
            await self.more.wait()

    def close(self) -> None:
        self.closed = True
        self.more.set()


@dataclass
class Tracker:
    """What a generator source reports back: items produced, and whether it was closed."""

    produced: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def endless(self, pause_s: float = 0.0, size: int = 0) -> AsyncIterator[str]:
        try:
            while True:
                self.produced += 1
                yield "x" * size if size else f"tick {self.produced}"
                await asyncio.sleep(pause_s)
        finally:
            self.closed.set()

    async def items(self, *items: Any, pause_s: float = 0.0) -> AsyncIterator[Any]:
        try:
            for item in items:
                if pause_s:
                    await asyncio.sleep(pause_s)
                self.produced += 1
                yield item
        finally:
            self.closed.set()


def stream_app(make: Callable[[Request], Response]) -> App:
    """An app whose GET/HEAD /events answers ``make(request)``."""
    app = App()

    @app.get("/events")
    async def events(request: Request) -> Response:
        return make(request)

    return app


def other_tasks() -> set[asyncio.Task[Any]]:
    return asyncio.all_tasks() - {asyncio.current_task()}


async def eventually(check: Callable[[], bool]) -> None:
    """Wait (up to TIMEOUT_S) until ``check()`` holds."""
    for _ in range(int(TIMEOUT_S / 0.005)):
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"not true within {TIMEOUT_S} s")


# -- encoding: data -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "wire"),
    [
        ("hello", b"data: hello\n\n"),
        ("", b"data: \n\n"),
        ("a\nb", b"data: a\ndata: b\n\n"),
        ("a\r\nb", b"data: a\ndata: b\n\n"),
        ("a\rb", b"data: a\ndata: b\n\n"),
        ("a\r\n\r\nb", b"data: a\ndata: \ndata: b\n\n"),
        ("a\n\rb", b"data: a\ndata: \ndata: b\n\n"),
        ("a\n", b"data: a\ndata: \n\n"),
        ("\nb", b"data: \ndata: b\n\n"),
        ("\r", b"data: \ndata: \n\n"),
        (" lead", b"data:  lead\n\n"),
        (": not a comment", b"data: : not a comment\n\n"),
        ("id: 1\nevent: x", b"data: id: 1\ndata: event: x\n\n"),
    ],
)
def test_encode_event_text_data_splits_at_every_line_break(data: str, wire: bytes) -> None:
    assert encode_event(data) == wire
    [received] = parse_stream(wire.decode()).events
    assert received.data == data.replace("\r\n", "\n").replace("\r", "\n")


def test_encode_event_unicode_is_utf8_and_only_cr_lf_break_lines() -> None:
    data = "é ✓ 😀 \u2028 \u2029 \x85 \v \f \x1c \x00"
    assert encode_event(data) == ("data: " + data + "\n\n").encode()
    assert parse_stream(encode_event(data).decode()).events == [Received(data)]


def test_encode_event_bytes_are_decoded_as_utf8() -> None:
    assert encode_event("€\nx".encode()) == "data: €\ndata: x\n\n".encode()
    assert encode_event(bytearray(b"ab")) == b"data: ab\n\n"
    assert encode_event(memoryview(b"ab")) == b"data: ab\n\n"


def test_encode_event_bytes_not_utf8_are_rejected() -> None:
    with pytest.raises(ValueError, match="must be UTF-8"):
        encode_event(b"\xff\xfe")


def test_encode_event_str_with_lone_surrogate_is_rejected() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        encode_event("\ud800")


@pytest.mark.parametrize(
    ("data", "wire"),
    [
        ({"a": 1, "b": [True, None]}, b'data: {"a":1,"b":[true,null]}\n\n'),
        ([1, 2], b"data: [1,2]\n\n"),
        (42, b"data: 42\n\n"),
        (None, b"data: null\n\n"),
        ({"text": "two\nlines\r"}, b'data: {"text":"two\\nlines\\r"}\n\n'),
    ],
)
def test_encode_event_other_values_are_compact_json_on_one_line(data: Any, wire: bytes) -> None:
    assert encode_event(data) == wire


def test_encode_event_unencodable_value_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="cannot encode the event data as JSON"):
        encode_event(object())


@given(st.text())
def test_encode_event_any_text_reaches_the_client_with_normalized_line_breaks(data: str) -> None:
    try:
        wire = encode_event(data)
    except UnicodeEncodeError:
        return  # lone surrogates: not text a stream can carry
    [received] = parse_stream(wire.decode()).events
    assert received.data == data.replace("\r\n", "\n").replace("\r", "\n")


# -- encoding: fields ---------------------------------------------------------------------------


def test_encode_event_fields_come_before_the_data() -> None:
    wire = encode_event("x", event="update", id="7", retry=2500)
    assert wire == b"id: 7\nevent: update\nretry: 2500\ndata: x\n\n"
    parsed = parse_stream(wire.decode())
    assert parsed.events == [Received("x", "update", "7")]
    assert parsed.retry == 2500


def test_encode_event_int_id_empty_id_and_zero_retry() -> None:
    assert encode_event("x", id=12) == b"id: 12\ndata: x\n\n"
    assert encode_event("x", id="") == b"id: \ndata: x\n\n"  # resets the client's last id
    assert encode_event("x", retry=0) == b"retry: 0\ndata: x\n\n"
    assert encode_event("x", id="é") == "id: é\ndata: x\n\n".encode()


@pytest.mark.parametrize("bad_id", ["a\nb", "a\rb", "a\r\n", "nul\x00"])
def test_encode_event_id_with_line_break_or_nul_is_rejected(bad_id: str) -> None:
    with pytest.raises(ValueError, match="id must not contain"):
        encode_event("x", id=bad_id)
    with pytest.raises(ValueError, match="id must not contain"):
        Event("x", id=bad_id)


@pytest.mark.parametrize("bad_id", [True, 1.5, b"1", ["1"]])
def test_encode_event_id_of_another_type_is_rejected(bad_id: Any) -> None:
    with pytest.raises(TypeError, match="id must be a str or an int"):
        encode_event("x", id=bad_id)


def test_encode_event_negative_retry_is_rejected() -> None:
    with pytest.raises(ValueError, match="retry must be >= 0"):
        encode_event("x", retry=-1)


@pytest.mark.parametrize("bad_retry", [1.5, True, "100", [1]])
def test_encode_event_retry_not_an_int_is_rejected(bad_retry: Any) -> None:
    with pytest.raises(TypeError, match="retry must be an int"):
        encode_event("x", retry=bad_retry)


@pytest.mark.parametrize("bad_event", ["a\nb", "a\rb"])
def test_encode_event_type_with_line_break_is_rejected(bad_event: str) -> None:
    with pytest.raises(ValueError, match="event must not contain a line break"):
        encode_event("x", event=bad_event)


def test_encode_event_type_not_a_str_is_rejected() -> None:
    with pytest.raises(TypeError, match="event must be a str"):
        encode_event("x", event=3)  # type: ignore[arg-type]


# -- Event and comments -------------------------------------------------------------------------


def test_event_is_a_frozen_slotted_value_checked_when_made() -> None:
    event = Event({"n": 1}, event="tick", id=3, retry=10)
    assert event.encode() == encode_event({"n": 1}, event="tick", id=3, retry=10)
    assert event == Event({"n": 1}, event="tick", id=3, retry=10)
    assert not hasattr(event, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.id = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        Event("x", "tick")  # type: ignore[call-arg]  # the fields after data are keyword-only
    with pytest.raises(ValueError, match="retry must be >= 0"):
        Event("x", retry=-5)


def test_encode_comment_lines_and_blank_line() -> None:
    assert encode_comment() == b":\n\n"
    assert encode_comment("ping") == b": ping\n\n"
    assert encode_comment("a\r\nb\rc\nd") == b": a\n: b\n: c\n: d\n\n"
    parsed = parse_stream((encode_comment("a\nb") + encode_event("x")).decode())
    assert (parsed.comments, parsed.events) == (["a", "b"], [Received("x")])
    assert encode_comment("ping") == HEARTBEAT
    with pytest.raises(TypeError, match="a comment must be a str"):
        encode_comment(b"x")  # type: ignore[arg-type]


# -- EventStream: construction ------------------------------------------------------------------


def test_event_stream_rejects_bad_arguments() -> None:
    tracker = Tracker()
    with pytest.raises(TypeError, match="async iterable source"):
        EventStream(["a", "b"])  # type: ignore[arg-type]
    for heartbeat in (0, -1.0):
        with pytest.raises(ValueError, match="heartbeat must be > 0"):
            EventStream(tracker.endless(), heartbeat=heartbeat)
    with pytest.raises(TypeError, match="heartbeat must be a number"):
        EventStream(tracker.endless(), heartbeat="5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="retry must be >= 0"):
        EventStream(tracker.endless(), retry=-1)
    assert repr(EventStream(tracker.endless())) == "<EventStream 200>"


def test_event_stream_headers_defaults_replaced_by_extra_headers() -> None:
    response = EventStream(
        Tracker().endless(), status=201, headers={"Cache-Control": "no-store", "x-a": "1"}
    )
    assert response.status == 201
    assert response.raw_headers == [
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"x-accel-buffering", b"no"),
        (b"Cache-Control", b"no-store"),
        (b"x-a", b"1"),
    ]


# -- EventStream: in memory ---------------------------------------------------------------------


async def test_event_stream_sends_each_kind_of_item_then_ends_cleanly() -> None:
    tracker = Tracker()
    items = [
        "plain\ntext",
        Event({"x": 1}, event="e", id="own"),
        b"bytes",
        {"json": [1]},
        Message("news", 5, "from the hub"),
        Message("news", 6, {"n": 6}),
        7,
    ]
    app = stream_app(lambda request: EventStream(tracker.items(*items), retry=3000))
    async with AsyncTestClient(app) as client:
        response = await client.get("/events")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        assert response.headers["transfer-encoding"] == "chunked"
        assert response.content == (
            b"retry: 3000\n\n"
            b"data: plain\ndata: text\n\n"
            b'id: own\nevent: e\ndata: {"x":1}\n\n'
            b"data: bytes\n\n"
            b'data: {"json":[1]}\n\n'
            b"id: 5\ndata: from the hub\n\n"
            b'id: 6\ndata: {"n":6}\n\n'
            b"data: 7\n\n"
        )
        parsed = parse_stream(response.text)
        assert parsed.retry == 3000
        assert [e.data for e in parsed.events][-2:] == ['{"n":6}', "7"]
        assert tracker.closed.is_set()
        again = await client.get("/events")  # a clean end: the connection is reused
        assert again.transport is response.transport


async def test_event_stream_of_an_empty_source_sends_only_the_head() -> None:
    tracker = Tracker()
    app = stream_app(lambda request: EventStream(tracker.items()))
    async with AsyncTestClient(app) as client:
        response = await client.get("/events")
    assert (response.status_code, response.content) == (200, b"")
    assert tracker.closed.is_set()


async def test_event_stream_head_sends_headers_and_never_reads_the_source() -> None:
    tracker = Tracker()
    log = TopicLog("news", ["a"])
    sources: list[Any] = [tracker.endless(), log]
    app = stream_app(lambda request: EventStream(sources.pop(0)))
    async with AsyncTestClient(app) as client:
        for _ in range(2):
            response = await client.head("/events")
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
            assert response.content == b""
    assert tracker.produced == 0
    assert (log.started, log.closed) == (False, True)


async def test_event_stream_head_is_sent_before_the_first_event() -> None:
    release = asyncio.Event()

    async def late() -> AsyncIterator[str]:
        await release.wait()
        yield "late"

    app = stream_app(lambda request: EventStream(late(), heartbeat=None))
    async with AsyncTestClient(app) as client, client.stream("GET", "/events") as response:
        assert response.status_code == 200  # the head arrived: EventSource's onopen fires
        release.set()
        assert (await response.aread()) == b"data: late\n\n"


async def test_event_stream_heartbeats_fill_silences_only() -> None:
    tracker = Tracker()
    app = stream_app(
        lambda request: EventStream(tracker.items("a", "b", pause_s=0.2), heartbeat=0.05)
    )
    async with AsyncTestClient(app) as client:
        text = (await client.get("/events")).text
    before_a, _, rest = text.partition("data: a\n\n")
    between, _, after_b = rest.partition("data: b\n\n")
    for silence in (before_a, between):
        assert silence.count(HEARTBEAT.decode()) >= 2
        assert silence == HEARTBEAT.decode() * silence.count(HEARTBEAT.decode())
    assert after_b == ""
    assert [e.data for e in parse_stream(text).events] == ["a", "b"]


async def test_event_stream_without_heartbeat_sends_no_comment() -> None:
    tracker = Tracker()
    app = stream_app(lambda request: EventStream(tracker.items("a", pause_s=0.15), heartbeat=None))
    async with AsyncTestClient(app) as client:
        assert (await client.get("/events")).content == b"data: a\n\n"


async def test_event_stream_heartbeat_does_not_disturb_a_slow_source() -> None:
    # The pending step of the source survives the heartbeats sent while it waits.
    steps: list[str] = []

    async def slow() -> AsyncIterator[str]:
        for name in ("one", "two"):
            steps.append(f"waiting {name}")
            await asyncio.sleep(0.12)
            steps.append(f"yield {name}")
            yield name

    app = stream_app(lambda request: EventStream(slow(), heartbeat=0.03))
    async with AsyncTestClient(app) as client:
        parsed = parse_stream((await client.get("/events")).text)
    assert [e.data for e in parsed.events] == ["one", "two"]
    assert steps == ["waiting one", "yield one", "waiting two", "yield two"]
    assert len(parsed.comments) >= 4


# -- EventStream: resuming ----------------------------------------------------------------------


async def test_event_stream_passes_last_event_id_to_resume_from_and_sends_cursors() -> None:
    log = TopicLog("news", ["one", "two", "three", "four"])
    app = stream_app(lambda request: EventStream(log))
    async with AsyncTestClient(app) as client:
        response = await client.get("/events", headers={"Last-Event-ID": "news:2"})
    assert log.resumed_from == ["news:2"]
    assert response.content == b"id: news:3\ndata: three\n\nid: news:4\ndata: four\n\n"
    assert parse_stream(response.text).events[-1] == Received("four", last_event_id="news:4")
    assert log.closed


async def test_event_stream_reconnect_with_the_last_id_seen_gets_no_gap_no_duplicate() -> None:
    topic = Topic("t", [])
    app = stream_app(lambda request: EventStream(topic.subscribe()))
    async with AsyncTestClient(app) as client:
        async with client.stream("GET", "/events") as response:
            for data in ("a", "b"):
                topic.publish(data)
            first = await read_until(response, 2)
        await eventually(lambda: topic.subscriptions[0].closed)
        topic.publish("c")  # while the client is away
        last_id = first.events[-1].last_event_id
        assert last_id == "t:2"
        headers = {"last-event-id": last_id}
        async with client.stream("GET", "/events", headers=headers) as response:
            topic.publish("d")
            second = await read_until(response, 2)
    assert topic.subscriptions[1].resumed_from == ["t:2"]
    assert [e.data for e in first.events] == ["a", "b"]
    assert [(e.data, e.last_event_id) for e in second.events] == [("c", "t:3"), ("d", "t:4")]


async def test_event_stream_event_items_of_a_resumable_source_get_the_cursor_as_id() -> None:
    class EventLog(TopicLog):
        async def __anext__(self) -> Any:
            message = await super().__anext__()
            own = "mine" if message.data == "own" else None
            return Event(message.data, event="e", id=own)

    log = EventLog("t", ["x", "own"])
    app = stream_app(lambda request: EventStream(log))
    async with AsyncTestClient(app) as client:
        content = (await client.get("/events")).content
    assert content == b"id: t:1\nevent: e\ndata: x\n\nid: mine\nevent: e\ndata: own\n\n"


@pytest.mark.parametrize("header", ["garbage", "other:1", "news:x", "\xff"])
async def test_event_stream_malformed_last_event_id_is_400_and_source_closed(
    header: str,
) -> None:
    log = TopicLog("news", ["one"])
    app = stream_app(lambda request: EventStream(log))
    async with AsyncTestClient(app) as client:
        response = await client.get("/events", headers=[("last-event-id", header)])
        assert response.status_code == 400
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert response.text.startswith("400: invalid Last-Event-ID header: malformed cursor")
        assert (log.started, log.closed) == (False, True)
        assert (await client.get("/")).status_code == 404  # the connection goes on


async def test_event_stream_last_event_id_absent_or_empty_does_not_resume() -> None:
    logs = [TopicLog("n", ["a"]), TopicLog("n", ["a"])]
    app = stream_app(lambda request: EventStream(logs.pop(0)))
    async with AsyncTestClient(app) as client:
        plain = await client.get("/events")
        empty = await client.get("/events", headers={"last-event-id": ""})
    assert plain.content == empty.content == b"id: n:1\ndata: a\n\n"


async def test_event_stream_ignores_last_event_id_for_a_source_that_cannot_resume() -> None:
    tracker = Tracker()
    app = stream_app(lambda request: EventStream(tracker.items("a")))
    async with AsyncTestClient(app) as client:
        response = await client.get("/events", headers={"last-event-id": "anything"})
    assert (response.status_code, response.content) == (200, b"data: a\n\n")


async def test_event_stream_resume_from_other_errors_are_server_errors() -> None:
    class Broken(TopicLog):
        def resume_from(self, cursor: str) -> None:
            raise KeyError(cursor)

    app = stream_app(lambda request: EventStream(Broken("t", [])))
    async with AsyncTestClient(app, raise_server_exceptions=False) as client:
        response = await client.get("/events", headers={"last-event-id": "t:1"})
    assert response.status_code == 500


# -- EventStream: the end of a stream -----------------------------------------------------------


@pytest.mark.parametrize("cancel_on_disconnect", [True, False])
async def test_event_stream_client_leaving_closes_the_generator(
    cancel_on_disconnect: bool,
) -> None:
    tracker = Tracker()
    config = HTTPConfig(access_log=False, cancel_on_disconnect=cancel_on_disconnect)
    app = stream_app(lambda request: EventStream(tracker.endless(pause_s=0.5), heartbeat=None))
    async with AsyncTestClient(app, config=config) as client:
        async with client.stream("GET", "/events") as response:
            assert (await read_until(response, 1)).events == [Received("tick 1")]
        # The source is silent (sleeping): only the disconnect can end the stream.
        await asyncio.wait_for(tracker.closed.wait(), TIMEOUT_S)
        await asyncio.sleep(0.01)
        assert other_tasks() == set()  # no step of the source left behind
    assert tracker.produced == 1


async def test_event_stream_client_leaving_closes_a_subscription_like_source() -> None:
    log = TopicLog("t", ["a"], live=True)
    app = stream_app(lambda request: EventStream(log, heartbeat=0.02))
    async with AsyncTestClient(app) as client:
        async with client.stream("GET", "/events") as response:
            await read_until(response, 1)
        await eventually(lambda: log.closed)


async def test_event_stream_closes_an_iterable_and_the_iterator_it_made() -> None:
    tracker = Tracker()

    class Feed:
        closed = False

        def __aiter__(self) -> AsyncIterator[Any]:
            return tracker.items("a", "b")

        async def aclose(self) -> None:
            self.closed = True

    feed = Feed()
    app = stream_app(lambda request: EventStream(feed))
    async with AsyncTestClient(app) as client:
        assert (await client.get("/events")).content == b"data: a\n\ndata: b\n\n"
    assert feed.closed
    assert tracker.closed.is_set()


async def test_event_stream_source_without_close_is_fine() -> None:
    class Countdown:
        def __init__(self) -> None:
            self.left = 2

        def __aiter__(self) -> Countdown:
            return self

        async def __anext__(self) -> int:
            if not self.left:
                raise StopAsyncIteration
            self.left -= 1
            return self.left

    app = stream_app(lambda request: EventStream(Countdown()))
    async with AsyncTestClient(app) as client:
        assert (await client.get("/events")).content == b"data: 1\n\ndata: 0\n\n"


async def test_event_stream_write_finding_the_client_gone_stops_quietly() -> None:
    # A write can learn that the client left before the disconnect notice arrives (a
    # transport already closing): the stream stops there and closes its source.
    tracker = Tracker()

    def make(request: Request) -> Response:
        async def source() -> AsyncIterator[str]:
            async for item in tracker.items("a", "b", "c"):
                if item == "b":
                    request.exchange.disconnected = True
                yield item

        return EventStream(source())

    async with AsyncTestClient(stream_app(make)) as client:
        response = await client.get("/events")
    assert response.content == b"data: a\n\n"
    assert tracker.closed.is_set()
    assert tracker.produced == 2


async def test_event_stream_source_failing_while_stopped_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stopped = asyncio.Event()

    async def stubborn() -> AsyncIterator[str]:
        yield "one"
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            stopped.set()
            raise RuntimeError("cleanup broke") from None
        yield "never"

    app = stream_app(lambda request: EventStream(stubborn()))
    async with AsyncTestClient(app, raise_server_exceptions=False) as client:
        with caplog.at_level(logging.ERROR, logger="typhoon.error"):
            async with client.stream("GET", "/events") as response:
                await read_until(response, 1)
            await asyncio.wait_for(stopped.wait(), TIMEOUT_S)
            await eventually(lambda: "while it was stopped" in caplog.text)
    [record] = [r for r in caplog.records if r.name == "typhoon.error"]
    assert (
        record.getMessage() == "exception in the event stream of GET /events while it was stopped"
    )
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "cleanup broke"


async def test_event_stream_source_error_is_logged_once_and_ends_the_stream(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def failing() -> AsyncIterator[str]:
        yield "before"
        raise RuntimeError("source broke")

    app = stream_app(lambda request: EventStream(failing()))
    async with AsyncTestClient(app, raise_server_exceptions=False) as client:
        with caplog.at_level(logging.ERROR, logger="typhoon.error"):
            response = await client.get("/events")
            again = await client.get("/events")
    assert response.status_code == 200
    assert response.content == b"data: before\n\n"  # ended cleanly: last chunk sent
    assert again.transport is response.transport
    records = [r for r in caplog.records if r.name == "typhoon.error"]
    assert len(records) == 2  # once per request
    assert records[0].getMessage() == "exception in the event stream of GET /events"
    assert records[0].exc_info is not None
    assert str(records[0].exc_info[1]) == "source broke"


async def test_event_stream_source_error_reaches_the_test_client_by_default() -> None:
    async def failing() -> AsyncIterator[str]:
        yield "before"
        raise RuntimeError("source broke")

    app = stream_app(lambda request: EventStream(failing()))
    async with AsyncTestClient(app) as client:
        with pytest.raises(RuntimeError, match="source broke"):
            await client.get("/events")


async def test_event_stream_item_that_cannot_be_encoded_ends_the_stream(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracker = Tracker()
    app = stream_app(lambda request: EventStream(tracker.items("ok", object(), "never")))
    async with AsyncTestClient(app, raise_server_exceptions=False) as client:
        with caplog.at_level(logging.ERROR, logger="typhoon.error"):
            response = await client.get("/events")
    assert response.content == b"data: ok\n\n"
    assert tracker.closed.is_set()
    assert tracker.produced == 2
    assert "cannot encode the event data as JSON" in caplog.text


async def test_event_stream_closing_error_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Sticky(TopicLog):
        def close(self) -> None:
            raise OSError("cannot close")

    app = stream_app(lambda request: EventStream(Sticky("t", ["a"])))
    async with AsyncTestClient(app, raise_server_exceptions=False) as client:
        with caplog.at_level(logging.ERROR, logger="typhoon.error"):
            response = await client.get("/events")
    assert response.content == b"id: t:1\ndata: a\n\n"
    assert "exception while closing the event source" in caplog.text


async def test_event_stream_waits_for_the_client_backpressure() -> None:
    tracker = Tracker()
    app = stream_app(lambda request: EventStream(tracker.endless(size=10_000), heartbeat=None))
    async with AsyncTestClient(app) as client, client.stream("GET", "/events") as response:
        assert response.status_code == 200
        await asyncio.sleep(0.05)
        produced = tracker.produced
        # ~64 KiB in the transport and ~64 KiB taken by the client, not forever
        assert 0 < produced < 30
        await asyncio.sleep(0.05)
        assert tracker.produced <= produced + 1


# -- SSEHandler ---------------------------------------------------------------------------------


@dataclass
class Log:
    """What the handlers under test saw."""

    calls: list[Any] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)


def handler_app(log: Log, room_heartbeat: float | None = None) -> App:
    class Room(SSEHandler):
        heartbeat = room_heartbeat

        def initialize(self, log: Log) -> None:
            self.log = log

        async def prepare(self) -> None:
            if self.get_argument("deny", None):
                raise HTTPError(403)

        async def open(self, room: str) -> None:
            self.log.calls.append(("open", room, self.last_event_id, self.current_user))
            await self.send_event(f"welcome to {room}", event="hello", id=1)
            await self.send_comment("a comment")
            if self.get_argument("close", None):
                await self.send_event({"bye": True})
                self.close()

        def on_close(self) -> None:
            self.log.calls.append("on_close")
            self.log.closed.set()

        def get_current_user(self) -> str:
            return "ada"

    class Ticker(SSEHandler):
        heartbeat = 0.05

        def initialize(self, log: Log) -> None:
            self.log = log

        async def open(self) -> None:
            for n in range(int(self.get_argument("n", "0"))):
                await asyncio.sleep(0.12)
                await self.send_event(n)
            if self.get_argument("finish", None):
                self.finish()

        async def on_close(self) -> None:
            await asyncio.sleep(0)
            self.log.calls.append("on_close")
            self.log.closed.set()

    class Loop(SSEHandler):
        """open() as a loop over a live source (the hub style), no heartbeat."""

        heartbeat = None

        def initialize(self, log: Log) -> None:
            self.log = log

        async def open(self, count: int) -> None:
            try:
                for n in range(count):
                    await self.send_event(n)
                await asyncio.Event().wait()  # a silent source
            except BaseException as exc:
                self.log.calls.append(("open ended by", type(exc).__name__))
                raise

        def on_close(self) -> None:
            self.log.calls.append("on_close")
            self.log.closed.set()

    app = App([(r"/room/(\w+)", Room, {"log": log}), (r"/ticker", Ticker, {"log": log})])
    app.add_route("/loop/{count:int}", Loop, log=log)
    return app


async def test_sse_handler_open_send_close_and_on_close() -> None:
    log = Log()
    async with AsyncTestClient(handler_app(log)) as client:
        response = await client.get("/room/lobby?close=1")
        again = await client.get("/room/lobby?close=1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.content == (
        b'id: 1\nevent: hello\ndata: welcome to lobby\n\n: a comment\n\ndata: {"bye":true}\n\n'
    )
    assert again.transport is response.transport  # ended cleanly (last chunk)
    assert log.calls == [("open", "lobby", None, "ada"), "on_close"] * 2


async def test_sse_handler_last_event_id_and_path_kwargs() -> None:
    log = Log()
    async with AsyncTestClient(handler_app(log)) as client:
        headers = {"Last-Event-ID": "41"}
        await client.get("/room/r?close=1", headers=headers)
        utf8 = "é".encode().decode("latin-1")  # header strs go out as Latin-1: UTF-8 bytes
        await client.get("/room/r?close=1", headers=[("last-event-id", utf8)])
        await client.get("/room/r?close=1", headers=[("last-event-id", "\xff")])
        async with client.stream("GET", "/loop/2") as response:
            assert [e.data for e in (await read_until(response, 2)).events] == ["0", "1"]
    assert [call[2] for call in log.calls if call[0] == "open"] == ["41", "é", "\ufffd"]


async def test_sse_handler_prepare_can_refuse_before_the_stream() -> None:
    log = Log()
    async with AsyncTestClient(handler_app(log)) as client:
        response = await client.get("/room/x?deny=1")
    assert response.status_code == 403
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert log.calls == []


async def test_sse_handler_head_sends_headers_without_opening() -> None:
    log = Log()
    async with AsyncTestClient(handler_app(log)) as client:
        response = await client.head("/room/x")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.content == b""
    assert log.calls == []


@pytest.mark.parametrize("cancel_on_disconnect", [True, False])
async def test_sse_handler_client_leaving_runs_on_close_once(cancel_on_disconnect: bool) -> None:
    log = Log()
    config = HTTPConfig(access_log=False, cancel_on_disconnect=cancel_on_disconnect)
    async with AsyncTestClient(handler_app(log), config=config) as client:
        async with client.stream("GET", "/room/x") as response:
            await read_until(response, 1)
        await asyncio.wait_for(log.closed.wait(), TIMEOUT_S)
        await asyncio.sleep(0.01)
        assert other_tasks() == set()
    assert log.calls == [("open", "x", None, "ada"), "on_close"]


async def test_sse_handler_client_gone_before_the_stream_neither_opens_nor_closes() -> None:
    calls: list[str] = []
    release = asyncio.Event()

    class Slow(SSEHandler):
        async def prepare(self) -> None:
            await release.wait()
            calls.append("prepare")

        def open(self) -> None:
            calls.append("open")

        def on_close(self) -> None:
            calls.append("on_close")

    config = HTTPConfig(access_log=False, cancel_on_disconnect=False)  # the handler goes on
    async with AsyncTestClient(App([("/slow", Slow)]), config=config, timeout=0.05) as client:
        with pytest.raises(ResponseTimeoutError):
            await client.get("/slow")  # the client gives up, and closes the connection
        release.set()
        await eventually(lambda: other_tasks() == set())
    assert calls == ["prepare"]


async def test_sse_handler_client_leaving_cancels_an_open_loop() -> None:
    log = Log()
    async with AsyncTestClient(handler_app(log)) as client:
        async with client.stream("GET", "/loop/1") as response:
            await read_until(response, 1)
        await eventually(lambda: len(log.calls) == 2)
    # on_close ran when the client left; the cancelled open() unwound
    assert sorted(log.calls, key=str) == [("open ended by", "CancelledError"), "on_close"]


async def test_sse_handler_without_cancel_on_disconnect_runs_on_close_at_once() -> None:
    # open() is still running; on_close() tells it to stop (here: the test does).
    log = Log()
    config = HTTPConfig(access_log=False, cancel_on_disconnect=False)
    handlers: list[SSEHandler] = []

    class Stuck(SSEHandler):
        heartbeat = None

        async def open(self) -> None:
            handlers.append(self)
            await self.send_event("hi")
            await log.closed.wait()
            with pytest.raises(ClientDisconnected):
                await self.send_event("too late")
            log.calls.append("open saw the disconnect")

        def on_close(self) -> None:
            log.calls.append("on_close")
            log.closed.set()

    app = App([("/stuck", Stuck)])
    async with AsyncTestClient(app, config=config) as client:
        async with client.stream("GET", "/stuck") as response:
            await read_until(response, 1)
        await eventually(lambda: len(log.calls) == 2)
    assert log.calls == ["on_close", "open saw the disconnect"]


async def test_sse_handler_heartbeats_while_silent() -> None:
    log = Log()
    async with AsyncTestClient(handler_app(log)) as client:
        async with client.stream("GET", "/ticker?n=2") as response:
            parsed = await read_until(response, 2)
        await asyncio.wait_for(log.closed.wait(), TIMEOUT_S)
    assert [e.data for e in parsed.events] == ["0", "1"]
    assert parsed.comments.count("ping") >= 2
    assert log.calls == ["on_close"]


async def test_sse_handler_heartbeats_with_nothing_to_send() -> None:
    log = Log()
    text = ""
    async with AsyncTestClient(handler_app(log)) as client, client.stream("GET", "/ticker") as r:
        async for piece in r.aiter_text():
            text += piece
            if text.count(HEARTBEAT.decode()) == 3:
                break
    assert text == HEARTBEAT.decode() * 3


async def test_sse_handler_finish_in_open_ends_the_stream() -> None:
    log = Log()
    async with AsyncTestClient(handler_app(log)) as client:
        response = await client.get("/ticker?n=1&finish=1")
    assert parse_stream(response.text).events == [Received("0")]
    assert log.calls == ["on_close"]


async def test_sse_handler_send_before_start_and_after_close_are_errors() -> None:
    seen: list[str] = []

    class Misuse(SSEHandler):
        async def prepare(self) -> None:
            for call in (self.send_event("x"), self.send_comment("x")):
                with pytest.raises(RuntimeError, match="before the stream started"):
                    await call
            with pytest.raises(RuntimeError, match="close\\(\\) called before the stream"):
                self.close()
            seen.append("prepare")

        async def open(self) -> None:
            self.close()
            self.close()  # idempotent
            with pytest.raises(RuntimeError, match="send_event\\(\\) called after the stream"):
                await self.send_event("x")
            seen.append("open")

    async with AsyncTestClient(App([("/m", Misuse)])) as client:
        response = await client.get("/m")
    assert (response.status_code, response.content, seen) == (200, b"", ["prepare", "open"])


async def test_sse_handler_send_event_validates_before_sending() -> None:
    class Bad(SSEHandler):
        async def open(self) -> None:
            with pytest.raises(ValueError, match="id must not contain"):
                await self.send_event("x", id="a\nb")
            await self.send_event("fine", retry=10)
            self.close()

    async with AsyncTestClient(App([("/b", Bad)])) as client:
        assert (await client.get("/b")).content == b"retry: 10\ndata: fine\n\n"


async def test_sse_handler_open_error_is_logged_and_the_stream_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed: list[str] = []

    class Failing(SSEHandler):
        async def open(self) -> None:
            await self.send_event("first")
            raise RuntimeError("open broke")

        async def on_close(self) -> None:
            closed.append("on_close")
            raise ValueError("on_close broke too")

    async with AsyncTestClient(App([("/f", Failing)]), raise_server_exceptions=False) as client:
        with caplog.at_level(logging.ERROR, logger="typhoon.error"):
            response = await client.get("/f")
            again = await client.get("/f")
    assert (response.status_code, response.content) == (200, b"data: first\n\n")
    assert again.transport is response.transport
    assert closed == ["on_close", "on_close"]
    assert "exception while handling GET /f" in caplog.text
    assert "exception in Failing.on_close()" in caplog.text


async def test_sse_handler_events_from_other_tasks_keep_their_order() -> None:
    class Broadcast(SSEHandler):
        heartbeat = 0.01

        async def open(self) -> None:
            async def sender(name: str) -> None:
                for n in range(20):
                    await self.send_event(f"{name}{n}")

            await asyncio.gather(sender("a"), sender("b"))
            self.close()

    async with AsyncTestClient(App([("/b", Broadcast)])) as client:
        events = [e.data for e in parse_stream((await client.get("/b")).text).events]
    assert sorted(events) == sorted([f"a{n}" for n in range(20)] + [f"b{n}" for n in range(20)])
    assert [e for e in events if e[0] == "a"] == [f"a{n}" for n in range(20)]


async def test_sse_handler_cancelled_sender_does_not_break_the_stream() -> None:
    class Cancelled(SSEHandler):
        heartbeat = None

        async def open(self) -> None:
            sending = asyncio.ensure_future(self.send_event("shielded"))
            await asyncio.sleep(0)
            sending.cancel()
            await asyncio.wait((sending,))
            await self.send_event("after")
            self.close()

    async with AsyncTestClient(App([("/c", Cancelled)])) as client:
        response = await client.get("/c")
    assert response.content == b"data: shielded\n\ndata: after\n\n"


async def test_sse_handler_defaults_keep_the_stream_open_until_the_client_leaves() -> None:
    class Plain(SSEHandler):
        heartbeat = 0.02

    async with AsyncTestClient(App([("/p", Plain)])) as client:
        async with client.stream("GET", "/p") as response:
            assert response.status_code == 200
            pieces = response.aiter_bytes()
            assert await anext(pieces) == HEARTBEAT
        await eventually(lambda: other_tasks() == set())


async def test_sse_handler_open_may_be_a_plain_method() -> None:
    class Sync(SSEHandler):
        def open(self) -> None:
            self.close()

    async with AsyncTestClient(App([("/s", Sync)])) as client:
        response = await client.get("/s")
    assert (response.status_code, response.content) == (200, b"")


def test_sse_handler_heartbeat_attribute_is_checked_on_the_class() -> None:
    with pytest.raises(ValueError, match="Bad: heartbeat must be > 0"):

        class Bad(SSEHandler):
            heartbeat = 0

    with pytest.raises(TypeError, match="Worse: heartbeat must be a number"):

        class Worse(SSEHandler):
            heartbeat = "1"  # type: ignore[assignment]


def test_sse_handler_answers_get_and_head_only_by_default() -> None:
    class Plain(SSEHandler):
        pass

    assert Plain.implemented_methods() == frozenset({"GET", "HEAD"})


# -- a real server and a real client ------------------------------------------------------------


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[App], Awaitable[str]]]:
    """Start an HTTPServer on 127.0.0.1 for an app; its base URL. Drained at the end."""
    servers: list[HTTPServer] = []

    async def start(app: App) -> str:
        server = HTTPServer(app, HTTPConfig(access_log=False))
        await server.listen_tcp("127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.port}"

    try:
        yield start
    finally:
        for server in servers:
            assert await server.drain(5), "the server did not drain within 5 s"


async def test_real_server_streams_events_resumes_and_heartbeats(
    serve: Callable[[App], Awaitable[str]],
) -> None:
    topic = Topic("t", ["a", "b\nc"])
    app = stream_app(lambda request: EventStream(topic.subscribe(), heartbeat=0.05, retry=1000))
    base = await serve(app)
    async with (
        httpx.AsyncClient(base_url=base, trust_env=False, timeout=TIMEOUT_S) as client,
        client.stream("GET", "/events", headers={"last-event-id": "t:1"}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        text = ""
        async for piece in response.aiter_text():
            text += piece
            parsed = parse_stream(text)
            if len(parsed.comments) == 2 and len(topic.messages) == 2:
                topic.publish({"n": 3})  # after two heartbeats
            if len(parsed.events) == 2:
                break
    assert parsed.retry == 1000
    assert parsed.events == [
        Received("b\nc", last_event_id="t:2"),
        Received('{"n":3}', last_event_id="t:3"),
    ]
    assert parsed.comments[:2] == ["ping", "ping"]
    assert topic.subscriptions[0].resumed_from == ["t:1"]
    await eventually(lambda: topic.subscriptions[0].closed)


async def test_real_server_client_leaving_closes_the_source(
    serve: Callable[[App], Awaitable[str]],
) -> None:
    # A client closing its socket is seen when a write fails (the server takes the FIN
    # for a half-close): the heartbeat bounds how long a silent stream takes to notice.
    tracker = Tracker()
    app = stream_app(lambda request: EventStream(tracker.endless(pause_s=1.0), heartbeat=0.05))
    base = await serve(app)
    async with (
        httpx.AsyncClient(base_url=base, trust_env=False, timeout=TIMEOUT_S) as client,
        client.stream("GET", "/events") as response,
    ):
        async for line in response.aiter_lines():
            if line == "data: tick 1":
                break
    await asyncio.wait_for(tracker.closed.wait(), TIMEOUT_S)
    assert tracker.produced == 1


async def test_real_server_malformed_last_event_id_is_400(
    serve: Callable[[App], Awaitable[str]],
) -> None:
    app = stream_app(lambda request: EventStream(TopicLog("t", ["a"])))
    base = await serve(app)
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=TIMEOUT_S) as client:
        response = await client.get("/events", headers={"last-event-id": "nope"})
    assert response.status_code == 400
    assert "malformed cursor 'nope'" in response.text


async def test_real_server_sse_handler(serve: Callable[[App], Awaitable[str]]) -> None:
    log = Log()
    base = await serve(handler_app(log, room_heartbeat=0.05))
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=TIMEOUT_S) as client:
        response = await client.get("/room/hall?close=1", headers={"last-event-id": "9"})
        assert response.status_code == 200
        assert parse_stream(response.text).events == [
            Received("welcome to hall", "hello", "1"),
            Received('{"bye":true}', "message", "1"),
        ]
        async with client.stream("GET", "/room/open") as streaming:
            async for line in streaming.aiter_lines():
                if line == ": a comment":
                    break
    await eventually(lambda: len(log.calls) == 4)
    assert log.calls == [
        ("open", "hall", "9", "ada"),
        "on_close",
        ("open", "open", None, "ada"),
        "on_close",
    ]
