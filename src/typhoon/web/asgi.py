"""The ASGI face of App: ``uvicorn mod:app``, ``hypercorn mod:app``, ``granian --interface asgi``.

``App.__call__(scope, receive, send)`` comes here. It is a second door into the same
app: the native server calls ``App.handle(exchange)`` with an HTTP/1.1
:class:`~typhoon.http.exchange.Exchange`; an ASGI server gets an
:class:`ASGIExchange`, which *is* an Exchange (so Request, the Response family,
handlers and files work unchanged) whose input reads ASGI events and whose output
sends them. Nothing here runs on the native path.

Theory of operation
-------------------
* **Head.** The scope gives method, path, query, headers, client, server and scheme.
  ``exchange.path`` is the full path as the client asked (``root_path`` in front of it
  when the server did not put it there); a non-empty ``root_path`` is served through
  :meth:`App.handle_mounted`, so ``request.path`` is relative to it.
* **Body.** :meth:`ASGIExchange.receive` turns ``http.request`` events into body
  pieces. A declared Content-Length over the app's ``max_body_bytes`` setting is
  answered 413 before the app runs; a body that grows past it raises
  ``HTTPError(413)`` to the reader.
* **Response.** ``respond()`` is synchronous in the Exchange API and ASGI's ``send``
  is not: the whole response is kept and leaves when the app returns. A stream
  (``start``/``write``/``end``) leaves piece by piece: ``write`` sends
  ``http.response.body`` with ``more_body`` and awaits ``send``, which is the ASGI
  server's backpressure. Content-Length, HEAD and the bodiless statuses follow the
  native rules; framing, Date and Server are the ASGI server's business.
* **Disconnect.** Once the request body is complete, a watcher task awaits
  ``http.disconnect``. If it comes before the response ended, the disconnect callbacks
  run and the handler is cancelled (unless the ``cancel_on_disconnect`` setting is
  False), as natively. A disconnect seen while reading the body does the same.
* **Errors.** :func:`serve_exchange` is the per-request boundary, as the native
  connection's: a response never started becomes a logged 500; an error after the
  head left is re-raised for the ASGI server to log and abort the connection.
* **Lifespan.** ``lifespan.startup`` runs ``app.startup()`` (hooks, lifespan context,
  ``serve_also`` services); ``lifespan.shutdown`` runs ``app.draining()`` then
  ``app.shutdown()``. A failure is reported with its message.
* **WebSocket.** A ``websocket`` scope goes to ``realtime_hooks.asgi_websocket``,
  which ``typhoon.realtime`` installs: the web layer never imports it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

from typhoon.http.errors import ClientDisconnected, ProtocolError
from typhoon.http.exchange import Exchange, Framing, HeaderList, Tunnel
from typhoon.http.limits import HTTPConfig, HTTPLimits
from typhoon.http.state import ServerState
from typhoon.http.writer import BODILESS_STATUSES, check_header
from typhoon.web.errors import HTTPError
from typhoon.web.realtime_hooks import hooks as realtime_hooks

if TYPE_CHECKING:
    from typhoon.web.app import App

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

logger = logging.getLogger("typhoon.error")

DEFAULT_MAX_BODY_BYTES = HTTPLimits().max_body_bytes
WATCH_DELAY_S = 0.05  # how long a handler runs before a task watches for its client leaving
_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
_INTERNAL_ERROR = b"500 Internal Server Error\n"
# The ASGI server frames the body and writes these itself.
_DROPPED_HEADERS = frozenset((b"transfer-encoding", b"connection", b"keep-alive"))
# Exchange wants a ServerState; an ASGI exchange renders no HTTP/1.1 head, so one
# shared instance only fills the slot.
_STATE = ServerState(HTTPConfig(server_header=None, access_log=False))


class _NoConnection:
    """The ``Connection`` of an ASGI exchange: none. Every method using it is overridden."""

    def _unused(self) -> RuntimeError:
        return RuntimeError("an ASGI exchange talks to its server through events")

    def write(self, data: bytes) -> None:
        raise self._unused()

    def writelines(self, data: Iterable[bytes]) -> None:
        raise self._unused()

    async def drain(self) -> None:
        raise self._unused()

    def body_consumed(self, exchange: Exchange) -> None:
        raise self._unused()

    def send_continue(self, exchange: Exchange) -> None:
        raise self._unused()

    def may_keep_alive(self, exchange: Exchange) -> bool:
        raise self._unused()

    def end_on_eof(self, exchange: Exchange) -> None:
        raise self._unused()

    def switch_protocols(self, exchange: Exchange, head: bytes, tunnel: Tunnel) -> Any:
        raise self._unused()


_NO_CONNECTION = _NoConnection()


def _has_body(headers: list[tuple[bytes, bytes]], http_version: str) -> bool:
    for name, value in headers:
        if name == b"content-length":
            return value.strip() != b"0"
        if name == b"transfer-encoding":
            return True
    return http_version not in ("1.0", "1.1")  # HTTP/2 and 3 need neither header


def declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The request's Content-Length, or None (absent or malformed)."""
    for name, value in headers:
        if name == b"content-length":
            value = value.strip()
            return int(value) if value.isdigit() else None
    return None


class ASGIExchange(Exchange):
    """One ASGI request as an :class:`Exchange`.

    Args:
        scope: the ``http`` (or ``websocket``) scope.
        receive: the ASGI ``receive`` callable.
        send: the ASGI ``send`` callable.
        max_body_bytes: the largest request body read (413 beyond).
        cancel_on_disconnect: cancel the handler when the client goes away.
    """

    __slots__ = (
        "_cancel_on_disconnect",
        "_head",
        "_head_sent",
        "_max_body_bytes",
        "_receive_event",
        "_send_event",
        "_unsent_body",
        "_watcher",
        "cancelled_by_disconnect",
        "handler_task",
        "root_path",
    )

    start_event = "http.response.start"
    body_event = "http.response.body"

    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        cancel_on_disconnect: bool = True,
        has_body: bool | None = None,
    ) -> None:
        headers = [(bytes(name), bytes(value)) for name, value in scope["headers"]]
        root_path: str = scope.get("root_path") or ""
        path: str = scope["path"]
        raw: bytes = scope.get("raw_path") or quote(path, safe="/:@!$&'()*+,;=~").encode("ascii")
        if b"?" in raw:  # a server that leaves the query on raw_path
            raw = raw.partition(b"?")[0]
        if root_path and not path.startswith(root_path):  # the server did not prepend it
            path = root_path + path
        root = quote(root_path).encode("ascii") if root_path else b""
        if root and not raw.startswith(root):
            raw = root + raw
        query: bytes = scope.get("query_string") or b""
        http_version: str = scope.get("http_version") or "1.1"
        client = scope.get("client")
        server = scope.get("server")
        scheme: str = scope.get("scheme") or "http"
        super().__init__(
            _NO_CONNECTION,
            _STATE,
            scope.get("method") or "GET",
            raw + b"?" + query if query else raw,
            raw,
            query,
            http_version,
            headers,
            client=tuple(client) if client else None,
            server=tuple(server) if server and server[1] is not None else None,
            keep_alive=True,
            has_body=_has_body(headers, http_version) if has_body is None else has_body,
            scheme={"ws": "http", "wss": "https"}.get(scheme, scheme),
        )
        self.root_path = root_path
        self._receive_event = receive
        self._send_event = send
        self._max_body_bytes = max_body_bytes
        self._cancel_on_disconnect = cancel_on_disconnect
        self._head: tuple[int, list[tuple[bytes, bytes]]] | None = None
        self._head_sent = False
        self._unsent_body: bytes | None = None
        self.handler_task: asyncio.Task[Any] | None = None
        self._watcher: asyncio.TimerHandle | asyncio.Task[None] | None = None
        self.cancelled_by_disconnect = False

    def __repr__(self) -> str:
        return f"<ASGIExchange {self.method} {self.target!r} status={self.status}>"

    # -- ASGI events -----------------------------------------------------------------

    async def receive_event(self) -> Message:
        """The next event from the ASGI server."""
        return await self._receive_event()

    async def send_event(self, message: Message) -> None:
        """Send an event to the ASGI server.

        Raises:
            ClientDisconnected: the client has gone (the server refused the event).
        """
        if self.disconnected:
            raise ClientDisconnected()
        try:
            await self._send_event(message)
        except OSError:  # uvicorn's ClientDisconnected, a broken pipe
            self.client_gone(ClientDisconnected())
            raise ClientDisconnected() from None

    # -- the request body ----------------------------------------------------------------

    async def receive(self) -> bytes:
        """Return the next piece of the request body, or ``b""`` once it is complete.

        Raises:
            HTTPError: 413, the body is longer than ``max_body_bytes``.
            ClientDisconnected: the client went away (the handler is cancelled first,
                unless ``cancel_on_disconnect`` is off).
        """
        while True:
            if self.body_complete:
                return b""
            if self.body_error is not None:
                raise self.body_error
            message = await self._receive_event()
            kind = message["type"]
            if kind == "http.request":
                data = bytes(message.get("body") or b"")
                self.body_received += len(data)
                if self.body_received > self._max_body_bytes:
                    self.body_error = HTTPError(413, "request body too large")
                    raise self.body_error
                if not message.get("more_body", False):
                    self.body_complete = True
                    self.watch_disconnect()
                if data:
                    return data
            elif kind == "http.disconnect":
                self._client_left()
                await asyncio.sleep(0)  # the cancel, if any, lands here (as natively)
                raise ClientDisconnected()

    def long_lived(self) -> None:
        """Nothing to do: the disconnect watcher already ends a stream whose client left."""

    def watch_disconnect(self) -> None:
        """Start waiting for ``http.disconnect`` (the body is complete: nothing else comes).

        The watcher task is made only if the handler is still running after
        ``WATCH_DELAY_S``: most requests end before, at the cost of a timer. A
        disconnect in the meantime waits in the server's queue and is seen then.
        """
        if self._watcher is None and self.handler_task is not None:
            loop = asyncio.get_running_loop()
            self._watcher = loop.call_later(WATCH_DELAY_S, self._start_watcher)

    def _start_watcher(self) -> None:
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    def stop_watching(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()

    async def _watch(self) -> None:
        try:
            while (await self._receive_event())["type"] != "http.disconnect":
                pass
        except Exception:  # the server gave up on the request: nothing left to watch
            return
        if not self.response_ended:
            self._client_left()

    def _client_left(self) -> None:
        self.client_gone(ClientDisconnected())
        task = self.handler_task
        if self._cancel_on_disconnect and task is not None and not task.done():
            self.cancelled_by_disconnect = True
            task.cancel()

    # -- the response --------------------------------------------------------------------

    def switch_protocols(self, headers: HeaderList, tunnel: Tunnel) -> asyncio.Transport:
        raise RuntimeError("over ASGI there is no connection to switch: the server does it")

    async def drain(self) -> None:
        """Raise once the client has gone; otherwise ``send`` already waited for it."""
        if self.disconnected:
            raise ClientDisconnected()

    def _prepare(
        self, status: int, headers: HeaderList
    ) -> tuple[list[tuple[bytes, bytes]], int | None]:
        """The headers to send and the declared Content-Length (validated as natively)."""
        if self.status:
            raise RuntimeError("the response was already started")
        raw: list[tuple[bytes, bytes]] = []
        declared: int | None = None
        for name, value in headers:
            check_header(name, value)
            lname = name.lower()
            if lname == b"content-length":
                if not value.isdigit():
                    raise ValueError(f"invalid Content-Length {value!r}")
                declared = int(value)
            elif lname not in _DROPPED_HEADERS:
                raw.append((lname, value))
        return raw, declared

    def respond(self, status: int, headers: HeaderList = (), body: bytes = b"") -> None:
        """Keep a whole response; it is sent when the application returns."""
        raw, declared = self._prepare(status, headers)
        if status in BODILESS_STATUSES:
            if status == 304 and declared is not None:
                raw.append((b"content-length", b"%d" % declared))
            body = b""
        else:
            if declared is not None and declared != len(body) and self.method != "HEAD":
                raise ValueError(
                    f"Content-Length {declared} does not match the body length {len(body)}"
                )
            raw.append((b"content-length", b"%d" % (len(body) if declared is None else declared)))
            if self.method == "HEAD":
                body = b""
        self.status = status
        self._framing = Framing.NONE if status in BODILESS_STATUSES else Framing.LENGTH
        self._head = (status, raw)
        self._unsent_body = body
        self.bytes_sent = len(body)
        self.response_ended = True

    def start(self, status: int, headers: HeaderList = ()) -> None:
        """Begin a streamed response; the head leaves with the first :meth:`write`."""
        raw, declared = self._prepare(status, headers)
        if status in BODILESS_STATUSES:
            self._framing = Framing.NONE
            if status == 304 and declared is not None:
                raw.append((b"content-length", b"%d" % declared))
        elif declared is not None:
            self._framing = Framing.LENGTH
            self._remaining = declared
            raw.append((b"content-length", b"%d" % declared))
        else:
            self._framing = Framing.CHUNKED  # or whatever the ASGI server's protocol does
        self.status = status
        self._head = (status, raw)

    async def write(self, data: bytes) -> None:
        """Send a piece of a streamed response; returns once the server took it."""
        self._count_written(data)
        await self._send_head()
        if data and self.method != "HEAD":
            await self.emit_body(bytes(data), more=True)
            self.bytes_sent += len(data)

    async def end(self) -> None:
        """Finish a streamed response.

        Raises:
            RuntimeError: fewer bytes were written than the declared Content-Length
                (the final event is not sent: the server drops the connection).
        """
        if not self.status:
            raise RuntimeError("end() called before start()")
        if self.response_ended:
            raise RuntimeError("end() called twice")
        self.response_ended = True
        if self._framing is Framing.LENGTH and self._remaining and self.method != "HEAD":
            raise RuntimeError(
                f"response body is {self._remaining} bytes shorter than its Content-Length"
            )
        await self._send_head()
        await self.emit_body(b"", more=False)

    async def sendfile(self, file: IO[bytes], offset: int, count: int) -> bool:
        """No zero-copy path over ASGI: always False, the caller sends chunks."""
        self._check_sendfile()
        return False

    async def finish(self) -> None:
        """Send a response kept by :meth:`respond`, or end a stream left open."""
        if self._unsent_body is not None:
            body, self._unsent_body = self._unsent_body, None
            await self._send_head()
            await self.emit_body(body, more=False)
        elif self.status and not self.response_ended:
            await self.end()

    @property
    def head_sent(self) -> bool:
        return self._head_sent

    def reset_response(self) -> None:
        """Forget a response whose head has not left (an error replaces it)."""
        if self._head_sent:
            raise RuntimeError("the response head has already been sent")
        self.status = 0
        self.response_ended = False
        self._head = None
        self._unsent_body = None
        self.bytes_sent = 0

    async def _send_head(self) -> None:
        head, self._head = self._head, None
        if head is not None:
            self._head_sent = True
            await self.emit_head(*head)

    async def emit_head(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        await self.send_event({"type": self.start_event, "status": status, "headers": headers})

    async def emit_body(self, data: bytes, *, more: bool) -> None:
        await self.send_event({"type": self.body_event, "body": data, "more_body": more})


async def serve_exchange(app: App, exchange: ASGIExchange) -> None:
    """Run ``app`` on ``exchange``: the per-request error boundary of the ASGI face."""
    task = asyncio.current_task()
    exchange.handler_task = task
    if exchange.body_complete:
        exchange.watch_disconnect()
    try:
        try:
            if exchange.root_path:
                await app.handle_mounted(exchange, exchange.root_path)
            else:
                await app.handle(exchange)
            if not exchange.status:
                logger.error(
                    "%s %s: the application returned without a response",
                    exchange.method,
                    exchange.target.decode("latin-1"),
                )
                exchange.respond(500, _TEXT, _INTERNAL_ERROR)
            await exchange.finish()
        except ClientDisconnected:
            pass
        except ProtocolError as exc:  # a broken body, as the native connection answers it
            if exchange.head_sent:
                raise
            exchange.reset_response()
            exchange.respond(exc.status, _TEXT, f"{exc.status} {exc.reason}\n".encode())
            await exchange.finish()
        except Exception:
            if exchange.head_sent:
                raise  # the ASGI server logs it and drops the connection
            logger.exception(
                "exception in the application while handling %s %s",
                exchange.method,
                exchange.target.decode("latin-1"),
            )
            exchange.reset_response()
            exchange.respond(500, _TEXT, _INTERNAL_ERROR)
            await exchange.finish()
        finally:
            exchange.stop_watching()
    except asyncio.CancelledError:
        if not exchange.cancelled_by_disconnect or task is None:
            raise
        task.uncancel()  # our own cancel-on-disconnect: the request is over, quietly


async def _serve_http(app: App, scope: Scope, receive: Receive, send: Send) -> None:
    settings = app.settings
    max_body_bytes = settings.get("max_body_bytes") or DEFAULT_MAX_BODY_BYTES
    exchange = ASGIExchange(
        scope,
        receive,
        send,
        max_body_bytes=max_body_bytes,
        cancel_on_disconnect=settings.get("cancel_on_disconnect", True),
    )
    length = declared_length(exchange.headers)
    if length is not None and length > max_body_bytes:
        exchange.respond(413, _TEXT, b"413 Request Entity Too Large: request body too large\n")
        await exchange.finish()  # before reading any of it, as natively
        return
    await serve_exchange(app, exchange)


async def _serve_lifespan(app: App, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "lifespan.startup":
            try:
                await app.startup()
            except Exception as exc:
                logger.exception("the application failed to start")
                await send({"type": "lifespan.startup.failed", "message": _describe(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif kind == "lifespan.shutdown":
            try:
                app.draining()
                await app.shutdown()
            except Exception as exc:
                logger.exception("the application failed to shut down")
                await send({"type": "lifespan.shutdown.failed", "message": _describe(exc)})
                return
            await send({"type": "lifespan.shutdown.complete"})
            return


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def _refuse_websocket(receive: Receive, send: Send) -> None:
    logger.error(
        "a WebSocket came over ASGI, but typhoon.realtime is not installed "
        "(import typhoon, or typhoon.realtime)"
    )
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": 1011})


async def serve_asgi(app: App, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve one ASGI connection (``http``, ``websocket`` or ``lifespan`` scope).

    Raises:
        ValueError: another scope type (ASGI asks applications to raise).
    """
    kind = scope["type"]
    if kind == "http":
        await _serve_http(app, scope, receive, send)
    elif kind == "websocket":
        run = realtime_hooks.asgi_websocket
        if run is None:
            await _refuse_websocket(receive, send)
        else:
            await run(app, scope, receive, send)
    elif kind == "lifespan":
        await _serve_lifespan(app, receive, send)
    else:
        raise ValueError(f"typhoon's App does not serve ASGI scope type {kind!r}")
