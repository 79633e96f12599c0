"""Running an application on the HTTP server: bind, serve, drain on a signal.

:class:`HTTPServer` is the object form (used by tests and embedding code);
:func:`serve` and :func:`run` add the signal-driven lifecycle that ``typhoon run`` and
``App.run()`` use.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from types import TracebackType

from typhoon.http.app_api import Application, Draining, Lifespan
from typhoon.http.limits import HTTPConfig
from typhoon.http.protocol import HTTPProtocol
from typhoon.http.state import ServerState
from typhoon.net import loop as net_loop
from typhoon.net.clock import Clock
from typhoon.net.server import Server, run_until_signalled

logger = logging.getLogger("typhoon.server")


class HTTPServer:
    """An HTTP server for one application.

    Example::

        async with HTTPServer(app) as server:
            await server.listen_tcp("127.0.0.1", 0)
            print(server.port)

    Args:
        app: what to call for each request.
        config: limits, timeouts and behaviour.
        clock: schedules timeouts and the Date refresh; the running loop when None.
        backlog: the listen backlog of each socket the server opens.
    """

    def __init__(
        self,
        app: Application,
        config: HTTPConfig | None = None,
        *,
        clock: Clock | None = None,
        backlog: int = 2048,
    ) -> None:
        self.app = app
        self.state = ServerState(config)
        self.config = self.state.config
        self._clock = clock
        on_drain = app.draining if isinstance(app, Draining) else None
        self._server = Server(
            self._new_protocol, self.state.connections, backlog=backlog, on_drain=on_drain
        )
        self._started = False

    def _new_protocol(self) -> HTTPProtocol:
        return HTTPProtocol(self.app, self.state, self._clock)

    @property
    def connections(self) -> int:
        """How many connections are open."""
        return len(self.state.connections)

    @property
    def sockets(self) -> list[socket.socket]:
        return self._server.sockets

    @property
    def port(self) -> int:
        """The port of the first TCP socket (useful after listening on port 0)."""
        for sock in self._server.sockets:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                return int(sock.getsockname()[1])
        raise RuntimeError("the server is not listening on TCP")

    async def start(self) -> None:
        """Run the application's startup hook and begin refreshing the Date header."""
        if self._started:
            return
        self._started = True
        if isinstance(self.app, Lifespan):
            await self.app.startup()
        self.state.start_ticking(self._clock or asyncio.get_running_loop())

    async def listen_tcp(self, host: str, port: int, *, reuse_port: bool = False) -> None:
        await self.start()
        await self._server.listen_tcp(host, port, reuse_port=reuse_port)

    async def listen_unix(self, path: str) -> None:
        await self.start()
        await self._server.listen_unix(path)

    async def listen_socket(self, sock: socket.socket) -> None:
        await self.start()
        await self._server.listen_socket(sock)

    async def drain(self, timeout_s: float | None = None) -> bool:
        """Stop accepting, let in-flight requests finish, then run the shutdown hook."""
        timeout = self.config.graceful_timeout_s if timeout_s is None else timeout_s
        try:
            return await self._server.drain(timeout)
        finally:
            await self._stop()

    async def serve_until_signalled(self) -> int:
        """Serve until SIGINT/SIGTERM, drain, and return the exit status."""
        try:
            return await run_until_signalled(
                self._server, graceful_timeout_s=self.config.graceful_timeout_s
            )
        finally:
            await self._stop()

    async def _stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self.state.stop_ticking()
        if isinstance(self.app, Lifespan):
            await self.app.shutdown()

    async def __aenter__(self) -> HTTPServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.drain()


async def serve(
    app: Application,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    uds: str | None = None,
    sock: socket.socket | None = None,
    config: HTTPConfig | None = None,
    backlog: int = 2048,
) -> int:
    """Serve ``app`` until SIGINT/SIGTERM; return the exit status (0 after a drain).

    ``sock``, an already listening socket (inherited from a parent process, say), wins
    over ``uds``, which wins over ``host`` and ``port``.
    """
    server = HTTPServer(app, config, backlog=backlog)
    if sock is not None:
        await server.listen_socket(sock)
        where = f"fd {sock.fileno()} ({_describe(sock)})"
    elif uds is not None:
        await server.listen_unix(uds)
        where = f"unix:{uds}"
    else:
        await server.listen_tcp(host, port)
        bound = server.port
        shown = f"[{host}]" if ":" in host else host
        where = f"http://{shown}:{bound}/"
    logger.info("typhoon serving on %s (press Ctrl+C to stop)", where)
    return await server.serve_until_signalled()


def run(
    app: Application,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    uds: str | None = None,
    sock: socket.socket | None = None,
    config: HTTPConfig | None = None,
    use_uvloop: bool | None = None,
    backlog: int = 2048,
) -> int:
    """Create a loop (uvloop when available) and :func:`serve` on it."""
    return net_loop.run(
        serve(app, host=host, port=port, uds=uds, sock=sock, config=config, backlog=backlog),
        use_uvloop=use_uvloop,
    )


def _describe(sock: socket.socket) -> str:
    """``http://host:port/`` or ``unix:path`` for a listening socket."""
    address = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return f"unix:{address}"
    host, port = address[0], address[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def configure_logging(level: str = "info", *, access_log: bool = True) -> None:
    """Send typhoon's logs to stderr unless the application configured logging."""
    root = logging.getLogger("typhoon")
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.propagate = False
    root.setLevel(level.upper())
    access = logging.getLogger("typhoon.access")
    if not access.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
        access.propagate = False
    access.setLevel(logging.INFO if access_log else logging.WARNING)
