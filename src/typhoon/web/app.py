"""App: routes, views and the bridge from the HTTP server to them.

This is the first cut of the web layer: exact-path routes, function views that return
a value, 404/405, startup and shutdown hooks, ``app.run()``. Path parameters, handler
classes, middleware and the rest of the web layer build on the same ``add_route``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from typhoon.http.exchange import Exchange
from typhoon.http.limits import HTTPConfig
from typhoon.http.server import configure_logging
from typhoon.http.server import run as run_server
from typhoon.web.errors import HTTPError
from typhoon.web.request import Request
from typhoon.web.response import HTML, JSON, Response, Text

View = Callable[[Request], Awaitable[Any]]
V = TypeVar("V", bound=View)
Hook = Callable[[], Awaitable[None]]

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class App:
    """A typhoon application.

    Example::

        app = App()

        @app.get("/")
        async def home(request):
            return {"hello": "world"}

        app.run(port=8000)
    """

    def __init__(self) -> None:
        self._routes: dict[str, dict[str, View]] = {}
        self._startup: list[Hook] = []
        self._shutdown: list[Hook] = []
        self._frozen = False

    # -- registration -------------------------------------------------------------------

    def add_route(self, path: str, view: View, methods: Iterable[str] = ("GET",)) -> None:
        """Call ``view(request)`` for requests to ``path`` with one of ``methods``.

        Raises:
            RuntimeError: the app is already serving.
            ValueError: the path does not start with ``/``, a method is unknown, or the
                route is already taken.
            TypeError: the view is not an ``async def`` function.
        """
        self._check_not_frozen("add_route")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"path must be a string starting with '/', got {path!r}")
        if not inspect.iscoroutinefunction(view):
            raise TypeError(f"view for {path!r} must be an async def function, got {view!r}")
        table = self._routes.setdefault(path, {})
        wanted = [m.upper() for m in methods]
        for method in wanted:
            if method not in KNOWN_METHODS:
                raise ValueError(f"unknown HTTP method {method!r} for route {path!r}")
            if method in table:
                raise ValueError(f"route {method} {path!r} is already registered")
        for method in wanted:
            table[method] = view
        if "GET" in wanted and "HEAD" not in table:
            table["HEAD"] = view

    def route(self, path: str, methods: Iterable[str] = ("GET",)) -> Callable[[V], V]:
        """Decorator form of :meth:`add_route`."""

        def register(view: V) -> V:
            self.add_route(path, view, methods)
            return view

        return register

    def get(self, path: str) -> Callable[[V], V]:
        return self.route(path, ("GET",))

    def post(self, path: str) -> Callable[[V], V]:
        return self.route(path, ("POST",))

    def put(self, path: str) -> Callable[[V], V]:
        return self.route(path, ("PUT",))

    def patch(self, path: str) -> Callable[[V], V]:
        return self.route(path, ("PATCH",))

    def delete(self, path: str) -> Callable[[V], V]:
        return self.route(path, ("DELETE",))

    def on_startup(self, hook: Hook) -> Hook:
        """Run ``hook`` once before the first request is served."""
        self._check_not_frozen("on_startup")
        self._startup.append(hook)
        return hook

    def on_shutdown(self, hook: Hook) -> Hook:
        """Run ``hook`` once after the server has drained."""
        self._shutdown.append(hook)
        return hook

    def _check_not_frozen(self, what: str) -> None:
        if self._frozen:
            raise RuntimeError(f"{what}() called after the app started serving")

    # -- serving ------------------------------------------------------------------------

    async def startup(self) -> None:
        self._frozen = True
        for hook in self._startup:
            await hook()

    async def shutdown(self) -> None:
        for hook in reversed(self._shutdown):
            await hook()

    async def handle(self, exchange: Exchange) -> None:
        """Route ``exchange`` to its view and send what the view returns."""
        self._frozen = True
        request = Request(exchange, self)
        try:
            response = await self._dispatch(request)
        except HTTPError as exc:
            response = Text(f"{exc.status} {exc.reason}\n", exc.status)
        response.send(exchange)

    async def _dispatch(self, request: Request) -> Response:
        table = self._routes.get(request.path)
        if table is None:
            raise HTTPError(404)
        view = table.get(request.method)
        if view is None:
            allow = ", ".join(sorted(table))
            return Text("405 Method Not Allowed\n", 405, {"allow": allow})
        return to_response(await view(request))

    def run(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        uds: str | None = None,
        config: HTTPConfig | None = None,
        log_level: str = "info",
    ) -> int:
        """Serve this app until SIGINT/SIGTERM, then drain; return the exit status."""
        config = config or HTTPConfig()
        configure_logging(log_level, access_log=config.access_log)
        return run_server(self, host=host, port=port, uds=uds, config=config)


def to_response(value: Any) -> Response:
    """Turn what a view returned into a Response.

    str → HTML, bytes → octet-stream, dict or list → JSON, None → 204,
    ``(body, status)`` or ``(body, status, headers)`` → the same with that status.
    """
    if isinstance(value, Response):
        return value
    if isinstance(value, str):
        return HTML(value)
    if isinstance(value, bytes):
        return Response(value, media_type="application/octet-stream")
    if isinstance(value, dict | list):
        return JSON(value)
    if value is None:
        return Response(status=204)
    if isinstance(value, tuple) and len(value) in (2, 3):
        response = to_response(value[0])
        response.status = value[1]
        if len(value) == 3:
            response.raw_headers.extend(
                (k.encode("latin-1"), v.encode("latin-1")) for k, v in value[2].items()
            )
        return response
    raise TypeError(f"a view returned {type(value).__name__}, which is not a response")
