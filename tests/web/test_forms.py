"""Form bodies: urlencoded and multipart, their limits, malformed input and uploads."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import random
from pathlib import Path
from typing import Any

import msgspec
import pytest

from typhoon import App, Request
from typhoon.http.limits import HTTPConfig, HTTPLimits
from typhoon.testing import MemoryTransport, ParsedResponse, connect, feed, parse_responses, settle
from typhoon.web.forms import FormData, FormLimits, UploadFile

BOUNDARY = "typhoon-7MA4YWxkTrZu0gW"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
URLENCODED = "application/x-www-form-urlencoded"


# -- helpers ---------------------------------------------------------------------------


def _part(
    name: str,
    value: bytes,
    *,
    filename: str | None = None,
    content_type: str | None = None,
    boundary: str = BOUNDARY,
) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode() + b"\r\n" + value + b"\r\n"


def _multipart(*parts: bytes, boundary: str = BOUNDARY) -> bytes:
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def _post(body: bytes, content_type: str | None = MULTIPART, path: str = "/form") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n"
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode("latin-1") + b"\r\n" + body


async def _send(
    app: App, raw: bytes, chunk: int | None = None, config: HTTPConfig | None = None
) -> ParsedResponse:
    protocol, transport = connect(app, config)
    feed(protocol, raw, chunk)
    # Files past the spool threshold are written in threads: wait for real, not for a
    # fixed number of loop turns.
    await asyncio.wait_for(transport.wait_written(), 5)
    await settle()
    [response] = parse_responses(transport.take())
    return response


async def _describe(value: str | UploadFile) -> Any:
    if isinstance(value, str):
        return value
    content = await value.read()
    return {
        "filename": value.filename,
        "content_type": value.content_type,
        "size": value.size,
        "in_memory": value.in_memory,
        "sha256": hashlib.sha256(content).hexdigest(),
    }


def _app(uploads: list[UploadFile] | None = None, **settings: Any) -> App:
    """An app whose views answer with the parsed form as JSON ``[[name, value], ...]``."""
    app = App(**settings)

    async def render(form: FormData) -> list[list[Any]]:
        items = []
        for name, value in form.multi_items():
            if isinstance(value, UploadFile) and uploads is not None:
                uploads.append(value)
            items.append([name, await _describe(value)])
        return items

    @app.post("/form")
    async def plain(request: Request) -> list[list[Any]]:
        return await render(await request.form())

    @app.post("/tight")
    async def tight(request: Request) -> list[list[Any]]:
        form = await request.form(
            max_fields=2, max_files=1, max_field_bytes=10, max_part_bytes=20, spool_threshold=4
        )
        return await render(form)

    @app.post("/disk")
    async def disk(request: Request) -> dict[str, Any]:
        form = await request.form()
        upload = form["file"]
        assert isinstance(upload, UploadFile)
        if uploads is not None:
            uploads.append(upload)
        spooled = not isinstance(upload.file._file, io.BytesIO)
        on_disk = os.fstat(upload.file.fileno()).st_size
        digest = hashlib.sha256()
        while piece := await upload.read(256 * 1024):
            digest.update(piece)
        return {
            "in_memory": upload.in_memory,
            "spooled": spooled,
            "on_disk": on_disk,
            "size": upload.size,
            "sha256": digest.hexdigest(),
        }

    return app


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")


# -- urlencoded ------------------------------------------------------------------------


async def test_urlencoded_repeated_blank_plus_and_escapes_are_decoded() -> None:
    body = b"a=1&a=2&b=&c&d=x+y%2Bz&e=%E2%82%AC&&f=%3D"
    response = await _send(_app(), _post(body, URLENCODED))
    assert response.status == 200
    assert response.body == (
        b'[["a","1"],["a","2"],["b",""],["c",""],["d","x y+z"],["e","\xe2\x82\xac"],["f","="]]'
    )


async def test_urlencoded_malformed_percent_escapes_are_kept_literally() -> None:
    response = await _send(_app(), _post(b"a=%zz&b=%&c=%4&d=100%", URLENCODED))
    assert response.body == b'[["a","%zz"],["b","%"],["c","%4"],["d","100%"]]'


@pytest.mark.parametrize("body", [b"a=%FF", b"a=\xff", b"%C3%28=1"])
async def test_urlencoded_invalid_utf8_is_400(body: bytes) -> None:
    response = await _send(_app(), _post(body, URLENCODED))
    assert (response.status, response.body) == (400, b"400 a form field is not valid UTF-8\n")


async def test_urlencoded_over_default_max_fields_is_413_naming_the_limit() -> None:
    body = b"&".join(b"f%d=1" % i for i in range(1001))
    response = await _send(_app(), _post(body, URLENCODED))
    assert response.status == 413
    assert response.body == b"413 too many fields in the form (max_fields=1000)\n"
    at_limit = await _send(_app(), _post(body.rpartition(b"&")[0], URLENCODED))
    assert at_limit.status == 200


async def test_urlencoded_per_call_limits_apply() -> None:
    app = _app()
    fields = await _send(app, _post(b"a=1&b=2&c=3", URLENCODED, "/tight"))
    assert (fields.status, fields.body) == (
        413,
        b"413 too many fields in the form (max_fields=2)\n",
    )
    long = await _send(app, _post(b"a=12345678901", URLENCODED, "/tight"))
    assert long.status == 413
    assert b"max_field_bytes (10)" in long.body
    name = await _send(app, _post(b"abcdefghijk=1", URLENCODED, "/tight"))
    assert (name.status, b"max_field_bytes" in name.body) == (413, True)
    fits = await _send(app, _post(b"a=1234567890", URLENCODED, "/tight"))
    assert (fits.status, fits.body) == (200, b'[["a","1234567890"]]')


@pytest.mark.parametrize("chunk", [1, 2, 7])
async def test_urlencoded_fed_in_pieces_gives_the_same_form(chunk: int) -> None:
    body = b"name=J%C3%BCrgen+M&tags=a&tags=b&empty="
    response = await _send(_app(), _post(body, URLENCODED), chunk)
    assert response.body == (b'[["name","J\xc3\xbcrgen M"],["tags","a"],["tags","b"],["empty",""]]')


async def test_form_without_content_type_reads_as_urlencoded_and_empty_body_is_empty() -> None:
    app = _app()
    untyped = await _send(app, _post(b"a=1", None))
    assert untyped.body == b'[["a","1"]]'
    empty = await _send(app, _post(b"", URLENCODED))
    assert (empty.status, empty.body) == (200, b"[]")


@pytest.mark.parametrize("kind", ["application/json", "text/plain", "multipart/mixed; boundary=x"])
async def test_form_of_another_content_type_is_415(kind: str) -> None:
    response = await _send(_app(), _post(b'{"a": 1}', kind))
    assert response.status == 415
    assert b"application/x-www-form-urlencoded or multipart/form-data" in response.body


async def test_form_is_parsed_once_and_cached() -> None:
    app = App()

    @app.post("/twice")
    async def twice(request: Request) -> str:
        first = await request.form()
        second = await request.form(max_fields=0)  # limits apply to the first call only
        return f"{first is second}|{first['a']}"

    response = await _send(app, _post(b"a=1", URLENCODED, "/twice"))
    assert response.body == b"True|1"


async def test_form_after_body_was_read_parses_the_kept_body() -> None:
    app = App()

    @app.post("/both")
    async def both(request: Request) -> str:
        raw = await request.body()
        form = await request.form()
        return f"{len(raw)}|{form['a']}|{form['b']}"

    response = await _send(app, _post(b"a=1&b=2", URLENCODED, "/both"))
    assert response.body == b"7|1|2"


# -- multipart: well-formed ----------------------------------------------------------------


def _sample_body() -> bytes:
    return _multipart(
        _part("title", "Grüße".encode()),
        _part("doc", b"line 1\r\nline 2\r\n--not-the-boundary\r\n", filename="a.txt"),
        _part("pic", b"\x89PNG\r\n\x1a\n\x00", filename="pïc.png", content_type="image/png"),
        _part("title", b""),
    )


def _sample_expected() -> list[list[Any]]:
    def file(name: str, data: bytes, kind: str) -> dict[str, Any]:
        return {
            "filename": name,
            "content_type": kind,
            "size": len(data),
            "in_memory": True,
            "sha256": hashlib.sha256(data).hexdigest(),
        }

    doc = b"line 1\r\nline 2\r\n--not-the-boundary\r\n"
    return [
        ["title", "Grüße"],
        ["doc", file("a.txt", doc, "application/octet-stream")],
        ["pic", file("pïc.png", b"\x89PNG\r\n\x1a\n\x00", "image/png")],
        ["title", ""],
    ]


async def test_multipart_fields_and_files_are_parsed_in_order() -> None:
    response = await _send(_app(), _post(_sample_body()))
    assert response.status == 200

    assert msgspec.json.decode(response.body) == _sample_expected()


@pytest.mark.parametrize("chunk", [1, 2, 7])
async def test_multipart_fed_in_pieces_gives_the_same_form(chunk: int) -> None:
    response = await _send(_app(), _post(_sample_body()), chunk)

    assert response.status == 200
    assert msgspec.json.decode(response.body) == _sample_expected()


async def test_multipart_preamble_newlines_and_epilogue_are_ignored() -> None:
    body = b"\r\n" + _multipart(_part("a", b"1")) + b"an epilogue\r\n"
    response = await _send(_app(), _post(body))
    assert (response.status, response.body) == (200, b'[["a","1"]]')


async def test_multipart_quoted_boundary_and_empty_filename() -> None:
    body = _multipart(_part("f", b"", filename="", boundary="a b"), boundary="a b")
    response = await _send(_app(), _post(body, 'multipart/form-data; boundary="a b"'))
    assert response.status == 200
    assert b'"filename":"","content_type":"application/octet-stream","size":0' in response.body


async def test_multipart_upload_keeps_part_headers() -> None:
    app = App()

    @app.post("/h")
    async def headers(request: Request) -> str:
        upload = (await request.form())["f"]
        assert isinstance(upload, UploadFile)
        return f"{upload.headers['X-Extra']}|{upload.headers['content-type']}|{upload!r}"

    raw = (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=f; filename=x.bin\r\n"
        f"X-Extra: yes\r\nContent-Type: application/x-thing\r\n\r\nabc\r\n--{BOUNDARY}--\r\n"
    ).encode()
    response = await _send(app, _post(raw, path="/h"))
    assert response.body == (
        b"yes|application/x-thing|"
        b"UploadFile(filename='x.bin', content_type='application/x-thing', size=3)"
    )


# -- multipart: malformed --------------------------------------------------------------


async def test_multipart_without_boundary_is_400() -> None:
    for kind in (
        "multipart/form-data",
        "multipart/form-data; charset=utf-8",
        'multipart/form-data; boundary=""',
    ):
        response = await _send(_app(), _post(_multipart(_part("a", b"1")), kind))
        assert response.status == 400, kind
        assert response.body == b"400 multipart/form-data without a boundary parameter\n"


async def test_multipart_boundary_too_long_is_400() -> None:
    boundary = "b" * 257
    body = _multipart(_part("a", b"1", boundary=boundary), boundary=boundary)
    response = await _send(_app(), _post(body, f"multipart/form-data; boundary={boundary}"))
    assert (response.status, response.body) == (
        400,
        b"400 multipart boundary longer than 256 bytes\n",
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(_part("a", b"1"), id="no-closing-boundary"),
        pytest.param(_part("a", b"1")[:-12], id="cut-in-a-part"),
        pytest.param(f"--{BOUNDARY}\r\nContent-Disp".encode(), id="cut-in-headers"),
        pytest.param(b"", id="empty"),
    ],
)
async def test_multipart_without_closing_boundary_is_400(body: bytes) -> None:
    response = await _send(_app(), _post(body))
    assert (response.status, response.body) == (
        400,
        b"400 the multipart body ends before its closing boundary\n",
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"garbage\r\n" + _multipart(_part("a", b"1")), id="text-before-boundary"),
        pytest.param(f"--{BOUNDARY}X\r\n".encode(), id="bad-boundary-line"),
        pytest.param(f"--{BOUNDARY}\r\nNo colon here\r\n\r\nx\r\n".encode(), id="header-space"),
        pytest.param(f"--{BOUNDARY}\r\n: empty name\r\n\r\nx\r\n".encode(), id="empty-header"),
        pytest.param(f"--{BOUNDARY}\r\nA: b\rX\r\n".encode(), id="cr-without-lf"),
        pytest.param(
            f"--{BOUNDARY}\r\n".encode() + b"".join(b"X-%d: v\r\n" % i for i in range(9)),
            id="too-many-part-headers",
        ),
        pytest.param(
            f"--{BOUNDARY}\r\nX-Big: ".encode() + b"v" * 5000 + b"\r\n", id="header-too-long"
        ),
    ],
)
async def test_multipart_malformed_framing_or_headers_is_400(body: bytes) -> None:
    response = await _send(_app(), _post(body))
    assert response.status == 400
    assert response.body.startswith(b"400 malformed multipart body: ")


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("Content-Type: text/plain", b"a multipart part has no Content-Disposition header"),
        ('Content-Disposition: form-data; filename="a"', b"a multipart part has no name"),
        ('Content-Disposition: attachment; name="a"', b"a multipart part is not form-data"),
    ],
)
async def test_multipart_part_without_usable_disposition_is_400(
    headers: str, reason: bytes
) -> None:
    body = f"--{BOUNDARY}\r\n{headers}\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode()
    response = await _send(_app(), _post(body))
    assert response.status == 400
    assert reason in response.body


@pytest.mark.parametrize(
    ("disposition", "value", "reason"),
    [
        (b'name="a"', b"\xff\xfe", b"a form field is not valid UTF-8"),
        (b'name="\xff"', b"1", b"a multipart field name is not valid UTF-8"),
        (b'name="f"; filename="\xe9.txt"', b"1", b"a file name is not valid UTF-8"),
    ],
)
async def test_multipart_non_utf8_is_400(disposition: bytes, value: bytes, reason: bytes) -> None:
    body = (
        f"--{BOUNDARY}\r\n".encode()
        + b"Content-Disposition: form-data; "
        + disposition
        + b"\r\n\r\n"
        + value
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    response = await _send(_app(), _post(body))
    assert (response.status, response.body) == (400, b"400 " + reason + b"\n")


# -- multipart: limits ---------------------------------------------------------------------


async def test_multipart_fields_and_files_are_counted_separately() -> None:
    app = _app()
    fits = _multipart(_part("a", b"1"), _part("b", b"2"), _part("f", b"x", filename="f"))
    assert (await _send(app, _post(fits, path="/tight"))).status == 200
    fields = _multipart(_part("a", b"1"), _part("b", b"2"), _part("c", b"3"))
    response = await _send(app, _post(fields, path="/tight"))
    assert (response.status, response.body) == (
        413,
        b"413 too many fields in the form (max_fields=2)\n",
    )
    files = _multipart(_part("f", b"x", filename="f"), _part("g", b"y", filename="g"))
    response = await _send(app, _post(files, path="/tight"))
    assert (response.status, response.body) == (
        413,
        b"413 too many files in the form (max_files=1)\n",
    )


async def test_multipart_field_and_file_size_limits_are_413() -> None:
    app = _app()
    field = await _send(app, _post(_multipart(_part("a", b"x" * 11)), path="/tight"))
    assert (field.status, field.body) == (
        413,
        b"413 a form field is longer than max_field_bytes (10)\n",
    )
    upload = _multipart(_part("f", b"x" * 21, filename="f"))
    file = await _send(app, _post(upload, path="/tight"))
    assert (file.status, file.body) == (
        413,
        b"413 an uploaded file is larger than max_part_bytes (20)\n",
    )
    exact = await _send(app, _post(_multipart(_part("f", b"x" * 20, filename="f")), path="/tight"))
    assert exact.status == 200
    assert b'"size":20,"in_memory":false' in exact.body  # past spool_threshold=4


async def test_multipart_limits_from_app_settings_and_per_call_override() -> None:
    app = _app(form_max_files=0, form_max_field_bytes=3)
    files = await _send(app, _post(_multipart(_part("f", b"x", filename="f"))))
    assert (files.status, files.body) == (413, b"413 too many files in the form (max_files=0)\n")
    field = await _send(app, _post(_multipart(_part("a", b"1234"))))
    assert b"max_field_bytes (3)" in field.body
    override = await _send(app, _post(_multipart(_part("f", b"x", filename="f")), path="/tight"))
    assert override.status == 200  # /tight passes max_files=1 itself


def test_form_limits_resolve_names_the_bad_setting_or_argument() -> None:
    assert FormLimits.resolve({}).max_fields == 1000
    assert FormLimits.resolve({"form_max_fields": 5}, max_fields=None).max_fields == 5
    assert FormLimits.resolve({"form_max_fields": 5}, max_fields=7).max_fields == 7
    with pytest.raises(ValueError, match=r"app.settings\['form_max_files'\] must be at least 0"):
        FormLimits.resolve({"form_max_files": -1})
    with pytest.raises(TypeError, match=r"app.settings\['form_max_fields'\] must be an integer"):
        FormLimits.resolve({"form_max_fields": "10"})
    with pytest.raises(ValueError, match="spool_threshold must be at least 1"):
        FormLimits.resolve({}, spool_threshold=0)
    with pytest.raises(TypeError, match="max_part_bytes must be an integer"):
        FormLimits(max_part_bytes=True)
    with pytest.raises(TypeError, match="unknown form limits: max_size"):
        FormLimits.resolve({}, max_size=1)


# -- uploads: spooling and cleanup -------------------------------------------------------


async def test_multipart_5mb_upload_is_spooled_to_disk_and_intact() -> None:
    content = random.Random(5).randbytes(5 * 1000 * 1000)
    uploads: list[UploadFile] = []
    body = _multipart(_part("note", b"big"), _part("file", content, filename="big.bin"))
    response = await _send(_app(uploads), _post(body, path="/disk"), chunk=64 * 1024)
    assert response.status == 200

    assert msgspec.json.decode(response.body) == {
        "in_memory": False,
        "spooled": True,
        "on_disk": len(content),
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    [upload] = uploads
    assert upload.closed  # closed at the end of the request; the view never closed it


async def test_multipart_small_file_stays_in_memory_until_the_threshold() -> None:
    uploads: list[UploadFile] = []
    body = _multipart(_part("f", b"x" * 4, filename="a"), _part("g", b"x" * 5, filename="b"))
    response = await _send(_app(uploads, form_max_files=2), _post(body, path="/tight"))
    assert response.status == 413  # /tight allows one file; use settings for the pair below
    app = _app(uploads, form_spool_threshold=4)
    response = await _send(app, _post(body))
    assert response.status == 200
    assert b'"size":4,"in_memory":true' in response.body
    assert b'"size":5,"in_memory":false' in response.body
    assert [u.closed for u in uploads] == [True, True]


@needs_proc
async def test_multipart_failure_after_a_spooled_file_closes_it() -> None:
    app = _app(form_spool_threshold=1, form_max_fields=0)
    body = _multipart(_part("f", b"x" * 1000, filename="a"), _part("a", b"1"))
    before = _open_fds()
    response = await _send(app, _post(body))
    assert response.status == 413
    assert _open_fds() == before


@needs_proc
async def test_multipart_client_gone_mid_upload_closes_spooled_files() -> None:
    app = _app(form_spool_threshold=1)
    body = _multipart(_part("f", b"x" * 10_000, filename="a"))
    raw = _post(body)
    before = _open_fds()
    protocol, transport = connect(app)
    feed(protocol, raw[: len(raw) // 2])
    for _ in range(50):  # let the view start parsing; its file goes to disk
        await asyncio.sleep(0.001)
        if _open_fds() > before:
            break
    assert _open_fds() == before + 1
    transport.disconnect()
    for _ in range(50):
        await asyncio.sleep(0.001)
        if _open_fds() == before:
            break
    assert _open_fds() == before
    assert transport.take() == b""


async def test_multipart_body_over_the_server_limit_is_413_not_500() -> None:
    config = HTTPConfig(limits=HTTPLimits(max_body_bytes=1000), access_log=False)
    body = _multipart(_part("f", b"x" * 2000, filename="a"))
    chunked = b"%x\r\n%b\r\n0\r\n\r\n" % (len(body), body)
    raw = (
        f"POST /form HTTP/1.1\r\nHost: t\r\nContent-Type: {MULTIPART}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode() + chunked
    response = await _send(_app(), raw, chunk=500, config=config)
    assert response.status == 413


# -- UploadFile on its own -------------------------------------------------------------


async def test_upload_file_write_read_seek_and_spill_to_disk(tmp_path: Path) -> None:
    async with UploadFile("a.txt", content_type="text/plain", spool_threshold=8) as upload:
        await upload.write(b"1234")
        assert (upload.size, upload.in_memory) == (4, True)
        await upload.write(b"56789")
        assert (upload.size, upload.in_memory) == (9, False)
        assert await upload.seek(0) == 0
        assert await upload.read(3) == b"123"
        assert await upload.read() == b"456789"
        assert await upload.seek(-2, os.SEEK_END) == 7
        assert await upload.read() == b"89"
        assert await upload.save(tmp_path / "copy.txt") == 9
        assert (tmp_path / "copy.txt").read_bytes() == b"123456789"
        assert upload.headers.raw == []
    assert upload.closed
    await upload.close()  # twice is fine


async def test_upload_file_in_memory_save_and_overwrite_size(tmp_path: Path) -> None:
    upload = UploadFile("b.bin")
    try:
        await upload.write(b"abcdef")
        await upload.seek(2)
        await upload.write(b"X")
        assert upload.size == 6
        assert await upload.save(str(tmp_path / "b.bin")) == 6
        assert (tmp_path / "b.bin").read_bytes() == b"abXdef"
        assert upload.in_memory
    finally:
        await upload.close()


async def test_upload_file_cancelled_write_ends_before_the_cancel_goes_through() -> None:
    upload = UploadFile("a", spool_threshold=1)
    task = asyncio.create_task(upload.write(b"x" * 2_000_000))
    await asyncio.sleep(0)  # the write is running in its thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (upload.in_memory, upload.size) == (False, 2_000_000)  # not closed under the thread
    await upload.close()


def test_upload_file_rejects_a_bad_threshold() -> None:
    with pytest.raises(ValueError, match="spool_threshold must be at least 1"):
        UploadFile("a", spool_threshold=0)
    with pytest.raises(TypeError, match="spool_threshold must be an integer"):
        UploadFile("a", spool_threshold=1.5)  # type: ignore[arg-type]


async def test_form_data_getall_and_close_closes_every_file() -> None:
    first, second = UploadFile("1"), UploadFile("2")
    form = FormData([("f", first), ("name", "x"), ("f", second)])
    assert form["f"] is second
    assert form.getall("f") == [first, second]
    assert form["name"] == "x"
    await form.close()
    assert first.closed
    assert second.closed


async def test_request_close_without_a_form_does_nothing() -> None:
    app = App()
    seen: list[Request] = []

    @app.get("/")
    async def home(request: Request) -> str:
        seen.append(request)
        return "ok"

    protocol, transport = connect(app, transport=MemoryTransport())
    feed(protocol, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    await settle()
    assert parse_responses(transport.take())[0].status == 200
    await seen[0].close()
