"""HTTPProtocol refusing malformed or unsupported requests.

Each bad request gets its status with a small plain-text body and ``connection: close``,
the connection closes, and the application is never called. Requests are fed whole and
in 1-, 2- and 7-byte pieces.
"""

from __future__ import annotations

import pytest

from typhoon.http import Exchange
from typhoon.testing import MemoryTransport, ParsedResponse, connect, feed, parse_responses, settle


class Echo:
    """Reads the whole body and answers 200 with it; records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []

    async def handle(self, exchange: Exchange) -> None:
        self.calls.append((exchange.method, exchange.target))
        body = await exchange.body()
        exchange.respond(200, [(b"content-type", b"text/plain")], body)


def _assert_refused(transport: MemoryTransport, status: int) -> ParsedResponse:
    """The transport carries exactly one error response with ``status``, then closed."""
    [response] = parse_responses(bytes(transport.written))
    assert response.status == status
    assert response.header("content-type") == "text/plain; charset=utf-8"
    assert response.header("connection") == "close"
    assert response.header("content-length") == str(len(response.body))
    assert response.body.startswith(b"%d " % status)
    assert response.body.endswith(b"\n")
    assert len(response.body) < 200
    assert transport.closed
    assert not transport.aborted
    return response


async def _send(data: bytes, chunk: int | None) -> tuple[Echo, MemoryTransport]:
    app = Echo()
    protocol, transport = connect(app)
    feed(protocol, data, chunk)
    await settle()
    return app, transport


# -- framing: Content-Length and Transfer-Encoding ------------------------------------


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_content_length_with_transfer_encoding_is_400(chunk: int | None) -> None:
    app, transport = await _send(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        chunk,
    )
    _assert_refused(transport, 400)
    assert app.calls == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_transfer_encoding_with_content_length_after_is_400(chunk: int | None) -> None:
    app, transport = await _send(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        chunk,
    )
    _assert_refused(transport, 400)
    assert app.calls == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize("second", [b"3", b"4"], ids=["same", "different"])
async def test_duplicate_content_length_is_400(chunk: int | None, second: bytes) -> None:
    app, transport = await _send(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: "
        + second
        + b"\r\n\r\nabcd",
        chunk,
    )
    _assert_refused(transport, 400)
    assert app.calls == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize("value", [b"3x", b"-3", b"+3", b"3 3", b"0x3", b""])
async def test_malformed_content_length_is_400(chunk: int | None, value: bytes) -> None:
    app, transport = await _send(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + value + b"\r\n\r\nabc", chunk
    )
    _assert_refused(transport, 400)
    assert app.calls == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize("coding", [b"gzip", b"chunked, gzip", b"chunked, identity"])
async def test_transfer_encoding_not_ending_in_chunked_is_400(
    chunk: int | None, coding: bytes
) -> None:
    app, transport = await _send(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: " + coding + b"\r\n\r\nabc", chunk
    )
    _assert_refused(transport, 400)
    assert app.calls == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize("coding", [b"gzip, chunked", b"deflate,chunked"])
async def test_transfer_encoding_other_coding_before_chunked_is_501(
    chunk: int | None, coding: bytes
) -> None:
    app, transport = await _send(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
        + coding
        + b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        chunk,
    )
    response = _assert_refused(transport, 501)
    assert response.body == b"501 Not Implemented: unsupported transfer coding\n"
    assert app.calls == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ((b"gzip", b"chunked"), 501),
        ((b"chunked", b"gzip"), 400),
        ((b"chunked", b"chunked"), 400),
    ],
    ids=["gzip-then-chunked", "chunked-then-gzip", "chunked-twice"],
)
async def test_transfer_encoding_in_several_fields_is_one_list(
    chunk: int | None, fields: tuple[bytes, bytes], status: int
) -> None:
    head = b"POST / HTTP/1.1\r\nHost: a\r\n" + b"".join(
        b"Transfer-Encoding: " + value + b"\r\n" for value in fields
    )
    app, transport = await _send(head + b"\r\n3\r\nabc\r\n0\r\n\r\n", chunk)
    _assert_refused(transport, status)
    assert app.calls == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_transfer_encoding_on_http10_is_400(chunk: int | None) -> None:
    app, transport = await _send(
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", chunk
    )
    response = _assert_refused(transport, 400)
    assert response.body == b"400 Bad Request: Transfer-Encoding on an HTTP/1.0 request\n"
    assert app.calls == []


# -- header syntax ----------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n\ttwo\r\n\r\n",
        b"GET / HTTP/1.1\r\n Host: a\r\n\r\n",
    ],
    ids=["space", "tab", "first-line"],
)
async def test_obsolete_line_folding_is_400(chunk: int | None, head: bytes) -> None:
    app, transport = await _send(head, chunk)
    _assert_refused(transport, 400)
    assert app.calls == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: ab\r\r\n\r\n",
        b"GET / HTTP/1.1\rHost: a\r\n\r\n",
    ],
    ids=["inside-value", "end-of-value", "request-line"],
)
async def test_bare_cr_is_400(chunk: int | None, head: bytes) -> None:
    app, transport = await _send(head, chunk)
    _assert_refused(transport, 400)
    assert app.calls == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\nHost: a\n\n",
        b"GET / HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n\n",
    ],
    ids=["everywhere", "after-header", "end-of-head"],
)
async def test_bare_lf_line_endings_are_400(chunk: int | None, head: bytes) -> None:
    app, transport = await _send(head, chunk)
    _assert_refused(transport, 400)
    assert app.calls == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize("char", [b"\x00", b"\x01", b"\x08", b"\x0b", b"\x0c", b"\x1f", b"\x7f"])
async def test_control_character_in_header_value_is_400(chunk: int | None, char: bytes) -> None:
    app, transport = await _send(
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a" + char + b"b\r\n\r\n", chunk
    )
    response = _assert_refused(transport, 400)
    assert char not in response.body
    assert app.calls == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize(
    "name",
    [b"X A", b"X(A", b"X/A", b"X@A", b"X\x00A", b'X"A', b"X A ", b"X ", b"X\t", b""],
)
async def test_invalid_header_name_is_400(chunk: int | None, name: bytes) -> None:
    app, transport = await _send(b"GET / HTTP/1.1\r\nHost: a\r\n" + name + b": v\r\n\r\n", chunk)
    _assert_refused(transport, 400)
    assert app.calls == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_space_before_colon_in_host_is_400(chunk: int | None) -> None:
    app, transport = await _send(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", chunk)
    _assert_refused(transport, 400)
    assert app.calls == []


# -- chunked bodies -----------------------------------------------------------------------

CHUNKED_HEAD = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nabc\r\n0\r\n\r\n",
        b"ffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
        b"3\r\nabcX\r\n0\r\n\r\n",
        b"3\r\nabc0\r\n\r\n",
        b"-3\r\nabc\r\n0\r\n\r\n",
        b"\r\n",
    ],
    ids=["bad-size", "overflowing-size", "no-crlf-after-data", "data-runs-on", "negative", "empty"],
)
async def test_bad_chunk_framing_is_400(chunk: int | None, body: bytes) -> None:
    app, transport = await _send(CHUNKED_HEAD + body, chunk)
    _assert_refused(transport, 400)
    if chunk is None:
        assert app.calls == []
    # Fed in pieces, the head completes in an earlier read than the bad chunk, so the
    # handler has started (and is cancelled); the answer is the 400 all the same.


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_bad_chunk_size_while_app_reads_is_400_and_app_sees_it(chunk: int | None) -> None:
    seen: list[str] = []

    class Reader:
        async def handle(self, exchange: Exchange) -> None:
            try:
                await exchange.body()
            except BaseException as exc:
                seen.append(type(exc).__name__)
                raise
            exchange.respond(200)

    protocol, transport = connect(Reader())
    feed(protocol, CHUNKED_HEAD + b"3\r\nabc\r\n", chunk)
    await settle()
    assert transport.written == b""
    feed(protocol, b"zz\r\n", chunk)
    await settle()
    _assert_refused(transport, 400)
    assert len(seen) == 1


# -- Host -------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_missing_host_on_http11_is_400(chunk: int | None) -> None:
    app, transport = await _send(b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", chunk)
    response = _assert_refused(transport, 400)
    assert response.body == b"400 Bad Request: missing Host header\n"
    assert app.calls == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize("second", [b"a", b"b"], ids=["same", "different"])
async def test_two_host_headers_is_400(chunk: int | None, second: bytes) -> None:
    app, transport = await _send(
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: " + second + b"\r\n\r\n", chunk
    )
    response = _assert_refused(transport, 400)
    assert response.body == b"400 Bad Request: more than one Host header\n"
    assert app.calls == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize("host", [b"a b", b"x/y", b"[zz", b"a@b", b"x:80:90", b"\xff"])
async def test_invalid_host_is_400(chunk: int | None, host: bytes) -> None:
    app, transport = await _send(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n", chunk)
    response = _assert_refused(transport, 400)
    assert response.body == b"400 Bad Request: invalid Host header\n"
    assert app.calls == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_http10_without_host_is_200(chunk: int | None) -> None:
    app, transport = await _send(b"GET / HTTP/1.0\r\n\r\n", chunk)
    [response] = parse_responses(bytes(transport.written))
    assert response.status == 200
    assert app.calls == [("GET", b"/")]


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize(
    "host", [b"example.com", b"example.com:8080", b"127.0.0.1:1", b"[::1]:80", b""]
)
async def test_valid_host_is_200(chunk: int | None, host: bytes) -> None:
    app, transport = await _send(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n", chunk)
    assert [r.status for r in parse_responses(bytes(transport.written))] == [200]
    assert app.calls == [("GET", b"/")]
    assert not transport.closed


# -- request line -------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize("version", [b"2.0", b"0.9"])
async def test_unsupported_http_version_is_505(chunk: int | None, version: bytes) -> None:
    app, transport = await _send(b"GET / HTTP/" + version + b"\r\nHost: a\r\n\r\n", chunk)
    _assert_refused(transport, 505)
    assert app.calls == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize("method", [b"get", b"Get", b"pOST"])
async def test_lowercase_method_is_400(chunk: int | None, method: bytes) -> None:
    app, transport = await _send(method + b" / HTTP/1.1\r\nHost: a\r\n\r\n", chunk)
    _assert_refused(transport, 400)
    assert app.calls == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_connect_method_is_405(chunk: int | None) -> None:
    app, transport = await _send(
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", chunk
    )
    response = _assert_refused(transport, 405)
    assert response.body == b"405 Method Not Allowed: CONNECT is not supported\n"
    assert app.calls == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize("target", [b"foo", b"ftp://x/", b"http:///a", b"http://"], ids=repr)
async def test_bad_request_target_is_400(chunk: int | None, target: bytes) -> None:
    app, transport = await _send(b"GET " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n", chunk)
    _assert_refused(transport, 400)
    assert app.calls == []


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
@pytest.mark.parametrize(
    "line",
    [b"GET /\r\n", b"GET / HTTP/1.1 \r\n", b"GET / FTP/1.1\r\n", b"GET / HTTP/1\r\n"],
    ids=repr,
)
async def test_malformed_request_line_is_refused(chunk: int | None, line: bytes) -> None:
    app, transport = await _send(line + b"Host: a\r\n\r\n", chunk)
    [response] = parse_responses(bytes(transport.written))
    assert response.status in (400, 505)
    _assert_refused(transport, response.status)
    assert app.calls == []


# -- error after good requests --------------------------------------------------------------


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_bad_request_pipelined_after_good_one_answers_good_then_400_then_closes(
    chunk: int | None,
) -> None:
    app, transport = await _send(
        b"GET /good HTTP/1.1\r\nHost: a\r\n\r\nGET /bad HTTP/1.1\r\nHost: a b\r\n\r\n", chunk
    )
    good, bad = parse_responses(bytes(transport.written))
    assert (good.status, good.body) == (200, b"")
    assert good.header("connection") is None
    assert bad.status == 400
    assert bad.body == b"400 Bad Request: invalid Host header\n"
    assert bad.header("connection") == "close"
    assert app.calls == [("GET", b"/good")]
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_bad_request_pipelined_after_two_good_ones_answers_all_in_order(
    chunk: int | None,
) -> None:
    app, transport = await _send(
        b"POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx"
        b"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n"
        b"GET /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        chunk,
    )
    responses = parse_responses(bytes(transport.written))
    assert [(r.status, r.body[:15]) for r in responses] == [
        (200, b"x"),
        (200, b""),
        (400, b"400 Bad Request"),
    ]
    assert [r.header("connection") for r in responses] == [None, None, "close"]
    assert app.calls == [("POST", b"/1"), ("GET", b"/2")]
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_bad_chunked_body_pipelined_after_good_one_answers_good_then_400(
    chunk: int | None,
) -> None:
    app, transport = await _send(
        b"GET /good HTTP/1.1\r\nHost: a\r\n\r\n" + CHUNKED_HEAD + b"3\r\nabc\r\nzz\r\n", chunk
    )
    good, bad = parse_responses(bytes(transport.written))
    assert (good.status, good.body) == (200, b"")
    assert bad.status == 400
    assert bad.header("connection") == "close"
    # Handlers run in the connection's Task, after the reads fed here: the POST's
    # body has failed by the time its turn comes, so its handler never starts.
    assert app.calls == [("GET", b"/good")]
    assert transport.closed


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_bad_request_after_answered_keep_alive_request_is_400(chunk: int | None) -> None:
    app = Echo()
    protocol, transport = connect(app)
    feed(protocol, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", chunk)
    await settle()
    transport.take()
    feed(protocol, b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", chunk)
    await settle()
    _assert_refused(transport, 400)
    assert app.calls == [("GET", b"/")]


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
async def test_bytes_after_bad_request_are_ignored(chunk: int | None) -> None:
    app, transport = await _send(
        b"GET / HTTP/1.1\r\nHost: a b\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", chunk
    )
    _assert_refused(transport, 400)
    assert app.calls == []
