"""HTTPProtocol timers and flow control, driven by a FakeClock and a MemoryTransport.

Timeouts: the head must arrive within header_timeout_s, an idle keep-alive connection
closes after keep_alive_timeout_s, a body may not stall for body_timeout_s. Flow
control: reading pauses while the request body is buffered above the high-water mark,
and streamed writes wait while the transport is paused. Requests are fed whole and in
1-, 2- and 7-byte pieces.
"""

from __future__ import annotations

import asyncio

import pytest

from typhoon.http import Application, Exchange, HTTPConfig, HTTPLimits, HTTPProtocol
from typhoon.testing import FakeClock, MemoryTransport, connect, feed, parse_responses, settle

GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
REQUEST_TIMEOUT = b"408 Request Timeout: request body not received in time\n"


class Fixed:
    """Answers 200 ``ok`` without reading; counts calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def handle(self, exchange: Exchange) -> None:
        self.calls += 1
        exchange.respond(200, [], b"ok")


class Receiver:
    """Waits for ``go``, then reads the body piece by piece and answers with it.

    After each piece it records the exchange's buffered byte count and whether the
    transport was reading at that moment.
    """

    def __init__(self, transport: MemoryTransport | None = None, *, go: bool = True) -> None:
        self.transport = transport
        self.go = asyncio.Event()
        if go:
            self.go.set()
        self.received = bytearray()
        self.pieces: list[bytes] = []
        self.steps: list[tuple[int, bool]] = []
        self.outcome: str | None = None

    async def handle(self, exchange: Exchange) -> None:
        self.received = bytearray()
        try:
            await self.go.wait()
            while data := await exchange.receive():
                self.pieces.append(data)
                self.received += data
                if self.transport is not None:
                    self.steps.append((exchange.buffered, self.transport.reading))
        except asyncio.CancelledError:
            self.outcome = "cancelled"
            raise
        self.outcome = "complete"
        exchange.respond(200, [], bytes(self.received))


def _connect(
    app: Application, clock: FakeClock, **limits: int | float
) -> tuple[HTTPProtocol, MemoryTransport]:
    config = HTTPConfig(access_log=False, limits=HTTPLimits(**limits))  # type: ignore[arg-type]
    return connect(app, config, clock=clock)


# -- header timeout ---------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_header_timeout_partial_head_closes_at_10s_not_9_9s(chunk: int | None) -> None:
    app = Fixed()
    clock = FakeClock(start=0.0)
    protocol, transport = connect(app, clock=clock)
    feed(protocol, b"GET / HTTP/1.1\r\nHost: a\r\n", chunk)
    await settle()
    clock.advance(9.9)
    await settle()
    assert not transport.closed
    clock.advance(0.1)
    await settle()
    assert transport.closed
    assert transport.written == b""
    assert app.calls == 0


async def test_header_timeout_idle_new_connection_closes_at_header_timeout() -> None:
    clock = FakeClock(start=0.0)
    _, transport = connect(Fixed(), clock=clock)
    clock.advance(9.9)
    await settle()
    assert not transport.closed
    clock.advance(0.1)
    await settle()
    assert transport.closed
    assert transport.written == b""


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_header_timeout_custom_value_closes_partial_head(chunk: int | None) -> None:
    clock = FakeClock(start=0.0)
    protocol, transport = _connect(Fixed(), clock, header_timeout_s=2.0)
    feed(protocol, b"GET /", chunk)
    clock.advance(1.99)
    await settle()
    assert not transport.closed
    clock.advance(0.01)
    await settle()
    assert transport.closed
    assert transport.written == b""


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_header_timeout_complete_head_in_time_is_served(chunk: int | None) -> None:
    clock = FakeClock(start=0.0)
    protocol, transport = connect(Fixed(), clock=clock)
    feed(protocol, b"GET / HTTP/1.1\r\n", chunk)
    clock.advance(9.9)
    feed(protocol, b"Host: a\r\n\r\n", chunk)
    await settle()
    clock.advance(0.2)
    await settle()
    assert [r.status for r in parse_responses(bytes(transport.written))] == [200]
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_header_timeout_second_request_counts_from_its_first_byte(
    chunk: int | None,
) -> None:
    clock = FakeClock(start=0.0)
    protocol, transport = connect(Fixed(), clock=clock)
    feed(protocol, GET, chunk)
    await settle()
    transport.take()
    clock.advance(3.0)
    feed(protocol, b"GET / HTTP/1.1\r\nHo", chunk)
    # The keep-alive timer (5 s) is cancelled by the new request's first byte.
    clock.advance(9.9)
    await settle()
    assert not transport.closed
    clock.advance(0.1)
    await settle()
    assert transport.closed
    assert transport.written == b""


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_header_timeout_behind_request_in_flight_closes_after_its_response(
    chunk: int | None,
) -> None:
    app = Receiver(go=False)
    clock = FakeClock(start=0.0)
    protocol, transport = connect(app, clock=clock)
    feed(protocol, GET + b"GET /next HTTP/1.1\r\n", chunk)
    await settle()
    clock.advance(10.0)
    await settle()
    assert not transport.closed  # the request in hand is still answered
    app.go.set()
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert response.status == 200
    assert response.header("connection") == "close"
    assert transport.closed


# -- keep-alive timeout -------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_keep_alive_idle_closes_after_5s(chunk: int | None) -> None:
    clock = FakeClock(start=0.0)
    protocol, transport = connect(Fixed(), clock=clock)
    feed(protocol, GET, chunk)
    await settle()
    assert [r.status for r in parse_responses(bytes(transport.written))] == [200]
    clock.advance(4.9)
    await settle()
    assert not transport.closed
    clock.advance(0.1)
    await settle()
    assert transport.closed
    assert [r.status for r in parse_responses(bytes(transport.written))] == [200]


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_keep_alive_new_request_before_5s_cancels_idle_close(chunk: int | None) -> None:
    app = Fixed()
    clock = FakeClock(start=0.0)
    protocol, transport = connect(app, clock=clock)
    feed(protocol, GET, chunk)
    await settle()
    clock.advance(4.0)
    feed(protocol, GET, chunk)
    await settle()
    clock.advance(1.5)  # 5.5 s after the first response
    await settle()
    assert not transport.closed
    clock.advance(3.4)  # 4.9 s after the second
    await settle()
    assert not transport.closed
    clock.advance(0.1)
    await settle()
    assert transport.closed
    assert app.calls == 2
    assert [r.status for r in parse_responses(bytes(transport.written))] == [200, 200]


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_keep_alive_timer_waits_for_slow_handler(chunk: int | None) -> None:
    app = Receiver(go=False)
    clock = FakeClock(start=0.0)
    protocol, transport = connect(app, clock=clock)
    feed(protocol, GET, chunk)
    await settle()
    clock.advance(60.0)
    await settle()
    assert not transport.closed
    app.go.set()
    await settle()
    assert [r.status for r in parse_responses(bytes(transport.written))] == [200]
    clock.advance(4.9)
    await settle()
    assert not transport.closed
    clock.advance(0.1)
    await settle()
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_keep_alive_custom_timeout_closes_idle_connection(chunk: int | None) -> None:
    clock = FakeClock(start=0.0)
    protocol, transport = _connect(Fixed(), clock, keep_alive_timeout_s=0.5)
    feed(protocol, GET, chunk)
    await settle()
    clock.advance(0.49)
    await settle()
    assert not transport.closed
    clock.advance(0.01)
    await settle()
    assert transport.closed


# -- body timeout -------------------------------------------------------------------------

POST_10 = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n"


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_body_timeout_stalled_30s_is_408_and_closes(chunk: int | None) -> None:
    app = Receiver()
    clock = FakeClock(start=0.0)
    protocol, transport = connect(app, clock=clock)
    feed(protocol, POST_10 + b"abc", chunk)
    await settle()
    assert app.received == b"abc"
    clock.advance(29.9)
    await settle()
    assert not transport.closed
    assert transport.written == b""
    clock.advance(0.1)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert (response.status, response.body) == (408, REQUEST_TIMEOUT)
    assert response.header("connection") == "close"
    assert transport.closed
    assert app.outcome == "cancelled"


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_body_timeout_no_body_byte_at_all_is_408(chunk: int | None) -> None:
    app = Receiver()
    clock = FakeClock(start=0.0)
    protocol, transport = connect(app, clock=clock)
    feed(protocol, POST_10, chunk)
    await settle()
    clock.advance(29.9)
    await settle()
    assert not transport.closed
    clock.advance(0.1)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert response.status == 408
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_body_timeout_arriving_bytes_extend_it(chunk: int | None) -> None:
    app = Receiver()
    clock = FakeClock(start=0.0)
    protocol, transport = connect(app, clock=clock)
    feed(protocol, POST_10 + b"abc", chunk)
    await settle()
    clock.advance(20.0)
    feed(protocol, b"de", chunk)
    await settle()
    clock.advance(20.0)  # 40 s in, 20 s since the last byte
    await settle()
    assert not transport.closed
    feed(protocol, b"f", chunk)
    clock.advance(29.9)  # 69.9 s in
    await settle()
    assert not transport.closed
    assert transport.written == b""
    clock.advance(0.1)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert response.status == 408
    assert transport.closed
    assert app.received == b"abcdef"


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_body_timeout_body_completed_in_pieces_is_served(chunk: int | None) -> None:
    app = Receiver()
    clock = FakeClock(start=0.0)
    protocol, transport = connect(app, clock=clock)
    feed(protocol, POST_10 + b"abc", chunk)
    for piece in (b"de", b"fgh", b"ij"):
        clock.advance(25.0)
        feed(protocol, piece, chunk)
        await settle()
    clock.advance(100.0)
    await settle()
    responses = parse_responses(bytes(transport.written))
    assert [(r.status, r.body) for r in responses] == [(200, b"abcdefghij")]
    # Long idle after the response: the keep-alive timer has closed it, without a 408.
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_body_timeout_custom_value_is_408(chunk: int | None) -> None:
    app = Receiver()
    clock = FakeClock(start=0.0)
    protocol, transport = _connect(app, clock, body_timeout_s=1.0)
    feed(
        protocol, b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab", chunk
    )
    await settle()
    clock.advance(0.99)
    await settle()
    assert not transport.closed
    clock.advance(0.01)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert response.status == 408
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_body_timeout_does_not_fire_while_reading_paused_for_slow_app(
    chunk: int | None,
) -> None:
    clock = FakeClock(start=0.0)
    app = Receiver(go=False)
    protocol, transport = _connect(app, clock, read_high_water_bytes=4)
    app.transport = transport
    feed(protocol, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n\r\n01234567", chunk)
    await settle()
    assert transport.reading is False
    clock.advance(100.0)  # the application, not the client, is the slow one
    await settle()
    assert not transport.closed
    assert transport.written == b""
    app.go.set()
    await settle()
    assert transport.reading is True
    assert app.received == b"01234567"
    # From here the client is given the whole body timeout again.
    clock.advance(29.9)
    await settle()
    assert not transport.closed
    feed(protocol, b"89abcdefghij", chunk)
    await settle()
    responses = parse_responses(bytes(transport.written))
    assert [(r.status, r.body) for r in responses] == [(200, b"0123456789abcdefghij")]
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_body_timeout_after_paused_reading_resumes_counts_from_resume(
    chunk: int | None,
) -> None:
    clock = FakeClock(start=0.0)
    app = Receiver(go=False)
    protocol, transport = _connect(app, clock, read_high_water_bytes=4)
    feed(protocol, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n\r\n01234567", chunk)
    await settle()
    clock.advance(100.0)
    app.go.set()
    await settle()
    assert transport.reading is True
    clock.advance(29.9)
    await settle()
    assert not transport.closed
    clock.advance(0.1)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert response.status == 408
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_body_timeout_expect_continue_starts_when_continue_is_sent(
    chunk: int | None,
) -> None:
    clock = FakeClock(start=0.0)
    app = Receiver(go=False)
    protocol, transport = connect(app, clock=clock)
    feed(
        protocol,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
        chunk,
    )
    await settle()
    clock.advance(60.0)  # the client waits for 100 Continue: no body timeout yet
    await settle()
    assert not transport.closed
    app.go.set()
    await settle()
    assert bytes(transport.written) == b"HTTP/1.1 100 Continue\r\n\r\n"
    clock.advance(29.9)
    await settle()
    assert not transport.closed
    clock.advance(0.1)
    await settle()
    responses = parse_responses(bytes(transport.written))
    assert [r.status for r in responses] == [100, 408]
    assert transport.closed


# -- flow control: request bodies ---------------------------------------------------------


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_request_body_above_high_water_pauses_reading_until_app_consumes(
    chunk: int | None, framing: str
) -> None:
    app = Receiver(go=False)
    protocol, transport = _connect(app, FakeClock(), read_high_water_bytes=16)
    app.transport = transport
    body = bytes(range(65, 125))  # 60 bytes: 40 now, 20 once the application caught up
    if framing == "length":
        first = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 60\r\n\r\n" + body[:40]
        rest = body[40:]
    else:
        first = (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"14\r\n" + body[:20] + b"\r\n14\r\n" + body[20:40] + b"\r\n"
        )
        rest = b"14\r\n" + body[40:] + b"\r\n0\r\n\r\n"
    feed(protocol, first, chunk)
    await settle()
    assert transport.reading is False
    assert transport.written == b""
    app.go.set()
    await settle()
    # Reading was paused exactly while 16 bytes or more waited for the application.
    assert app.received == body[:40]
    assert app.steps
    assert all(reading == (buffered < 16) for buffered, reading in app.steps)
    assert transport.reading is True
    feed(protocol, rest, chunk)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert (response.status, response.body) == (200, body)
    assert transport.reading is True
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_request_body_above_high_water_complete_resumes_reading_for_next_request(
    chunk: int | None,
) -> None:
    app = Receiver(go=False)
    protocol, transport = _connect(app, FakeClock(), read_high_water_bytes=16)
    feed(protocol, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\n\r\n" + b"z" * 40, chunk)
    await settle()
    # The whole body is in: it no longer holds reading back, though unread.
    assert transport.reading is True
    feed(protocol, GET, chunk)
    app.go.set()
    await settle()
    responses = parse_responses(bytes(transport.written))
    assert [(r.status, r.body) for r in responses] == [(200, b"z" * 40), (200, b"")]
    assert transport.reading is True
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_request_body_above_high_water_unread_by_app_next_request_is_read(
    chunk: int | None,
) -> None:
    app = Fixed()
    protocol, transport = _connect(app, FakeClock(), read_high_water_bytes=16)
    feed(protocol, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\n\r\n" + b"z" * 40, chunk)
    await settle()
    assert transport.reading is True
    feed(protocol, GET, chunk)
    await settle()
    assert [r.status for r in parse_responses(bytes(transport.written))] == [200, 200]
    assert app.calls == 2
    assert transport.reading is True


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_request_body_below_high_water_keeps_reading(chunk: int | None) -> None:
    app = Receiver(go=False)
    protocol, transport = _connect(app, FakeClock(), read_high_water_bytes=16)
    feed(protocol, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 15\r\n\r\n" + b"x" * 15, chunk)
    await settle()
    assert transport.reading is True
    app.go.set()
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert response.body == b"x" * 15


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_request_body_at_default_high_water_pauses_reading(chunk: int | None) -> None:
    app = Receiver(go=False)
    protocol, transport = connect(app, clock=FakeClock())
    size = HTTPLimits().read_high_water_bytes
    head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % (size + 1)
    feed(protocol, head, chunk)
    feed(protocol, b"y" * (size - 1), chunk)
    await settle()
    assert transport.reading is True
    feed(protocol, b"y", chunk)
    await settle()
    assert transport.reading is False
    app.go.set()
    await settle()
    assert transport.reading is True
    feed(protocol, b"!", chunk)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert response.body == b"y" * size + b"!"


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_request_body_reaches_app_as_stream(chunk: int | None) -> None:
    pieces: list[bytes] = []
    seen_before_end: list[bytes] = []

    class Streaming:
        async def handle(self, exchange: Exchange) -> None:
            async for piece in exchange.stream():
                pieces.append(piece)
            exchange.respond(200, [], b"|".join(pieces))

    protocol, transport = connect(Streaming())
    feed(protocol, b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", chunk)
    feed(protocol, b"5\r\nhello\r\n", chunk)
    await settle()
    seen_before_end.extend(pieces)
    assert transport.written == b""
    feed(protocol, b"6\r\n world\r\n0\r\n\r\n", chunk)
    await settle()
    assert b"".join(seen_before_end) == b"hello"
    assert b"".join(pieces) == b"hello world"
    [response] = parse_responses(bytes(transport.written))
    assert response.status == 200
    assert response.body.replace(b"|", b"") == b"hello world"
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_request_body_ignored_by_app_but_complete_keeps_connection(
    chunk: int | None,
) -> None:
    app = Fixed()
    protocol, transport = connect(app)
    feed(protocol, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" + GET, chunk)
    await settle()
    responses = parse_responses(bytes(transport.written))
    assert [(r.status, r.header("connection")) for r in responses] == [(200, None), (200, None)]
    assert app.calls == 2
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_request_body_ignored_by_app_and_incomplete_is_discarded_and_kept_alive(
    chunk: int | None,
) -> None:
    app = Fixed()
    protocol, transport = connect(app)
    feed(protocol, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhe", chunk)
    await settle()
    [response] = parse_responses(transport.take())
    assert (response.status, response.header("connection")) == (200, None)
    assert not transport.closed
    # The rest of the body is read and dropped; the next request is answered.
    feed(protocol, b"llo" + GET, chunk)
    await settle()
    [after] = parse_responses(transport.take())
    assert after.status == 200
    assert app.calls == 2
    assert not transport.closed


# -- flow control: streamed responses -----------------------------------------------------


class Writer:
    """Streams ``one`` then ``two``; records each write once it has returned."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.error: str | None = None

    async def handle(self, exchange: Exchange) -> None:
        exchange.start(200)
        try:
            await exchange.write(b"one")
            self.done.append("one")
            await exchange.write(b"two")
            self.done.append("two")
        except Exception as exc:
            self.error = type(exc).__name__
            raise
        await exchange.end()
        self.done.append("end")


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_stream_write_waits_while_writing_paused_until_resumed(chunk: int | None) -> None:
    app = Writer()
    protocol, transport = connect(app)
    protocol.pause_writing()
    feed(protocol, GET, chunk)
    await settle()
    # The first piece went out, but write() has not returned.
    assert bytes(transport.written).endswith(b"\r\n\r\n3\r\none\r\n")
    assert app.done == []
    await settle()
    assert app.done == []
    protocol.resume_writing()
    await settle()
    assert app.done == ["one", "two", "end"]
    [response] = parse_responses(bytes(transport.written))
    assert (response.status, response.body) == (200, b"onetwo")
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_stream_write_paused_again_waits_again(chunk: int | None) -> None:
    app = Writer()
    protocol, transport = connect(app)
    protocol.pause_writing()
    feed(protocol, GET, chunk)
    await settle()
    protocol.resume_writing()
    protocol.pause_writing()
    await settle()
    assert app.done == ["one"]
    assert bytes(transport.written).endswith(b"3\r\ntwo\r\n")
    protocol.resume_writing()
    await settle()
    assert app.done == ["one", "two", "end"]


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_stream_write_not_paused_does_not_wait(chunk: int | None) -> None:
    app = Writer()
    protocol, transport = connect(app)
    feed(protocol, GET, chunk)
    await settle()
    assert app.done == ["one", "two", "end"]
    [response] = parse_responses(bytes(transport.written))
    assert response.body == b"onetwo"


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_respond_with_writing_paused_waits_before_next_request(chunk: int | None) -> None:
    app = Fixed()
    protocol, transport = connect(app)
    protocol.pause_writing()
    feed(protocol, GET + GET, chunk)
    await settle()
    assert app.calls == 1  # the next request waits for the transport to drain
    protocol.resume_writing()
    await settle()
    assert app.calls == 2
    assert [r.status for r in parse_responses(bytes(transport.written))] == [200, 200]
