"""Cookies: reading the Cookie header leniently, writing Set-Cookie strictly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from typhoon import App, Request, Text
from typhoon.testing import ParsedResponse, connect, feed, parse_responses, settle
from typhoon.web.cookies import format_set_cookie, parse_cookie_header

# -- parse_cookie_header ---------------------------------------------------------------


def test_parse_cookie_header_reads_pairs_and_trims_spaces() -> None:
    assert parse_cookie_header("a=1; b=two ;c= 3;d=") == {"a": "1", "b": "two", "c": "3", "d": ""}


@pytest.mark.parametrize(
    "header",
    [
        "novalue; a=1",
        "=nameless; a=1",
        "bad name=x; a=1",
        "b@d=x; a=1",
        "a=1; semi=a;b",  # the ";" splits: "b" has no "=" and is skipped
        ";;; a=1 ;;",
        "sp=a b; a=1",
        "comma=a,b; a=1",
        "bs=a\\b; a=1",
    ],
)
def test_parse_cookie_header_skips_malformed_pairs(header: str) -> None:
    cookies = parse_cookie_header(header)
    assert cookies.get("a") == "1"
    assert set(cookies) <= {"a", "semi"}


def test_parse_cookie_header_unwraps_quotes_only_when_balanced() -> None:
    assert parse_cookie_header('a="1"; b=""; c="x') == {"a": "1", "b": ""}
    assert parse_cookie_header('q="in"side"') == {}
    assert parse_cookie_header('q="a b"') == {}


def test_parse_cookie_header_first_duplicate_wins() -> None:
    assert parse_cookie_header("a=1; a=2; b=3; a=4") == {"a": "1", "b": "3"}


def test_parse_cookie_header_value_may_hold_equals_signs() -> None:
    assert parse_cookie_header("token=abc==; x=a=b") == {"token": "abc==", "x": "a=b"}


def test_parse_cookie_header_skips_non_ascii_names_and_values() -> None:
    assert parse_cookie_header("é=1; v=café; ok=1; raw=\xc3\xa9") == {"ok": "1"}


def test_parse_cookie_header_empty_or_blank_is_empty() -> None:
    assert parse_cookie_header("") == {}
    assert parse_cookie_header("   ;  ") == {}


# -- format_set_cookie -----------------------------------------------------------------


def test_format_set_cookie_is_httponly_and_lax_by_default() -> None:
    assert format_set_cookie("sid", "abc") == "sid=abc; Path=/; SameSite=Lax; HttpOnly"


def test_format_set_cookie_with_every_attribute() -> None:
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    value = format_set_cookie(
        "sid",
        "abc",
        max_age=60,
        expires=when,
        path="/app",
        domain="example.com",
        secure=True,
        httponly=False,
        samesite="none",
    )
    assert value == (
        "sid=abc; Max-Age=60; Expires=Wed, 02 Jan 2030 01:04:05 GMT; Path=/app; "
        "Domain=example.com; SameSite=None; Secure"
    )


def test_format_set_cookie_naive_expires_is_utc_and_attributes_may_be_left_out() -> None:
    value = format_set_cookie(
        "a", "", expires=datetime(2030, 1, 1), path=None, httponly=False, samesite=None
    )
    assert value == "a=; Expires=Tue, 01 Jan 2030 00:00:00 GMT"
    assert format_set_cookie("a", "b", expires=datetime(2030, 1, 1, tzinfo=UTC)).count("GMT") == 1


@pytest.mark.parametrize("name", ["", "a b", "a;b", "a=b", "é", "a\tb", "(a)"])
def test_format_set_cookie_rejects_a_bad_name(name: str) -> None:
    with pytest.raises(ValueError, match="invalid cookie name"):
        format_set_cookie(name, "v")


@pytest.mark.parametrize("value", ["a b", "a;b", 'a"b', "a,b", "a\\b", "café", "a\nb"])
def test_format_set_cookie_rejects_a_bad_value_naming_the_cookie(value: str) -> None:
    with pytest.raises(ValueError, match="invalid characters in the value of cookie 'sid'"):
        format_set_cookie("sid", value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": "/a;b"}, "invalid cookie path"),
        ({"path": "/a\nb"}, "invalid cookie path"),
        ({"domain": "a.com; x=1"}, "invalid cookie domain"),
        ({"samesite": "none"}, "samesite='none' requires secure=True"),
        ({"samesite": "Lax"}, "samesite must be 'lax', 'strict' or 'none'"),
    ],
)
def test_format_set_cookie_rejects_bad_attributes_naming_them(
    kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        format_set_cookie("sid", "v", **kwargs)  # type: ignore[arg-type]


# -- request.cookies and response cookies ----------------------------------------------------


async def _send(app: App, raw: bytes) -> ParsedResponse:
    protocol, transport = connect(app)
    feed(protocol, raw)
    await settle()
    [response] = parse_responses(transport.take())
    return response


def _app() -> App:
    app = App()

    @app.get("/c")
    async def cookies(request: Request) -> dict[str, str]:
        return request.cookies

    @app.get("/set")
    async def set_cookie(request: Request) -> Text:
        response = Text("ok")
        response.set_cookie("theme", "dark", max_age=10)
        response.set_cookie("lang", "fr", secure=True, samesite="strict")
        return response

    return app


async def test_request_cookies_merge_headers_first_value_wins() -> None:
    raw = b"GET /c HTTP/1.1\r\nHost: t\r\nCookie: a=1; b=2\r\nCookie: a=3; c=4\r\n\r\n"
    response = await _send(_app(), raw)
    assert response.body == b'{"a":"1","b":"2","c":"4"}'


async def test_request_cookies_ignore_malformed_and_non_ascii_ones() -> None:
    raw = (
        b'GET /c HTTP/1.1\r\nHost: t\r\nCookie: junk; =x; v=caf\xc3\xa9; q="quoted"; '
        b"ok=1; sp=a b\r\n\r\n"
    )
    response = await _send(_app(), raw)
    assert (response.status, response.body) == (200, b'{"q":"quoted","ok":"1"}')


async def test_request_without_cookie_header_has_no_cookies() -> None:
    response = await _send(_app(), b"GET /c HTTP/1.1\r\nHost: t\r\n\r\n")
    assert response.body == b"{}"


async def test_response_set_cookie_sends_one_header_per_cookie() -> None:
    response = await _send(_app(), b"GET /set HTTP/1.1\r\nHost: t\r\n\r\n")
    values = [value for name, value in response.headers if name.lower() == "set-cookie"]
    assert values == [
        "theme=dark; Max-Age=10; Path=/; SameSite=Lax; HttpOnly",
        "lang=fr; Path=/; SameSite=Strict; Secure; HttpOnly",
    ]
