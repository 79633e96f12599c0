"""Raw servers that live and die with an App: ``app.serve_also("tcp:9000", LineChat)``.

A :class:`NetService` is one ``typhoon.net`` server declared on an app. It follows the
app's lifecycle, whether the app runs under ``typhoon run``, ``app.run()``, an
``HTTPServer`` or the test client:

* **startup**: after the app's startup hooks (so what they prepare is ready), every
  service starts listening; a port that cannot be bound fails the startup.
* **drain**: when the HTTP server begins a graceful drain, every service stops
  accepting and asks its connections to :meth:`~typhoon.net.Protocol.shutdown`.
* **shutdown**: before the app's shutdown hooks run (and before the pub/sub hub
  closes), the drains are awaited; connections still open after ``drain_timeout``
  are aborted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from typhoon.net.endpoints import Endpoint, parse_server
from typhoon.net.listen import Listener, serve

logger = logging.getLogger("typhoon.server")


class NetService:
    """A raw server declared with :meth:`App.serve_also <typhoon.web.app.App.serve_also>`.

    Attributes:
        endpoint: where it listens (parsed, so a bad string fails at declaration).
        protocol: the protocol class (or factory) each connection gets.
        listener: the running :class:`~typhoon.net.Listener`, None when not started.
        drain_timeout: seconds a drain waits before aborting connections.
    """

    def __init__(
        self,
        endpoint: str | Endpoint,
        protocol: Callable[..., asyncio.BaseProtocol],
        options: dict[str, Any],
        drain_timeout: float,
    ) -> None:
        if not callable(protocol):
            raise TypeError(f"protocol must be a Protocol class or a callable, got {protocol!r}")
        if isinstance(drain_timeout, bool) or not isinstance(drain_timeout, int | float):
            raise TypeError(f"drain_timeout must be a number of seconds, got {drain_timeout!r}")
        if not drain_timeout >= 0:
            raise ValueError(f"drain_timeout must be >= 0, got {drain_timeout!r}")
        self.endpoint = parse_server(endpoint) if isinstance(endpoint, str) else endpoint
        self.protocol = protocol
        self.drain_timeout = float(drain_timeout)
        self.listener: Listener | None = None
        self._options = options
        self._drain: asyncio.Future[bool] | None = None

    def __repr__(self) -> str:
        name = getattr(self.protocol, "__name__", self.protocol)
        return f"<NetService {self.endpoint.text!r} {name}>"

    @property
    def port(self) -> int:
        """The bound port (after startup; handy with ``tcp:0``).

        Raises:
            RuntimeError: the service is not listening, or listens on a Unix socket.
        """
        if self.listener is None:
            raise RuntimeError(f"{self!r} is not listening (the app has not started)")
        return self.listener.port

    async def start(self) -> None:
        if self.listener is not None:
            return
        self._drain = None
        self.listener = await serve(self.endpoint, self.protocol, **self._options)
        logger.info("typhoon also serving %s with %s", self.endpoint.text, self._name())

    def draining(self) -> None:
        """Begin the drain (from the server's drain, which is synchronous)."""
        if self.listener is not None and self._drain is None:
            self._drain = asyncio.ensure_future(self.listener.drain(self.drain_timeout))

    async def stop(self) -> None:
        """Finish the drain (beginning it if the server did not) and forget the listener."""
        if self.listener is None:
            return
        self.draining()
        assert self._drain is not None
        try:
            await self._drain
        finally:
            self.listener = None
            self._drain = None

    def _name(self) -> str:
        return str(getattr(self.protocol, "__qualname__", self.protocol))
