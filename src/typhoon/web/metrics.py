"""An application's Prometheus metrics: requests by route, durations, connections, WebSockets.

``app.enable_metrics("/metrics")`` (or ``typhoon run --metrics``) gives the app an
:class:`AppMetrics` and a route that answers the registry's text exposition. The app
records each request once its response is done, by the *pattern* of the route that
matched (``/items/{id:int}``; ``<unmatched>`` when none did), never by the raw path,
so the number of series stays bounded. An app without metrics does no metrics work:
``App.handle`` tests one attribute.

Requests to the metrics path itself are not counted (nor in flight): a scrape reports
the application's traffic, not its own. Requests the server refuses before the
application sees them (400, 408, 413, 431 …) are not counted either; the access log
has them.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from typhoon.http.metrics import CONTENT_TYPE, DEFAULT_BUCKETS, Registry, add_process_metrics
from typhoon.http.shared_metrics import METRICS_DIR_ENV, MetricsDirectory
from typhoon.http.state import ServerState

if TYPE_CHECKING:
    from typhoon.web.request import Request

UNMATCHED = "<unmatched>"
"""The route label of a request no route matched (404, 405, a redirect to a slash …)."""


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """Whether to serve Prometheus metrics, and where.

    Raises:
        ValueError: a path that does not start with ``/`` or holds a query, a fragment,
            a route parameter or white space.
    """

    metrics: bool = field(
        default=False, metadata={"help": "serve Prometheus metrics at metrics_path"}
    )
    metrics_path: str = field(
        default="/metrics", metadata={"help": "the path the metrics are served at"}
    )

    def __post_init__(self) -> None:
        if not isinstance(self.metrics, bool):
            raise TypeError(f"MetricsConfig.metrics must be a bool, got {self.metrics!r}")
        check_metrics_path(self.metrics_path)


def check_metrics_path(path: str) -> None:
    """Raise ValueError unless ``path`` is a plain absolute path."""
    if (
        not isinstance(path, str)
        or not path.startswith("/")
        or any(c in path for c in "?#{}")
        or any(c.isspace() for c in path)
        or not path.isprintable()
    ):
        raise ValueError(f"the metrics path must be a plain path such as /metrics, got {path!r}")


class AppMetrics:
    """The standard metrics of one application, in one :class:`Registry`.

    Attributes:
        registry: add the application's own metrics here; they are exposed too.
        requests: ``typhoon_http_requests_total{route, method, status}``.
        duration: ``typhoon_http_request_duration_seconds{route, method}``: from the
            application receiving the request to its handler returning (for a stream
            or a WebSocket, its whole life).
        in_flight: ``typhoon_http_requests_in_flight``.
        connections: ``typhoon_http_connections_open``: the open connections of the
            servers serving the app, read at scrape time.
        websockets: ``typhoon_websockets_open``.

    Args:
        registry: where to register them; a new one when None.
        buckets: the duration histogram's upper bounds, in seconds.
        process: also expose the ``process_*`` metrics (CPU, memory, file descriptors).

    Under ``typhoon run --workers N`` (``TYPHOON_METRICS_DIR`` set by the supervisor),
    :attr:`shared` is the worker's :class:`~typhoon.http.shared_metrics.MetricsDirectory`
    and a scrape reports every worker's figures, merged.
    """

    def __init__(
        self,
        registry: Registry | None = None,
        *,
        buckets: tuple[float, ...] = DEFAULT_BUCKETS,
        process: bool = True,
    ) -> None:
        self.registry = registry = registry or Registry()
        self.requests = registry.counter(
            "typhoon_http_requests_total",
            "HTTP requests answered by the application, by route pattern, method and status.",
            ("route", "method", "status"),
        )
        self.duration = registry.histogram(
            "typhoon_http_request_duration_seconds",
            "Time from receiving a request to its handler returning, by route and method.",
            ("route", "method"),
            buckets=buckets,
        )
        self.in_flight = registry.gauge(
            "typhoon_http_requests_in_flight", "Requests the application is handling."
        )
        self.connections = registry.gauge(
            "typhoon_http_connections_open",
            "Open HTTP connections (WebSockets included) of the servers serving the app.",
            function=self._open_connections,
        )
        self.websockets = registry.gauge("typhoon_websockets_open", "Open WebSockets.")
        if process:
            add_process_metrics(registry)
        self._servers: list[ServerState] = []
        shared = os.environ.get(METRICS_DIR_ENV)
        # Under typhoon run --workers: the workers' figures, merged (http.shared_metrics).
        self.shared = MetricsDirectory(shared, registry) if shared else None

    def _open_connections(self) -> float:
        return sum(len(state.connections) for state in self._servers)

    def server_started(self, state: ServerState) -> None:
        if state not in self._servers:
            self._servers.append(state)
        if self.shared is not None:
            self.shared.start(asyncio.get_running_loop())

    def server_stopped(self, state: ServerState) -> None:
        if state in self._servers:
            self._servers.remove(state)
        if self.shared is not None and not self._servers:
            self.shared.stop()

    def request_finished(self, request: Request, started: float) -> None:
        """Count a request whose handler has returned (``started``: its perf_counter)."""
        elapsed = time.perf_counter() - started
        self.in_flight.dec()
        route = request.route
        label = UNMATCHED if route is None else request.root_path + route.path
        method = request.method
        self.requests.inc((label, method, str(request.exchange.status or 500)))
        self.duration.observe(elapsed, (label, method))

    def websocket_opened(self) -> None:
        self.websockets.inc()

    def websocket_closed(self) -> None:
        self.websockets.dec()

    def exposition(self) -> bytes:
        """What the metrics route answers: this process's metrics, or every worker's."""
        shared = self.shared
        text = self.registry.expose() if shared is None else shared.expose()
        return text.encode("utf-8")


__all__ = ["CONTENT_TYPE", "UNMATCHED", "AppMetrics", "MetricsConfig", "check_metrics_path"]
