"""HTTPProtocol over a MemoryTransport: keep-alive, pipelining, framing, headers, Expect.

Every request is fed whole and in 1-, 2- and 7-byte pieces; timers run on a FakeClock.
"""

from __future__ import annotations

import asyncio
import contextvars
from email.utils import formatdate, parsedate_to_datetime

import pytest

from typhoon.http import Exchange, HTTPConfig, HTTPLimits
from typhoon.testing import FakeClock, connect, feed, parse_responses, settle

GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Echo:
    """Reads the whole body and answers 200 with it; records what each request carried."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes, bytes, bytes]] = []

    async def handle(self, exchange: Exchange) -> None:
        body = await exchange.body()
        self.seen.append((exchange.method, exchange.path, exchange.query, body))
        exchange.respond(200, [(b"content-type", b"text/plain")], body)


class Fixed:
    """Answers every request with the same status, headers and body, without reading."""

    def __init__(
        self, status: int = 200, headers: list[tuple[bytes, bytes]] | None = None, body: bytes = b""
    ) -> None:
        self.status = status
        self.headers = headers or []
        self.body = body
        self.calls = 0

    async def handle(self, exchange: Exchange) -> None:
        self.calls += 1
        exchange.respond(self.status, self.headers, self.body)


class Streamer:
    """Answers with a streamed body written in the given pieces."""

    def __init__(
        self, pieces: list[bytes], headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        self.pieces = pieces
        self.headers = headers or []

    async def handle(self, exchange: Exchange) -> None:
        exchange.start(200, [(b"content-type", b"text/plain"), *self.headers])
        for piece in self.pieces:
            await exchange.write(piece)
        await exchange.end()


class Gated:
    """Records when each request starts and ends; waits for its gate before answering."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.gates: dict[bytes, asyncio.Event] = {}

    def gate(self, path: bytes) -> asyncio.Event:
        return self.gates.setdefault(path, asyncio.Event())

    async def handle(self, exchange: Exchange) -> None:
        name = exchange.path.decode()
        self.events.append("start " + name)
        body = await exchange.body()
        await self.gate(exchange.path).wait()
        self.events.append("end " + name)
        exchange.respond(200, [], name.encode() + b":" + body)


# -- keep-alive and connection management ---------------------------------------------


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_keep_alive_http11_two_requests_one_connection_stays_open(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app)
    feed(protocol, b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n", chunk)
    await settle()
    feed(protocol, b"POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", chunk)
    await settle()
    responses = parse_responses(bytes(transport.written))
    assert [(r.status, r.body) for r in responses] == [(200, b""), (200, b"abc")]
    assert [r.header("connection") for r in responses] == [None, None]
    assert [r.header("content-length") for r in responses] == ["0", "3"]
    assert app.seen == [("GET", b"/one", b"", b""), ("POST", b"/two", b"", b"abc")]
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_http10_without_keep_alive_closes_after_response(chunk: int | None) -> None:
    protocol, transport = connect(Fixed(body=b"hi"))
    feed(protocol, b"GET / HTTP/1.0\r\n\r\n", chunk)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert (response.status, response.body) == (200, b"hi")
    assert response.header("connection") == "close"
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_http10_with_connection_keep_alive_stays_open(chunk: int | None) -> None:
    app = Fixed(body=b"hi")
    protocol, transport = connect(app)
    request = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    feed(protocol, request, chunk)
    await settle()
    assert not transport.closed
    feed(protocol, request, chunk)
    await settle()
    responses = parse_responses(bytes(transport.written))
    assert [(r.status, r.body) for r in responses] == [(200, b"hi"), (200, b"hi")]
    assert [r.header("connection") for r in responses] == ["keep-alive", "keep-alive"]
    assert app.calls == 2
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_connection_close_from_client_closes_after_response(chunk: int | None) -> None:
    protocol, transport = connect(Fixed(body=b"bye"))
    feed(protocol, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", chunk)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert (response.status, response.body) == (200, b"bye")
    assert response.header("connection") == "close"
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_connection_close_from_app_closes_after_response(chunk: int | None) -> None:
    protocol, transport = connect(Fixed(headers=[(b"Connection", b"close")], body=b"bye"))
    feed(protocol, GET, chunk)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert (response.status, response.body) == (200, b"bye")
    assert [name for name, _ in response.headers if name.lower() == "connection"] == ["connection"]
    assert response.header("connection") == "close"
    assert transport.closed


# -- pipelining -----------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_pipelining_several_requests_in_one_feed_answered_in_order(
    chunk: int | None,
) -> None:
    app = Echo()
    protocol, transport = connect(app)
    feed(
        protocol,
        b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
        b"POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
        b"POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        b"GET /4?x=y HTTP/1.1\r\nHost: a\r\n\r\n",
        chunk,
    )
    await settle()
    responses = parse_responses(bytes(transport.written))
    assert [(r.status, r.body) for r in responses] == [
        (200, b""),
        (200, b"hello"),
        (200, b"abcde"),
        (200, b""),
    ]
    assert [path for _, path, _, _ in app.seen] == [b"/1", b"/2", b"/3", b"/4"]
    assert app.seen[3] == ("GET", b"/4", b"x=y", b"")
    assert not transport.closed


async def test_pipelined_requests_are_answered_in_order_in_one_send_each_in_its_context() -> None:
    seen: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="-")
    tasks: set[int] = set()
    before: list[str] = []

    class Recording:
        async def handle(self, exchange: Exchange) -> None:
            tasks.add(id(asyncio.current_task()))
            before.append(seen.get())
            seen.set(exchange.target.decode())
            exchange.respond(200, [], exchange.target)

    protocol, transport = connect(Recording())
    feed(protocol, b"".join(b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(16)))
    await settle()
    responses = parse_responses(bytes(transport.written))
    assert [r.body for r in responses] == [b"/%d" % i for i in range(16)]
    assert before == ["-"] * 16  # nothing leaks from one request to the next
    assert len(tasks) == 1  # one Task for the run, not one per request
    assert transport.writes == 2  # the first answer, then the fifteen behind it, corked
    assert not transport.closed


async def test_pipelined_answers_past_the_cork_limit_go_out_in_several_sends() -> None:
    body = b"x" * 40_000  # two of these pass the 64 KiB the cork holds
    protocol, transport = connect(Fixed(body=body))
    feed(protocol, GET * 5)
    await settle()
    assert [r.body for r in parse_responses(bytes(transport.written))] == [body] * 5
    assert 2 < transport.writes < 5


async def test_a_pipelined_handler_that_waits_sends_what_was_answered_first() -> None:
    release = asyncio.Event()

    class SecondWaits:
        count = 0

        async def handle(self, exchange: Exchange) -> None:
            SecondWaits.count += 1
            if SecondWaits.count == 3:
                await release.wait()
            exchange.respond(200, [], b"%d" % SecondWaits.count)

    protocol, transport = connect(SecondWaits())
    feed(protocol, GET * 3)
    await settle()
    assert [r.body for r in parse_responses(bytes(transport.written))] == [b"1", b"2"]
    release.set()
    await settle()
    assert [r.body for r in parse_responses(bytes(transport.written))] == [b"1", b"2", b"3"]


async def test_pipelined_answers_before_a_close_are_all_sent_first() -> None:
    protocol, transport = connect(Fixed(body=b"hi"))
    feed(protocol, GET * 3 + b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" + GET)
    await settle()
    responses = parse_responses(bytes(transport.written))
    assert [r.body for r in responses] == [b"hi"] * 4  # the request after the close is not read
    assert responses[-1].header("connection") == "close"
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_respond_large_body_leaves_beside_its_head_intact(chunk: int | None) -> None:
    body = bytes(range(256)) * 400  # 100 KiB: sent with writelines, not joined to the head
    protocol, transport = connect(Fixed(headers=[(b"content-type", b"a/b")], body=body))
    feed(protocol, GET + GET, chunk)
    await settle()
    responses = parse_responses(bytes(transport.written))
    assert [(r.status, r.header("content-length"), r.body) for r in responses] == [
        (200, str(len(body)), body)
    ] * 2
    assert not transport.closed


class Sleepy:
    """Sleeps (real time) on /slow before answering; records starts and ends."""

    def __init__(self, last: bytes) -> None:
        self.events: list[str] = []
        self.last = last
        self.done = asyncio.Event()

    async def handle(self, exchange: Exchange) -> None:
        name = exchange.path.decode()
        self.events.append("start " + name)
        body = await exchange.body()
        if exchange.path == b"/slow":
            await asyncio.sleep(0.02)
        self.events.append("end " + name)
        exchange.respond(200, [], name.encode() + b":" + body)
        if exchange.path == self.last:
            self.done.set()


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_pipelining_slow_handler_later_requests_wait_their_turn(chunk: int | None) -> None:
    app = Sleepy(last=b"/3")
    protocol, transport = connect(app)
    feed(
        protocol,
        b"POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab"
        b"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n"
        b"POST /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nc",
        chunk,
    )
    await settle()
    assert app.events == ["start /slow"]
    assert transport.written == b""
    await asyncio.wait_for(app.done.wait(), 5)
    await settle()
    assert app.events == [
        "start /slow",
        "end /slow",
        "start /2",
        "end /2",
        "start /3",
        "end /3",
    ]
    responses = parse_responses(bytes(transport.written))
    assert [(r.status, r.body) for r in responses] == [
        (200, b"/slow:ab"),
        (200, b"/2:"),
        (200, b"/3:c"),
    ]
    assert not transport.closed


def _numbered(count: int) -> list[bytes]:
    return [b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n" % n for n in range(1, count + 1)]


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_pipeline_depth_full_pauses_reading_and_resumes_as_handlers_finish(
    chunk: int | None,
) -> None:
    app = Gated()
    config = HTTPConfig(access_log=False, limits=HTTPLimits(max_pipeline_depth=2))
    protocol, transport = connect(app, config)
    feed(protocol, b"".join(_numbered(5)), chunk)
    await settle()
    # One in the handler, four parsed ahead of it: at least the depth, so reading pauses.
    assert app.events == ["start /1"]
    assert transport.reading is False
    reading_after: list[bool] = []
    for n in range(1, 6):
        app.gate(b"/%d" % n).set()
        await settle()
        reading_after.append(transport.reading)
    # Left waiting after each: 3, 2, 1, 0, 0 requests; reading resumes below the depth.
    assert reading_after == [False, False, True, True, True]
    responses = parse_responses(bytes(transport.written))
    assert [(r.status, r.body) for r in responses] == [(200, b"/%d:" % n) for n in range(1, 6)]
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_pipeline_depth_client_honouring_pause_sends_rest_after_resume(
    chunk: int | None,
) -> None:
    app = Gated()
    config = HTTPConfig(access_log=False, limits=HTTPLimits(max_pipeline_depth=2))
    protocol, transport = connect(app, config)
    pending = _numbered(5)
    sent = 0

    def send_while_reading() -> None:
        nonlocal sent
        while pending and transport.reading:
            feed(protocol, pending.pop(0), chunk)
            sent += 1

    send_while_reading()
    await settle()
    # The handler holds /1, and /2 and /3 fill the pipeline: reading paused there.
    assert sent == 3
    assert transport.reading is False
    for n in range(1, 6):
        app.gate(b"/%d" % n).set()
        await settle()
        send_while_reading()
        await settle()
    assert sent == 5
    responses = parse_responses(bytes(transport.written))
    assert [r.body for r in responses] == [b"/%d:" % n for n in range(1, 6)]
    assert transport.reading is True
    assert not transport.closed


# -- request bodies -------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_chunked_request_body_with_extensions_reaches_app_intact(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app)
    feed(
        protocol,
        b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n"
        b'1;a;b="c d"\r\n \r\n'
        b"A\r\n0123456789\r\n"
        b"0;last\r\n\r\n",
        chunk,
    )
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert (response.status, response.body) == (200, b"hello 0123456789")
    assert app.seen == [("POST", b"/up", b"", b"hello 0123456789")]
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_chunked_request_body_with_trailer_reaches_app_intact(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app)
    feed(
        protocol,
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nwiki\r\n0\r\nX-Checksum: 1\r\n\r\n" + GET,
        chunk,
    )
    await settle()
    responses = parse_responses(bytes(transport.written))
    assert [(r.status, r.body) for r in responses] == [(200, b"wiki"), (200, b"")]
    assert not transport.closed


# -- response framing -----------------------------------------------------------------


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_respond_content_length_body_is_exact(chunk: int | None) -> None:
    protocol, transport = connect(Fixed(headers=[(b"x-a", b"1")], body=b"hello world"))
    feed(protocol, GET, chunk)
    await settle()
    raw = bytes(transport.written)
    assert raw.startswith(b"HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 11\r\n")
    assert raw.endswith(b"\r\n\r\nhello world")
    [response] = parse_responses(raw)
    assert response.header("transfer-encoding") is None
    assert response.body == b"hello world"


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_respond_small_response_leaves_in_one_write(chunk: int | None) -> None:
    protocol, transport = connect(Fixed(body=b"x" * 100))
    feed(protocol, GET, chunk)
    await settle()
    assert transport.writes == 1
    [response] = parse_responses(bytes(transport.written))
    assert response.body == b"x" * 100


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_stream_http11_is_chunked_and_keeps_alive(chunk: int | None) -> None:
    protocol, transport = connect(Streamer([b"hello ", b"", b"world"]))
    feed(protocol, GET, chunk)
    await settle()
    raw = bytes(transport.written)
    assert raw.endswith(b"\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n")
    [response] = parse_responses(raw)
    assert response.status == 200
    assert response.header("transfer-encoding") == "chunked"
    assert response.header("content-length") is None
    assert response.header("connection") is None
    assert response.body == b"hello world"
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_stream_http10_is_close_delimited(chunk: int | None) -> None:
    protocol, transport = connect(Streamer([b"hello ", b"world"]))
    feed(protocol, b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", chunk)
    await settle()
    raw = bytes(transport.written)
    assert raw.endswith(b"\r\n\r\nhello world")
    [response] = parse_responses(raw)
    assert response.status == 200
    assert response.header("transfer-encoding") is None
    assert response.header("content-length") is None
    assert response.header("connection") == "close"
    assert response.body == b"hello world"
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_stream_with_app_content_length_is_not_chunked(chunk: int | None) -> None:
    protocol, transport = connect(Streamer([b"hello ", b"world"], [(b"Content-Length", b"11")]))
    feed(protocol, GET + GET, chunk)
    await settle()
    raw = bytes(transport.written)
    responses = parse_responses(raw)
    assert [(r.status, r.body) for r in responses] == [(200, b"hello world")] * 2
    assert responses[0].header("content-length") == "11"
    assert responses[0].header("transfer-encoding") is None
    assert raw.count(b"hello world") == 2
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_head_respond_sends_length_of_would_be_body_and_no_body(chunk: int | None) -> None:
    protocol, transport = connect(Fixed(body=b"hello"))
    feed(protocol, b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", chunk)
    await settle()
    raw = bytes(transport.written)
    assert raw.endswith(b"\r\n\r\n")
    [response] = parse_responses(raw, head_request=True)
    assert response.status == 200
    assert response.header("content-length") == "5"
    assert response.body == b""
    # The connection is still in step: a GET after the HEAD gets the body.
    transport.take()
    feed(protocol, GET, chunk)
    await settle()
    [after] = parse_responses(bytes(transport.written))
    assert (after.status, after.body) == (200, b"hello")
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_head_stream_with_length_sends_headers_and_no_body(chunk: int | None) -> None:
    protocol, transport = connect(Streamer([b"hello"], [(b"content-length", b"5")]))
    feed(protocol, b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", chunk)
    await settle()
    raw = bytes(transport.written)
    assert raw.endswith(b"\r\n\r\n")
    assert b"hello" not in raw
    [response] = parse_responses(raw, head_request=True)
    assert response.header("content-length") == "5"
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_head_stream_without_length_sends_no_chunks(chunk: int | None) -> None:
    protocol, transport = connect(Streamer([b"hello", b"world"]))
    feed(protocol, b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", chunk)
    await settle()
    raw = bytes(transport.written)
    assert raw.endswith(b"\r\n\r\n")
    assert raw.count(b"\r\n\r\n") == 1
    assert b"hello" not in raw
    [response] = parse_responses(raw, head_request=True)
    assert response.header("transfer-encoding") == "chunked"
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_status_204_has_no_body_and_no_content_length(chunk: int | None) -> None:
    protocol, transport = connect(Fixed(status=204, body=b"dropped"))
    feed(protocol, GET + GET, chunk)
    await settle()
    raw = bytes(transport.written)
    assert b"dropped" not in raw
    responses = parse_responses(raw)
    assert [r.status for r in responses] == [204, 204]
    assert all(r.body == b"" for r in responses)
    assert [r.header("content-length") for r in responses] == [None, None]
    assert [r.header("transfer-encoding") for r in responses] == [None, None]
    assert raw.endswith(b"\r\n\r\n")
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_status_304_has_no_body(chunk: int | None) -> None:
    protocol, transport = connect(Fixed(status=304, headers=[(b"etag", b'"v1"')]))
    feed(protocol, GET, chunk)
    await settle()
    raw = bytes(transport.written)
    assert raw.endswith(b"\r\n\r\n")
    [response] = parse_responses(raw)
    assert (response.status, response.body) == (304, b"")
    assert response.header("etag") == '"v1"'
    assert response.header("content-length") is None
    assert response.header("transfer-encoding") is None
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_status_304_keeps_app_content_length_and_sends_no_body(chunk: int | None) -> None:
    protocol, transport = connect(Fixed(status=304, headers=[(b"content-length", b"42")]))
    feed(protocol, GET, chunk)
    await settle()
    raw = bytes(transport.written)
    assert raw.endswith(b"\r\n\r\n")
    [response] = parse_responses(raw)
    assert (response.status, response.body) == (304, b"")
    assert response.header("content-length") == "42"


# -- Date and Server headers ----------------------------------------------------------


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_date_header_present_and_refreshed_when_clock_advances(chunk: int | None) -> None:
    clock = FakeClock(start=1_700_000_000.0)
    protocol, transport = connect(Fixed(), clock=clock)
    protocol.state.start_ticking(clock)
    try:
        feed(protocol, GET, chunk)
        await settle()
        clock.advance(1.0)
        feed(protocol, GET, chunk)
        await settle()
        clock.advance(1.0)
        feed(protocol, GET, chunk)
        await settle()
    finally:
        protocol.state.stop_ticking()
    first, second, third = (r.header("date") for r in parse_responses(bytes(transport.written)))
    assert first is not None
    assert parsedate_to_datetime(first).tzinfo is not None
    assert second == formatdate(1_700_000_001.0, usegmt=True)
    assert third == formatdate(1_700_000_002.0, usegmt=True)
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_date_header_not_refreshed_before_a_second_passes(chunk: int | None) -> None:
    clock = FakeClock(start=1_700_000_000.0)
    protocol, transport = connect(Fixed(), clock=clock)
    protocol.state.start_ticking(clock)
    try:
        clock.advance(1.0)
        feed(protocol, GET, chunk)
        await settle()
        clock.advance(0.9)
        feed(protocol, GET, chunk)
        await settle()
    finally:
        protocol.state.stop_ticking()
    dates = [r.header("date") for r in parse_responses(bytes(transport.written))]
    assert dates == [formatdate(1_700_000_001.0, usegmt=True)] * 2


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_server_header_default_is_typhoon(chunk: int | None) -> None:
    protocol, transport = connect(Fixed())
    feed(protocol, GET, chunk)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert response.header("server") == "typhoon"


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_server_header_custom_value_is_sent(chunk: int | None) -> None:
    protocol, transport = connect(Fixed(), HTTPConfig(server_header="x", access_log=False))
    feed(protocol, GET, chunk)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert [value for name, value in response.headers if name.lower() == "server"] == ["x"]


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_server_header_none_is_omitted(chunk: int | None) -> None:
    protocol, transport = connect(Fixed(), HTTPConfig(server_header=None, access_log=False))
    feed(protocol, GET, chunk)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert response.header("server") is None
    assert response.header("date") is not None


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_server_and_date_from_app_replace_the_defaults(chunk: int | None) -> None:
    app = Fixed(headers=[(b"Server", b"mine"), (b"Date", b"Thu, 01 Jan 1970 00:00:00 GMT")])
    protocol, transport = connect(app)
    feed(protocol, GET, chunk)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert [v for n, v in response.headers if n.lower() == "server"] == ["mine"]
    assert [v for n, v in response.headers if n.lower() == "date"] == [
        "Thu, 01 Jan 1970 00:00:00 GMT"
    ]


# -- request targets --------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_absolute_form_target_gives_path_and_query(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app)
    feed(protocol, b"GET http://example.com/a?b=1 HTTP/1.1\r\nHost: example.com\r\n\r\n", chunk)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert response.status == 200
    assert app.seen == [("GET", b"/a", b"b=1", b"")]
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_absolute_form_target_without_path_gives_root(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app)
    feed(protocol, b"GET https://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", chunk)
    await settle()
    assert [r.status for r in parse_responses(bytes(transport.written))] == [200]
    assert app.seen == [("GET", b"/", b"", b"")]


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_options_asterisk_reaches_app(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app)
    feed(protocol, b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", chunk)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert response.status == 200
    assert app.seen == [("OPTIONS", b"*", b"", b"")]
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_http10_without_host_is_served(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app)
    feed(protocol, b"GET /x HTTP/1.0\r\n\r\n", chunk)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert response.status == 200
    assert app.seen == [("GET", b"/x", b"", b"")]
    assert transport.closed


# -- Expect: 100-continue ---------------------------------------------------------------


class ReadsWhenTold:
    """Waits for ``go`` before reading the body; then answers with it."""

    def __init__(self) -> None:
        self.go = asyncio.Event()
        self.bodies: list[bytes] = []

    async def handle(self, exchange: Exchange) -> None:
        await self.go.wait()
        body = await exchange.body()
        self.bodies.append(body)
        exchange.respond(200, [], body)


EXPECT_HEAD = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_expect_continue_sent_only_when_app_reads_then_response(chunk: int | None) -> None:
    app = ReadsWhenTold()
    protocol, transport = connect(app)
    feed(protocol, EXPECT_HEAD, chunk)
    await settle()
    assert transport.written == b""
    app.go.set()
    await settle()
    assert bytes(transport.written) == CONTINUE
    feed(protocol, b"hello", chunk)
    await settle()
    raw = bytes(transport.written)
    assert raw.startswith(CONTINUE)
    assert raw.count(b"100 Continue") == 1
    responses = parse_responses(raw)
    assert [(r.status, r.body) for r in responses] == [(100, b""), (200, b"hello")]
    assert app.bodies == [b"hello"]
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_expect_continue_with_receive_sends_continue_once(chunk: int | None) -> None:
    pieces: list[bytes] = []

    class Receiver:
        async def handle(self, exchange: Exchange) -> None:
            while data := await exchange.receive():
                pieces.append(data)
            exchange.respond(200, [], b"".join(pieces))

    protocol, transport = connect(Receiver())
    feed(protocol, EXPECT_HEAD, chunk)
    await settle()
    assert bytes(transport.written) == CONTINUE
    feed(protocol, b"he", chunk)
    await settle()
    feed(protocol, b"llo", chunk)
    await settle()
    raw = bytes(transport.written)
    assert raw.count(b"100 Continue") == 1
    assert [(r.status, r.body) for r in parse_responses(raw)] == [(100, b""), (200, b"hello")]


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_expect_continue_app_answers_without_reading_sends_no_continue_and_closes(
    chunk: int | None,
) -> None:
    app = Fixed(status=403, body=b"no")
    protocol, transport = connect(app)
    feed(protocol, EXPECT_HEAD, chunk)
    await settle()
    raw = bytes(transport.written)
    assert b"100 Continue" not in raw
    [response] = parse_responses(raw)
    assert (response.status, response.body) == (403, b"no")
    assert response.header("connection") == "close"
    assert app.calls == 1
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_expect_other_value_is_417_and_closes(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app)
    feed(
        protocol,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: something-else\r\n\r\n",
        chunk,
    )
    await settle()
    raw = bytes(transport.written)
    assert b"100 Continue" not in raw
    [response] = parse_responses(raw)
    assert response.status == 417
    assert response.body.startswith(b"417 Expectation Failed")
    assert response.header("connection") == "close"
    assert app.seen == []
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_expect_continue_with_length_over_limit_is_413_without_continue(
    chunk: int | None,
) -> None:
    app = Echo()
    config = HTTPConfig(access_log=False, limits=HTTPLimits(max_body_bytes=4))
    protocol, transport = connect(app, config)
    feed(protocol, EXPECT_HEAD, chunk)
    await settle()
    raw = bytes(transport.written)
    assert b"100 Continue" not in raw
    [response] = parse_responses(raw)
    assert response.status == 413
    assert response.header("connection") == "close"
    assert app.seen == []
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_expect_continue_on_http10_is_ignored(chunk: int | None) -> None:
    app = ReadsWhenTold()
    app.go.set()
    protocol, transport = connect(app)
    feed(
        protocol,
        b"POST / HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
        chunk,
    )
    await settle()
    assert transport.written == b""
    feed(protocol, b"hello", chunk)
    await settle()
    raw = bytes(transport.written)
    assert b"100 Continue" not in raw
    [response] = parse_responses(raw)
    assert (response.status, response.body) == (200, b"hello")
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_expect_unknown_value_on_http10_is_ignored(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app)
    feed(
        protocol,
        b"POST / HTTP/1.0\r\nContent-Length: 5\r\nExpect: something-else\r\n\r\nhello",
        chunk,
    )
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert (response.status, response.body) == (200, b"hello")
    assert app.seen == [("POST", b"/", b"", b"hello")]
