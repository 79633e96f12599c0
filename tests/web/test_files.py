"""File: validators, conditional requests, ranges, streaming, sendfile, 404s."""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from typhoon import App, Request
from typhoon.http import Exchange, HTTPConfig, HTTPServer
from typhoon.net import run as run_loop
from typhoon.testing import MemoryTransport, ParsedResponse, connect, feed, parse_responses
from typhoon.web.files import (
    MAX_RANGES,
    File,
    format_content_disposition,
    guess_media_type,
    parse_range,
)

CONTENT = b"hello world"  # 11 bytes
BIG = 2 * 1024 * 1024


def _app(path: Path | str, **kwargs: Any) -> App:
    app = App()

    @app.route("/f", methods=["GET", "POST"])
    async def view(request: Request) -> File:
        return File(path, **kwargs)

    @app.get("/teapot")
    async def teapot(request: Request) -> tuple[File, int]:
        return File(path, **kwargs), 418

    return app


def _raw(target: str = "/f", method: str = "GET", **headers: str) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: t"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    if method == "POST":
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read(transport: MemoryTransport, *, head: bool = False) -> ParsedResponse:
    """Wait for one complete response (files are opened and read in threads)."""
    data = b""
    for _ in range(3000):
        data += transport.take()
        if data:
            try:
                return parse_responses(data, head_request=head)[0]
            except ValueError:
                pass
        await asyncio.sleep(0.001)
    raise AssertionError(f"no complete response; got {data[:300]!r}")


async def _get(app: App, raw: bytes) -> ParsedResponse:
    protocol, transport = connect(app)
    feed(protocol, raw)
    return await _read(transport, head=raw.startswith(b"HEAD"))


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "hello.txt"
    path.write_bytes(CONTENT)
    return path


@pytest.fixture
def big(tmp_path: Path) -> tuple[Path, bytes]:
    content = os.urandom(BIG)
    path = tmp_path / "big.bin"
    path.write_bytes(content)
    return path, content


def _mtime(path: Path) -> int:
    return int(path.stat().st_mtime)


def _date(path: Path, offset: int = 0) -> str:
    """The HTTP-date of the file's modification time, moved by ``offset`` seconds."""
    return email.utils.formatdate(_mtime(path) + offset, usegmt=True)


def _stat(path: Path) -> os.stat_result:
    return path.stat()


def _etag(path: Path) -> str:
    info = path.stat()
    return f'"{info.st_mtime_ns:x}-{info.st_size:x}"'


def _byteranges(response: ParsedResponse) -> list[tuple[str, str, bytes]]:
    """The parts of a multipart/byteranges body: (content-type, content-range, data)."""
    media = response.header("content-type") or ""
    assert media.startswith("multipart/byteranges; boundary=")
    boundary = media.partition("boundary=")[2].encode()
    delimiter = b"--" + boundary
    body = response.body
    assert body.startswith(delimiter + b"\r\n")
    assert body.endswith(delimiter + b"--\r\n")
    parts = []
    for piece in body.split(delimiter)[1:-1]:
        head, _, data = piece.partition(b"\r\n\r\n")
        assert data.endswith(b"\r\n")
        fields = dict(line.split(": ", 1) for line in head.decode().strip().split("\r\n"))
        parts.append((fields["content-type"], fields["content-range"], data[:-2]))
    return parts


# -- the plain answer -----------------------------------------------------------------------


async def test_file_small_text_has_type_length_and_validators(small: Path) -> None:
    response = await _get(_app(small), _raw())
    assert (response.status, response.body) == (200, CONTENT)
    assert response.header("content-type") == "text/plain; charset=utf-8"
    assert response.header("content-length") == "11"
    assert response.header("accept-ranges") == "bytes"
    assert response.header("etag") == _etag(small)
    assert response.header("last-modified") == _date(small)
    assert response.header("content-disposition") is None


async def test_file_empty_file_is_200_with_zero_length(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    response = await _get(_app(path), _raw())
    assert (response.status, response.body, response.header("content-length")) == (200, b"", "0")


async def test_file_head_sends_headers_only(small: Path) -> None:
    response = await _get(_app(small), _raw(method="HEAD"))
    assert (response.status, response.body) == (200, b"")
    assert response.header("content-length") == "11"
    assert response.header("etag") == _etag(small)


async def test_file_head_of_big_file_reads_nothing_and_declares_the_size(
    big: tuple[Path, bytes],
) -> None:
    response = await _get(_app(big[0]), _raw(method="HEAD"))
    assert (response.status, response.header("content-length")) == (200, str(BIG))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.txt", "text/plain; charset=utf-8"),
        ("a.html", "text/html; charset=utf-8"),
        ("a.css", "text/css; charset=utf-8"),
        ("a.js", "text/javascript; charset=utf-8"),
        ("a.json", "application/json"),
        ("a.svg", "image/svg+xml; charset=utf-8"),
        ("a.png", "image/png"),
        ("a.woff2", "font/woff2"),
        ("a.wasm", "application/wasm"),
        ("a.tar.gz", "application/gzip"),
        ("A.PNG", "image/png"),
        ("no-extension", "application/octet-stream"),
    ],
)
def test_file_guess_media_type_by_extension(name: str, expected: str) -> None:
    assert guess_media_type(name) == expected


async def test_file_explicit_media_type_and_extra_headers(small: Path) -> None:
    app = _app(small, media_type="application/x-thing", headers={"cache-control": "no-store"})
    response = await _get(app, _raw())
    assert response.header("content-type") == "application/x-thing"
    assert response.header("cache-control") == "no-store"


async def test_file_non_200_status_sends_whole_file_ignoring_range(small: Path) -> None:
    response = await _get(_app(small), _raw("/teapot", range="bytes=0-1"))
    assert (response.status, response.body) == (418, CONTENT)


# -- Content-Disposition --------------------------------------------------------------------


async def test_file_filename_makes_an_attachment(small: Path) -> None:
    response = await _get(_app(small, filename="report.txt"), _raw())
    assert response.header("content-disposition") == 'attachment; filename="report.txt"'


async def test_file_non_ascii_filename_gets_rfc5987_filename_star(small: Path) -> None:
    response = await _get(_app(small, filename="résumé 2024.txt"), _raw())
    assert response.header("content-disposition") == (
        "attachment; filename=\"r_sum_ 2024.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%202024.txt"
    )


async def test_file_inline_without_filename_uses_the_file_name(small: Path) -> None:
    response = await _get(_app(small, content_disposition="inline"), _raw())
    assert response.header("content-disposition") == 'inline; filename="hello.txt"'


def test_file_disposition_quotes_and_controls_are_replaced() -> None:
    value = format_content_disposition("attachment", 'a"b\\c\r\nd.txt')
    assert value.startswith("attachment; filename=\"a_b_c__d.txt\"; filename*=UTF-8''")
    assert "\r" not in value
    assert "\n" not in value
    assert "a%22b%5Cc%0D%0Ad.txt" in value


def test_file_disposition_kind_is_checked() -> None:
    with pytest.raises(ValueError, match="content_disposition"):
        format_content_disposition("download", "x")  # type: ignore[arg-type]


# -- 404 -------------------------------------------------------------------------------


async def test_file_missing_file_is_404(tmp_path: Path) -> None:
    response = await _get(_app(tmp_path / "nope.txt"), _raw())
    assert (response.status, response.body) == (404, b"404 Not Found\n")


async def test_file_that_disappears_before_sending_is_404(small: Path) -> None:
    app = App()

    @app.get("/f")
    async def view(request: Request) -> File:
        response = File(small)
        os.unlink(small)  # gone before the response is sent
        return response

    assert (await _get(app, _raw())).status == 404


async def test_file_directory_is_404(tmp_path: Path) -> None:
    assert (await _get(_app(tmp_path), _raw())).status == 404


async def test_file_fifo_is_404_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert (await _get(_app(fifo), _raw())).status == 404


async def test_file_replaced_since_its_stat_is_404(small: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    other.write_bytes(b"x")
    assert (await _get(_app(small, stat_result=_stat(small)), _raw())).status == 200
    assert (await _get(_app(small, stat_result=_stat(other)), _raw())).status == 404


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"path": 5}, TypeError),
        ({"chunk_size": 0}, ValueError),
        ({"chunk_size": "big"}, TypeError),
        ({"chunk_size": True}, TypeError),
        ({"content_disposition": "download"}, ValueError),
    ],
)
def test_file_bad_arguments_raise_naming_them(kwargs: dict[str, Any], error: type) -> None:
    arguments: dict[str, Any] = {"path": "x.txt", **kwargs}
    with pytest.raises(error, match=next(iter(kwargs))):
        File(**arguments)


# -- conditional requests ---------------------------------------------------------------


async def test_file_if_none_match_same_etag_is_304_with_validators(small: Path) -> None:
    response = await _get(
        _app(small, headers={"cache-control": "max-age=60"}), _raw(if_none_match=_etag(small))
    )
    assert (response.status, response.body) == (304, b"")
    assert response.header("etag") == _etag(small)
    assert response.header("last-modified") is not None
    assert response.header("cache-control") == "max-age=60"
    assert response.header("content-type") is None
    assert response.header("content-length") is None


@pytest.mark.parametrize(
    "value",
    ['"other", W/{etag}', "*", '  "a" ,{etag}'],
    ids=["weak-in-list", "star", "spaces"],
)
async def test_file_if_none_match_list_weak_and_star_are_304(small: Path, value: str) -> None:
    response = await _get(_app(small), _raw(if_none_match=value.format(etag=_etag(small))))
    assert response.status == 304


async def test_file_own_etag_and_last_modified_are_used_not_doubled(small: Path) -> None:
    headers = {"etag": 'W/"mine"', "last-modified": "Mon, 01 Jan 2024 00:00:00 GMT"}
    app = _app(small, headers=headers)
    response = await _get(app, _raw())
    assert [v for k, v in response.headers if k == "etag"] == ['W/"mine"']
    assert [v for k, v in response.headers if k == "last-modified"] == [headers["last-modified"]]
    assert (await _get(app, _raw(if_none_match='"mine"'))).status == 304  # weak comparison
    assert (await _get(app, _raw(if_match='W/"mine"'))).status == 412  # strong comparison
    partial = await _get(app, _raw(range="bytes=0-1", if_range='W/"mine"'))
    assert partial.status == 200  # a weak validator never satisfies If-Range


async def test_file_if_none_match_other_etag_is_200(small: Path) -> None:
    response = await _get(_app(small), _raw(if_none_match='"nope", W/"other"'))
    assert (response.status, response.body) == (200, CONTENT)


async def test_file_head_if_none_match_is_304(small: Path) -> None:
    response = await _get(_app(small), _raw(method="HEAD", if_none_match=_etag(small)))
    assert response.status == 304


async def test_file_post_if_none_match_is_412(small: Path) -> None:
    response = await _get(_app(small), _raw(method="POST", if_none_match="*"))
    assert response.status == 412


@pytest.mark.parametrize(("offset", "status"), [(0, 304), (3600, 304), (-3600, 200)])
async def test_file_if_modified_since(small: Path, offset: int, status: int) -> None:
    response = await _get(_app(small), _raw(if_modified_since=_date(small, offset)))
    assert response.status == status


async def test_file_if_modified_since_is_ignored_with_if_none_match(small: Path) -> None:
    date = _date(small, 3600)
    response = await _get(_app(small), _raw(if_modified_since=date, if_none_match='"other"'))
    assert response.status == 200


@pytest.mark.parametrize("value", ["yesterday", "", "Mon, 99 Foo 2020 00:00:00 GMT"])
async def test_file_malformed_if_modified_since_is_ignored(small: Path, value: str) -> None:
    assert (await _get(_app(small), _raw(if_modified_since=value))).status == 200


async def test_file_if_modified_since_asctime_format(small: Path) -> None:
    moment = email.utils.parsedate_to_datetime(_date(small))
    asctime = f"{moment:%a %b} {moment.day:2d} {moment:%H:%M:%S %Y}"  # "Sun Nov  6 08:49:37 1994"
    assert (await _get(_app(small), _raw(if_modified_since=asctime))).status == 304


async def test_file_if_match_failure_is_412_and_star_passes(small: Path) -> None:
    failed = await _get(_app(small), _raw(if_match='"other"'))
    assert (failed.status, failed.body) == (412, b"412 Precondition Failed\n")
    assert (await _get(_app(small), _raw(if_match="*"))).status == 200
    assert (await _get(_app(small), _raw(if_match=_etag(small)))).status == 200
    weak = await _get(_app(small), _raw(if_match="W/" + _etag(small)))
    assert weak.status == 412  # If-Match compares strongly


async def test_file_if_unmodified_since_earlier_is_412(small: Path) -> None:
    earlier, later = _date(small, -10), _date(small, 10)
    assert (await _get(_app(small), _raw(if_unmodified_since=earlier))).status == 412
    assert (await _get(_app(small), _raw(if_unmodified_since=later))).status == 200


# -- ranges ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "content_range", "body"),
    [
        ("bytes=0-4", "bytes 0-4/11", b"hello"),
        ("bytes=6-", "bytes 6-10/11", b"world"),
        ("bytes=-5", "bytes 6-10/11", b"world"),
        ("bytes=-500", "bytes 0-10/11", CONTENT),
        ("bytes=4-1000", "bytes 4-10/11", b"o world"),
        ("Bytes = 0-0", "bytes 0-0/11", b"h"),
        ("bytes=20-30, 0-1", "bytes 0-1/11", b"he"),
    ],
)
async def test_file_single_range_is_206(
    small: Path, spec: str, content_range: str, body: bytes
) -> None:
    response = await _get(_app(small), _raw(range=spec))
    assert (response.status, response.body) == (206, body)
    assert response.header("content-range") == content_range
    assert response.header("content-length") == str(len(body))
    assert response.header("content-type") == "text/plain; charset=utf-8"
    assert response.header("etag") == _etag(small)


async def test_file_multiple_ranges_are_multipart_byteranges(small: Path) -> None:
    response = await _get(_app(small), _raw(range="bytes=0-1, 4-6,-2"))
    assert response.status == 206
    assert response.header("content-length") == str(len(response.body))
    assert _byteranges(response) == [
        ("text/plain; charset=utf-8", "bytes 0-1/11", b"he"),
        ("text/plain; charset=utf-8", "bytes 4-6/11", b"o w"),
        ("text/plain; charset=utf-8", "bytes 9-10/11", b"ld"),
    ]


async def test_file_multipart_boundary_is_random(small: Path) -> None:
    first = await _get(_app(small), _raw(range="bytes=0-1,3-4"))
    second = await _get(_app(small), _raw(range="bytes=0-1,3-4"))
    assert first.header("content-type") != second.header("content-type")


@pytest.mark.parametrize("spec", ["bytes=11-", "bytes=100-200", "bytes=-0", "bytes=50-60,70-"])
async def test_file_unsatisfiable_range_is_416(small: Path, spec: str) -> None:
    response = await _get(_app(small), _raw(range=spec))
    assert response.status == 416
    assert response.header("content-range") == "bytes */11"
    assert response.body == b"416 Range Not Satisfiable\n"


async def test_file_range_on_empty_file_is_416(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    response = await _get(_app(path), _raw(range="bytes=0-"))
    assert (response.status, response.header("content-range")) == (416, "bytes */0")


@pytest.mark.parametrize(
    "spec",
    [
        "bytes=5-1",
        "bytes=abc",
        "bytes=",
        "bytes=0-1,x",
        "bytes=-",
        "bytes=1-2-3",
        "bytes=+1-2",
        "items=0-1",
        "bytes 0-1",
        "bytes=0-5,1-6,2-7",  # more bytes than the file: sent once, whole
    ],
)
async def test_file_malformed_or_abusive_range_is_ignored(small: Path, spec: str) -> None:
    response = await _get(_app(small), _raw(range=spec))
    assert (response.status, response.body) == (200, CONTENT)


async def test_file_huge_range_numbers_do_not_break_parsing(small: Path) -> None:
    huge = "9" * 5000
    assert (await _get(_app(small), _raw(range=f"bytes={huge}-"))).status == 416
    response = await _get(_app(small), _raw(range=f"bytes=0-{huge}"))
    assert (response.status, response.body) == (206, CONTENT)


def test_file_too_many_ranges_are_ignored() -> None:
    def spec(count: int) -> str:
        return "bytes=" + ",".join(f"{i * 2}-{i * 2}" for i in range(count))

    assert len(parse_range(spec(MAX_RANGES), 1000) or []) == MAX_RANGES
    assert parse_range(spec(MAX_RANGES + 1), 1000) is None


def test_file_parse_range_results() -> None:
    assert parse_range("bytes=0-99, -100", 1000) == [(0, 99), (900, 999)]
    assert parse_range("bytes=0-0,-1", 1) is None  # two bytes asked of a one-byte file
    assert parse_range("bytes=5-", 3) == []
    assert parse_range("lines=1-2", 10) is None


@pytest.mark.parametrize(
    ("if_range", "status"),
    [("{etag}", 206), ('"other"', 200), ("W/{etag}", 200), ("{date}", 206), ("{old}", 200)],
    ids=["etag", "other-etag", "weak-etag", "date", "older-date"],
)
async def test_file_if_range(small: Path, if_range: str, status: int) -> None:
    value = if_range.format(etag=_etag(small), date=_date(small), old=_date(small, -60))
    response = await _get(_app(small), _raw(range="bytes=0-4", if_range=value))
    assert response.status == status
    assert response.body == (b"hello" if status == 206 else CONTENT)


async def test_file_head_with_range_is_206_without_body(small: Path) -> None:
    response = await _get(_app(small), _raw(method="HEAD", range="bytes=0-4"))
    assert (response.status, response.body) == (206, b"")
    assert response.header("content-range") == "bytes 0-4/11"
    assert response.header("content-length") == "5"


async def test_file_range_is_ignored_for_post(small: Path) -> None:
    response = await _get(_app(small), _raw(method="POST", range="bytes=0-4"))
    assert (response.status, response.body) == (200, CONTENT)


# -- big files: streamed in memory, and sendfile on a socket ----------------------------------


async def test_file_big_file_streams_intact_with_bounded_memory(big: tuple[Path, bytes]) -> None:
    path, content = big
    high_water = 64 * 1024
    transport = MemoryTransport(high_water=high_water)
    protocol, _ = connect(_app(path), transport=transport)
    head = b""
    digest = hashlib.sha256()
    received = peak_buffer = 0
    tracemalloc.start()
    try:
        feed(protocol, _raw())
        for _ in range(5000):
            peak_buffer = max(peak_buffer, len(transport.written))
            data = transport.take()
            if not head and b"\r\n\r\n" in data:
                head, _, data = data.partition(b"\r\n\r\n")
            digest.update(data)
            received += len(data)
            if received >= BIG:
                break
            await asyncio.sleep(0.0005)
        _, peak_memory = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert b"content-length: %d" % BIG in head
    assert (received, digest.hexdigest()) == (BIG, hashlib.sha256(content).hexdigest())
    assert peak_buffer <= high_water + 64 * 1024  # the writer waited for the reader
    assert peak_memory < 1024 * 1024  # never the whole 2 MB at once


async def test_file_big_file_ranges_across_chunks(big: tuple[Path, bytes]) -> None:
    path, content = big
    single = await _get(_app(path), _raw(range="bytes=65530-200000"))
    assert (single.status, single.body) == (206, content[65530:200001])
    multi = await _get(_app(path), _raw(range="bytes=0-9,1000000-1100000,-70000"))
    assert [(r, d) for _, r, d in _byteranges(multi)] == [
        (f"bytes 0-9/{BIG}", content[:10]),
        (f"bytes 1000000-1100000/{BIG}", content[1000000:1100001]),
        (f"bytes {BIG - 70000}-{BIG - 1}/{BIG}", content[-70000:]),
    ]


async def test_file_concurrent_range_requests(big: tuple[Path, bytes]) -> None:
    path, content = big
    app = _app(path)
    spans = [(i * 250_000, i * 250_000 + 99_999 + i) for i in range(8)]
    responses = await asyncio.gather(
        *(_get(app, _raw(range=f"bytes={start}-{end}")) for start, end in spans)
    )
    for (start, end), response in zip(spans, responses, strict=True):
        assert response.status == 206
        assert response.header("content-range") == f"bytes {start}-{end}/{BIG}"
        assert response.body == content[start : end + 1]


async def test_file_truncated_while_streaming_closes_the_connection(
    big: tuple[Path, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    path, _ = big
    transport = MemoryTransport(high_water=64 * 1024)
    protocol, _ = connect(_app(path, chunk_size=16 * 1024), transport=transport)
    feed(protocol, _raw())
    data = b""
    for _ in range(200):
        data += transport.take()
        if b"\r\n\r\n" in data:
            break
        await asyncio.sleep(0.001)
    with path.open("r+b") as file:
        file.truncate(100_000)
    for _ in range(3000):
        data += transport.take()
        if transport.closed:
            break
        await asyncio.sleep(0.001)
    assert transport.closed
    assert len(data.partition(b"\r\n\r\n")[2]) < BIG  # the response ended short, not padded


async def _fetch_tcp(port: int, raw: bytes) -> tuple[bytes, bytes]:
    """Send ``raw`` over a real socket; return the response head and its body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        return head, await reader.readexactly(length)
    finally:
        writer.close()
        await writer.wait_closed()


async def test_file_over_tcp_uses_sendfile_and_arrives_intact(big: tuple[Path, bytes]) -> None:
    path, content = big
    async with HTTPServer(_app(path), HTTPConfig(access_log=False)) as server:
        await server.listen_tcp("127.0.0.1", 0)
        head, body = await _fetch_tcp(server.port, _raw())
        assert head.startswith(b"HTTP/1.1 200 ")
        assert hashlib.sha256(body).digest() == hashlib.sha256(content).digest()
        head, body = await _fetch_tcp(server.port, _raw(range="bytes=100-199,-50"))
        assert head.startswith(b"HTTP/1.1 206 ")
        assert content[100:200] in body
        assert content[-50:] in body
        await server.drain(5)


async def test_file_pipelined_requests_over_tcp_arrive_in_order(big: tuple[Path, bytes]) -> None:
    path, content = big
    async with HTTPServer(_app(path), HTTPConfig(access_log=False)) as server:
        await server.listen_tcp("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(_raw(range="bytes=0-99999") + _raw() + _raw(range="bytes=-10"))
            bodies = []
            for _ in range(3):
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                bodies.append(await reader.readexactly(length))
        finally:
            writer.close()
            await writer.wait_closed()
        await server.drain(5)
    assert bodies == [content[:100000], content, content[-10:]]


class _SendfileApp:
    """A bare application that sends a file with ``exchange.sendfile`` when it can."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.used: list[bool] = []

    async def handle(self, exchange: Exchange) -> None:
        size = self.path.stat().st_size
        with self.path.open("rb") as file:
            exchange.start(200, [(b"content-length", b"%d" % size)])
            used = await exchange.sendfile(file, 0, size)
            self.used.append(used)
            if not used:
                await exchange.write(file.read())
            await exchange.end()


async def _sendfile_over_tcp(path: Path) -> tuple[list[bool], bytes]:
    app = _SendfileApp(path)
    async with HTTPServer(app, HTTPConfig(access_log=False)) as server:
        await server.listen_tcp("127.0.0.1", 0)
        _, body = await _fetch_tcp(server.port, _raw())
        await server.drain(5)
    return app.used, body


async def test_exchange_sendfile_on_asyncio_tcp_is_used(big: tuple[Path, bytes]) -> None:
    used, body = await _sendfile_over_tcp(big[0])
    assert (used, body == big[1]) == ([True], True)


async def test_exchange_sendfile_in_memory_declines_and_write_takes_over(small: Path) -> None:
    app = _SendfileApp(small)
    protocol, transport = connect(app)
    feed(protocol, _raw())
    response = await _read(transport)
    assert (app.used, response.body) == ([False], CONTENT)


def test_exchange_sendfile_on_uvloop_declines_and_write_takes_over(
    big: tuple[Path, bytes],
) -> None:
    used, body = run_loop(_sendfile_over_tcp(big[0]), use_uvloop=True)
    assert (used, body == big[1]) == ([False], True)
