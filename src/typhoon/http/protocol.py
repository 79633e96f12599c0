"""HTTPProtocol: one HTTP/1.1 connection, from bytes in to responses out.

HOT PATH: ``data_received`` and the parser callbacks run for every request. Keep them
free of logging, of per-request allocations beyond the Exchange, and of Python-level
loops over the data (llhttp does the scanning).

Theory of operation
-------------------
* The parser (llhttp) calls ``on_*`` as bytes arrive. A complete head becomes an
  :class:`Exchange`; body bytes are fed into the exchange being received.
* Exchanges are handled one at a time, in arrival order. The one being handled is
  ``_current``; pipelined ones wait in ``_pipeline`` (bounded: reading pauses at
  ``max_pipeline_depth``), so responses leave in request order.
* Anything wrong in the input — a parse error, a broken limit, a timeout — poisons the
  connection: reading stops, the requests received before it are still answered, then
  the error response (if any) is sent and the connection closes.
* Reading pauses while the body being received is buffered above the high-water mark
  or the pipeline is full; it resumes as the application catches up.
* Timers: the head must arrive within ``header_timeout_s`` of its first byte (or of
  the connection); a body may not stall for ``body_timeout_s``; an idle keep-alive
  connection closes after ``keep_alive_timeout_s``. One deadline per connection holds
  whichever applies (``_phase``); a single timer, re-armed only when it fires, checks
  it, so a request costs a clock read rather than a scheduled callback.
* Handlers start once ``feed_data`` returns (never inside a parser callback), in a
  Task, never inline outside one: code that needs the current task
  (``asyncio.timeout()``, a TaskGroup) would fail there. Pipelined requests ready
  behind a finishing handler go on in its Task (``_go_on``), each in its own copy of the
  connection's context, their answers *corked* into one send unless a handler waits.
* A request that asks for a protocol switch (``Upgrade``) stops the parsing; the bytes
  behind its head are kept. If the application accepts it
  (:meth:`Exchange.switch_protocols`), a *tunnel* (a WebSocket) takes the connection
  over: it receives those bytes and everything after, the disconnect and the drain.
  Otherwise the connection closes after the response.
* TLS and proxies are settled per connection in ``connection_made``: whether it came
  through a TLS listener (``state.scheme``) and whether its peer is a trusted proxy
  (``typhoon.http.proxy``). Neither: a request pays one flag test (``_rewrite``).
  Otherwise each new exchange gets the scheme, and a trusted proxy's forwarding
  headers are applied to it, before anyone (handler, access log) reads it.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import inspect
import logging
import time
from collections import deque
from collections.abc import Coroutine, Iterable
from http import HTTPStatus
from typing import IO, Any, cast

from typhoon.http.app_api import Application
from typhoon.http.errors import ClientDisconnected, ProtocolError
from typhoon.http.exchange import INTERNAL_ERROR_BODY, PLAIN_TEXT_HEADERS, Exchange, Tunnel
from typhoon.http.logs import log_access_fields, log_access_text
from typhoon.http.parser import (
    HttpParserError,
    HttpParserUpgrade,
    RequestParser,
    check_framing,
    check_host,
    parse_url,
    protocol_error_from,
)
from typhoon.http.proxy import ProxyTrust
from typhoon.http.state import ServerState
from typhoon.http.writer import CONTINUE_RESPONSE, error_response
from typhoon.net.clock import Clock, TimerHandle

logger = logging.getLogger("typhoon.error")

_METHOD_NAMES = {
    m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
}
_CORK_MAX_BYTES = 65536  # corked answers past this go out at once (backpressure applies)


class _Stop:
    """A pipeline entry: stop here, sending ``error`` first when there is one."""

    __slots__ = ("error",)

    def __init__(self, error: ProtocolError | None) -> None:
        self.error = error


class _Phase(enum.Enum):
    """Which deadline the connection's timer is watching."""

    NONE = "no deadline (a handler is running)"
    HEADER = "the request head must complete"
    BODY = "the request body must not stall"
    IDLE = "keep-alive: the next request must start"


#: During a drain, how long a connection that has not sent a byte yet may take to send
#: its first request (see :meth:`HTTPProtocol.shutdown`).
FIRST_REQUEST_GRACE_S = 0.5

# The members under module names: on Python 3.11 each ``_Phase.X`` lookup goes through
# EnumType's __getattr__ hook, which costs more than the timer update it is part of.
_NO_DEADLINE, _HEADER, _BODY, _IDLE = _Phase.NONE, _Phase.HEADER, _Phase.BODY, _Phase.IDLE


class _InContext:
    """Awaits a handler's coroutine with each of its steps run in ``context``.

    So that one Task can handle several pipelined requests in turn, each seeing its
    own copy of the context variables as if it had a Task of its own. When the
    handler waits, the answers corked so far leave at once.
    """

    __slots__ = ("_conn", "_context", "_coro")

    def __init__(
        self, coro: Coroutine[Any, Any, None], context: contextvars.Context, conn: HTTPProtocol
    ) -> None:
        self._coro = coro
        self._context = context
        self._conn = conn

    def __await__(self) -> _InContext:
        return self

    def __iter__(self) -> _InContext:
        return self  # pragma: no cover - awaiting uses send()

    def __next__(self) -> Any:
        return self.send(None)  # pragma: no cover - awaiting uses send()

    def send(self, value: Any) -> Any:
        waiting = self._context.run(self._coro.send, value)
        self._conn._uncork()  # the handler waits: what was answered goes now
        return waiting

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        if val is None and tb is None:
            return self._context.run(self._coro.throw, typ)
        return self._context.run(self._coro.throw, typ, val, tb)  # pragma: no cover

    def close(self) -> None:
        self._coro.close()  # pragma: no cover - the Task never closes it early


class HTTPProtocol(asyncio.Protocol):
    """Serves HTTP/1.0 and 1.1 on one connection.

    Args:
        app: the application to call for each request.
        state: what the server's connections share (config, Date header, drain set).
        clock: schedules the timeouts; the running loop when None. Tests pass a
            ``typhoon.testing.FakeClock``.
    """

    def __init__(self, app: Application, state: ServerState, clock: Clock | None = None) -> None:
        self._app = app
        self.state = state
        self._config = state.config
        self._limits = state.config.limits
        self._clock_arg = clock
        self._clock: Clock = cast(Clock, None)
        self._loop: asyncio.AbstractEventLoop = cast(asyncio.AbstractEventLoop, None)
        self._transport: asyncio.Transport = cast(asyncio.Transport, None)
        self._parser = RequestParser(self)
        self._client: tuple[str, int] | None = None
        self._server: tuple[str, int] | None = None
        self._proxy: ProxyTrust | None = None  # set when the peer is a trusted proxy
        self._rewrite = False  # TLS or a trusted proxy: each exchange is adjusted

        # parsing
        self._in_message = False
        self._in_head = False
        self._head_guard = 0
        self._head_bytes = 0
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._host: bytes | None = None  # the first Host field
        self._host_count = 0
        self._valid_host: bytes | None = None  # the last Host that passed check_host
        self._content_length: int | None = None
        self._transfer_encoding: bytes | None = None
        self._expect: bytes | None = None
        self._upgrade: bytes | None = None
        self._upgrade_tail = b""  # bytes that came behind a head asking for an upgrade
        self._tunnel: Tunnel | None = None  # who has the connection after a 101
        self._long_lived: Exchange | None = None  # a client EOF ends this exchange
        self._receiving: Exchange | None = None

        # handling
        self._current: Exchange | None = None
        self._task: asyncio.Task[None] | None = None
        self._carried: Exchange | None = None  # the next exchange, for the running Task
        self._cork: list[bytes] | None = None  # answers held while a pipelined run goes on
        self._cork_bytes = 0
        self._context = contextvars.copy_context()
        self._pipeline: deque[Exchange | _Stop] = deque()

        # connection
        self._read_stopped = False
        self._reading_paused = False
        self._writing_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._draining = False
        self._eof = False
        self._closed = False
        self._access_log = state.access_log
        self._access_fields = state.access_fields
        self._phase = _NO_DEADLINE
        self._deadline = 0.0
        self._timer: TimerHandle | None = None
        limits = self._limits
        self._timer_step = min(
            limits.header_timeout_s, limits.body_timeout_s, limits.keep_alive_timeout_s
        )

    # -- asyncio callbacks -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._loop = asyncio.get_running_loop()
        self._clock = self._clock_arg or self._loop
        self._client = _address(transport.get_extra_info("peername"))
        self._server = _address(transport.get_extra_info("sockname"))
        proxy = self.state.proxy
        if proxy is not None and proxy.trusts_peer(self._client):
            self._proxy = proxy
        self._rewrite = self._proxy is not None or self.state.scheme != "http"
        self.state.connections.add(self)
        self._context = contextvars.copy_context()
        self._watch(_HEADER, self._limits.header_timeout_s)

    def data_received(self, data: bytes) -> None:
        if self._read_stopped:
            if self._tunnel is not None:
                self._tunnel.data_received(data)
            return
        if self._in_head:
            self._head_guard += len(data)
        try:
            self._parser.feed_data(data)
        except HttpParserUpgrade as exc:
            # The request asking for a protocol switch has been queued: what follows
            # its head belongs to the new protocol, if the application accepts it.
            # Otherwise the connection ends after its response.
            self._upgrade_tail = data[exc.args[0] :]
            self._stop_reading()
        except HttpParserError as exc:
            self._fail(protocol_error_from(exc))
        else:
            if self._in_head:  # a head is still incomplete
                # The target is checked exactly as it arrives (414, in on_url); the guard
                # covers the rest of the head, which llhttp buffers until a field is whole.
                if self._head_guard - len(self._url) > self._limits.max_head_bytes:
                    error = ProtocolError(
                        HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request head too large"
                    )
                    self._fail(error)
                elif self._phase is not _HEADER:
                    # Its first byte came in this read: the header timeout starts now. A
                    # head that completes within one read never needs the timer.
                    self._watch(_HEADER, self._limits.header_timeout_s)
        if self._current is None and self._pipeline:
            self._next()

    def eof_received(self) -> bool | None:
        self._eof = True
        if self._tunnel is not None:
            return self._tunnel.eof_received()
        if self._current is None and not self._pipeline:
            return None  # nothing in flight: let the transport close
        receiving = self._receiving
        self._stop_reading()
        if receiving is not None:
            receiving.fail_body(ClientDisconnected())  # the rest of its body cannot come
        if self._long_lived is not None and self._long_lived is self._current:
            self._end_long_lived(self._long_lived)
        return True  # half-close: answer what was received, then close

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self.state.connections.discard(self)
        self._cancel_timers()
        gone = ClientDisconnected()
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_exception(gone)
        self._drain_waiters.clear()
        exchanges = [item for item in self._pipeline if isinstance(item, Exchange)]
        for exchange in (self._current, self._receiving, *exchanges):
            if exchange is not None:
                exchange.client_gone(gone)
        self._pipeline.clear()
        tunnel = self._tunnel
        if tunnel is not None:  # it ends its own session, which ends the handler
            tunnel.connection_lost(exc)
            return
        task = self._task
        if task is not None and not task.done() and self._config.cancel_on_disconnect:
            task.cancel()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- parser callbacks (llhttp) -----------------------------------------------------

    def on_message_begin(self) -> None:
        self._in_message = True
        self._in_head = True
        self._head_guard = 0
        self._head_bytes = 0
        self._url = b""
        self._headers = []
        self._host = None
        self._host_count = 0
        self._content_length = None
        self._transfer_encoding = None
        self._expect = None
        self._upgrade = None

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._limits.max_head_bytes:
            raise ProtocolError(HTTPStatus.REQUEST_URI_TOO_LONG, "request target too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        limits = self._limits
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes + len(self._url) > limits.max_head_bytes:
            raise ProtocolError(
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request head too large"
            )
        if len(self._headers) >= limits.max_header_count:
            raise ProtocolError(
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "too many header fields"
            )
        name = name.lower()
        self._headers.append((name, value))
        if name == b"host":
            if not self._host_count:
                self._host = value
            self._host_count += 1
        elif name == b"content-length":
            self._content_length = int(value)  # llhttp has checked the digits
        elif name == b"transfer-encoding":
            # Several fields form one list of codings (RFC 9110 §5.3).
            te = self._transfer_encoding
            self._transfer_encoding = value if te is None else te + b", " + value
        elif name == b"expect":
            self._expect = value
        elif name == b"upgrade":
            self._upgrade = value

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._phase = _NO_DEADLINE
        parser = self._parser
        limits = self._limits
        version = parser.get_http_version()
        if version != "1.1" and version != "1.0":
            raise ProtocolError(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, "HTTP version not supported")
        raw_method = parser.get_method()
        method = _METHOD_NAMES.get(raw_method) or raw_method.decode("ascii")
        if method == "CONNECT":
            raise ProtocolError(HTTPStatus.METHOD_NOT_ALLOWED, "CONNECT is not supported")
        host = self._host
        if self._host_count != 1 or host != self._valid_host:  # a new Host is checked once
            check_host(host, self._host_count, version)
            self._valid_host = host
        if self._transfer_encoding is not None:
            check_framing(self._transfer_encoding, version)
        target = self._url
        if target[:1] == b"/":  # origin form: the common case
            path, _, query = target.partition(b"?")
        else:
            path, query = _split_other_target(target)

        length = self._content_length
        if length is not None and length > limits.max_body_bytes:
            raise ProtocolError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large")
        expect_continue = False
        if self._expect is not None and version == "1.1":
            if self._expect.lower() != b"100-continue":
                raise ProtocolError(HTTPStatus.EXPECTATION_FAILED, "unsupported expectation")
            expect_continue = True
        has_body = bool(length) or self._transfer_encoding is not None

        exchange = Exchange(
            self,
            self.state,
            method,
            target,
            path,
            query,
            version,
            self._headers,
            self._client,
            self._server,
            parser.should_keep_alive(),
            has_body,
            expect_continue and has_body,
            self._upgrade,
        )
        if self._rewrite:  # the only cost of TLS and proxies when neither applies
            exchange.scheme = self.state.scheme
            if self._proxy is not None:
                self._proxy.apply(exchange)
        if self._access_fields:  # JSON lines carry the duration; text lines do not
            exchange.started = time.perf_counter()
        if has_body:
            self._receiving = exchange
            if not exchange.expect_continue:
                self._watch(_BODY, limits.body_timeout_s)
        pipeline = self._pipeline
        pipeline.append(exchange)  # started once feed_data returns
        depth = limits.max_pipeline_depth
        if len(pipeline) >= depth and self._waiting() >= depth:
            self._update_reading()

    def on_body(self, body: bytes) -> None:
        exchange = self._receiving
        assert exchange is not None, "llhttp reported a body outside a message"
        if exchange.body_received + len(body) > self._limits.max_body_bytes:
            raise ProtocolError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large")
        exchange.feed_body(body)
        if self._phase is _BODY:
            self._deadline = self._clock.time() + self._limits.body_timeout_s
        if exchange.buffered >= self._limits.read_high_water_bytes and not self._reading_paused:
            self._update_reading()

    def on_message_complete(self) -> None:
        self._in_message = False
        exchange = self._receiving
        if exchange is not None:
            self._receiving = None
            exchange.end_body()
            if self._phase is _BODY:
                self._phase = _NO_DEADLINE
            if self._reading_paused:
                self._update_reading()  # a complete body no longer holds reading back
            if self._current is None and not self._pipeline and not self._read_stopped:
                self._watch(_IDLE, self._limits.keep_alive_timeout_s)  # answered early

    # -- handling ----------------------------------------------------------------------

    def _begin(self, exchange: Exchange) -> None:
        """Run the handler of ``exchange`` in a Task (or carry it on, see ``_go_on``).

        Never inline in ``data_received``, outside any Task: code that needs the
        current task (``asyncio.timeout()``, a TaskGroup, anyio's cancel scopes as
        httpx uses them) would fail there on its first line. The Task runs in a copy
        of the connection's context, so context variables never leak from one
        request to the next. Called while a handler's Task is finishing (from its
        ``_finish``), the exchange is left for that Task to carry on.
        """
        self._current = exchange
        if self._task is not None:  # the handler before it is finishing: its Task goes on
            self._carried = exchange
            return
        coro = self._handle(exchange, True)
        self._task = self._loop.create_task(coro, context=self._context.copy())

    async def _go_on(self) -> None:
        """Handle the pipelined exchanges ready behind the Task's first one, in turn.

        Each runs in a copy of the connection's context of its own (``_InContext``),
        and their answers are corked into one send, unless a handler waits (then what
        was written goes at once).
        """
        task = self._task
        while (carried := self._carried) is not None:
            self._carried = None
            if task is not None and task.cancelling():
                self._task = None  # a cancelled Task stays marked: a fresh one goes on
                self._begin(carried)
                return
            if self._cork is None:
                self._cork = []
            await _InContext(self._handle(carried), self._context.copy(), self)
        self._task = None
        self._uncork()

    async def _handle(self, exchange: Exchange, first: bool = False) -> None:
        """Run the application on one exchange; the per-request error boundary.

        ``first``: this is the Task's own exchange (not one carried on by ``_go_on``).
        """
        try:
            error = exchange.body_error
            if error is not None and isinstance(error, ProtocolError):
                raise error  # the body broke before the handler could start
            await self._app.handle(exchange)
            if not exchange.status:
                logger.error(
                    "%s %s: the application returned without a response",
                    exchange.method,
                    exchange.target.decode("latin-1"),
                )
                self._internal_error(exchange)
            elif not exchange.response_ended:
                await exchange.end()
        except asyncio.CancelledError:
            error = exchange.body_error
            if isinstance(error, ProtocolError) and not exchange.response_started:
                self._write_error(error)
            # Otherwise the client went away, or the server is aborting.
        except ProtocolError as exc:
            if not exchange.response_started:
                self._write_error(exc)
            else:
                self._abort()
        except ClientDisconnected:
            pass
        except Exception:
            logger.exception(
                "exception in the application while handling %s %s",
                exchange.method,
                exchange.target.decode("latin-1"),
            )
            if not exchange.response_started and not self._closed:
                self._internal_error(exchange)
            else:
                self._abort()
        if self._writing_paused and not self._closed:
            try:
                await self.drain()
            except ClientDisconnected:
                pass
        self._finish(exchange)
        if first:
            if self._carried is None:
                self._task = None
            else:
                await self._go_on()

    def _internal_error(self, exchange: Exchange) -> None:
        exchange.respond(500, PLAIN_TEXT_HEADERS, INTERNAL_ERROR_BODY)

    def _finish(self, exchange: Exchange) -> None:
        """The handler of ``exchange`` has returned: log, then move on or close."""
        self._current = None
        if self._access_log and exchange.status:
            if self._access_fields:
                log_access_fields(exchange)
            else:
                log_access_text(exchange)
        if self._closed:
            return
        if not exchange.response_keep_alive or (
            exchange.expect_continue and exchange.awaiting_continue
        ):
            self._close_transport()
            return
        if not exchange.body_complete:
            exchange.discard_body()  # answered early: read the rest of the body and drop it
            if self._reading_paused:
                self._update_reading()
        self._next()

    def _next(self) -> None:
        """Start the next pipelined exchange, act on a stop, or wait for input."""
        if self._pipeline:
            item = self._pipeline.popleft()
            if isinstance(item, _Stop):
                self._close_with(item.error)
            elif item.body_error is not None and isinstance(item.body_error, ProtocolError):
                self._close_with(item.body_error)
            else:
                self._current = item  # counted as in hand before reading is reconsidered
                if self._reading_paused:
                    self._update_reading()
                self._begin(item)
            return
        if self._read_stopped or self._draining:
            self._close_transport()
        elif not self._in_message:
            self._watch(_IDLE, self._limits.keep_alive_timeout_s)

    # -- failing, stopping, closing ----------------------------------------------------

    def _fail(self, error: ProtocolError | None) -> None:
        """Stop reading because of bad input or a timeout; answer ``error`` in turn."""
        receiving = self._receiving
        self._stop_reading()
        if receiving is not None and error is not None:
            receiving.fail_body(error)
            # Answer the error now; the handler cannot succeed. (A handler that has not
            # started yet finds the error itself when its turn comes: a Task cancelled
            # before its first step would never run the error boundary in _handle.)
            task = self._task
            if (
                receiving is self._current
                and not receiving.response_started
                and task is not None
                and _started(task)
            ):
                task.cancel()
        elif self._current is None and not self._pipeline:
            self._close_with(error)
        else:
            self._pipeline.append(_Stop(error))

    def _stop_reading(self) -> None:
        self._read_stopped = True
        self._receiving = None
        self._in_head = False
        if self._phase is _HEADER or self._phase is _BODY:
            self._phase = _NO_DEADLINE
        self._update_reading()

    def _close_with(self, error: ProtocolError | None) -> None:
        if error is not None:
            self._write_error(error)
        self._close_transport()

    def _write_error(self, error: ProtocolError) -> None:
        self._read_stopped = True
        self.write(
            error_response(error.status, error.reason, self.state.date.line, self.state.server_line)
        )
        self._close_transport()

    def _close_transport(self) -> None:
        """Close after what was written (corked answers included) has been sent."""
        self._uncork()
        self._transport.close()

    def _uncork(self) -> None:
        """Hand the corked answers to the transport, and stop corking."""
        cork = self._cork
        if cork is None:
            return
        self._cork = None
        self._cork_bytes = 0
        if cork and not self._closed and not self._transport.is_closing():
            self._transport.writelines(cork)

    def _abort(self) -> None:
        if not self._closed:
            self._uncork()
            self._transport.abort()

    def _cancel_timers(self) -> None:
        self._phase = _NO_DEADLINE
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- timers ------------------------------------------------------------------------

    def _watch(self, phase: _Phase, timeout_s: float) -> None:
        """Set the deadline for ``phase``; arm the timer if none is pending.

        The timer never fires later than ``_timer_step`` (the shortest timeout) after
        it was armed, so a pending timer is always early enough for a new deadline.
        """
        self._phase = phase
        self._deadline = self._clock.time() + timeout_s
        if self._timer is None:
            self._timer = self._clock.call_later(min(timeout_s, self._timer_step), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        phase = self._phase
        if phase is _NO_DEADLINE or self._closed:
            return
        now = self._clock.time()
        if phase is _BODY and self._reading_paused:
            self._deadline = now + self._limits.body_timeout_s  # the application is slow
        remaining = self._deadline - now
        if remaining > 0:
            self._timer = self._clock.call_later(min(remaining, self._timer_step), self._on_timer)
            return
        self._phase = _NO_DEADLINE
        if phase is _HEADER:
            self._fail(None)  # slowloris: close without a word, after what is in flight
        elif phase is _BODY:
            error = ProtocolError(HTTPStatus.REQUEST_TIMEOUT, "request body not received in time")
            self._fail(error)
        elif self._current is None and not self._in_message:
            self._close_transport()  # keep-alive idle

    # -- flow control --------------------------------------------------------------------

    def _waiting(self) -> int:
        """Requests received that wait behind the one being handled (or about to be)."""
        queued = len(self._pipeline)
        return queued if self._current is not None or not queued else queued - 1

    def _update_reading(self) -> None:
        receiving = self._receiving
        pause = (
            self._read_stopped
            or self._waiting() >= self._limits.max_pipeline_depth
            or (receiving is not None and receiving.buffered >= self._limits.read_high_water_bytes)
        )
        if (
            pause == self._reading_paused
            or self._closed
            or self._tunnel is not None  # the tunnel reads as it pleases
            or self._transport.is_closing()
        ):
            return
        self._reading_paused = pause
        if pause:
            self._transport.pause_reading()
        else:
            if self._phase is _BODY:  # a stall is counted from here
                self._deadline = self._clock.time() + self._limits.body_timeout_s
            self._transport.resume_reading()

    # -- the Connection interface used by Exchange ---------------------------------------

    def write(self, data: bytes) -> None:
        if self._closed:
            return
        cork = self._cork
        if cork is None:
            self._transport.write(data)
            return
        cork.append(data)
        self._cork_bytes += len(data)
        if self._cork_bytes > _CORK_MAX_BYTES:
            self._uncork()  # the transport's backpressure applies from here
            self._cork = []

    def writelines(self, data: Iterable[bytes]) -> None:
        if self._closed:
            return
        if self._cork is None:
            self._transport.writelines(data)
            return
        for piece in data:
            self.write(piece)

    async def drain(self) -> None:
        """Wait while the client is slow; raise once the connection is going away."""
        if self._closed or self._transport.is_closing():
            raise ClientDisconnected()
        if not self._writing_paused:
            return
        waiter = self._loop.create_future()
        self._drain_waiters.append(waiter)
        await waiter
        if self._transport.is_closing():
            raise ClientDisconnected()

    async def sendfile(self, file: IO[bytes], offset: int, count: int) -> int | None:
        """Send file bytes with the OS's sendfile; None when this transport cannot.

        Raises:
            ClientDisconnected: the connection is closed, or the send failed.
        """
        if self._closed:
            raise ClientDisconnected()
        self._uncork()  # the head must leave before the file
        transport = self._transport
        try:
            return await self._loop.sendfile(transport, file, offset, count, fallback=False)
        except (NotImplementedError, RuntimeError):
            return None  # uvloop, TLS, a closing or in-memory transport, no os.sendfile
        except OSError:
            raise ClientDisconnected() from None
        finally:
            # asyncio pauses reading while it sends and resumes it afterwards, even if
            # flow control paused it meanwhile: pause again so the pipeline stays bounded.
            if self._reading_paused and not self._closed and transport.is_reading():
                transport.pause_reading()

    def body_consumed(self, exchange: Exchange) -> None:
        if self._reading_paused and exchange is self._receiving:
            self._update_reading()

    def send_continue(self, exchange: Exchange) -> None:
        if exchange is self._receiving and not self._read_stopped:
            self.write(CONTINUE_RESPONSE)
            self._watch(_BODY, self._limits.body_timeout_s)

    def switch_protocols(
        self, exchange: Exchange, head: bytes, tunnel: Tunnel
    ) -> asyncio.Transport:
        """Send the 101 ``head`` and give the connection to ``tunnel`` (see Exchange)."""
        transport = self._transport
        if self._closed or transport.is_closing():
            raise ClientDisconnected()
        if exchange is not self._current:
            raise RuntimeError("only the exchange being handled can switch protocols")
        self._tunnel = tunnel
        self._cancel_timers()  # the new protocol keeps its own time
        self.write(head)
        self._uncork()  # the head leaves before anything the tunnel writes
        tail, self._upgrade_tail = self._upgrade_tail, b""
        if self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()
        if tail:
            tunnel.data_received(tail)
        return transport

    def end_on_eof(self, exchange: Exchange) -> None:
        """A client EOF ends ``exchange`` as a disconnect would (see Exchange.long_lived)."""
        if exchange is not self._current or self._closed:
            return
        if self._eof:
            self._end_long_lived(exchange)
        else:
            self._long_lived = exchange

    def _end_long_lived(self, exchange: Exchange) -> None:
        self._long_lived = None
        exchange.client_gone(ClientDisconnected())
        task = self._task
        if task is not None and not task.done() and self._config.cancel_on_disconnect:
            task.cancel()

    def may_keep_alive(self, exchange: Exchange) -> bool:
        if not exchange.keep_alive or self._draining:
            return False
        # Once reading has stopped, stay open only to answer what is queued behind.
        return not self._read_stopped or any(
            isinstance(item, Exchange) or item.error is not None for item in self._pipeline
        )

    # -- the Drainable interface used by the server ---------------------------------------

    def shutdown(self) -> None:
        """Finish the request in hand (if any), then close.

        A connection that has not received a byte yet gets
        :data:`FIRST_REQUEST_GRACE_S` for its first request: its client connected just
        before the drain and its request is most likely on the way (closing now would
        reset it). That request is answered with ``connection: close``.
        """
        self._draining = True
        if self._tunnel is not None:
            self._tunnel.shutdown()
        elif self._current is None and not self._in_message and not self._closed:
            if self._phase is _HEADER and not self._pipeline:  # nothing received yet
                deadline = self._clock.time() + FIRST_REQUEST_GRACE_S
                if deadline < self._deadline:
                    self._deadline = deadline
                    if self._timer is not None:
                        self._timer.cancel()
                    self._timer = self._clock.call_later(FIRST_REQUEST_GRACE_S, self._on_timer)
            else:
                self._close_transport()

    def abort(self) -> None:
        """Close now."""
        if self._task is not None:
            self._task.cancel()
        self._abort()


def _started(task: asyncio.Task[None]) -> bool:
    """Whether the Task's coroutine has begun (a cancel before that skips its body)."""
    coro = cast(Coroutine[Any, Any, None], task.get_coro())
    return inspect.getcoroutinestate(coro) != inspect.CORO_CREATED


def _split_other_target(target: bytes) -> tuple[bytes, bytes]:
    """Split a target not in origin form into (path, query): ``*``, or absolute form
    reduced to its path."""
    if target == b"*":
        return target, b""
    try:
        url = parse_url(target)
    except HttpParserError:
        raise ProtocolError(HTTPStatus.BAD_REQUEST, "invalid request target") from None
    if url.schema is None or url.schema.lower() not in (b"http", b"https") or url.host is None:
        raise ProtocolError(HTTPStatus.BAD_REQUEST, "invalid request target")
    return url.path or b"/", url.query or b""


def _address(info: object) -> tuple[str, int] | None:
    if isinstance(info, tuple) and len(info) >= 2:
        return str(info[0]), int(info[1])
    return None
