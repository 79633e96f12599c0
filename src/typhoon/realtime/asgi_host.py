"""An ASGI application's ``websocket`` scope, served on typhoon's connection.

:class:`~typhoon.http.asgi.ASGIHost` lives in the HTTP layer, which cannot import this
package; :func:`typhoon.realtime.install` puts :func:`serve_websocket` in
:mod:`typhoon.http.asgi_hooks` for it. The socket is typhoon's own :class:`WebSocket`
(the ``websockets`` sans-I/O core on the connection, with its backpressure,
keepalive pings and close handshake); this module only translates ASGI messages.

* ``websocket.connect`` is the first thing ``receive()`` returns.
* ``websocket.accept`` answers ``101`` with the chosen subprotocol and the extra
  headers; ``websocket.close`` before it refuses the handshake with ``403`` (so does an
  application that returns without accepting). The denial-response extension
  (``websocket.http.response.start``/``body``) sends a response of the app's choosing.
* ``websocket.send`` waits while the client is slow; once the socket is closed it
  raises :class:`~typhoon.http.asgi.ClientGone` (an ``OSError``).
* ``receive()`` returns ``websocket.disconnect`` with the close code and reason once
  the client has closed (or dropped: 1006).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from typhoon.http.asgi import ClientGone, Message, resolve
from typhoon.http.asgi_hooks import ASGIApp
from typhoon.http.errors import ClientDisconnected
from typhoon.http.exchange import Exchange
from typhoon.realtime.negotiation import WebSocketOptions
from typhoon.realtime.websocket import (
    GOING_AWAY,
    INTERNAL_ERROR,
    NORMAL_CLOSURE,
    WebSocket,
    WebSocketClosed,
)
from typhoon.web.request import Request

logger = logging.getLogger("typhoon.error")

_DENIED = b"403 Forbidden: the WebSocket was refused\n"
_TEXT_HEADERS = ((b"content-type", b"text/plain; charset=utf-8"),)

# ASGI apps check origins themselves; the other defaults are typhoon's.
_OPTIONS = WebSocketOptions(origins=("*",))


async def serve_websocket(app: ASGIApp, exchange: Exchange, scope: dict[str, Any]) -> None:
    """Run ``app`` on the ``websocket`` scope ``scope`` for the upgrade request ``exchange``."""
    await _Session(exchange).run(app, scope)


class _Session:
    """``receive`` and ``send`` of one ``websocket`` scope."""

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        self._ws: WebSocket | None = None
        self._connected = False  # websocket.connect was delivered
        self._answered = False  # refused, or answered with an HTTP response
        self._status = 0  # of a denial response being sent
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._gone: asyncio.Future[None] | None = None

    async def run(self, app: ASGIApp, scope: dict[str, Any]) -> None:
        try:
            await app(scope, self.receive, self.send)
        except asyncio.CancelledError:
            if self._ws is not None:
                self._ws._start_close(GOING_AWAY, "")
            raise
        except ClientDisconnected:
            pass
        except Exception:
            logger.exception("exception in the ASGI application's WebSocket %s", scope["path"])
            if self._ws is not None:
                self._ws._start_close(INTERNAL_ERROR, "")
            elif not self._answered:
                self._answer(500, _TEXT_HEADERS, b"500 Internal Server Error\n")
        else:
            if self._ws is not None:
                self._ws._start_close(NORMAL_CLOSURE, "")
            elif not self._answered:  # returned without accepting: refused
                self._answer(403, _TEXT_HEADERS, _DENIED)
        if self._ws is not None:
            await self._ws.wait_closed()

    async def receive(self) -> Message:
        if not self._connected:
            self._connected = True
            return {"type": "websocket.connect"}
        ws = self._ws
        if ws is None:
            if not self._answered:  # nothing to report until the client goes
                await self._client_gone()
            return {"type": "websocket.disconnect", "code": 1006, "reason": ""}
        try:
            message = await ws.receive()
        except WebSocketClosed as exc:
            return {"type": "websocket.disconnect", "code": exc.code, "reason": exc.reason}
        if isinstance(message, str):
            return {"type": "websocket.receive", "text": message}
        return {"type": "websocket.receive", "bytes": message}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "websocket.send":
            ws = self._open()
            text, data = message.get("text"), message.get("bytes")
            try:
                if text is not None:
                    await ws.send(str(text))
                elif data is not None:
                    await ws.send(bytes(data), binary=True)
                else:
                    raise ValueError("websocket.send needs 'text' or 'bytes'")
            except WebSocketClosed:
                raise ClientGone() from None
        elif kind == "websocket.accept":
            self._not_answered(kind)
            headers = [(bytes(name), bytes(value)) for name, value in message.get("headers") or ()]
            ws = WebSocket(Request(self._exchange, cast(Any, None)), _OPTIONS, {})
            refusal = ws._accept(self._exchange, message.get("subprotocol"), headers)
            if refusal is not None:  # the handshake itself is invalid (a bad key, say)
                self._answered = True
                await refusal.send(self._exchange)
                raise ClientGone()
            self._ws = ws
        elif kind == "websocket.close":
            if self._ws is None:
                if not self._answered:
                    self._answer(403, _TEXT_HEADERS, _DENIED)
                return
            code = int(message.get("code") or NORMAL_CLOSURE)
            self._ws._start_close(code, str(message.get("reason") or ""))
        elif kind == "websocket.http.response.start":
            self._not_answered(kind)
            if self._status:
                raise RuntimeError("websocket.http.response.start sent twice")
            self._status = int(message["status"])
            self._headers = [(bytes(n), bytes(v)) for n, v in message.get("headers") or ()]
        elif kind == "websocket.http.response.body":
            if not self._status or self._answered:
                raise RuntimeError(f"{kind} without websocket.http.response.start")
            self._body.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                self._answer(self._status, self._headers, b"".join(self._body))
        else:
            raise ValueError(f"unexpected ASGI message {kind!r} in a websocket scope")

    def _open(self) -> WebSocket:
        if self._ws is None:
            raise RuntimeError("websocket.send before websocket.accept")
        return self._ws

    def _not_answered(self, kind: str) -> None:
        if self._ws is not None or self._answered:
            raise RuntimeError(f"{kind} after the handshake was answered")

    def _answer(self, status: int, headers: Any, body: bytes) -> None:
        self._answered = True
        if not self._exchange.disconnected:
            self._exchange.respond(status, headers, body)

    async def _client_gone(self) -> None:
        exchange = self._exchange
        if exchange.disconnected:
            return
        gone = self._gone
        if gone is None:
            gone = self._gone = asyncio.get_running_loop().create_future()
            exchange.add_disconnect_callback(lambda: resolve(gone))
            exchange.long_lived()  # waiting for the client to go: its EOF says it has
        await gone
