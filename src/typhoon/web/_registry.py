"""Route registration: the decorators App and RouteGroup share, and RouteGroup.

Every decorator (``route``, ``get``, ``post``…, ``websocket``) is sugar over
``add_route``, which App and RouteGroup each define: App adds the route to its router,
a group records it until ``app.include(group)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from typhoon.web._hooks import ErrorHandler, F, Middleware
from typhoon.web.realtime_hooks import hooks as realtime_hooks
from typhoon.web.routing import DEFAULT_CONVERTERS, Converter, Route


def is_handler_class(endpoint: object) -> bool:
    """True for a RequestHandler subclass (anything with Tornado's handler protocol)."""
    return isinstance(endpoint, type) and hasattr(endpoint, "implemented_methods")


class _Routes:
    """What App and RouteGroup share: the decorators, all sugar over ``add_route``."""

    def add_route(
        self,
        path: str,
        endpoint: Any,
        /,  # so that handler kwargs may be called "path" (Tornado's StaticFileHandler)
        methods: Iterable[str] | None = None,
        *,
        name: str | None = None,
        host: str | None = None,
        **kwargs: Any,
    ) -> Route:
        raise NotImplementedError

    def route(
        self,
        path: str,
        methods: Iterable[str] | None = None,
        *,
        name: str | None = None,
        host: str | None = None,
        **kwargs: Any,
    ) -> Callable[[F], F]:
        """Register a view function or a RequestHandler class for ``path``.

        Example::

            @app.route("/posts/{post_id:int}")
            class PostHandler(RequestHandler):
                async def get(self, post_id: int) -> None: ...
        """

        def register(endpoint: F) -> F:
            self.add_route(path, endpoint, methods, name=name, host=host, **kwargs)
            return endpoint

        return register

    def _method(
        self, method: str, path: str, name: str | None, host: str | None
    ) -> Callable[[F], F]:
        return self.route(path, (method,), name=name, host=host)

    def get(
        self, path: str, *, name: str | None = None, host: str | None = None
    ) -> Callable[[F], F]:
        return self._method("GET", path, name, host)

    def post(
        self, path: str, *, name: str | None = None, host: str | None = None
    ) -> Callable[[F], F]:
        return self._method("POST", path, name, host)

    def put(
        self, path: str, *, name: str | None = None, host: str | None = None
    ) -> Callable[[F], F]:
        return self._method("PUT", path, name, host)

    def patch(
        self, path: str, *, name: str | None = None, host: str | None = None
    ) -> Callable[[F], F]:
        return self._method("PATCH", path, name, host)

    def delete(
        self, path: str, *, name: str | None = None, host: str | None = None
    ) -> Callable[[F], F]:
        return self._method("DELETE", path, name, host)

    def websocket(
        self, path: str, *, name: str | None = None, host: str | None = None, **options: Any
    ) -> Callable[[F], F]:
        """Route ``path`` to a WebSocket endpoint.

        The endpoint is ``async def endpoint(ws, **path_params)`` or a
        ``WebSocketHandler`` subclass (see :mod:`typhoon.realtime`). ``options`` are
        those of ``WebSocketOptions`` (``max_message_size``, ``ping_interval``,
        ``origins``, ``subprotocols``…), for a function endpoint.

        Example::

            @app.websocket("/echo")
            async def echo(ws):
                async for message in ws:
                    await ws.send(message)

        Raises:
            TypeError: the endpoint is neither, or an option is unknown.
            RuntimeError: typhoon.realtime is not installed.
        """

        def register(endpoint: F) -> F:
            make = realtime_hooks.websocket_view
            if make is None:
                realtime_hooks.require("app.websocket()")
            view = make(endpoint, options)
            methods = None if is_handler_class(view) else ["GET"]
            self.add_route(path, view, methods, name=name, host=host)
            return endpoint

        return register

    def options(
        self, path: str, *, name: str | None = None, host: str | None = None
    ) -> Callable[[F], F]:
        return self._method("OPTIONS", path, name, host)


class _AnyConverter(Mapping[str, Converter]):
    """Every name is a converter (a segment): lets a group check its paths before include."""

    def __getitem__(self, name: str) -> Converter:
        return DEFAULT_CONVERTERS.get(name, DEFAULT_CONVERTERS["str"])

    def __contains__(self, name: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(DEFAULT_CONVERTERS)

    def __len__(self) -> int:
        return len(DEFAULT_CONVERTERS)


_ANY_CONVERTER = _AnyConverter()


class RouteGroup(_Routes):
    """Routes under a common prefix with their own middleware and error handlers.

    A group is a recipe (like a Flask blueprint): it records routes, and
    ``app.include(group)`` adds them to the app.

    Example::

        api = RouteGroup("/api", name="api")

        @api.get("/items/{id:int}", name="item")
        async def item(request, id): ...

        app.include(api)          # GET /api/items/1; url_for("api.item", id=1)
    """

    def __init__(
        self,
        prefix: str = "",
        *,
        name: str | None = None,
        middleware: Sequence[Middleware] = (),
        host: str | None = None,
    ) -> None:
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(
                f"group prefix must start with '/' and not end with it, got {prefix!r}"
            )
        self.prefix = prefix
        self.name = name
        self.host = host
        self.middleware: list[Middleware] = list(middleware)
        self.error_handlers: dict[type[BaseException] | int, ErrorHandler] = {}
        self._entries: list[
            tuple[str, Any, Iterable[str] | None, str | None, str | None, dict[str, Any]]
        ] = []

    def add_route(
        self,
        path: str,
        endpoint: Any,
        /,  # so that handler kwargs may be called "path" (Tornado's StaticFileHandler)
        methods: Iterable[str] | None = None,
        *,
        name: str | None = None,
        host: str | None = None,
        **kwargs: Any,
    ) -> Route:
        route = Route(
            self.prefix + path,
            endpoint,
            methods,
            name,
            kwargs,
            host or self.host,
            converters=_ANY_CONVERTER,  # the app's converters are checked by include()
        )
        self._entries.append((path, endpoint, methods, name, host, kwargs))
        return route

    def errorhandler(self, key: type[BaseException] | int) -> Callable[[F], F]:
        """Handle an exception class or a status raised by this group's routes."""

        def register(handler: F) -> F:
            self.error_handlers[key] = handler
            return handler

        return register

    def add_middleware(self, middleware: Middleware) -> None:
        self.middleware.append(middleware)
