"""TestClient and AsyncTestClient: real HTTP/1.1 against a typhoon App, in memory."""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import gc
import io
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from typhoon import JSON, App, HTTPConfig, HTTPLimits, Request, Response, Text
from typhoon.http.exchange import Exchange
from typhoon.testing import (
    RESPONSE_END,
    AsyncTestClient,
    CookieJar,
    FakeClock,
    MemoryTransport,
    ResponseHead,
    ResponseReader,
    ResponseTimeoutError,
    ServerDisconnectedError,
    TestClient,
    TooManyRedirectsError,
    build_request,
    connect,
    feed,
    settle,
)
from typhoon.testing.cookies import parse_set_cookie
from typhoon.web.response import Redirect, Streaming

# -- the app under test ---------------------------------------------------------------------


@dataclass
class Progress:
    """What the streaming and hanging routes report back to the test."""

    produced: int = 0
    consumed: int = 0
    closed: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    moved: asyncio.Event = field(default_factory=asyncio.Event)

    def consume(self) -> None:
        """The test has read one more piece."""
        self.consumed += 1
        self.moved.set()

    async def wait_consumed(self, count: int) -> None:
        while self.consumed < count:
            self.moved.clear()
            await self.moved.wait()


def make_app(progress: Progress | None = None) -> App:
    state = progress or Progress()
    app = App()

    @app.on_startup
    async def started() -> None:
        state.events.append("startup")

    @app.on_shutdown
    async def stopped() -> None:
        state.events.append("shutdown")

    @app.get("/")
    async def home(request: Request) -> Text:
        return Text("home")

    @app.get("/info")
    async def info(request: Request) -> dict[str, Any]:
        return {
            "path": request.path,
            "query": request.query.multi_items(),
            "host": request.host,
            "accept": request.headers.getall("x-multi"),
        }

    @app.route("/echo", methods=["POST", "PUT", "PATCH", "DELETE", "GET"])
    async def echo(request: Request) -> JSON:
        body = await request.body()
        return JSON(
            {
                "method": request.method,
                "type": request.headers.get("content-type"),
                "length": request.headers.get("content-length"),
                "body": body.decode("latin-1"),
            }
        )

    @app.post("/form")
    async def form(request: Request) -> dict[str, Any]:
        return {"fields": (await request.form()).multi_items()}

    @app.post("/json")
    async def json_echo(request: Request) -> JSON:
        return JSON({"got": await request.json()}, status=201)

    @app.put("/size")
    async def size(request: Request) -> dict[str, int]:
        total = 0
        async for piece in request.stream():
            total += len(piece)
        return {"size": total}

    @app.get("/big")
    async def big(request: Request) -> Response:
        return Response(b"x" * 1_000_000, media_type="application/octet-stream")

    @app.get("/set-cookies")
    async def set_cookies(request: Request) -> Response:
        response = Text("set")
        response.set_cookie("session", "abc")
        response.set_cookie("scoped", "1", path="/account")
        return response

    @app.get("/cookies")
    async def cookies(request: Request) -> dict[str, str]:
        return request.cookies

    @app.get("/account/cookies")
    async def account_cookies(request: Request) -> dict[str, str]:
        return request.cookies

    @app.get("/logout")
    async def logout(request: Request) -> Response:
        response = Text("bye")
        response.delete_cookie("session")
        return response

    @app.route("/go", methods=["GET", "POST", "PUT", "HEAD"])
    async def go(request: Request) -> Response:
        return Redirect(request.query["to"], int(request.query.get("status", "302")))

    @app.get("/hops/{n:int}")
    async def hops(request: Request, n: int) -> Response:
        return Redirect(f"/hops/{n - 1}" if n > 0 else "/info")

    @app.get("/loop")
    async def loop(request: Request) -> Response:
        return Redirect("/loop")

    @app.get("/close")
    async def close(request: Request) -> Response:
        return Text("bye", headers={"connection": "close"})

    @app.get("/boom")
    async def boom(request: Request) -> Response:
        raise RuntimeError("boom")

    @app.route("/hang", methods=["GET", "PUT"])
    async def hang(request: Request) -> Response:
        try:
            await asyncio.Event().wait()
        finally:
            state.closed.append("hang")
        raise AssertionError("unreachable")

    @app.get("/stream")
    async def stream(request: Request) -> Response:
        async def pieces() -> AsyncIterator[str]:
            try:
                for i in range(100):
                    state.produced += 1
                    yield f"piece {i}\n"
                    await state.wait_consumed(i + 1)  # go on once the client has read it
            finally:
                state.closed.append("stream")

        return Streaming(pieces(), media_type="text/plain")

    @app.get("/endless")
    async def endless(request: Request) -> Response:
        async def pieces() -> AsyncIterator[bytes]:
            try:
                while True:
                    state.produced += 1
                    yield b"y" * 1000
            finally:
                state.closed.append("endless")

        return Streaming(pieces())

    @app.get("/lines")
    async def lines(request: Request) -> Response:
        async def pieces() -> AsyncIterator[str]:
            for piece in ("a\nb", "", "c\r\n", "é", "\nlast"):
                yield piece

        return Streaming(pieces(), media_type="text/plain")

    @app.get("/stream-boom")
    async def stream_boom(request: Request) -> Response:
        async def pieces() -> AsyncIterator[str]:
            yield "one\n"
            raise RuntimeError("broke mid-stream")

        return Streaming(pieces())

    return app


@pytest.fixture
def client() -> Any:
    with TestClient(make_app()) as test_client:
        yield test_client


# -- basics, both clients --------------------------------------------------------------------


def test_client_get_text_has_status_headers_and_body(client: TestClient) -> None:
    response = client.get("/")
    assert (response.status_code, response.reason_phrase, response.http_version) == (
        200,
        "OK",
        "1.1",
    )
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == "4"
    assert (response.content, response.text, response.is_success) == (b"home", "home", True)
    assert response.url == "http://testserver/"
    assert response.request.headers["host"] == "testserver"


async def test_async_client_get_json_with_params_and_multi_headers() -> None:
    async with AsyncTestClient(make_app()) as client:
        response = await client.get(
            "/info?x=1",
            params={"q": ["a b", "ü"], "flag": True},
            headers=[("X-Multi", "1"), ("X-Multi", "2")],
        )
    assert response.json() == {
        "path": "/info",
        "query": [["x", "1"], ["q", "a b"], ["q", "ü"], ["flag", "true"]],
        "host": "testserver",
        "accept": ["1", "2"],
    }


def test_client_response_headers_are_case_insensitive_and_multi_valued(
    client: TestClient,
) -> None:
    response = client.get("/set-cookies")
    assert len(response.headers.getall("SET-COOKIE")) == 2
    assert "Set-Cookie" in response.headers


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_client_methods_send_str_content_with_content_length(
    client: TestClient, method: str
) -> None:
    send = getattr(client, method.lower())
    response = send("/echo", content="héllo", headers={"content-type": "text/plain"})
    assert response.json() == {
        "method": method,
        "type": "text/plain",
        "length": "6",
        "body": "hÃ©llo",
    }


def test_client_post_without_body_sends_zero_length(client: TestClient) -> None:
    assert client.post("/echo").json()["length"] == "0"
    assert client.get("/echo").json()["length"] is None


async def test_async_client_all_verbs_reach_the_app() -> None:
    async with AsyncTestClient(make_app()) as client:
        assert (await client.post("/echo", content=b"\x00\xff")).json()["body"] == "\x00\xff"
        assert (await client.put("/echo")).json()["method"] == "PUT"
        assert (await client.patch("/echo")).json()["method"] == "PATCH"
        assert (await client.delete("/echo")).json()["method"] == "DELETE"
        assert (await client.request("get", "/echo")).json()["method"] == "GET"
        assert (await client.options("/echo")).status_code == 405
        head = await client.head("/")
    assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", "4")


def test_client_json_post_round_trips(client: TestClient) -> None:
    response = client.post("/json", json={"a": [1, 2.5, None], "b": "ü"})
    assert response.status_code == 201
    assert response.request.headers["content-type"] == "application/json"
    assert response.json() == {"got": {"a": [1, 2.5, None], "b": "ü"}}


def test_client_form_post_is_urlencoded(client: TestClient) -> None:
    response = client.post("/form", data={"name": "a&b=c", "tag": ["x", "y"], "n": 3})
    assert response.request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert response.json() == {
        "fields": [["name", "a&b=c"], ["tag", "x"], ["tag", "y"], ["n", "3"]]
    }


def test_client_files_are_sent_as_well_formed_multipart(client: TestClient) -> None:
    upload = io.BytesIO(b"file object bytes")
    upload.name = "/tmp/report.csv"
    response = client.post(
        "/echo",
        data={"title": "hi"},
        files={
            "raw": b"\x00binary",
            "named": ("notes.txt", "some text"),
            "typed": ('we"ird.bin', b"data", "application/x-thing"),
            "obj": upload,
        },
    )
    echoed = response.json()
    assert echoed["type"].startswith("multipart/form-data; boundary=")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"content-type: {echoed['type']}\r\n\r\n".encode() + echoed["body"].encode("latin-1")
    )
    parts = [
        (
            part.get_param("name", header="content-disposition"),
            part.get_filename(),
            part.get_content_type(),
            part.get_payload(decode=True),
        )
        for part in message.iter_parts()
    ]
    assert parts == [
        ("title", None, "text/plain", b"hi"),
        ("raw", "upload", "application/octet-stream", b"\x00binary"),
        ("named", "notes.txt", "text/plain", b"some text"),
        ("typed", "we%22ird.bin", "application/x-thing", b"data"),
        ("obj", "report.csv", "text/csv", b"file object bytes"),
    ]


def test_client_404_and_405(client: TestClient) -> None:
    assert client.get("/nowhere").status_code == 404
    response = client.delete("/")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_client_head_has_headers_but_no_body(client: TestClient) -> None:
    get, head = client.get("/big"), client.head("/big")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"] == "1000000"
    assert head.transport is get.transport  # the connection survived the bodiless answer


def test_client_large_response_and_upload_pass_under_backpressure(client: TestClient) -> None:
    assert len(client.get("/big").content) == 1_000_000
    response = client.put("/size", content=b"z" * 1_500_000)
    assert response.json() == {"size": 1_500_000}
    assert client.get("/").text == "home"


def test_client_base_url_path_prefixes_relative_urls() -> None:
    app = App()

    @app.get("/api/items")
    async def items(request: Request) -> dict[str, str]:
        return {"url": request.url}

    with TestClient(app, base_url="http://example.org:8080/api/") as client:
        assert client.get("items").json() == {"url": "http://example.org:8080/api/items"}
        assert client.get("http://other/api/items").json() == {"url": "http://other/api/items"}


def test_client_default_headers_are_sent_and_overridable() -> None:
    with TestClient(make_app(), headers={"X-Multi": "client"}) as client:
        assert client.get("/info").json()["accept"] == ["client"]
        assert client.get("/info", headers={"x-multi": "mine"}).json()["accept"] == ["mine"]


# -- keep-alive ---------------------------------------------------------------------------------


def test_client_reuses_one_keep_alive_connection(client: TestClient) -> None:
    first, second = client.get("/"), client.post("/json", json=1)
    assert first.protocol is second.protocol
    assert first.transport is second.transport
    assert client.async_client.connections_opened == 1


async def test_async_client_reuses_one_keep_alive_connection() -> None:
    async with AsyncTestClient(make_app()) as client:
        first, second = await client.get("/"), await client.get("/info")
        assert first.transport is second.transport
        assert not first.transport.is_closing()
    assert first.transport.closed


def test_client_opens_a_new_connection_after_connection_close(client: TestClient) -> None:
    closing = client.get("/close")
    assert closing.headers["connection"] == "close"
    after = client.get("/")
    assert after.transport is not closing.transport
    assert closing.transport.is_closing()
    asked = client.get("/", headers={"connection": "close"})
    assert client.get("/").transport is not asked.transport
    assert client.async_client.connections_opened == 3


async def test_async_client_replaces_a_connection_the_server_closed_while_idle() -> None:
    async with AsyncTestClient(make_app()) as client:
        first = await client.get("/")
        first.protocol.shutdown()  # the server drops the idle keep-alive connection
        second = await client.get("/")
    assert second.status_code == 200
    assert second.transport is not first.transport


async def test_async_client_request_during_open_stream_uses_another_connection() -> None:
    progress = Progress()
    async with AsyncTestClient(make_app(progress)) as client:
        async with client.stream("GET", "/stream") as streaming:
            other = await client.get("/")
            assert other.transport is not streaming.transport
        assert progress.closed == []
        await settle()
    assert progress.closed == ["stream"]


# -- cookies ------------------------------------------------------------------------------------


def test_client_keeps_cookies_and_sends_them_back_by_path(client: TestClient) -> None:
    response = client.get("/set-cookies")
    assert response.cookies == {"session": "abc", "scoped": "1"}
    assert dict(client.cookies) == {"session": "abc", "scoped": "1"}
    assert client.get("/cookies").json() == {"session": "abc"}
    assert client.get("/account/cookies").json() == {"scoped": "1", "session": "abc"}


def test_client_max_age_zero_deletes_the_cookie(client: TestClient) -> None:
    client.get("/set-cookies")
    response = client.get("/logout")
    assert response.cookies == {"session": ""}
    assert client.get("/cookies").json() == {}
    assert "session" not in client.cookies


def test_client_request_cookies_and_jar_edits(client: TestClient) -> None:
    client.cookies["theme"] = "dark"
    assert client.get("/cookies", cookies={"one": "1"}).json() == {"theme": "dark", "one": "1"}
    assert client.get("/cookies", cookies={"theme": "light"}).json() == {"theme": "light"}
    del client.cookies["theme"]
    assert client.get("/cookies").json() == {}


def test_client_without_cookie_jar_ignores_set_cookie() -> None:
    with TestClient(make_app(), cookies=False) as client:
        assert client.get("/set-cookies").cookies == {"session": "abc", "scoped": "1"}
        assert dict(client.cookies) == {}
        assert client.get("/cookies").json() == {}
        client.cookies["mine"] = "1"
        assert client.get("/cookies").json() == {"mine": "1"}
    with TestClient(make_app(), cookies={"preset": "1"}) as client:
        assert client.get("/cookies").json() == {"preset": "1"}


def test_cookie_jar_domain_path_secure_and_expiry_rules() -> None:
    jar = CookieJar()
    now = time.time()
    for header, url in [
        ("a=1; Domain=.example.com; Path=/", "http://www.example.com/x"),
        ("b=2", "http://www.example.com/dir/page"),  # default path /dir
        ("c=3; Secure", "https://www.example.com/"),
        ("d=4; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "http://www.example.com/"),
        ("e=5; Max-Age=1000; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "http://www.example.com/"),
        ('f="quoted"', "http://www.example.com/"),
    ]:
        cookie = parse_set_cookie(header, url, now)
        assert cookie is not None
        jar.store(cookie, now)
    assert parse_set_cookie("x=1; Domain=other.org", "http://www.example.com/") is None
    assert parse_set_cookie("novalue", "http://www.example.com/") is None
    assert jar.header_for("http://api.example.com/") == "a=1"
    assert jar.header_for("http://www.example.com/dir/x") == "b=2; a=1; e=5; f=quoted"
    assert jar.header_for("http://www.example.com/dirt") == "a=1; e=5; f=quoted"
    assert jar.header_for("https://www.example.com/") == "a=1; c=3; e=5; f=quoted"
    assert jar.header_for("http://elsewhere/") is None
    assert sorted(jar) == ["a", "b", "c", "e", "f"]


# -- redirects ----------------------------------------------------------------------------------


def test_client_does_not_follow_redirects_by_default(client: TestClient) -> None:
    response = client.get("/go", params={"to": "/info"})
    assert (response.status_code, response.headers["location"]) == (302, "/info")
    assert response.is_redirect
    assert response.history == []


def test_client_follows_redirects_per_request_with_history(client: TestClient) -> None:
    response = client.get("/hops/3", follow_redirects=True)
    assert response.status_code == 200
    assert response.url == "http://testserver/info"
    assert [r.url for r in response.history] == [
        f"http://testserver/hops/{n}" for n in (3, 2, 1, 0)
    ]
    assert all(r.status_code == 302 and r.content == b"" for r in response.history)


@pytest.mark.parametrize(
    ("status", "method", "body"),
    [
        (301, "GET", ""),
        (302, "GET", ""),
        (303, "GET", ""),
        (307, "POST", "payload"),
        (308, "POST", "payload"),
    ],
)
def test_client_redirect_of_post_changes_method_as_rfc_9110_says(
    status: int, method: str, body: str
) -> None:
    with TestClient(make_app(), follow_redirects=True) as client:
        response = client.post(f"/go?to=/echo&status={status}", content="payload")
    assert response.json()["method"] == method
    assert response.json()["body"] == body
    assert response.history[0].status_code == status


def test_client_303_keeps_head_and_put_307_keeps_method() -> None:
    with TestClient(make_app(), follow_redirects=True) as client:
        assert client.head("/go?to=/&status=303").request.method == "HEAD"
        assert client.put("/go?to=/echo&status=307").json()["method"] == "PUT"
        assert client.put("/go?to=/echo&status=303").json()["method"] == "GET"


def test_client_redirect_loop_stops_with_a_clear_error() -> None:
    with TestClient(make_app(), follow_redirects=True, max_redirects=5) as client:
        with pytest.raises(TooManyRedirectsError, match="more than 5 redirects"):
            client.get("/loop")
        assert client.get("/loop", follow_redirects=False).status_code == 302


async def test_async_client_follows_redirect_to_absolute_url_and_sends_cookies() -> None:
    async with AsyncTestClient(make_app(), follow_redirects=True) as client:
        await client.get("/set-cookies")
        response = await client.get("/go", params={"to": "http://testserver/cookies"})
    assert response.json() == {"session": "abc"}


# -- streaming ----------------------------------------------------------------------------------


def test_client_stream_reads_100_pieces_as_they_are_written() -> None:
    progress = Progress()
    with TestClient(make_app(progress)) as client:
        with client.stream("GET", "/stream") as response:
            assert response.headers["transfer-encoding"] == "chunked"
            pieces: list[bytes] = []
            for piece in response.iter_bytes():
                # the server has produced this piece and waits for us to take it
                assert progress.produced == len(pieces) + 1
                pieces.append(piece)
                progress.consume()
        assert pieces == [f"piece {i}\n".encode() for i in range(100)]
        assert client.get("/").transport is response.transport  # read to the end: reused


async def test_async_client_stream_reads_100_pieces_as_they_are_written() -> None:
    progress = Progress()
    lines: list[str] = []
    client = AsyncTestClient(make_app(progress))
    async with client, client.stream("GET", "/stream") as response:
        async for line in response.aiter_lines():
            assert progress.produced == len(lines) + 1
            lines.append(line)
            progress.consume()
    assert lines == [f"piece {i}" for i in range(100)]


async def test_async_client_lines_and_text_are_split_and_decoded_across_pieces() -> None:
    async with AsyncTestClient(make_app()) as client:
        async with client.stream("GET", "/lines") as response:
            lines = [line async for line in response.aiter_lines()]
        async with client.stream("GET", "/lines") as response:
            text = "".join([piece async for piece in response.aiter_text()])
        async with client.stream("GET", "/lines") as response:
            assert await response.aread() == "a\nbc\r\né\nlast".encode()
            assert [piece async for piece in response.aiter_bytes()] == [response.content]
    assert lines == ["a", "bc", "é", "last"]
    assert text == "a\nbc\r\né\nlast"


def test_client_stream_iter_lines_and_read() -> None:
    with TestClient(make_app()) as client:
        with client.stream("GET", "/lines") as response:
            assert list(response.iter_lines()) == ["a", "bc", "é", "last"]
        with client.stream("GET", "/lines") as response:
            assert "".join(response.iter_text()) == "a\nbc\r\né\nlast"
        with client.stream("GET", "/lines") as response:
            with pytest.raises(RuntimeError, match="not read yet"):
                _ = response.content
            assert response.read().endswith(b"last")
            assert response.text.endswith("last")


def test_client_stream_left_early_disconnects_and_stops_the_handler() -> None:
    progress = Progress()
    with TestClient(make_app(progress)) as client:
        with client.stream("GET", "/endless") as response:
            for count, _ in enumerate(response.iter_bytes()):
                if count == 5:
                    break
        assert response.transport.is_closing()
        assert client.get("/").status_code == 200
        assert progress.closed == ["endless"]
    # write flow control held the endless generator back while nobody read
    assert progress.produced < 200


def test_client_endless_stream_is_held_back_by_flow_control() -> None:
    progress = Progress()
    with TestClient(make_app(progress)) as client, client.stream("GET", "/endless") as response:
        assert response.status_code == 200
        produced = progress.produced
        # at most ~64 KiB in the transport and ~64 KiB taken by the client, not forever
        assert 0 < produced < 140
        response.close()
        # What the client already took may be refilled once; then the stream stops.
        assert progress.produced < produced + 70
        assert progress.closed == ["endless"]


# -- errors, timeouts, lifespan -----------------------------------------------------------------


def test_client_app_exception_is_a_500_response_when_not_raised() -> None:
    with TestClient(make_app(), raise_server_exceptions=False) as client:
        response = client.get("/boom")
        assert response.status_code == 500
        assert response.text == "500 Internal Server Error\n"
        assert client.get("/").status_code == 200


def test_client_app_exception_is_raised_in_the_test_by_default(client: TestClient) -> None:
    with pytest.raises(RuntimeError, match="boom") as caught:
        client.get("/boom")
    assert "GET http://testserver/boom" in caught.value.__notes__[0]
    assert client.get("/").status_code == 200


async def test_async_client_exception_mid_stream() -> None:
    async with AsyncTestClient(make_app()) as client:
        with pytest.raises(RuntimeError, match="broke mid-stream"):
            await client.get("/stream-boom")
    client = AsyncTestClient(make_app(), raise_server_exceptions=False)
    async with client, client.stream("GET", "/stream-boom") as response:
        pieces = response.aiter_bytes()
        assert await anext(pieces) == b"one\n"
        with pytest.raises(ServerDisconnectedError, match="closed in the middle"):
            await anext(pieces)


async def test_async_client_hanging_route_times_out_clearly() -> None:
    progress = Progress()
    async with AsyncTestClient(make_app(progress), timeout=0.05) as client:
        started = time.monotonic()
        with pytest.raises(ResponseTimeoutError, match=r"GET http://testserver/hang: no res"):
            await client.get("/hang")
        assert time.monotonic() - started < 0.5
        await settle()
        assert progress.closed == ["hang"]  # the client hung up, the handler was cancelled
        assert (await client.get("/", timeout=None)).status_code == 200


def test_client_upload_the_server_stops_reading_times_out_clearly() -> None:
    with TestClient(make_app(), timeout=0.05) as client:
        with pytest.raises(ResponseTimeoutError, match="stopped reading the request"):
            client.put("/hang", content=b"u" * 1_000_000)  # beyond the read high-water mark
        assert client.options("/").status_code == 405
        assert repr(client) == "<TestClient http://testserver>"
        assert client.app is client.async_client.app
        assert client.base_url == "http://testserver"


def test_client_hanging_stream_piece_times_out_clearly() -> None:
    progress = Progress()
    with (
        TestClient(make_app(progress)) as client,
        client.stream("GET", "/stream", timeout=0.05) as response,
    ):
        pieces = response.iter_bytes()
        assert next(pieces) == b"piece 0\n"
        with pytest.raises(ResponseTimeoutError, match=r"no more of the body within 0\.05 s"):
            next(pieces)  # the server waits for progress.consume(), which never comes


def test_client_runs_startup_and_shutdown_around_with() -> None:
    progress = Progress()
    client = TestClient(make_app(progress))
    assert progress.events == []
    with client:
        assert progress.events == ["startup"]
        client.get("/")
    assert progress.events == ["startup", "shutdown"]
    with pytest.raises(RuntimeError, match="closed"):
        client.get("/")


async def test_async_client_lifespan_and_app_without_hooks() -> None:
    progress = Progress()
    async with AsyncTestClient(make_app(progress)):
        assert progress.events == ["startup"]
    assert progress.events == ["startup", "shutdown"]

    class Bare:
        async def handle(self, exchange: Exchange) -> None:
            exchange.respond(200, [(b"content-type", b"text/plain")], exchange.path)

    async with AsyncTestClient(Bare()) as client:
        assert (await client.get("/bare")).text == "/bare"


async def test_sync_client_refuses_to_run_inside_an_event_loop() -> None:
    client = TestClient(make_app())
    try:
        with pytest.raises(RuntimeError, match="use AsyncTestClient"):
            client.get("/")
    finally:
        await asyncio.to_thread(client.close)


def test_client_config_limits_apply_to_requests() -> None:
    limits = HTTPLimits(max_body_bytes=10)
    with TestClient(make_app(), config=HTTPConfig(limits=limits, access_log=False)) as client:
        response = client.post("/echo", content=b"x" * 11)
        assert response.status_code == 413
        assert client.post("/echo", content=b"x" * 10).status_code == 200


# -- argument validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"content": "a", "json": 1}, TypeError, "only one kind of body"),
        ({"json": 1, "data": {"a": "b"}}, TypeError, "only one kind of body"),
        ({"content": 5}, TypeError, "content must be bytes or str"),
        ({"json": object()}, TypeError, "json: cannot encode"),
        ({"headers": {"x": "a\r\nb"}}, ValueError, "headers: invalid value"),
        ({"headers": {"bad name": "a"}}, ValueError, "headers: invalid header name"),
        ({"params": 5}, TypeError, "params must be a mapping"),
        ({"params": {"a": object()}}, TypeError, "query or form value"),
        ({"files": {"f": 5}}, TypeError, "files\\['f'\\]"),
        ({"cookies": {"a": "x;y"}}, ValueError, "cookies: invalid cookie"),
        ({"timeout": 0}, ValueError, "timeout must be positive"),
        ({"jsn": 1}, TypeError, "unexpected keyword argument 'jsn'"),
    ],
)
def test_client_bad_arguments_raise_naming_them(
    client: TestClient, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        client.request("POST", "/echo", **kwargs)


def test_client_bad_method_url_and_settings_raise() -> None:
    with TestClient(make_app()) as client:
        with pytest.raises(ValueError, match="method must be an HTTP token"):
            client.request("GE T", "/")
        with pytest.raises(ValueError, match="http or https URL"):
            client.get("ftp://host/")
    with pytest.raises(ValueError, match="base_url"):
        AsyncTestClient(make_app(), base_url="testserver")
    with pytest.raises(ValueError, match="timeout"):
        AsyncTestClient(make_app(), timeout=-1)
    with pytest.raises(ValueError, match="max_redirects"):
        AsyncTestClient(make_app(), max_redirects=-1)
    with pytest.raises(TypeError, match="handle"):
        AsyncTestClient(object())  # type: ignore[arg-type]


def test_build_request_serializes_a_real_http_request() -> None:
    request = build_request(
        "post", "/a b/ü?x=1#frag", params={"y": "2"}, json={"k": 1}, cookies={"c": "1"}
    )
    assert request.encode("c=1") == (
        b"POST /a%20b/%C3%BC?x=1&y=2 HTTP/1.1\r\nhost: testserver\r\n"
        b"content-type: application/json\r\ncontent-length: 7\r\ncookie: c=1\r\n\r\n"
        b'{"k":1}'
    )


# -- the response reader and the transport ------------------------------------------------------


def _events(reader: ResponseReader, data: bytes, step: int) -> list[object]:
    events: list[object] = []
    for start in range(0, len(data), step):
        reader.feed(data[start : start + step])
        while (event := reader.next_event()) is not None:
            events.append(event)
            if event is RESPONSE_END:
                break
    return events


@pytest.mark.parametrize("step", [1, 2, 7, 1000])
def test_response_reader_reads_chunked_and_length_bodies_in_pieces(step: int) -> None:
    data = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A:  1 \r\n\r\n"
        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
    )
    reader = ResponseReader()
    reader.expect()
    events = _events(reader, data, step)
    head = events[0]
    assert isinstance(head, ResponseHead)
    assert (head.status, head.headers[1]) == (200, (b"x-a", b"1"))
    assert b"".join(e for e in events if isinstance(e, bytes)) == b"hello world"
    assert events[-1] is RESPONSE_END
    reader.expect(head_request=True)
    events = _events(reader, b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n", step)
    assert events[1:] == [RESPONSE_END]
    reader.expect()
    events = _events(reader, b"HTTP/1.0 200 OK\r\ncontent-length: 3\r\n\r\nabc", step)
    assert b"".join(e for e in events if isinstance(e, bytes)) == b"abc"


def test_response_reader_body_until_close_and_eof_errors() -> None:
    reader = ResponseReader()
    reader.expect()
    reader.feed(b"HTTP/1.0 200 OK\r\n\r\nsome")
    assert isinstance(reader.next_event(), ResponseHead)
    assert reader.until_close
    assert reader.next_event() == b"some"
    assert reader.next_event() is None
    reader.feed_eof()
    assert reader.next_event() is RESPONSE_END
    cut = ResponseReader()
    cut.expect()
    cut.feed(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nab")
    cut.feed_eof()
    assert isinstance(cut.next_event(), ResponseHead)
    assert cut.next_event() == b"ab"
    with pytest.raises(EOFError, match="middle of the response body"):
        cut.next_event()


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n-1\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\nab\r\n",
    ],
)
def test_response_reader_refuses_malformed_responses(data: bytes) -> None:
    reader = ResponseReader()
    reader.expect()
    reader.feed(data)
    with pytest.raises(ValueError, match=r"malformed|invalid|unsupported|missing"):
        _drain(reader)


def _drain(reader: ResponseReader) -> None:
    while reader.next_event() is not None:
        pass


def test_response_reader_needs_each_response_read_to_its_end() -> None:
    reader = ResponseReader()
    reader.expect()
    with pytest.raises(RuntimeError, match="previous response"):
        reader.expect()


async def test_memory_transport_flow_control_and_waiting() -> None:
    app = make_app()
    transport = MemoryTransport(high_water=10)
    protocol, _ = connect(app, transport=transport)
    waiter = asyncio.ensure_future(transport.wait_written())
    await asyncio.sleep(0)
    assert not waiter.done()
    feed(protocol, b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
    await waiter
    await transport.wait_for(lambda: transport.writing_paused)
    assert transport.get_write_buffer_size() > 10
    data = transport.take()
    assert not transport.writing_paused
    assert data.startswith(b"HTTP/1.1 200 OK")
    transport.close()
    await transport.wait_written()  # returns at once: closing
    with pytest.raises(ValueError, match="high_water"):
        MemoryTransport(high_water=-1)


async def test_async_client_idle_connection_closed_by_keep_alive_timeout_is_replaced() -> None:
    clock = FakeClock()
    async with AsyncTestClient(make_app(), clock=clock) as client:
        first = await client.get("/")
        await settle()  # the server finishes the exchange and arms its idle timer
        clock.advance(5.0)  # HTTPLimits.keep_alive_timeout_s
        assert first.transport.is_closing()
        second = await client.get("/")
    assert second.status_code == 200
    assert second.transport is not first.transport


def test_client_startup_failure_closes_the_loop() -> None:
    app = App()

    @app.on_startup
    async def fail() -> None:
        raise OSError("no database")

    client = TestClient(app)
    with pytest.raises(OSError, match="no database"), client:
        pass
    with pytest.raises(RuntimeError, match="TestClient is closed"):
        client.get("/")


def test_client_never_closed_is_collected_without_warnings() -> None:
    client = TestClient(make_app())
    assert client.get("/").status_code == 200
    del client
    gc.collect()  # an unclosed loop would warn (an error here) from its __del__
