"""Serializing responses: status lines, header blocks, the cached Date header.

HOT PATH: every response head is built from these pieces. Status lines are
precomputed for every registered status, the Date header is rebuilt once a second by
:class:`DateHeader`, and a header the server copies through is validated once and
kept as its wire line (:func:`header_line`), so a response costs a few dict lookups,
one join and one ``transport.write``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from email.utils import formatdate
from http import HTTPStatus

Headers = Iterable[tuple[bytes, bytes]]

STATUS_LINES: dict[int, bytes] = {
    status.value: b"HTTP/1.1 %d %s\r\n" % (status.value, status.phrase.encode("ascii"))
    for status in HTTPStatus
}

CONTINUE_RESPONSE = b"HTTP/1.1 100 Continue\r\n\r\n"
LAST_CHUNK = b"0\r\n\r\n"

# RFC 9110 §5.6.2 token; §5.5 field values may not hold CR, LF or NUL.
_is_token = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch
_has_forbidden = re.compile(rb"[\x00\r\n]").search


# Headers the server sets or interprets itself; every other name is copied through.
FRAMING_HEADERS = frozenset(
    (b"content-length", b"transfer-encoding", b"connection", b"date", b"server")
)

_NAMES: dict[bytes, bytes] = {}  # validated header name -> lower-cased name
_NAMES_MAX = 4096  # a bounded cache: applications use a small, fixed set of names

# Validated pass-through header -> its wire line. Responses repeat the same few pairs
# (content-type above all), so most lines are found here; the cache is emptied when
# full, so pairs that never repeat (cookies, locations) cannot crowd out the rest.
_LINES: dict[tuple[bytes, bytes], bytes] = {}
_LINES_MAX = 1024


def header_name(name: bytes) -> bytes:
    """Validate a response header name once and return it lower-cased.

    Raises:
        ValueError: the name is not a token.
    """
    lower = _NAMES.get(name)
    if lower is None:
        if not _is_token(name):
            raise ValueError(f"invalid response header name {name!r}")
        lower = name.lower()
        if len(_NAMES) < _NAMES_MAX:
            _NAMES[name] = lower
    return lower


def header_line(name: bytes, value: bytes) -> bytes:
    """Validate a header the server copies through and return ``name: value\\r\\n``.

    The line is remembered, so the next response with the same pair finds it in
    ``cached_line``'s dict without checking it again.

    Raises:
        ValueError: the name is not a token, or the value holds CR, LF or NUL.
    """
    header_name(name)
    if b"\r" in value or b"\n" in value or b"\x00" in value:
        check_header(name, value)  # raises, naming the header
    line = b"%b: %b\r\n" % (name, value)
    if len(_LINES) >= _LINES_MAX:
        _LINES.clear()
    _LINES[name, value] = line
    return line


cached_line = _LINES.get
"""The wire line of a pair :func:`header_line` has validated, or None."""

_LENGTH_LINES: dict[int, bytes] = {}  # body length -> its Content-Length line


def content_length_line(length: int) -> bytes:
    """Return ``content-length: <length>\\r\\n``, remembered for the next body of that size."""
    line = b"content-length: %d\r\n" % length
    if len(_LENGTH_LINES) >= _LINES_MAX:
        _LENGTH_LINES.clear()
    _LENGTH_LINES[length] = line
    return line


cached_length_line = _LENGTH_LINES.get
"""The line :func:`content_length_line` made for a length, or None."""


def status_line(status: int) -> bytes:
    """Return ``HTTP/1.1 <status> <phrase>\\r\\n``; unregistered codes get no phrase."""
    line = STATUS_LINES.get(status)
    if line is not None:
        return line
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 999:
        raise ValueError(f"status must be an integer from 100 to 999, got {status!r}")
    return b"HTTP/1.1 %d \r\n" % status


# 1xx, 204 and 304 responses never carry a body (RFC 9110 §6.4.1).
BODILESS_STATUSES = frozenset((*range(100, 200), 204, 304))


def has_no_body(status: int) -> bool:
    """1xx, 204 and 304 responses never carry a body (RFC 9110 §6.4.1)."""
    return status in BODILESS_STATUSES


def check_header(name: bytes, value: bytes) -> None:
    """Refuse a response header that would corrupt the framing (response splitting).

    Raises:
        ValueError: the name is not a token, or the value holds CR, LF or NUL.
    """
    if not _is_token(name):
        raise ValueError(f"invalid response header name {name!r}")
    if _has_forbidden(value):
        raise ValueError(f"invalid response header value for {name.decode('latin-1')!r}: {value!r}")


def chunk(data: bytes) -> bytes:
    """Frame ``data`` (not empty) as one chunk of a chunked body."""
    return b"%x\r\n%b\r\n" % (len(data), data)


class DateHeader:
    """The ``Date: ...\\r\\n`` line, rebuilt when :meth:`refresh` runs (once a second)."""

    __slots__ = ("line",)

    def __init__(self) -> None:
        self.line = b""
        self.refresh()

    def refresh(self, now: float | None = None) -> None:
        stamp = formatdate(time.time() if now is None else now, usegmt=True)
        self.line = b"date: " + stamp.encode("ascii") + b"\r\n"


def error_response(status: int, reason: str, date_line: bytes, server_line: bytes) -> bytes:
    """A small plain-text response that closes the connection."""
    phrase = HTTPStatus(status).phrase if status in STATUS_LINES else ""
    body = f"{status} {phrase}: {reason}\n".encode()
    return b"".join(
        (
            status_line(status),
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n",
            date_line,
            server_line,
            b"\r\n",
            body,
        )
    )
