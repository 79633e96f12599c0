"""Running an application on the HTTP server: bind, serve, drain on a signal.

:class:`HTTPServer` is the object form (used by tests and embedding code);
:func:`serve` and :func:`run` add the signal-driven lifecycle that ``typhoon run`` and
``App.run()`` use, HTTPS included (:class:`~typhoon.http.tls.TLSConfig`): several
servers (the main app, the HTTPS app, the redirect port) then start, drain and stop
together.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable, Sequence
from types import TracebackType

from typhoon.http.app_api import Application, Draining, Lifespan, ServerAware
from typhoon.http.limits import HTTPConfig
from typhoon.http.logs import configure_logging
from typhoon.http.protocol import HTTPProtocol
from typhoon.http.state import ServerState
from typhoon.http.tls import HTTPSRedirect, TLSConfig
from typhoon.net import loop as net_loop
from typhoon.net.clock import Clock
from typhoon.net.server import Server, run_until_signalled

logger = logging.getLogger("typhoon.server")

__all__ = ["HTTPServer", "configure_logging", "run", "serve"]


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
        self._tls_sockets: list[socket.socket] = []

    def _new_protocol(self) -> HTTPProtocol:
        return HTTPProtocol(self.app, self.state, self._clock)

    def _tls(self, tls: TLSConfig) -> tuple[ssl.SSLContext, Callable[[], HTTPProtocol]]:
        """The TLS context and the protocol factory of a TLS listener."""
        context = tls.server_context()
        state = self.state.for_tls(tls.hsts_header)
        return context, lambda: HTTPProtocol(self.app, state, self._clock)

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
        return _tcp_port(self._server.sockets, "TCP")

    @property
    def tls_port(self) -> int:
        """The port of the first TCP socket that speaks TLS."""
        return _tcp_port(self._tls_sockets, "TLS over TCP")

    async def start(self) -> None:
        """Run the application's startup hook and begin refreshing the Date header."""
        if self._started:
            return
        self._started = True
        if isinstance(self.app, ServerAware):
            self.app.server_started(self.state)
        if isinstance(self.app, Lifespan):
            await self.app.startup()
        self.state.start_ticking(self._clock or asyncio.get_running_loop())

    async def listen_tcp(
        self, host: str, port: int, *, reuse_port: bool = False, tls: TLSConfig | None = None
    ) -> None:
        """Listen on ``host:port``; over TLS (HTTPS) when ``tls`` is given.

        Raises:
            ValueError: the TLS certificate or key cannot be loaded (the message names
                the setting); nothing was started.
        """
        if tls is None:
            await self.start()
            await self._server.listen_tcp(host, port, reuse_port=reuse_port)
            return
        context, factory = self._tls(tls)
        await self.start()
        before = len(self._server.sockets)
        await self._server.listen_tcp(
            host, port, reuse_port=reuse_port, tls=context, factory=factory
        )
        self._tls_sockets += self._server.sockets[before:]

    async def listen_unix(self, path: str, *, tls: TLSConfig | None = None) -> None:
        if tls is None:
            await self.start()
            await self._server.listen_unix(path)
            return
        context, factory = self._tls(tls)
        await self.start()
        await self._server.listen_unix(path, tls=context, factory=factory)

    async def listen_socket(self, sock: socket.socket, *, tls: TLSConfig | None = None) -> None:
        if tls is None:
            await self.start()
            await self._server.listen_socket(sock)
            return
        context, factory = self._tls(tls)
        await self.start()
        await self._server.listen_socket(sock, tls=context, factory=factory)
        self._tls_sockets.append(sock)

    async def drain(self, timeout_s: float | None = None) -> bool:
        """Stop accepting, let in-flight requests finish, then run the shutdown hook."""
        timeout = self.config.graceful_timeout_s if timeout_s is None else timeout_s
        try:
            return await self._server.drain(timeout)
        finally:
            await self._stop()

    def abort(self) -> None:
        """Stop accepting and close every connection now (the shutdown hook runs at the
        end of :meth:`drain`)."""
        self._server.abort()

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
        if isinstance(self.app, ServerAware):
            self.app.server_stopped(self.state)
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


def _tcp_port(sockets: Sequence[socket.socket], what: str) -> int:
    for sock in sockets:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            return int(sock.getsockname()[1])
    raise RuntimeError(f"the server is not listening on {what}")


class _Together:
    """Several servers drained, aborted and stopped as one (``run_until_signalled``)."""

    def __init__(self, servers: Sequence[HTTPServer]) -> None:
        self.servers = list(servers)

    async def drain(self, timeout_s: float) -> bool:
        done = await asyncio.gather(*(server.drain(timeout_s) for server in self.servers))
        return all(done)

    def abort(self) -> None:
        for server in self.servers:
            server.abort()


async def serve(
    app: Application,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    uds: str | None = None,
    sock: socket.socket | None = None,
    ssl_sock: socket.socket | None = None,
    redirect_sock: socket.socket | None = None,
    config: HTTPConfig | None = None,
    backlog: int = 2048,
    tls: TLSConfig | None = None,
    tls_app: Application | None = None,
    on_ready: Callable[[], object] | None = None,
) -> int:
    """Serve ``app`` until SIGINT/SIGTERM; return the exit status (0 after a drain).

    ``on_ready`` is called once the server listens, its startup hooks ran and its signal
    handlers are installed (``typhoon run --workers`` tells the supervisor then).

    ``sock``, an already listening socket (inherited from a parent process, say), wins
    over ``uds``, which wins over ``host`` and ``port``.

    With ``tls`` (see :class:`TLSConfig`): the main listener speaks HTTPS, or, with
    ``tls.ssl_port``, HTTPS is served on that port too, by ``tls_app`` when given (the
    application named by ``tls.ssl_app``); ``tls.redirect_http_port`` adds a port that
    redirects to HTTPS. All of them start, drain and stop together. ``ssl_sock`` and
    ``redirect_sock``, already listening (a worker's, inherited), stand in for binding
    those two ports.

    Raises:
        ValueError: the TLS certificate or key cannot be loaded (nothing was started),
            or ``tls_app``, ``ssl_sock`` or ``redirect_sock`` is given without the
            ``tls`` setting it serves.
    """
    if tls is not None and not tls.enabled:
        tls = None
    if tls_app is not None and (tls is None or tls.ssl_port is None):
        raise ValueError("tls_app needs TLSConfig.ssl_port (the port it is served on)")
    if ssl_sock is not None and (tls is None or tls.ssl_port is None):
        raise ValueError("ssl_sock needs TLSConfig.ssl_port (the port it stands for)")
    if redirect_sock is not None and (tls is None or tls.redirect_http_port is None):
        raise ValueError("redirect_sock needs TLSConfig.redirect_http_port")
    if tls is not None:
        tls.server_context()  # fail before anything starts
    main = HTTPServer(app, config, backlog=backlog)
    servers = [main]
    try:
        main_tls = tls if tls is not None and tls.ssl_port is None else None
        scheme = "http" if main_tls is None else "https"
        if sock is not None:
            await main.listen_socket(sock, tls=main_tls)
            wheres = [f"fd {sock.fileno()} ({_describe(sock)})"]
        elif uds is not None:
            await main.listen_unix(uds, tls=main_tls)
            wheres = [f"unix:{uds}" + (" (https)" if main_tls is not None else "")]
        else:
            await main.listen_tcp(host, port, tls=main_tls)
            wheres = [_url(scheme, host, main.port)]
        if tls is not None and tls.ssl_port is not None:
            secure = main
            if tls_app is not None:
                secure = HTTPServer(tls_app, config, backlog=backlog)
                servers.append(secure)
            if ssl_sock is not None:
                await secure.listen_socket(ssl_sock, tls=tls)
            else:
                await secure.listen_tcp(host, tls.ssl_port, tls=tls)
            wheres.append(_url("https", host, secure.tls_port) + f" ({tls.ssl_app or 'same app'})")
        else:
            secure = main
        if tls is not None and tls.redirect_http_port is not None:
            redirect = HTTPServer(HTTPSRedirect(secure.tls_port), config)
            servers.append(redirect)
            if redirect_sock is not None:
                await redirect.listen_socket(redirect_sock)
            else:
                await redirect.listen_tcp(host, tls.redirect_http_port)
            wheres.append(_url("http", host, redirect.port) + " (redirects to HTTPS)")
    except BaseException:
        await _Together(servers).drain(0)  # the started ones run their shutdown hooks
        raise
    logger.info("typhoon serving on %s (press Ctrl+C to stop)", wheres[0])
    for where in wheres[1:]:
        logger.info("typhoon also serving on %s", where)
    if on_ready is not None:
        # Runs once the signal handlers are installed and the server waits.
        asyncio.get_running_loop().call_soon(on_ready)
    if len(servers) == 1:
        return await main.serve_until_signalled()
    group = _Together(servers)
    try:
        return await run_until_signalled(group, graceful_timeout_s=main.config.graceful_timeout_s)
    finally:
        for server in servers:
            await server._stop()  # done already after a drain; here if it was cut short


def _url(scheme: str, host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}/"


def _describe(sock: socket.socket) -> str:
    address = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return f"unix:{address}" if address else f"fd {sock.fileno()}"
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        host = str(address[0])
        return f"http://{f'[{host}]' if ':' in host else host}:{address[1]}/"
    return f"fd {sock.fileno()}"


def run(
    app: Application,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    uds: str | None = None,
    sock: socket.socket | None = None,
    ssl_sock: socket.socket | None = None,
    redirect_sock: socket.socket | None = None,
    config: HTTPConfig | None = None,
    use_uvloop: bool | None = None,
    backlog: int = 2048,
    tls: TLSConfig | None = None,
    tls_app: Application | None = None,
    on_ready: Callable[[], object] | None = None,
) -> int:
    """Create a loop (uvloop when available) and :func:`serve` on it."""
    return net_loop.run(
        serve(
            app,
            host=host,
            port=port,
            uds=uds,
            sock=sock,
            ssl_sock=ssl_sock,
            redirect_sock=redirect_sock,
            config=config,
            tls=tls,
            tls_app=tls_app,
            backlog=backlog,
            on_ready=on_ready,
        ),
        use_uvloop=use_uvloop,
    )
