"""App: the routing table, the middleware chain, hooks and error handlers.

A request goes through, outermost first::

    middleware (app-wide) → before_request hooks → route → group middleware
        → view or RequestHandler → after_request hooks (in reverse)

An exception anywhere inside becomes a response through the error handlers (an
HTTPError by its status first; then by exception class along the MRO; a route group's
handlers before the app's), so middleware always sees a response. What no handler
claims is logged once and answered by the app's 500 handler if it has one, else by a
plain 500 (a traceback page in debug mode).

App's other parts live beside this module (their public names re-exported here): the
route decorators and :class:`RouteGroup` in ``_registry.py``; startup, drain and
shutdown (and the hooks, services and pub/sub hub they run) in ``_lifecycle.py``; the
shapes of middleware, hooks and error handlers in ``_hooks.py``; :func:`to_response`
in ``response.py``.
"""

from __future__ import annotations

import contextlib
import functools
import html
import inspect
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar, cast

from typhoon.http.app_api import Mountable
from typhoon.http.exchange import Exchange
from typhoon.http.limits import HTTPConfig
from typhoon.http.logs import LogConfig, configure_logging
from typhoon.http.metrics import CONTENT_TYPE, Registry
from typhoon.http.server import run as run_server
from typhoon.net.tasks import Supervisor
from typhoon.web._hooks import (
    AfterHook,
    BeforeHook,
    CallNext,
    ErrorHandler,
    F,
    Hook,
    Middleware,
    _call,
    _find_handler,
    _link,
)
from typhoon.web._lifecycle import _Lifecycle
from typhoon.web._registry import RouteGroup, _Routes, is_handler_class
from typhoon.web.asgi import Receive, Scope, Send, serve_asgi
from typhoon.web.errors import HTTPError
from typhoon.web.jobs import Job
from typhoon.web.metrics import AppMetrics, check_metrics_path
from typhoon.web.request import Request
from typhoon.web.response import HTML, Redirect, Response, Sent, Text, to_response
from typhoon.web.routing import (
    DEFAULT_CONVERTERS,
    Converter,
    MethodNotAllowed,
    NotFound,
    Route,
    Router,
    SlashRedirect,
    check_converters,
)
from typhoon.web.services import NetService
from typhoon.web.templates import Templates

__all__ = [
    "AfterHook",
    "App",
    "BeforeHook",
    "CallNext",
    "ErrorHandler",
    "Hook",
    "Lifespan",
    "Middleware",
    "RouteGroup",
    "is_handler_class",
    "to_response",
]

logger = logging.getLogger("typhoon.error")

Lifespan = Callable[["App"], AbstractAsyncContextManager[None]]
T = TypeVar("T")


def _is_async_callable(endpoint: object) -> bool:
    """True for an ``async def`` function, a partial of one, or an object with one as __call__."""
    return inspect.iscoroutinefunction(endpoint) or inspect.iscoroutinefunction(
        getattr(endpoint, "__call__", None)  # noqa: B004 - the __call__ itself is inspected
    )


def _host_name(host: str) -> str:
    """``host`` without its port: ``a.com:80`` → ``a.com``, ``[::1]:80`` → ``[::1]``."""
    name, colon, port = host.rpartition(":")
    if colon and (not port or port.isdigit()) and (name.endswith("]") or ":" not in name):
        return name
    return host


class App(_Routes, _Lifecycle):
    """A typhoon application.

    Args:
        routes: Tornado's list form ``[(r"/", MainHandler), (r"/i/(\\d+)", Item, {"db": db},
            "item")]`` or :class:`Route` objects.
        debug: show tracebacks in 500 pages (never in production).
        cookie_secret: the key (or ``{version: key}`` for rotation) for signed cookies.
        xsrf_cookies: check an XSRF token on every unsafe request to a handler.
        login_url: where ``@authenticated`` sends anonymous users.
        redirect_slashes: redirect ``/a/`` to ``/a`` (or back) when only that matches.
        lifespan: ``app -> async context manager`` entered at startup, left at shutdown.
        middleware: app-wide middleware, outermost first.
        converters: extra path converters by name.
        thread_pool_size: threads for sync views and handler methods.
        settings: anything else, available as ``app.settings`` (Tornado style).
            ``static="dir"`` (or Tornado's ``static_path``) serves that directory under
            ``static_url_prefix`` (``/static``) with :class:`~typhoon.web.static.StaticFiles`.
            ``templates="dir"`` (or a :class:`~typhoon.web.templates.Templates`) renders
            Jinja2 templates from that directory, autoescaped, for ``self.render`` and
            :func:`~typhoon.web.templates.render`; it is ``app.templates``.

    Example::

        app = App()

        @app.get("/")
        async def home(request):
            return {"hello": "world"}
    """

    def __init__(
        self,
        routes: Iterable[Any] | None = None,
        *,
        debug: bool = False,
        cookie_secret: str | bytes | Mapping[int, str | bytes] | None = None,
        xsrf_cookies: bool = False,
        login_url: str | None = None,
        redirect_slashes: bool = False,
        lifespan: Lifespan | None = None,
        middleware: Sequence[Middleware] = (),
        converters: Mapping[str, Converter | type[Any]] | None = None,
        thread_pool_size: int = 32,
        **settings: Any,
    ) -> None:
        if isinstance(thread_pool_size, bool) or not isinstance(thread_pool_size, int):
            raise TypeError(f"thread_pool_size must be an int, got {thread_pool_size!r}")
        if thread_pool_size < 1:
            raise ValueError(f"thread_pool_size must be at least 1, got {thread_pool_size!r}")
        self.debug = debug
        self.settings: dict[str, Any] = {
            "debug": debug,
            "cookie_secret": cookie_secret,
            "xsrf_cookies": xsrf_cookies,
            "login_url": login_url,
            **settings,
        }
        self.router = Router(redirect_slashes=redirect_slashes)
        self.converters: dict[str, Converter] = {
            **DEFAULT_CONVERTERS,
            **check_converters(converters or {}),
        }
        self.middleware: list[Middleware] = list(middleware)
        self.before_hooks: list[BeforeHook] = []
        self.after_hooks: list[AfterHook] = []
        self.error_handlers: dict[type[BaseException] | int, ErrorHandler] = {}
        self.mounts: list[tuple[str, App | Mountable]] = []
        self._startup: list[Hook] = []
        self._shutdown: list[Hook] = []
        self._lifespan = lifespan
        self._lifespan_stack: contextlib.AsyncExitStack | None = None
        self._workers = Supervisor(threads=thread_pool_size)
        self._chain: CallNext | None = None
        self._route_calls: dict[int, CallNext] = {}
        self._views: dict[int, Callable[..., Awaitable[Any]]] = {}
        self._handlers: dict[int, tuple[type[Any], dict[str, Any]]] = {}
        self._route_groups: dict[int, RouteGroup] = {}
        self._pubsub: Any = None
        self.services: list[NetService] = []
        self.jobs: list[Job] = []  # see every()
        self.metrics: AppMetrics | None = None  # see enable_metrics()
        self._metrics_path = b""
        for entry in routes or ():
            self._add_entry(entry)
        self.templates: Templates | None = None
        templates = self.settings.get("templates")
        if templates is not None:  # App(templates="templates"): Jinja2, see web/templates.py
            self.templates = (
                templates
                if isinstance(templates, Templates)
                else Templates(templates, auto_reload=debug)
            )
            if self.settings.get("template_renderer") is None:
                self.settings["template_renderer"] = self.templates.render
        static = self.settings.get("static") or self.settings.get("static_path")
        if static is not None:  # App(static="static"), or Tornado's static_path setting
            from typhoon.web.static import StaticFiles

            prefix = str(self.settings.get("static_url_prefix") or "/static").rstrip("/")
            StaticFiles(static, prefix=prefix).install(self)

    def _add_entry(self, entry: Any) -> None:
        if isinstance(entry, Route):
            self._add(entry)
            return
        if not isinstance(entry, tuple | list) or not 2 <= len(entry) <= 4:
            raise TypeError(
                "a route must be a Route or a (path, handler[, kwargs[, name]]) tuple, "
                f"got {entry!r}"
            )
        path, endpoint, *rest = entry
        kwargs = rest[0] if rest and rest[0] is not None else {}
        name = rest[1] if len(rest) > 1 else None
        if not isinstance(kwargs, dict):
            raise TypeError(f"route kwargs for {path!r} must be a dict, got {kwargs!r}")
        self.add_route(path, endpoint, name=name, **kwargs)

    # -- registration ----------------------------------------------------------------------

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
        """Route ``path`` to a view function or a RequestHandler class.

        A view is called as ``view(request, **path_params)`` (or with positional
        arguments for a Tornado-style regex) and may be ``async def`` or plain ``def``
        (run in the thread pool). A handler class answers the methods it implements;
        ``kwargs`` go to its ``initialize()``.

        Raises:
            RuntimeError: the app is already serving.
            ValueError: a bad path or method, or a name already taken.
            TypeError: the endpoint is neither callable nor a handler class.
        """
        return self._add(
            Route(path, endpoint, methods, name, kwargs, host, converters=self.converters)
        )

    def _add(self, route: Route, group: RouteGroup | None = None) -> Route:
        self._check_not_frozen("add_route")
        endpoint = route.endpoint
        if is_handler_class(endpoint):
            if route.methods is not None:
                raise ValueError(f"methods= is not used with handler class {endpoint.__name__}")
            route.method_set = frozenset(m.upper() for m in endpoint.implemented_methods())
            _check_initialize(route)
        elif not callable(endpoint):
            raise TypeError(f"route {route.path!r}: endpoint must be callable, got {endpoint!r}")
        elif route.kwargs:
            raise TypeError(
                f"route {route.path!r}: keyword arguments {sorted(route.kwargs)} are only "
                "for handler classes"
            )
        self.router.add(route, implicit_name=_implicit_name(endpoint, group))
        if group is not None:
            self._route_groups[id(route)] = group
        return route

    def include(self, group: RouteGroup) -> None:
        """Add the routes of ``group``; names become ``group.name + "." + name``.

        The group's middleware and error handlers are read when serving starts, so
        they may still be added after ``include``.

        Raises:
            RuntimeError: the app is already serving.
            ValueError: a route names a converter the app does not have, or a name is taken.
        """
        self._check_not_frozen("include")
        routes = [
            Route(
                group.prefix + path,
                endpoint,
                methods,
                f"{group.name}.{name}" if group.name and name else name,
                kwargs,
                host or group.host,
                converters=self.converters,
            )
            for path, endpoint, methods, name, host, kwargs in group._entries
        ]
        for route in routes:
            self._add(route, group)

    def mount(self, prefix: str, app: App | Mountable) -> None:
        """Serve ``app`` under ``prefix``; it sees paths without the prefix.

        ``app`` is another typhoon App, or any :class:`~typhoon.http.app_api.Mountable`
        application, such as an ASGI or WSGI app in typhoon's hosts. A mounted app's
        startup, drain and shutdown follow this one's, when it has them.

        Raises:
            ValueError: ``prefix`` does not start with ``/`` or ends with it.
            TypeError: ``app`` is neither an App nor mountable.
        """
        self._check_not_frozen("mount")
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ValueError(
                f"mount prefix must start with '/' and not end with it, got {prefix!r}"
            )
        if not isinstance(app, App | Mountable):
            raise TypeError(
                "mount() takes a typhoon App or a mountable application (one with "
                f"handle_mounted(exchange, root_path)), got {app!r}"
            )
        self.mounts.append((prefix, app))

    def add_middleware(self, middleware: Middleware) -> None:
        """Add app-wide middleware; the first added is the outermost."""
        self._check_not_frozen("add_middleware")
        self.middleware.append(middleware)

    def before_request(self, hook: F) -> F:
        """Run ``hook(request)`` before routing; a returned value short-circuits as the response."""
        self._check_not_frozen("before_request")
        self.before_hooks.append(hook)
        return hook

    def after_request(self, hook: F) -> F:
        """Run ``hook(request, response)`` after the view; it may return a new response."""
        self._check_not_frozen("after_request")
        self.after_hooks.append(hook)
        return hook

    def errorhandler(self, key: type[BaseException] | int) -> Callable[[F], F]:
        """Handle an exception class (and its subclasses) or an HTTP status.

        Example::

            @app.errorhandler(404)
            async def not_found(request, exc):
                return JSON({"error": "not found"}, status=404)
        """

        def register(handler: F) -> F:
            self.error_handlers[key] = handler
            return handler

        return register

    def _check_not_frozen(self, what: str) -> None:
        if self.router.frozen:
            raise RuntimeError(f"{what}() called after the app started serving")

    def url_for(self, name: str, /, *args: Any, **params: Any) -> str:
        """The path of the route called ``name``. Raises KeyError or ValueError.

        ``name`` is a route's ``name=``, or else its view's function name (Flask's
        endpoint; ``"group.function"`` in a named route group), unless several views
        share that function name. It is positional-only, so a route may have a
        parameter called ``name``.
        """
        return self.router.url_for(name, *args, **params)

    reverse_url = url_for

    # -- metrics -----------------------------------------------------------------------------

    def enable_metrics(
        self,
        path: str = "/metrics",
        *,
        registry: Registry | None = None,
        process: bool = True,
    ) -> AppMetrics:
        """Record Prometheus metrics, and serve them at ``path`` (GET, text format 0.0.4).

        Requests are counted by route pattern, method and status, and timed by route
        and method; open connections and WebSockets are gauges (see
        :class:`~typhoon.web.metrics.AppMetrics`). Requests to ``path`` itself are not
        counted. Under ``typhoon run --workers N`` a scrape reports every worker's
        figures, merged (:mod:`typhoon.http.shared_metrics`).

        Example::

            metrics = app.enable_metrics()
            jobs = metrics.registry.counter("app_jobs_total", "Jobs run.")

        Args:
            path: where to serve them.
            registry: a registry to add the standard metrics to (one is made if None).
            process: also expose ``process_*`` metrics (CPU, memory, file descriptors).

        Returns:
            The metrics; add your own to its ``registry``.

        Raises:
            RuntimeError: the app is already serving, or metrics are already enabled.
            ValueError: ``path`` is not a plain absolute path.
        """
        self._check_not_frozen("enable_metrics")
        if self.metrics is not None:
            raise RuntimeError("metrics are already enabled on this app")
        check_metrics_path(path)
        metrics = AppMetrics(registry, process=process)

        async def serve_metrics(request: Request) -> Response:
            return Response(metrics.exposition(), media_type=CONTENT_TYPE)

        self.add_route(path, serve_metrics, ["GET"], name="typhoon.metrics")
        self.metrics = metrics
        self._metrics_path = path.encode("latin-1")
        return metrics

    # -- building the chain ----------------------------------------------------------------

    def _guard(self, call_next: CallNext) -> CallNext:
        """Make ``call_next`` return a response for any exception raised inside it.

        So every app-wide middleware receives a response (and can add CORS headers or
        a request id to a 500), as the error handlers decide it.
        """

        async def guarded(request: Request) -> Response:
            try:
                return await call_next(request)
            except Exception as exc:
                return await self.handle_exception(request, exc)

        return guarded

    def freeze(self) -> None:
        """Stop accepting registrations and build the middleware chain."""
        if self.router.frozen:
            return
        self.router.freeze()
        # Outside route groups, async function views and handler classes are run by
        # _route itself, with no wrapper coroutine around them; the other routes (sync
        # views, grouped routes) get a call from _route_call.
        ungrouped = [r for r in self.router.routes if id(r) not in self._route_groups]
        self._handlers = {
            id(r): (r.endpoint, r.kwargs) for r in ungrouped if is_handler_class(r.endpoint)
        }
        self._views = {
            id(r): r.endpoint
            for r in ungrouped
            if id(r) not in self._handlers and _is_async_callable(r.endpoint)
        }
        self._route_calls = {
            id(route): self._route_call(route, self._route_groups.get(id(route)))
            for route in self.router.routes
            if id(route) not in self._views and id(route) not in self._handlers
        }
        # Without hooks, _dispatch would only turn exceptions into responses, which
        # handle() (or the guard around each middleware) does as well.
        hooks = self.before_hooks or self.after_hooks
        chain: CallNext = self._dispatch if hooks else self._route
        for middleware in reversed(self.middleware):
            chain = _link(middleware, self._guard(chain))
        self._chain = chain
        for sub in self._mounted_apps():
            if sub.metrics is None:
                sub.metrics = self.metrics  # its WebSockets count in this app's gauge
            sub.freeze()

    def _mounted_apps(self) -> list[App]:
        return [sub for _, sub in self.mounts if isinstance(sub, App)]

    # -- serving ---------------------------------------------------------------------------

    async def handle(self, exchange: Exchange, root_path: str = "") -> None:
        """The entry point the HTTP server calls for each request.

        ``root_path``: the prefix this app is mounted at by whatever serves it (see
        :meth:`handle_mounted`); ``request.path`` is then relative to it.
        """
        chain = self._chain
        if chain is None:
            self.freeze()
            chain = cast(CallNext, self._chain)
        request = Request(exchange, self)
        if root_path:
            request.enter_mount(root_path)
        metrics = self.metrics  # None: no metrics work at all
        if metrics is not None:
            if exchange.path == self._metrics_path:
                metrics = None  # a scrape does not count itself
            else:
                metrics.in_flight.inc()
                started = time.perf_counter()
        try:
            try:
                response = await chain(request)
            except Exception as exc:  # raised by middleware itself
                response = await self.handle_exception(request, exc)
            if not exchange.status:  # not answered yet
                if type(response).send is _PLAIN_SEND:  # a whole body: skip a coroutine
                    exchange.respond(response.status, response.raw_headers, response.body)
                else:
                    await response.send(exchange)
        finally:
            if request.holds_files:
                await request.close()  # uploaded files, even if the view left them open
            if metrics is not None:
                metrics.request_finished(request, started)

    def handle_mounted(self, exchange: Exchange, root_path: str) -> Coroutine[Any, Any, None]:
        """Serve ``exchange`` as :meth:`handle` does, for an app mounted at ``root_path``
        by whatever serves it (an ASGI server's ``root_path``, another host).

        ``exchange.path`` is the full path; ``request.path`` is relative to ``root_path``.
        """
        return self.handle(exchange, root_path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app as an ASGI 3 application (http, websocket, lifespan): see ``web.asgi``.

        Example::

            $ uvicorn mymodule:app
        """
        await serve_asgi(self, scope, receive, send)

    async def _dispatch(self, request: Request) -> Response:
        """Hooks, routing and the endpoint; every error becomes a response here.

        A value returned by a before_request hook is the response (the route is skipped);
        the after_request hooks run on every response, that one included (as in Flask).
        """
        try:
            short_circuit: Response | None = None
            for before in self.before_hooks:
                value = await _call(before, request)
                if value is not None:
                    short_circuit = to_response(value)
                    break
            response = short_circuit or await self._route(request)
        except Exception as exc:
            response = await self.handle_exception(request, exc)
        for after in reversed(self.after_hooks):
            try:
                replaced = await _call(after, request, response)
            except Exception as exc:
                replaced = await self.handle_exception(request, exc)
            if replaced is not None:
                response = replaced
        return response

    async def _route(self, request: Request) -> Response:
        try:
            router = self.router
            host = _host_name(request.host) if router.has_host_routes else ""
            route, args, params = router.resolve(request.method, request.path, host)
        except NotFound:
            for prefix, sub in self.mounts:
                path = request.path
                if path == prefix or path.startswith(prefix + "/"):
                    if not isinstance(sub, App):
                        exchange = request.exchange
                        await sub.handle_mounted(exchange, request.root_path + prefix)
                        return Sent(exchange.status)
                    request.enter_mount(prefix)
                    request.app = sub
                    try:
                        return await cast(CallNext, sub._chain)(request)
                    except Exception as exc:  # the mounted app's error handlers decide
                        return await sub.handle_exception(request, exc)
            raise HTTPError(404) from None
        except MethodNotAllowed as exc:
            raise HTTPError(405, headers={"allow": ", ".join(sorted(exc.allowed))}) from None
        except SlashRedirect:
            return self._slash_redirect(request)
        request.path_params = params
        request.route = route
        request.route_args = args
        view = self._views.get(id(route))
        if view is not None:
            value = await (view(request, *args, **params) if args or params else view(request))
            return value if isinstance(value, Response) else to_response(value)
        handler = self._handlers.get(id(route))
        if handler is not None:
            cls, kwargs = handler
            instance = cls(self, request, **kwargs) if kwargs else cls(self, request)
            response: Response = await instance._execute(args, params)
            return response
        return await self._route_calls[id(route)](request)

    def _slash_redirect(self, request: Request) -> Response:
        """Redirect to the raw path with its trailing slash toggled, query kept."""
        raw = request.exchange.path.decode("latin-1")
        location = raw[:-1] if raw.endswith("/") else raw + "/"
        # "/a%2F" only decodes to a trailing slash; "//host" would leave the site.
        if raw.endswith("/") != request.path.endswith("/") or location[1:2] in ("/", "\\"):
            raise HTTPError(404)
        query = request.exchange.query
        if query:
            location += "?" + query.decode("latin-1")
        return Redirect(location, 308 if request.method not in ("GET", "HEAD") else 301)

    def _route_call(self, route: Route, group: RouteGroup | None) -> CallNext:
        """The callable that runs ``route``'s endpoint, wrapped in its group's middleware."""
        endpoint = route.endpoint
        if is_handler_class(endpoint):

            async def call(request: Request) -> Response:
                handler = endpoint(self, request, **route.kwargs)
                response: Response = await handler._execute(request.route_args, request.path_params)
                return response

        elif _is_async_callable(endpoint):

            async def call(request: Request) -> Response:
                return to_response(
                    await endpoint(request, *request.route_args, **request.path_params)
                )

        else:

            async def call(request: Request) -> Response:
                work = functools.partial(
                    endpoint, request, *request.route_args, **request.path_params
                )
                return to_response(await self.run_in_thread(work))

        if group is None:
            return call
        chain: CallNext = call
        for middleware in reversed(group.middleware):
            chain = _link(middleware, chain)
        if group.error_handlers:
            inner = chain

            async def guarded(request: Request) -> Response:
                try:
                    return await inner(request)
                except Exception as exc:
                    handler = _find_handler(group.error_handlers, exc)
                    if handler is None:
                        raise
                    return to_response(await _call(handler, request, exc))

            return guarded
        return chain

    async def run_in_thread(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Call blocking ``fn(*args, **kwargs)`` on the app's bounded thread pool.

        The pool has ``thread_pool_size`` threads; sync views and handler methods run
        there too. Context variables are copied into the thread.
        """
        return await self._workers.run_in_thread(fn, *args, **kwargs)

    async def handle_exception(self, request: Request, exc: Exception) -> Response:
        """Turn ``exc`` into a response through the error handlers, or a 500."""
        handler = _find_handler(self.error_handlers, exc)
        if handler is not None:
            try:
                return to_response(await _call(handler, request, exc))
            except Exception as inner:
                exc = inner
        if isinstance(exc, HTTPError):
            return exc.response()
        target = request.exchange.target.decode("latin-1")
        logger.error("exception while handling %s %s", request.method, target, exc_info=exc)
        fallback = self.error_handlers.get(500)
        if fallback is not None and fallback is not handler:
            try:
                return to_response(await _call(fallback, request, exc))
            except Exception as inner:
                logger.error("the 500 error handler failed on %s", target, exc_info=inner)
        if self.debug:
            trace = "".join(traceback.format_exception(exc))
            return HTML(f"<h1>500 Internal Server Error</h1><pre>{html.escape(trace)}</pre>", 500)
        return Text("500 Internal Server Error\n", 500)

    def run(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        uds: str | None = None,
        config: HTTPConfig | None = None,
        log_level: str = "info",
        log_format: str = "text",
    ) -> int:
        """Serve this app until SIGINT/SIGTERM, then drain; return the exit status.

        ``log_format`` is ``"text"`` or ``"json"`` (one JSON object per line).
        """
        config = config or HTTPConfig()
        configure_logging(LogConfig.of(log_level, log_format), access_log=config.access_log)
        return run_server(self, host=host, port=port, uds=uds, config=config)


_PLAIN_SEND = Response.send


def _check_initialize(route: Route) -> None:
    """Refuse, at registration, route arguments the handler's ``initialize()`` can't take.

    Tornado finds a misspelt or missing argument at the first request, as a 500; here the
    app does not start. (A handler without an ``initialize()`` of its own refuses route
    arguments when it is created.)

    Raises:
        TypeError: naming the route, the handler and the argument.
    """
    cls = route.endpoint
    initialize = getattr(cls, "initialize", None)
    if not inspect.isfunction(initialize):
        return
    try:
        inspect.signature(initialize).bind(None, **route.kwargs)
    except TypeError as exc:
        raise TypeError(
            f"route {route.path!r}: {cls.__name__}.initialize() cannot take the route's "
            f"arguments {sorted(route.kwargs)}: {exc}"
        ) from None


def _implicit_name(endpoint: object, group: RouteGroup | None) -> str | None:
    """The name a route answers to without ``name=``: its endpoint's ``__name__``.

    Flask's rule: ``url_for("show_user")`` for ``def show_user``, and
    ``"api.show_user"`` inside a route group named ``api``. None for an endpoint
    without an identifier for a name (a lambda, a partial).
    """
    name = getattr(endpoint, "__name__", None)
    if not isinstance(name, str) or not name.isidentifier():
        return None
    if group is not None and group.name:
        return f"{group.name}.{name}"
    return name
