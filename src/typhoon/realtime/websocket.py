"""WebSockets: RFC 6455 from the ``websockets`` library's sans-I/O core, on typhoon's connection.

The HTTP layer parses the upgrade request like any other; the route answers it with a
:class:`WebSocketUpgrade` response. Its ``send`` checks the Origin, lets the sans-I/O
``ServerProtocol`` validate the handshake and negotiate permessage-deflate and the
subprotocol, answers ``101`` through :meth:`Exchange.switch_protocols`, and from then
on a :class:`WebSocket` is the connection's tunnel: bytes in go to the sans-I/O
parser, whole messages come out of it, frames to send go straight to the transport.
The endpoint (a function, or a :class:`WebSocketHandler` class) runs in the request's
own task for as long as the socket is open.

Theory of operation
-------------------
* Incoming messages wait in a queue of at most ``max_queue`` messages; past it reading
  pauses until the application catches up (backpressure towards the client). A text
  message is checked as UTF-8 as its fragments arrive (close 1007 at the first bad
  byte); a message over ``max_message_size`` closes the socket with 1009.
* ``send`` writes the frame at once and then waits while the client is slow (the
  transport's buffer above its high-water mark): the send queue is bounded by it.
* Keepalive: a ping every ``ping_interval`` seconds; no pong within ``ping_timeout``
  closes with 1011. One timer per socket, never a task.
* Closing: ``close()`` sends a close frame and waits (``close_timeout``) for the
  client's; the server then closes TCP. A graceful drain closes every socket with 1001.
* Compression: permessage-deflate is negotiated when the client offers it, without
  context takeover in either direction, so zlib state exists only while a message
  is compressed or inflated: an idle socket holds none. Messages shorter than
  ``compression_threshold`` bytes are sent uncompressed.
"""

from __future__ import annotations

import asyncio
import codecs
import inspect
import logging
import os
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

import msgspec
from websockets.datastructures import Headers
from websockets.extensions.base import ServerExtensionFactory
from websockets.frames import BINARY as OP_BINARY
from websockets.frames import CLOSE as OP_CLOSE
from websockets.frames import CONT as OP_CONT
from websockets.frames import PING as OP_PING
from websockets.frames import PONG as OP_PONG
from websockets.frames import TEXT as OP_TEXT
from websockets.frames import Frame
from websockets.http11 import Request as HandshakeRequest
from websockets.protocol import CONNECTING, OPEN
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from typhoon.http.errors import ClientDisconnected
from typhoon.http.exchange import Exchange
from typhoon.realtime.negotiation import (
    DeflateFactory,
    WebSocketOptions,
    offered_subprotocols,
    origin_allowed,
)
from typhoon.web.metrics import AppMetrics
from typhoon.web.request import Request
from typhoon.web.response import Response

logger = logging.getLogger("typhoon.error")
# The sans-I/O core logs every closed connection at INFO; frames go to DEBUG.
_frames_logger = logging.getLogger("typhoon.websocket.frames")
_frames_logger.setLevel(logging.WARNING)

Message = str | bytes

# Close codes (RFC 6455 §7.4.1) that end ``async for`` quietly; others do too, but
# their code is kept in ``close_code`` for the application to inspect.
NORMAL_CLOSURE = 1000
GOING_AWAY = 1001
PROTOCOL_ERROR = 1002
UNSUPPORTED_DATA = 1003
NO_STATUS = 1005
ABNORMAL_CLOSURE = 1006
INVALID_DATA = 1007
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011


class WebSocketClosed(Exception):
    """The socket is closed: raised by ``receive*`` and ``send*``.

    Attributes:
        code: the close code (1006 when the connection dropped without a close frame).
        reason: the close reason, possibly empty.
    """

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"WebSocket closed with code {code}" + (f": {reason}" if reason else ""))
        self.code = code
        self.reason = reason


class WebSocket:
    """One open WebSocket, as the endpoint sees it.

    Example::

        @app.websocket("/echo")
        async def echo(ws: WebSocket) -> None:
            async for message in ws:
                await ws.send(message)

    Attributes:
        request: the upgrade request (headers, cookies, query, ``app``).
        path_params: the route's parameters.
        subprotocol: the subprotocol agreed with the client, or None.
        close_code: the close code once closed (1006: dropped without a close frame).
        close_reason: the close reason once closed.
    """

    def __init__(
        self, request: Request, options: WebSocketOptions, path_params: Mapping[str, Any]
    ) -> None:
        self.request = request
        self.app = request.app
        self.path_params = dict(path_params)
        self.options = options
        self.subprotocol: str | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        self._exchange: Exchange = request.exchange
        self._proto: ServerProtocol = cast(ServerProtocol, None)
        self._transport: asyncio.Transport = cast(asyncio.Transport, None)
        self._loop = asyncio.get_running_loop()
        self._messages: deque[Message] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._parts: list[Any] | None = None  # the fragments of the message being received
        self._text_decoder: codecs.IncrementalDecoder | None = None
        self._paused = False
        self._lost = False
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self._timer: asyncio.TimerHandle | None = None
        self._ping_payload: bytes | None = None  # the keepalive ping awaiting its pong
        self._pongs: dict[bytes, asyncio.Future[float]] = {}
        self.on_ping: Callable[[bytes], object] | None = None
        self.on_pong: Callable[[bytes], object] | None = None
        self._metrics: AppMetrics | None = None  # whose gauge counts this socket while open

    def __repr__(self) -> str:
        state = "open" if self.close_code is None else f"closed {self.close_code}"
        return f"<WebSocket {self.request.path!r} {state}>"

    # -- the handshake ---------------------------------------------------------------------

    def _accept(
        self,
        exchange: Exchange,
        subprotocol: str | None,
        extra_headers: Sequence[tuple[bytes, bytes]] = (),
    ) -> Response | None:
        """Answer the handshake: None once the socket is open, else the refusal to send.

        ``extra_headers`` go out with the ``101`` beside the handshake's own.
        """
        options = self.options
        factories: list[ServerExtensionFactory] = []
        if options.compression:
            factories.append(DeflateFactory(options.compression_threshold))

        def choose(_: ServerProtocol, offered: Sequence[Subprotocol]) -> Subprotocol | None:
            if subprotocol is None or subprotocol not in offered:
                return None
            return Subprotocol(subprotocol)

        proto = ServerProtocol(
            extensions=factories,
            select_subprotocol=choose,
            state=CONNECTING,
            max_size=options.max_message_size,
            logger=_frames_logger,
        )
        headers = Headers()
        for name, value in exchange.headers:
            headers[name.decode("latin-1")] = value.decode("latin-1")
        handshake = proto.accept(HandshakeRequest(exchange.target.decode("latin-1"), headers))
        if handshake.status_code != 101:
            pairs = [
                (name, value)
                for name, value in handshake.headers.raw_items()
                if name.lower() not in ("date", "server", "content-length", "connection")
            ]
            return Response(bytes(handshake.body), handshake.status_code, pairs)
        proto.send_response(handshake)  # now OPEN
        proto.data_to_send()  # the 101 goes out through the exchange instead
        # The core's parser began by waiting for the request head, which typhoon's HTTP
        # layer read: start a fresh one, which reads frames as the state is OPEN.
        proto.parser = proto.parse()
        next(proto.parser)
        self._proto = proto
        self.subprotocol = proto.subprotocol
        reply = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in handshake.headers.raw_items()
            if name.lower() not in ("date", "server")
        ]
        reply += extra_headers
        self._transport = exchange.switch_protocols(reply, self)
        # A hosted ASGI app's socket has no typhoon App, so no metrics of its own.
        metrics = self.app.metrics if self.app is not None else None
        if metrics is not None and not self._lost:
            metrics.websocket_opened()
            self._metrics = metrics
        self._arm_keepalive()
        return None

    # -- the Tunnel interface (called by the connection) ------------------------------------

    def data_received(self, data: bytes) -> None:
        proto = self._proto
        proto.receive_data(data)
        for event in proto.events_received():
            frame = cast(Frame, event)  # once open, the core yields only frames
            opcode = frame.opcode
            if opcode is OP_TEXT or opcode is OP_BINARY or opcode is OP_CONT:
                if not self._frame(frame):
                    break
            elif opcode is OP_PING:
                self._hook(self.on_ping, bytes(frame.data))
            elif opcode is OP_PONG:
                self._pong(bytes(frame.data))
            elif opcode is OP_CLOSE:
                self._record_close()
        self._flush()

    def eof_received(self) -> bool | None:
        self._proto.receive_eof()
        self._flush()
        return None  # the transport closes

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        metrics, self._metrics = self._metrics, None
        if metrics is not None:
            metrics.websocket_closed()
        self._cancel_timer()
        self._record_close()
        self._wake()
        for waiter in self._pongs.values():
            if not waiter.done():
                waiter.set_exception(WebSocketClosed(self.close_code or ABNORMAL_CLOSURE))
                waiter.exception()  # retrieved: a ping nobody awaited is not an error
        self._pongs.clear()
        if not self._closed.done():
            self._closed.set_result(None)

    def shutdown(self) -> None:
        """The server is draining: close with 1001 (Going Away)."""
        self._start_close(GOING_AWAY, "server shutting down")

    # -- receiving ------------------------------------------------------------------------

    def _frame(self, frame: Frame) -> bool:
        """Take a data frame; False when the connection failed on it."""
        data = frame.data
        if frame.opcode is not OP_CONT:
            text = frame.opcode is OP_TEXT
            if frame.fin:  # a whole message: the common case
                if not text:
                    return self._deliver(bytes(data))
                try:
                    return self._deliver(bytes(data).decode())
                except UnicodeDecodeError:
                    return self._fail(INVALID_DATA, "invalid UTF-8 in a text message")
            self._parts = []
            self._text_decoder = codecs.getincrementaldecoder("utf-8")() if text else None
        parts = self._parts
        if parts is None:  # pragma: no cover - the sans-I/O core refuses it first
            return self._fail(PROTOCOL_ERROR, "unexpected continuation frame")
        decoder = self._text_decoder
        if decoder is not None:
            try:  # checked piece by piece: a bad byte fails at once, not at the end
                parts.append(decoder.decode(bytes(data), frame.fin))
            except UnicodeDecodeError:
                return self._fail(INVALID_DATA, "invalid UTF-8 in a text message")
        else:
            parts.append(bytes(data))
        if not frame.fin:
            return True
        self._parts = self._text_decoder = None
        return self._deliver("".join(parts) if decoder is not None else b"".join(parts))

    def _deliver(self, message: Message) -> bool:
        self._messages.append(message)
        self._wake()
        if len(self._messages) >= self.options.max_queue and not self._paused:
            self._paused = True
            self._transport.pause_reading()
        return True

    def _fail(self, code: int, reason: str) -> bool:
        self._proto.fail(code, reason)
        self._record_close()
        self._wake()
        return False

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def receive(self) -> Message:
        """The next message: ``str`` for text, ``bytes`` for binary.

        Raises:
            WebSocketClosed: the socket is closed (after the queued messages were read).
        """
        messages = self._messages
        while not messages:
            if self.close_code is not None or self._lost:
                raise WebSocketClosed(self.close_code or ABNORMAL_CLOSURE, self.close_reason)
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        message = messages.popleft()
        if self._paused and len(messages) <= self.options.max_queue // 2:
            self._paused = False
            if not self._lost:
                self._transport.resume_reading()
        return message

    async def receive_text(self) -> str:
        """The next message, which must be text.

        Raises:
            WebSocketClosed: the socket is closed, or a binary message came (the socket
                is then closed with 1003).
        """
        message = await self.receive()
        if isinstance(message, bytes):
            await self.close(UNSUPPORTED_DATA, "expected a text message")
            raise WebSocketClosed(UNSUPPORTED_DATA, "expected a text message")
        return message

    async def receive_bytes(self) -> bytes:
        """The next message, which must be binary (else close 1003, as receive_text)."""
        message = await self.receive()
        if isinstance(message, str):
            await self.close(UNSUPPORTED_DATA, "expected a binary message")
            raise WebSocketClosed(UNSUPPORTED_DATA, "expected a binary message")
        return message

    async def receive_json(self) -> Any:
        """The next message decoded as JSON (text or binary).

        Raises:
            WebSocketClosed: the socket is closed, or the message is not JSON (the
                socket is then closed with 1007).
        """
        message = await self.receive()
        try:
            return msgspec.json.decode(message)
        except (msgspec.DecodeError, UnicodeDecodeError):  # older msgspec: bad UTF-8 is the latter
            await self.close(INVALID_DATA, "the message is not valid JSON")
            raise WebSocketClosed(INVALID_DATA, "the message is not valid JSON") from None

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        """Messages until the socket closes (for any reason: see ``close_code``)."""
        while True:
            try:
                message = await self.receive()
            except WebSocketClosed:
                return
            yield message

    # -- sending --------------------------------------------------------------------------

    async def send(self, message: str | bytes | Any, *, binary: bool | None = None) -> None:
        """Send a message: ``str`` as text, ``bytes`` as binary, anything else as JSON text.

        Waits while the client is slow to read (backpressure).

        Args:
            binary: force the frame type (``str`` encoded as UTF-8, or bytes sent as text).

        Raises:
            WebSocketClosed: the socket is closed or closing.
            TypeError: the message cannot be encoded as JSON.
        """
        self.send_nowait(message, binary=binary)
        await self._drain()

    def send_nowait(self, message: str | bytes | Any, *, binary: bool | None = None) -> None:
        """Send a message without waiting for a slow client (see :meth:`send`).

        A client that has more than ``write_limit`` bytes still unread when a message
        is sent is dropped (:class:`WebSocketClosed` is raised).
        """
        data, as_binary = encode_message(message, binary)
        self._check_open()
        if self._transport.get_write_buffer_size() > self.options.write_limit:
            # What was queued before this message is still unread: the client has
            # stopped reading. (A single message larger than the limit is fine.)
            logger.warning(
                "WebSocket %s: client not reading (over %d bytes queued); dropping it",
                self.request.path,
                self.options.write_limit,
            )
            self._transport.abort()
            raise WebSocketClosed(ABNORMAL_CLOSURE, "client not reading")
        if as_binary:
            self._proto.send_binary(data)
        else:
            self._proto.send_text(data)
        self._flush()

    async def send_text(self, text: str) -> None:
        """Send ``text`` as a text message."""
        if not isinstance(text, str):
            raise TypeError(f"send_text() takes a str, got {type(text).__name__}")
        await self.send(text)

    async def send_bytes(self, data: bytes) -> None:
        """Send ``data`` as a binary message."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"send_bytes() takes bytes, got {type(data).__name__}")
        await self.send(data)

    async def send_json(self, value: Any) -> None:
        """Send ``value`` encoded as JSON, in a text message."""
        await self.send(msgspec.json.encode(value), binary=False)

    async def ping(self, data: bytes = b"") -> float:
        """Send a ping and wait for its pong; return the round trip in seconds.

        Raises:
            WebSocketClosed: the socket closed before the pong came.
        """
        self._check_open()
        payload = bytes(data) or os.urandom(4)
        if payload in self._pongs:
            raise ValueError(f"a ping with payload {payload!r} is already waiting for its pong")
        waiter: asyncio.Future[float] = self._loop.create_future()
        self._pongs[payload] = waiter
        sent = self._loop.time()
        self.ping_nowait(payload)
        await self._drain()
        return await waiter - sent

    def ping_nowait(self, data: bytes = b"") -> None:
        """Send a ping and return at once (a pong comes to ``on_pong``)."""
        self._check_open()
        self._proto.send_ping(bytes(data))
        self._flush()

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Close the socket and wait (up to ``close_timeout``) until it is closed.

        Closing a closed socket does nothing.

        Raises:
            ValueError: ``code`` is not a code an endpoint may send.
        """
        self._start_close(code, reason)
        await self.wait_closed()

    async def wait_closed(self) -> None:
        """Wait until the TCP connection is closed."""
        await asyncio.shield(self._closed)

    @property
    def closed(self) -> bool:
        """Whether a close frame was sent or received, or the connection dropped."""
        return self.close_code is not None or self._lost or self._proto.state is not OPEN

    def _start_close(self, code: int, reason: str) -> None:
        proto = self._proto
        if proto is None or self._lost or proto.state is not OPEN:
            return
        try:
            proto.send_close(code, reason)
        except Exception as exc:  # websockets' ProtocolError: a reserved or unknown code
            raise ValueError(f"close code {code!r} cannot be sent: {exc}") from None
        self._flush()
        self._cancel_timer()
        self._timer = self._loop.call_later(self.options.close_timeout, self._close_timed_out)

    def _close_timed_out(self) -> None:
        self._timer = None
        if not self._lost:
            self._transport.abort()

    def _check_open(self) -> None:
        if self._lost or self._proto.state is not OPEN:
            self._record_close()
            raise WebSocketClosed(self.close_code or ABNORMAL_CLOSURE, self.close_reason)

    async def _drain(self) -> None:
        try:
            await self._exchange.drain()
        except ClientDisconnected:
            self._record_close()
            raise WebSocketClosed(self.close_code or ABNORMAL_CLOSURE, self.close_reason) from None

    def _flush(self) -> None:
        """Write what the sans-I/O core has to send; close TCP when it says so."""
        if self._lost:
            return
        transport = self._transport
        for data in self._proto.data_to_send():
            if data:
                transport.write(data)
            else:  # end of stream: the server closes the TCP connection
                self._record_close()
                transport.close()

    def _record_close(self) -> None:
        """Note the close code once a close frame went either way (or TCP dropped)."""
        if self.close_code is not None:
            return
        proto = self._proto
        if proto is None:
            return
        close = proto.close_rcvd or proto.close_sent  # what the client said, else we did
        if close is not None:
            self.close_code, self.close_reason = close.code, close.reason
        elif self._lost:
            self.close_code = ABNORMAL_CLOSURE
        else:
            return
        self._wake()

    # -- keepalive ------------------------------------------------------------------------

    def _arm_keepalive(self) -> None:
        interval = self.options.ping_interval
        if interval is not None:
            self._timer = self._loop.call_later(interval, self._keepalive)

    def _keepalive(self) -> None:
        """Send the keepalive ping, or fail the socket if the last one got no pong."""
        self._timer = None
        if self._lost or self._proto.state is not OPEN:
            return
        if self._ping_payload is not None:  # the pong deadline passed
            self._fail(INTERNAL_ERROR, "keepalive ping timeout")
            self._flush()
            return
        self._ping_payload = os.urandom(4)
        self._proto.send_ping(self._ping_payload)
        self._flush()
        timeout = self.options.ping_timeout
        if timeout is not None:
            self._timer = self._loop.call_later(timeout, self._keepalive)
        else:
            self._ping_payload = None
            self._arm_keepalive()

    def _pong(self, payload: bytes) -> None:
        self._hook(self.on_pong, payload)
        if payload == self._ping_payload:
            self._ping_payload = None
            self._cancel_timer()
            self._arm_keepalive()
            return
        waiter = self._pongs.pop(payload, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(self._loop.time())

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _hook(self, hook: Callable[[bytes], object] | None, payload: bytes) -> None:
        if hook is None:
            return
        try:
            result = hook(payload)
            if inspect.isawaitable(result):
                task = self._loop.create_task(_logged(result, "on_ping/on_pong"))
                _HOOK_TASKS.add(task)  # held until done, or it may be collected midway
                task.add_done_callback(_HOOK_TASKS.discard)
        except Exception:
            logger.exception("exception in a WebSocket on_ping/on_pong hook")


def encode_message(message: str | bytes | Any, binary: bool | None) -> tuple[bytes, bool]:
    """``(payload, as_binary)`` for :meth:`WebSocket.send`'s rules: ``str`` as text,
    ``bytes`` as binary, anything else as JSON text; ``binary`` forces the frame type.

    Raises:
        TypeError: the message cannot be encoded as JSON.
    """
    if isinstance(message, str):
        return message.encode(), bool(binary)
    if isinstance(message, bytes | bytearray | memoryview):
        return bytes(message), binary is not False
    try:
        data = msgspec.json.encode(message)
    except TypeError as exc:
        raise TypeError(f"send(): cannot encode {type(message).__name__} as JSON") from exc
    return data, bool(binary)


_HOOK_TASKS: set[asyncio.Task[None]] = set()


async def _logged(awaitable: Awaitable[object], what: str) -> None:
    try:
        await awaitable
    except Exception:
        logger.exception("exception in a WebSocket %s hook", what)


Endpoint = Callable[..., Awaitable[None]]


class WebSocketUpgrade(Response):
    """The response to an upgrade request: opens the socket and runs ``session`` on it.

    Anything that ends up in its headers (a cookie set by middleware, say) goes out
    with the ``101``. Middleware and ``before_request`` hooks run on the upgrade
    request as on any other, so they may refuse it with an ordinary response.

    Args:
        request: the upgrade request.
        session: ``async (ws) -> None``, run while the socket is open.
        options: limits and behaviour.
        path_params: handed to the :class:`WebSocket`.
        subprotocol: a callable choosing one of the offered subprotocols (or None).
    """

    def __init__(
        self,
        request: Request,
        session: Callable[[WebSocket], Awaitable[None]],
        options: WebSocketOptions,
        path_params: Mapping[str, Any] | None = None,
        *,
        check_origin: Callable[[str], bool] | None = None,
        select_subprotocol: Callable[[list[str]], str | None] | None = None,
    ) -> None:
        super().__init__(b"", 101)
        self.request = request
        self.session = session
        self.options = options
        self.path_params = path_params or {}
        self.check_origin = check_origin
        self.select_subprotocol = select_subprotocol

    async def send(self, exchange: Exchange) -> None:
        request = self.request
        if exchange.upgrade is None or exchange.upgrade.lower() != b"websocket":
            await _refuse(exchange, 426, "426 Upgrade Required: this URL speaks WebSocket\n")
            return
        origin = request.headers.get("origin")
        allowed = (
            self.check_origin(origin)
            if self.check_origin is not None and origin is not None
            else origin_allowed(request, self.options.origins)
        )
        if not allowed:
            await _refuse(exchange, 403, "403 Forbidden: cross-origin WebSocket not allowed\n")
            return
        offered = offered_subprotocols(request)
        chosen: str | None = None
        if offered:
            if self.select_subprotocol is not None:
                chosen = self.select_subprotocol(offered)
            else:
                chosen = next((p for p in self.options.subprotocols if p in offered), None)
        # Imported here: realtime.asgi builds on this module. Under an ASGI server the
        # server frames the socket, and typhoon only exchanges events with it.
        from typhoon.realtime.asgi import ASGIWebSocketExchange, open_socket

        if isinstance(exchange, ASGIWebSocketExchange):
            await open_socket(exchange, self, chosen)
            return
        ws = WebSocket(request, self.options, self.path_params)
        refusal = ws._accept(exchange, chosen)
        if refusal is not None:
            await refusal.send(exchange)
            return
        await run_session(ws, self.session)


async def _refuse(exchange: Exchange, status: int, text: str) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    if status == 426:
        headers += [(b"upgrade", b"websocket"), (b"connection", b"upgrade")]
    exchange.respond(status, headers, text.encode())


async def run_session(ws: WebSocket, session: Callable[[WebSocket], Awaitable[None]]) -> None:
    """Run ``session`` on an open socket; close it when the session ends or fails."""
    try:
        await session(ws)
    except WebSocketClosed:
        pass
    except asyncio.CancelledError:
        ws._start_close(GOING_AWAY, "")
        raise
    except Exception:
        logger.exception("exception in WebSocket endpoint %s", ws.request.path)
        ws._start_close(INTERNAL_ERROR, "")
    else:
        ws._start_close(NORMAL_CLOSURE, "")
    await ws.wait_closed()


def websocket_view(endpoint: Endpoint, options: Mapping[str, Any]) -> Any:
    """Turn what ``@app.websocket(path, **options)`` decorates into a route endpoint.

    A :class:`WebSocketHandler` subclass is returned as it is (its options are class
    attributes); a function ``async (ws, **path_params)`` becomes a view returning a
    :class:`WebSocketUpgrade`.

    Raises:
        TypeError: the endpoint is not an ``async def`` function or a handler class,
            or an option is unknown.
    """
    from typhoon.realtime.handler import WebSocketHandler

    if isinstance(endpoint, type):
        if not issubclass(endpoint, WebSocketHandler):
            raise TypeError(
                f"app.websocket() takes an async function or a WebSocketHandler subclass, "
                f"got class {endpoint.__name__}"
            )
        if options:
            raise TypeError(
                f"{endpoint.__name__}: set WebSocket options as class attributes, "
                f"not as app.websocket() arguments ({sorted(options)})"
            )
        return endpoint
    if not inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"app.websocket() endpoint must be an async function, got {endpoint!r}")
    cache: list[WebSocketOptions] = []

    async def view(request: Request, *args: Any, **params: Any) -> Response:
        if not cache:
            cache.append(WebSocketOptions.from_settings(request.app.settings, **options))

        async def session(ws: WebSocket) -> None:
            await endpoint(ws, *args, **params)

        return WebSocketUpgrade(request, session, cache[0], params)

    WebSocketOptions.from_settings({}, **options)  # a bad option fails at registration
    view.__name__ = getattr(endpoint, "__name__", "websocket")
    view.__qualname__ = getattr(endpoint, "__qualname__", view.__name__)
    view.__module__ = getattr(endpoint, "__module__", view.__module__)
    view.__doc__ = endpoint.__doc__
    return view


__all__ = [
    "WebSocket",
    "WebSocketClosed",
    "WebSocketOptions",
    "WebSocketUpgrade",
    "encode_message",
    "origin_allowed",
    "run_session",
    "websocket_view",
]
