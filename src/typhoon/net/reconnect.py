"""A client connection that comes back: Twisted's ReconnectingClientFactory, typhoon-style.

::

    async with Reconnecting("tcp:feed.example.com:7000", Feed, on_connect=subscribe) as client:
        protocol = await client.wait_connected(timeout=10)
        ...

Theory of operation:

* :meth:`Reconnecting.start` makes the first attempt at once. Each failed attempt
  schedules the next on the clock: retry *k* (counted from 1 since the last
  successful connection) waits ``min(max_delay, initial_delay * factor ** (k - 1))``,
  times a random factor in ``[1 - jitter, 1 + jitter]``, never more than
  ``max_delay``. So with the defaults: about 1, 2, 4, 8... up to 60 s.
* A successful connection resets the count. When that connection is lost (and the
  client was not stopped), the next attempt waits the *initial* delay, not zero: a
  server that accepts and at once drops connections is then not hammered in a loop,
  and a fleet of clients cut off together does not return in one burst.
* After ``max_retries`` retries in a row have failed, the client gives up, logs an
  error on ``typhoon.net`` and :meth:`Reconnecting.wait_connected` raises.
* Only network errors are retried (an ``OSError``: refused, unreachable, timed out,
  TLS, a missing cert file). Anything else, such as a protocol factory that raises
  or a malformed ``timeout=`` option, stops the client at once, logged.
* The protocol sees only its usual ``connection_made``/``connection_lost``; the
  client watches them through a thin relay protocol placed between the transport
  and it (so ``transport.get_protocol()`` is the relay).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import math
import random
from collections.abc import Callable
from types import TracebackType
from typing import Any, cast

from typhoon.net.clock import Clock, TimerHandle
from typhoon.net.endpoints import Endpoint, parse_client
from typhoon.net.listen import ProtocolFactory, connect
from typhoon.net.timers import check_seconds

logger = logging.getLogger("typhoon.net")

_CLOSE_WAIT_S = 10.0  # how long stop() waits for a closed transport before aborting it


class Reconnecting:
    """Keep a client connection to ``endpoint`` up, reconnecting with backoff.

    Example::

        client = Reconnecting("tls:broker:8883", MQTTClient, initial_delay=0.5)
        client.start()
        protocol = await client.wait_connected()
        ...
        await client.stop()

    Args:
        endpoint: a client endpoint string or :class:`Endpoint` (not UDP).
        protocol: a Protocol class (or callable), made anew for each connection with
            ``**kwargs``, as in :func:`~typhoon.net.connect`.
        initial_delay: seconds before the first retry, and before reconnecting after
            a connection was lost.
        factor: how much each failed retry multiplies the delay (>= 1).
        max_delay: the longest delay, jitter included (>= ``initial_delay``).
        jitter: the spread of the random factor applied to each delay (0 to < 1).
        max_retries: give up after this many failed retries in a row (None: never).
        clock: schedules the delays (the running loop by default; ``FakeClock`` in
            tests).
        rng: draws the jitter (a seeded ``random.Random`` in tests).
        on_connect: ``on_connect(protocol)``, plain or async, after each connection.
        on_disconnect: ``on_disconnect(protocol, exc)`` after each loss (``exc`` is
            None for a clean close). Exceptions from either are logged, not raised.

    Attributes:
        endpoint: the parsed endpoint.
        attempts: connection attempts made so far.
        retries: retries scheduled since the last successful connection.
        delay: the delay of the retry now pending, else None.
        failure: the error of the last failed attempt (None once connected).

    Raises:
        ValueError: an argument out of range (naming it), or a UDP endpoint.
        TypeError: ``protocol`` is not callable.
    """

    def __init__(
        self,
        endpoint: str | Endpoint,
        protocol: ProtocolFactory,
        *,
        initial_delay: float = 1.0,
        factor: float = 2.0,
        max_delay: float = 60.0,
        jitter: float = 0.1,
        max_retries: int | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        on_connect: Callable[[Any], Any] | None = None,
        on_disconnect: Callable[[Any, Exception | None], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        spec = parse_client(endpoint) if isinstance(endpoint, str) else endpoint
        if spec.kind == "udp":
            raise ValueError(f"endpoint {spec.text!r}: udp has no connection to keep up")
        if not callable(protocol):
            raise TypeError(f"protocol must be a Protocol class or a callable, got {protocol!r}")
        self.initial_delay = check_seconds(initial_delay, "initial_delay", zero=False)
        self.max_delay = check_seconds(max_delay, "max_delay", zero=False)
        if self.max_delay < self.initial_delay:
            raise ValueError(
                f"max_delay must be >= initial_delay ({initial_delay!r}), got {max_delay!r}"
            )
        valid = isinstance(factor, int | float) and not isinstance(factor, bool)
        if not valid or not math.isfinite(factor) or factor < 1:
            raise ValueError(f"factor must be >= 1, got {factor!r}")
        valid = isinstance(jitter, int | float) and not isinstance(jitter, bool)
        if not valid or not 0 <= jitter < 1:
            raise ValueError(f"jitter must be >= 0 and < 1, got {jitter!r}")
        if max_retries is not None and (
            isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0
        ):
            raise ValueError(f"max_retries must be None or an integer >= 0, got {max_retries!r}")
        for name, callback in (("on_connect", on_connect), ("on_disconnect", on_disconnect)):
            if callback is not None and not callable(callback):
                raise TypeError(f"{name} must be callable, got {callback!r}")
        self.endpoint = spec
        self.factor = float(factor)
        self.jitter = float(jitter)
        self.max_retries = max_retries
        self.attempts = 0
        self.retries = 0
        self.delay: float | None = None
        self.failure: BaseException | None = None
        self._factory: Callable[[], Any] = functools.partial(protocol, **kwargs)
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._running = False
        self._timer: TimerHandle | None = None
        self._attempt: asyncio.Task[None] | None = None
        self._protocol: Any = None
        self._transport: asyncio.BaseTransport | None = None
        self._lost: asyncio.Future[None] | None = None
        self._waiters: set[asyncio.Future[None]] = set()
        self._callbacks: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        state = "connected" if self.connected else "running" if self._running else "stopped"
        return f"<Reconnecting {self.endpoint.text!r} {state}>"

    @property
    def protocol(self) -> Any:
        """The protocol of the current connection, or None."""
        return self._protocol

    @property
    def connected(self) -> bool:
        """Whether a connection is up now."""
        return self._protocol is not None

    @property
    def running(self) -> bool:
        """Whether it is connected or trying to be (not stopped, not given up)."""
        return self._running

    def next_delay(self) -> float:
        """The delay before the next retry, drawing its jitter from ``rng``.

        Called once each time a retry is scheduled (so it advances ``rng``); override it
        for another policy. Retry *k* since the last connection gets
        ``min(max_delay, initial_delay * factor ** (k - 1))``, jittered, capped at
        ``max_delay``.
        """
        try:
            delay = min(self.max_delay, self.initial_delay * self.factor**self.retries)
        except OverflowError:
            delay = self.max_delay
        if self.jitter:
            delay *= self._rng.uniform(1 - self.jitter, 1 + self.jitter)
        return min(self.max_delay, delay)

    def start(self) -> None:
        """Begin connecting (the first attempt is made at once).

        Raises:
            RuntimeError: it is already running, or there is no running event loop.
        """
        if self._running:
            raise RuntimeError(f"{self!r} is already running")
        if self._clock is None:
            self._clock = asyncio.get_running_loop()
        self._running = True
        self.retries = 0
        self.failure = None
        self._launch()

    async def stop(self) -> None:
        """Stop retrying and close the current connection (waiting until it is closed).

        ``on_disconnect`` has run by the time it returns. Calling it again is harmless.
        """
        self._running = False
        self.delay = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._attempt is not None:
            self._attempt.cancel()
            await asyncio.gather(self._attempt, return_exceptions=True)
        transport, lost = self._transport, self._lost
        if transport is not None and lost is not None:
            transport.close()
            try:
                await asyncio.wait_for(asyncio.shield(lost), _CLOSE_WAIT_S)
            except TimeoutError:
                cast(asyncio.Transport, transport).abort()
                await lost
        self._notify()
        if self._callbacks:
            await asyncio.gather(*self._callbacks, return_exceptions=True)

    async def wait_connected(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 -- asked for by callers, like wait_for
    ) -> Any:
        """Wait until a connection is up and return its protocol.

        Args:
            timeout: seconds of real time to wait at most (None: no limit).

        Raises:
            TimeoutError: not connected within ``timeout``.
            ConnectionError: the client is stopped or gave up (the last failure is the
                cause).
        """
        async with asyncio.timeout(timeout):
            while True:
                if self._protocol is not None:
                    return self._protocol
                if not self._running:
                    raise ConnectionError(f"{self!r} is not connecting") from self.failure
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.add(waiter)
                try:
                    await waiter
                finally:
                    self._waiters.discard(waiter)

    async def __aenter__(self) -> Reconnecting:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- the machinery ------------------------------------------------------------

    def _notify(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _launch(self) -> None:
        self._timer = None
        self.delay = None
        if not self._running:
            return
        self.attempts += 1
        self._attempt = asyncio.ensure_future(self._connect())

    async def _connect(self) -> None:
        try:
            _, relay = await connect(self.endpoint, self._relay)
            if isinstance(relay, _Refused):
                raise relay.error
        except OSError as exc:
            self.failure = exc
            self._retry(f"connecting to {self.endpoint.text!r} failed ({exc!r})")
        except Exception as exc:
            self.failure = exc
            self._running = False
            logger.error("%r: connecting raised; giving up", self, exc_info=(type(exc), exc, None))
            self._notify()
        finally:
            self._attempt = None

    def _relay(self) -> asyncio.BaseProtocol:
        try:
            protocol = self._factory()
        except Exception as exc:
            # raising here would leave asyncio's freshly connected socket open
            return _Refused(exc)
        if isinstance(protocol, asyncio.BufferedProtocol):
            return _BufferedRelay(self, protocol)
        return _Relay(self, protocol)

    def _retry(self, reason: str) -> None:
        if not self._running:
            return
        if self.max_retries is not None and self.retries >= self.max_retries:
            self._running = False
            logger.error("%s; giving up after %d retries", reason, self.retries)
            self._notify()
            return
        self.delay = self.next_delay()
        self.retries += 1
        logger.warning("%s; retry %d in %.3g s", reason, self.retries, self.delay)
        assert self._clock is not None  # set by start()
        self._timer = self._clock.call_later(self.delay, self._launch)

    def _made(self, protocol: Any, transport: asyncio.BaseTransport) -> None:
        if not self._running:  # stopped while the connection was being made
            transport.close()
            return
        self._protocol, self._transport = protocol, transport
        self._lost = asyncio.get_running_loop().create_future()
        self.retries = 0
        self.failure = None
        self._notify()
        self._call(self._on_connect, protocol)

    def _gone(self, protocol: Any, exc: Exception | None) -> None:
        if protocol is not self._protocol:
            return
        self._protocol, self._transport = None, None
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        self._lost = None
        self._notify()
        self._call(self._on_disconnect, protocol, exc)
        self._retry(f"connection to {self.endpoint.text!r} lost ({exc!r})")

    def _call(self, callback: Callable[..., Any] | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            result = callback(*args)
        except Exception:
            logger.exception("%r: %r raised", self, callback)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(_logged(result, self, callback))
            self._callbacks.add(task)  # held until done; stop() waits for them
            task.add_done_callback(self._callbacks.discard)


async def _logged(awaitable: Any, client: Reconnecting, callback: Any) -> None:
    try:
        await awaitable
    except Exception:
        logger.exception("%r: %r raised", client, callback)


class _Relay(asyncio.Protocol):
    """Passes every event on to the user's protocol, telling the client of the lifecycle."""

    def __init__(self, client: Reconnecting, protocol: Any) -> None:
        self._client = client
        self._protocol = protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        try:
            self._protocol.connection_made(transport)
        finally:
            self._client._made(self._protocol, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            self._protocol.connection_lost(exc)
        finally:
            self._client._gone(self._protocol, exc)

    def pause_writing(self) -> None:
        self._protocol.pause_writing()

    def resume_writing(self) -> None:
        self._protocol.resume_writing()

    def data_received(self, data: bytes) -> None:
        self._protocol.data_received(data)

    def eof_received(self) -> bool | None:
        return self._protocol.eof_received()  # type: ignore[no-any-return]


class _Refused(asyncio.Protocol):
    """Stands in for a protocol whose factory raised: it closes the connection."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class _BufferedRelay(_Relay, asyncio.BufferedProtocol):
    """The relay for a ``BufferedProtocol``: the transport fills the user's buffer."""

    def get_buffer(self, sizehint: int) -> Any:
        return self._protocol.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        self._protocol.buffer_updated(nbytes)
