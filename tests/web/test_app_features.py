"""The App core, driven in memory: registration forms, dispatch, groups, mounts, hooks, errors.

Handler classes here implement only the contract App expects of one (``implemented_methods``,
``__init__(app, request, **kwargs)``, ``async _execute(args, kwargs)``), so these tests do not
depend on ``RequestHandler`` itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from typhoon import JSON, App, HTTPError, Request, Response, Text
from typhoon.testing import ParsedResponse, connect, feed, parse_responses
from typhoon.web import Route, RouteGroup, to_response

# -- helpers -----------------------------------------------------------------------------------


def _raw(
    method: str, target: str, *, host: str | None = "t", body: bytes = b"", headers: str = ""
) -> bytes:
    head = f"{method} {target} HTTP/1.1\r\n"
    if host is not None:
        head += f"Host: {host}\r\n"
    if body or method in ("POST", "PUT", "PATCH"):
        head += f"Content-Length: {len(body)}\r\n"
    return (head + headers + "\r\n").encode("latin-1") + body


async def _send(app: App, raw: bytes) -> ParsedResponse:
    """Feed one request and wait (at most 1 s) for its whole response."""
    protocol, transport = connect(app)
    feed(protocol, raw)
    for _ in range(1000):
        await asyncio.sleep(0.001 if _ > 20 else 0)
        try:
            responses = parse_responses(bytes(transport.written), head_request=raw[:4] == b"HEAD")
        except ValueError:
            continue
        if responses:
            [response] = responses
            transport.close()
            return response
    raise AssertionError(f"no response to {raw!r}: {bytes(transport.written)!r}")


async def _get(app: App, target: str, **options: Any) -> ParsedResponse:
    return await _send(app, _raw("GET", target, **options))


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def _error_log() -> Iterator[list[logging.LogRecord]]:
    """Collect the records of the "typhoon.error" logger, whatever logging is configured."""
    handler = _Collect()
    log = logging.getLogger("typhoon.error")
    log.addHandler(handler)
    try:
        yield handler.records
    finally:
        log.removeHandler(handler)


def _traceback(record: logging.LogRecord) -> str:
    assert record.exc_info is not None
    return logging.Formatter().formatException(record.exc_info)


class StubHandler:
    """The smallest class honouring the handler contract: dispatch to a method per verb."""

    def __init__(self, app: App, request: Request, **kwargs: Any) -> None:
        self.app = app
        self.request = request
        self.kwargs = kwargs

    @classmethod
    def implemented_methods(cls) -> frozenset[str]:
        verbs = {m for m in ("GET", "HEAD", "POST", "PUT", "DELETE") if hasattr(cls, m.lower())}
        return frozenset(verbs | ({"HEAD"} if "GET" in verbs else set()))

    async def _execute(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Response:
        method = getattr(self, self.request.method.lower().replace("head", "get"))
        return to_response(await method(*args, **kwargs))


class MainHandler(StubHandler):
    async def get(self) -> str:
        return "main"


class ItemHandler(StubHandler):
    async def get(self, item_id: str) -> dict[str, Any]:
        store: dict[str, str] = self.kwargs["store"]
        if item_id not in store:
            raise HTTPError(404, f"no item {item_id}")
        return {"id": item_id, "value": store[item_id], "url": self.app.reverse_url("item", 1)}

    async def delete(self, item_id: str) -> None:
        self.kwargs["store"].pop(item_id, None)


async def _text(request: Request, *args: Any, **params: Any) -> str:
    return f"{request.method} {request.path} {args} {params}"


# -- registration forms ------------------------------------------------------------------------


async def test_method_decorators_register_their_method_only() -> None:
    app = App()
    for verb in ("get", "post", "put", "patch", "delete", "options"):
        getattr(app, verb)("/m", name=f"m_{verb}")(_text)
    for verb in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        response = await _send(app, _raw(verb, "/m"))
        assert (response.status, response.body) == (200, f"{verb} /m () {{}}".encode())
    assert app.url_for("m_patch") == "/m"


async def test_route_decorator_with_methods_and_name() -> None:
    app = App()

    @app.route("/search", methods=["GET", "POST"], name="search")
    async def search(request: Request) -> str:
        return request.method

    assert (await _send(app, _raw("POST", "/search"))).body == b"POST"
    assert (await _get(app, "/search")).body == b"GET"
    response = await _send(app, _raw("PUT", "/search"))
    assert (response.status, response.header("allow")) == (405, "GET, HEAD, POST")
    assert app.url_for("search") == "/search"


async def test_tornado_url_list_with_kwargs_and_name() -> None:
    store = {"7": "seven"}
    app = App([(r"/", MainHandler), (r"/item/(\d+)", ItemHandler, {"store": store}, "item")])
    assert (await _get(app, "/")).body == b"main"
    response = await _get(app, "/item/7")
    assert response.body == b'{"id":"7","value":"seven","url":"/item/1"}'
    assert (await _get(app, "/item/8")).status == 404
    assert (await _send(app, _raw("DELETE", "/item/7"))).status == 204
    assert store == {}
    refused = await _send(app, _raw("POST", "/item/7"))
    assert (refused.status, refused.header("allow")) == (405, "DELETE, GET, HEAD")
    assert app.reverse_url("item", 42) == "/item/42"


async def test_tornado_url_list_accepts_none_kwargs_and_rejects_bad_entries() -> None:
    app = App([(r"/", MainHandler, None, "main")])
    assert app.url_for("main") == "/"
    with pytest.raises(TypeError, match=r"a \(path, handler\[, kwargs\[, name\]\]\) tuple"):
        App([(r"/",)])
    with pytest.raises(TypeError, match="route kwargs for '/' must be a dict"):
        App([(r"/", MainHandler, ["x"])])
    with pytest.raises(ValueError, match="methods= is not used with handler class MainHandler"):
        App().add_route("/", MainHandler, ["GET"])
    with pytest.raises(TypeError, match=r"keyword arguments \['store'\] are only for handler"):
        App().add_route("/", _text, store={})


async def test_route_objects_in_the_constructor() -> None:
    store = {"1": "one"}
    app = App(
        routes=[
            Route("/health", _text, name="health"),
            Route(r"/item/(\d+)", ItemHandler, kwargs={"store": store}, name="item"),
        ]
    )
    assert (await _get(app, "/health")).body == b"GET /health () {}"
    assert (await _get(app, "/item/1")).status == 200
    assert app.url_for("health") == "/health"


async def test_async_callable_object_is_awaited_on_the_loop() -> None:
    class View:
        async def __call__(self, request: Request) -> str:
            return threading.current_thread().name

    app = App()
    app.add_route("/", View())
    assert (await _get(app, "/")).body == threading.current_thread().name.encode()


# -- dispatch ----------------------------------------------------------------------------------


async def test_unknown_path_404_and_wrong_method_405_with_allow() -> None:
    app = App()
    app.add_route("/a", _text, ["GET", "DELETE"])
    missing = await _get(app, "/b")
    assert (missing.status, missing.body) == (404, b"404 Not Found\n")
    refused = await _send(app, _raw("POST", "/a"))
    assert (refused.status, refused.header("allow")) == (405, "DELETE, GET, HEAD")


async def test_head_is_served_by_the_get_view() -> None:
    app = App()
    app.add_route("/", _text)
    response = await _send(app, _raw("HEAD", "/"))
    assert (response.status, response.body, response.header("content-length")) == (
        200,
        b"",
        str(len(b"HEAD / () {}")),
    )


async def test_path_params_arrive_as_converted_kwargs() -> None:
    app = App()

    @app.get("/t/{i:int}/{f:float}/{u:uuid}/{s}/{p:path}")
    async def typed(request: Request, **params: Any) -> dict[str, str]:
        assert params == request.path_params
        return {name: type(value).__name__ for name, value in params.items()}

    target = f"/t/5/2.5/{uuid.UUID(int=3)}/x%20y/a/b"
    response = await _get(app, target)
    assert response.body == b'{"i":"int","f":"float","u":"UUID","s":"str","p":"str"}'
    assert (await _get(app, "/t/x/2.5/" + str(uuid.UUID(int=3)) + "/x/y")).status == 404


async def test_regex_groups_arrive_as_positional_args() -> None:
    app = App()
    app.add_route(r"/r/(\d+)/([a-z]+)", _text)
    app.add_route(r"/n/(?P<slug>[a-z]+)", _text)
    assert (await _get(app, "/r/12/ab")).body == b"GET /r/12/ab ('12', 'ab') {}"
    assert (await _get(app, "/n/abc")).body == b"GET /n/abc () {'slug': 'abc'}"


async def test_view_return_values_become_responses() -> None:
    app = App()
    values: dict[str, Any] = {
        "dict": {"a": 1},
        "list": [1, "x"],
        "none": None,
        "pair": ("made", 201),
        "headers": ("h", {"x-a": "1"}),
        "triple": ({"ok": True}, 202, [("x-b", "1"), ("x-b", "2")]),
        "response": Text("plain", 203),
    }
    for key, value in values.items():
        app.add_route(f"/{key}", lambda request, value=value: value)  # sync: thread pool

    dict_response = await _get(app, "/dict")
    assert (dict_response.body, dict_response.header("content-type")) == (
        b'{"a":1}',
        "application/json",
    )
    assert (await _get(app, "/list")).body == b'[1,"x"]'
    assert (await _get(app, "/none")).status == 204
    pair = await _get(app, "/pair")
    assert (pair.status, pair.body, pair.header("content-type")) == (
        201,
        b"made",
        "text/html; charset=utf-8",
    )
    assert (await _get(app, "/headers")).header("x-a") == "1"
    triple = await _get(app, "/triple")
    assert (triple.status, triple.body) == (202, b'{"ok":true}')
    assert [value for name, value in triple.headers if name == "x-b"] == ["1", "2"]
    assert (await _get(app, "/response")).status == 203
    await app.shutdown()


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (object(), "TypeError: a view returned object"),
        (("x", "200"), "TypeError: a view returned status '200'"),
        (("x", 99), "ValueError: a view returned status 99"),
        ({"not": object()}, "TypeError: cannot encode the response as JSON"),
    ],
)
async def test_view_returning_an_unsupported_value_is_500_and_logged(
    value: Any, error: str
) -> None:
    app = App()

    @app.get("/")
    async def bad(request: Request) -> Any:
        return value

    with _error_log() as records:
        response = await _get(app, "/")
    assert (response.status, response.body) == (500, b"500 Internal Server Error\n")
    [record] = records
    assert record.exc_info is not None
    assert error in _traceback(record)


# -- trailing slashes and hosts ----------------------------------------------------------------


async def test_trailing_slash_redirects_keep_the_query() -> None:
    app = App(redirect_slashes=True)
    app.add_route("/a", _text, ["GET", "POST"])
    app.add_route("/b/", _text, ["GET", "POST"])
    get = await _get(app, "/a/?q=1&r=%20")
    assert (get.status, get.header("location")) == (301, "/a?q=1&r=%20")
    head = await _send(app, _raw("HEAD", "/b"))
    assert (head.status, head.header("location")) == (301, "/b/")
    post = await _send(app, _raw("POST", "/b?x=y"))
    assert (post.status, post.header("location")) == (308, "/b/?x=y")
    assert (await _get(app, "/a")).status == 200


async def test_trailing_slash_redirect_uses_the_raw_path() -> None:
    app = App(redirect_slashes=True)
    app.add_route("/caf\u00e9/{x}", _text)
    app.add_route("/a", _text)
    response = await _get(app, "/caf%C3%A9/100%25/")
    assert (response.status, response.header("location")) == (301, "/caf%C3%A9/100%25")
    # "/a%2F" only decodes to "/a/": an encoded slash is not a trailing slash.
    assert (await _get(app, "/a%2F")).status == 404


async def test_trailing_slash_redirect_never_leaves_the_site() -> None:
    app = App(redirect_slashes=True)
    app.add_route(r"/(.*)\.com", _text)
    assert (await _get(app, "/x.com/")).header("location") == "/x.com"
    for target in ("//evil.com/", "/\\evil.com/"):
        response = await _get(app, target)
        assert (response.status, response.header("location")) == (404, None)


async def test_host_routes_ignore_the_port_and_case() -> None:
    app = App()
    app.add_route("/", lambda request: "api", host=r"api\.example\.com")
    app.add_route("/", lambda request: "v6", host=r"\[::1\]")
    app.add_route("/", lambda request: "default")
    assert (await _get(app, "/", host="api.example.com:8080")).body == b"api"
    assert (await _get(app, "/", host="API.Example.com")).body == b"api"
    assert (await _get(app, "/", host="www.example.com")).body == b"default"
    assert (await _get(app, "/", host="[::1]:8000")).body == b"v6"
    assert (await _get(app, "/", host="[::1]")).body == b"v6"
    await app.shutdown()


# -- groups ------------------------------------------------------------------------------------


def _tagging(tag: str) -> Any:
    async def middleware(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.add_header("x-tag", tag)
        return response

    return middleware


class Slug:
    regex = "[a-z-]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: object) -> str:
        return str(value)


async def test_group_prefix_names_and_own_middleware() -> None:
    app = App(converters={"slug": Slug})  # a converter class is instantiated
    api = RouteGroup("/api", name="api", middleware=[_tagging("group")])

    @api.get("/items/{item_id:int}", name="item")
    async def item(request: Request, item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @api.get("/posts/{s:slug}", name="post")
    async def post(request: Request, s: str) -> str:
        return s

    app.add_route("/plain", _text)
    app.include(api)
    api.add_middleware(_tagging("late"))  # read when serving starts, so it counts

    inside = await _get(app, "/api/items/3")
    assert (inside.body, [v for k, v in inside.headers if k == "x-tag"]) == (
        b'{"id":3}',
        ["late", "group"],
    )
    assert (await _get(app, "/api/posts/a-b")).body == b"a-b"
    assert (await _get(app, "/plain")).header("x-tag") is None
    assert app.url_for("api.item", item_id=3) == "/api/items/3"
    assert app.url_for("api.post", s="x-y") == "/api/posts/x-y"


def test_url_for_an_unnamed_route_by_its_function_name_like_flask() -> None:
    app = App()
    api = RouteGroup("/api", name="api")
    plain = RouteGroup("/plain")

    @app.get("/users/{user_id:int}")
    async def show_user(request: Request, user_id: int) -> str:
        return ""

    @app.get("/")
    @app.get("/index")  # one view on two paths: the first registered is used
    async def index(request: Request) -> str:
        return ""

    @api.get("/items/{item_id:int}")
    async def show_item(request: Request, item_id: int) -> str:
        return ""

    @plain.get("/page")
    async def page(request: Request) -> str:
        return ""

    app.add_route("/handler", ItemHandler)
    app.add_route("/named", _text, name="explicit")
    app.add_route("/anonymous", lambda request: "")
    app.include(api)
    app.include(plain)

    assert app.url_for("show_user", user_id=7) == "/users/7"
    assert app.url_for("index") == "/index"
    assert app.url_for("api.show_item", item_id=3) == "/api/items/3"
    assert app.url_for("page") == "/plain/page"
    assert app.reverse_url("ItemHandler") == "/handler"
    assert app.url_for("explicit") == "/named"
    with pytest.raises(KeyError, match="no route named '_text'"):  # it has an explicit name
        app.url_for("_text")
    with pytest.raises(KeyError, match="no route named '<lambda>'"):
        app.url_for("<lambda>")


def test_url_for_refuses_a_function_name_several_views_share() -> None:
    app = App()

    def make(path: str) -> None:
        @app.get(path)
        async def view(request: Request) -> str:
            return path

    make("/a")
    make("/b")
    with pytest.raises(KeyError, match="'view' is the function name of several"):
        app.url_for("view")

    @app.get("/c", name="view")  # an explicit name wins over the shared implicit one
    async def other(request: Request) -> str:
        return ""

    assert app.url_for("view") == "/c"


async def test_group_error_handlers_first_then_the_app() -> None:
    app = App()
    api = RouteGroup("/api")

    @api.errorhandler(ValueError)
    async def group_value(request: Request, exc: Exception) -> Any:
        return {"group": str(exc)}, 400

    @api.errorhandler(403)
    def group_forbidden(request: Request, exc: HTTPError) -> Any:  # sync handlers work too
        raise KeyError("from the group handler")

    @app.errorhandler(KeyError)
    async def app_key(request: Request, exc: Exception) -> Any:
        return {"app": str(exc)}, 409

    @api.get("/value")
    async def value(request: Request) -> None:
        raise ValueError("bad value")

    @api.get("/key")
    async def key(request: Request) -> None:
        raise KeyError("k")

    @api.get("/forbidden")
    async def forbidden(request: Request) -> None:
        raise HTTPError(403)

    @app.get("/value")
    async def app_value(request: Request) -> None:
        raise ValueError("not for the group")

    app.include(api)
    assert (await _get(app, "/api/value")).body == b'{"group":"bad value"}'
    assert (await _get(app, "/api/key")).status == 409
    assert (await _get(app, "/api/forbidden")).body == b'{"app":"\'from the group handler\'"}'
    with _error_log() as records:
        assert (await _get(app, "/value")).status == 500
    assert len(records) == 1


async def test_group_rejects_a_bad_prefix_and_include_checks_converters() -> None:
    with pytest.raises(ValueError, match="group prefix must start with '/'"):
        RouteGroup("api")
    with pytest.raises(ValueError, match="group prefix must start with '/' and not end with it"):
        RouteGroup("/api/")
    group = RouteGroup("/g")
    group.add_route("/{x:nope}", _text)
    with pytest.raises(ValueError, match="unknown converter 'nope'"):
        App().include(group)


# -- mounts ------------------------------------------------------------------------------------


def _sub_app(calls: list[str]) -> App:
    sub = App()

    @sub.get("/")
    async def index(request: Request) -> dict[str, Any]:
        return {"path": request.path, "root": request.root_path, "sub": request.app is sub}

    @sub.get("/users/{name}", name="user")
    async def user(request: Request, name: str) -> dict[str, Any]:
        return {
            "path": request.path,
            "root": request.root_path,
            "url": sub.url_for("user", name=name),
        }

    @sub.errorhandler(404)
    async def not_found(request: Request, exc: HTTPError) -> Any:
        return {"error": "sub 404", "path": request.path}, 404

    sub.on_startup(lambda: calls.append("sub up"))
    sub.on_shutdown(lambda: calls.append("sub down"))
    return sub


async def test_mounted_app_sees_the_prefix_stripped() -> None:
    calls: list[str] = []
    app = App()
    app.mount("/admin", _sub_app(calls))
    app.add_route("/admin/own", _text)
    assert (await _get(app, "/admin/users/bob")).body == (
        b'{"path":"/users/bob","root":"/admin","url":"/users/bob"}'
    )
    assert (await _get(app, "/admin")).body == b'{"path":"/","root":"/admin","sub":true}'
    missing = await _get(app, "/admin/nope")
    assert (missing.status, missing.body) == (404, b'{"error":"sub 404","path":"/nope"}')
    assert (await _get(app, "/admin/own")).body == b"GET /admin/own () {}"  # parent routes win
    assert (await _get(app, "/administrator")).body == b"404 Not Found\n"


async def test_mounted_app_without_hooks_answers_its_errors_with_its_own_handlers() -> None:
    sub = App()

    @sub.get("/boom")
    async def boom(request: Request) -> str:
        raise LookupError("gone")

    @sub.errorhandler(LookupError)
    async def lookup(request: Request, exc: LookupError) -> Any:
        return {"sub": str(exc)}, 410

    async def refuse(request: Request, call_next: Any) -> Any:
        if request.path == "/refused":
            raise LookupError("refused by the sub-app's middleware")
        return await call_next(request)

    @sub.get("/refused")
    async def refused(request: Request) -> str:
        return "never"

    sub.add_middleware(refuse)
    app = App()

    @app.errorhandler(LookupError)
    async def parent(request: Request, exc: LookupError) -> Any:
        return {"parent": str(exc)}, 500

    app.mount("/sub", sub)
    view_error = await _get(app, "/sub/boom")
    assert (view_error.status, view_error.body) == (410, b'{"sub":"gone"}')
    middleware_error = await _get(app, "/sub/refused")
    assert (middleware_error.status, middleware_error.body) == (
        410,
        b'{"sub":"refused by the sub-app\'s middleware"}',
    )


async def test_mounted_apps_startup_and_shutdown_hooks_run() -> None:
    calls: list[str] = []
    app = App()
    app.mount("/sub", _sub_app(calls))
    app.on_startup(lambda: calls.append("up"))
    app.on_shutdown(lambda: calls.append("down"))
    await app.startup()
    await app.shutdown()
    assert calls == ["sub up", "up", "down", "sub down"]


async def test_mount_rejects_a_bad_prefix() -> None:
    with pytest.raises(ValueError, match="mount prefix must start with '/' and not end with it"):
        App().mount("/sub/", App())


# -- freezing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "call"),
    [
        ("add_route", lambda app: app.add_route("/late", _text)),
        ("add_route", lambda app: app.get("/late")(_text)),
        ("include", lambda app: app.include(RouteGroup("/g"))),
        ("mount", lambda app: app.mount("/m", App())),
        ("add_middleware", lambda app: app.add_middleware(_tagging("x"))),
        ("before_request", lambda app: app.before_request(_text)),
        ("after_request", lambda app: app.after_request(_text)),
        ("on_startup", lambda app: app.on_startup(lambda: None)),
    ],
)
async def test_registration_after_serving_starts_is_refused(method: str, call: Any) -> None:
    started = App()
    await started.startup()
    with pytest.raises(RuntimeError, match=rf"^{method}\(\) called after the app started serving"):
        call(started)
    await started.shutdown()

    served = App()  # the first request freezes an app that was never started explicitly
    served.add_route("/", _text)
    assert (await _get(served, "/")).status == 200
    with pytest.raises(RuntimeError, match=rf"^{method}\(\) called after"):
        call(served)


# -- hooks -------------------------------------------------------------------------------------


async def test_before_request_short_circuits_and_after_request_replaces() -> None:
    app = App()
    seen: list[str] = []

    @app.before_request
    async def guard(request: Request) -> Any:
        seen.append("before")
        if "blocked" in request.query:
            return Text("blocked", 403)
        return None

    @app.before_request
    def sync_hook(request: Request) -> None:
        request.state.user = "ann"

    @app.after_request
    async def keep(request: Request, response: Response) -> None:
        seen.append("keep")

    @app.after_request
    async def replace(request: Request, response: Response) -> Response | None:
        seen.append("replace")
        if response.status == 200:
            return JSON({"wrapped": response.body.decode()}, headers={"x-replaced": "1"})
        return None

    @app.get("/")
    async def home(request: Request) -> str:
        seen.append("view")
        return request.state.user  # type: ignore[no-any-return]

    blocked = await _get(app, "/?blocked")
    assert (blocked.status, blocked.body) == (403, b"blocked")
    assert seen == ["before", "replace", "keep"]
    seen.clear()
    response = await _get(app, "/")
    assert (response.body, response.header("x-replaced")) == (b'{"wrapped":"ann"}', "1")
    assert seen == ["before", "view", "replace", "keep"]


async def test_a_raising_hook_goes_through_the_error_handlers() -> None:
    app = App()

    @app.before_request
    async def deny(request: Request) -> None:
        if request.path == "/deny":
            raise HTTPError(401)

    @app.after_request
    async def explode(request: Request, response: Response) -> None:
        if request.path == "/explode":
            raise RuntimeError("after hook")

    app.add_route("/deny", _text)
    app.add_route("/explode", _text)
    assert (await _get(app, "/deny")).status == 401
    with _error_log() as records:
        assert (await _get(app, "/explode")).status == 500
    assert len(records) == 1


# -- error handlers ----------------------------------------------------------------------------


class AppError(Exception):
    pass


class NotAllowedError(AppError):
    pass


def _failing_app(**options: Any) -> App:
    app = App(**options)

    @app.get("/missing")
    async def missing(request: Request) -> None:
        raise HTTPError(404, "no such thing")

    @app.get("/sub")
    async def sub(request: Request) -> None:
        raise NotAllowedError("<script>alert(1)</script>")

    @app.get("/crash")
    async def crash(request: Request) -> None:
        raise ZeroDivisionError("secret internals <b>")

    return app


async def test_error_handler_by_status_and_by_class_through_the_mro() -> None:
    app = _failing_app()

    @app.errorhandler(404)
    async def not_found(request: Request, exc: HTTPError) -> Any:
        return {"error": exc.reason}, 404

    @app.errorhandler(AppError)
    async def app_error(request: Request, exc: AppError) -> Any:
        return {"kind": type(exc).__name__}, 403

    @app.errorhandler(Exception)
    async def anything(request: Request, exc: Exception) -> Any:
        return {"generic": type(exc).__name__}, 500

    assert (await _get(app, "/missing")).body == b'{"error":"no such thing"}'
    assert (await _get(app, "/nowhere")).body == b'{"error":"Not Found"}'
    sub = await _get(app, "/sub")
    assert (sub.status, sub.body) == (403, b'{"kind":"NotAllowedError"}')
    assert (await _get(app, "/crash")).body == b'{"generic":"ZeroDivisionError"}'


async def test_error_handler_that_raises_is_a_logged_500() -> None:
    app = _failing_app()

    @app.errorhandler(404)
    async def broken(request: Request, exc: HTTPError) -> Any:
        raise RuntimeError("handler bug")

    with _error_log() as records:
        response = await _get(app, "/missing")
    assert (response.status, response.body) == (500, b"500 Internal Server Error\n")
    [record] = records
    assert "RuntimeError: handler bug" in _traceback(record)


async def test_a_500_handler_answers_unhandled_exceptions_after_logging() -> None:
    app = _failing_app()

    @app.errorhandler(500)
    def server_error(request: Request, exc: Exception) -> Any:
        return {"error": "sorry"}, 500

    with _error_log() as records:
        response = await _get(app, "/crash")
    assert (response.status, response.body) == (500, b'{"error":"sorry"}')
    assert len(records) == 1


async def test_unhandled_exception_is_plain_500_logged_once_with_traceback() -> None:
    with _error_log() as records:
        response = await _get(_failing_app(), "/crash?x=1")
    assert (response.status, response.body) == (500, b"500 Internal Server Error\n")
    assert response.header("content-type") == "text/plain; charset=utf-8"
    [record] = records
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "exception while handling GET /crash?x=1"
    assert record.exc_info is not None
    assert record.exc_info[0] is ZeroDivisionError
    assert _traceback(record).startswith("Traceback")


async def test_debug_mode_shows_an_escaped_traceback_page() -> None:
    with _error_log():
        response = await _get(_failing_app(debug=True), "/sub")
    assert response.status == 500
    assert response.header("content-type") == "text/html; charset=utf-8"
    assert b"Traceback" in response.body
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in response.body
    assert b"<script>" not in response.body


async def test_middleware_exception_is_handled_too() -> None:
    async def broken(request: Request, call_next: Any) -> Response:
        raise HTTPError(429, "slow down")

    app = App(middleware=[broken])
    app.add_route("/", _text)
    response = await _get(app, "/")
    assert (response.status, response.body) == (429, b"429 slow down\n")


# -- lifecycle and threads ---------------------------------------------------------------------


async def test_lifespan_is_entered_at_startup_and_exited_at_shutdown() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        events.append("enter")
        app.settings["db"] = "connected"
        yield
        events.append("exit")

    app = App(lifespan=lifespan)
    app.on_startup(lambda: events.append(f"startup sees {app.settings['db']}"))
    app.on_shutdown(lambda: events.append("shutdown hook"))
    await app.startup()
    assert events == ["enter", "startup sees connected"]
    await app.shutdown()
    assert events == ["enter", "startup sees connected", "shutdown hook", "exit"]


_REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


async def test_sync_views_run_in_the_thread_pool_with_the_context() -> None:
    app = App(thread_pool_size=2)

    @app.before_request
    async def tag(request: Request) -> None:
        _REQUEST_ID.set("r1")

    @app.get("/")
    def blocking(request: Request) -> dict[str, Any]:
        thread = threading.current_thread()
        return {
            "main": thread is threading.main_thread(),
            "name": thread.name.startswith("typhoon"),
            "id": _REQUEST_ID.get(),
        }

    assert (await _get(app, "/")).body == b'{"main":false,"name":true,"id":"r1"}'
    await app.shutdown()


def test_thread_pool_size_is_validated() -> None:
    with pytest.raises(ValueError, match="thread_pool_size must be at least 1, got 0"):
        App(thread_pool_size=0)
    with pytest.raises(TypeError, match="thread_pool_size must be an int, got '4'"):
        App(thread_pool_size="4")  # type: ignore[arg-type]


def test_app_converters_are_validated() -> None:
    with pytest.raises(TypeError, match="converter 'x' needs a str 'regex'"):
        App(converters={"x": object()})  # type: ignore[dict-item]
