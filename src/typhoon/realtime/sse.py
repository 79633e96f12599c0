"""Server-Sent Events: the ``text/event-stream`` wire format, a response and a handler.

Three layers, each usable alone:

* :func:`encode_event` / :func:`encode_comment` (and :class:`Event`) turn one event into
  bytes in the WHATWG format (HTML Living Standard, "Server-sent events", section
  9.2.6 "Interpreting an event stream"). They are pure: no I/O, no clock.
* :class:`EventStream` is a :class:`~typhoon.web.response.Response` that sends the items
  of an async iterable as events (a hub subscription, an async generator…).
* :class:`SSEHandler` is a :class:`~typhoon.web.handler.RequestHandler` for the
  Tornado/Cyclone style: ``open()`` once the stream started, ``send_event()``,
  ``close()``, ``on_close()``.

Rules of operation:

* Every event ends with a blank line and is written whole, so a client never sees half
  an event; writes are awaited (backpressure): a slow client slows the producer.
* Silence longer than ``heartbeat`` seconds is broken by a comment (``: ping``), which
  keeps proxies from timing the connection out and reveals a vanished client.
* A stream owns its source: when the stream ends for any reason (the source ended, the
  client left, an error) the source is closed and nothing is left running.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import inspect
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable
from typing import Any, ClassVar, Final, final

import msgspec

from typhoon.http.errors import ClientDisconnected
from typhoon.http.exchange import Exchange
from typhoon.http.writer import BODILESS_STATUSES
from typhoon.web.handler import RequestHandler
from typhoon.web.response import HeaderInput, Response, encode_headers

logger = logging.getLogger("typhoon.error")

_json_encode = msgspec.json.Encoder().encode

HEARTBEAT: Final = b": ping\n\n"
"""The comment sent after ``heartbeat`` seconds of silence."""

# Sent with every stream: no cache may keep or merge it, and nginx must not buffer it.
_STREAM_HEADERS: Final = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
)
_BAD_REQUEST_HEADERS: Final = [(b"content-type", b"text/plain; charset=utf-8")]


# -- the wire format ----------------------------------------------------------------------


def _check_fields(event: str | None, id: str | int | None, retry: int | None) -> None:
    """Validate the fields of an event other than its data.

    Raises:
        ValueError: ``event`` or ``id`` holds a line break, ``id`` holds NUL (a client
            would ignore it), or ``retry`` is negative.
        TypeError: a field has the wrong type.
    """
    if event is not None:
        if not isinstance(event, str):
            raise TypeError(f"event must be a str, got {type(event).__name__}")
        if "\n" in event or "\r" in event:
            raise ValueError(f"event must not contain a line break: {event!r}")
    if id is not None:
        if isinstance(id, bool) or not isinstance(id, str | int):
            raise TypeError(f"id must be a str or an int, got {type(id).__name__}")
        if isinstance(id, str) and ("\n" in id or "\r" in id or "\x00" in id):
            raise ValueError(f"id must not contain a line break or NUL: {id!r}")
    if retry is not None:
        if isinstance(retry, bool) or not isinstance(retry, int):
            raise TypeError(f"retry must be an int (milliseconds), got {type(retry).__name__}")
        if retry < 0:
            raise ValueError(f"retry must be >= 0 milliseconds, got {retry}")


def _data_lines(data: Any) -> bytes:
    """The ``data:`` lines of an event (each ends with LF).

    Raises:
        ValueError: ``data`` is bytes that are not UTF-8, or a str that cannot be UTF-8.
        TypeError: ``data`` cannot be encoded as JSON.
    """
    if isinstance(data, str):
        text = data
    elif isinstance(data, bytes | bytearray | memoryview):
        try:
            text = bytes(data).decode()
        except UnicodeDecodeError as exc:
            raise ValueError(f"event data given as bytes must be UTF-8: {exc}") from None
    else:
        try:
            # Compact JSON never holds a raw CR or LF: one line, no splitting.
            return b"data: " + _json_encode(data) + b"\n"
        except (TypeError, msgspec.EncodeError) as exc:
            raise TypeError(f"cannot encode the event data as JSON: {exc}") from None
    if "\n" in text or "\r" in text:
        # CRLF, CR and LF all end a line for the client (and nothing else does, so not
        # str.splitlines, which also splits at U+2028, VT, FF…).
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\ndata: ")
    return ("data: " + text + "\n").encode()


def _encode(data: Any, event: str | None, id: str | int | None, retry: int | None) -> bytes:
    """:func:`encode_event` without checking the fields (an Event checked them)."""
    lines = _data_lines(data)
    if event is None and id is None and retry is None:
        return lines + b"\n"
    head = ""
    if id is not None:
        head += f"id: {id}\n"
    if event is not None:
        head += f"event: {event}\n"
    if retry is not None:
        head += f"retry: {retry}\n"
    return head.encode() + lines + b"\n"


def encode_event(
    data: Any,
    *,
    event: str | None = None,
    id: str | int | None = None,
    retry: int | None = None,
) -> bytes:
    """Encode one event for a ``text/event-stream`` body, blank line included.

    Args:
        data: a ``str`` (sent as it is, one ``data:`` line per line: CRLF, CR and LF
            all split), ``bytes`` (decoded as UTF-8), or any value msgspec encodes as
            JSON (sent compact, on one line).
        event: the event type (``addEventListener(type, …)`` in the browser); None
            for a plain ``message``.
        id: the event id, which the client sends back as ``Last-Event-ID`` when it
            reconnects (``""`` resets it).
        retry: the reconnection delay the client should use, in milliseconds.

    Returns:
        The UTF-8 bytes of the event.

    Raises:
        ValueError: ``event`` or ``id`` holds a line break, ``id`` holds NUL, ``retry``
            is negative, or bytes ``data`` are not UTF-8.
        TypeError: a field has the wrong type, or ``data`` cannot be JSON.

    Example::

        encode_event("two\\nlines", event="note", id=7)
        # b"id: 7\\nevent: note\\ndata: two\\ndata: lines\\n\\n"
    """
    _check_fields(event, id, retry)
    return _encode(data, event, id, retry)


def encode_comment(text: str = "") -> bytes:
    """Encode a comment (clients ignore it), blank line included.

    Comments keep an idle connection alive; each line of ``text`` becomes a ``:`` line.

    Example::

        encode_comment("ping")  # b": ping\\n\\n"
    """
    if not isinstance(text, str):
        raise TypeError(f"a comment must be a str, got {type(text).__name__}")
    if not text:
        return b":\n\n"
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\n: ")
    return (": " + text + "\n\n").encode()


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """One event, checked when it is made; what :class:`EventStream` sources may yield.

    Attributes:
        data: str, bytes (UTF-8) or a JSON-able value (see :func:`encode_event`).
        event: the event type, or None for ``message``.
        id: the event id (the client's ``Last-Event-ID``), or None.
        retry: the client's reconnection delay in milliseconds, or None.

    Raises:
        ValueError, TypeError: as :func:`encode_event`, for ``event``, ``id`` and ``retry``.

    Example::

        yield Event({"user": "ada"}, event="join", id="42")
    """

    data: Any
    _: dataclasses.KW_ONLY
    event: str | None = None
    id: str | int | None = None
    retry: int | None = None

    def __post_init__(self) -> None:
        _check_fields(self.event, self.id, self.retry)

    def encode(self) -> bytes:
        """The event's bytes on the wire (see :func:`encode_event`)."""
        return _encode(self.data, self.event, self.id, self.retry)


def _check_heartbeat(heartbeat: float | None, owner: str) -> None:
    if heartbeat is None:
        return
    if isinstance(heartbeat, bool) or not isinstance(heartbeat, int | float):
        raise TypeError(f"{owner}: heartbeat must be a number of seconds or None")
    if not heartbeat > 0:
        raise ValueError(f"{owner}: heartbeat must be > 0 seconds or None, got {heartbeat!r}")


def _is_message(item: Any) -> bool:
    """Whether ``item`` looks like a hub Message (``topic``, ``id`` and ``data``)."""
    return hasattr(item, "topic") and hasattr(item, "id") and hasattr(item, "data")


def _is_resumable(source: object) -> bool:
    """Whether ``source`` resumes from a ``Last-Event-ID`` (a hub Subscription)."""
    return callable(getattr(source, "resume_from", None)) and hasattr(source, "cursor")


async def _close(source: object) -> None:
    """Close ``source``: ``aclose()`` (async generators), else ``close()`` if it has one.

    An exception from closing is logged: it must not hide why the stream ended.
    """
    try:
        close = getattr(source, "aclose", None) or getattr(source, "close", None)
        if close is not None:
            result = close()
            if inspect.isawaitable(result):
                await result
    except Exception:
        logger.exception("exception while closing the event source %r", source)


class _End:
    """What :func:`_next_item` returns once the source is exhausted."""


_END: Final = _End()


async def _next_item(iterator: AsyncIterator[Any]) -> Any:
    # A task of its own, so that a heartbeat can be sent while the source is silent
    # without cancelling the source's pending step.
    try:
        return await anext(iterator)
    except StopAsyncIteration:
        return _END


# -- the response -------------------------------------------------------------------------


class EventStream(Response):
    """A response that streams the items of an async iterable as Server-Sent Events.

    Each item becomes one event:

    * an :class:`Event` is sent as it is;
    * a hub ``Message`` (anything with ``topic``, ``id`` and ``data``) sends its ``data``,
      with its ``id`` as the event id;
    * a ``str`` or ``bytes`` is the event's data; any other value is sent as JSON.

    When the source has ``resume_from()`` and ``cursor`` (a hub Subscription), the
    request's ``Last-Event-ID`` header is given to ``source.resume_from()`` before the
    first item is read, and ``source.cursor`` becomes each event's id (an Event's own
    id wins); a ``ValueError`` from ``resume_from`` is answered ``400``.

    The stream ends when the source does; the source is closed when the stream ends
    for any reason, the client leaving included. An exception from the source is
    logged to ``typhoon.error`` and ends the stream. HEAD gets the headers only.

    Args:
        source: an async iterable (or async iterator) of items.
        heartbeat: send a ``: ping`` comment after this many seconds without an event;
            None sends none.
        retry: a reconnection delay (milliseconds) sent to the client first, or None.
        status: the response status.
        headers: extra headers (they replace the stream's defaults of the same name).

    Raises:
        TypeError: ``source`` is not async iterable, or an argument has the wrong type.
        ValueError: ``heartbeat`` is not positive, or ``retry`` is negative.

    Example::

        @app.get("/news")
        async def news(request: Request) -> EventStream:
            return EventStream(request.app.pubsub.subscribe("news"), retry=5000)
    """

    __slots__ = ("_preamble", "heartbeat", "retry", "source")

    def __init__(
        self,
        source: AsyncIterable[Any],
        *,
        heartbeat: float | None = 15.0,
        retry: int | None = None,
        status: int = 200,
        headers: HeaderInput = None,
    ) -> None:
        if not callable(getattr(source, "__aiter__", None)):
            raise TypeError(f"EventStream needs an async iterable source, got {source!r}")
        _check_heartbeat(heartbeat, "EventStream")
        _check_fields(None, None, retry)
        super().__init__(b"", status)
        extra = encode_headers(headers)
        replaced = {name.lower() for name, _ in extra}
        self.raw_headers = [pair for pair in _STREAM_HEADERS if pair[0] not in replaced] + extra
        self.source = source
        self.heartbeat = heartbeat
        self.retry = retry
        self._preamble = b"" if retry is None else f"retry: {retry}\n\n".encode()

    async def send(self, exchange: Exchange) -> None:
        """Stream the source's items to ``exchange`` until it ends or the client leaves."""
        source = self.source
        resumable = _is_resumable(source)
        if resumable:
            problem = _resume(source, exchange)
            if problem is not None:
                await _close(source)
                body = f"400: invalid Last-Event-ID header: {problem}\n".encode()
                exchange.respond(400, _BAD_REQUEST_HEADERS, body)
                return
        try:
            exchange.start(self.status, self.raw_headers)
            if exchange.method != "HEAD" and self.status not in BODILESS_STATUSES:
                await exchange.write(self._preamble)  # the head leaves now: onopen fires
                await self._pump(exchange, source, resumable)
        except ClientDisconnected:
            return  # nobody to tell
        finally:
            await _close(source)
        try:
            await exchange.end()
        except ClientDisconnected:
            pass

    async def _pump(self, exchange: Exchange, source: Any, resumable: bool) -> None:
        """Write an event per item, and heartbeats in between, until the source ends.

        Returns when the source ends, fails (logged) or the client leaves.
        """
        loop = asyncio.get_running_loop()
        left: asyncio.Future[None] = loop.create_future()  # the client went away
        # (with cancel_on_disconnect=False nothing else would stop a silent source)
        exchange.add_disconnect_callback(functools.partial(_resolve, left))
        exchange.long_lived()  # a client EOF means the reader has gone
        waiting = {left}
        iterator = aiter(source)
        context = contextvars.copy_context()  # one context for every step of the source
        step: asyncio.Task[Any] | None = None
        try:
            while True:
                step = loop.create_task(_next_item(iterator), context=context)
                waiting.add(step)
                while True:
                    done, _ = await asyncio.wait(
                        waiting, timeout=self.heartbeat, return_when=asyncio.FIRST_COMPLETED
                    )
                    if left in done:
                        return
                    if step in done:
                        break
                    await exchange.write(HEARTBEAT)
                waiting.discard(step)
                finished, step = step, None
                try:
                    item = finished.result()
                    if item is _END:
                        return
                    payload = _encode_item(item, source.cursor if resumable else None)
                except Exception as exc:
                    logger.error(
                        "exception in the event stream of %s %s",
                        exchange.method,
                        exchange.target.decode("latin-1"),
                        exc_info=exc,
                    )
                    return
                await exchange.write(payload)
        finally:
            if step is not None:
                step.cancel()
                await asyncio.wait((step,))
                if not step.cancelled():  # it failed rather than stop: a bug worth a log
                    logger.error(
                        "exception in the event stream of %s %s while it was stopped",
                        exchange.method,
                        exchange.target.decode("latin-1"),
                        exc_info=step.exception(),
                    )
            if iterator is not source:
                await _close(iterator)


def _last_event_id(exchange: Exchange) -> str | None:
    """The request's ``Last-Event-ID``, or None.

    Decoded as UTF-8, as the client echoes an id it received in a UTF-8 stream (bytes
    that are not UTF-8 become U+FFFD, an id no source ever gave).
    """
    for name, value in exchange.headers:
        if name == b"last-event-id":
            return value.decode(errors="replace")
    return None


def _resume(source: Any, exchange: Exchange) -> str | None:
    """Give the request's Last-Event-ID to ``source.resume_from``; the problem, if any."""
    value = _last_event_id(exchange)
    if not value:
        return None  # absent, or empty (as if absent: browsers never send an empty one)
    try:
        source.resume_from(value)
    except ValueError as exc:
        return str(exc) or repr(value)
    return None


def _encode_item(item: Any, cursor: str | None) -> bytes:
    """The bytes of one source item; ``cursor`` is the id when the source has one."""
    if isinstance(item, Event):
        if cursor is None or item.id is not None:
            return item.encode()
        return _encode(item.data, item.event, cursor, item.retry)
    if not isinstance(item, str | bytes | dict | list) and _is_message(item):
        return _encode(item.data, None, item.id if cursor is None else cursor, None)
    return _encode(item, None, cursor, None)


# -- the handler --------------------------------------------------------------------------


class SSEHandler(RequestHandler):
    """A handler that keeps the request open as an event stream (Cyclone's SSEHandler).

    GET starts the stream, then calls :meth:`open` with the path arguments; the
    handler sends with :meth:`send_event` and :meth:`send_comment` until it calls
    :meth:`close` or the client leaves; then :meth:`on_close` runs once (when ``open``
    was called: not for a client gone before the stream started).
    ``prepare()``, ``current_user``, ``get_argument()``, ``@authenticated``… work as in
    any RequestHandler (a ``prepare`` that raises or finishes stops before the stream).

    Attributes:
        heartbeat: seconds of silence after which a ``: ping`` comment is sent; None
            disables it. A class attribute.

    Example::

        class Clock(SSEHandler):
            async def open(self, zone: str) -> None:
                for _ in range(3):
                    await self.send_event({"zone": zone, "now": time.time()})
                    await asyncio.sleep(1)
                self.close()

        app = App([(r"/clock/(\\w+)", Clock)])
    """

    heartbeat: ClassVar[float | None] = 15.0

    # Per-request state, replaced per instance by get() (see RequestHandler).
    _sse_done: asyncio.Future[None] | None = None  # resolved by close() or the client leaving
    _sse_ended = False  # no more sending: close(), an error, or the client left
    _sse_last_sent = 0.0  # loop time of the last write, for heartbeats
    _sse_timer: asyncio.TimerHandle | None = None
    _sse_beat: asyncio.Future[None] | None = None  # the heartbeat being written
    _sse_opened = False  # open() was called: on_close() is owed
    _sse_on_close: asyncio.Future[Any] | None = None  # on_close() ran (or runs) once

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_heartbeat(cls.heartbeat, cls.__name__)

    # -- what subclasses override ---------------------------------------------------------

    def open(self, *args: Any, **kwargs: Any) -> Awaitable[None] | None:
        """Called once the stream has started, with the route's path arguments.

        May be ``async def``; it runs on the event loop. The stream stays open after it
        returns, until :meth:`close` or the client leaves.
        """
        return None

    def on_close(self) -> Awaitable[None] | None:
        """Called once when the stream ends (the client left, or :meth:`close`), if
        :meth:`open` was called.

        May be ``async def``; it runs on the event loop. When the client leaves, it runs
        at once, even while :meth:`open` still runs. Release what ``open`` took here.
        """
        return None

    # -- what subclasses call -------------------------------------------------------------

    @property
    def last_event_id(self) -> str | None:
        """The request's ``Last-Event-ID`` (the id of the last event a reconnecting
        client saw, decoded as UTF-8), or None when the client sent none."""
        return _last_event_id(self.request.exchange)

    async def send_event(
        self,
        data: Any,
        *,
        event: str | None = None,
        id: str | int | None = None,
        retry: int | None = None,
    ) -> None:
        """Send one event (see :func:`encode_event`); returns once the client took it.

        Raises:
            ClientDisconnected: the client went away.
            RuntimeError: the stream has not started (call it from :meth:`open` or
                later) or has ended.
            ValueError, TypeError: as :func:`encode_event`.

        Example::

            await self.send_event({"price": 12.5}, event="tick", id=str(seq))
        """
        await self._sse_send(encode_event(data, event=event, id=id, retry=retry), "send_event")

    async def send_comment(self, text: str = "") -> None:
        """Send a comment (ignored by clients; see :func:`encode_comment`).

        Raises:
            ClientDisconnected, RuntimeError: as :meth:`send_event`.
        """
        await self._sse_send(encode_comment(text), "send_comment")

    def close(self) -> None:
        """End the stream: the response ends once :meth:`open` has returned.

        Does nothing when the stream already ended.

        Raises:
            RuntimeError: the stream has not started (in ``prepare()``, refuse the
                request with ``raise HTTPError(…)`` or ``finish()`` instead).
        """
        done = self._sse_done
        if done is None:
            raise RuntimeError(
                "close() called before the stream started; in prepare(), raise "
                "HTTPError(...) or call finish() instead"
            )
        self._sse_stop()

    def finish(self, chunk: str | bytes | dict[str, Any] | None = None) -> None:
        """As RequestHandler.finish(); once the stream has started, also :meth:`close`."""
        super().finish(chunk)
        if self._sse_done is not None:
            self._sse_stop()

    # -- the stream -----------------------------------------------------------------------

    @final
    async def get(self, *args: Any, **kwargs: Any) -> None:
        """Start the stream, run :meth:`open`, then wait for :meth:`close` or the client."""
        self.set_header("content-type", "text/event-stream; charset=utf-8")
        self.set_header("cache-control", "no-cache")
        self.set_header("x-accel-buffering", "no")
        if self.request.method == "HEAD":
            await self.flush()
            return
        loop = asyncio.get_running_loop()
        done = self._sse_done = loop.create_future()
        self.request.exchange.add_disconnect_callback(self._sse_client_left)
        self.request.long_lived()
        try:
            await asyncio.shield(self._sse_write(b""))  # the head leaves: onopen fires
            self._sse_schedule(loop)
            self._sse_opened = True
            opened = self.open(*args, **kwargs)
            if inspect.isawaitable(opened):
                await opened
            await asyncio.wait((done,))
        except ClientDisconnected:
            pass
        finally:
            self._sse_stop()
            if self._sse_opened:
                await self._sse_closed()

    def _sse_write(self, data: bytes) -> asyncio.Future[None]:
        """Write and flush ``data``; the flush, whose exception is always retrieved."""
        self.write(data)
        flushing = asyncio.ensure_future(self.flush())
        flushing.add_done_callback(_retrieve)
        self._sse_last_sent = asyncio.get_running_loop().time()
        return flushing

    async def _sse_send(self, data: bytes, what: str) -> None:
        if self._sse_done is None:
            raise RuntimeError(f"{what}() called before the stream started (call it in open())")
        if self._sse_ended:
            if self.request.exchange.disconnected:
                raise ClientDisconnected()
            raise RuntimeError(f"{what}() called after the stream ended")
        # Shielded: a caller cancelled mid-write must not cancel the flush, on which
        # every later flush (and the end of the response) waits.
        await asyncio.shield(self._sse_write(data))

    def _sse_schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        heartbeat = self.heartbeat
        if heartbeat is not None:
            when = self._sse_last_sent + heartbeat
            self._sse_timer = loop.call_at(when, self._sse_tick, loop, heartbeat)

    def _sse_tick(self, loop: asyncio.AbstractEventLoop, heartbeat: float) -> None:
        """The heartbeat timer (cancelled by _sse_stop): send a comment after a silence."""
        beat = self._sse_beat
        # The timer may fire a clock tick early; a heartbeat still being written (a
        # slow client) is not doubled.
        if loop.time() >= self._sse_last_sent + heartbeat - 0.001 and (beat is None or beat.done()):
            self._sse_beat = self._sse_write(HEARTBEAT)
        self._sse_schedule(loop)

    def _sse_stop(self) -> None:
        """No more sending; wake get() so that the response ends (the stream started)."""
        assert self._sse_done is not None, "_sse_stop() before the stream started"
        self._sse_ended = True
        timer, self._sse_timer = self._sse_timer, None
        if timer is not None:
            timer.cancel()
        _resolve(self._sse_done)

    def _sse_client_left(self) -> None:
        """The exchange's disconnect callback: stop, and run on_close() now (if owed)."""
        self._sse_stop()
        if self._sse_opened:
            self._sse_start_on_close()

    def _sse_start_on_close(self) -> asyncio.Future[Any]:
        """Run on_close() unless it already runs or ran; the future of that one run."""
        if self._sse_on_close is None:
            self._sse_on_close = asyncio.ensure_future(self._sse_run_on_close())
        return self._sse_on_close

    async def _sse_closed(self) -> None:
        """Run on_close() once (or wait for the run the client's leaving started)."""
        await asyncio.wait((self._sse_start_on_close(),))

    async def _sse_run_on_close(self) -> None:
        try:
            result = self.on_close()
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception("exception in %s.on_close()", type(self).__name__)


def _resolve(future: asyncio.Future[None]) -> None:
    """Set ``future``'s result unless it has one (a stop may be asked twice)."""
    if not future.done():
        future.set_result(None)


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a flush's exception as seen (a client that left): awaiting it may not happen.

    Flushes are shielded, so one is cancelled only by whoever cancels every task.
    """
    future.cancelled() or future.exception()


__all__ = [
    "HEARTBEAT",
    "Event",
    "EventStream",
    "SSEHandler",
    "encode_comment",
    "encode_event",
]
