"""HTTPProtocol when the application fails, the client leaves, or the server drains.

Application errors become a 500 (or an abort once the response has started) and are
logged once on ``typhoon.error``; the server keeps serving. Requests are fed whole and
in 1-, 2- and 7-byte pieces.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from typhoon.http import (
    Application,
    ClientDisconnected,
    Exchange,
    HTTPConfig,
    HTTPProtocol,
    ServerState,
)
from typhoon.http.protocol import FIRST_REQUEST_GRACE_S
from typhoon.testing import FakeClock, MemoryTransport, connect, feed, parse_responses, settle

GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
INTERNAL_ERROR = b"500 Internal Server Error\n"
SECRET = "secret-detail-4711"


class Boom(Exception):
    pass


def _error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "typhoon.error"]


def _assert_one_traceback(caplog: pytest.LogCaptureFixture, kind: type[BaseException]) -> None:
    [record] = _error_records(caplog)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert record.exc_info[0] is kind


# -- exceptions in the application ------------------------------------------------------


class RaisesBeforeResponding:
    async def handle(self, exchange: Exchange) -> None:
        if exchange.path == b"/ok":
            exchange.respond(200, [], b"fine")
            return
        raise Boom(SECRET)


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_app_exception_before_responding_is_500_without_details_and_logged(
    chunk: int | None, caplog: pytest.LogCaptureFixture
) -> None:
    protocol, transport = connect(RaisesBeforeResponding())
    feed(protocol, b"GET /boom HTTP/1.1\r\nHost: a\r\n\r\n", chunk)
    await settle()
    raw = bytes(transport.written)
    assert SECRET.encode() not in raw
    assert b"Boom" not in raw
    [response] = parse_responses(raw)
    assert (response.status, response.body) == (500, INTERNAL_ERROR)
    assert response.header("content-type") == "text/plain; charset=utf-8"
    assert response.header("content-length") == str(len(INTERNAL_ERROR))
    _assert_one_traceback(caplog, Boom)
    assert "GET /boom" in _error_records(caplog)[0].getMessage()


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_app_exception_before_responding_connection_serves_next_request(
    chunk: int | None, caplog: pytest.LogCaptureFixture
) -> None:
    protocol, transport = connect(RaisesBeforeResponding())
    feed(
        protocol, b"GET /boom HTTP/1.1\r\nHost: a\r\n\r\nGET /ok HTTP/1.1\r\nHost: a\r\n\r\n", chunk
    )
    await settle()
    responses = parse_responses(bytes(transport.written))
    assert [(r.status, r.body) for r in responses] == [(500, INTERNAL_ERROR), (200, b"fine")]
    assert len(_error_records(caplog)) == 1
    assert not transport.closed


class RaisesAfterStart:
    async def handle(self, exchange: Exchange) -> None:
        exchange.start(200, [(b"content-type", b"text/plain")])
        await exchange.write(b"partial")
        raise Boom(SECRET)


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_app_exception_after_response_started_aborts_connection(
    chunk: int | None, caplog: pytest.LogCaptureFixture
) -> None:
    protocol, transport = connect(RaisesAfterStart())
    feed(protocol, GET, chunk)
    await settle()
    raw = bytes(transport.written)
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    assert raw.endswith(b"\r\n\r\n7\r\npartial\r\n")  # no last chunk: the body is cut short
    assert b"500" not in raw
    assert transport.aborted
    assert transport.closed
    _assert_one_traceback(caplog, Boom)


class ReturnsWithoutResponse:
    async def handle(self, exchange: Exchange) -> None:
        await exchange.body()


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_app_returning_without_response_is_500_and_logged(
    chunk: int | None, caplog: pytest.LogCaptureFixture
) -> None:
    protocol, transport = connect(ReturnsWithoutResponse())
    feed(protocol, b"POST /quiet HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi" + GET, chunk)
    await settle()
    responses = parse_responses(bytes(transport.written))
    assert [(r.status, r.body) for r in responses] == [(500, INTERNAL_ERROR)] * 2
    records = _error_records(caplog)
    assert len(records) == 2
    assert "POST /quiet: the application returned without a response" in records[0].getMessage()
    assert records[0].exc_info is None
    assert not transport.closed


class StreamsWithoutEnd:
    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    async def handle(self, exchange: Exchange) -> None:
        exchange.start(200, [(b"content-type", b"text/plain")])
        for piece in self.pieces:
            await exchange.write(piece)


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize("pieces", [[b"abc", b"def"], []], ids=["written", "nothing-written"])
async def test_stream_app_returning_without_end_gets_response_finished(
    chunk: int | None, pieces: list[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    protocol, transport = connect(StreamsWithoutEnd(pieces))
    feed(protocol, GET + GET, chunk)
    await settle()
    raw = bytes(transport.written)
    assert raw.endswith(b"0\r\n\r\n")
    responses = parse_responses(raw)
    assert [(r.status, r.body) for r in responses] == [(200, b"".join(pieces))] * 2
    assert _error_records(caplog) == []
    assert not transport.aborted
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_respond_twice_raises_runtime_error_first_response_intact(
    chunk: int | None, caplog: pytest.LogCaptureFixture
) -> None:
    errors: list[str] = []

    class RespondsTwice:
        async def handle(self, exchange: Exchange) -> None:
            exchange.respond(200, [], b"first")
            try:
                exchange.respond(200, [], b"second")
            except RuntimeError as exc:
                errors.append(str(exc))
            try:
                exchange.start(200)
            except RuntimeError as exc:
                errors.append(str(exc))

    protocol, transport = connect(RespondsTwice())
    feed(protocol, GET, chunk)
    await settle()
    assert errors == ["the response was already started"] * 2
    [response] = parse_responses(bytes(transport.written))
    assert (response.status, response.body) == (200, b"first")
    assert _error_records(caplog) == []
    assert not transport.closed


class RespondsWith:
    """Answers with the given headers and body, letting any error escape."""

    def __init__(self, headers: list[tuple[bytes, bytes]], body: bytes = b"body") -> None:
        self.headers = headers
        self.body = body

    async def handle(self, exchange: Exchange) -> None:
        exchange.respond(200, self.headers, self.body)


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize(
    "header",
    [
        (b"x-a", b"a\r\nset-cookie: evil=1"),
        (b"x-a", b"a\rb"),
        (b"x-a", b"a\nb"),
        (b"x-a", b"a\x00b"),
        (b"x a", b"v"),
        (b"x-a:", b"v"),
        (b"", b"v"),
        (b"x\r\ny", b"v"),
    ],
    ids=repr,
)
async def test_invalid_response_header_is_500_and_value_error_logged(
    chunk: int | None, header: tuple[bytes, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    protocol, transport = connect(RespondsWith([header]))
    feed(protocol, GET, chunk)
    await settle()
    raw = bytes(transport.written)
    assert b"evil" not in raw
    [response] = parse_responses(raw)
    assert (response.status, response.body) == (500, INTERNAL_ERROR)
    _assert_one_traceback(caplog, ValueError)


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize("length", [b"3", b"5", b"abc", b"-4", b""])
async def test_respond_content_length_mismatch_is_500(
    chunk: int | None, length: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    protocol, transport = connect(RespondsWith([(b"content-length", length)], b"body"))
    feed(protocol, GET, chunk)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert (response.status, response.body) == (500, INTERNAL_ERROR)
    _assert_one_traceback(caplog, ValueError)


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_respond_matching_content_length_is_kept(
    chunk: int | None, caplog: pytest.LogCaptureFixture
) -> None:
    protocol, transport = connect(RespondsWith([(b"Content-Length", b"4")], b"body"))
    feed(protocol, GET, chunk)
    await settle()
    raw = bytes(transport.written)
    assert raw.count(b"ontent-length") == 1
    [response] = parse_responses(raw)
    assert (response.status, response.body) == (200, b"body")
    assert _error_records(caplog) == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize("declared", [b"5", b"7"], ids=["short", "long"])
async def test_stream_body_not_matching_content_length_aborts(
    chunk: int | None, declared: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    class StreamsSix:
        async def handle(self, exchange: Exchange) -> None:
            exchange.start(200, [(b"content-length", declared)])
            await exchange.write(b"abc")
            await exchange.write(b"def")
            await exchange.end()

    protocol, transport = connect(StreamsSix())
    feed(protocol, GET, chunk)
    await settle()
    assert transport.aborted
    _assert_one_traceback(caplog, RuntimeError)


# -- the server survives ------------------------------------------------------------------


class Fails:
    """Fails in the way named by the request path; answers 200 on ``/ok``."""

    async def handle(self, exchange: Exchange) -> None:
        path = exchange.path
        if path == b"/ok":
            exchange.respond(200, [], b"ok")
        elif path == b"/raise":
            raise Boom(SECRET)
        elif path == b"/raise-after-start":
            exchange.start(200)
            await exchange.write(b"x")
            raise Boom(SECRET)
        elif path == b"/bad-header":
            exchange.respond(200, [(b"x", b"\r\n")])
        elif path == b"/length-mismatch":
            exchange.respond(200, [(b"content-length", b"9")], b"short")
        elif path == b"/cancelled":
            raise asyncio.CancelledError()
        # "/silent": returns without a response


def _open(app: Application, state: ServerState) -> tuple[HTTPProtocol, MemoryTransport]:
    """A new connection to the same server (the same shared state)."""
    protocol = HTTPProtocol(app, state)
    transport = MemoryTransport()
    transport.set_protocol(protocol)
    protocol.connection_made(transport)
    return protocol, transport


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize(
    "path",
    [b"/raise", b"/raise-after-start", b"/bad-header", b"/length-mismatch", b"/silent"],
)
async def test_server_survives_failing_request_new_connection_works(
    chunk: int | None, path: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    app = Fails()
    state = ServerState(HTTPConfig(access_log=False))
    failing, first = _open(app, state)
    feed(failing, b"GET " + path + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", chunk)
    await settle()
    assert first.closed
    assert len(_error_records(caplog)) == 1
    assert len(state.connections) == 0
    working, second = _open(app, state)
    feed(working, b"GET /ok HTTP/1.1\r\nHost: a\r\n\r\n", chunk)
    await settle()
    [response] = parse_responses(bytes(second.written))
    assert (response.status, response.body) == (200, b"ok")
    assert not second.closed
    assert len(state.connections) == 1


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_server_survives_handler_cancelling_itself(chunk: int | None) -> None:
    app = Fails()
    state = ServerState(HTTPConfig(access_log=False))
    cancelled, first = _open(app, state)
    feed(cancelled, b"GET /cancelled HTTP/1.1\r\nHost: a\r\n\r\n", chunk)
    await settle()
    assert first.closed
    assert first.written == b""
    working, second = _open(app, state)
    feed(working, GET.replace(b"/", b"/ok", 1), chunk)
    await settle()
    [response] = parse_responses(bytes(second.written))
    assert (response.status, response.body) == (200, b"ok")


# -- the client goes away -----------------------------------------------------------------


class Waits:
    """Waits for ``go``; records how that ended; then answers."""

    def __init__(self) -> None:
        self.go = asyncio.Event()
        self.events: list[str] = []

    async def handle(self, exchange: Exchange) -> None:
        try:
            await self.go.wait()
        except asyncio.CancelledError:
            self.events.append("cancelled")
            raise
        self.events.append("completed")
        exchange.respond(200, [], b"late")
        self.events.append("responded")


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_disconnect_while_handler_awaits_cancels_it(
    chunk: int | None, caplog: pytest.LogCaptureFixture
) -> None:
    app = Waits()
    protocol, transport = connect(app)
    feed(protocol, GET, chunk)
    await settle()
    transport.disconnect()
    await settle()
    assert app.events == ["cancelled"]
    assert transport.written == b""
    assert _error_records(caplog) == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_disconnect_with_cancel_on_disconnect_false_handler_completes(
    chunk: int | None, caplog: pytest.LogCaptureFixture
) -> None:
    app = Waits()
    protocol, transport = connect(app, HTTPConfig(access_log=False, cancel_on_disconnect=False))
    feed(protocol, GET, chunk)
    await settle()
    transport.disconnect()
    await settle()
    assert app.events == []
    app.go.set()
    await settle()
    assert app.events == ["completed", "responded"]
    assert transport.written == b""
    assert _error_records(caplog) == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_body_read_after_disconnect_raises_client_disconnected(chunk: int | None) -> None:
    outcome: list[str] = []

    class ReadsLate:
        def __init__(self) -> None:
            self.go = asyncio.Event()

        async def handle(self, exchange: Exchange) -> None:
            await self.go.wait()
            try:
                await exchange.body()
            except ClientDisconnected:
                outcome.append("disconnected")
                raise
            outcome.append("read")

    app = ReadsLate()
    protocol, transport = connect(app, HTTPConfig(access_log=False, cancel_on_disconnect=False))
    feed(protocol, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc", chunk)
    await settle()
    transport.disconnect()
    app.go.set()
    await settle()
    assert outcome == ["disconnected"]


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_body_read_waiting_when_client_disconnects_raises_client_disconnected(
    chunk: int | None,
) -> None:
    outcome: list[str] = []

    class Reads:
        async def handle(self, exchange: Exchange) -> None:
            try:
                await exchange.body()
            except ClientDisconnected:
                outcome.append("disconnected")
                raise

    protocol, transport = connect(Reads(), HTTPConfig(access_log=False, cancel_on_disconnect=False))
    feed(protocol, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc", chunk)
    await settle()
    transport.disconnect()
    await settle()
    assert outcome == ["disconnected"]


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_stream_write_after_disconnect_raises_client_disconnected(chunk: int | None) -> None:
    outcome: list[str] = []
    go = asyncio.Event()

    class WritesLate:
        async def handle(self, exchange: Exchange) -> None:
            exchange.start(200)
            await exchange.write(b"first")
            await go.wait()
            try:
                await exchange.write(b"second")
            except ClientDisconnected:
                outcome.append("disconnected")
                raise

    protocol, transport = connect(
        WritesLate(), HTTPConfig(access_log=False, cancel_on_disconnect=False)
    )
    feed(protocol, GET, chunk)
    await settle()
    transport.disconnect()
    go.set()
    await settle()
    assert outcome == ["disconnected"]
    assert b"second" not in transport.written


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_stream_write_waiting_for_drain_when_client_disconnects_raises(
    chunk: int | None,
) -> None:
    outcome: list[str] = []

    class Writes:
        async def handle(self, exchange: Exchange) -> None:
            exchange.start(200)
            try:
                await exchange.write(b"first")
            except ClientDisconnected:
                outcome.append("disconnected")
                raise

    protocol, transport = connect(
        Writes(), HTTPConfig(access_log=False, cancel_on_disconnect=False)
    )
    protocol.pause_writing()
    feed(protocol, GET, chunk)
    await settle()
    assert outcome == []
    transport.disconnect()
    await settle()
    assert outcome == ["disconnected"]


# -- graceful drain -------------------------------------------------------------------------


async def test_shutdown_new_connection_without_bytes_closes_it_after_grace() -> None:
    clock = FakeClock()
    protocol, transport = connect(Waits(), clock=clock)
    protocol.shutdown()
    await settle()
    assert not transport.closed  # its client connected just before: a request may be coming
    clock.advance(FIRST_REQUEST_GRACE_S - 0.01)
    await settle()
    assert not transport.closed
    clock.advance(0.01)
    await settle()
    assert transport.closed
    assert transport.written == b""


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_shutdown_new_connection_answers_request_arriving_in_grace_with_close(
    chunk: int | None,
) -> None:
    app = Waits()
    app.go.set()
    clock = FakeClock()
    protocol, transport = connect(app, clock=clock)
    protocol.shutdown()
    clock.advance(FIRST_REQUEST_GRACE_S / 2)
    feed(protocol, GET, chunk)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert response.status == 200
    assert response.header("connection") == "close"
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_shutdown_idle_after_response_closes_it(chunk: int | None) -> None:
    app = Waits()
    app.go.set()
    protocol, transport = connect(app)
    feed(protocol, GET, chunk)
    await settle()
    assert not transport.closed
    protocol.shutdown()
    await settle()
    assert transport.closed
    [response] = parse_responses(bytes(transport.written))
    assert response.header("connection") is None


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_shutdown_busy_connection_finishes_response_with_close_then_closes(
    chunk: int | None,
) -> None:
    app = Waits()
    protocol, transport = connect(app)
    feed(protocol, GET, chunk)
    await settle()
    protocol.shutdown()
    await settle()
    assert not transport.closed
    assert app.events == []
    app.go.set()
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert (response.status, response.body) == (200, b"late")
    assert response.header("connection") == "close"
    assert transport.closed
    assert not transport.aborted


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_shutdown_during_partial_head_answers_that_request_with_close(
    chunk: int | None,
) -> None:
    app = Waits()
    app.go.set()
    protocol, transport = connect(app)
    feed(protocol, b"GET / HTTP/1.1\r\n", chunk)
    protocol.shutdown()
    await settle()
    assert not transport.closed
    feed(protocol, b"Host: a\r\n\r\n", chunk)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert response.status == 200
    assert response.header("connection") == "close"
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_shutdown_busy_connection_drops_requests_queued_behind(chunk: int | None) -> None:
    app = Waits()
    protocol, transport = connect(app)
    feed(protocol, GET + GET, chunk)
    await settle()
    protocol.shutdown()
    app.go.set()
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert response.header("connection") == "close"
    assert app.events == ["completed", "responded"]
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_abort_busy_connection_cancels_handler_and_aborts(chunk: int | None) -> None:
    app = Waits()
    protocol, transport = connect(app)
    feed(protocol, GET, chunk)
    await settle()
    protocol.abort()
    await settle()
    assert app.events == ["cancelled"]
    assert transport.aborted
    assert transport.written == b""


# -- half-close -------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_eof_after_full_request_returns_true_and_response_is_written(
    chunk: int | None,
) -> None:
    app = Waits()  # the handler waits, so the request is still in flight at EOF
    protocol, transport = connect(app)
    feed(protocol, GET, chunk)
    assert protocol.eof_received() is True
    app.go.set()
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert (response.status, response.body) == (200, b"late")
    assert response.header("connection") == "close"
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_eof_while_handler_runs_returns_true_and_response_is_written(
    chunk: int | None,
) -> None:
    app = Waits()
    protocol, transport = connect(app)
    feed(protocol, GET, chunk)
    await settle()
    assert protocol.eof_received() is True
    await settle()
    assert not transport.closed
    app.go.set()
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert response.status == 200
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_eof_after_pipelined_requests_answers_all_then_closes(chunk: int | None) -> None:
    app = Waits()  # the first handler waits, so all three are in flight at EOF
    protocol, transport = connect(app)
    feed(protocol, GET + GET + GET, chunk)
    assert protocol.eof_received() is True
    app.go.set()
    await settle()
    responses = parse_responses(bytes(transport.written))
    assert [r.status for r in responses] == [200, 200, 200]
    assert [r.header("connection") for r in responses] == [None, None, "close"]
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_eof_on_idle_connection_lets_transport_close(chunk: int | None) -> None:
    app = Waits()
    app.go.set()
    protocol, transport = connect(app)
    feed(protocol, GET, chunk)
    await settle()
    assert not protocol.eof_received()
    assert [r.status for r in parse_responses(bytes(transport.written))] == [200]


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_eof_during_request_body_ends_handler_and_closes(chunk: int | None) -> None:
    outcome: list[str] = []

    class Reads:
        async def handle(self, exchange: Exchange) -> None:
            try:
                await exchange.body()
            except ClientDisconnected:
                outcome.append("disconnected")
                raise
            exchange.respond(200)

    protocol, transport = connect(Reads())
    feed(protocol, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc", chunk)
    await settle()
    assert protocol.eof_received() is True
    await settle()
    assert outcome == ["disconnected"]
    assert transport.closed


# -- long-lived exchanges: a client EOF is a disconnect ---------------------------------------


class LongLived(Waits):
    """Marks its exchange long-lived (after the EOF when told to), then waits like Waits."""

    def __init__(self, mark_after_eof: bool = False) -> None:
        super().__init__()
        self.mark_after_eof = mark_after_eof
        self.eof_seen = asyncio.Event()

    async def handle(self, exchange: Exchange) -> None:
        exchange.add_disconnect_callback(lambda: self.events.append("disconnect callback"))
        if self.mark_after_eof:
            await self.eof_seen.wait()
        exchange.long_lived()
        await super().handle(exchange)


async def test_eof_ends_a_long_lived_exchange_as_a_disconnect() -> None:
    app = LongLived()
    protocol, transport = connect(app)
    feed(protocol, GET)
    await settle()
    assert protocol.eof_received() is True
    await settle()
    assert app.events == ["disconnect callback", "cancelled"]
    assert transport.written == b""
    assert transport.closed


async def test_eof_before_long_lived_is_called_ends_it_at_the_call() -> None:
    app = LongLived(mark_after_eof=True)
    protocol, transport = connect(app)
    feed(protocol, GET)
    await settle()
    protocol.eof_received()
    app.eof_seen.set()
    await settle()
    assert app.events == ["disconnect callback", "cancelled"]
    assert transport.closed


async def test_eof_before_the_first_step_of_a_long_lived_handler_cancels_its_task() -> None:
    app = LongLived()
    protocol, _ = connect(app)
    protocol._eof = True  # the EOF came in the same read as the request
    feed(protocol, GET)  # long_lived() is called during the inline first step
    await settle()
    assert app.events == ["disconnect callback", "cancelled"]


async def test_without_cancel_on_disconnect_a_long_lived_handler_only_gets_the_callback() -> None:
    app = LongLived()
    protocol, transport = connect(app, HTTPConfig(access_log=False, cancel_on_disconnect=False))
    feed(protocol, GET)
    await settle()
    protocol.eof_received()
    await settle()
    assert app.events == ["disconnect callback"]
    app.go.set()
    await settle()
    assert app.events[-1] == "responded"
    assert transport.closed
