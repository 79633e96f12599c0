"""Unit tests of response serialization helpers."""

from __future__ import annotations

import pytest

from typhoon.http.writer import (
    STATUS_LINES,
    DateHeader,
    check_header,
    chunk,
    error_response,
    has_no_body,
    status_line,
)


def test_status_line_known_status_is_precomputed() -> None:
    assert status_line(200) is STATUS_LINES[200]
    assert status_line(404) == b"HTTP/1.1 404 Not Found\r\n"


def test_status_line_unregistered_code_has_empty_phrase() -> None:
    assert status_line(599) == b"HTTP/1.1 599 \r\n"


@pytest.mark.parametrize("status", [99, 1000, True, "200"])
def test_status_line_invalid_status_raises_value_error(status: object) -> None:
    with pytest.raises(ValueError, match="status must be an integer from 100 to 999"):
        status_line(status)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "expected"), [(100, True), (204, True), (304, True), (200, False)]
)
def test_has_no_body(status: int, expected: bool) -> None:
    assert has_no_body(status) is expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"x y", b"v"),
        (b"", b"v"),
        (b"x:", b"v"),
        (b"x", b"a\r\nb"),
        (b"x", b"a\nb"),
        (b"x", b"\x00"),
    ],
)
def test_check_header_refuses_what_would_split_the_response(name: bytes, value: bytes) -> None:
    with pytest.raises(ValueError, match="invalid response header"):
        check_header(name, value)


def test_check_header_accepts_tokens_and_obs_text() -> None:
    check_header(b"X-Custom_1", b"caf\xe9 \t ok")


def test_chunk_frames_data_with_hex_size() -> None:
    assert chunk(b"a" * 26) == b"1a\r\n" + b"a" * 26 + b"\r\n"


def test_date_header_refresh_follows_the_given_time() -> None:
    date = DateHeader()
    date.refresh(0)
    assert date.line == b"date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
    date.refresh(86400)
    assert date.line == b"date: Fri, 02 Jan 1970 00:00:00 GMT\r\n"


def test_error_response_is_small_closing_and_plain_text() -> None:
    data = error_response(431, "too many header fields", b"date: d\r\n", b"")
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split(b"\r\n") == [
        b"HTTP/1.1 431 Request Header Fields Too Large",
        b"content-type: text/plain; charset=utf-8",
        b"content-length: %d" % len(body),
        b"connection: close",
        b"date: d",
    ]
    assert body == b"431 Request Header Fields Too Large: too many header fields\n"
