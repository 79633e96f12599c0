"""What every connection of one server shares: config, live connections, cached headers."""

from __future__ import annotations

import logging

from typhoon.http.limits import HTTPConfig
from typhoon.http.writer import DateHeader
from typhoon.net.clock import Clock, TimerHandle
from typhoon.net.server import ConnectionSet

access_logger = logging.getLogger("typhoon.access")


class ServerState:
    """Shared by the protocols of one server.

    Attributes:
        config: the server's :class:`HTTPConfig`.
        connections: the live connections, for graceful drain.
        date: the ``Date`` header line, refreshed once a second by :meth:`start_ticking`.
        server_line: the ``Server`` header line, or ``b""`` when it is omitted.
        access_log: whether to log each response; computed once.
    """

    __slots__ = ("_tick_handle", "access_log", "config", "connections", "date", "server_line")

    def __init__(self, config: HTTPConfig | None = None) -> None:
        self.config = config or HTTPConfig()
        self.connections = ConnectionSet()
        self.date = DateHeader()
        name = self.config.server_header
        self.server_line = b"" if name is None else b"server: " + name.encode("ascii") + b"\r\n"
        self.access_log = self.config.access_log and access_logger.isEnabledFor(logging.INFO)
        self._tick_handle: TimerHandle | None = None

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
