"""The built-in middleware: GZip, CORS, SecurityHeaders, TrustedHosts, RequestID."""

from __future__ import annotations

import asyncio
import gzip
import importlib
import logging
import random
import re
import sys
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import pytest

from typhoon import App, CallNext, Middleware, Request, Response, Text
from typhoon.testing import ParsedResponse, connect, feed, parse_responses, settle
from typhoon.web import HTML, JSON, Sent, Streaming
from typhoon.web.middleware import CORS, GZip, RequestID, SecurityHeaders, TrustedHosts
from typhoon.web.middleware.gzip import add_vary, choose_encoding, parse_accept_encoding

# brotli is an optional dependency of GZip, installed in the development environment.
brotli: Any = importlib.import_module("brotli")

TEXT = "typhoon blows over the sea; " * 100  # 2800 bytes, compresses well
ORIGIN = "https://app.example.com"


def _request(
    method: str = "GET", path: str = "/", headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1"]
    headers = {"Host": "t", **(headers or {})}
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _one(app: App, raw: bytes) -> ParsedResponse:
    protocol, transport = connect(app)
    feed(protocol, raw)
    await settle(40)
    for _ in range(200):  # work handed to the thread pool takes real time
        if transport.written:
            break
        await asyncio.sleep(0.005)
    [response] = parse_responses(transport.take(), head_request=raw.startswith(b"HEAD"))
    return response


def _app(make: Callable[[], Response], *middleware: Middleware) -> App:
    """An app whose every path answers ``make()``; GET, HEAD, POST and DELETE."""
    app = App(middleware=list(middleware))

    async def view(request: Request, rest: str = "") -> Response:
        return make()

    app.add_route("/", view, ["GET", "POST", "DELETE"])
    app.add_route("/{rest:path}", view, ["GET", "POST", "DELETE"])
    return app


def _gunzip(data: bytes) -> bytes:
    return gzip.decompress(data)


def _unbrotli(data: bytes) -> bytes:
    return cast(bytes, brotli.decompress(data))


def _dechunk(data: bytes) -> list[bytes]:
    """The chunk payloads in ``data`` (after the head, if one is there), up to the last chunk."""
    pos = data.index(b"\r\n\r\n") + 4 if data.startswith(b"HTTP/") else 0
    pieces = []
    while pos < len(data):
        line_end = data.index(b"\r\n", pos)
        size = int(data[pos:line_end], 16)
        if size == 0:
            break
        pieces.append(data[line_end + 2 : line_end + 2 + size])
        pos = line_end + 2 + size + 2
    return pieces


# -- GZip: negotiation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", {"gzip": 1.0}),
        ("gzip;q=0.5, br", {"gzip": 0.5, "br": 1.0}),
        ("GZIP ; Q=0.25,  BR;q=1.000", {"gzip": 0.25, "br": 1.0}),
        ("x-gzip", {"gzip": 1.0}),
        ("gzip;q=0, *;q=0.1", {"gzip": 0.0, "*": 0.1}),
        ("gzip;q=1.5, br;q=abc, deflate;q=0.0001, identity;q=.5", {}),
        ("gzip;q=0, gzip;q=1", {"gzip": 0.0}),
        ("br;level=5;q=0.7", {"br": 0.7}),
        (" , ,gzip,, ", {"gzip": 1.0}),
        ("", {}),
    ],
)
def test_parse_accept_encoding_reads_codings_and_q_values(
    header: str, expected: dict[str, float]
) -> None:
    assert parse_accept_encoding(header) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("identity", None),
        ("gzip", "gzip"),
        ("br", "br"),
        ("gzip, br", "br"),  # a tie goes to the server's preference
        ("br;q=0.5, gzip", "gzip"),
        ("gzip;q=0", None),
        ("gzip;q=0, br;q=0", None),
        ("*", "br"),
        ("*;q=0", None),
        ("gzip;q=0, *", "br"),
        ("br;q=0, *;q=0.3", "gzip"),
        ("deflate, compress", None),
        ("gzip;q=0.001", "gzip"),
        ("gzip;q=2", None),
    ],
)
def test_choose_encoding_prefers_the_highest_q_then_the_server_order(
    header: str | None, expected: str | None
) -> None:
    assert choose_encoding(header, ("br", "gzip")) == expected


def test_add_vary_merges_and_respects_star() -> None:
    response = Response(headers=[("vary", "Cookie"), ("Vary", "Origin")])
    add_vary(response, "Accept-Encoding")
    add_vary(response, "accept-encoding")
    assert response.raw_headers == [(b"vary", b"Cookie, Origin, Accept-Encoding")]
    star = Response(headers={"vary": "*"})
    add_vary(star, "Origin")
    assert star.raw_headers == [(b"vary", b"*")]


# -- GZip: whole bodies -----------------------------------------------------------------------


async def test_gzip_compresses_a_large_html_body_for_a_gzip_client() -> None:
    app = _app(lambda: HTML(TEXT), GZip())
    response = await _one(app, _request(headers={"Accept-Encoding": "gzip"}))
    assert response.header("content-encoding") == "gzip"
    assert response.header("vary") == "Accept-Encoding"
    assert response.header("content-length") == str(len(response.body))
    assert len(response.body) < len(TEXT) // 10
    assert _gunzip(response.body) == TEXT.encode()


async def test_gzip_uses_brotli_when_the_client_values_it_as_much() -> None:
    app = _app(lambda: JSON({"text": TEXT}), GZip())
    response = await _one(app, _request(headers={"Accept-Encoding": "gzip, deflate, br"}))
    assert response.header("content-encoding") == "br"
    assert _unbrotli(response.body) == JSON({"text": TEXT}).body


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("br;q=0.5, gzip", "gzip"),
        ("gzip;q=0", None),
        ("gzip;q=0, br;q=0", None),
        ("*", "br"),
        ("*;q=0", None),
        ("identity", None),
        ("x-gzip", "gzip"),
    ],
)
async def test_gzip_follows_q_values_and_always_varies(accept: str, coding: str | None) -> None:
    app = _app(lambda: Text(TEXT), GZip())
    response = await _one(app, _request(headers={"Accept-Encoding": accept}))
    assert response.header("content-encoding") == coding
    assert response.header("vary") == "Accept-Encoding"
    decoders: dict[str | None, Callable[[bytes], bytes]] = {
        "gzip": _gunzip,
        "br": _unbrotli,
        None: bytes,
    }
    decode = decoders[coding]
    assert decode(response.body) == TEXT.encode()


async def test_gzip_joins_repeated_accept_encoding_headers() -> None:
    raw = b"GET / HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br;q=0\r\nAccept-Encoding: gzip\r\n\r\n"
    response = await _one(_app(lambda: Text(TEXT), GZip()), raw)
    assert response.header("content-encoding") == "gzip"


async def test_gzip_without_accept_encoding_sends_plain_but_varies() -> None:
    response = await _one(_app(lambda: Text(TEXT), GZip()), _request())
    assert (response.header("content-encoding"), response.body) == (None, TEXT.encode())
    assert response.header("vary") == "Accept-Encoding"


async def test_gzip_brotli_false_or_missing_module_uses_gzip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    accept = {"Accept-Encoding": "br, gzip;q=0.9"}
    response = await _one(_app(lambda: Text(TEXT), GZip(brotli=False)), _request(headers=accept))
    assert response.header("content-encoding") == "gzip"
    monkeypatch.setitem(sys.modules, "brotli", None)  # as if brotli were not installed
    middleware = GZip()
    assert middleware.encodings == ("gzip",)
    only_br = await _one(
        _app(lambda: Text(TEXT), middleware), _request(headers={"Accept-Encoding": "br"})
    )
    assert (only_br.header("content-encoding"), only_br.body) == (None, TEXT.encode())


async def test_gzip_minimum_size_is_inclusive() -> None:
    body = "a" * 600
    app_at = _app(lambda: Text(body), GZip(minimum_size=600))
    at = await _one(app_at, _request(headers={"Accept-Encoding": "gzip"}))
    assert at.header("content-encoding") == "gzip"
    below = await _one(
        _app(lambda: Text(body), GZip(minimum_size=601)),
        _request(headers={"Accept-Encoding": "gzip"}),
    )
    assert (below.header("content-encoding"), below.header("vary"), below.body) == (
        None,
        None,
        body.encode(),
    )


async def test_gzip_keeps_an_incompressible_body_as_it_is() -> None:
    body = random.Random(7).randbytes(1000)  # noise does not compress
    app = _app(lambda: Response(body, media_type="text/plain"), GZip())
    response = await _one(app, _request(headers={"Accept-Encoding": "gzip"}))
    assert (response.header("content-encoding"), response.body) == (None, body)
    assert response.header("vary") == "Accept-Encoding"


@pytest.mark.parametrize(
    ("media_types", "content_type", "compressed"),
    [
        ((), "text/html", True),
        ((), "text/css; charset=utf-8", True),
        ((), "application/json", True),
        ((), "application/problem+json", True),
        ((), "application/atom+xml", True),
        ((), "image/svg+xml", True),
        ((), "image/png", False),
        ((), "application/octet-stream", False),
        ((), "application/jsonx", False),
        ((), "text/event-stream", False),
        (("text/csv",), "text/csv", True),
        (("text/csv",), "text/html", False),
        (("*/*",), "application/octet-stream", True),
        (("*/*",), "text/event-stream", False),
    ],
)
async def test_gzip_compresses_only_the_configured_media_types(
    media_types: tuple[str, ...], content_type: str, compressed: bool
) -> None:
    middleware = GZip(media_types=media_types) if media_types else GZip()
    app = _app(lambda: Response(TEXT, media_type=content_type), middleware)
    response = await _one(app, _request(headers={"Accept-Encoding": "gzip"}))
    assert (response.header("content-encoding") == "gzip") is compressed


async def test_gzip_without_content_type_sends_plain() -> None:
    response = await _one(
        _app(lambda: Response(TEXT), GZip()), _request(headers={"Accept-Encoding": "gzip"})
    )
    assert (response.header("content-encoding"), response.body) == (None, TEXT.encode())


@pytest.mark.parametrize(
    "make",
    [
        lambda: Text(TEXT, headers={"content-encoding": "br"}),
        lambda: Text(TEXT, status=206, headers={"content-range": "bytes 0-2799/9000"}),
        lambda: Text(TEXT, headers={"cache-control": "public, no-transform"}),
        lambda: Response(status=204),
        lambda: Response(status=304, headers={"etag": '"a"'}),
    ],
)
async def test_gzip_leaves_encoded_partial_no_transform_and_bodiless_responses(
    make: Callable[[], Response],
) -> None:
    response = await _one(
        _app(make, GZip(minimum_size=0)), _request(headers={"Accept-Encoding": "gzip"})
    )
    assert response.header("vary") is None
    assert response.body == make().body
    assert response.header("content-encoding") == make().header("content-encoding")


async def test_gzip_merges_vary_drops_stale_length_and_weakens_the_etag() -> None:
    def make() -> Response:
        return Text(
            TEXT,
            headers=[
                ("vary", "Cookie"),
                ("content-length", str(len(TEXT))),
                ("etag", '"v1"'),
                ("content-encoding", "identity"),
            ],
        )

    response = await _one(_app(make, GZip()), _request(headers={"Accept-Encoding": "gzip"}))
    assert response.status == 200
    assert response.header("vary") == "Cookie, Accept-Encoding"
    assert response.header("content-length") == str(len(response.body))
    assert response.header("etag") == 'W/"v1"'
    assert response.header("content-encoding") == "gzip"
    assert [name for name, _ in response.headers].count("content-length") == 1
    weak = await _one(
        _app(lambda: Text(TEXT, headers={"etag": 'W/"w"'}), GZip()),
        _request(headers={"Accept-Encoding": "gzip"}),
    )
    assert weak.header("etag") == 'W/"w"'


async def test_gzip_head_request_passes_through_unchanged() -> None:
    app = _app(lambda: Text(TEXT), GZip())
    response = await _one(app, _request("HEAD", headers={"Accept-Encoding": "gzip"}))
    assert response.status == 200
    assert response.header("content-encoding") is None
    assert response.header("content-length") == str(len(TEXT))


async def test_gzip_sent_response_passes_through() -> None:
    app = App(middleware=[GZip()])

    @app.get("/")
    async def flushed(request: Request) -> Response:
        request.exchange.respond(200, [(b"content-type", b"text/plain")], TEXT.encode())
        return Sent(200)

    response = await _one(app, _request(headers={"Accept-Encoding": "gzip"}))
    assert (response.header("content-encoding"), response.body) == (None, TEXT.encode())


async def test_gzip_large_body_is_compressed_on_the_thread_pool() -> None:
    body = "".join(f"line {i}: {TEXT[:60]}\n" for i in range(5000))  # about 350 KiB
    app = _app(lambda: Text(body), GZip())
    response = await _one(app, _request(headers={"Accept-Encoding": "gzip"}))
    assert app._workers._pool is not None  # the compression ran there
    await app.shutdown()
    assert _gunzip(response.body) == body.encode()


async def test_gzip_response_subclass_with_its_own_send_passes_through() -> None:
    class Custom(Response):
        __slots__ = ()

        async def send(self, exchange: Any) -> None:
            exchange.respond(200, [(b"content-type", b"text/plain")], TEXT.encode())

    app = _app(lambda: Custom(media_type="text/plain"), GZip(minimum_size=0))
    response = await _one(app, _request(headers={"Accept-Encoding": "gzip"}))
    assert (response.header("content-encoding"), response.body) == (None, TEXT.encode())


# -- GZip: streams ----------------------------------------------------------------------------


def _stream_app(pieces: list[str], gate: asyncio.Event | None = None, **gzip: Any) -> App:
    async def produce() -> AsyncIterator[str]:
        for i, piece in enumerate(pieces):
            if i and gate is not None:
                await gate.wait()
            yield piece

    media_type = gzip.pop("media_type", "text/plain")

    def make() -> Response:
        return Streaming(produce(), media_type=media_type)

    return _app(make, GZip(**gzip))


@pytest.mark.parametrize(("coding", "decode"), [("gzip", _gunzip), ("br", _unbrotli)])
async def test_gzip_compresses_a_stream_that_decodes_to_the_original(
    coding: str, decode: Callable[[bytes], bytes]
) -> None:
    pieces = [f"row {i}, {TEXT[:40]}\n" for i in range(50)] + ["", "end"]
    app = _stream_app(pieces)
    response = await _one(app, _request(headers={"Accept-Encoding": coding}))
    assert response.header("content-encoding") == coding
    assert response.header("transfer-encoding") == "chunked"
    assert response.header("vary") == "Accept-Encoding"
    assert decode(response.body) == "".join(pieces).encode()


async def test_gzip_stream_piece_can_be_decoded_before_the_stream_ends() -> None:
    gate = asyncio.Event()
    app = _stream_app(["event: first\n\n" * 4, "event: second\n\n"], gate)
    protocol, transport = connect(app)
    feed(protocol, _request(headers={"Accept-Encoding": "gzip"}))
    await settle(40)
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    first = transport.take()
    assert b"content-encoding: gzip" in first
    assert decoder.decompress(b"".join(_dechunk(first))) == b"event: first\n\n" * 4
    gate.set()
    await settle(40)
    assert decoder.decompress(b"".join(_dechunk(transport.take()))) == b"event: second\n\n"
    assert decoder.eof


async def test_gzip_brotli_stream_piece_can_be_decoded_before_the_stream_ends() -> None:
    gate = asyncio.Event()
    app = _stream_app(["chunk one " * 10, "chunk two"], gate)
    protocol, transport = connect(app)
    feed(protocol, _request(headers={"Accept-Encoding": "br"}))
    await settle(40)
    decoder = brotli.Decompressor()
    assert decoder.process(b"".join(_dechunk(transport.take()))) == b"chunk one " * 10
    gate.set()
    await settle(40)
    assert decoder.process(b"".join(_dechunk(transport.take()))) == b"chunk two"
    assert decoder.is_finished()


async def test_gzip_does_not_compress_event_streams() -> None:
    app = _stream_app(["data: 1\n\n"] * 100, media_type="text/event-stream", minimum_size=0)
    response = await _one(app, _request(headers={"Accept-Encoding": "gzip, br"}))
    assert (response.header("content-encoding"), response.header("vary")) == (None, None)
    assert response.body == b"data: 1\n\n" * 100


async def test_gzip_stream_declaring_a_small_length_is_sent_plain() -> None:
    async def produce() -> AsyncIterator[bytes]:
        yield b"tiny"

    app = _app(
        lambda: Streaming(produce(), headers={"content-length": "4"}, media_type="text/plain"),
        GZip(),
    )
    response = await _one(app, _request(headers={"Accept-Encoding": "gzip"}))
    assert (response.header("content-encoding"), response.body) == (None, b"tiny")


async def test_gzip_stream_declaring_a_large_length_drops_it_and_is_chunked() -> None:
    async def produce() -> AsyncIterator[bytes]:
        yield TEXT.encode()

    headers = {"content-length": str(len(TEXT))}
    app = _app(lambda: Streaming(produce(), headers=headers, media_type="text/plain"), GZip())
    response = await _one(app, _request(headers={"Accept-Encoding": "gzip"}))
    assert response.header("content-length") is None
    assert _gunzip(response.body) == TEXT.encode()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"minimum_size": -1}, ValueError, "minimum_size must be at least 0"),
        ({"minimum_size": "500"}, TypeError, "minimum_size must be an int"),
        ({"compresslevel": 0}, ValueError, "compresslevel must be from 1 to 9"),
        ({"compresslevel": 10}, ValueError, "compresslevel must be from 1 to 9"),
        ({"brotli_quality": 12}, ValueError, "brotli_quality must be from 0 to 11"),
        ({"media_types": ["text"]}, ValueError, "media_types: 'text' is not"),
        ({"media_types": ["*/html"]}, ValueError, "must be '\\*/\\*'"),
        ({"media_types": ["te xt/html"]}, ValueError, "media_types"),
        ({"media_types": [3]}, TypeError, "media_types must hold strings"),
    ],
)
def test_gzip_rejects_bad_configuration(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        GZip(**kwargs)


# -- CORS ------------------------------------------------------------------------------------


def _cors_app(cors: CORS, calls: list[str] | None = None) -> App:
    def make() -> Response:
        if calls is not None:
            calls.append("view")
        return Text("data", headers={"x-total": "3"})

    return _app(make, cors)


def _preflight(origin: str, method: str, headers: str | None = None) -> bytes:
    fields = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        fields["Access-Control-Request-Headers"] = headers
    return _request("OPTIONS", "/items", fields)


def _listed() -> CORS:
    return CORS([ORIGIN], allow_methods=["GET", "PUT"], allow_headers=["X-Custom"])


@pytest.mark.parametrize(
    ("origin", "method", "headers", "refused"),
    [
        (ORIGIN, "PUT", "x-custom", None),
        (ORIGIN, "GET", None, None),
        (ORIGIN, "PUT", "Content-Type, ACCEPT, x-custom", None),  # safelisted names
        ("https://evil.com", "PUT", "x-custom", "origin"),
        ("https://app.example.com.evil.com", "GET", None, "origin"),
        ("http://app.example.com", "GET", None, "origin"),
        ("null", "GET", None, "origin"),
        (ORIGIN, "DELETE", None, "method"),
        (ORIGIN, "put", None, "method"),  # methods are case-sensitive
        (ORIGIN, "PUT", "x-other", "headers"),
        (ORIGIN, "PUT", "x-custom, bad header", "headers"),
        ("https://evil.com", "DELETE", "x-other", "origin, method, headers"),
    ],
)
async def test_cors_preflight_allow_and_deny_matrix(
    origin: str, method: str, headers: str | None, refused: str | None
) -> None:
    calls: list[str] = []
    response = await _one(_cors_app(_listed(), calls), _preflight(origin, method, headers))
    assert calls == []
    assert response.header("vary") == "Origin"
    if refused is not None:
        assert (response.status, response.body) == (
            400,
            f"400 Disallowed CORS {refused}\n".encode(),
        )
        assert response.header("access-control-allow-origin") is None
        return
    assert response.status == 204
    assert response.header("access-control-allow-origin") == origin
    assert response.header("access-control-allow-methods") == "GET, PUT"
    expected = ", ".join(h.strip().lower() for h in headers.split(",")) if headers else None
    assert response.header("access-control-allow-headers") == expected
    assert response.header("access-control-max-age") == "600"
    assert response.header("access-control-allow-credentials") is None


async def test_cors_preflight_any_origin_answers_star_without_vary() -> None:
    cors = CORS("*", allow_methods="*", allow_headers="*", max_age=0)
    response = await _one(_cors_app(cors), _preflight("https://x.test", "PATCH", "X-A, x-b"))
    assert response.status == 204
    assert response.header("access-control-allow-origin") == "*"
    assert response.header("access-control-allow-methods") == "PATCH"
    assert response.header("access-control-allow-headers") == "x-a, x-b"
    assert response.header("access-control-max-age") == "0"
    assert response.header("vary") is None


async def test_cors_preflight_with_credentials_echoes_the_origin() -> None:
    cors = CORS([ORIGIN], allow_credentials=True, allow_methods="*", allow_headers="*")
    response = await _one(_cors_app(cors), _preflight(ORIGIN, "DELETE", "authorization"))
    assert response.status == 204
    assert response.header("access-control-allow-origin") == ORIGIN
    assert response.header("access-control-allow-credentials") == "true"
    assert response.header("access-control-allow-methods") == "DELETE"
    assert response.header("access-control-allow-headers") == "authorization"


async def test_cors_options_without_request_method_is_not_a_preflight() -> None:
    response = await _one(_cors_app(_listed()), _request("OPTIONS", "/", {"Origin": ORIGIN}))
    assert response.status == 405  # routed as usual: the app has no OPTIONS view
    assert response.header("access-control-allow-origin") == ORIGIN


async def test_cors_actual_request_from_an_allowed_origin_is_granted() -> None:
    cors = CORS([ORIGIN], expose_headers=["X-Total"], allow_credentials=True)
    response = await _one(_cors_app(cors), _request(headers={"Origin": ORIGIN}))
    assert (response.status, response.body) == (200, b"data")
    assert response.header("access-control-allow-origin") == ORIGIN
    assert response.header("access-control-allow-credentials") == "true"
    assert response.header("access-control-expose-headers") == "X-Total"
    assert response.header("vary") == "Origin"


async def test_cors_actual_request_from_another_origin_runs_without_a_grant() -> None:
    calls: list[str] = []
    response = await _one(
        _cors_app(_listed(), calls), _request(headers={"Origin": "https://evil.com"})
    )
    assert (response.status, calls) == (200, ["view"])
    assert response.header("access-control-allow-origin") is None
    assert response.header("vary") == "Origin"


async def test_cors_request_without_origin_gets_only_vary() -> None:
    listed = await _one(_cors_app(_listed()), _request())
    assert listed.header("access-control-allow-origin") is None
    assert listed.header("vary") == "Origin"
    anyone = await _one(_cors_app(CORS("*")), _request())
    assert (anyone.header("access-control-allow-origin"), anyone.header("vary")) == (None, None)


async def test_cors_any_origin_answers_star_and_exposes_all() -> None:
    cors = CORS("*", expose_headers="*")
    response = await _one(_cors_app(cors), _request(headers={"Origin": "https://x.test"}))
    assert response.header("access-control-allow-origin") == "*"
    assert response.header("access-control-expose-headers") == "*"
    assert response.header("vary") is None


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://a.example.org", True),
        ("https://deep.a.example.org", True),
        ("https://example.org", False),
        ("https://a.example.org.evil.com", False),
        ("http://a.example.org", False),
        ("https://evil.com/?https://a.example.org", False),
    ],
)
async def test_cors_origin_regex_must_match_the_whole_origin(origin: str, allowed: bool) -> None:
    cors = CORS(allow_origin_regex=r"https://([a-z0-9-]+\.)+example\.org")
    response = await _one(_cors_app(cors), _request(headers={"Origin": origin}))
    assert (response.header("access-control-allow-origin") == origin) is allowed
    assert cors.is_allowed_origin(origin) is allowed


async def test_cors_origins_compare_case_insensitively_and_a_single_string_is_one() -> None:
    cors = CORS("HTTPS://App.Example.com:8443")
    assert cors.is_allowed_origin("https://app.example.com:8443")
    assert not cors.is_allowed_origin("https://app.example.com")
    assert CORS(["null"]).is_allowed_origin("null")


async def test_cors_error_responses_are_granted_too(caplog: pytest.LogCaptureFixture) -> None:
    app = App(middleware=[_listed()])

    @app.get("/boom")
    async def boom(request: Request) -> str:
        raise RuntimeError("boom")

    for path, status in (("/boom", 500), ("/missing", 404)):
        response = await _one(app, _request(path=path, headers={"Origin": ORIGIN}))
        assert response.status == status
        assert response.header("access-control-allow-origin") == ORIGIN


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"allow_origins": "*", "allow_credentials": True}, ValueError, "cannot be used with"),
        ({"allow_origins": ["*"], "allow_credentials": True}, ValueError, "allow_credentials"),
        (
            {"allow_origins": [ORIGIN], "expose_headers": "*", "allow_credentials": True},
            ValueError,
            "expose_headers='\\*' cannot",
        ),
        ({"allow_origins": ["https://a.com/"]}, ValueError, "must not end with '/'"),
        ({"allow_origins": ["https://a.com/app"]}, ValueError, "is not an origin"),
        ({"allow_origins": ["a.com"]}, ValueError, "is not an origin"),
        ({"allow_origins": [b"https://a.com"]}, TypeError, "allow_origins must hold strings"),
        ({"allow_origin_regex": "https://(a"}, ValueError, "allow_origin_regex"),
        ({"allow_origin_regex": 3}, TypeError, "allow_origin_regex must be"),
        ({"allow_methods": ["GET POST"]}, ValueError, "allow_methods: 'GET POST'"),
        ({"allow_headers": ["x:y"]}, ValueError, "allow_headers"),
        ({"expose_headers": ["a b"]}, ValueError, "expose_headers"),
        ({"max_age": -1}, ValueError, "max_age must be at least 0"),
        ({"max_age": "600"}, TypeError, "max_age must be an int"),
        ({"allow_credentials": "yes"}, TypeError, "allow_credentials must be a bool"),
    ],
)
def test_cors_rejects_bad_configuration(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        CORS(**kwargs)


# -- SecurityHeaders ---------------------------------------------------------------------------


async def _as_https(request: Request, call_next: CallNext) -> Response:
    """What a proxy-headers middleware does for a request that came over TLS."""
    request.exchange.scheme = "https"
    return await call_next(request)


async def test_security_headers_defaults_over_http() -> None:
    response = await _one(_app(lambda: Text("x"), SecurityHeaders()), _request())
    assert response.header("x-content-type-options") == "nosniff"
    assert response.header("x-frame-options") == "DENY"
    assert response.header("content-security-policy") == "frame-ancestors 'none'"
    assert response.header("referrer-policy") == "strict-origin-when-cross-origin"
    assert response.header("strict-transport-security") is None
    assert response.header("cross-origin-opener-policy") is None


async def test_security_headers_hsts_over_https_and_when_not_https_only() -> None:
    app = _app(lambda: Text("x"), _as_https, SecurityHeaders())
    response = await _one(app, _request())
    assert response.header("strict-transport-security") == "max-age=31536000; includeSubDomains"
    always = SecurityHeaders(hsts_max_age=600, hsts_include_subdomains=False, https_only=False)
    plain = await _one(_app(lambda: Text("x"), always), _request())
    assert plain.header("strict-transport-security") == "max-age=600"
    preload = SecurityHeaders(hsts_preload=True, hsts_max_age=63072000)
    preloaded = await _one(_app(lambda: Text("x"), _as_https, preload), _request())
    assert preloaded.header("strict-transport-security") == (
        "max-age=63072000; includeSubDomains; preload"
    )
    off = await _one(_app(lambda: Text("x"), _as_https, SecurityHeaders(hsts=False)), _request())
    assert off.header("strict-transport-security") is None


async def test_security_headers_keep_what_the_response_set() -> None:
    def make() -> Response:
        return Text(
            "x",
            headers={
                "x-frame-options": "SAMEORIGIN",
                "content-security-policy": "default-src 'self'",
                "strict-transport-security": "max-age=0",
            },
        )

    response = await _one(_app(make, _as_https, SecurityHeaders()), _request())
    assert response.header("x-frame-options") == "SAMEORIGIN"
    assert response.header("content-security-policy") == "default-src 'self'"
    assert response.header("strict-transport-security") == "max-age=0"
    assert [n for n, _ in response.headers].count("x-frame-options") == 1


async def test_security_headers_policy_options() -> None:
    middleware = SecurityHeaders(
        frame_options="sameorigin",
        frame_ancestors="'self' https://a.example",
        content_security_policy="default-src 'self';",
        referrer_policy="no-referrer, strict-origin-when-cross-origin",
        permissions_policy="camera=(), geolocation=()",
        cross_origin_opener_policy="same-origin",
        cross_origin_resource_policy="same-site",
        content_type_options=False,
    )
    response = await _one(_app(lambda: Text("x"), middleware), _request(path="/nope"))
    assert response.header("x-frame-options") == "SAMEORIGIN"
    assert response.header("content-security-policy") == (
        "default-src 'self'; frame-ancestors 'self' https://a.example"
    )
    assert response.header("referrer-policy") == "no-referrer, strict-origin-when-cross-origin"
    assert response.header("permissions-policy") == "camera=(), geolocation=()"
    assert response.header("cross-origin-opener-policy") == "same-origin"
    assert response.header("cross-origin-resource-policy") == "same-site"
    assert response.header("x-content-type-options") is None


async def test_security_headers_policy_with_its_own_frame_ancestors_and_disabled_framing() -> None:
    own = SecurityHeaders(content_security_policy="frame-ancestors 'self'")
    response = await _one(_app(lambda: Text("x"), own), _request())
    assert response.header("content-security-policy") == "frame-ancestors 'self'"
    none = SecurityHeaders(frame_options=None, frame_ancestors=None, referrer_policy=None)
    bare = await _one(_app(lambda: Text("x"), none), _request())
    assert bare.header("x-frame-options") is None
    assert bare.header("content-security-policy") is None
    assert bare.header("referrer-policy") is None


async def test_security_headers_apply_to_error_responses() -> None:
    response = await _one(_app(lambda: Text("x"), SecurityHeaders()), _request("PUT"))
    assert response.status == 405
    assert response.header("x-frame-options") == "DENY"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"frame_options": "ALLOW-FROM https://a"}, ValueError, "frame_options must be"),
        ({"frame_options": 1}, TypeError, "frame_options must be a string"),
        ({"referrer_policy": "sometimes"}, ValueError, "referrer_policy must be one of"),
        ({"cross_origin_opener_policy": "open"}, ValueError, "cross_origin_opener_policy"),
        ({"cross_origin_resource_policy": "any"}, ValueError, "cross_origin_resource_policy"),
        ({"content_security_policy": "a\r\nSet-Cookie: x=1"}, ValueError, "control characters"),
        ({"permissions_policy": "camera=()\n"}, ValueError, "control characters"),
        ({"content_security_policy": "script-src \u2018self\u2019"}, ValueError, "Latin-1"),
        ({"frame_ancestors": "'none'; script-src *"}, ValueError, "source list"),
        ({"hsts_max_age": -1}, ValueError, "hsts_max_age must be at least 0"),
        ({"hsts_max_age": 1.5}, TypeError, "hsts_max_age must be an int"),
        ({"hsts_preload": True, "hsts_include_subdomains": False}, ValueError, "hsts_preload"),
        ({"hsts_preload": True, "hsts_max_age": 86400}, ValueError, "hsts_preload"),
    ],
)
def test_security_headers_reject_bad_configuration(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        SecurityHeaders(**kwargs)


# -- TrustedHosts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("example.com", True),
        ("EXAMPLE.com", True),
        ("example.com:8000", True),
        ("example.com.", True),
        ("example.com:", True),
        ("api.example.com", True),
        ("a.b.example.com", True),
        ("api.example.com:443", True),
        ("evil.com", False),
        ("example.com.evil.com", False),
        ("evilexample.com", False),
        ("badexample.com:80", False),
        (".example.com", False),
        ("a..example.com", False),
        ("", False),
        ("example.com:80:80", False),
        ("example.com:8o", False),
        ("[::1]", False),
    ],
)
async def test_trusted_hosts_matches_names_subdomains_and_ignores_the_port(
    host: str, allowed: bool
) -> None:
    calls: list[str] = []

    def make() -> Response:
        calls.append("view")
        return Text("ok")

    app = _app(make, TrustedHosts(["example.com", "*.example.com"]))
    raw = f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode("latin-1")
    response = await _one(app, raw)
    if allowed:
        assert (response.status, calls) == (200, ["view"])
    else:
        assert response.status == 400
        assert calls == []


async def test_trusted_hosts_refusal_says_invalid_host_header() -> None:
    app = _app(lambda: Text("ok"), TrustedHosts("example.com"))
    response = await _one(app, b"GET / HTTP/1.1\r\nHost: evil.com\r\n\r\n")
    assert (response.status, response.body) == (400, b"400 Invalid host header\n")


async def test_trusted_hosts_without_a_host_header_is_refused_unless_any() -> None:
    raw = b"GET / HTTP/1.0\r\n\r\n"
    assert (await _one(_app(lambda: Text("ok"), TrustedHosts("example.com")), raw)).status == 400
    assert (await _one(_app(lambda: Text("ok"), TrustedHosts("*")), raw)).status == 200
    star = _app(lambda: Text("ok"), TrustedHosts(["*"]))
    assert (await _one(star, b"GET / HTTP/1.1\r\nHost: evil.com\r\n\r\n")).status == 200


async def test_trusted_hosts_ip_addresses() -> None:
    app = _app(lambda: Text("ok"), TrustedHosts(["127.0.0.1", "[::1]"]))
    for host, status in (("127.0.0.1:8000", 200), ("[::1]:8000", 200), ("[::2]", 400)):
        raw = f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        assert (await _one(app, raw)).status == status


async def test_trusted_hosts_www_redirect_keeps_port_path_and_query() -> None:
    app = _app(lambda: Text("ok"), TrustedHosts(["www.example.com"], www_redirect=True))
    get = await _one(app, b"GET /a%20b?q=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n")
    assert (get.status, get.header("location")) == (301, "http://www.example.com:8080/a%20b?q=1")
    post = await _one(app, _request("POST", "/form", {"Host": "example.com"}))
    assert (post.status, post.header("location")) == (308, "http://www.example.com/form")
    assert (await _one(app, b"GET / HTTP/1.1\r\nHost: evil.com\r\n\r\n")).status == 400
    plain = _app(lambda: Text("ok"), TrustedHosts(["www.example.com"]))
    assert (await _one(plain, b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")).status == 400


@pytest.mark.parametrize(
    ("allowed", "error", "message"),
    [
        (["example.com:8000"], ValueError, "ports are ignored"),
        (["*example.com"], ValueError, "is not a host name"),
        (["exa*mple.com"], ValueError, "is not a host name"),
        (["*.*.example.com"], ValueError, "is not a host name"),
        (["http://example.com"], ValueError, "is not a host name"),
        (["example.com/"], ValueError, "is not a host name"),
        ([""], ValueError, "is not a host name"),
        ([], ValueError, "at least one host"),
        ([1], TypeError, "allowed must hold strings"),
    ],
)
def test_trusted_hosts_rejects_bad_patterns(
    allowed: list[Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        TrustedHosts(allowed)


# -- RequestID ---------------------------------------------------------------------------------


def _id_app(middleware: RequestID, seen: list[str]) -> App:
    app = App(middleware=[middleware])

    @app.get("/")
    async def home(request: Request) -> str:
        seen.append(request.state.request_id)
        return "ok"

    return app


async def test_request_id_is_made_stored_and_echoed() -> None:
    seen: list[str] = []
    app = _id_app(RequestID(), seen)
    first = await _one(app, _request())
    second = await _one(app, _request())
    assert re.fullmatch(r"[0-9a-f]{32}", seen[0])
    assert first.header("x-request-id") == seen[0]
    assert second.header("x-request-id") == seen[1] != seen[0]


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("abc-123.X_y", True),
        ("x" * 200, True),
        ("x" * 201, False),
        ("bad id", False),
        ("a;b", False),
        ("<script>", False),
        ("id\tsplit", False),
        ("%0d%0aSet-Cookie:x", False),
    ],
)
async def test_request_id_keeps_only_safe_incoming_ids(incoming: str, kept: bool) -> None:
    seen: list[str] = []
    response = await _one(_id_app(RequestID(), seen), _request(headers={"X-Request-ID": incoming}))
    assert (seen[0] == incoming) is kept
    assert response.header("x-request-id") == seen[0]
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,200}", seen[0])


@pytest.mark.parametrize(
    "raw",
    [
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Request-ID: abc\r\n Set-Cookie: evil=1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Request-ID: abc\rSet-Cookie: evil=1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Request-ID: abc\nSet-Cookie: evil=1\r\n\r\n",
    ],
)
async def test_request_id_crlf_injection_never_reaches_the_response(raw: bytes) -> None:
    seen: list[str] = []
    response = await _one(_id_app(RequestID(), seen), raw)
    assert (response.status, seen) == (400, [])  # the HTTP layer refuses it first
    assert response.header("set-cookie") is None


async def test_request_id_non_ascii_incoming_is_replaced() -> None:
    seen: list[str] = []
    raw = b"GET / HTTP/1.1\r\nHost: t\r\nX-Request-ID: caf\xe9\r\n\r\n"
    response = await _one(_id_app(RequestID(), seen), raw)
    assert response.status == 200
    assert re.fullmatch(r"[0-9a-f]{32}", seen[0])


async def test_request_id_options_header_generator_trust_and_length() -> None:
    numbers = iter(range(1, 10))
    middleware = RequestID(
        "Trace-Id", generator=lambda: f"t-{next(numbers)}", trust_incoming=False, max_length=5
    )
    seen: list[str] = []
    response = await _one(_id_app(middleware, seen), _request(headers={"Trace-Id": "abc"}))
    assert (seen, response.header("trace-id"), response.header("x-request-id")) == (
        ["t-1"],
        "t-1",
        None,
    )
    trusting = RequestID(max_length=5)
    short = await _one(_id_app(trusting, seen), _request(headers={"X-Request-ID": "12345"}))
    long = await _one(_id_app(trusting, seen), _request(headers={"X-Request-ID": "123456"}))
    assert short.header("x-request-id") == "12345"
    assert long.header("x-request-id") != "123456"


async def test_request_id_echoed_on_error_responses() -> None:
    app = _id_app(RequestID(), [])
    response = await _one(app, _request(path="/missing", headers={"X-Request-ID": "r-1"}))
    assert (response.status, response.header("x-request-id")) == (404, "r-1")


@pytest.mark.parametrize(("made", "error"), [(42, "TypeError"), ("bad id", "ValueError")])
async def test_request_id_bad_generator_output_is_a_logged_500(
    made: Any, error: str, caplog: pytest.LogCaptureFixture
) -> None:
    response = await _one(_id_app(RequestID(generator=lambda: made), []), _request())
    assert response.status == 500
    [record] = [r for r in caplog.records if r.name == "typhoon.error"]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert type(record.exc_info[1]).__name__ == error


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"header": "X Request"}, ValueError, "header must be a valid header name"),
        ({"header": "X-Id\r\n"}, ValueError, "header must be a valid header name"),
        ({"generator": "uuid"}, TypeError, "generator must be callable"),
        ({"max_length": 0}, ValueError, "max_length must be at least 1"),
        ({"max_length": "5"}, TypeError, "max_length must be an int"),
    ],
)
def test_request_id_rejects_bad_configuration(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        RequestID(**kwargs)


# -- all together ------------------------------------------------------------------------------


async def test_builtin_middleware_stack_in_the_documented_order() -> None:
    seen: list[str] = []
    app = App(
        middleware=[
            TrustedHosts(["example.com"]),
            RequestID(),
            SecurityHeaders(),
            CORS([ORIGIN]),
            GZip(),
        ]
    )

    @app.get("/")
    async def home(request: Request) -> Response:
        seen.append(request.state.request_id)
        return Text(TEXT)

    headers = {"Host": "example.com", "Origin": ORIGIN, "Accept-Encoding": "gzip"}
    response = await _one(app, _request(headers=headers))
    assert _gunzip(response.body) == TEXT.encode()
    assert response.header("vary") == "Accept-Encoding, Origin"
    assert response.header("access-control-allow-origin") == ORIGIN
    assert response.header("x-request-id") == seen[0]
    assert response.header("x-frame-options") == "DENY"
    refused = await _one(app, _request(headers={**headers, "Host": "evil.com"}))
    assert (refused.status, refused.header("x-request-id"), len(seen)) == (400, None, 1)
