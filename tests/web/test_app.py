"""The first web layer: routes, value-returning views, 404/405, hooks."""

from __future__ import annotations

from typing import Any

import pytest

from typhoon import HTML, JSON, App, HTTPError, Request, Response, Text
from typhoon.testing import ParsedResponse, connect, feed, parse_responses, settle
from typhoon.web import to_response


async def _get(app: App, raw: bytes) -> ParsedResponse:
    protocol, transport = connect(app)
    feed(protocol, raw)
    await settle()
    [response] = parse_responses(transport.take(), head_request=raw.startswith(b"HEAD"))
    return response


def _app() -> App:
    app = App()

    @app.get("/")
    async def home(request: Request) -> str:
        return "<p>home</p>"

    @app.get("/data")
    async def data(request: Request) -> dict[str, Any]:
        return {"q": request.query.getall("q"), "path": request.path}

    @app.post("/echo")
    async def echo(request: Request) -> Response:
        return JSON(await request.json(), status=201)

    @app.put("/bytes")
    async def raw(request: Request) -> bytes:
        return await request.body()

    @app.delete("/nothing")
    async def nothing(request: Request) -> None:
        return None

    @app.patch("/tuple")
    async def pair(request: Request) -> tuple[str, int, dict[str, str]]:
        return "made", 202, {"x-made": "yes"}

    @app.route("/teapot", methods=["GET", "OPTIONS"])
    async def teapot(request: Request) -> Text:
        raise HTTPError(418, "short and stout")

    @app.get("/agent")
    async def agent(request: Request) -> Text:
        return Text(",".join(request.headers.getall("user-agent")) + f"|{request.client}")

    return app


async def test_app_str_view_is_html() -> None:
    response = await _get(_app(), b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (response.status, response.body) == (200, b"<p>home</p>")
    assert response.header("content-type") == "text/html; charset=utf-8"


async def test_app_dict_view_is_json_with_decoded_query_and_path() -> None:
    response = await _get(_app(), b"GET /d%61ta?q=a%20b&q=c HTTP/1.1\r\nHost: t\r\n\r\n")
    assert response.body == b'{"q":["a b","c"],"path":"/data"}'
    assert response.header("content-type") == "application/json"


async def test_app_json_body_round_trips_with_status() -> None:
    body = b'{"a": [1, 2]}'
    raw = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
    response = await _get(_app(), raw)
    assert (response.status, response.body) == (201, b'{"a":[1,2]}')


async def test_app_bad_json_is_400_naming_the_problem() -> None:
    raw = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\n{x}"
    response = await _get(_app(), raw)
    assert response.status == 400
    assert response.body.startswith(b"400 invalid JSON body: ")


async def test_app_bytes_none_and_tuple_returns() -> None:
    app = _app()
    put = await _get(app, b"PUT /bytes HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi")
    assert (put.body, put.header("content-type")) == (b"hi", "application/octet-stream")
    delete = await _get(app, b"DELETE /nothing HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (delete.status, delete.header("content-length")) == (204, None)
    patch = await _get(app, b"PATCH /tuple HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (patch.status, patch.body, patch.header("x-made")) == (202, b"made", "yes")


async def test_app_http_error_becomes_its_status() -> None:
    response = await _get(_app(), b"GET /teapot HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (response.status, response.body) == (418, b"418 short and stout\n")


async def test_app_unknown_path_is_404_and_wrong_method_is_405_with_allow() -> None:
    app = _app()
    assert (await _get(app, b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n")).status == 404
    response = await _get(app, b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
    assert (response.status, response.header("allow")) == (405, "GET, HEAD")


async def test_app_head_is_served_by_the_get_view_without_body() -> None:
    response = await _get(_app(), b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (response.status, response.body, response.header("content-length")) == (200, b"", "11")


async def test_app_request_headers_and_client() -> None:
    raw = b"GET /agent HTTP/1.1\r\nHost: t\r\nUser-Agent: a\r\nUser-Agent: b\r\n\r\n"
    response = await _get(_app(), raw)
    assert response.body == b"a,b|('127.0.0.1', 50000)"


async def test_app_hooks_run_and_registration_freezes() -> None:
    app = App()
    calls: list[str] = []

    @app.on_startup
    async def up() -> None:
        calls.append("up")

    @app.on_shutdown
    async def down() -> None:
        calls.append("down")

    await app.startup()
    await app.shutdown()
    assert calls == ["up", "down"]

    async def late(request: Request) -> str:
        return ""

    with pytest.raises(RuntimeError, match=r"add_route\(\) called after the app started"):
        app.add_route("/late", late)
    with pytest.raises(RuntimeError, match="on_startup"):
        app.on_startup(up)


async def test_app_add_route_rejects_bad_arguments() -> None:
    app = App()

    async def view(request: Request) -> str:
        return ""

    with pytest.raises(ValueError, match="route path must be a string starting with '/'"):
        app.add_route("nope", view)
    with pytest.raises(TypeError, match="endpoint must be callable"):
        app.add_route("/s", "not a view")
    with pytest.raises(ValueError, match=r"unknown HTTP method\(s\) \['FETCH'\]"):
        app.add_route("/m", view, methods=["FETCH"])
    app.add_route("/dup", view)
    app.add_route("/named", view, name="n")
    with pytest.raises(ValueError, match="a route named 'n' already exists"):
        app.add_route("/other", view, name="n")


def test_to_response_rejects_unknown_values() -> None:
    with pytest.raises(TypeError, match="a view returned int"):
        to_response(42)
    assert isinstance(to_response(HTML("x")), HTML)
    assert to_response([1]).body == b"[1]"


def test_http_error_rejects_a_non_status() -> None:
    with pytest.raises(ValueError, match=r"status must be an HTTP status code \(100-599\)"):
        HTTPError(42)
    assert HTTPError(404).reason == "Not Found"
    assert HTTPError(599).reason == "Error"


def test_response_encodes_text_and_custom_headers() -> None:
    response = Response("é", headers={"x-a": "1"}, media_type="text/csv")
    assert response.body == "é".encode()
    assert response.raw_headers == [
        (b"content-type", b"text/csv; charset=utf-8"),
        (b"x-a", b"1"),
    ]
