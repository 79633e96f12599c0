"""WebSockets under an ASGI server: the same :class:`WebSocket` API over ASGI events.

Under uvicorn, hypercorn or granian the server does the handshake's wire work and the
framing; typhoon sees ``websocket.connect``, ``websocket.receive``,
``websocket.disconnect`` and answers with ``websocket.accept``, ``websocket.send`` and
``websocket.close``. :func:`serve_websocket` is installed as
``realtime_hooks.asgi_websocket``, so the web layer's ASGI face hands ``websocket``
scopes here without importing this package.

Theory of operation
-------------------
* The scope becomes an :class:`ASGIWebSocketExchange` and goes through the app as any
  request does: middleware, hooks, routing, ``prepare()``. The route answers with a
  ``WebSocketUpgrade``, whose Origin check and subprotocol choice are the native ones;
  it then opens an :class:`ASGIWebSocket` (``websocket.accept``) and runs the session.
* A refusal (403 for a foreign Origin, a 404, an ``HTTPError`` from ``prepare()``) is
  sent as an HTTP response when the server offers the ``websocket.http.response``
  extension, else as ``websocket.close`` before accepting (the server answers 403).
* Receiving reads one event per message: no queue of our own, the server's is the
  bound. A message over ``max_message_size`` closes the socket with 1009.
* Sending goes through one writer task per socket, so ``send_nowait`` (Tornado's
  ``write_message``, pub/sub forwarding) keeps the order; ``send`` and awaiting a
  ``write_message`` wait until the server has taken the message (backpressure).
* Not ours over ASGI: permessage-deflate, keepalive pings (``ping()`` raises), the
  close handshake's timeout, ``write_limit`` on the socket's buffer. The ASGI server
  has its own options for them (uvicorn ``--ws-ping-interval``, ``--ws-max-size``...).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ProtocolError as FrameError
from websockets.frames import Close

from typhoon.http.errors import ClientDisconnected
from typhoon.realtime.negotiation import WebSocketOptions
from typhoon.realtime.websocket import (
    ABNORMAL_CLOSURE,
    MESSAGE_TOO_BIG,
    NO_STATUS,
    Message,
    WebSocket,
    WebSocketClosed,
    encode_message,
    run_session,
)
from typhoon.web.asgi import ASGIExchange, Receive, Scope, Send, serve_exchange
from typhoon.web.request import Request

if TYPE_CHECKING:
    from typhoon.realtime.websocket import WebSocketUpgrade
    from typhoon.web.app import App

logger = logging.getLogger("typhoon.error")

_DENIAL_EXTENSION = "websocket.http.response"
_NOT_ACCEPT_HEADERS = frozenset(
    (b"content-length", b"content-type", b"sec-websocket-protocol", b"date", b"server")
)


class ASGIWebSocketExchange(ASGIExchange):
    """A ``websocket`` scope as an exchange: an upgrade GET without a body.

    An ordinary response to it is a refusal: sent as HTTP when the server supports the
    ``websocket.http.response`` extension, else as ``websocket.close`` (the server then
    answers 403).
    """

    __slots__ = ("_denial_by_close",)

    start_event = "websocket.http.response.start"
    body_event = "websocket.http.response.body"

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        super().__init__(scope, receive, send, cancel_on_disconnect=False, has_body=False)
        self.upgrade = b"websocket"
        extensions = scope.get("extensions") or {}
        self._denial_by_close = _DENIAL_EXTENSION not in extensions

    def watch_disconnect(self) -> None:
        """Nothing to watch: the socket's own reads see ``websocket.disconnect``."""

    async def emit_head(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        if self._denial_by_close:
            await self.send_event({"type": "websocket.close", "code": 1008})
        else:
            await super().emit_head(status, headers)

    async def emit_body(self, data: bytes, *, more: bool) -> None:
        if not self._denial_by_close:
            await super().emit_body(data, more=more)

    async def accept(self, subprotocol: str | None, headers: list[tuple[bytes, bytes]]) -> None:
        """Open the socket: ``websocket.accept``. The exchange counts as answered (101)."""
        if self.status:
            raise RuntimeError("the response was already started")
        await self.send_event(
            {"type": "websocket.accept", "subprotocol": subprotocol, "headers": headers}
        )
        self.status = 101
        self.response_ended = True


class ASGIWebSocket(WebSocket):
    """A :class:`WebSocket` whose frames are the ASGI server's: same API, ASGI events.

    ``ping()`` raises NotImplementedError: ASGI has no ping event (the server sends
    keepalive pings itself), and ``on_ping``/``on_pong`` are never called.
    """

    def __init__(
        self,
        request: Request,
        options: WebSocketOptions,
        path_params: Mapping[str, Any],
        exchange: ASGIWebSocketExchange,
    ) -> None:
        super().__init__(request, options, path_params)
        self._asgi = exchange
        self._outbox: deque[dict[str, Any]] = deque()
        self._writer: asyncio.Task[None] | None = None
        self._close_queued = False

    async def _open(self, subprotocol: str | None, headers: list[tuple[bytes, bytes]]) -> None:
        pairs = [(k, v) for k, v in headers if k.lower() not in _NOT_ACCEPT_HEADERS]
        await self._asgi.accept(subprotocol, pairs)
        self.subprotocol = subprotocol

    # -- receiving ------------------------------------------------------------------------

    async def receive(self) -> Message:
        """The next message: ``str`` for text, ``bytes`` for binary.

        Raises:
            WebSocketClosed: the socket is closed.
        """
        while True:
            if self.close_code is not None or self._lost:
                raise WebSocketClosed(self.close_code or ABNORMAL_CLOSURE, self.close_reason)
            event = await self._asgi.receive_event()
            kind = event["type"]
            if kind == "websocket.receive":
                text = event.get("text")
                message: Message = text if text is not None else bytes(event.get("bytes") or b"")
                limit = self.options.max_message_size
                if len(message) > limit // 4 and _size(message) > limit:
                    self._start_close(MESSAGE_TOO_BIG, "message too big")
                    raise WebSocketClosed(MESSAGE_TOO_BIG, "message too big")
                return message
            if kind == "websocket.disconnect":
                self._gone(event.get("code") or NO_STATUS, event.get("reason") or "")

    def _gone(self, code: int, reason: str = "") -> None:
        """The client or the server closed the socket: nothing more goes either way."""
        self._lost = True
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        self._outbox.clear()
        if not self._closed.done():
            self._closed.set_result(None)

    # -- sending --------------------------------------------------------------------------

    def send_nowait(self, message: str | bytes | Any, *, binary: bool | None = None) -> None:
        """Queue a message for the writer (see :meth:`WebSocket.send`)."""
        data, as_binary = encode_message(message, binary)
        self._check_open()
        if as_binary:
            self._queue({"type": "websocket.send", "bytes": data})
        else:
            text = message if isinstance(message, str) else data.decode()
            self._queue({"type": "websocket.send", "text": text})

    def _queue(self, event: dict[str, Any]) -> None:
        self._outbox.append(event)
        if self._writer is None:
            self._writer = self._loop.create_task(self._write())

    async def _write(self) -> None:
        outbox = self._outbox
        try:
            while outbox:
                event = outbox.popleft()
                await self._asgi.send_event(event)
                if event["type"] == "websocket.close":
                    self._gone(event["code"], event.get("reason") or "")
        except ClientDisconnected:
            self._gone(ABNORMAL_CLOSURE)
        except Exception as exc:  # servers differ in what a send on a closed socket raises
            logger.debug("WebSocket %s: send failed: %r", self.request.path, exc)
            self._gone(ABNORMAL_CLOSURE)
        finally:
            self._writer = None

    async def _drain(self) -> None:
        writer = self._writer
        if writer is not None:
            await asyncio.shield(writer)
        if self._lost and not self._close_queued:  # the client went away meanwhile
            raise WebSocketClosed(self.close_code or ABNORMAL_CLOSURE, self.close_reason)

    def _check_open(self) -> None:
        if self._lost or self._close_queued:
            raise WebSocketClosed(self.close_code or ABNORMAL_CLOSURE, self.close_reason)

    async def ping(self, data: bytes = b"") -> float:
        raise NotImplementedError(_NO_PING)

    def ping_nowait(self, data: bytes = b"") -> None:
        raise NotImplementedError(_NO_PING)

    # -- closing --------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._lost or self._close_queued

    def _start_close(self, code: int, reason: str) -> None:
        if self._lost or self._close_queued:
            return
        try:
            Close(code, reason).check()
        except FrameError as exc:
            raise ValueError(f"close code {code!r} cannot be sent: {exc}") from None
        self._close_queued = True
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        self._queue({"type": "websocket.close", "code": code, "reason": reason})


_NO_PING = (
    "WebSocket pings are the ASGI server's job (uvicorn --ws-ping-interval, hypercorn "
    "websocket_ping_interval, granian --ws-...): ASGI has no ping event"
)


def _size(message: Message) -> int:
    return len(message.encode()) if isinstance(message, str) else len(message)


async def open_socket(
    exchange: ASGIWebSocketExchange, upgrade: WebSocketUpgrade, subprotocol: str | None
) -> None:
    """Accept the socket for ``upgrade`` and run its session until it closes."""
    ws = ASGIWebSocket(upgrade.request, upgrade.options, upgrade.path_params, exchange)
    await ws._open(subprotocol, upgrade.raw_headers)
    await run_session(ws, upgrade.session)


async def serve_websocket(app: App, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve an ASGI ``websocket`` scope with ``app`` (``realtime_hooks.asgi_websocket``)."""
    event = await receive()
    if event["type"] != "websocket.connect":
        return  # the client left before connecting
    await serve_exchange(app, ASGIWebSocketExchange(scope, receive, send))
