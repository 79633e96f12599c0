"""Driving the HTTP protocol in memory: connect, feed in pieces, parse what came out.

The tools come in three groups: :func:`connect`, :func:`feed` and :func:`settle` set
up and drive a server connection; :func:`build_request` serializes a client request
(query, JSON, form and multipart bodies); :class:`ResponseReader` reads responses
back incrementally, and :func:`parse_responses` all at once.
"""

from __future__ import annotations

import asyncio
import enum
import mimetypes
import os
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

import msgspec

from typhoon.http.app_api import Application
from typhoon.http.limits import HTTPConfig
from typhoon.http.protocol import HTTPProtocol
from typhoon.http.state import ServerState
from typhoon.net.clock import Clock
from typhoon.testing.transport import MemoryTransport


def connect(
    app: Application,
    config: HTTPConfig | None = None,
    *,
    clock: Clock | None = None,
    transport: MemoryTransport | None = None,
) -> tuple[HTTPProtocol, MemoryTransport]:
    """Build an :class:`HTTPProtocol` for ``app`` on a fresh :class:`MemoryTransport`.

    Call it from a running event loop; handler tasks run on that loop.
    """
    protocol = HTTPProtocol(app, ServerState(config or HTTPConfig(access_log=False)), clock)
    transport = transport or MemoryTransport()
    transport.set_protocol(protocol)
    protocol.connection_made(transport)
    return protocol, transport


def feed(protocol: asyncio.Protocol, data: bytes, chunk: int | None = None) -> None:
    """Hand ``data`` to ``protocol.data_received`` whole, or in pieces of ``chunk`` bytes."""
    if chunk is None:
        protocol.data_received(data)
        return
    for start in range(0, len(data), chunk):
        protocol.data_received(data[start : start + chunk])


async def settle(rounds: int = 20) -> None:
    """Let pending tasks and callbacks run (handlers, closes) without real waiting."""
    for _ in range(rounds):
        await asyncio.sleep(0)


@dataclass
class ParsedResponse:
    """One response read back from the bytes a server wrote."""

    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None


def parse_responses(data: bytes, *, head_request: bool = False) -> list[ParsedResponse]:
    """Split a byte stream into responses (Content-Length, chunked, or to the end).

    Raises:
        ValueError: the data ends in the middle of a response.
    """
    responses: list[ParsedResponse] = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            raise ValueError(f"incomplete response head at byte {pos}: {data[pos : pos + 80]!r}")
        lines = data[pos:end].decode("latin-1").split("\r\n")
        _, status, reason = [*lines[0].split(" ", 2), ""][:3]
        response = ParsedResponse(int(status), reason)
        for line in lines[1:]:
            name, _, value = line.partition(":")
            response.headers.append((name, value.strip()))
        pos = end + 4
        code = response.status
        length = response.header("content-length")
        if head_request or code < 200 or code in (204, 304):
            pass
        elif response.header("transfer-encoding") == "chunked":
            body = bytearray()
            while True:
                line_end = data.index(b"\r\n", pos)
                size = int(data[pos:line_end].split(b";")[0], 16)
                pos = line_end + 2
                if size == 0:
                    pos = data.index(b"\r\n", pos) + 2
                    break
                body += data[pos : pos + size]
                pos += size + 2
            response.body = bytes(body)
        elif length is not None:
            if pos + int(length) > len(data):
                raise ValueError("incomplete response body")
            response.body = data[pos : pos + int(length)]
            pos += int(length)
        else:
            response.body = data[pos:]
            pos = len(data)
        responses.append(response)
    return responses


# -- reading responses as they arrive --------------------------------------------------------


@dataclass(slots=True)
class ResponseHead:
    """The status line and headers of a response read by :class:`ResponseReader`.

    Attributes:
        status: the status code.
        reason: the reason phrase (may be empty).
        http_version: ``"1.1"`` or ``"1.0"``.
        headers: the fields in order, names lower-cased, values without surrounding spaces.
    """

    status: int
    reason: str
    http_version: str
    headers: list[tuple[bytes, bytes]]

    def header(self, name: bytes) -> bytes | None:
        """The first value of header ``name`` (lower-case bytes), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None


class ResponseEnd:
    """The event that ends a response; :data:`RESPONSE_END` is its only instance."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "RESPONSE_END"


RESPONSE_END = ResponseEnd()

ResponseEvent = ResponseHead | bytes | ResponseEnd | None


class _State(enum.Enum):
    """Where a :class:`ResponseReader` is in the response it reads."""

    IDLE = "no response expected"
    HEAD = "status line and headers"
    LENGTH = "a body of Content-Length bytes"
    CHUNK_SIZE = "a chunk-size line"
    CHUNK_DATA = "chunk data"
    CHUNK_END = "the CRLF after chunk data"
    TRAILERS = "trailer fields"
    CLOSE = "a body that ends with the connection"
    END = "the end, not yet reported"
    DONE = "the end, reported"


_CHUNKED = (_State.CHUNK_SIZE, _State.CHUNK_DATA, _State.CHUNK_END, _State.TRAILERS)


class ResponseReader:
    """Reads HTTP/1.1 responses incrementally from the bytes a server writes (sans I/O).

    Call :meth:`expect` before each response, :meth:`feed` bytes as they come and
    :meth:`next_event` until it returns None (more bytes needed). The events of one
    response are a :class:`ResponseHead`, body pieces as ``bytes`` (as soon as they
    arrive, even mid-chunk), then :data:`RESPONSE_END`. Interim 1xx responses other
    than 101 are skipped.

    Example::

        reader = ResponseReader()
        reader.expect()
        reader.feed(b"HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\nhi")
        assert [reader.next_event() for _ in range(3)][1:] == [b"hi", RESPONSE_END]

    Args:
        max_head_bytes: refuse a status line plus headers longer than this.

    Raises:
        ValueError: (from :meth:`next_event`) the response is malformed.
        EOFError: (from :meth:`next_event`) the input ended in the middle of a response.
    """

    def __init__(self, *, max_head_bytes: int = 1024 * 1024) -> None:
        self.max_head_bytes = max_head_bytes
        self._buffer = bytearray()
        self._eof = False
        self._state = _State.IDLE
        self._head_request = False
        self._remaining = 0  # of the Content-Length body, or of the current chunk
        self.head: ResponseHead | None = None

    @property
    def until_close(self) -> bool:
        """The current body is delimited by the end of the connection."""
        return self._state == _State.CLOSE

    def expect(self, *, head_request: bool = False) -> None:
        """Prepare for the next response (``head_request``: it answers HEAD, so no body).

        Raises:
            RuntimeError: the previous response has not ended.
        """
        if self._state not in (_State.IDLE, _State.DONE):
            raise RuntimeError("the previous response has not been read to its end")
        self._state = _State.HEAD
        self._head_request = head_request
        self.head = None

    def feed(self, data: bytes) -> None:
        """Add bytes received from the server."""
        self._buffer += data

    def feed_eof(self) -> None:
        """Note that the server closed the connection."""
        self._eof = True

    def next_event(self) -> ResponseEvent:
        """Return the next event of the current response, or None when more bytes are needed."""
        state = self._state
        if state == _State.HEAD:
            return self._read_head()
        if state == _State.LENGTH:
            return self._read_length()
        if state in _CHUNKED:
            return self._read_chunked()
        if state == _State.CLOSE:
            if self._buffer:
                return self._take(len(self._buffer))
            if self._eof:
                return self._end()
            return None
        if state == _State.END:
            return self._end()
        return None

    # -- states -----------------------------------------------------------------------

    def _take(self, size: int) -> bytes:
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _end(self) -> ResponseEnd:
        self._state = _State.DONE
        return RESPONSE_END

    def _incomplete(self, what: str) -> None:
        """Return None (more bytes needed), or raise when no more can come."""
        if self._eof:
            raise EOFError(f"the connection closed in the middle of the response {what}")

    def _read_head(self) -> ResponseEvent:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > self.max_head_bytes:
                raise ValueError(f"response head longer than {self.max_head_bytes} bytes")
            if self._eof and not self._buffer:
                raise EOFError("the connection closed before a response arrived")
            self._incomplete("head")
            return None
        lines = self._take(end + 4)[:-4].split(b"\r\n")
        version, _, rest = lines[0].partition(b" ")
        code, _, reason = rest.partition(b" ")
        if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
            raise ValueError(f"malformed status line {lines[0]!r}")
        headers: list[tuple[bytes, bytes]] = []
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip() or line[:1] in (b" ", b"\t"):
                raise ValueError(f"malformed response header line {line!r}")
            headers.append((name.lower(), value.strip(b" \t")))
        status = int(code)
        head = ResponseHead(status, reason.decode("latin-1"), version[5:].decode(), headers)
        if 100 <= status < 200 and status != 101:
            return self._read_head()  # an interim response: the real one follows
        self.head = head
        self._state = self._framing(head)
        return head

    def _framing(self, head: ResponseHead) -> _State:
        status = head.status
        if self._head_request or status < 200 or status in (204, 304):
            return _State.END
        encoding = head.header(b"transfer-encoding")
        if encoding is not None:
            if encoding.lower() != b"chunked":
                raise ValueError(f"unsupported response transfer-encoding {encoding!r}")
            return _State.CHUNK_SIZE
        lengths = {value for name, value in head.headers if name == b"content-length"}
        if lengths:
            if len(lengths) > 1 or not next(iter(lengths)).isdigit():
                raise ValueError(f"invalid response content-length {sorted(lengths)!r}")
            self._remaining = int(next(iter(lengths)))
            return _State.LENGTH if self._remaining else _State.END
        return _State.CLOSE

    def _read_length(self) -> ResponseEvent:
        if self._remaining == 0:
            return self._end()
        if not self._buffer:
            self._incomplete("body")
            return None
        data = self._take(min(self._remaining, len(self._buffer)))
        self._remaining -= len(data)
        return data

    def _read_chunked(self) -> ResponseEvent:
        while True:
            state = self._state
            if state == _State.CHUNK_DATA:
                if not self._buffer:
                    self._incomplete("body")
                    return None
                data = self._take(min(self._remaining, len(self._buffer)))
                self._remaining -= len(data)
                if not self._remaining:
                    self._state = _State.CHUNK_END
                return data
            line_end = self._buffer.find(b"\r\n")
            if line_end < 0:
                if len(self._buffer) > self.max_head_bytes:
                    raise ValueError("response chunk line too long")
                self._incomplete("body")
                return None
            line = self._take(line_end + 2)[:-2]
            if state == _State.CHUNK_END:
                if line:
                    raise ValueError(f"missing CRLF after a response chunk, got {line!r}")
                self._state = _State.CHUNK_SIZE
            elif state == _State.CHUNK_SIZE:
                size = line.split(b";", 1)[0].strip(b" \t")
                if not size or size.strip(b"0123456789abcdefABCDEF"):
                    raise ValueError(f"malformed chunk size line {line!r}")
                self._remaining = int(size, 16)
                self._state = _State.CHUNK_DATA if self._remaining else _State.TRAILERS
            elif not line:  # the blank line after the trailers ends the body
                return self._end()


# -- writing requests ---------------------------------------------------------------------

ParamValue = str | int | float | bool | None
ParamsInput = (
    Mapping[str, ParamValue | Sequence[ParamValue]] | Sequence[tuple[str, ParamValue]] | None
)
HeaderInput = Mapping[str, str] | Sequence[tuple[str, str]] | None
FileContent = bytes | str | IO[bytes] | IO[str]
FileInput = FileContent | tuple[str, FileContent] | tuple[str, FileContent, str]
FilesInput = Mapping[str, FileInput] | Sequence[tuple[str, FileInput]]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\x00\r\n]")
_PATH_SAFE = "/%!$&'()*+,;=:@-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
_BODY_HEADERS = ("content-type", "content-length", "transfer-encoding")


@dataclass(slots=True)
class OutgoingRequest:
    """A request ready to be serialized, built by :func:`build_request`.

    Attributes:
        method: the method, upper-case.
        url: the absolute URL (scheme, host, path and query; no fragment).
        headers: the headers given by the caller, in order (names as given).
        content: the body.
        content_type: the Content-Type chosen for the body, unless a header sets one.
        cookies: cookies given for this request only.
    """

    method: str
    url: str
    headers: list[tuple[str, str]]
    content: bytes = b""
    content_type: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)

    def has_header(self, name: str) -> bool:
        return any(key.lower() == name for key, _ in self.headers)

    def final_headers(self, cookie: str | None = None) -> list[tuple[str, str]]:
        """The header fields as sent: Host, the caller's, then the computed ones."""
        parts = urlsplit(self.url)
        headers = [] if self.has_header("host") else [("host", parts.netloc)]
        headers += self.headers
        if self.content_type is not None and not self.has_header("content-type"):
            headers.append(("content-type", self.content_type))
        framed = self.has_header("content-length") or self.has_header("transfer-encoding")
        if not framed and (self.content or self.method in ("POST", "PUT", "PATCH")):
            headers.append(("content-length", str(len(self.content))))
        if cookie and not self.has_header("cookie"):
            headers.append(("cookie", cookie))
        return headers

    def encode(self, cookie: str | None = None) -> bytes:
        """The request on the wire: request line, header block and body."""
        parts = urlsplit(self.url)
        target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        lines = [f"{self.method} {target} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in self.final_headers(cookie)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.content

    def redirect(self, location: str, status: int) -> OutgoingRequest:
        """The request that follows a ``status`` redirect to ``location`` (RFC 9110 §15.4).

        303 turns any method but HEAD into GET, and so do 301 and 302 for POST; the
        body goes with the change. Host and Authorization are dropped for another host.
        """
        url = urljoin(self.url, location).partition("#")[0]
        method = self.method
        if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
            method = "GET"
        drop = set(_BODY_HEADERS) if method != self.method else set()
        if urlsplit(url).netloc != urlsplit(self.url).netloc:
            drop |= {"host", "authorization"}
        headers = [(k, v) for k, v in self.headers if k.lower() not in drop]
        if method != self.method:
            return OutgoingRequest(method, url, headers, cookies=self.cookies)
        return OutgoingRequest(method, url, headers, self.content, self.content_type, self.cookies)


def merge_url(base_url: str, url: str) -> str:
    """Resolve ``url`` against ``base_url``; a relative one goes under the base path.

    ``merge_url("http://testserver/api", "/items")`` is ``"http://testserver/api/items"``.

    Raises:
        ValueError: the URL is not http(s), or has no host.
    """
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, got {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme or url.startswith("//"):
        if parts.scheme not in ("http", "https", "") or not parts.netloc:
            raise ValueError(f"url must be an http or https URL with a host, got {url!r}")
        full = url if parts.scheme else f"{urlsplit(base_url).scheme}:{url}"
    else:
        base = urlsplit(base_url)
        full = f"{base.scheme}://{base.netloc}{base.path.rstrip('/')}/{url.lstrip('/')}"
    parts = urlsplit(full)
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    query = quote(parts.query, safe=_QUERY_SAFE)
    return f"{parts.scheme}://{parts.netloc}{path}" + (f"?{query}" if query else "")


def build_request(
    method: str,
    url: str,
    *,
    base_url: str = "http://testserver",
    params: ParamsInput = None,
    headers: HeaderInput = None,
    content: bytes | str | None = None,
    json: Any = None,
    data: Mapping[str, Any] | None = None,
    files: FilesInput | None = None,
    cookies: Mapping[str, str] | None = None,
) -> OutgoingRequest:
    """Build a request the way an HTTP client would.

    Example::

        request = build_request("POST", "/items", json={"name": "x"})
        assert request.encode().startswith(b"POST /items HTTP/1.1\r\nhost: testserver")

    Args:
        method: the method (any case; sent upper-case).
        url: a path (under ``base_url``) or an absolute http(s) URL.
        base_url: where relative URLs point.
        params: query parameters appended to the URL (a value may be a list).
        headers: header fields, as a mapping or a list of pairs.
        content: a raw body; ``str`` is sent as UTF-8.
        json: a body encoded as JSON (``application/json``).
        data: form fields, urlencoded (or multipart, with ``files``).
        files: uploads ``{"field": content | (filename, content[, content_type])}``,
            sent as ``multipart/form-data`` together with ``data``.
        cookies: cookies for this request.

    Raises:
        ValueError: a malformed method, URL, header or cookie.
        TypeError: an argument of the wrong type, or more than one kind of body.
    """
    if not isinstance(method, str) or not _TOKEN.fullmatch(method):
        raise ValueError(f"method must be an HTTP token such as 'GET', got {method!r}")
    full = merge_url(base_url, url)
    if params:
        pairs = _pairs(params, "params")
        encoded = urlencode([(k, _param(v)) for k, v in pairs])
        full += ("&" if "?" in full else "?") + encoded
    given = [name for name, value in (("content", content), ("json", json)) if value is not None]
    if data is not None or files is not None:
        given.append("data/files")
    if len(given) > 1:
        raise TypeError(f"pass only one kind of body, got {', '.join(given)}")
    body, content_type = b"", None
    if content is not None:
        if isinstance(content, str):
            body = content.encode()
        elif isinstance(content, bytes | bytearray | memoryview):
            body = bytes(content)
        else:
            raise TypeError(f"content must be bytes or str, got {type(content).__name__}")
    elif json is not None:
        try:
            body = msgspec.json.encode(json)
        except (TypeError, msgspec.EncodeError) as exc:
            raise TypeError(f"json: cannot encode the body as JSON: {exc}") from None
        content_type = "application/json"
    elif files is not None:
        body, content_type = encode_multipart(data or {}, files)
    elif data is not None:
        body = urlencode([(k, _param(v)) for k, v in _pairs(data, "data")]).encode()
        content_type = "application/x-www-form-urlencoded"
    header_list = [] if headers is None else _pairs(headers, "headers")
    for name, value in header_list:
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ValueError(f"headers: invalid header name {name!r}")
        if not isinstance(value, str) or _BAD_VALUE.search(value) or not _is_latin1(value):
            raise ValueError(f"headers: invalid value for {name!r}: {value!r}")
    jar = dict(cookies or {})
    for name, value in jar.items():
        if not _TOKEN.fullmatch(name) or ";" in value or _BAD_VALUE.search(value):
            raise ValueError(f"cookies: invalid cookie {name}={value!r}")
    return OutgoingRequest(method.upper(), full, list(header_list), body, content_type, jar)


def encode_multipart(data: Mapping[str, Any], files: FilesInput) -> tuple[bytes, str]:
    """Encode form fields and files as ``multipart/form-data`` (RFC 7578).

    Returns:
        The body and its Content-Type (with the boundary).

    Raises:
        TypeError: a file is not bytes, str, a file object or a (name, content[, type]) tuple.
    """
    parts: list[tuple[str, str | None, str | None, bytes]] = []
    for name, value in _pairs(data, "data"):
        parts.append((name, None, None, _param(value).encode()))
    for name, item in _pairs(files, "files"):
        filename: str | None = None
        media: str | None = None
        body: Any = item
        if isinstance(item, tuple):
            if len(item) not in (2, 3) or not isinstance(item[0], str):
                raise TypeError(f"files[{name!r}]: use (filename, content[, content_type])")
            filename, body = item[0], item[1]
            media = item[2] if len(item) == 3 else None
        if hasattr(body, "read"):
            filename = filename or os.path.basename(str(getattr(body, "name", ""))) or None
            body = body.read()
        if isinstance(body, str):
            body = body.encode()
        if not isinstance(body, bytes):
            raise TypeError(f"files[{name!r}]: content must be bytes, str or a file object")
        filename = filename or "upload"
        media = media or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        parts.append((name, filename, media, body))
    boundary = secrets.token_hex(16)
    while any(boundary.encode() in part[3] for part in parts):
        boundary = secrets.token_hex(16)  # practically never
    out = bytearray()
    for name, filename, media, body in parts:
        disposition = f'form-data; name="{_quote_field(name)}"'
        if filename is not None:
            disposition += f'; filename="{_quote_field(filename)}"'
        out += f"--{boundary}\r\ncontent-disposition: {disposition}\r\n".encode()
        if media is not None:
            out += f"content-type: {media}\r\n".encode()
        out += b"\r\n" + body + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def _pairs(items: Any, argument: str) -> list[tuple[str, Any]]:
    """``{k: v}`` or ``[(k, v)]`` as pairs, a list value giving one pair per item."""
    if isinstance(items, Mapping):
        pairs: list[tuple[str, Any]] = []
        for key, value in items.items():
            if isinstance(value, list | tuple) and argument in ("params", "data"):
                pairs.extend((key, item) for item in value)
            else:
                pairs.append((key, value))
        return pairs
    if isinstance(items, Iterable) and not isinstance(items, str | bytes):
        pairs = list(items)
        if all(isinstance(pair, tuple) and len(pair) == 2 for pair in pairs):
            return pairs
    raise TypeError(f"{argument} must be a mapping or a list of (name, value) pairs")


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str | int | float):
        return str(value)
    raise TypeError(f"a query or form value must be str, int, float or bool, got {value!r}")


def _quote_field(value: str) -> str:
    # What browsers do for names and filenames in form-data (WHATWG HTML, multipart).
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _is_latin1(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True
