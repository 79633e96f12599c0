"""The binding to httptools (llhttp): the only module that imports httptools.

llhttp runs in strict mode — its lenient flags stay off — so it already rejects
Content-Length beside Transfer-Encoding, duplicate or malformed Content-Length,
obsolete line folding, bare CR and LF, NUL and control characters in headers, and bad
or overflowing chunk sizes. What llhttp allows but typhoon refuses is checked by the
pure functions here, called once the head is complete.
"""

from __future__ import annotations

import re
from http import HTTPStatus

import httptools
from httptools import HttpParserError, HttpParserUpgrade, parse_url
from httptools.parser.errors import HttpParserCallbackError

from typhoon.http.errors import ProtocolError, bad_request

RequestParser = httptools.HttpRequestParser

__all__ = [
    "HttpParserCallbackError",
    "HttpParserError",
    "HttpParserUpgrade",
    "RequestParser",
    "check_framing",
    "check_host",
    "parse_url",
    "protocol_error_from",
]

# RFC 3986 host: IP-literal / IPv4address / reg-name, then an optional port.
_valid_host = re.compile(
    rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?"
).fullmatch


def check_host(value: bytes | None, count: int, http_version: str) -> None:
    """Enforce RFC 9112 §3.2: exactly one valid Host on HTTP/1.1, at most one on 1.0.

    Args:
        value: the first Host field, or None when there is none.
        count: how many Host fields the request has.
        http_version: ``"1.1"`` or ``"1.0"``.
    """
    if count > 1:
        raise bad_request("more than one Host header")
    if value is None:
        if http_version == "1.1":
            raise bad_request("missing Host header")
        return
    if not _valid_host(value):
        raise bad_request("invalid Host header")


def check_framing(transfer_encoding: bytes | None, http_version: str) -> None:
    """Refuse transfer codings that llhttp lets through.

    A request whose last coding is not ``chunked`` has no reliable length (400, RFC 9112
    §6.3; llhttp checks this only after the head, which is too late for this check);
    typhoon decodes no other coding (501, RFC 9112 §6.1), and Transfer-Encoding on an
    HTTP/1.0 request means the framing cannot be trusted (400, RFC 9112 §6.1).
    """
    if transfer_encoding is None:
        return
    if http_version == "1.0":
        raise bad_request("Transfer-Encoding on an HTTP/1.0 request")
    if transfer_encoding.rpartition(b",")[2].strip().lower() != b"chunked":
        raise bad_request("Transfer-Encoding does not end in chunked")
    if transfer_encoding.strip().lower() != b"chunked":
        raise ProtocolError(HTTPStatus.NOT_IMPLEMENTED, "unsupported transfer coding")


def protocol_error_from(exc: Exception) -> ProtocolError:
    """Turn what ``feed_data`` raised into the error to answer with."""
    if isinstance(exc, HttpParserCallbackError):
        if isinstance(exc.__context__, ProtocolError):
            return exc.__context__
        raise exc  # a bug in a callback of ours, not bad input
    if isinstance(exc, HttpParserError):
        # llhttp's messages name the rule that was broken, never the offending bytes.
        return bad_request(str(exc) or "malformed request")
    raise exc
