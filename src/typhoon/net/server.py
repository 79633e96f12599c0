"""Listening sockets, the set of live connections, and graceful drain.

A :class:`Server` binds one or more listening sockets (TCP, Unix domain, or a socket
inherited from a parent), hands each accepted connection to a protocol built by its
factory, and knows every live connection through a :class:`ConnectionSet`. Protocols
add themselves to that set when they connect and remove themselves when they are
lost, so the server can stop them all in an orderly way.

Graceful drain, in order:

1. stop accepting (the listening sockets close, new connections are refused);
2. ask every connection to :meth:`Drainable.shutdown`: idle ones close at once, busy
   ones finish the work in hand and then close;
3. wait until the set is empty or the deadline passes, then :meth:`Drainable.abort`
   whatever is left.

:func:`run_until_signalled` ties this to SIGINT/SIGTERM: the first signal drains, a
second one aborts at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import ssl
import stat
from collections.abc import Callable, Iterator
from typing import Protocol

logger = logging.getLogger("typhoon.server")

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Drainable(Protocol):
    """A live connection as the server sees it."""

    def shutdown(self) -> None:
        """Finish the work in hand, then close; close at once when idle."""

    def abort(self) -> None:
        """Close now, dropping any work in hand."""


class ConnectionSet:
    """The live connections of a server, with a way to wait until none is left."""

    __slots__ = ("_items", "_waiters")

    def __init__(self) -> None:
        self._items: set[Drainable] = set()
        self._waiters: list[asyncio.Future[None]] = []

    def add(self, connection: Drainable) -> None:
        self._items.add(connection)

    def discard(self, connection: Drainable) -> None:
        self._items.discard(connection)
        if not self._items and self._waiters:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Drainable]:
        return iter(list(self._items))

    async def wait_empty(self) -> None:
        """Return once no connection is left."""
        if not self._items:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter

    async def drain(self, timeout_s: float) -> int:
        """Ask every connection to shut down, wait up to ``timeout_s`` for them to go,
        abort the rest.

        Returns:
            How many connections had to be aborted (0: all finished in time).
        """
        for connection in self:
            connection.shutdown()
        try:
            await asyncio.wait_for(self.wait_empty(), timeout_s)
        except TimeoutError:
            left = list(self)
            for connection in left:
                connection.abort()
            return len(left)
        return 0


ProtocolFactory = Callable[[], asyncio.Protocol]


class Server:
    """Listening sockets plus the connections they accepted.

    Args:
        protocol_factory: called once per accepted connection.
        connections: the set that the protocols register themselves in. The server
            drains exactly these connections.
        backlog: the listen backlog of each socket.
        on_drain: called when a drain begins, after accepting stopped and before the
            connections are asked to finish (an exception it raises is logged).
    """

    def __init__(
        self,
        protocol_factory: ProtocolFactory,
        connections: ConnectionSet,
        *,
        backlog: int = 2048,
        on_drain: Callable[[], object] | None = None,
    ) -> None:
        if backlog < 1:
            raise ValueError(f"backlog must be at least 1, got {backlog!r}")
        self._factory = protocol_factory
        self.connections = connections
        self._backlog = backlog
        self._on_drain = on_drain
        self._listeners: list[asyncio.AbstractServer] = []
        self._sockets: list[socket.socket] = []

    @property
    def sockets(self) -> list[socket.socket]:
        """The listening sockets, in the order they were opened."""
        return list(self._sockets)

    async def listen_tcp(
        self,
        host: str,
        port: int,
        *,
        reuse_port: bool = False,
        tls: ssl.SSLContext | None = None,
        factory: ProtocolFactory | None = None,
    ) -> None:
        """Listen on ``host:port`` (port 0 picks a free port; see :attr:`sockets`).

        ``tls``: speak TLS on it with this server context. ``factory``: build this
        listener's protocols with it instead of the server's own (their connections
        must still join :attr:`connections`).
        """
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {port!r}")
        loop = asyncio.get_running_loop()
        listener = await loop.create_server(
            factory or self._factory,
            host,
            port,
            backlog=self._backlog,
            reuse_port=reuse_port or None,
            ssl=tls,
        )
        self._add(listener)

    async def listen_unix(
        self,
        path: str,
        *,
        tls: ssl.SSLContext | None = None,
        factory: ProtocolFactory | None = None,
    ) -> None:
        """Listen on the Unix domain socket ``path``; a stale socket file is replaced."""
        check_uds_path(path)
        loop = asyncio.get_running_loop()
        listener = await loop.create_unix_server(
            factory or self._factory, path, backlog=self._backlog, ssl=tls
        )
        self._add(listener)

    async def listen_socket(
        self,
        sock: socket.socket,
        *,
        tls: ssl.SSLContext | None = None,
        factory: ProtocolFactory | None = None,
    ) -> None:
        """Serve on an already bound and listening socket (inherited or pre-made)."""
        loop = asyncio.get_running_loop()
        if sock.family == socket.AF_UNIX:
            listener = await loop.create_unix_server(factory or self._factory, sock=sock, ssl=tls)
        else:
            listener = await loop.create_server(
                factory or self._factory, sock=sock, backlog=self._backlog, ssl=tls
            )
        self._add(listener)

    def _add(self, listener: asyncio.AbstractServer) -> None:
        self._listeners.append(listener)
        self._sockets.extend(getattr(listener, "sockets", ()) or ())

    def stop_accepting(self) -> None:
        """Close the listening sockets; live connections are left alone."""
        for listener in self._listeners:
            listener.close()
        self._listeners.clear()

    async def drain(self, timeout_s: float) -> bool:
        """Stop accepting, let live connections finish, abort stragglers.

        Returns:
            True when every connection finished within ``timeout_s``.
        """
        self.stop_accepting()
        if self._on_drain is not None:
            try:
                self._on_drain()
            except Exception:
                logger.exception("exception in the drain callback")
        aborted = await self.connections.drain(timeout_s)
        if aborted:
            logger.warning(
                "graceful timeout of %.1fs passed; aborting %d connection(s)", timeout_s, aborted
            )
        return not aborted

    def abort(self) -> None:
        """Stop accepting and close every connection now."""
        self.stop_accepting()
        for connection in self.connections:
            connection.abort()


def check_uds_path(path: str) -> None:
    """Refuse to replace a file that is not a socket (asyncio would unlink it)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ValueError(f"uds path {path!r} exists and is not a socket")


class Stoppable(Protocol):
    """What :func:`run_until_signalled` stops: a :class:`Server`, or several together."""

    async def drain(self, timeout_s: float) -> bool: ...

    def abort(self) -> None: ...


async def run_until_signalled(server: Stoppable, *, graceful_timeout_s: float) -> int:
    """Serve until SIGINT or SIGTERM, then drain; a second signal aborts.

    Returns:
        The process exit status: 0 after a drain (graceful or timed out), 1 when a
        second signal forced the exit.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    forced = False

    def on_signal(signum: int) -> None:
        nonlocal forced
        if not stop.is_set():
            logger.info(
                "received %s; draining (send it again to force exit)", signal.Signals(signum).name
            )
            stop.set()
        else:
            logger.warning("received %s again; forcing exit", signal.Signals(signum).name)
            forced = True
            server.abort()

    for sig in HANDLED_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        await stop.wait()
        drain = asyncio.ensure_future(server.drain(graceful_timeout_s))
        await asyncio.wait({drain})
    finally:
        for sig in HANDLED_SIGNALS:
            loop.remove_signal_handler(sig)
    return 1 if forced else 0
