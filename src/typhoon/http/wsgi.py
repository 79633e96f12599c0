"""WSGIHost: a WSGI application (Flask, Django...) on typhoon's server, off the event loop.

PEP 3333 is synchronous, so the application runs in a bounded thread pool (a
:class:`~typhoon.net.tasks.Supervisor` of ``threads`` threads): at most that many
requests are inside the application at once, the others wait for a thread, and the
loop never blocks.

Theory of operation
-------------------
* Each request's task submits the call to the pool and then serves the thread's
  requests, one at a time, until the call returns. The thread never touches the
  exchange: it asks the loop (``loop.call_soon_threadsafe``) and blocks on a queue
  for the answer — the *handoff* (:class:`_Handoff`).
* ``wsgi.input`` is streamed: a ``read()`` that runs out of data asks the loop for the
  next piece of the body (:meth:`Exchange.receive`). Nothing is read ahead, so a slow
  application pauses the connection's reading (backpressure towards the client).
* The response: the head leaves with the first non-empty piece of the body; each
  piece (from the iterable or ``write()``) is handed to :meth:`Exchange.write`, whose
  wait for a slow client blocks the thread (backpressure towards the application).
  A response given as a list or tuple goes out in one write after the call. ``close()``
  is called on the iterable in the thread, whatever happens.
* Errors: an exception before the head left is a 500; after, the connection is
  closed once what was sent has gone. Logged once, here. If the client goes away,
  the thread's next request to the loop raises ``OSError`` and its result is dropped.
"""

from __future__ import annotations

import asyncio
import io
import logging
import queue
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, TypeAlias
from urllib.parse import unquote_to_bytes

from typhoon.http.errors import ClientDisconnected, ProtocolError
from typhoon.http.exchange import Exchange
from typhoon.net.tasks import Supervisor

logger = logging.getLogger("typhoon.error")
wsgi_errors_logger = logging.getLogger("typhoon.wsgi")

ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], None]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_READ_SIZE = 65536


class WSGIHost:
    """Serves a WSGI application in a bounded thread pool: ``HTTPServer(WSGIHost(app))``.

    Example::

        from flask import Flask
        legacy = Flask(__name__)
        app = App()
        app.mount("/legacy", WSGIHost(legacy, threads=8))

    Args:
        app: ``app(environ, start_response) -> iterable of bytes``.
        threads: how many requests run in the application at once (default
            ``min(32, cpu_count + 4)``).
        root_path: the prefix a proxy in front removed from the path: the start of
            ``SCRIPT_NAME`` (a mount prefix is appended to it).

    Raises:
        TypeError: ``app`` is not callable.
        ValueError: ``threads`` is not an integer >= 1, or ``root_path`` ends with ``/``.
    """

    def __init__(self, app: WSGIApp, *, threads: int | None = None, root_path: str = "") -> None:
        if not callable(app):
            raise TypeError(f"WSGIHost needs a WSGI application (a callable), got {app!r}")
        if root_path.endswith("/"):
            raise ValueError(f"root_path must not end with '/', got {root_path!r}")
        self.app = app
        self.root_path = root_path
        self._pool = Supervisor(threads=threads)

    def __repr__(self) -> str:
        return f"<WSGIHost {self.app!r} threads={self.threads}>"

    @property
    def threads(self) -> int:
        """The most requests inside the application at once."""
        return self._pool.threads

    # -- Application, Mountable, Lifespan ---------------------------------------------

    async def handle(self, exchange: Exchange) -> None:
        await self._serve(exchange, self.root_path)

    async def handle_mounted(self, exchange: Exchange, root_path: str) -> None:
        await self._serve(exchange, self.root_path + root_path)

    async def startup(self) -> None:
        """Nothing to do: the pool starts with the first request."""

    async def shutdown(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 -- a bound
        """Stop the thread pool: waiting calls are dropped, running ones get ``timeout`` s."""
        await self._pool.stop(timeout)

    # -- serving ----------------------------------------------------------------------

    async def _serve(self, exchange: Exchange, root_path: str) -> None:
        handoff = _Handoff(exchange)
        environ = _environ(exchange, self.root_path, root_path, handoff)
        call = asyncio.ensure_future(
            self._pool.run_in_thread(_call_app, self.app, environ, handoff)
        )
        call.add_done_callback(handoff.finished)
        try:
            await handoff.serve()
            result = await call
        except Exception as exc:
            if exchange.disconnected or isinstance(exc, ClientDisconnected):
                return  # the client went away: the thread's answer has nowhere to go
            if isinstance(exc, ProtocolError) and not exchange.response_started:
                raise  # the connection answers it (413, 408, 400)
            logger.exception(
                "exception in the WSGI application while handling %s %s",
                exchange.method,
                exchange.target.decode("latin-1"),
            )
            exchange.fail()
            return
        finally:
            handoff.close()
            if not call.done():
                call.cancel()  # drops a call still waiting for a thread
        try:
            if result is None:  # streamed: every piece went out
                if exchange.response_started:
                    await exchange.end()
                return
            status, headers, body = result
            exchange.respond(status, headers, body)
        except ClientDisconnected:
            return
        except Exception:
            logger.exception(
                "invalid response from the WSGI application to %s %s",
                exchange.method,
                exchange.target.decode("latin-1"),
            )
            exchange.fail()


# -- the thread <-> loop handoff ------------------------------------------------------------

_Request = tuple[str, Any]  # ("read", None), ("write", (status, headers, data))
_Reply = tuple[bool, Any]  # (True, value) or (False, exception)


class _Handoff:
    """How the thread running the application asks the loop to read and write.

    One request at a time (the thread waits for each answer), served in the request's
    task by :meth:`serve`. After :meth:`close` — the task ended, or the client left —
    every request is answered with an ``OSError`` at once, so no thread waits forever.
    """

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.loop = asyncio.get_running_loop()
        self._requests: asyncio.Queue[_Request | None] = asyncio.Queue()
        self._replies: queue.SimpleQueue[_Reply] = queue.SimpleQueue()
        self._closed = False

    # in the loop

    def finished(self, _: object) -> None:
        self._requests.put_nowait(None)

    def close(self) -> None:
        self._closed = True
        while not self._requests.empty():
            if self._requests.get_nowait() is not None:
                self._replies.put((False, ConnectionResetError("the request is over")))

    def _accept(self, request: _Request) -> None:
        if self._closed:
            self._replies.put((False, ConnectionResetError("the request is over")))
        else:
            self._requests.put_nowait(request)

    async def serve(self) -> None:
        """Answer the thread's requests until its call returns."""
        exchange = self.exchange
        while (request := await self._requests.get()) is not None:
            kind, argument = request
            try:
                if kind == "read":
                    value: Any = await exchange.receive()
                else:
                    if not exchange.response_started:
                        status, headers = argument[0], argument[1]
                        exchange.start(status, headers)
                    await exchange.write(argument[2])
                    value = None
            except BaseException as exc:
                self._replies.put((False, exc))
                if isinstance(exc, asyncio.CancelledError):
                    raise
            else:
                self._replies.put((True, value))

    # in the thread

    def ask(self, kind: str, argument: Any = None) -> Any:
        try:
            self.loop.call_soon_threadsafe(self._accept, (kind, argument))
        except RuntimeError:  # the loop is closed
            raise ConnectionResetError("the server has stopped") from None
        ok, value = self._replies.get()
        if ok:
            return value
        if isinstance(value, ClientDisconnected | asyncio.CancelledError):
            raise ConnectionResetError("the client went away") from value
        raise value


# -- the environ ------------------------------------------------------------------------------


def _environ(
    exchange: Exchange, own_root: str, root_path: str, handoff: _Handoff
) -> dict[str, Any]:
    """The PEP 3333 environ of ``exchange``; ``root_path`` becomes SCRIPT_NAME."""
    script_name = root_path.encode("utf-8", "surrogateescape").decode("latin-1")
    path = unquote_to_bytes(exchange.path).decode("latin-1")
    mounted = script_name[len(own_root) :]  # the mount prefix, part of the received path
    if mounted and path.startswith(mounted):
        path = path[len(mounted) :]
    server = exchange.server
    environ: dict[str, Any] = {
        "REQUEST_METHOD": exchange.method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path,
        "QUERY_STRING": exchange.query.decode("latin-1"),
        "SERVER_NAME": server[0] if server else "localhost",
        "SERVER_PORT": str(server[1]) if server else "80",
        "SERVER_PROTOCOL": f"HTTP/{exchange.http_version}",
        "RAW_URI": exchange.target.decode("latin-1"),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": exchange.scheme,
        "wsgi.input": _Input(handoff, exchange.body_complete and not exchange.buffered),
        "wsgi.errors": _Errors(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }
    client = exchange.client
    if client is not None:
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = client[0], str(client[1])
    for name, value in exchange.headers:
        text = value.decode("latin-1")
        if name == b"content-type":
            environ["CONTENT_TYPE"] = text
        elif name == b"content-length":
            environ["CONTENT_LENGTH"] = text
        else:
            if b"_" in name:
                continue  # "x_user" would pass for "x-user": such headers are dropped
            key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
            if key in environ:
                text = environ[key] + ("; " if key == "HTTP_COOKIE" else ",") + text
            environ[key] = text
    return environ


class _Input(io.RawIOBase):
    """``wsgi.input``: the request body, fetched from the loop as the application reads."""

    def __init__(self, handoff: _Handoff, eof: bool) -> None:
        super().__init__()
        self._handoff = handoff
        self._buffer = bytearray()
        self._eof = eof

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        """Fetch the next piece; False at the end of the body."""
        if self._eof:
            return False
        data = self._handoff.ask("read")
        if not data:
            self._eof = True
            return False
        self._buffer += data
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            while self._fill():
                pass
            size = len(self._buffer)
        else:  # as a file does: ``size`` bytes unless the body ends first
            while len(self._buffer) < size and self._fill():
                pass
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def readinto(self, target: Any) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        limit = -1 if size is None else size
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                end += 1
                break
            if 0 <= limit <= len(self._buffer) or not self._fill():
                end = len(self._buffer)
                break
        if 0 <= limit < end:
            end = limit
        data = bytes(self._buffer[:end])
        del self._buffer[:end]
        return data

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line


class _Errors:
    """``wsgi.errors``: text written to it goes to the ``typhoon.wsgi`` logger, by line."""

    def __init__(self) -> None:
        self._pending = ""

    def write(self, text: str) -> int:
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        for line in lines:
            wsgi_errors_logger.error("%s", line)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._pending:
            wsgi_errors_logger.error("%s", self._pending)
            self._pending = ""


# -- the call, in a thread --------------------------------------------------------------------


class _Response:
    """``start_response`` and ``write`` of one call."""

    def __init__(self, handoff: _Handoff) -> None:
        self._handoff = handoff
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.sent = False  # the head has gone to the loop

    def start_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # no reference cycle through the traceback
        elif self.status:
            raise RuntimeError("start_response() called twice without exc_info")
        code = status[:3]
        if not (code.isdigit() and status[3:4] in ("", " ")):
            raise ValueError(f"invalid WSGI status {status!r}")
        self.status = int(code)
        self.headers = [
            (name.encode("latin-1"), value.encode("latin-1")) for name, value in headers
        ]
        return self.write

    def write(self, data: bytes) -> None:
        if not self.status:
            raise RuntimeError("write() called before start_response()")
        if not data and self.sent:
            return
        self.sent = True
        self._handoff.ask("write", (self.status, self.headers, bytes(data)))


def _call_app(
    app: WSGIApp, environ: dict[str, Any], handoff: _Handoff
) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
    """Call the application; return a whole response, or None once it was streamed."""
    response = _Response(handoff)
    result = app(environ, response.start_response)
    try:
        if isinstance(result, list | tuple) and not response.sent:
            body = b"".join(result)
            if not response.status:
                raise RuntimeError("the WSGI application did not call start_response()")
            return response.status, response.headers, body
        for data in result:
            if data:
                response.write(data)
        if not response.status:
            raise RuntimeError("the WSGI application did not call start_response()")
        if not response.sent:  # an empty body
            return response.status, response.headers, b""
        return None
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
        environ["wsgi.errors"].flush()
