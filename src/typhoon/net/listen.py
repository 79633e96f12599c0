"""Listening and connecting on endpoints: ``await serve("tcp:9000", Echo)``.

A protocol is an ``asyncio.Protocol`` (or ``DatagramProtocol`` for UDP) class, or any
callable that makes one; keyword arguments given to :func:`serve` or :func:`connect`
are passed to it, so a class and its arguments replace Twisted's Factory::

    class Echo(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            self.transport.write(data)

    listener = await serve("tcp:9000", Echo)
    ...
    await listener.close()

Three keyword names of :func:`serve` are its own and never reach the protocol:
``max_connections``, ``idle_timeout`` and ``clock``. For them, and to count and drain
connections, each stream connection's protocol sits behind a small forwarding
protocol (:class:`_Tracked`): it decides in ``connection_made`` whether the connection
is let in, builds the real protocol only then, and costs one extra call per read.

TLS uses safe defaults: TLS 1.2 or newer, the system's trust store (or ``ca=``), the
host name checked unless ``verify=no`` (tests only).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import os
import socket
import ssl
from collections.abc import Callable
from typing import Any, cast

from typhoon.net.clock import Clock, TimerHandle
from typhoon.net.endpoints import Endpoint, parse_client, parse_server
from typhoon.net.server import ConnectionSet
from typhoon.net.timers import check_seconds

logger = logging.getLogger("typhoon.net")

ProtocolFactory = Callable[..., asyncio.BaseProtocol]

REFUSAL_LOG_INTERVAL_S = 1.0  # at most one "refused" warning per listener in this time


class Listener:
    """What :func:`serve` returns: the bound sockets, the live connections, ways to stop.

    Attributes:
        endpoint: the parsed endpoint.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        server: asyncio.AbstractServer | None,
        datagram: asyncio.BaseTransport | None = None,
        gate: _Gate | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._server = server
        self._datagram = datagram
        self._gate = gate if gate is not None else _Gate(endpoint.text, None, None, None)

    def __repr__(self) -> str:
        return f"<Listener {self.endpoint.text!r}>"

    @property
    def sockets(self) -> list[socket.socket]:
        if self._datagram is not None:
            sock = self._datagram.get_extra_info("socket")
            return [sock] if sock is not None else []
        return list(getattr(self._server, "sockets", ()) or ())

    @property
    def port(self) -> int:
        """The port of the first IP socket (useful after listening on port 0).

        Raises:
            RuntimeError: a Unix socket has no port.
        """
        for sock in self.sockets:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                return int(sock.getsockname()[1])
        raise RuntimeError(f"{self.endpoint.text!r} has no port")

    @property
    def connections(self) -> int:
        """How many accepted connections are open now (always 0 for UDP)."""
        return len(self._gate.live)

    @property
    def refused(self) -> int:
        """How many connections were closed on arrival for being over ``max_connections``."""
        return self._gate.refused

    async def close(self) -> None:
        """Stop listening (connections already accepted are left alone)."""
        if self._datagram is not None:
            self._datagram.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def stop_accepting(self) -> None:
        """Close the listening sockets now; open connections are left alone.

        A connection accepted before this but not yet handed to its protocol is
        closed instead. A UDP listener is closed.
        """
        self._gate.accepting = False
        if self._datagram is not None:
            self._datagram.close()
        if self._server is not None:
            self._server.close()

    async def drain(self, timeout: float = 30.0) -> bool:  # noqa: ASYNC109 - aborts at the end
        """Stop accepting, let open connections finish, abort what is left after ``timeout``.

        Each open connection's protocol is asked to ``shutdown()`` when it has such a
        method (every :class:`typhoon.net.Protocol` does); otherwise its transport is
        closed. For UDP, drain is :meth:`stop_accepting`.

        Example::

            if not await listener.drain(timeout=10):
                log.warning("some connections had to be cut")

        Returns:
            True when every connection was gone within ``timeout`` seconds, False when
            some had to be aborted.

        Raises:
            ValueError: ``timeout`` is negative or not a number.
        """
        seconds = check_seconds(timeout, "timeout", zero=True)
        self.stop_accepting()
        aborted = await self._gate.live.drain(seconds)
        if aborted:
            logger.warning(
                "%s: %d connection(s) still open after %gs; aborting them",
                self.endpoint.text,
                aborted,
                seconds,
            )
        return not aborted

    async def __aenter__(self) -> Listener:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class _Gate:
    """The admission rules and live connections that the tracked protocols of a listener share."""

    def __init__(
        self,
        name: str,
        max_connections: int | None,
        idle_timeout: float | None,
        clock: Clock | None,
    ) -> None:
        self.name = name
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self._clock = clock
        self.live = ConnectionSet()
        self.refused = 0
        self.accepting = True
        self._warned_at = -math.inf

    @property
    def clock(self) -> Clock:
        return self._clock if self._clock is not None else asyncio.get_running_loop()

    def admit(self) -> bool:
        if not self.accepting:
            return False
        if self.max_connections is None or len(self.live) < self.max_connections:
            return True
        self.refused += 1
        now = self.clock.time()
        if now - self._warned_at >= REFUSAL_LOG_INTERVAL_S:
            self._warned_at = now
            logger.warning(
                "%s: refusing connections over max_connections=%d (%d refused so far)",
                self.name,
                self.max_connections,
                self.refused,
            )
        return False


def _ignore(data: bytes) -> None:
    """The reader of a connection that was refused: its bytes go nowhere."""


class _Tracked(asyncio.Protocol):
    """Forwards one connection to its protocol, counting it and timing its silence.

    The protocol is built in :meth:`connection_made`, once the connection is let in;
    a refused connection never reaches it. When ``idle_timeout`` is set, a timer fires
    every ``idle_timeout`` seconds: if nothing was read since the last firing, the
    protocol is asked to ``shutdown()`` (or its transport is closed), and at the next
    silent firing it is aborted. A read only sets a flag, so silence is noticed after
    between one and two ``idle_timeout``s.
    """

    __slots__ = ("_asked", "_factory", "_feed", "_gate", "_heard", "_inner", "_timer", "_transport")

    def __init__(self, gate: _Gate, factory: Callable[[], Any]) -> None:
        self._gate = gate
        self._factory = factory
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._feed: Callable[[bytes], object] = _ignore
        self._heard = False
        self._asked = False
        self._timer: TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        gate = self._gate
        stream = cast(asyncio.Transport, transport)
        if not gate.admit():
            stream.close()
            return
        try:
            inner = self._factory()
        except Exception:
            logger.exception("the protocol factory raised; closing the connection")
            stream.abort()
            return
        self._inner = inner
        self._transport = stream
        self._feed = _reader(inner)
        gate.live.add(self)
        if gate.idle_timeout is not None:
            self._timer = gate.clock.call_later(gate.idle_timeout, self._check_idle)
        inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._heard = True
        self._feed(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        inner = self._inner
        if inner is None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._gate.live.discard(self)
        inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def _check_idle(self) -> None:
        timeout = self._gate.idle_timeout
        assert timeout is not None  # the timer is armed only with an idle_timeout
        if self._heard:
            self._heard = self._asked = False
        elif not self._asked:
            self._asked = True
            self.shutdown()
        else:
            self.abort()
            return
        self._timer = self._gate.clock.call_later(timeout, self._check_idle)

    def shutdown(self) -> None:
        """The protocol's ``shutdown()`` if it has one, else close the transport."""
        shutdown = getattr(self._inner, "shutdown", None)
        if callable(shutdown):
            shutdown()
        elif self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """The protocol's ``abort()`` if it has one, else abort the transport."""
        abort = getattr(self._inner, "abort", None)
        if callable(abort):
            abort()
        elif self._transport is not None:
            self._transport.abort()


def _reader(protocol: Any) -> Callable[[bytes], object]:
    """Where a tracked connection's bytes go: ``data_received``, or a buffered protocol's buffer."""
    if not isinstance(protocol, asyncio.BufferedProtocol):
        return cast(Callable[[bytes], object], protocol.data_received)

    def fill(data: bytes) -> None:  # copies: the wrapper reads into bytes, not the buffer
        view = memoryview(data)
        while view:
            buffer = memoryview(protocol.get_buffer(len(view)))
            size = min(len(buffer), len(view))
            buffer[:size] = view[:size]
            protocol.buffer_updated(size)
            view = view[size:]

    return fill


def _factory(protocol: ProtocolFactory, kwargs: dict[str, Any]) -> Callable[[], Any]:
    if not callable(protocol):
        raise TypeError(f"protocol must be a Protocol class or a callable, got {protocol!r}")
    return functools.partial(protocol, **kwargs) if kwargs else protocol


async def serve(
    endpoint: str | Endpoint,
    protocol: ProtocolFactory,
    *,
    max_connections: int | None = None,
    idle_timeout: float | None = None,
    clock: Clock | None = None,
    **kwargs: Any,
) -> Listener:
    """Listen on ``endpoint``; each connection gets ``protocol(**kwargs)``.

    ``max_connections``, ``idle_timeout`` and ``clock`` are reserved: they configure
    the listener and are never passed to the protocol; every other keyword is.

    Example::

        listener = await serve("tcp:7000", Chat, max_connections=1000, idle_timeout=300)
        ...
        await listener.drain(timeout=10)

    Args:
        endpoint: where to listen, e.g. ``"tcp:9000"``.
        protocol: a protocol class, or any callable that returns a protocol.
        max_connections: the most connections open at once; one more is closed on
            arrival without reaching the protocol, and counted in ``refused``.
        idle_timeout: seconds without a byte received after which a connection is
            asked to ``shutdown()`` (closed if its protocol has no such method), and
            aborted after as long again; noticed within twice this time.
        clock: where the idle timers run: the running loop by default,
            ``typhoon.testing.FakeClock`` in tests.

    Raises:
        ValueError: a malformed endpoint string (naming the wrong part), or a bad
            option value (naming the option); either option on a UDP endpoint.
        OSError: the address cannot be bound.
    """
    spec = parse_server(endpoint) if isinstance(endpoint, str) else endpoint
    factory = _factory(protocol, kwargs)
    if max_connections is not None and (
        not isinstance(max_connections, int)
        or isinstance(max_connections, bool)
        or max_connections < 1
    ):
        raise ValueError(f"max_connections must be a positive int, got {max_connections!r}")
    if idle_timeout is not None:
        idle_timeout = check_seconds(idle_timeout, "idle_timeout", zero=False)
    loop = asyncio.get_running_loop()
    kind = spec.kind
    if kind == "udp":
        if max_connections is not None or idle_timeout is not None:
            raise ValueError(
                f"endpoint {spec.text!r}: max_connections and idle_timeout are for "
                "streams; UDP has no connections"
            )
        transport, _ = await loop.create_datagram_endpoint(
            factory,
            local_addr=(spec.host or "0.0.0.0", spec.port or 0),
            reuse_port=spec.flag("reuse_port") or None,
        )
        return Listener(spec, None, transport)
    gate = _Gate(spec.text, max_connections, idle_timeout, clock)

    def tracked() -> _Tracked:
        return _Tracked(gate, factory)

    if kind == "unix":
        assert spec.path is not None
        server = await loop.create_unix_server(
            tracked, spec.path, backlog=spec.int_option("backlog", 2048)
        )
        mode = spec.option("mode")
        if mode is not None:
            try:
                os.chmod(spec.path, int(mode, 8))
            except ValueError:
                server.close()
                raise ValueError(
                    f"endpoint {spec.text!r}: mode must be octal digits, got {mode!r}"
                ) from None
        return Listener(spec, server, gate=gate)
    host = spec.host or ("::" if kind == "tcp6" else "0.0.0.0")
    server = await loop.create_server(
        tracked,
        host,
        spec.port,
        family=socket.AF_INET6 if kind == "tcp6" else socket.AF_UNSPEC,
        backlog=spec.int_option("backlog", 2048),
        reuse_port=spec.flag("reuse_port") or None,
        ssl=server_tls(spec) if kind == "tls" else None,
    )
    return Listener(spec, server, gate=gate)


async def connect(
    endpoint: str | Endpoint, protocol: ProtocolFactory, **kwargs: Any
) -> tuple[asyncio.BaseTransport, Any]:
    """Connect to ``endpoint`` with ``protocol(**kwargs)``; return (transport, protocol).

    Raises:
        ValueError: a malformed endpoint string.
        OSError: the connection failed; TimeoutError past ``timeout=`` (30 s).
    """
    spec = parse_client(endpoint) if isinstance(endpoint, str) else endpoint
    factory = _factory(protocol, kwargs)
    loop = asyncio.get_running_loop()
    timeout = spec.int_option("timeout", 30)
    kind = spec.kind
    if kind == "unix":
        assert spec.path is not None
        async with asyncio.timeout(timeout):
            return await loop.create_unix_connection(factory, spec.path)
    host, port = spec.host, spec.port
    assert host is not None  # parse_client guarantees a host and a port
    assert port is not None
    if kind == "udp":
        return await loop.create_datagram_endpoint(factory, remote_addr=(host, port))
    tls = client_tls(spec) if kind == "tls" else None
    async with asyncio.timeout(timeout):
        return await loop.create_connection(
            factory,
            host,
            port,
            family=socket.AF_INET6 if kind == "tcp6" else socket.AF_UNSPEC,
            ssl=tls,
            server_hostname=(spec.option("sni") or host) if tls is not None else None,
        )


def server_tls(spec: Endpoint) -> ssl.SSLContext:
    """The server-side TLS context of a ``tls:`` endpoint (TLS 1.2+, ALPN if asked)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    cert, key = spec.option("cert"), spec.option("key")
    try:
        context.load_cert_chain(cert or "", key, spec.option("password"))
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"endpoint {spec.text!r}: cannot load cert/key: {exc}") from None
    _alpn(context, spec)
    return context


def client_tls(spec: Endpoint) -> ssl.SSLContext:
    """The client-side TLS context of a ``tls:`` endpoint."""
    context = ssl.create_default_context(cafile=spec.option("ca"))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not spec.flag("verify", True):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    cert = spec.option("cert")
    if cert is not None:
        context.load_cert_chain(cert, spec.option("key"))
    _alpn(context, spec)
    return context


def _alpn(context: ssl.SSLContext, spec: Endpoint) -> None:
    alpn = spec.option("alpn")
    if alpn:
        context.set_alpn_protocols([name for name in alpn.split(",") if name])
