"""What every connection of one server shares: config, live connections, cached headers."""

from __future__ import annotations

import logging

from typhoon.http.limits import HTTPConfig
from typhoon.http.logs import access_logger, wants_access_fields
from typhoon.http.proxy import ProxyTrust
from typhoon.http.writer import DateHeader
from typhoon.net.clock import Clock, TimerHandle
from typhoon.net.server import ConnectionSet


class ServerState:
    """Shared by the protocols of one server.

    Attributes:
        config: the server's :class:`HTTPConfig`.
        connections: the live connections, for graceful drain.
        date: the ``Date`` header line, refreshed once a second by :meth:`start_ticking`.
        server_line: the ``Server`` header line, or ``b""`` when it is omitted.
        access_log: whether to log each response; computed once.
        proxy: the trusted proxies, or None when forwarding headers are ignored.
        scheme: ``"https"`` for the connections of a TLS listener, else ``"http"``.
        hsts_line: the ``Strict-Transport-Security`` line sent over TLS, else ``b""``;
            it is part of ``server_line`` too (one line to append per response).
        access_fields: log each response as fields (JSON lines) rather than a text
            line, timing each request; computed once.
    """

    __slots__ = (
        "_tick_handle",
        "access_fields",
        "access_log",
        "config",
        "connections",
        "date",
        "hsts_line",
        "proxy",
        "scheme",
        "server_line",
    )

    def __init__(self, config: HTTPConfig | None = None) -> None:
        self.config = config or HTTPConfig()
        self.connections = ConnectionSet()
        self.date = DateHeader()
        name = self.config.server_header
        self.server_line = b"" if name is None else b"server: " + name.encode("ascii") + b"\r\n"
        self.access_log = self.config.access_log and access_logger.isEnabledFor(logging.INFO)
        proxy = self.config.proxy
        self.proxy = ProxyTrust(proxy) if proxy.proxy_headers else None
        self.scheme = "http"
        self.hsts_line = b""
        self.access_fields = self.access_log and wants_access_fields(access_logger)
        self._tick_handle: TimerHandle | None = None

    def for_tls(self, hsts: bytes | None) -> ServerState:
        """The state of this server's TLS connections: the same connections, Date
        header and config, the scheme ``https``, and the HSTS line when ``hsts`` is
        given (the header's value)."""
        tls = ServerState.__new__(ServerState)
        for name in ServerState.__slots__:
            setattr(tls, name, getattr(self, name))
        tls._tick_handle = None  # the Date header is refreshed by this state's ticking
        tls.scheme = "https"
        if hsts is not None:
            tls.hsts_line = b"strict-transport-security: " + hsts + b"\r\n"
            tls.server_line = self.server_line + tls.hsts_line
        return tls

    def start_ticking(self, clock: Clock) -> None:
        """Refresh the Date header once a second until :meth:`stop_ticking`."""

        def tick() -> None:
            self.date.refresh(clock.time() if _is_wall_clock(clock) else None)
            self._tick_handle = clock.call_later(1.0, tick)

        self.stop_ticking()
        self._tick_handle = clock.call_later(1.0, tick)

    def stop_ticking(self) -> None:
        if self._tick_handle is not None:
            self._tick_handle.cancel()
            self._tick_handle = None


def _is_wall_clock(clock: Clock) -> bool:
    # An event loop's time() is monotonic, not wall-clock; fake clocks used in tests
    # declare ``wall_clock = True`` so that the Date header follows them.
    return bool(getattr(clock, "wall_clock", False))
