"""One request and its response, as the application sees them.

An :class:`Exchange` is created by the connection once a request head is complete.
The application reads the body from it (as a stream, with backpressure, or all at
once) and answers through it, either in one piece with :meth:`Exchange.respond` or as
a stream with :meth:`Exchange.start`, :meth:`Exchange.write` and :meth:`Exchange.end`.

HOT PATH: :meth:`respond` and :meth:`_render` run once per response. The head
and a one-piece body are joined once and leave in a single ``transport.write``.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import IO, TYPE_CHECKING, Protocol

from typhoon.http.errors import ClientDisconnected
from typhoon.http.writer import (
    BODILESS_STATUSES,
    FRAMING_HEADERS,
    LAST_CHUNK,
    cached_length_line,
    cached_line,
    check_header,
    chunk,
    content_length_line,
    header_line,
    header_name,
    status_line,
)

if TYPE_CHECKING:
    from typhoon.http.state import ServerState

HeaderList = Sequence[tuple[bytes, bytes]]

# A one-piece body longer than this goes to the transport beside its head (one
# writelines, no copy); a shorter one is joined to it (copying is cheaper than a vector).
_JOIN_MAX_BYTES = 8192

logger = logging.getLogger("typhoon.error")

PLAIN_TEXT_HEADERS = ((b"content-type", b"text/plain; charset=utf-8"),)
INTERNAL_ERROR_BODY = b"500 Internal Server Error\n"


class Connection(Protocol):
    """What an exchange needs from the connection that carries it."""

    def write(self, data: bytes) -> None: ...

    def writelines(self, data: Iterable[bytes]) -> None: ...

    async def drain(self) -> None: ...

    def body_consumed(self, exchange: Exchange) -> None: ...

    def send_continue(self, exchange: Exchange) -> None: ...

    def may_keep_alive(self, exchange: Exchange) -> bool: ...

    def end_on_eof(self, exchange: Exchange) -> None: ...

    def switch_protocols(
        self, exchange: Exchange, head: bytes, tunnel: Tunnel
    ) -> asyncio.Transport: ...


class Tunnel(Protocol):
    """What takes a connection over after ``101 Switching Protocols`` (a WebSocket).

    The connection forwards to it everything the transport reports from then on. It
    writes to the transport it was given, and calls :meth:`Exchange.drain` to wait
    for a slow client.
    """

    def data_received(self, data: bytes) -> None:
        """Bytes from the client (the first call may carry bytes that arrived right
        behind the request head)."""

    def eof_received(self) -> bool | None:
        """The client half-closed; return True to keep the transport open."""

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is closed."""

    def shutdown(self) -> None:
        """The server is draining: close gracefully (a WebSocket sends 1001)."""


class Framing(enum.Enum):
    """How the response body is delimited on the wire."""

    NONE = "no body (1xx, 204, 304)"
    LENGTH = "Content-Length"
    CHUNKED = "chunked"
    CLOSE = "until the connection closes (HTTP/1.0 without a length)"


# The members under module names: on Python 3.11 each ``Framing.X`` lookup goes through
# EnumType's __getattr__ hook, a cost paid several times per response.
_NO_BODY, _LENGTH, _CHUNKED, _CLOSE = Framing.NONE, Framing.LENGTH, Framing.CHUNKED, Framing.CLOSE


class Exchange:
    """A request head, its body stream, and the response being sent.

    Attributes:
        method: the request method, e.g. ``"GET"``.
        target: the request target exactly as received (origin or absolute form).
        path: the path part of the target, still percent-encoded.
        query: the query string without ``?``, still percent-encoded.
        http_version: ``"1.1"`` or ``"1.0"``.
        headers: the header fields in order, names lower-cased, values as received
            (except ``host``, replaced by the host a trusted proxy forwarded).
        client: the peer's ``(host, port)``, or None for a Unix socket; behind a
            trusted proxy, the client it forwarded (see ``typhoon.http.proxy``).
        server: the local ``(host, port)``, or None for a Unix socket.
        scheme: ``"http"``, or ``"https"`` over TLS (the server's own, or a trusted
            proxy's as it forwarded it).
        keep_alive: whether the client asked to keep the connection open.
        expect_continue: the client sent ``Expect: 100-continue`` and waits for it.
        upgrade: the ``Upgrade`` header when the client asked for a protocol switch.
        body_complete: the whole request body has arrived (it may still be buffered).
        body_error: what every later body read raises (a protocol error or a
            disconnect), or None.
        body_received: request body bytes received so far.
        status: the response status once the response has started, else 0.
        response_ended: the whole response has been handed to the connection.
        response_keep_alive: the connection stays open after this response.
        bytes_sent: response body bytes written so far.
        disconnected: the client went away.
        started: ``time.perf_counter()`` when the head was complete, if the server
            times its requests (for JSON access lines); else 0.0.
    """

    __slots__ = (
        "_buffered",
        "_chunks",
        "_conn",
        "_continue_sent",
        "_discarding",
        "_disconnect_callbacks",
        "_framing",
        "_pending_head",
        "_remaining",
        "_state",
        "_waiter",
        "body_complete",
        "body_error",
        "body_received",
        "bytes_sent",
        "client",
        "disconnected",
        "expect_continue",
        "headers",
        "http_version",
        "keep_alive",
        "method",
        "path",
        "query",
        "response_ended",
        "response_keep_alive",
        "scheme",
        "server",
        "started",
        "status",
        "target",
        "upgrade",
    )

    def __init__(
        self,
        conn: Connection,
        state: ServerState,
        method: str,
        target: bytes,
        path: bytes,
        query: bytes,
        http_version: str,
        headers: list[tuple[bytes, bytes]],
        client: tuple[str, int] | None = None,
        server: tuple[str, int] | None = None,
        keep_alive: bool = True,
        has_body: bool = True,
        expect_continue: bool = False,
        upgrade: bytes | None = None,
        scheme: str = "http",
    ) -> None:
        # HOT PATH: one per request. Arguments are positional where the connection
        # passes them, and the body queue is made when the first piece arrives.
        self._conn = conn
        self._state = state
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.http_version = http_version
        self.headers = headers
        self.client = client
        self.server = server
        self.scheme = scheme
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue
        self.upgrade = upgrade
        self._chunks: deque[bytes] | None = None
        self._buffered = 0
        self.body_received = 0
        self.body_complete = not has_body
        self._discarding = False
        self.body_error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._continue_sent = False
        self.status = 0
        self.bytes_sent = 0
        self.response_keep_alive = False
        self.response_ended = False
        self.disconnected = False
        self._disconnect_callbacks: list[Callable[[], object]] | None = None
        self._framing = _NO_BODY
        self._pending_head = b""
        self._remaining = 0
        self.started = 0.0

    def __repr__(self) -> str:
        return f"<Exchange {self.method} {self.target!r} status={self.status}>"

    # -- the request body, fed by the connection ------------------------------------

    @property
    def buffered(self) -> int:
        """Request body bytes received but not yet read by the application."""
        return self._buffered

    def feed_body(self, data: bytes) -> None:
        self.body_received += len(data)
        if self._discarding:
            return
        if self._chunks is None:
            self._chunks = deque()
        self._chunks.append(data)
        self._buffered += len(data)
        self._wake()

    def discard_body(self) -> None:
        """Drop what is buffered and what is still to come (the response is done)."""
        self._discarding = True
        self._chunks = None
        self._buffered = 0

    @property
    def awaiting_continue(self) -> bool:
        """The client waits for ``100 Continue`` that was never sent: its body may not come."""
        return self.expect_continue and not self._continue_sent and not self.body_complete

    def end_body(self) -> None:
        self.body_complete = True
        self._wake()

    def fail_body(self, exc: BaseException) -> None:
        """Make every later read raise ``exc`` (a protocol error or a disconnect)."""
        if self.body_error is None and not self.body_complete:
            self.body_error = exc
        self._wake()

    def add_disconnect_callback(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` once if the client goes away while this exchange is handled.

        It runs from the connection's ``connection_lost``, before the handler task is
        cancelled; it runs at once if the client is already gone. An exception it
        raises is logged, never propagated.
        """
        if self.disconnected:
            _run_callback(callback)
        elif self._disconnect_callbacks is None:
            self._disconnect_callbacks = [callback]
        else:
            self._disconnect_callbacks.append(callback)

    def long_lived(self) -> None:
        """Mark this exchange long-lived (a stream, a long poll): a client EOF ends it.

        A client that half-closes normally still gets its answer. For a response that
        may last minutes, EOF almost always means the client has gone (a closed tab):
        after this call it is treated as a disconnect. Disconnect callbacks run, and
        the handler is cancelled unless ``cancel_on_disconnect`` is off.
        """
        self._conn.end_on_eof(self)

    def client_gone(self, exc: BaseException) -> None:
        """The connection lost its client: fail the body with ``exc``, run the callbacks."""
        self.disconnected = True
        self.fail_body(exc)
        callbacks, self._disconnect_callbacks = self._disconnect_callbacks, None
        for callback in callbacks or ():
            _run_callback(callback)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- the request body, read by the application ----------------------------------

    async def receive(self) -> bytes:
        """Return the next piece of the request body, or ``b""`` once it is complete.

        Raises:
            ProtocolError: the body broke a limit or the framing (413, 408, 400).
            ClientDisconnected: the client went away before the body was complete.
        """
        while True:
            chunks = self._chunks
            if chunks:
                data = chunks.popleft()
                self._buffered -= len(data)
                self._conn.body_consumed(self)
                return data
            if self.body_complete:
                return b""
            if self.body_error is not None:
                raise self.body_error
            if self.expect_continue and not self._continue_sent:
                self._continue_sent = True
                if not self.status:
                    self._conn.send_continue(self)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def body(self) -> bytes:
        """Read and return the whole request body (at most ``max_body_bytes``)."""
        if self.body_complete and (self._chunks is None or len(self._chunks) <= 1):
            return await self.receive()
        parts = []
        while data := await self.receive():
            parts.append(data)
        return b"".join(parts)

    async def stream(self) -> AsyncIterator[bytes]:
        """Yield the request body piece by piece as it arrives."""
        while data := await self.receive():
            yield data

    # -- the response ----------------------------------------------------------------

    def switch_protocols(self, headers: HeaderList, tunnel: Tunnel) -> asyncio.Transport:
        """Answer ``101 Switching Protocols`` and hand the connection over to ``tunnel``.

        ``headers`` are sent as given (``Upgrade`` and ``Connection: Upgrade`` among
        them), then the Date and Server lines. From here on ``tunnel`` receives every
        byte the client sends, starting with any that came right behind the request
        head (possibly before this method returns: set the tunnel up first), and the
        connection's drain, disconnect and shutdown events. The exchange counts as
        answered; the connection closes once the application returns.

        Returns:
            The transport to write to.

        Raises:
            RuntimeError: the request asked for no upgrade, or a response was started.
            ValueError: a header is invalid.
            ClientDisconnected: the client has gone away.
        """
        if self.upgrade is None:
            raise RuntimeError("the request did not ask for a protocol switch")
        if self.status:
            raise RuntimeError("the response was already started")
        parts = [status_line(101)]
        for name, value in headers:  # per-connection values: not for header_line's cache
            check_header(name, value)
            parts.append(b"%b: %b\r\n" % (name, value))
        parts += (self._state.date.line, self._state.server_line, b"\r\n")
        self.status = 101
        self.response_ended = True
        self.response_keep_alive = False
        return self._conn.switch_protocols(self, b"".join(parts), tunnel)

    async def drain(self) -> None:
        """Wait while the client is slow to read what was written.

        Raises:
            ClientDisconnected: the connection is closed or closing.
        """
        await self._conn.drain()

    @property
    def response_started(self) -> bool:
        return self.status != 0

    @property
    def framing(self) -> Framing:
        return self._framing

    def respond(self, status: int, headers: HeaderList = (), body: bytes = b"") -> None:
        """Send a whole response in one write.

        A ``Content-Length`` header is added unless the status forbids a body; one
        supplied by the application must match ``len(body)`` (except for HEAD).

        Raises:
            RuntimeError: a response was already started.
            ValueError: a header is invalid, or Content-Length disagrees with the body.
        """
        if self.status:
            raise RuntimeError("the response was already started")
        parts = self._render(status, headers, len(body))
        if body and self._framing is _LENGTH and self.method != "HEAD":
            self.bytes_sent = len(body)
            if len(body) > _JOIN_MAX_BYTES:  # sent beside the head rather than copied
                self._conn.writelines((b"".join(parts), body))
                self.response_ended = True
                return
            parts.append(body)
        self._conn.write(b"".join(parts))
        self.response_ended = True

    def start(self, status: int, headers: HeaderList = ()) -> None:
        """Begin a streamed response; the head leaves with the first :meth:`write`.

        With a ``Content-Length`` header the body must be exactly that long; without
        one it is sent chunked (HTTP/1.1) or delimited by closing (HTTP/1.0).
        """
        if self.status:
            raise RuntimeError("the response was already started")
        self._pending_head = b"".join(self._render(status, headers, None))

    async def write(self, data: bytes) -> None:
        """Send a piece of a streamed response, then wait while the client is slow.

        ``write(b"")`` sends the head if it has not left yet.

        Raises:
            ClientDisconnected: the client went away.
            RuntimeError: called before :meth:`start` or after :meth:`end`, or the
                data would exceed the declared Content-Length or a bodiless status.
        """
        self._count_written(data)
        framing = self._framing
        if self.method == "HEAD" or not data:
            payload = b""
        elif framing is _CHUNKED:
            payload = chunk(data)
        else:
            payload = data
        if self._pending_head:
            payload = self._pending_head + payload
            self._pending_head = b""
        if payload:
            self._conn.write(payload)
            self.bytes_sent += len(data)
        await self._conn.drain()

    def _count_written(self, data: bytes) -> None:
        """Check that ``data`` may be written now, and count it against Content-Length.

        Raises:
            ClientDisconnected, RuntimeError: as :meth:`write` says.
        """
        if not self.status:
            raise RuntimeError("write() called before start()")
        if self.response_ended:
            raise RuntimeError("write() called after end()")
        if self.disconnected:
            raise ClientDisconnected()
        framing = self._framing
        if framing is _LENGTH:
            if len(data) > self._remaining:
                raise RuntimeError("response body is longer than its Content-Length")
            self._remaining -= len(data)
        elif framing is _NO_BODY and data:
            raise RuntimeError(f"a {self.status} response cannot have a body")

    async def end(self) -> None:
        """Finish a streamed response.

        Raises:
            RuntimeError: fewer bytes were written than the declared Content-Length
                (the connection is then closed, as the response is incomplete).
        """
        if not self.status:
            raise RuntimeError("end() called before start()")
        if self.response_ended:
            raise RuntimeError("end() called twice")
        self.response_ended = True
        if self._framing is _LENGTH and self._remaining and self.method != "HEAD":
            self.response_keep_alive = False
            raise RuntimeError(
                f"response body is {self._remaining} bytes shorter than its Content-Length"
            )
        tail = LAST_CHUNK if self._framing is _CHUNKED and self.method != "HEAD" else b""
        if self._pending_head or tail:
            self._conn.write(self._pending_head + tail)
            self._pending_head = b""
        await self._conn.drain()

    def abandon(self) -> None:
        """Give up on a started response: send nothing more, close after the handler.

        For an application that failed midway (the ASGI and WSGI hosts): the connection
        closes once the handler returns, so the client sees the response cut short
        rather than a complete one (no last chunk is sent).
        """
        self.response_ended = True
        self.response_keep_alive = False

    def fail(self) -> None:
        """The application failed: answer 500 if nothing was sent yet, else :meth:`abandon`.

        Nothing is sent to a client that has gone.
        """
        if self.response_started:
            self.abandon()
        elif not self.disconnected:
            self.respond(500, PLAIN_TEXT_HEADERS, INTERNAL_ERROR_BODY)

    def _check_sendfile(self) -> None:
        """Raise unless a file may be sent now (the checks every ``sendfile`` makes first)."""
        if not self.status:
            raise RuntimeError("sendfile() called before start()")
        if self.response_ended:
            raise RuntimeError("sendfile() called after end()")
        if self.disconnected:
            raise ClientDisconnected()

    async def sendfile(self, file: IO[bytes], offset: int, count: int) -> bool:
        """Send ``count`` bytes of ``file`` from ``offset`` with the OS's ``sendfile``.

        Only a streamed body with a declared Content-Length goes this way, and only when
        the connection can: plain TCP or Unix sockets on asyncio's own loop (not TLS,
        not uvloop, not an in-memory transport). Otherwise it returns False having sent
        no body bytes (the head may have left): send the bytes with :meth:`write`.

        Example::

            exchange.start(200, [(b"content-length", b"%d" % size)])
            if not await exchange.sendfile(file, 0, size):
                await exchange.write(file.read())
            await exchange.end()

        Raises:
            ClientDisconnected: the client went away.
            RuntimeError: called before :meth:`start` or after :meth:`end`, ``count``
                exceeds what the Content-Length leaves, or the file ended early (the
                connection is then closed, as the response is incomplete).
        """
        self._check_sendfile()
        send = getattr(self._conn, "sendfile", None)
        if send is None or self._framing is not _LENGTH or self.method == "HEAD":
            return False
        if count > self._remaining:
            raise RuntimeError("response body is longer than its Content-Length")
        if count <= 0:
            return True
        if self._pending_head:
            self._conn.write(self._pending_head)
            self._pending_head = b""
        try:
            sent: int | None = await send(file, offset, count)
        except ClientDisconnected:
            self.disconnected = True
            self.response_keep_alive = False
            raise
        if sent is None:
            return False
        self._remaining -= sent
        self.bytes_sent += sent
        if sent < count:
            self.response_keep_alive = False
            raise RuntimeError(f"the file ended {count - sent} bytes before the range sent")
        return True

    def _render(self, status: int, headers: HeaderList, body_length: int | None) -> list[bytes]:
        """Serialize the status line and the headers, as pieces to join.

        ``body_length`` is the length of a one-piece body, or None for a stream. Decides
        the framing and whether to keep the connection.
        """
        parts = [status_line(status)]
        # A client still waiting for 100 Continue may never send its body, so the
        # connection cannot be reused; any other unread body is discarded in turn.
        keep_alive = self._conn.may_keep_alive(self) and not (
            self.expect_continue and self.awaiting_continue
        )
        declared: int | None = None
        own_date = own_server = False
        for pair in headers:
            try:
                line = cached_line(pair)  # validated before: the common case
            except TypeError:  # an unhashable pair, such as a list
                line = None
            if line is not None:
                parts.append(line)
                continue
            name, value = pair
            lname = header_name(name)
            if lname not in FRAMING_HEADERS:
                parts.append(header_line(name, value))
                continue
            if b"\r" in value or b"\n" in value or b"\x00" in value:
                check_header(name, value)  # raises, naming the header
            if lname == b"content-length":
                if not value.isdigit():
                    raise ValueError(f"invalid Content-Length {value!r}")
                declared = int(value)
                continue
            if lname == b"transfer-encoding":
                continue  # the server chooses the framing
            if lname == b"connection" and status != 101:
                if b"close" in value.lower():
                    keep_alive = False
                continue
            if lname == b"date":
                own_date = True
            elif lname == b"server":
                own_server = True
            parts += (name, b": ", value, b"\r\n")

        if status in BODILESS_STATUSES:
            framing = _NO_BODY
            if status == 304 and declared is not None:
                parts.append(content_length_line(declared))
        elif body_length is not None:
            if declared is not None and declared != body_length and self.method != "HEAD":
                raise ValueError(
                    f"Content-Length {declared} does not match the body length {body_length}"
                )
            framing = _LENGTH
            length = body_length if declared is None else declared
            parts.append(cached_length_line(length) or content_length_line(length))
        elif declared is not None:
            framing = _LENGTH
            self._remaining = declared
            parts.append(content_length_line(declared))
        elif self.http_version == "1.1":
            framing = _CHUNKED
            parts.append(b"transfer-encoding: chunked\r\n")
        else:
            framing = _CLOSE
            keep_alive = False

        if not keep_alive:
            parts.append(b"connection: close\r\n")
        elif self.http_version == "1.0":
            parts.append(b"connection: keep-alive\r\n")
        state = self._state
        if not own_date:
            parts.append(state.date.line)
        if not own_server:
            parts.append(state.server_line)  # with the HSTS line, over TLS
        elif state.hsts_line:
            parts.append(state.hsts_line)
        parts.append(b"\r\n")
        self.status = status
        self._framing = framing
        self.response_keep_alive = keep_alive
        return parts


def _run_callback(callback: Callable[[], object]) -> None:
    try:
        callback()
    except Exception:
        logger.exception("exception in a disconnect callback")
