"""RequestHandler: lifecycle, output, flush streaming, arguments, errors, streaming uploads."""

from __future__ import annotations

import asyncio
import datetime
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from typhoon import JSON, App, HTTPConfig, HTTPError, Request, Response, Text
from typhoon.http.errors import ClientDisconnected
from typhoon.http.exchange import Exchange
from typhoon.testing import MemoryTransport, ParsedResponse, connect, feed, parse_responses
from typhoon.web.handler import Finish, RequestHandler, stream_request_body

# -- helpers ---------------------------------------------------------------------------------


def _raw(
    method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: t"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _form(method: str, target: str, body: str, headers: dict[str, str] | None = None) -> bytes:
    headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    return _raw(method, target, body.encode(), headers)


async def _wait_response(transport: MemoryTransport, head: bool = False) -> ParsedResponse:
    """Wait (briefly) until one complete response was written; thread-pool work takes a moment."""
    for _ in range(400):
        await asyncio.sleep(0.005)
        try:
            [response] = parse_responses(bytes(transport.written), head_request=head)
        except ValueError:
            continue
        return response
    raise AssertionError(f"no complete response: {bytes(transport.written)!r}")


async def _call(app: App, raw: bytes, chunk: int | None = None) -> ParsedResponse:
    protocol, transport = connect(app)
    feed(protocol, raw, chunk)
    return await _wait_response(transport, head=raw.startswith(b"HEAD"))


def _app(*routes: Any, **settings: Any) -> App:
    return App(list(routes), **settings)


# -- lifecycle -------------------------------------------------------------------------------


async def test_handler_lifecycle_runs_initialize_prepare_verb_on_finish_in_order() -> None:
    calls: list[str] = []

    class Handler(RequestHandler):
        def initialize(self, log: list[str], tag: str) -> None:
            self.log = log
            log.append(f"initialize {tag}")

        async def prepare(self) -> None:
            self.log.append("prepare")

        async def get(self) -> None:
            self.log.append("get")
            self.write("ok")

        async def on_finish(self) -> None:
            self.log.append("on_finish")

    app = _app((r"/", Handler, {"log": calls, "tag": "x"}))
    response = await _call(app, _raw("GET", "/"))
    assert (response.status, response.body) == (200, b"ok")
    assert calls == ["initialize x", "prepare", "get", "on_finish"]


async def test_handler_sync_methods_run_on_the_thread_pool_not_the_loop() -> None:
    threads: dict[str, threading.Thread] = {}

    class Handler(RequestHandler):
        def prepare(self) -> None:
            threads["prepare"] = threading.current_thread()

        def get(self) -> None:
            threads["get"] = threading.current_thread()
            self.write("sync")

        def on_finish(self) -> None:
            threads["on_finish"] = threading.current_thread()

    app = _app((r"/", Handler))
    response = await _call(app, _raw("GET", "/"))
    await app.shutdown()
    assert response.body == b"sync"
    assert set(threads) == {"prepare", "get", "on_finish"}
    for thread in threads.values():
        assert thread is not threading.main_thread()
        assert thread.name.startswith("typhoon")


async def test_handler_async_methods_run_on_the_loop() -> None:
    seen: list[threading.Thread] = []

    class Handler(RequestHandler):
        async def get(self) -> None:
            seen.append(threading.current_thread())

    await _call(_app((r"/", Handler)), _raw("GET", "/"))
    assert seen == [threading.main_thread()]


async def test_handler_path_arguments_are_positional_for_regex_and_keyword_for_params() -> None:
    class Regex(RequestHandler):
        def get(self, a: str, b: str) -> None:
            self.write(f"{a}+{b}|{self.path_args}")

    class Params(RequestHandler):
        async def get(self, item_id: int) -> None:
            self.write({"id": item_id, "kwargs": self.path_kwargs})

    app = _app((r"/r/(\d+)/(\w+)", Regex), ("/p/{item_id:int}", Params))
    regex = await _call(app, _raw("GET", "/r/12/ab"))
    assert regex.body == b"12+ab|('12', 'ab')"
    params = await _call(app, _raw("GET", "/p/7"))
    assert params.body == b'{"id":7,"kwargs":{"item_id":7}}'


async def test_handler_initialize_without_override_rejects_route_kwargs() -> None:
    class Handler(RequestHandler):
        def get(self) -> None: ...

    response = await _call(_app((r"/", Handler, {"db": 1})), _raw("GET", "/"))
    assert response.status == 500


def test_handler_implemented_methods_follow_the_defined_verbs() -> None:
    class Reader(RequestHandler):
        def get(self) -> None: ...

    class Writer(RequestHandler):
        async def post(self) -> None: ...

        def options(self) -> None: ...

    assert Reader.implemented_methods() == {"GET", "HEAD"}
    assert Writer.implemented_methods() == {"POST", "OPTIONS"}
    assert RequestHandler.implemented_methods() == frozenset()


async def test_handler_unimplemented_verb_is_405_with_allow() -> None:
    class Handler(RequestHandler):
        def get(self) -> None: ...

        def put(self) -> None: ...

    app = _app((r"/", Handler))
    response = await _call(app, _raw("DELETE", "/"))
    assert (response.status, response.header("allow")) == (405, "GET, HEAD, PUT")
    options = await _call(app, _raw("OPTIONS", "/"))
    assert options.status == 405


async def test_handler_head_runs_get_without_a_body_or_head_when_defined() -> None:
    class ViaGet(RequestHandler):
        def get(self) -> None:
            self.set_header("x-ran", "get")
            self.write("twelve bytes")

    class OwnHead(RequestHandler):
        def get(self) -> None: ...

        async def head(self) -> None:
            self.set_header("x-ran", "head")

    app = _app(("/a", ViaGet), ("/b", OwnHead))
    response = await _call(app, _raw("HEAD", "/a"))
    assert (response.status, response.body) == (200, b"")
    assert (response.header("content-length"), response.header("x-ran")) == ("12", "get")
    own = await _call(app, _raw("HEAD", "/b"))
    assert own.header("x-ran") == "head"


# -- output ----------------------------------------------------------------------------------


async def test_handler_write_accepts_str_bytes_and_dict_as_json() -> None:
    class Text_(RequestHandler):
        def get(self) -> None:
            self.write("é ")
            self.write(b"bytes")

    class Json(RequestHandler):
        def get(self) -> None:
            self.write({"a": [1, 2]})

    app = _app(("/t", Text_), ("/j", Json))
    text = await _call(app, _raw("GET", "/t"))
    assert text.body == "é bytes".encode()
    assert text.header("content-type") == "text/html; charset=utf-8"
    json = await _call(app, _raw("GET", "/j"))
    assert (json.body, json.header("content-type")) == (b'{"a":[1,2]}', "application/json")


@pytest.mark.parametrize(
    ("chunks", "message"),
    [
        ([["a"]], "does not accept lists"),
        (["x", {"a": 1}], "must be the only content"),
        ([3], "takes str, bytes or dict, got int"),
        ([{"a": object()}], "cannot encode the dict as JSON"),
    ],
)
async def test_handler_write_rejects_lists_late_dicts_and_other_types(
    chunks: list[Any], message: str, caplog: pytest.LogCaptureFixture
) -> None:
    errors: list[str] = []

    class Handler(RequestHandler):
        def get(self) -> None:
            try:
                for chunk in chunks:
                    self.write(chunk)
            except TypeError as exc:
                errors.append(str(exc))
                raise

    response = await _call(_app((r"/", Handler)), _raw("GET", "/"))
    assert response.status == 500
    assert message in errors[0]


async def test_handler_status_and_headers_set_add_clear() -> None:
    class Handler(RequestHandler):
        def get(self) -> None:
            self.set_status(201)
            self.set_header("x-one", "1")
            self.set_header("X-One", "2")  # replaces, case-insensitively
            self.add_header("x-many", "a")
            self.add_header("x-many", 3)
            self.set_header("x-gone", "soon")
            self.clear_header("X-GONE")
            self.write(str(self.get_status()))

    response = await _call(_app((r"/", Handler)), _raw("GET", "/"))
    assert (response.status, response.body) == (201, b"201")
    assert response.header("x-one") == "2"
    assert [v for k, v in response.headers if k == "x-many"] == ["a", "3"]
    assert response.header("x-gone") is None


async def test_handler_headers_keep_their_case_and_replace_the_default_content_type() -> None:
    class Handler(RequestHandler):
        def get(self, kind: str) -> None:
            if kind == "text":
                self.set_header("Content-Type", "text/plain")
            self.set_header("X-Mixed-Case", "v")
            self.clear_header("x-\u20ac")  # cannot be a header name: nothing to clear
            self.write(kind)

    app = _app((r"/(\w+)", Handler))
    text = await _call(app, _raw("GET", "/text"))
    assert text.headers[:2] == [("Content-Type", "text/plain"), ("X-Mixed-Case", "v")]
    html = await _call(app, _raw("GET", "/html"))
    assert html.headers[:2] == [("content-type", "text/html; charset=utf-8"), ("X-Mixed-Case", "v")]


async def test_handler_set_header_and_status_reject_bad_values() -> None:
    problems: list[str] = []

    class Handler(RequestHandler):
        def get(self) -> None:
            attempts: list[Callable[[], None]] = [
                lambda: self.set_header("x-a", "bad\r\nInjected: 1"),
                lambda: self.set_header("bad name", "v"),
                lambda: self.set_header("x-a", "€"),
                lambda: self.set_header("x-a", None),  # type: ignore[arg-type]
                lambda: self.set_status(42),
                lambda: self.set_status("200"),  # type: ignore[arg-type]
            ]
            for attempt in attempts:
                try:
                    attempt()
                except (ValueError, TypeError) as exc:
                    problems.append(type(exc).__name__)
            self.write("done")

    response = await _call(_app((r"/", Handler)), _raw("GET", "/"))
    assert response.body == b"done"
    assert problems == ["ValueError", "ValueError", "ValueError", "TypeError"] + ["ValueError"] * 2


def test_encoded_headers_are_remembered_within_a_bound() -> None:
    from typhoon.web import _handler_headers as headers

    assert headers._encode_header("X-Test", "1") is headers._encode_header("X-Test", "1")
    assert headers._encode_header("X-Test", 1) == (b"X-Test", b"1")  # numbers: not remembered
    for i in range(3000):
        assert headers._encode_header("X-Test", str(i)) == (b"X-Test", str(i).encode())
    assert len(headers._ENCODED_HEADERS) <= 1024
    with pytest.raises(ValueError, match="unsafe value"):
        headers._encode_header("X-Test", "a\nb")
    assert ("X-Test", "a\nb") not in headers._ENCODED_HEADERS


async def test_handler_misuse_raises_clear_errors() -> None:
    problems: list[str] = []

    class Handler(RequestHandler):
        async def get(self) -> None:
            def attempt(action: Callable[[], object]) -> None:
                try:
                    action()
                except (RuntimeError, TypeError) as exc:
                    problems.append(str(exc))

            self.set_header("last-modified", datetime.datetime(2024, 5, 6, 7, 8, 9))
            self.write("x")
            await self.flush()
            attempt(lambda: self.set_header("x-late", "1"))
            attempt(lambda: self.set_cookie("late", "1"))
            self.finish()
            attempt(self.finish)
            attempt(self.flush)

    response = await _call(_app((r"/", Handler)), _raw("GET", "/"))
    assert response.header("last-modified") == "Mon, 06 May 2024 07:08:09 GMT"
    assert problems == [
        "set_header() called after the headers were sent by flush()",
        "set_cookie() called after the headers were sent by flush()",
        "finish() called twice",
        "flush() called after finish()",
    ]


async def test_handler_multipart_fields_are_body_arguments_and_files_stay_in_the_form() -> None:
    class Handler(RequestHandler):
        async def post(self) -> None:
            form = await self.request.form()
            upload = form["f"]
            assert not isinstance(upload, str)
            content = await upload.read()
            self.write(f"{self.get_body_arguments('a')} {self.get_body_arguments('f')} {content!r}")

    body = (
        b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
        b'--b\r\nContent-Disposition: form-data; name=f; filename="x.txt"\r\n\r\nfile\r\n'
        b"--b--\r\n"
    )
    raw = _raw("POST", "/", body, {"Content-Type": "multipart/form-data; boundary=b"})
    response = await _call(_app((r"/", Handler)), raw)
    assert (response.status, response.body) == (200, b"['1'] [] b'file'")


async def test_handler_clear_and_set_default_headers() -> None:
    class Handler(RequestHandler):
        def set_default_headers(self) -> None:
            self.set_header("x-default", "yes")

        def get(self) -> None:
            self.set_status(404)
            self.set_header("x-temp", "1")
            self.write("discarded")
            self.clear()
            self.write("kept")

    response = await _call(_app((r"/", Handler)), _raw("GET", "/"))
    assert (response.status, response.body) == (200, b"kept")
    assert (response.header("x-default"), response.header("x-temp")) == ("yes", None)


async def test_handler_overridden_clear_runs_when_the_handler_is_made() -> None:
    class Handler(RequestHandler):
        def clear(self) -> None:
            super().clear()
            self.set_header("x-cleared", "yes")

        def get(self) -> None:
            self.write("ok")

    response = await _call(_app((r"/", Handler)), _raw("GET", "/"))
    assert (response.body, response.header("x-cleared")) == (b"ok", "yes")


async def test_handler_state_changed_by_one_request_does_not_reach_the_next() -> None:
    # Handlers start from shared defaults (copied on write): check nothing leaks.
    class Handler(RequestHandler):
        def get(self, kind: str) -> None:
            if kind == "change":
                self.set_status(201)
                self.add_header("x-added", "1")
                self.set_cookie("c", "1")
            self.write(kind)

    app = _app((r"/(\w+)", Handler))
    changed = await _call(app, _raw("GET", "/change"))
    assert (changed.status, changed.header("x-added")) == (201, "1")
    assert changed.header("set-cookie") is not None
    plain = await _call(app, _raw("GET", "/plain"))
    assert (plain.status, plain.header("x-added"), plain.header("set-cookie")) == (200, None, None)
    assert plain.header("content-type") == "text/html; charset=utf-8"


async def test_handler_finish_ends_the_response_and_later_writes_fail(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Handler(RequestHandler):
        def get(self) -> None:
            self.write("a")
            self.finish("b")
            self.write("c")  # RuntimeError: logged, the finished response stands

    response = await _call(_app((r"/", Handler)), _raw("GET", "/"))
    assert (response.status, response.body) == (200, b"ab")
    assert "write() called after finish()" in caplog.text


async def test_handler_redirect_statuses() -> None:
    class Handler(RequestHandler):
        def get(self, kind: str) -> None:
            if kind == "temp":
                self.redirect("/t?x=1")
            elif kind == "perm":
                self.redirect("/p", permanent=True)
            else:
                self.redirect("/é", status=303)

    app = _app((r"/(\w+)", Handler))
    temp = await _call(app, _raw("GET", "/temp"))
    assert (temp.status, temp.header("location")) == (302, "/t?x=1")
    perm = await _call(app, _raw("GET", "/perm"))
    assert (perm.status, perm.header("location")) == (301, "/p")
    other = await _call(app, _raw("GET", "/other"))
    assert (other.status, other.header("location")) == (303, "/%C3%A9")


async def test_handler_redirect_rejects_bad_status_and_crlf() -> None:
    problems: list[str] = []

    class Handler(RequestHandler):
        def get(self) -> None:
            for url, status in (("/a", 200), ("/a\r\nx: y", None)):
                try:
                    self.redirect(url, status=status)
                except ValueError as exc:
                    problems.append(str(exc))
            self.write("ok")

    response = await _call(_app((r"/", Handler)), _raw("GET", "/"))
    assert response.body == b"ok"
    assert problems[0] == "a redirect status must be 300-399, got 200"
    assert problems[1].startswith("invalid redirect url")


async def test_handler_returned_values_are_sent_with_handler_cookies_and_headers() -> None:
    class Returns(RequestHandler):
        async def get(self, kind: str) -> Any:
            self.set_cookie("seen", "1")
            self.set_header("x-handler", "h")
            if kind == "response":
                return Text("text", status=202, headers={"x-handler": "response"})
            if kind == "dict":
                self.set_status(201)
                return {"made": True}
            return "<p>html</p>"

    app = _app((r"/(\w+)", Returns))
    response = await _call(app, _raw("GET", "/response"))
    assert (response.status, response.body, response.header("x-handler")) == (
        202,
        b"text",
        "response",
    )
    assert response.header("set-cookie") == "seen=1; Path=/; SameSite=Lax; HttpOnly"
    made = await _call(app, _raw("GET", "/dict"))
    assert (made.status, made.body, made.header("x-handler")) == (201, b'{"made":true}', "h")
    html = await _call(app, _raw("GET", "/str"))
    assert (html.body, html.header("content-type")) == (b"<p>html</p>", "text/html; charset=utf-8")


async def test_handler_writing_and_returning_a_value_is_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Handler(RequestHandler):
        def get(self) -> Response:
            self.write("x")
            return JSON({"y": 1})

    response = await _call(_app((r"/", Handler)), _raw("GET", "/"))
    assert response.status == 500
    assert "both wrote a response and returned one" in caplog.text


async def test_handler_response_goes_through_app_middleware() -> None:
    class Handler(RequestHandler):
        def get(self) -> None:
            self.write("through")

    async def stamp(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.set_header("x-middleware", "saw it")
        return response

    app = _app((r"/", Handler))
    app.add_middleware(stamp)
    response = await _call(app, _raw("GET", "/"))
    assert (response.body, response.header("x-middleware")) == (b"through", "saw it")


async def test_handler_bodiless_status_drops_content_type() -> None:
    class Handler(RequestHandler):
        def delete(self) -> None:
            self.set_status(204)

    response = await _call(_app((r"/", Handler)), _raw("DELETE", "/"))
    assert response.status == 204
    assert response.header("content-type") is None
    assert response.header("content-length") is None


# -- flush: streaming --------------------------------------------------------------------------


async def test_handler_flush_streams_chunks_before_the_handler_returns() -> None:
    release = asyncio.Event()

    class Handler(RequestHandler):
        async def get(self) -> None:
            self.set_header("x-streamed", "yes")
            self.write("first,")
            await self.flush()
            await release.wait()
            self.write("second")

    protocol, transport = connect(_app((r"/", Handler)))
    feed(protocol, _raw("GET", "/"))
    for _ in range(50):
        await asyncio.sleep(0)
    early = bytes(transport.written)
    assert b"transfer-encoding: chunked\r\n" in early
    assert b"x-streamed: yes\r\n" in early
    assert early.endswith(b"\r\n\r\n6\r\nfirst,\r\n")
    release.set()
    response = await _wait_response(transport)
    assert bytes(transport.written).endswith(b"6\r\nsecond\r\n0\r\n\r\n")
    assert (response.status, response.body) == (200, b"first,second")


async def test_handler_flush_without_await_keeps_order() -> None:
    class Handler(RequestHandler):
        async def get(self) -> None:
            for piece in ("a", "bb", "ccc"):
                self.write(piece)
                self.flush()  # not awaited: Tornado code often does this
            self.write("!")

    response = await _call(_app((r"/", Handler)), _raw("GET", "/"))
    assert response.body == b"abbccc!"
    assert response.header("transfer-encoding") == "chunked"


async def test_handler_flush_from_a_sync_method_blocks_the_worker_until_sent() -> None:
    class Handler(RequestHandler):
        def get(self) -> None:
            self.set_status(201)
            for piece in ("one ", "two"):
                self.write(piece)
                self.flush()

    app = _app((r"/", Handler))
    response = await _call(app, _raw("GET", "/"))
    await app.shutdown()
    assert (response.status, response.body) == (201, b"one two")
    assert response.header("transfer-encoding") == "chunked"


async def test_handler_flush_then_header_change_or_redirect_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Handler(RequestHandler):
        async def get(self) -> None:
            self.write("x")
            await self.flush()
            self.redirect("/elsewhere")

    response = await _call(_app((r"/", Handler)), _raw("GET", "/"))
    assert (response.status, response.body) == (200, b"x")
    assert "redirect() called after the headers were sent" in caplog.text
    assert "cannot send a 500 error after the headers were sent" in caplog.text


async def test_handler_flush_on_head_sends_no_body() -> None:
    class Handler(RequestHandler):
        async def get(self) -> None:
            self.write("body")
            await self.flush()

    protocol, transport = connect(_app((r"/", Handler)))
    feed(protocol, _raw("HEAD", "/"))
    response = await _wait_response(transport, head=True)
    assert response.status == 200
    assert bytes(transport.written).endswith(b"\r\n\r\n")
    assert b"body" not in transport.written


# -- arguments -------------------------------------------------------------------------------


class _Args(RequestHandler):
    def get(self) -> None:
        self.write(
            {
                "a": self.get_argument("a"),
                "all": self.get_arguments("a"),
                "raw": self.get_argument("a", strip=False),
                "missing": self.get_argument("zzz", None),
                "default": self.get_argument("zzz", "dflt"),
            }
        )

    def post(self) -> None:
        self.write(
            {
                "arg": self.get_argument("a"),
                "all": self.get_arguments("a"),
                "query": self.get_query_arguments("a"),
                "body": self.get_body_arguments("a"),
                "q1": self.get_query_argument("a"),
                "b1": self.get_body_argument("a"),
                "only_body": self.get_body_argument("q", "none"),
            }
        )

    def put(self) -> None:
        self.write(self.get_body_argument(self.get_query_argument("name")))


async def test_handler_get_argument_reads_the_query_with_strip_and_defaults() -> None:
    response = await _call(_app((r"/", _Args)), _raw("GET", "/?a=1&a=%20two%20&q=x"))
    assert response.body == (
        b'{"a":"two","all":["1","two"],"raw":" two ","missing":null,"default":"dflt"}'
    )


async def test_handler_body_arguments_come_from_the_form_after_the_query() -> None:
    response = await _call(_app((r"/", _Args)), _form("POST", "/?a=q&q=1", "a=b1&a=b2"))
    assert response.body == (
        b'{"arg":"b2","all":["q","b1","b2"],"query":["q"],"body":["b1","b2"],'
        b'"q1":"q","b1":"b2","only_body":"none"}'
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_raw("GET", "/?q=1"), b"400: Missing argument a"),
        (_form("PUT", "/", "x=1"), b"400: Missing argument name"),
        (_form("PUT", "/?name=x", "y=1"), b"400: Missing argument x"),
    ],
)
async def test_handler_missing_argument_is_400_naming_it(raw: bytes, message: bytes) -> None:
    response = await _call(_app((r"/", _Args)), raw)
    assert response.status == 400
    assert message in response.body


async def test_handler_argument_with_invalid_utf8_is_400_and_control_chars_are_spaces() -> None:
    bad = await _call(_app((r"/", _Args)), _raw("GET", "/?a=%ff"))
    assert bad.status == 400
    assert b"Invalid unicode in argument a" in bad.body
    ctrl = await _call(_app((r"/", _Args)), _raw("GET", "/?a=x%01y"))
    assert b'"raw":"x y"' in ctrl.body


async def test_handler_bad_form_body_is_400_not_500() -> None:
    raw = _raw("POST", "/", b"a=\xff", {"Content-Type": "application/x-www-form-urlencoded"})
    response = await _call(_app((r"/", _Args)), raw)
    assert response.status == 400


async def test_handler_json_body_is_left_for_the_handler() -> None:
    class Handler(RequestHandler):
        async def post(self) -> None:
            self.write({"got": await self.request.json(), "a": self.get_argument("a", None)})

    raw = _raw("POST", "/", b'{"a": 1}', {"Content-Type": "application/json"})
    response = await _call(_app((r"/", Handler)), raw)
    assert response.body == b'{"got":{"a":1},"a":null}'


# -- cookies ---------------------------------------------------------------------------------


async def test_handler_cookies_get_set_clear() -> None:
    class Handler(RequestHandler):
        def get(self) -> None:
            self.set_cookie("plain", "v")
            self.set_cookie("strict", "s", samesite="strict", secure=True, httponly=False)
            self.set_cookie("later", "l", expires_days=1, domain="example.com", path="/app")
            self.clear_cookie("old")
            self.write(f"{self.get_cookie('in')}|{self.get_cookie('none', 'dflt')}")

    response = await _call(_app((r"/", Handler)), _raw("GET", "/", headers={"Cookie": "in=1"}))
    assert response.body == b"1|dflt"
    cookies = [v for k, v in response.headers if k == "set-cookie"]
    assert cookies[0] == "plain=v; Path=/; SameSite=Lax; HttpOnly"
    assert cookies[1] == "strict=s; Path=/; SameSite=Strict; Secure"
    assert cookies[2].startswith("later=l; Expires=")
    assert cookies[2].endswith("; Path=/app; Domain=example.com; SameSite=Lax; HttpOnly")
    assert cookies[3] == (
        "old=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; SameSite=Lax; HttpOnly"
    )


async def test_handler_clear_all_cookies_clears_what_the_client_sent() -> None:
    class Handler(RequestHandler):
        def get(self) -> None:
            self.clear_all_cookies()

    response = await _call(_app((r"/", Handler)), _raw("GET", "/", headers={"Cookie": "a=1; b=2"}))
    names = sorted(v.split("=")[0] for k, v in response.headers if k == "set-cookie")
    assert names == ["a", "b"]


# -- errors ----------------------------------------------------------------------------------


async def test_handler_finish_exception_stops_and_sends_what_was_written() -> None:
    ran: list[str] = []

    class Handler(RequestHandler):
        async def prepare(self) -> None:
            self.write("from prepare;")
            if self.get_argument("stop", None):
                raise Finish("finished")

        def get(self) -> None:
            ran.append("get")
            self.write("from get")
            raise Finish

    app = _app((r"/", Handler))
    stopped = await _call(app, _raw("GET", "/?stop=1"))
    assert (stopped.status, stopped.body, ran) == (200, b"from prepare;finished", [])
    normal = await _call(app, _raw("GET", "/"))
    assert (normal.body, ran) == (b"from prepare;from get", ["get"])


async def test_handler_finish_in_prepare_skips_the_verb() -> None:
    class Handler(RequestHandler):
        def prepare(self) -> None:
            self.finish("early")

        def get(self) -> None:
            raise AssertionError("not reached")

    response = await _call(_app((r"/", Handler)), _raw("GET", "/"))
    assert response.body == b"early"


async def test_handler_http_error_becomes_the_error_page_with_its_headers() -> None:
    class Handler(RequestHandler):
        async def prepare(self) -> None:
            self.set_header("x-lost", "cleared by send_error")
            if self.get_argument("p", None):
                raise HTTPError(401, "<who>?", headers={"www-authenticate": "Basic"})

        def get(self) -> None:
            raise HTTPError(404, "no such thing")

    app = _app((r"/", Handler))
    missing = await _call(app, _raw("GET", "/"))
    assert missing.status == 404
    assert missing.body == (
        b"<!DOCTYPE html>\n<html><title>404: no such thing</title><body>"
        b"<h1>404: no such thing</h1></body></html>\n"
    )
    denied = await _call(app, _raw("GET", "/?p=1"))
    assert denied.status == 401
    assert (denied.header("www-authenticate"), denied.header("x-lost")) == ("Basic", None)
    assert b"401: &lt;who&gt;?" in denied.body


async def test_handler_http_error_log_message_is_logged_not_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Handler(RequestHandler):
        def get(self) -> None:
            raise HTTPError(400, log_message="secret detail")

    with caplog.at_level(logging.WARNING, logger="typhoon.error"):
        response = await _call(_app((r"/", Handler)), _raw("GET", "/"))
    assert response.status == 400
    assert b"secret" not in response.body
    assert "400 GET /: secret detail" in caplog.text


async def test_handler_exception_is_500_logged_once_without_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Handler(RequestHandler):
        async def get(self) -> None:
            raise ZeroDivisionError("boom")

    response = await _call(_app((r"/x", Handler)), _raw("GET", "/x"))
    assert response.status == 500
    assert b"500: Internal Server Error" in response.body
    assert b"Traceback" not in response.body
    assert b"boom" not in response.body
    records = [r for r in caplog.records if r.exc_info]
    assert len(records) == 1
    assert records[0].getMessage() == "exception while handling GET /x"


async def test_handler_exception_in_debug_mode_shows_the_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Handler(RequestHandler):
        def get(self) -> None:
            raise ValueError("<visible>")

    response = await _call(_app((r"/", Handler), debug=True), _raw("GET", "/"))
    assert response.status == 500
    assert b"Traceback" in response.body
    assert b"ValueError: &lt;visible&gt;" in response.body


async def test_handler_write_error_override_and_send_error() -> None:
    class Api(RequestHandler):
        def write_error(self, status_code: int, **kwargs: Any) -> None:
            exc = kwargs.get("exc_info", (None, None, None))[1]
            self.finish({"status": status_code, "error": type(exc).__name__})

        def get(self) -> None:
            raise KeyError("k")

        def post(self) -> None:
            self.send_error(409)

    app = _app((r"/", Api))
    response = await _call(app, _raw("GET", "/"))
    assert (response.status, response.body) == (500, b'{"status":500,"error":"KeyError"}')
    assert response.header("content-type") == "application/json"
    conflict = await _call(app, _raw("POST", "/"))
    assert (conflict.status, conflict.body) == (409, b'{"status":409,"error":"NoneType"}')


async def test_handler_failing_write_error_still_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Handler(RequestHandler):
        def write_error(self, status_code: int, **kwargs: Any) -> None:
            raise RuntimeError("broken error page")

        def get(self) -> None:
            raise HTTPError(418)

    response = await _call(_app((r"/", Handler)), _raw("GET", "/"))
    assert (response.status, response.body) == (418, b"")
    assert "exception in Handler.write_error()" in caplog.text


async def test_handler_failing_on_finish_is_logged_not_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Handler(RequestHandler):
        def get(self) -> None:
            self.write("fine")

        async def on_finish(self) -> None:
            raise RuntimeError("cleanup failed")

    response = await _call(_app((r"/", Handler)), _raw("GET", "/"))
    assert response.body == b"fine"
    assert "exception in Handler.on_finish()" in caplog.text


# -- disconnects -----------------------------------------------------------------------------


async def test_handler_on_connection_close_runs_when_the_client_goes_away() -> None:
    events: list[str] = []
    started = asyncio.Event()

    class Handler(RequestHandler):
        async def get(self) -> None:
            started.set()
            try:
                await asyncio.Event().wait()  # a long poll
            except asyncio.CancelledError:
                events.append("cancelled")
                raise

        def on_connection_close(self) -> None:
            events.append("on_connection_close")

        def on_finish(self) -> None:
            events.append("on_finish")

    protocol, transport = connect(_app((r"/", Handler)))
    feed(protocol, _raw("GET", "/"))
    await asyncio.wait_for(started.wait(), 1)
    transport.disconnect()
    for _ in range(20):
        await asyncio.sleep(0)
    assert events == ["on_connection_close", "cancelled"]


async def test_handler_async_on_connection_close_mid_upload() -> None:
    events: list[str] = []
    closed = asyncio.Event()

    @stream_request_body
    class Handler(RequestHandler):
        async def data_received(self, chunk: bytes) -> None:
            events.append(f"data {chunk!r}")

        async def on_connection_close(self) -> None:
            events.append("closed")
            closed.set()

        async def put(self) -> None: ...

    protocol, transport = connect(_app((r"/", Handler)))
    feed(protocol, b"PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
    for _ in range(20):
        await asyncio.sleep(0)
    transport.disconnect()
    await asyncio.wait_for(closed.wait(), 1)
    assert events == ["data b'abc'", "closed"]


async def test_handler_disconnect_after_the_response_does_not_call_on_connection_close() -> None:
    events: list[str] = []

    class Handler(RequestHandler):
        def get(self) -> None:
            self.write("done")

        def on_connection_close(self) -> None:
            events.append("closed")

    protocol, transport = connect(_app((r"/", Handler)))
    feed(protocol, _raw("GET", "/"))
    await _wait_response(transport)
    transport.disconnect()
    assert events == []


async def test_handler_streaming_to_a_gone_client_ends_quietly_without_cancellation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[str] = []
    first_sent = asyncio.Event()
    go_on = asyncio.Event()

    class Handler(RequestHandler):
        async def get(self) -> None:
            self.write("a")
            await self.flush()
            first_sent.set()
            await go_on.wait()
            self.write("b")
            try:
                await self.flush()
            except ClientDisconnected:
                events.append("flush failed")
                raise

        def on_connection_close(self) -> None:
            events.append("on_connection_close")

        async def on_finish(self) -> None:
            events.append("on_finish")

    config = HTTPConfig(access_log=False, cancel_on_disconnect=False)
    protocol, transport = connect(_app((r"/", Handler)), config)
    feed(protocol, _raw("GET", "/"))
    await asyncio.wait_for(first_sent.wait(), 1)
    transport.disconnect()
    go_on.set()
    for _ in range(20):
        await asyncio.sleep(0)
    assert events == ["on_connection_close", "flush failed", "on_finish"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_exchange_disconnect_callbacks_run_once_and_failures_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exchanges: list[Exchange] = []
    calls: list[str] = []

    class Handler(RequestHandler):
        async def get(self) -> None:
            exchanges.append(self.request.exchange)
            await asyncio.Event().wait()

    protocol, transport = connect(_app((r"/", Handler)))
    feed(protocol, _raw("GET", "/"))
    for _ in range(20):
        await asyncio.sleep(0)
    [exchange] = exchanges

    def failing() -> None:
        raise RuntimeError("callback bug")

    exchange.add_disconnect_callback(failing)
    exchange.add_disconnect_callback(lambda: calls.append("before"))
    transport.disconnect()
    exchange.client_gone(ClientDisconnected())  # a second report runs nothing again
    exchange.add_disconnect_callback(lambda: calls.append("after"))  # already gone: at once
    assert calls == ["before", "after"]
    assert "exception in a disconnect callback" in caplog.text


# -- streaming request bodies ------------------------------------------------------------------


@pytest.mark.parametrize("piece", [1, 2, 7, None])
async def test_stream_request_body_receives_a_chunked_upload_as_it_arrives(
    piece: int | None,
) -> None:
    events: list[str] = []

    @stream_request_body
    class Upload(RequestHandler):
        def initialize(self, log: list[str]) -> None:
            self.log = log
            self.received = bytearray()

        async def prepare(self) -> None:
            self.log.append("prepare")

        async def data_received(self, chunk: bytes) -> None:
            self.received += chunk
            self.log.append("data")

        async def post(self) -> None:
            self.log.append("post")
            self.write({"size": len(self.received), "body": self.received.decode()})

    body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    raw = b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    response = await _call(_app(("/up", Upload, {"log": events})), raw, chunk=piece)
    assert response.body == b'{"size":11,"body":"hello world"}'
    assert events[0] == "prepare"
    assert events[-1] == "post"
    assert set(events[1:-1]) == {"data"}
    if piece is not None:
        assert len(events) > 3  # several pieces, each handed over as it arrived


async def test_stream_request_body_sync_data_received_runs_in_a_thread() -> None:
    threads: list[threading.Thread] = []

    @stream_request_body
    class Upload(RequestHandler):
        size = 0

        def data_received(self, chunk: bytes) -> None:
            threads.append(threading.current_thread())
            self.size += len(chunk)

        def put(self) -> None:
            self.write(str(self.size))

    app = _app((r"/", Upload))
    response = await _call(app, _raw("PUT", "/", b"x" * 100), chunk=30)
    await app.shutdown()
    assert response.body == b"100"
    assert threads
    assert all(t is not threading.main_thread() for t in threads)


async def test_stream_request_body_finish_in_data_received_stops_reading() -> None:
    @stream_request_body
    class Upload(RequestHandler):
        async def data_received(self, chunk: bytes) -> None:
            self.set_status(413)
            self.finish("too much")

        async def put(self) -> None:
            raise AssertionError("not reached")

    response = await _call(_app((r"/", Upload)), _raw("PUT", "/", b"abc"))
    assert (response.status, response.body) == (413, b"too much")


async def test_stream_request_body_without_data_received_is_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @stream_request_body
    class Upload(RequestHandler):
        def put(self) -> None: ...

    response = await _call(_app((r"/", Upload)), _raw("PUT", "/", b"abc"))
    assert response.status == 500
    assert "defines no data_received()" in caplog.text


def test_stream_request_body_rejects_a_non_handler() -> None:
    with pytest.raises(TypeError, match="decorates RequestHandler subclasses"):
        stream_request_body(int)  # type: ignore[type-var]


# -- users, URLs, templates --------------------------------------------------------------------


async def test_handler_current_user_is_computed_once_and_settable() -> None:
    calls: list[int] = []

    class Handler(RequestHandler):
        def get_current_user(self) -> str:
            calls.append(1)
            return "ann"

        def get(self) -> None:
            first, second = self.current_user, self.current_user
            self.current_user = "bob"
            self.write(f"{first},{second},{self.current_user}")

    response = await _call(_app((r"/", Handler)), _raw("GET", "/"))
    assert (response.body, calls) == (b"ann,ann,bob", [1])


async def test_handler_async_get_current_user_is_awaited_before_prepare() -> None:
    class Handler(RequestHandler):
        async def get_current_user(self) -> str | None:
            await asyncio.sleep(0)
            return self.get_cookie("user")

        def prepare(self) -> None:
            self.write(f"prepare sees {self.current_user};")

        def get(self) -> None:
            self.write(f"get sees {self.current_user}")

    response = await _call(_app((r"/", Handler)), _raw("GET", "/", headers={"Cookie": "user=zoe"}))
    assert response.body == b"prepare sees zoe;get sees zoe"


async def test_handler_reverse_url_and_static_url() -> None:
    class Item(RequestHandler):
        def get(self, item_id: str) -> None:
            self.write(f"{self.reverse_url('item', 42)} {self.static_url('app.css')}")

    def static_url(path: str) -> str:
        return f"/static/{path}?v=1"

    app = App([(r"/item/(\d+)", Item, {}, "item")], static_url=static_url)
    response = await _call(app, _raw("GET", "/item/1"))
    assert response.body == b"/item/42 /static/app.css?v=1"


async def test_handler_static_url_without_static_files_is_a_clear_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Handler(RequestHandler):
        def get(self) -> None:
            self.static_url("a.css")

    response = await _call(_app((r"/", Handler)), _raw("GET", "/"))
    assert response.status == 500
    assert "static files are not configured" in caplog.text


async def test_handler_render_uses_the_template_renderer_setting() -> None:
    seen: dict[str, Any] = {}

    def renderer(name: str, **namespace: Any) -> str:
        seen.update(namespace)
        return f"<{name}:{namespace['title']}:{namespace['current_user']}>"

    class Page(RequestHandler):
        def get(self) -> None:
            self.render("page.html", title="Hi")

    response = await _call(_app((r"/", Page), template_renderer=renderer), _raw("GET", "/"))
    assert response.body == b"<page.html:Hi:None>"
    assert {"handler", "request", "static_url", "reverse_url", "xsrf_form_html"} <= set(seen)


async def test_handler_render_without_a_renderer_says_so(caplog: pytest.LogCaptureFixture) -> None:
    class Page(RequestHandler):
        def get(self) -> None:
            self.render("page.html")

    response = await _call(_app((r"/", Page)), _raw("GET", "/"))
    assert response.status == 500
    assert "no template renderer configured: cannot render 'page.html'" in caplog.text
