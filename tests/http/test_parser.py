"""Unit tests of the httptools binding's own checks: no loop, no sockets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from typhoon.http.errors import ProtocolError
from typhoon.http.parser import (
    HttpParserCallbackError,
    HttpParserError,
    RequestParser,
    check_framing,
    check_host,
    protocol_error_from,
)


@pytest.mark.parametrize(
    "host",
    [b"example.com", b"example.com:8080", b"127.0.0.1", b"[::1]", b"[::1]:80", b"", b"a-b.c_d~"],
)
def test_check_host_valid_values_pass(host: bytes) -> None:
    check_host(host, 1, "1.1")


@pytest.mark.parametrize("host", [b"a b", b"x/y", b"[zz", b"a@b", b"x:80:90", b"\xff"])
def test_check_host_invalid_value_is_400(host: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        check_host(host, 1, "1.1")
    assert (info.value.status, info.value.reason) == (400, "invalid Host header")


def test_check_host_missing_on_http11_is_400() -> None:
    with pytest.raises(ProtocolError, match="missing Host header"):
        check_host(None, 0, "1.1")


def test_check_host_missing_on_http10_passes() -> None:
    check_host(None, 0, "1.0")


def test_check_host_two_values_is_400() -> None:
    with pytest.raises(ProtocolError, match="more than one Host header"):
        check_host(b"a", 2, "1.1")


@pytest.mark.parametrize("value", [b"chunked", b"Chunked", b" chunked "])
def test_check_framing_chunked_passes(value: bytes) -> None:
    check_framing(value, "1.1")


def test_check_framing_no_transfer_encoding_passes() -> None:
    check_framing(None, "1.0")


def test_check_framing_other_codings_are_501() -> None:
    with pytest.raises(ProtocolError) as info:
        check_framing(b"gzip, chunked", "1.1")
    assert info.value.status == 501


def test_check_framing_on_http10_is_400() -> None:
    with pytest.raises(ProtocolError) as info:
        check_framing(b"chunked", "1.0")
    assert info.value.status == 400


class _Boom(Exception):
    pass


class _Raising:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def on_header(self, name: bytes, value: bytes) -> None:
        raise self.exc


def _feed_error(handler: object, data: bytes) -> Exception:
    parser = RequestParser(handler)
    try:
        parser.feed_data(data)
    except Exception as exc:
        return exc
    raise AssertionError("the parser accepted the data")


def test_protocol_error_from_unwraps_our_callback_error() -> None:
    ours = ProtocolError(431, "too many header fields")
    exc = _feed_error(_Raising(ours), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert isinstance(exc, HttpParserCallbackError)
    assert protocol_error_from(exc) is ours


def test_protocol_error_from_reraises_a_bug_in_a_callback() -> None:
    exc = _feed_error(_Raising(_Boom()), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    with pytest.raises(HttpParserCallbackError):
        protocol_error_from(exc)


def test_protocol_error_from_maps_llhttp_errors_to_400_with_their_rule() -> None:
    exc = _feed_error(object(), b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n")
    assert isinstance(exc, HttpParserError)
    error = protocol_error_from(exc)
    assert (error.status, error.reason) == (400, "Unexpected whitespace after header value")


def test_protocol_error_from_reraises_foreign_exceptions() -> None:
    with pytest.raises(KeyError):
        protocol_error_from(KeyError("x"))


class _Recorder:
    """Collects parser events, joining the URL spans llhttp delivers piecemeal."""

    def __init__(self) -> None:
        self.url = b""
        self.events: list[tuple[str, bytes, bytes]] = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.events.append(("header", name, value))

    def on_body(self, body: bytes) -> None:
        if self.events and self.events[-1][0] == "body":
            self.events[-1] = ("body", b"", self.events[-1][2] + body)
        else:
            self.events.append(("body", b"", body))

    def on_message_complete(self) -> None:
        self.events.append(("done", self.url, b""))
        self.url = b""


_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12).filter(
    lambda s: s.lower() not in {"content-length", "transfer-encoding", "connection", "upgrade"}
)
_value = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 ,;=/", max_size=30).map(str.strip)


@settings(max_examples=200, deadline=None)
@given(
    headers=st.lists(st.tuples(_token, _value), max_size=8),
    body=st.binary(max_size=300),
    chunked=st.booleans(),
    cuts=st.lists(st.integers(min_value=1, max_value=50), max_size=20),
)
def test_parser_events_do_not_depend_on_how_input_is_split(
    headers: list[tuple[str, str]], body: bytes, chunked: bool, cuts: list[int]
) -> None:
    head = "POST /p?q=1 HTTP/1.1\r\nHost: x\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers)
    if chunked:
        framed = (b"%x\r\n%b\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
        data = head.encode() + b"Transfer-Encoding: chunked\r\n\r\n" + framed
    else:
        data = head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body
    data *= 2  # two pipelined messages

    whole = _Recorder()
    RequestParser(whole).feed_data(data)

    pieces = _Recorder()
    parser = RequestParser(pieces)
    pos = 0
    for cut in cuts:
        parser.feed_data(data[pos : pos + cut])
        pos += cut
    parser.feed_data(data[pos:])

    assert pieces.events == whole.events
    assert [e for e in whole.events if e[0] == "done"] == [("done", b"/p?q=1", b"")] * 2
