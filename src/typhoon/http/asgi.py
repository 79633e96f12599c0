"""ASGIHost: an unmodified ASGI 3 application (FastAPI, Starlette, Django...) on typhoon's server.

The host is an :class:`~typhoon.http.app_api.Application`: for each exchange it builds
the ASGI scope, calls ``app(scope, receive, send)`` in the request's own task, and
translates the messages both ways. It is also a ``Lifespan`` (the ASGI lifespan
protocol) and ``Mountable`` (``App.mount("/api", ASGIHost(fastapi_app))``).

Theory of operation
-------------------
* Request body: ``receive()`` pulls one piece from :meth:`Exchange.receive` per call,
  so nothing is read ahead of the application; the connection pauses reading while
  the exchange holds more than its high-water mark (backpressure to the client).
  Once the body is read, ``receive()`` waits until the client goes away (or the
  response is complete) and returns ``http.disconnect``; from then on a client EOF
  counts as going away (:meth:`Exchange.long_lived`). With ``cancel_on_disconnect``
  (the default) the application's task is also cancelled.
* Response: ``http.response.start`` is held until the first body message. A body sent
  in one message leaves with its head in one write (:meth:`Exchange.respond`); a
  streamed one goes through :meth:`Exchange.start`, :meth:`Exchange.write` — which
  waits while the client is slow, so ``await send(...)`` is the application's
  backpressure — and :meth:`Exchange.end`.
* Errors: an exception from the application is logged once here; the client gets a
  500 if nothing was sent, otherwise the connection is closed after what was sent,
  so the truncation shows. ``send()`` after the client went away raises
  :class:`ClientGone` (an ``OSError``, as the ASGI spec asks).
* WebSocket: a ``websocket`` scope is served by the session that ``typhoon.realtime``
  installs in :mod:`typhoon.http.asgi_hooks` (this layer cannot import it).
* Lifespan: ``startup()`` runs the application's lifespan in a task of its own until
  ``lifespan.startup.complete``; ``shutdown()`` sends ``lifespan.shutdown`` and waits
  for the task. Its ``state`` dict is copied into every request's scope. An
  application that does not speak the lifespan protocol (it raises or returns at
  once) is served without it, unless ``lifespan="on"``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from typing import Any, Literal
from urllib.parse import unquote

from typhoon.http.asgi_hooks import ASGIApp, hooks
from typhoon.http.errors import ClientDisconnected, ProtocolError
from typhoon.http.exchange import PLAIN_TEXT_HEADERS, Exchange

logger = logging.getLogger("typhoon.error")

Message = MutableMapping[str, Any]

ASGI_VERSION = {"version": "3.0", "spec_version": "2.4"}
_DISCONNECT: dict[str, Any] = {"type": "http.disconnect"}


class ClientGone(ClientDisconnected, OSError):
    """``send()`` was called after the client went away (an ``OSError``, per ASGI 2.4)."""


class ASGIHost:
    """Serves an ASGI 3 application: ``HTTPServer(ASGIHost(app))``.

    Example::

        from fastapi import FastAPI
        api = FastAPI()
        app = App()
        app.mount("/api", ASGIHost(api))      # or serve it alone: HTTPServer(ASGIHost(api))

    Args:
        app: ``async app(scope, receive, send)``.
        root_path: the prefix a proxy in front removed from the path. It becomes the
            scope's ``root_path`` and is put back in front of ``path``; a mount
            prefix is appended to it.
        lifespan: ``"auto"`` runs the lifespan protocol and serves an application that
            does not support it anyway; ``"on"`` makes that an error; ``"off"`` skips it.

    Attributes:
        state: the lifespan state, copied into each request's scope.

    Raises:
        TypeError: ``app`` is not callable.
        ValueError: ``lifespan`` is not one of the three values.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        root_path: str = "",
        lifespan: Literal["auto", "on", "off"] = "auto",
    ) -> None:
        if not callable(app):
            raise TypeError(f"ASGIHost needs an ASGI application (a callable), got {app!r}")
        if lifespan not in ("auto", "on", "off"):
            raise ValueError(f"lifespan must be 'auto', 'on' or 'off', got {lifespan!r}")
        if root_path.endswith("/"):
            raise ValueError(f"root_path must not end with '/', got {root_path!r}")
        self.app = app
        self.root_path = root_path
        self.state: dict[str, Any] = {}
        self._lifespan_mode = lifespan
        self._lifespan: _Lifespan | None = None

    def __repr__(self) -> str:
        return f"<ASGIHost {self.app!r}>"

    # -- Application and Mountable ----------------------------------------------------

    async def handle(self, exchange: Exchange) -> None:
        await self._serve(exchange, self.root_path)

    async def handle_mounted(self, exchange: Exchange, root_path: str) -> None:
        await self._serve(exchange, self.root_path + root_path)

    # -- Lifespan ---------------------------------------------------------------------

    async def startup(self) -> None:
        """Run the application's lifespan startup.

        Raises:
            RuntimeError: the application reported ``lifespan.startup.failed``, or it
                does not support the lifespan protocol and ``lifespan="on"``.
        """
        if self._lifespan_mode == "off" or self._lifespan is not None:
            return
        self.state = {}
        lifespan = _Lifespan(self.app, self.state)
        supported = await lifespan.startup()
        if supported:
            self._lifespan = lifespan
        elif self._lifespan_mode == "on":
            raise RuntimeError(f"the ASGI application {self.app!r} does not support lifespan")

    async def shutdown(self) -> None:
        """Run the application's lifespan shutdown (a failure is logged)."""
        lifespan, self._lifespan = self._lifespan, None
        if lifespan is not None:
            await lifespan.shutdown()

    # -- serving ----------------------------------------------------------------------

    def _scope(self, exchange: Exchange, root_path: str, kind: str) -> dict[str, Any]:
        raw = exchange.path
        text = raw.decode("latin-1")
        path = unquote(text) if "%" in text else text
        scheme = exchange.scheme
        if kind == "websocket":
            scheme = "wss" if scheme == "https" else "ws"
        return {
            "type": kind,
            "asgi": ASGI_VERSION,
            "http_version": exchange.http_version,
            "method": exchange.method,
            "scheme": scheme,
            "path": self.root_path + path,
            "raw_path": raw,
            "query_string": exchange.query,
            "root_path": root_path,
            "headers": exchange.headers,
            "client": exchange.client,
            "server": exchange.server,
            "state": dict(self.state),
        }

    async def _serve(self, exchange: Exchange, root_path: str) -> None:
        upgrade = exchange.upgrade
        if upgrade is not None and upgrade.lower() == b"websocket" and exchange.method == "GET":
            await self._serve_websocket(exchange, root_path)
            return
        cycle = _HTTPCycle(exchange)
        try:
            await self.app(self._scope(exchange, root_path, "http"), cycle.receive, cycle.send)
        except ClientDisconnected:
            return  # the client went away; nothing to answer
        except ProtocolError:
            if exchange.response_started:
                exchange.abandon()
                return
            raise  # the connection answers it (413, 408, 400)
        except Exception:
            logger.exception(
                "exception in the ASGI application while handling %s %s",
                exchange.method,
                exchange.target.decode("latin-1"),
            )
            exchange.fail()
            return
        if not cycle.ended and not exchange.disconnected:
            if exchange.response_started:
                logger.error("the ASGI application returned without completing its response")
            else:
                logger.error("the ASGI application returned without sending a response")
            exchange.fail()

    async def _serve_websocket(self, exchange: Exchange, root_path: str) -> None:
        session = hooks.websocket
        if session is None:
            exchange.respond(
                501,
                PLAIN_TEXT_HEADERS,
                b"501 Not Implemented: WebSocket needs typhoon.realtime (import typhoon)\n",
            )
            return
        scope = self._scope(exchange, root_path, "websocket")
        del scope["method"]
        protocols = [
            value.decode("latin-1")
            for name, value in exchange.headers
            if name == b"sec-websocket-protocol"
        ]
        scope["subprotocols"] = [p.strip() for v in protocols for p in v.split(",") if p.strip()]
        await session(self.app, exchange, scope)


def resolve(future: asyncio.Future[None]) -> None:
    """Set ``future``'s result to None unless it is done (a disconnect callback)."""
    if not future.done():
        future.set_result(None)


class _HTTPCycle:
    """``receive`` and ``send`` of one ``http`` scope."""

    __slots__ = ("_body_done", "_done", "ended", "exchange", "headers", "status")

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.ended = False
        self._body_done = False
        self._done: asyncio.Future[None] | None = None  # resolved when the client goes

    async def receive(self) -> Message:
        exchange = self.exchange
        if not self._body_done:
            try:
                data = await exchange.receive()
            except ClientDisconnected:
                self._body_done = True
                return _DISCONNECT
            if not data or (exchange.body_complete and not exchange.buffered):
                self._body_done = True
            return {"type": "http.request", "body": data, "more_body": not self._body_done}
        # The body is read: the next event is the client going away.
        if not self.ended and not exchange.disconnected:
            done = self._done
            if done is None:
                done = self._done = asyncio.get_running_loop().create_future()
                exchange.add_disconnect_callback(lambda: resolve(done))
                # Waiting for the client to go: its EOF means it has (as it does under
                # servers that do not keep half-closed connections).
                exchange.long_lived()
            await done
        return _DISCONNECT

    async def send(self, message: Message) -> None:
        kind = message["type"]
        exchange = self.exchange
        if kind == "http.response.start":
            if self.status:
                raise RuntimeError("the ASGI application sent http.response.start twice")
            status = message["status"]
            if not isinstance(status, int) or not 100 <= status <= 999:
                raise ValueError(f"invalid ASGI response status {status!r}")
            self.status = status
            self.headers = [
                (bytes(name), bytes(value)) for name, value in message.get("headers", ())
            ]
            return
        if kind != "http.response.body":
            raise ValueError(f"unexpected ASGI message {kind!r} in an http scope")
        if not self.status:
            raise RuntimeError("the ASGI application sent http.response.body before its start")
        if self.ended:
            raise RuntimeError("the ASGI application sent http.response.body after the end")
        if exchange.disconnected:
            raise ClientGone()
        body = bytes(message.get("body", b""))
        more = bool(message.get("more_body", False))
        try:
            if not exchange.response_started:
                if not more:
                    exchange.respond(self.status, self.headers, body)  # one write
                    self._end()
                    return
                exchange.start(self.status, self.headers)
            await exchange.write(body)
            if not more:
                self._end()
                await exchange.end()
        except ClientDisconnected:
            raise ClientGone() from None

    def _end(self) -> None:
        self.ended = True
        if self._done is not None:
            resolve(self._done)


class _Lifespan:
    """One run of an application's ``lifespan`` scope, in a task of its own."""

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self._app = app
        self._state = state
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._reply: asyncio.Future[Message | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._answered = False  # the application answered lifespan.startup

    async def startup(self) -> bool:
        """Start the lifespan; False when the application does not support it."""
        loop = asyncio.get_running_loop()
        self._reply = loop.create_future()
        self._task = loop.create_task(self._main(), name="ASGI lifespan")
        self._inbox.put_nowait({"type": "lifespan.startup"})
        reply = await self._reply
        if reply is None:
            return False
        if reply["type"] == "lifespan.startup.failed":
            await self._task
            raise RuntimeError(f"ASGI lifespan startup failed: {reply.get('message', '')}")
        return True

    async def shutdown(self) -> None:
        task = self._task
        if task is None or task.done():
            return
        self._reply = asyncio.get_running_loop().create_future()
        self._inbox.put_nowait({"type": "lifespan.shutdown"})
        reply = await self._reply
        if reply is not None and reply["type"] == "lifespan.shutdown.failed":
            logger.error("ASGI lifespan shutdown failed: %s", reply.get("message", ""))
        await task

    async def _main(self) -> None:
        scope = {"type": "lifespan", "asgi": ASGI_VERSION, "state": self._state}
        try:
            await self._app(scope, self._receive, self._send)
        except Exception:
            if self._answered:
                logger.exception("exception in the ASGI application's lifespan")
            else:  # the usual way of saying "no lifespan here"
                logger.debug("the ASGI application does not support lifespan", exc_info=True)
        finally:
            self._resolve(None)

    async def _receive(self) -> Message:
        return await self._inbox.get()

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind not in (
            "lifespan.startup.complete",
            "lifespan.startup.failed",
            "lifespan.shutdown.complete",
            "lifespan.shutdown.failed",
        ):
            raise ValueError(f"unexpected ASGI message {kind!r} in a lifespan scope")
        if kind == "lifespan.startup.complete":
            self._answered = True
        self._resolve(message)

    def _resolve(self, message: Message | None) -> None:
        reply = self._reply
        if reply is not None and not reply.done():
            reply.set_result(message)
