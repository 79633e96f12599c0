"""StaticFiles and StaticFileHandler: traversal, symlinks, caching, versions, precompression."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from typhoon import App, Request, Text
from typhoon.testing import MemoryTransport, ParsedResponse, connect, feed, parse_responses
from typhoon.web.errors import HTTPError
from typhoon.web.static import StaticFileHandler, StaticFiles

SECRET = b"TOP SECRET"
CSS = b"body { color: red }\n"
JS = b"console.log('hello from a static file');\n" * 20
BR = b"pretend brotli bytes"
GZ = b"pretend gzip bytes, a little longer"


def _raw(target: str, method: str = "GET", **headers: str) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: t"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    if method == "POST":
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read(transport: MemoryTransport, *, head: bool = False) -> ParsedResponse:
    """Wait for one complete response (lookups and reads happen in threads)."""
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


async def _get(app: App, target: str, method: str = "GET", **headers: str) -> ParsedResponse:
    protocol, transport = connect(app)
    feed(protocol, _raw(target, method, **headers))
    return await _read(transport, head=method == "HEAD")


async def _get_raw(app: App, raw: bytes) -> ParsedResponse:
    protocol, transport = connect(app)
    feed(protocol, raw)
    return await _read(transport)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """``tmp_path/secret.txt`` outside, and the served ``tmp_path/public``."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    public = tmp_path / "public"
    (public / "css").mkdir(parents=True)
    (public / "css" / "site.css").write_bytes(CSS)
    (public / "hello.txt").write_bytes(b"hello world")
    (public / "app.js").write_bytes(JS)
    (public / ".env").write_bytes(SECRET)
    (public / ".git").mkdir()
    (public / ".git" / "config").write_bytes(SECRET)
    (public / "css" / ".hidden").write_bytes(SECRET)
    (public / "docs").mkdir()
    (public / "docs" / "index.html").write_bytes(b"<h1>docs</h1>")
    (public / "empty-dir").mkdir()
    return public


def _app(directory: Path, **kwargs: Any) -> App:
    app = App()
    StaticFiles(directory, **kwargs).install(app)
    return app


def _sha12(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def _write(path: Path, data: bytes, mtime_ns: int | None = None) -> None:
    path.write_bytes(data)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def _mtime_ns(path: Path) -> int:
    return path.stat().st_mtime_ns


# -- serving ---------------------------------------------------------------------------


async def test_static_serves_a_file_with_cache_control(site: Path) -> None:
    response = await _get(_app(site), "/static/css/site.css")
    assert (response.status, response.body) == (200, CSS)
    assert response.header("content-type") == "text/css; charset=utf-8"
    assert response.header("cache-control") == "public, max-age=3600"
    assert response.header("etag") is not None
    assert response.header("vary") is None  # no precompressed siblings


async def test_static_max_age_and_prefix_are_configurable(site: Path) -> None:
    app = _app(site, prefix="/assets", max_age=60)
    response = await _get(app, "/assets/hello.txt")
    assert (response.status, response.header("cache-control")) == (200, "public, max-age=60")
    assert (await _get(app, "/static/hello.txt")).status == 404


async def test_static_root_prefix_serves_from_slash(site: Path) -> None:
    response = await _get(_app(site, prefix=""), "/hello.txt")
    assert (response.status, response.body) == (200, b"hello world")


async def test_static_versioned_url_is_immutable_for_a_year(site: Path) -> None:
    response = await _get(_app(site), "/static/hello.txt?v=0123456789ab")
    assert response.header("cache-control") == "public, max-age=31536000, immutable"
    custom = await _get(_app(site, versioned_max_age=99), "/static/hello.txt?v=1")
    assert custom.header("cache-control") == "public, max-age=99, immutable"


async def test_static_percent_encoded_name_is_decoded(site: Path) -> None:
    (site / "with space.txt").write_bytes(b"spaced")
    response = await _get(_app(site), "/static/with%20space.txt")
    assert (response.status, response.body) == (200, b"spaced")


async def test_static_head_sends_headers_only(site: Path) -> None:
    response = await _get(_app(site), "/static/hello.txt", "HEAD")
    assert (response.status, response.body, response.header("content-length")) == (200, b"", "11")


async def test_static_conditional_and_range_requests(site: Path) -> None:
    app = _app(site)
    first = await _get(app, "/static/hello.txt")
    etag = first.header("etag") or ""
    again = await _get(app, "/static/hello.txt", if_none_match=etag)
    assert (again.status, again.header("cache-control")) == (304, "public, max-age=3600")
    part = await _get(app, "/static/hello.txt", range="bytes=6-")
    assert (part.status, part.body, part.header("content-range")) == (
        206,
        b"world",
        "bytes 6-10/11",
    )
    assert (await _get(app, "/static/hello.txt", range="bytes=50-")).status == 416


async def test_static_other_methods_are_405(site: Path) -> None:
    response = await _get(_app(site), "/static/hello.txt", "POST")
    assert (response.status, response.header("allow")) == (405, "GET, HEAD")


async def test_static_missing_file_is_404_through_the_app_error_handlers(site: Path) -> None:
    app = _app(site)

    @app.errorhandler(404)
    async def not_found(request: Request, exc: HTTPError) -> Text:
        return Text("custom not found", 404)

    response = await _get(app, "/static/nope.txt")
    assert (response.status, response.body) == (404, b"custom not found")


async def test_static_fifo_is_404_without_blocking(site: Path) -> None:
    os.mkfifo(site / "pipe")
    assert (await _get(_app(site), "/static/pipe")).status == 404


# -- App(static=...) -------------------------------------------------------------------------


async def test_static_app_setting_serves_under_static(site: Path) -> None:
    app = App(static=str(site))
    response = await _get(app, "/static/hello.txt")
    assert (response.status, response.body) == (200, b"hello world")
    assert (
        app.settings["static_url"]("hello.txt") == f"/static/hello.txt?v={_sha12(b'hello world')}"
    )


async def test_static_app_setting_honours_static_url_prefix(site: Path) -> None:
    app = App(static=site, static_url_prefix="/s/")
    assert (await _get(app, "/s/hello.txt")).status == 200
    assert app.settings["static_url"]("hello.txt").startswith("/s/hello.txt?v=")


async def test_static_tornado_static_path_setting(site: Path) -> None:
    app = App(static_path=str(site))
    assert (await _get(app, "/static/hello.txt")).status == 200


# -- URLs and versions -------------------------------------------------------------------


def test_static_url_has_a_content_hash(site: Path) -> None:
    static = StaticFiles(site)
    assert static.url("css/site.css") == f"/static/css/site.css?v={_sha12(CSS)}"
    assert static.url("/css/site.css") == static.url("css/site.css")
    assert static.url("hello.txt", include_version=False) == "/static/hello.txt"


def test_static_url_version_follows_content_changes(site: Path) -> None:
    static = StaticFiles(site)
    path = site / "hello.txt"
    mtime = _mtime_ns(path)
    before = static.url("hello.txt")
    assert static.url("hello.txt") == before  # cached
    _write(path, b"HELLO WORLD", mtime + 1_000_000_000)  # same size, newer
    assert static.url("hello.txt") == f"/static/hello.txt?v={_sha12(b'HELLO WORLD')}"
    _write(path, b"longer content", mtime + 1_000_000_000)  # same mtime, new size
    assert static.url("hello.txt").endswith(_sha12(b"longer content"))


@pytest.mark.parametrize("path", ["nope.css", "../secret.txt", ".env", "docs", "docs/", ""])
def test_static_url_of_unservable_path_has_no_version(site: Path, path: str) -> None:
    assert "?v=" not in StaticFiles(site).url(path)


def test_static_url_quotes_the_path(site: Path) -> None:
    (site / "a b.txt").write_bytes(b"x")
    assert StaticFiles(site, prefix="/st").url("a b.txt") == f"/st/a%20b.txt?v={_sha12(b'x')}"


# -- traversal and hidden files ------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/static/../secret.txt",
        "/static/css/../../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E/secret.txt",
        "/static/..%2fsecret.txt",
        "/static/%2e%2e%2fsecret.txt",
        "/static/css/..%2f..%2fsecret.txt",
        "/static/./hello.txt",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/..%5csecret.txt",
        "/static/%5c..%5csecret.txt",
        "/static/hello.txt%00.png",
        "/static/%00",
        "/static/css//site.css",
    ],
    ids=[
        "dotdot",
        "dotdot-after-dir",
        "encoded-dotdot",
        "encoded-dotdot-upper",
        "dotdot-encoded-slash",
        "all-encoded",
        "nested-encoded",
        "dot-segment",
        "double-slash-absolute",
        "encoded-absolute",
        "encoded-backslash",
        "leading-backslash",
        "nul-suffix",
        "nul",
        "empty-segment",
    ],
)
async def test_static_traversal_attempt_is_404(site: Path, target: str) -> None:
    for follow in (False, True):
        response = await _get(_app(site, follow_symlinks=follow), target)
        assert response.status == 404, (target, follow)
        assert SECRET not in response.body


async def test_static_raw_backslash_in_the_request_line_is_404(site: Path) -> None:
    raw = b"GET /static/..\\secret.txt HTTP/1.1\r\nHost: t\r\n\r\n"
    response = await _get_raw(_app(site), raw)
    assert (response.status, SECRET in response.body) == (404, False)


async def test_static_raw_nul_in_the_request_line_is_refused_by_the_parser(site: Path) -> None:
    raw = b"GET /static/hello.txt\x00.png HTTP/1.1\r\nHost: t\r\n\r\n"
    assert (await _get_raw(_app(site), raw)).status == 400


@pytest.mark.parametrize(
    "target", ["/static/.env", "/static/.git/config", "/static/css/.hidden", "/static/%2eenv"]
)
async def test_static_hidden_file_is_404(site: Path, target: str) -> None:
    assert (await _get(_app(site), target)).status == 404


async def test_static_symlink_to_outside_is_404_even_when_following(site: Path) -> None:
    (site / "link.txt").symlink_to(site.parent / "secret.txt")
    (site / "outdir").symlink_to(site.parent)
    for follow in (False, True):
        app = _app(site, follow_symlinks=follow)
        assert (await _get(app, "/static/link.txt")).status == 404
        assert (await _get(app, "/static/outdir/secret.txt")).status == 404


async def test_static_symlink_inside_is_served_only_when_following(site: Path) -> None:
    (site / "alias.txt").symlink_to(site / "hello.txt")
    (site / "styles").symlink_to(site / "css", target_is_directory=True)
    strict = _app(site)
    assert (await _get(strict, "/static/alias.txt")).status == 404
    assert (await _get(strict, "/static/styles/site.css")).status == 404
    following = _app(site, follow_symlinks=True)
    alias = await _get(following, "/static/alias.txt")
    assert (alias.status, alias.body) == (200, b"hello world")
    assert (await _get(following, "/static/styles/site.css")).status == 200


async def test_static_symlink_to_a_hidden_file_is_404_when_following(site: Path) -> None:
    (site / "visible.txt").symlink_to(site / ".env")
    assert (await _get(_app(site, follow_symlinks=True), "/static/visible.txt")).status == 404


async def test_static_served_directory_reached_through_a_symlink_works(site: Path) -> None:
    link = site.parent / "public-link"
    link.symlink_to(site, target_is_directory=True)
    response = await _get(_app(link), "/static/hello.txt")  # the root itself is resolved
    assert (response.status, response.body) == (200, b"hello world")


# -- directories and index ------------------------------------------------------------------


@pytest.mark.parametrize("target", ["/static/css", "/static/css/", "/static/", "/static/docs"])
async def test_static_directory_without_index_is_404(site: Path, target: str) -> None:
    assert (await _get(_app(site), target)).status == 404


async def test_static_index_serves_directories(site: Path) -> None:
    (site / "index.html").write_bytes(b"<h1>home</h1>")
    app = _app(site, index="index.html")
    docs = await _get(app, "/static/docs/")
    assert (docs.status, docs.body) == (200, b"<h1>docs</h1>")
    assert docs.header("content-type") == "text/html; charset=utf-8"
    home = await _get(app, "/static/")
    assert (home.status, home.body) == (200, b"<h1>home</h1>")
    redirect = await _get(app, "/static/docs?x=1")
    assert (redirect.status, redirect.header("location")) == (301, "/static/docs/?x=1")
    assert (await _get(app, "/static/empty-dir/")).status == 404
    assert (await _get(app, "/static/hello.txt/")).status == 404


async def test_static_index_symlink_follows_the_symlink_rule(site: Path) -> None:
    (site / "empty-dir" / "index.html").symlink_to(site.parent / "secret.txt")
    for follow in (False, True):
        app = _app(site, index="index.html", follow_symlinks=follow)
        assert (await _get(app, "/static/empty-dir/")).status == 404


# -- precompressed siblings -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("siblings", "accept", "expected"),
    [
        ("br gz", "gzip, deflate, br", "br"),
        ("br gz", "gzip", "gzip"),
        ("br gz", "br", "br"),
        ("br gz", "br;q=0, gzip", "gzip"),
        ("br gz", "BR;Q=0.5", "br"),
        ("br gz", "*", "br"),
        ("br gz", "gzip;q=0, *", "br"),
        ("br gz", "br;q=0, gzip;q=0", None),
        ("br gz", "identity", None),
        ("br gz", None, None),
        ("gz", "br, gzip", "gzip"),
        ("gz", "br", None),
        ("br", "gzip", None),
        ("br", "br", "br"),
        ("", "br, gzip", None),
    ],
)
async def test_static_precompressed_choice(
    site: Path, siblings: str, accept: str | None, expected: str | None
) -> None:
    if "br" in siblings:
        (site / "app.js.br").write_bytes(BR)
    if "gz" in siblings:
        (site / "app.js.gz").write_bytes(GZ)
    headers = {} if accept is None else {"accept_encoding": accept}
    response = await _get(_app(site), "/static/app.js", **headers)
    assert response.status == 200
    assert response.header("content-encoding") == expected
    assert response.body == {"br": BR, "gzip": GZ, None: JS}[expected]
    assert response.header("content-length") == str(len(response.body))
    assert response.header("content-type") == "text/javascript; charset=utf-8"
    assert response.header("vary") == ("Accept-Encoding" if siblings else None)


async def test_static_precompressed_variants_have_their_own_etag(site: Path) -> None:
    (site / "app.js.br").write_bytes(BR)
    app = _app(site)
    plain = await _get(app, "/static/app.js")
    compressed = await _get(app, "/static/app.js", accept_encoding="br")
    assert plain.header("etag") != compressed.header("etag")
    not_modified = await _get(
        app, "/static/app.js", accept_encoding="br", if_none_match=compressed.header("etag") or ""
    )
    assert (not_modified.status, not_modified.header("vary")) == (304, "Accept-Encoding")


async def test_static_precompressed_off_sends_the_original(site: Path) -> None:
    (site / "app.js.br").write_bytes(BR)
    response = await _get(_app(site, precompressed=False), "/static/app.js", accept_encoding="br")
    assert (response.body, response.header("content-encoding")) == (JS, None)
    assert response.header("vary") is None


async def test_static_range_request_never_gets_a_compressed_sibling(site: Path) -> None:
    (site / "app.js.br").write_bytes(BR)
    (site / "app.js.gz").write_bytes(GZ)
    response = await _get(
        _app(site), "/static/app.js", accept_encoding="br, gzip", range="bytes=0-6"
    )
    assert (response.status, response.body) == (206, JS[:7])
    assert response.header("content-encoding") is None
    assert response.header("content-range") == f"bytes 0-6/{len(JS)}"


async def test_static_head_of_a_compressed_sibling(site: Path) -> None:
    (site / "app.js.br").write_bytes(BR)
    response = await _get(_app(site), "/static/app.js", "HEAD", accept_encoding="br")
    assert (response.status, response.body) == (200, b"")
    assert response.header("content-encoding") == "br"
    assert response.header("content-length") == str(len(BR))


async def test_static_sibling_that_escapes_by_symlink_is_not_used(site: Path) -> None:
    (site / "app.js.br").symlink_to(site.parent / "secret.txt")
    for follow in (False, True):
        app = _app(site, follow_symlinks=follow)
        response = await _get(app, "/static/app.js", accept_encoding="br")
        assert (response.body, response.header("content-encoding")) == (JS, None)


async def test_static_compressed_file_requested_directly_is_not_an_encoding(site: Path) -> None:
    (site / "app.js.gz").write_bytes(GZ)
    response = await _get(_app(site), "/static/app.js.gz", accept_encoding="gzip")
    assert (response.body, response.header("content-encoding")) == (GZ, None)
    assert response.header("content-type") == "application/gzip"


# -- StaticFileHandler ---------------------------------------------------------------------


async def test_static_file_handler_serves_a_tornado_route(site: Path) -> None:
    app = App([(r"/files/(.*)", StaticFileHandler, {"path": str(site)})])
    response = await _get(app, "/files/css/site.css")
    assert (response.status, response.body) == (200, CSS)
    assert response.header("cache-control") == "public, max-age=3600"
    head = await _get(app, "/files/hello.txt", "HEAD")
    assert (head.status, head.body, head.header("content-length")) == (200, b"", "11")
    part = await _get(app, "/files/hello.txt", range="bytes=0-4")
    assert (part.status, part.body) == (206, b"hello")
    for target in ("/files/../secret.txt", "/files/%2e%2e/secret.txt", "/files/.env"):
        denied = await _get(app, target)
        assert denied.status == 404
        assert SECRET not in denied.body


async def test_static_file_handler_default_filename(site: Path) -> None:
    app = App(
        [(r"/files/(.*)", StaticFileHandler, {"path": str(site), "default_filename": "index.html"})]
    )
    response = await _get(app, "/files/docs/")
    assert (response.status, response.body) == (200, b"<h1>docs</h1>")
    assert (await _get(app, "/files/docs")).status == 301


# -- arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"prefix": "static"}, ValueError, "prefix"),
        ({"prefix": "/static/"}, ValueError, "prefix"),
        ({"max_age": -1}, ValueError, "max_age"),
        ({"max_age": True}, TypeError, "max_age"),
        ({"versioned_max_age": "1"}, TypeError, "versioned_max_age"),
        ({"index": "../index.html"}, ValueError, "index"),
        ({"index": ".index"}, ValueError, "index"),
        ({"index": ""}, ValueError, "index"),
    ],
)
def test_static_bad_arguments_raise_naming_them(
    site: Path, kwargs: dict[str, Any], error: type, name: str
) -> None:
    with pytest.raises(error, match=name):
        StaticFiles(site, **kwargs)


def test_static_directory_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="directory"):
        StaticFiles(tmp_path / "missing")
    with pytest.raises(TypeError, match="directory"):
        StaticFiles(42)  # type: ignore[arg-type]
