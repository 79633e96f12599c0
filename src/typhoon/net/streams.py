"""Streams: read lines and bytes with ``await``, for client scripts and simple servers.

A :class:`Stream` is one connection seen as a reader and a writer together::

    async with open_connection("tcp:example.com:25") as smtp:
        greeting = await smtp.readline()
        await smtp.send(b"EHLO me\\r\\n")
        async for line in smtp:
            ...

    async def echo(stream: Stream) -> None:
        async for line in stream:
            await stream.send(line)

    listener = await serve_streams("tcp:9000", echo)

It stands on asyncio's ``StreamReader``/``StreamWriter`` and on the engine's
``connect``/``serve``, so every stream endpoint works: ``tcp``, ``tcp6``, ``unix`` and
``tls``. UDP carries datagrams, not a byte stream, and is refused with a ValueError.

Rules:

* Reading is bounded by ``limit`` (64 KiB by default): a line longer than that raises
  :class:`LineTooLongError` rather than being buffered without end, and the peer is
  paused while the buffer is full.
* An over-long line is left unread, so nothing is lost: ``read(n)`` skips it, or the
  caller closes the stream.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, Generator
from types import TracebackType
from typing import Any, cast

from typhoon.net.endpoints import Endpoint, parse_client, parse_server
from typhoon.net.listen import Listener, client_tls, connect, serve

logger = logging.getLogger("typhoon.net")

DEFAULT_LIMIT_BYTES = 64 * 1024

StreamHandler = Callable[["Stream"], Awaitable[None]]


class LineTooLongError(ValueError):
    """A line (or the data before a separator) is longer than the stream's limit.

    Attributes:
        limit: the stream's limit, in bytes.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(f"line longer than the stream's limit of {limit} bytes")
        self.limit = limit


class Stream:
    """One connection: ``readline``/``readexactly``/``read`` and ``write``/``send``.

    Made by :func:`open_connection` (client) or given to a :func:`serve_streams`
    handler (server); not built directly.

    Attributes:
        endpoint: the parsed endpoint it was opened on (client streams), else None.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        limit: int,
        endpoint: Endpoint | None = None,
        server_side: bool = False,
    ) -> None:
        self.endpoint = endpoint
        self._server_side = server_side
        self._reader = reader
        self._writer = writer
        self._limit = limit

    def __repr__(self) -> str:
        state = "closed" if self._writer.is_closing() else "open"
        return f"<Stream {self.peer!r} {state}>"

    @property
    def peer(self) -> Any:
        """The peer's address: ``(host, port, ...)`` for TCP, a path (or ``""``) for Unix."""
        return self._writer.get_extra_info("peername")

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The transport's extra info (``"sockname"``, ``"ssl_object"``, ``"socket"``...)."""
        return self._writer.get_extra_info(name, default)

    # -- reading ------------------------------------------------------------------

    async def readline(self) -> bytes:
        """Read one line, ending in ``b"\\n"``; at EOF the last partial line, then ``b""``.

        Raises:
            LineTooLongError: the line is longer than ``limit`` (it stays unread).
        """
        try:
            return await self.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            return exc.partial

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        """Read up to and including ``separator``.

        Raises:
            LineTooLongError: no separator within ``limit`` bytes (the data stays unread).
            asyncio.IncompleteReadError: EOF came first; ``.partial`` holds what was read.
        """
        try:
            return await self._reader.readuntil(separator)
        except asyncio.LimitOverrunError:
            raise LineTooLongError(self._limit) from None

    async def readexactly(self, n: int) -> bytes:
        """Read exactly ``n`` bytes.

        Raises:
            asyncio.IncompleteReadError: EOF came first; ``.partial`` holds what was read.
        """
        return await self._reader.readexactly(n)

    async def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes (as soon as any arrive), or everything until EOF if ``n < 0``.

        Returns ``b""`` at EOF.
        """
        return await self._reader.read(n)

    def at_eof(self) -> bool:
        """Whether the peer has finished sending and everything has been read."""
        return self._reader.at_eof()

    def __aiter__(self) -> Stream:
        return self

    async def __anext__(self) -> bytes:
        """The next line (see :meth:`readline`); the iteration ends at EOF."""
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    # -- writing ------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Queue ``data`` for sending; :meth:`drain` waits until the queue is short."""
        self._writer.write(data)

    async def drain(self) -> None:
        """Wait until the write buffer is below its high-water mark (backpressure).

        Raises:
            ConnectionError: the connection was lost.
        """
        await self._writer.drain()

    async def send(self, data: bytes) -> None:
        """:meth:`write` then :meth:`drain`."""
        self._writer.write(data)
        await self._writer.drain()

    def write_eof(self) -> None:
        """Half-close: tell the peer nothing more will be sent (reading goes on)."""
        self._writer.write_eof()

    # -- TLS and closing ----------------------------------------------------------

    async def start_tls(
        self,
        context: ssl.SSLContext | None = None,
        *,
        sni: str | None = None,
        ca: str | None = None,
        verify: bool = True,
        alpn: str | None = None,
        cert: str | None = None,
        key: str | None = None,
    ) -> None:
        """Upgrade the live connection to TLS (STARTTLS), then read and write as before.

        Pending writes are flushed first. A client stream builds its context from the
        same options as a ``tls:`` endpoint (``ca``, ``verify``, ``alpn``, ``cert``,
        ``key``) unless ``context`` is given; a server stream (in a
        :func:`serve_streams` handler) needs a server ``context``.

        Example::

            await stream.send(b"STARTTLS\\r\\n")
            assert (await stream.readline()).startswith(b"220")
            await stream.start_tls(ca="ca.pem")

        Args:
            context: the TLS context to use instead of the options.
            sni: the server name to send and check (default: the endpoint's host).

        Raises:
            ValueError: both ``context`` and options, or a server stream without a
                context.
            RuntimeError: the stream is already TLS.
            OSError: a ``ca``/``cert``/``key`` file cannot be read.
            ssl.SSLError: the handshake failed (e.g. the certificate is not trusted).
        """
        if self.get_extra_info("ssl_object") is not None:
            raise RuntimeError(f"{self!r} is already TLS")
        options = {
            name: value
            for name, value in (("ca", ca), ("alpn", alpn), ("cert", cert), ("key", key))
            if value is not None
        }
        if not verify:
            options["verify"] = "no"
        hostname: str | None = None
        if self.endpoint is not None:
            hostname = sni or self.endpoint.option("sni") or self.endpoint.host
        if context is None:
            if self._server_side or self.endpoint is None:
                raise ValueError("start_tls on a server stream needs a server ssl.SSLContext")
            text = f"start_tls on {self.endpoint.text}"
            context = client_tls(Endpoint("tls", hostname, None, None, options, text))
        elif options:
            raise ValueError(f"start_tls: give a context or TLS options, not both ({options})")
        await self._writer.start_tls(context, server_hostname=hostname)

    def close(self) -> None:
        """Start closing the connection (pending writes are still sent)."""
        self._writer.close()

    async def aclose(self) -> None:
        """Close the connection and wait until it is closed.

        An error of a connection that was already broken (reset, TLS) is ignored.
        """
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except OSError:
            pass

    async def __aenter__(self) -> Stream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def _check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise ValueError(f"limit must be a positive number of bytes, got {limit!r}")
    return limit


def _not_udp(spec: Endpoint) -> Endpoint:
    if spec.kind == "udp":
        raise ValueError(
            f"endpoint {spec.text!r}: udp is datagrams, not a stream; "
            "use connect() or serve() with a DatagramProtocol"
        )
    return spec


class _Opening:
    """What :func:`open_connection` returns: await it, or use it in ``async with``."""

    def __init__(self, spec: Endpoint, limit: int) -> None:
        self._spec = spec
        self._limit = limit
        self._stream: Stream | None = None

    async def _open(self) -> Stream:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=self._limit)
        transport, protocol = await connect(
            self._spec, lambda: asyncio.StreamReaderProtocol(reader)
        )
        writer = asyncio.StreamWriter(
            cast(asyncio.WriteTransport, transport), protocol, reader, loop
        )
        return Stream(reader, writer, limit=self._limit, endpoint=self._spec)

    def __await__(self) -> Generator[Any, None, Stream]:
        return self._open().__await__()

    async def __aenter__(self) -> Stream:
        self._stream = await self._open()
        return self._stream

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._stream is not None:
            await self._stream.aclose()


def open_connection(endpoint: str | Endpoint, *, limit: int = DEFAULT_LIMIT_BYTES) -> _Opening:
    """Connect to a client endpoint and return a :class:`Stream`.

    Use it either way::

        async with open_connection("tcp:127.0.0.1:9000") as stream:   # closed on exit
            await stream.send(b"hello\\n")
        stream = await open_connection("tls:example.com:443")          # close it yourself

    Args:
        endpoint: a client endpoint string or :class:`Endpoint` (tcp, tcp6, unix, tls).
        limit: the longest line :meth:`Stream.readline` accepts, and the read buffer's
            size before the peer is paused, in bytes.

    Raises:
        ValueError: a malformed endpoint, a UDP one, or a bad ``limit``.
        OSError: the connection failed (on ``await``); TimeoutError past ``timeout=``.
    """
    spec = parse_client(endpoint) if isinstance(endpoint, str) else endpoint
    return _Opening(_not_udp(spec), _check_limit(limit))


_HANDLER_TASKS: set[asyncio.Task[None]] = set()


async def _handle(handler: StreamHandler, stream: Stream) -> None:
    try:
        await handler(stream)
    except Exception:
        logger.exception("stream handler %r failed (peer %r)", handler, stream.peer)
    finally:
        await stream.aclose()


async def serve_streams(
    endpoint: str | Endpoint, handler: StreamHandler, *, limit: int = DEFAULT_LIMIT_BYTES
) -> Listener:
    """Listen on ``endpoint``; each connection runs ``await handler(stream)``.

    The stream is closed when the handler returns. An exception in the handler is
    logged on ``typhoon.net`` and closes that connection only.

    Example::

        async def shout(stream: Stream) -> None:
            async for line in stream:
                await stream.send(line.upper())

        async with await serve_streams("tcp:9000", shout):
            ...

    Returns:
        the same :class:`Listener` as :func:`serve`.

    Raises:
        ValueError: a malformed endpoint, a UDP one, or a bad ``limit``.
        TypeError: ``handler`` is not callable.
        OSError: the address cannot be bound.
    """
    spec = _not_udp(parse_server(endpoint) if isinstance(endpoint, str) else endpoint)
    _check_limit(limit)
    if not callable(handler):
        raise TypeError(f"handler must be an async function, got {handler!r}")
    loop = asyncio.get_running_loop()

    def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stream = Stream(reader, writer, limit=limit, server_side=True)
        task = loop.create_task(_handle(handler, stream))
        _HANDLER_TASKS.add(task)  # held until done, or it could be collected midway
        task.add_done_callback(_HANDLER_TASKS.discard)

    def protocol() -> asyncio.StreamReaderProtocol:
        # a callback makes asyncio treat the stream as server-side (for start_tls)
        return asyncio.StreamReaderProtocol(asyncio.StreamReader(limit=limit), connected)

    return await serve(spec, protocol)
