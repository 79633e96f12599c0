"""HTTPProtocol enforcing HTTPLimits: head size, header count, body size.

Each limit is tested with small values (fast) and once at its default. Requests are
fed whole and in 1-, 2- and 7-byte pieces.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from typhoon.http import Exchange, HTTPConfig, HTTPLimits
from typhoon.testing import MemoryTransport, ParsedResponse, connect, feed, parse_responses, settle

KiB = 1024
MiB = 1024 * KiB
DEFAULTS = HTTPLimits()


class Echo:
    """Reads the whole body and answers 200 with its length; records every call."""

    def __init__(self) -> None:
        self.calls = 0

    async def handle(self, exchange: Exchange) -> None:
        self.calls += 1
        body = await exchange.body()
        exchange.respond(200, [], b"%d" % len(body))


class Receiver:
    """Reads the body piece by piece (or not at all); records what happened to it."""

    def __init__(self, *, read: bool = True) -> None:
        self.read = read
        self.received = bytearray()
        self.outcome: str | None = None
        self.calls = 0

    async def handle(self, exchange: Exchange) -> None:
        self.calls += 1
        try:
            if self.read:
                while data := await exchange.receive():
                    self.received += data
            else:
                await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.outcome = "cancelled"
            raise
        except Exception as exc:
            self.outcome = type(exc).__name__
            raise
        self.outcome = "complete"
        exchange.respond(200, [], b"%d" % len(self.received))


def _config(**limits: int | float) -> HTTPConfig:
    return HTTPConfig(access_log=False, limits=HTTPLimits(**limits))  # type: ignore[arg-type]


def _assert_refused(transport: MemoryTransport, status: int, body: bytes) -> ParsedResponse:
    [response] = parse_responses(bytes(transport.written))
    assert response.status == status
    assert response.body == body
    assert response.header("content-type") == "text/plain; charset=utf-8"
    assert response.header("connection") == "close"
    assert transport.closed
    return response


URI_TOO_LONG = b"414 Request-URI Too Long: request target too long\n"
HEAD_TOO_LARGE = b"431 Request Header Fields Too Large: request head too large\n"
TOO_MANY_FIELDS = b"431 Request Header Fields Too Large: too many header fields\n"
BODY_TOO_LARGE = b"413 Request Entity Too Large: request body too large\n"


def _get(target: bytes, fields: list[tuple[bytes, bytes]] | None = None) -> bytes:
    lines = b"".join(name + b": " + value + b"\r\n" for name, value in fields or [])
    return b"GET " + target + b" HTTP/1.1\r\nHost: a\r\n" + lines + b"\r\n"


# -- request target: 414 --------------------------------------------------------------


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_target_over_max_head_bytes_is_414(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app, _config(max_head_bytes=256))
    feed(protocol, _get(b"/" + b"a" * 256), chunk)
    await settle()
    _assert_refused(transport, 414, URI_TOO_LONG)
    assert app.calls == 0


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_target_over_max_head_bytes_without_end_of_line_is_414(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app, _config(max_head_bytes=256))
    feed(protocol, b"GET /" + b"a" * 1000, chunk)
    await settle()
    _assert_refused(transport, 414, URI_TOO_LONG)
    assert app.calls == 0


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_target_under_max_head_bytes_is_served(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app, _config(max_head_bytes=256))
    feed(protocol, _get(b"/" + b"a" * 200), chunk)
    await settle()
    assert [r.status for r in parse_responses(bytes(transport.written))] == [200]
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_target_over_default_max_head_bytes_is_414(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app)
    feed(protocol, _get(b"/" + b"a" * DEFAULTS.max_head_bytes), chunk)
    await settle()
    _assert_refused(transport, 414, URI_TOO_LONG)
    assert app.calls == 0


# -- head size: 431 -------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_head_over_max_head_bytes_via_headers_is_431(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app, _config(max_head_bytes=256))
    fields = [(b"x-%d" % n, b"v" * 40) for n in range(6)]
    feed(protocol, _get(b"/", fields), chunk)
    await settle()
    _assert_refused(transport, 431, HEAD_TOO_LARGE)
    assert app.calls == 0


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_head_under_max_head_bytes_via_headers_is_served(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app, _config(max_head_bytes=256))
    fields = [(b"x-%d" % n, b"v" * 40) for n in range(4)]
    feed(protocol, _get(b"/", fields), chunk)
    await settle()
    assert [r.status for r in parse_responses(bytes(transport.written))] == [200]
    assert app.calls == 1


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_long_target_plus_headers_over_max_head_bytes_is_431(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app, _config(max_head_bytes=256))
    feed(protocol, _get(b"/" + b"a" * 200, [(b"x-a", b"v" * 60)]), chunk)
    await settle()
    _assert_refused(transport, 431, HEAD_TOO_LARGE)
    assert app.calls == 0


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_head_over_default_max_head_bytes_via_headers_is_431(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app)
    fields = [(b"x-%d" % n, b"v" * 4000) for n in range(17)]  # 68 KB in 18 fields
    feed(protocol, _get(b"/", fields), chunk)
    await settle()
    _assert_refused(transport, 431, HEAD_TOO_LARGE)
    assert app.calls == 0


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_huge_header_value_in_pieces_is_431_before_head_completes(
    chunk: int | None,
) -> None:
    app = Echo()
    protocol, transport = connect(app, _config(max_head_bytes=256))
    feed(protocol, b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ", chunk)
    await settle()
    assert transport.written == b""
    # No end of line ever comes: only the guard in data_received can see the size.
    for _ in range(10):
        feed(protocol, b"v" * 100, chunk)
    await settle()
    _assert_refused(transport, 431, HEAD_TOO_LARGE)
    assert app.calls == 0


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_huge_header_name_in_pieces_is_431_before_head_completes(
    chunk: int | None,
) -> None:
    app = Echo()
    protocol, transport = connect(app, _config(max_head_bytes=256))
    feed(protocol, b"GET / HTTP/1.1\r\nHost: a\r\n", chunk)
    for _ in range(10):
        feed(protocol, b"x" * 100, chunk)
    await settle()
    _assert_refused(transport, 431, HEAD_TOO_LARGE)
    assert app.calls == 0


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_huge_header_value_at_default_limit_is_431_before_head_completes(
    chunk: int | None,
) -> None:
    app = Echo()
    protocol, transport = connect(app)
    feed(protocol, b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ", chunk)
    # The guard counts from the read after the one that began the head.
    feed(protocol, b"v" * (DEFAULTS.max_head_bytes + 64), chunk)
    await settle()
    _assert_refused(transport, 431, HEAD_TOO_LARGE)
    assert app.calls == 0


# -- header count: 431 ----------------------------------------------------------------


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_header_count_at_max_is_served(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app, _config(max_header_count=5))
    feed(protocol, _get(b"/", [(b"x-%d" % n, b"v") for n in range(4)]), chunk)
    await settle()
    assert [r.status for r in parse_responses(bytes(transport.written))] == [200]
    assert app.calls == 1


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_header_count_over_max_is_431(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app, _config(max_header_count=5))
    feed(protocol, _get(b"/", [(b"x-%d" % n, b"v") for n in range(5)]), chunk)
    await settle()
    _assert_refused(transport, 431, TOO_MANY_FIELDS)
    assert app.calls == 0


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_header_count_100_at_default_is_served(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app)
    feed(protocol, _get(b"/", [(b"x-%d" % n, b"v") for n in range(99)]), chunk)
    await settle()
    assert [r.status for r in parse_responses(bytes(transport.written))] == [200]
    assert app.calls == 1


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_header_count_101_at_default_is_431(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app)
    feed(protocol, _get(b"/", [(b"x-%d" % n, b"v") for n in range(100)]), chunk)
    await settle()
    _assert_refused(transport, 431, TOO_MANY_FIELDS)
    assert app.calls == 0


# -- declared body size: 413 ----------------------------------------------------------


def _post(length: int) -> bytes:
    return b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % length


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_content_length_at_max_body_bytes_is_served(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app, _config(max_body_bytes=10))
    feed(protocol, _post(10) + b"0123456789", chunk)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert (response.status, response.body) == (200, b"10")
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_content_length_over_max_body_bytes_is_413_before_body(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app, _config(max_body_bytes=10))
    feed(protocol, _post(11), chunk)  # no body sent: the head alone is refused
    await settle()
    _assert_refused(transport, 413, BODY_TOO_LARGE)
    assert app.calls == 0


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_content_length_over_default_max_body_bytes_is_413_before_body(
    chunk: int | None,
) -> None:
    app = Echo()
    protocol, transport = connect(app)
    feed(protocol, _post(DEFAULTS.max_body_bytes + 1), chunk)
    await settle()
    _assert_refused(transport, 413, BODY_TOO_LARGE)
    assert app.calls == 0


# -- chunked body size: 413 as soon as it passes ---------------------------------------

CHUNKED_HEAD = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_chunked_body_at_max_body_bytes_is_served(chunk: int | None) -> None:
    app = Receiver()
    protocol, transport = connect(app, _config(max_body_bytes=10))
    feed(protocol, CHUNKED_HEAD + b"6\r\nabcdef\r\n4\r\nghij\r\n0\r\n\r\n", chunk)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert (response.status, response.body) == (200, b"10")
    assert app.received == b"abcdefghij"
    assert not transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_chunked_body_passing_max_while_app_receives_is_413(chunk: int | None) -> None:
    app = Receiver()
    protocol, transport = connect(app, _config(max_body_bytes=10))
    feed(protocol, CHUNKED_HEAD + b"6\r\nabcdef\r\n", chunk)
    await settle()
    assert app.received == b"abcdef"
    assert transport.written == b""
    # The 11th byte breaks the limit; the chunk is not even complete yet.
    feed(protocol, b"5\r\nghijk", chunk)
    await settle()
    _assert_refused(transport, 413, BODY_TOO_LARGE)
    assert app.outcome == "cancelled"
    assert app.received == b"abcdef"


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_chunked_body_passing_max_when_app_never_reads_cancels_it_413(
    chunk: int | None,
) -> None:
    app = Receiver(read=False)
    protocol, transport = connect(app, _config(max_body_bytes=10))
    feed(protocol, CHUNKED_HEAD, chunk)
    await settle()
    assert app.calls == 1
    feed(protocol, b"6\r\nabcdef\r\n5\r\nghijk", chunk)
    await settle()
    _assert_refused(transport, 413, BODY_TOO_LARGE)
    assert app.outcome == "cancelled"


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_chunked_body_over_max_in_first_feed_is_413_app_not_called(
    chunk: int | None,
) -> None:
    app = Receiver()
    protocol, transport = connect(app, _config(max_body_bytes=10))
    feed(protocol, CHUNKED_HEAD + b"6\r\nabcdef\r\n5\r\nghijk\r\n0\r\n\r\n", chunk)
    await settle()
    _assert_refused(transport, 413, BODY_TOO_LARGE)
    if chunk is None:
        assert app.calls == 0  # whole: the body broke the limit before the handler could start


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_chunked_body_passing_default_max_is_413(chunk: int | None) -> None:
    app = Receiver()
    protocol, transport = connect(app)
    feed(protocol, CHUNKED_HEAD + b"%x\r\n" % (DEFAULTS.max_body_bytes + 1), chunk)
    await settle()
    block = b"\0" * MiB
    for _ in range(DEFAULTS.max_body_bytes // MiB):
        feed(protocol, block)  # the bulk goes in 1 MiB reads; the app keeps up
        await settle(3)
    assert len(app.received) == DEFAULTS.max_body_bytes
    assert transport.written == b""
    feed(protocol, b"!", chunk)
    await settle()
    _assert_refused(transport, 413, BODY_TOO_LARGE)
    assert app.outcome == "cancelled"


# -- HTTPLimits validation ----------------------------------------------------------------

FIELDS = [f.name for f in dataclasses.fields(HTTPLimits)]
INT_FIELDS = [name for name in FIELDS if not name.endswith("_s")]
SECONDS_FIELDS = [name for name in FIELDS if name.endswith("_s")]


@pytest.mark.parametrize("name", FIELDS)
@pytest.mark.parametrize("value", [0, -1, -0.5])
def test_limits_zero_or_negative_raises_value_error_naming_field(
    name: str, value: int | float
) -> None:
    with pytest.raises(ValueError, match=rf"HTTPLimits\.{name} must be (a )?positive"):
        HTTPLimits(**{name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", FIELDS)
@pytest.mark.parametrize("value", [True, False, "1", None, b"1", [1]], ids=repr)
def test_limits_non_number_raises_type_error_naming_field(name: str, value: object) -> None:
    with pytest.raises(TypeError, match=rf"HTTPLimits\.{name} must be a number"):
        HTTPLimits(**{name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", INT_FIELDS)
def test_limits_fractional_count_raises_value_error_naming_field(name: str) -> None:
    with pytest.raises(ValueError, match=rf"HTTPLimits\.{name} must be a positive integer"):
        HTTPLimits(**{name: 1.5})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", SECONDS_FIELDS)
def test_limits_fractional_seconds_are_accepted(name: str) -> None:
    limits = HTTPLimits(**{name: 0.25})  # type: ignore[arg-type]
    assert getattr(limits, name) == 0.25


@pytest.mark.parametrize("name", INT_FIELDS)
def test_limits_count_of_one_is_accepted(name: str) -> None:
    assert getattr(HTTPLimits(**{name: 1}), name) == 1


def test_limits_defaults_are_the_documented_values() -> None:
    assert dataclasses.asdict(DEFAULTS) == {
        "max_head_bytes": 64 * KiB,
        "max_header_count": 100,
        "max_body_bytes": 16 * MiB,
        "max_pipeline_depth": 16,
        "read_high_water_bytes": 64 * KiB,
        "header_timeout_s": 10.0,
        "keep_alive_timeout_s": 5.0,
        "body_timeout_s": 30.0,
    }


def test_config_limits_of_wrong_type_raises_type_error() -> None:
    with pytest.raises(TypeError, match=r"HTTPConfig\.limits"):
        HTTPConfig(limits={"max_head_bytes": 1})  # type: ignore[arg-type]
