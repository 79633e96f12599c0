"""Request: the head as views see it, the body read in each way, bad JSON answered 400."""

from __future__ import annotations

import ast
from typing import Any

import msgspec
import pytest

from typhoon import App, Request
from typhoon.testing import MemoryTransport, ParsedResponse, connect, feed, parse_responses, settle


async def _send(
    app: App, raw: bytes, chunk: int | None = None, transport: MemoryTransport | None = None
) -> ParsedResponse:
    protocol, transport = connect(app, transport=transport)
    feed(protocol, raw, chunk)
    await settle()
    [response] = parse_responses(transport.take())
    return response


def _post(path: str, body: bytes, content_type: str = "application/json") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: {content_type}\r\n"
    return head.encode() + b"Content-Length: %d\r\n\r\n%b" % (len(body), body)


def _app() -> App:
    app = App()

    @app.route("/head/{rest:path}", methods=["GET"])
    async def head(request: Request, rest: str) -> str:
        return ascii(
            {
                "path": request.path,
                "raw_path": request.raw_path,
                "rest": rest,
                "url": request.url,
                "host": request.host,
                "client": request.client,
                "scheme": request.scheme,
                "content_type": request.content_type,
            }
        )

    @app.get("/query")
    async def query(request: Request) -> str:
        return ascii(request.query.multi_items())

    @app.post("/json")
    async def json(request: Request) -> dict[str, Any]:
        return {"got": await request.json()}

    @app.post("/twice")
    async def twice(request: Request) -> str:
        first = await request.body()
        second = await request.body()
        pieces = [piece async for piece in request.stream()]
        return f"{first == second == b''.join(pieces)}|{len(first)}|{first.decode()}"

    @app.post("/stream")
    async def stream(request: Request) -> str:
        pieces = [piece async for piece in request.stream()]
        return f"{len(pieces) > 1}|{b''.join(pieces).decode()}"

    @app.before_request
    async def mark(request: Request) -> None:
        request.state.seen = request.path

    @app.get("/state")
    async def state(request: Request) -> str:
        request.state.extra = 1
        return f"{request.state.seen}|{request.state!r}"

    return app


def _head(response: ParsedResponse) -> dict[str, Any]:
    assert response.status == 200, response.body
    value: dict[str, Any] = ast.literal_eval(response.body.decode())  # the view wrote ascii()
    return value


# -- path, url, host, client -----------------------------------------------------------------


async def test_request_path_is_percent_decoded_and_raw_path_kept() -> None:
    info = _head(await _send(_app(), b"GET /head/caf%C3%A9%20x HTTP/1.1\r\nHost: t\r\n\r\n"))
    assert (info["path"], info["raw_path"]) == ("/head/café x", b"/head/caf%C3%A9%20x")


async def test_request_path_decodes_encoded_slash_but_raw_path_does_not() -> None:
    info = _head(await _send(_app(), b"GET /head/a%2Fb HTTP/1.1\r\nHost: t\r\n\r\n"))
    assert (info["path"], info["raw_path"], info["rest"]) == ("/head/a/b", b"/head/a%2Fb", "a/b")


async def test_request_path_with_invalid_utf8_escape_keeps_it_as_a_surrogate() -> None:
    info = _head(await _send(_app(), b"GET /head/%FF%C3 HTTP/1.1\r\nHost: t\r\n\r\n"))
    assert info["path"] == "/head/\udcff\udcc3"
    assert info["path"].encode("utf-8", "surrogateescape") == b"/head/\xff\xc3"


async def test_request_url_host_scheme_and_client() -> None:
    raw = b"GET /head/x?a=1&b=%20 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"
    info = _head(await _send(_app(), raw))
    assert info["url"] == "http://example.com:8080/head/x?a=1&b=%20"
    assert (info["host"], info["scheme"], info["client"]) == (
        "example.com:8080",
        "http",
        ("127.0.0.1", 50000),
    )


async def test_request_host_falls_back_to_the_server_address() -> None:
    info = _head(await _send(_app(), b"GET /head/x HTTP/1.0\r\n\r\n"))
    assert (info["host"], info["url"]) == ("127.0.0.1:8000", "http://127.0.0.1:8000/head/x")


async def test_request_over_a_unix_socket_has_no_client_or_server_address() -> None:
    transport = MemoryTransport(peername=None, sockname=None)
    info = _head(await _send(_app(), b"GET /head/x HTTP/1.0\r\n\r\n", transport=transport))
    assert (info["client"], info["host"]) == (None, "")


async def test_request_without_host_in_http11_is_400() -> None:
    response = await _send(_app(), b"GET /head/x HTTP/1.1\r\n\r\n")
    assert response.status == 400


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"Content-Type: Application/JSON; charset=UTF-8\r\n", "application/json"),
        (b"Content-Type:  text/plain \r\n", "text/plain"),
        (b"Content-Type: ;x=1\r\n", ""),
        (b"", ""),
    ],
)
async def test_request_content_type_is_the_lowercased_media_type(
    header: bytes, expected: str
) -> None:
    raw = b"GET /head/x HTTP/1.1\r\nHost: t\r\n" + header + b"\r\n"
    assert _head(await _send(_app(), raw))["content_type"] == expected


async def test_request_repr_shows_method_and_target() -> None:
    app = App()

    @app.get("/r")
    async def r(request: Request) -> str:
        return repr(request)

    response = await _send(app, b"GET /r?x=1 HTTP/1.1\r\nHost: t\r\n\r\n")
    assert response.body == b"<Request GET '/r?x=1'>"


# -- query strings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"a=1&a=2&b=3", [("a", "1"), ("a", "2"), ("b", "3")]),
        (b"a=&b&c=", [("a", ""), ("b", ""), ("c", "")]),
        (b"q=a+b&p=a%2Bb&s=%20", [("q", "a b"), ("p", "a+b"), ("s", " ")]),
        (b"x=%zz&y=%&z=%4", [("x", "%zz"), ("y", "%"), ("z", "%4")]),
        (b"x=%FF&y=%C3%A9", [("x", "\udcff"), ("y", "é")]),
        (b"&&a=1&&", [("a", "1")]),
        (b"", []),
    ],
)
async def test_request_query_parses_repeats_blanks_plus_and_bad_escapes(
    query: bytes, expected: list[tuple[str, str]]
) -> None:
    raw = b"GET /query?" + query + b" HTTP/1.1\r\nHost: t\r\n\r\n"
    response = await _send(_app(), raw)
    assert response.body.decode() == ascii(expected)


async def test_request_query_last_value_wins_and_getall_keeps_order() -> None:
    app = App()

    @app.get("/q")
    async def q(request: Request) -> str:
        query = request.query
        return f"{query['a']}|{query.getall('a')}|{query.get('zz')}|{list(query)}"

    response = await _send(app, b"GET /q?a=1&b=2&a=3 HTTP/1.1\r\nHost: t\r\n\r\n")
    assert response.body == b"3|['1', '3']|None|['a', 'b']"


# -- body, stream, json ------------------------------------------------------------------


async def test_request_body_read_twice_returns_the_same_bytes_and_stream_after_it() -> None:
    response = await _send(_app(), _post("/twice", b"hello body", "text/plain"), chunk=3)
    assert response.body == b"True|10|hello body"


async def test_request_empty_body_read_twice_and_streamed() -> None:
    response = await _send(_app(), _post("/twice", b"", "text/plain"))
    assert response.body == b"True|0|"


async def test_request_stream_yields_pieces_as_they_arrive() -> None:
    body = b"0123456789" * 10
    raw = (
        b"POST /stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"".join(b"a\r\n%b\r\n" % body[i : i + 10] for i in range(0, 100, 10))
        + b"0\r\n\r\n"
    )
    response = await _send(_app(), raw, chunk=7)
    assert response.body == b"True|" + body


async def test_request_json_round_trips() -> None:
    response = await _send(_app(), _post("/json", b' {"a": [1, "\\u00e9", null]} '))
    assert msgspec.json.decode(response.body) == {"got": {"a": [1, "é", None]}}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"{x}", b"400 invalid JSON body: JSON is malformed", id="malformed"),
        pytest.param(b'{"a": 1', b"400 invalid JSON body: Input data was truncated", id="cut"),
        pytest.param(b'{"a": 1} {}', b"400 invalid JSON body: JSON is malformed", id="trailing"),
        pytest.param(b"", b"400 invalid JSON body: the body is empty", id="empty"),
        pytest.param(b'"\xff\xfe"', b"400 invalid JSON body: not valid UTF-8", id="bad-utf8"),
        pytest.param(
            '{"a": 1}'.encode("utf-16"), b"400 invalid JSON body: not valid UTF-8", id="utf16"
        ),
        pytest.param(
            '{"é": 1}'.encode("latin-1"), b"400 invalid JSON body: not valid UTF-8", id="latin1"
        ),
    ],
)
async def test_request_bad_json_is_400_with_the_reason(body: bytes, reason: bytes) -> None:
    response = await _send(_app(), _post("/json", body))
    assert response.status == 400
    assert response.body.startswith(reason)


# -- state -----------------------------------------------------------------------------------


async def test_request_state_is_shared_by_hooks_and_view_and_fresh_per_request() -> None:
    app = _app()
    first = await _send(app, b"GET /state HTTP/1.1\r\nHost: t\r\n\r\n")
    assert first.body == b"/state|State({'seen': '/state', 'extra': 1})"
    second = await _send(app, b"GET /state HTTP/1.1\r\nHost: t\r\n\r\n")
    assert second.body == first.body


async def test_request_state_missing_attribute_raises_attribute_error() -> None:
    app = App()

    @app.get("/s")
    async def s(request: Request) -> str:
        return str(getattr(request.state, "nothing", "absent"))

    response = await _send(app, b"GET /s HTTP/1.1\r\nHost: t\r\n\r\n")
    assert response.body == b"absent"


async def test_request_headers_are_case_insensitive_and_multi_valued() -> None:
    app = App()

    @app.get("/h")
    async def h(request: Request) -> str:
        headers = request.headers
        return f"{headers['X-A']}|{headers.getall('x-a')}|{'X-B' in headers}|{headers.get('c')}"

    raw = b"GET /h HTTP/1.1\r\nHost: t\r\nX-A: 1\r\nx-a: 2\r\n\r\n"
    response = await _send(app, raw)
    assert response.body == b"1|['1', '2']|False|None"
