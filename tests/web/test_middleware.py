"""App-level middleware mechanics: order, call_next, short-circuits, bodies, errors, hooks."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from typhoon import App, CallNext, HTTPError, Request, Response, Text
from typhoon.testing import ParsedResponse, connect, feed, parse_responses, settle
from typhoon.web import JSON, RouteGroup, Streaming


def _request(
    method: str = "GET", path: str = "/", headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: t"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _send(app: App, raw: bytes, chunk: int | None = None) -> list[ParsedResponse]:
    protocol, transport = connect(app)
    feed(protocol, raw, chunk)
    await settle(40)
    return parse_responses(transport.take(), head_request=raw.startswith(b"HEAD"))


async def _one(app: App, raw: bytes, chunk: int | None = None) -> ParsedResponse:
    [response] = await _send(app, raw, chunk)
    return response


def _recorder(calls: list[str], name: str) -> Any:
    async def middleware(request: Request, call_next: CallNext) -> Response:
        calls.append(f"{name}>")
        response = await call_next(request)
        calls.append(f"<{name}")
        return response

    return middleware


def _error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "typhoon.error"]


# -- order and call_next ------------------------------------------------------------------


async def test_middleware_constructor_then_added_run_outermost_first_and_unwind_in_reverse() -> (
    None
):
    calls: list[str] = []
    app = App(middleware=[_recorder(calls, "a")])
    app.add_middleware(_recorder(calls, "b"))
    app.add_middleware(_recorder(calls, "c"))

    @app.get("/")
    async def home(request: Request) -> str:
        calls.append("view")
        return "ok"

    response = await _one(app, _request())
    assert (response.status, response.body) == (200, b"ok")
    assert calls == ["a>", "b>", "c>", "view", "<c", "<b", "<a"]


async def test_middleware_class_instance_is_called_with_request_and_call_next() -> None:
    class Stamp:
        def __init__(self, value: str) -> None:
            self.value = value

        async def __call__(self, request: Request, call_next: CallNext) -> Response:
            request.state.stamp = self.value
            response = await call_next(request)
            response.set_header("x-stamp", self.value)
            return response

    app = App(middleware=[Stamp("s1")])

    @app.get("/")
    async def home(request: Request) -> str:
        return f"state={request.state.stamp}"

    response = await _one(app, _request())
    assert (response.body, response.header("x-stamp")) == (b"state=s1", "s1")


async def test_middleware_replaces_status_and_body_of_the_response() -> None:
    async def rewrite(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        return Text(f"wrapped[{response.body.decode()}]", status=response.status + 1)

    app = App(middleware=[rewrite])

    @app.get("/")
    async def home(request: Request) -> str:
        return "inner"

    response = await _one(app, _request())
    assert (response.status, response.body) == (201, b"wrapped[inner]")
    assert response.header("content-length") == str(len(b"wrapped[inner]"))


async def test_middleware_short_circuit_skips_inner_middleware_and_view() -> None:
    calls: list[str] = []

    async def gate(request: Request, call_next: CallNext) -> Response:
        if request.headers.get("x-token") != "secret":
            return Text("no", status=401, headers={"www-authenticate": "Token"})
        return await call_next(request)

    app = App(middleware=[_recorder(calls, "outer"), gate, _recorder(calls, "inner")])

    @app.get("/")
    async def home(request: Request) -> str:
        calls.append("view")
        return "yes"

    denied = await _one(app, _request())
    assert (denied.status, denied.body, denied.header("www-authenticate")) == (401, b"no", "Token")
    assert calls == ["outer>", "<outer"]
    calls.clear()
    allowed = await _one(app, _request(headers={"X-Token": "secret"}))
    assert (allowed.status, allowed.body) == (200, b"yes")
    assert calls == ["outer>", "inner>", "view", "<inner", "<outer"]


async def test_middleware_sees_routing_errors_as_responses() -> None:
    seen: list[int] = []

    async def watch(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        seen.append(response.status)
        return response

    app = App(middleware=[watch])

    @app.get("/")
    async def home(request: Request) -> str:
        return "ok"

    missing = await _one(app, _request(path="/nope"))
    wrong = await _one(app, _request("POST", "/"))
    assert (missing.status, wrong.status, wrong.header("allow")) == (404, 405, "GET, HEAD")
    assert seen == [404, 405]


async def test_middleware_sees_a_view_exception_as_a_500_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[Response] = []

    async def watch(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        seen.append(response)
        return response

    app = App(middleware=[watch])

    @app.get("/")
    async def home(request: Request) -> str:
        raise RuntimeError("secret internals")

    response = await _one(app, _request())
    assert (response.status, response.body) == (500, b"500 Internal Server Error\n")
    assert [r.status for r in seen] == [500]
    [record] = _error_records(caplog)
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


async def test_middleware_state_is_per_request_across_pipelined_requests() -> None:
    counter = iter(range(1, 100))

    async def number(request: Request, call_next: CallNext) -> Response:
        request.state.number = next(counter)
        return await call_next(request)

    app = App(middleware=[number])

    @app.get("/")
    async def home(request: Request) -> str:
        return str(request.state.number)

    responses = await _send(app, _request() * 3)
    assert [r.body for r in responses] == [b"1", b"2", b"3"]


# -- the request body -----------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [None, 1, 7])
async def test_middleware_reads_the_body_and_the_view_still_gets_it(chunk: int | None) -> None:
    seen: list[bytes] = []

    async def audit(request: Request, call_next: CallNext) -> Response:
        seen.append(await request.body())
        return await call_next(request)

    app = App(middleware=[audit])

    @app.post("/items")
    async def create(request: Request) -> Response:
        return JSON({"size": len(await request.body()), "json": await request.json()}, 201)

    body = b'{"name": "x", "tags": [1, 2]}'
    response = await _one(app, _request("POST", "/items", body=body), chunk)
    assert response.status == 201
    assert response.body == b'{"size":29,"json":{"name":"x","tags":[1,2]}}'
    assert seen == [body]


async def test_middleware_reading_the_body_then_view_streaming_it_gets_it_whole() -> None:
    async def audit(request: Request, call_next: CallNext) -> Response:
        await request.body()
        return await call_next(request)

    app = App(middleware=[audit])

    @app.post("/upload")
    async def upload(request: Request) -> str:
        pieces = [piece async for piece in request.stream()]
        return f"{len(pieces)}:{b''.join(pieces).decode()}"

    raw = (
        b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
    )
    response = await _one(app, raw, chunk=2)
    assert response.body == b"1:abcdefg"


async def test_middleware_bad_json_read_in_middleware_is_a_400() -> None:
    async def parse(request: Request, call_next: CallNext) -> Response:
        request.state.payload = await request.json()
        return await call_next(request)

    app = App(middleware=[parse])

    @app.post("/")
    async def home(request: Request) -> str:
        return "unreachable"

    response = await _one(app, _request("POST", "/", body=b"{nope"))
    assert response.status == 400
    assert response.body.startswith(b"400 invalid JSON body: ")


# -- exceptions raised by middleware ----------------------------------------------------------


async def test_middleware_exception_before_call_next_is_a_500_without_internals(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []

    async def broken(request: Request, call_next: CallNext) -> Response:
        raise KeyError("db password is hunter2")

    app = App(middleware=[broken])

    @app.get("/")
    async def home(request: Request) -> str:
        calls.append("view")
        return "ok"

    response = await _one(app, _request())
    assert (response.status, response.body) == (500, b"500 Internal Server Error\n")
    assert b"hunter2" not in response.body
    assert calls == []
    [record] = _error_records(caplog)
    assert record.getMessage() == "exception while handling GET /"


async def test_middleware_exception_after_call_next_replaces_the_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(request: Request, call_next: CallNext) -> Response:
        await call_next(request)
        raise ValueError("after the view")

    app = App(middleware=[broken])

    @app.get("/")
    async def home(request: Request) -> str:
        return "lost"

    response = await _one(app, _request())
    assert (response.status, response.body) == (500, b"500 Internal Server Error\n")
    assert len(_error_records(caplog)) == 1


async def test_middleware_http_error_becomes_its_status_and_headers() -> None:
    async def limit(request: Request, call_next: CallNext) -> Response:
        raise HTTPError(429, "slow down", headers={"retry-after": "3"})

    app = App(middleware=[limit])
    response = await _one(app, _request())
    assert (response.status, response.body, response.header("retry-after")) == (
        429,
        b"429 slow down\n",
        "3",
    )


async def test_middleware_exception_goes_to_the_app_error_handlers() -> None:
    class Banned(Exception):
        pass

    async def police(request: Request, call_next: CallNext) -> Response:
        if request.path == "/banned":
            raise Banned
        raise HTTPError(429, "slow")

    app = App(middleware=[police])

    @app.errorhandler(Banned)
    async def banned(request: Request, exc: Banned) -> tuple[str, int]:
        return "banned", 403

    @app.errorhandler(429)
    async def too_many(request: Request, exc: HTTPError) -> Response:
        return JSON({"error": exc.reason}, status=429)

    response = await _one(app, _request(path="/banned"))
    assert (response.status, response.body) == (403, b"banned")
    limited = await _one(app, _request(path="/other"))
    assert (limited.status, limited.body) == (429, b'{"error":"slow"}')


async def test_middleware_exception_in_debug_mode_shows_an_escaped_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(request: Request, call_next: CallNext) -> Response:
        raise RuntimeError("<script>boom</script>")

    app = App(debug=True, middleware=[broken])
    response = await _one(app, _request())
    assert response.status == 500
    assert b"&lt;script&gt;boom&lt;/script&gt;" in response.body
    assert b"<script>" not in response.body


# -- hooks ------------------------------------------------------------------------------------


async def test_middleware_wraps_hooks_and_after_hooks_run_in_reverse() -> None:
    calls: list[str] = []
    app = App(middleware=[_recorder(calls, "mw")])

    @app.before_request
    async def first(request: Request) -> None:
        calls.append("before1")

    @app.before_request
    async def second(request: Request) -> None:
        calls.append("before2")

    @app.after_request
    async def after1(request: Request, response: Response) -> None:
        calls.append("after1")

    @app.after_request
    async def after2(request: Request, response: Response) -> None:
        calls.append("after2")

    @app.get("/")
    async def home(request: Request) -> str:
        calls.append("view")
        return "ok"

    await _one(app, _request())
    assert calls == ["mw>", "before1", "before2", "view", "after2", "after1", "<mw"]


async def test_before_hook_returning_a_value_answers_without_the_view_after_hooks_still_run() -> (
    None
):
    calls: list[str] = []
    app = App()

    @app.after_request
    async def after(request: Request, response: Response) -> None:
        calls.append(f"after {response.status}")

    @app.before_request
    async def maintenance(request: Request) -> tuple[str, int] | None:
        if request.path.startswith("/admin"):
            return "down for maintenance", 503
        return None

    @app.get("/admin/panel")
    async def panel(request: Request) -> str:
        calls.append("panel")
        return "panel"

    @app.get("/")
    async def home(request: Request) -> str:
        return "home"

    down = await _one(app, _request(path="/admin/panel"))
    assert (down.status, down.body) == (503, b"down for maintenance")
    assert calls == ["after 503"]
    assert (await _one(app, _request())).body == b"home"


async def test_before_hook_exception_goes_to_the_status_error_handler() -> None:
    app = App()

    @app.before_request
    async def require_login(request: Request) -> None:
        raise HTTPError(401)

    @app.errorhandler(401)
    async def unauthorized(request: Request, exc: HTTPError) -> Response:
        return Text("log in first", status=401)

    @app.get("/")
    async def home(request: Request) -> str:
        return "home"

    response = await _one(app, _request())
    assert (response.status, response.body) == (401, b"log in first")


async def test_after_hook_replaces_the_response_and_later_hooks_see_the_new_one() -> None:
    seen: list[bytes] = []
    app = App()

    @app.after_request
    async def outer(request: Request, response: Response) -> None:
        seen.append(response.body)

    @app.after_request
    async def inner(request: Request, response: Response) -> Response:
        return Text(response.body.decode().upper(), headers={"x-after": "1"})

    @app.get("/")
    async def home(request: Request) -> str:
        return "quiet"

    response = await _one(app, _request())
    assert (response.body, response.header("x-after")) == (b"QUIET", "1")
    assert seen == [b"QUIET"]


async def test_after_hook_exception_becomes_an_error_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = App()

    @app.after_request
    async def broken(request: Request, response: Response) -> None:
        raise RuntimeError("hook failed")

    @app.get("/")
    async def home(request: Request) -> str:
        return "fine"

    response = await _one(app, _request())
    assert (response.status, response.body) == (500, b"500 Internal Server Error\n")
    assert len(_error_records(caplog)) == 1


# -- groups, mounts, streams, registration ----------------------------------------------------


async def test_group_middleware_runs_inside_app_middleware_only_for_its_routes() -> None:
    calls: list[str] = []
    app = App(middleware=[_recorder(calls, "app")])
    api = RouteGroup("/api", middleware=[_recorder(calls, "api")])

    @api.get("/items")
    async def items(request: Request) -> list[int]:
        calls.append("items")
        return [1]

    @app.get("/")
    async def home(request: Request) -> str:
        calls.append("home")
        return "home"

    app.include(api)
    await _one(app, _request(path="/api/items"))
    assert calls == ["app>", "api>", "items", "<api", "<app"]
    calls.clear()
    await _one(app, _request())
    assert calls == ["app>", "home", "<app"]


async def test_mounted_app_middleware_runs_only_under_its_prefix() -> None:
    calls: list[str] = []
    sub = App(middleware=[_recorder(calls, "sub")])

    @sub.get("/ping")
    async def ping(request: Request) -> str:
        return f"pong {request.path} {request.root_path}"

    app = App(middleware=[_recorder(calls, "main")])
    app.mount("/sub", sub)

    response = await _one(app, _request(path="/sub/ping"))
    assert response.body == b"pong /ping /sub"
    assert calls == ["main>", "sub>", "<sub", "<main"]
    calls.clear()
    assert (await _one(app, _request(path="/ping"))).status == 404
    assert calls == ["main>", "<main"]


async def test_middleware_decorates_a_streaming_response_before_it_is_sent() -> None:
    async def tag(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        response.set_header("x-streamed", str(isinstance(response, Streaming)))
        return response

    app = App(middleware=[tag])

    @app.get("/stream")
    async def stream(request: Request) -> Streaming:
        async def pieces() -> AsyncIterator[str]:
            for i in range(3):
                yield f"{i};"

        return Streaming(pieces(), media_type="text/plain")

    response = await _one(app, _request(path="/stream"))
    assert (response.body, response.header("x-streamed")) == (b"0;1;2;", "True")
    assert response.header("transfer-encoding") == "chunked"


async def test_middleware_sync_view_runs_in_a_thread_inside_the_chain() -> None:
    calls: list[str] = []
    app = App(middleware=[_recorder(calls, "mw")])

    @app.get("/")
    def blocking(request: Request) -> str:
        calls.append("sync view")
        return "from a thread"

    response = await _one(app, _request())
    await app.shutdown()
    assert response.body == b"from a thread"
    assert calls == ["mw>", "sync view", "<mw"]


async def test_add_middleware_after_the_app_started_raises() -> None:
    app = App()

    async def late(request: Request, call_next: CallNext) -> Response:
        return await call_next(request)

    await app.startup()
    with pytest.raises(RuntimeError, match=r"add_middleware\(\) called after the app started"):
        app.add_middleware(late)
    await app.shutdown()


async def test_middleware_inner_exception_reaches_outer_middleware_as_500_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[int] = []

    async def outer(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        seen.append(response.status)
        response.set_header("x-outer", "ran")
        return response

    async def broken(request: Request, call_next: CallNext) -> Response:
        raise RuntimeError("middleware bug")

    app = App(middleware=[outer, broken])

    @app.get("/")
    async def home(request: Request) -> str:
        return "never"

    with caplog.at_level(logging.ERROR, logger="typhoon.error"):
        response = await _one(app, _request())
    assert (response.status, response.header("x-outer"), seen) == (500, "ran", [500])
    assert b"middleware bug" not in response.body
    assert [r.exc_info[1] for r in caplog.records if r.exc_info] != []
