"""RequestHandler security: signed cookies with key rotation, XSRF, @authenticated."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest

from typhoon import App, HTTPError
from typhoon.testing import MemoryTransport, ParsedResponse, connect, feed, parse_responses
from typhoon.web.handler import RequestHandler, authenticated
from typhoon.web.signing import create_signed_value

# -- helpers ---------------------------------------------------------------------------------


def _raw(
    method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: t"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _post_form(target: str, body: str, headers: dict[str, str] | None = None) -> bytes:
    headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    return _raw("POST", target, body.encode(), headers)


async def _wait_response(transport: MemoryTransport) -> ParsedResponse:
    for _ in range(400):
        await asyncio.sleep(0.005)
        try:
            [response] = parse_responses(bytes(transport.written))
        except ValueError:
            continue
        return response
    raise AssertionError(f"no complete response: {bytes(transport.written)!r}")


async def _call(app: App, raw: bytes) -> ParsedResponse:
    protocol, transport = connect(app)
    feed(protocol, raw)
    return await _wait_response(transport)


def _set_cookies(response: ParsedResponse) -> dict[str, str]:
    """``{name: the whole Set-Cookie value}``."""
    return {v.split("=", 1)[0]: v for k, v in response.headers if k == "set-cookie"}


def _cookie_value(response: ParsedResponse, name: str) -> str:
    return _set_cookies(response)[name].split(";", 1)[0].split("=", 1)[1]


# -- signed cookies --------------------------------------------------------------------------


class _Signed(RequestHandler):
    def get(self) -> None:
        value = self.get_signed_cookie("user")
        version = self.get_signed_cookie_key_version("user")
        self.write(f"{value!r}|{version}")

    def post(self) -> None:
        self.set_signed_cookie("user", self.get_argument("name"))


async def test_signed_cookie_round_trips_through_the_handler() -> None:
    app = App([(r"/", _Signed)], cookie_secret="s3cret")
    set_response = await _call(app, _post_form("/", "name=ann"))
    cookie = _set_cookies(set_response)["user"]
    assert "; Expires=" in cookie
    assert cookie.endswith("; Path=/; SameSite=Lax; HttpOnly")
    value = _cookie_value(set_response, "user")
    assert value.startswith("2|0|")
    read = await _call(app, _raw("GET", "/", headers={"Cookie": f"user={value}"}))
    assert read.body == b"b'ann'|0"


@pytest.mark.parametrize(
    "cookie",
    [
        "user=nonsense",
        "user=2|0|1|YQ|" + "0" * 64,
        "",
    ],
)
async def test_signed_cookie_malformed_or_absent_is_none(cookie: str) -> None:
    app = App([(r"/", _Signed)], cookie_secret="s3cret")
    headers = {"Cookie": cookie} if cookie else {}
    response = await _call(app, _raw("GET", "/", headers=headers))
    assert response.status == 200
    assert response.body.startswith(b"None|")


async def test_signed_cookie_tampered_expired_or_renamed_is_none() -> None:
    app = App([(r"/", _Signed)], cookie_secret="s3cret")
    good = create_signed_value("s3cret", "user", "ann")
    tampered = good[:-1] + ("0" if good[-1] != "0" else "1")
    expired = create_signed_value("s3cret", "user", "ann", now=time.time() - 32 * 86400)
    renamed = create_signed_value("s3cret", "other", "ann")
    other_key = create_signed_value("not the secret", "user", "ann")
    for value in (tampered, expired, renamed, other_key):
        response = await _call(app, _raw("GET", "/", headers={"Cookie": f"user={value}"}))
        assert response.body.startswith(b"None|"), value
    fine = await _call(app, _raw("GET", "/", headers={"Cookie": f"user={good}"}))
    assert fine.body == b"b'ann'|0"


async def test_signed_cookie_key_rotation_old_version_verifies_new_cookies_use_new_key() -> None:
    secrets = {1: "old key", 2: "new key"}
    app = App([(r"/", _Signed)], cookie_secret=secrets, key_version=2)
    old = create_signed_value({1: "old key"}, "user", "ann")
    read = await _call(app, _raw("GET", "/", headers={"Cookie": f"user={old}"}))
    assert read.body == b"b'ann'|1"
    issued = await _call(app, _post_form("/", "name=bob"))
    assert _cookie_value(issued, "user").startswith("2|2|")
    retired = App([(r"/", _Signed)], cookie_secret={2: "new key"}, key_version=2)
    gone = await _call(retired, _raw("GET", "/", headers={"Cookie": f"user={old}"}))
    assert gone.body == b"None|1"


async def test_signed_cookie_without_cookie_secret_is_a_clear_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    response = await _call(App([(r"/", _Signed)]), _raw("GET", "/"))
    assert response.status == 500
    assert "set App(cookie_secret=...) to use signed cookies" in caplog.text


async def test_signed_cookie_with_an_unknown_key_version_setting_is_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = App([(r"/", _Signed)], cookie_secret={1: "k"}, key_version=3)
    response = await _call(app, _post_form("/", "name=x"))
    assert response.status == 500
    assert "key_version 3 is not a version of cookie_secret" in caplog.text


# -- XSRF ------------------------------------------------------------------------------------


class _Form(RequestHandler):
    def get(self) -> None:
        self.write(self.xsrf_form_html())

    def post(self) -> None:
        self.write("posted")

    def delete(self) -> None:
        self.write("deleted")


def _xsrf_app() -> App:
    return App([(r"/", _Form)], xsrf_cookies=True)


async def _token() -> tuple[str, str]:
    """(cookie value, form token) as a browser would get them from GET /."""
    page = await _call(_xsrf_app(), _raw("GET", "/"))
    found = re.search(rb'value="([^"]+)"', page.body)
    assert found is not None
    token = found[1].decode().replace("&#x27;", "'").replace("&quot;", '"')
    return _cookie_value(page, "_xsrf"), token


async def test_xsrf_get_is_not_checked_and_sets_a_readable_cookie() -> None:
    page = await _call(_xsrf_app(), _raw("GET", "/"))
    assert page.status == 200
    assert page.body.startswith(b'<input type="hidden" name="_xsrf" value="2|')
    cookie = _set_cookies(page)["_xsrf"]
    assert "HttpOnly" not in cookie
    assert "SameSite=Lax" in cookie


async def test_xsrf_post_without_a_token_is_403() -> None:
    response = await _call(_xsrf_app(), _post_form("/", "a=1"))
    assert response.status == 403
    assert b"&#x27;_xsrf&#x27; argument missing from POST" in response.body


async def test_xsrf_post_with_a_wrong_or_malformed_token_is_403() -> None:
    cookie, token = await _token()
    _, other = await _token()  # a token of another session
    cases = [
        (f"_xsrf={other}", {"Cookie": f"_xsrf={cookie}"}),
        (f"_xsrf={token}", {}),  # no cookie
        (f"_xsrf={token}", {"Cookie": "_xsrf=garbage"}),
        ("_xsrf=2|zz|zz", {"Cookie": f"_xsrf={cookie}"}),
    ]
    for body, headers in cases:
        response = await _call(_xsrf_app(), _post_form("/", body, headers))
        assert response.status == 403, body
        assert b"XSRF cookie does not match POST argument" in response.body


async def test_xsrf_right_token_passes_via_form_field_or_headers() -> None:
    cookie, token = await _token()
    jar = {"Cookie": f"_xsrf={cookie}"}
    form = await _call(_xsrf_app(), _post_form("/", f"_xsrf={token}", jar))
    assert (form.status, form.body) == (200, b"posted")
    for header in ("X-XSRFToken", "X-CSRFToken"):
        response = await _call(_xsrf_app(), _raw("DELETE", "/", headers={**jar, header: token}))
        assert (response.status, response.body) == (200, b"deleted")
    # The cookie value itself is a valid (masked) token, as scripts send it.
    scripted = await _call(_xsrf_app(), _raw("POST", "/", headers={**jar, "X-XSRFToken": cookie}))
    assert scripted.status == 200


async def test_xsrf_tokens_are_masked_differently_each_time_for_the_same_cookie() -> None:
    cookie, _ = await _token()
    pages = [await _call(_xsrf_app(), _raw("GET", "/", headers={"Cookie": f"_xsrf={cookie}"}))]
    pages.append(await _call(_xsrf_app(), _raw("GET", "/", headers={"Cookie": f"_xsrf={cookie}"})))
    assert pages[0].body != pages[1].body
    assert all("_xsrf" not in _set_cookies(page) for page in pages)  # the cookie is kept


async def test_xsrf_check_can_be_called_by_hand_and_skipped_without_the_setting() -> None:
    class Manual(RequestHandler):
        def post(self) -> None:
            self.check_xsrf_cookie()

    assert (await _call(App([(r"/", _Form)]), _post_form("/", "a=1"))).status == 200
    response = await _call(App([(r"/", Manual)]), _post_form("/", "a=1"))
    assert response.status == 403


# -- @authenticated --------------------------------------------------------------------------


class _Private(RequestHandler):
    def get_current_user(self) -> str | None:
        return self.get_cookie("user")

    @authenticated
    def get(self) -> None:
        self.write(f"hello {self.current_user}")

    @authenticated
    async def post(self) -> None:
        self.write(f"posted by {self.current_user}")


async def test_authenticated_anonymous_get_redirects_to_login_with_next() -> None:
    app = App([(r"/private", _Private)], login_url="/login")
    response = await _call(app, _raw("GET", "/private?a=1"))
    assert response.status == 302
    assert response.header("location") == "/login?next=%2Fprivate%3Fa%3D1"


async def test_authenticated_absolute_login_url_gets_the_full_url_as_next() -> None:
    app = App([(r"/private", _Private)], login_url="https://auth.example/in?app=1")
    response = await _call(app, _raw("GET", "/private"))
    assert response.header("location") == (
        "https://auth.example/in?app=1&next=http%3A%2F%2Ft%2Fprivate"
    )


async def test_authenticated_anonymous_post_or_no_login_url_is_403() -> None:
    with_login = App([(r"/private", _Private)], login_url="/login")
    post = await _call(with_login, _raw("POST", "/private"))
    assert post.status == 403
    without = await _call(App([(r"/private", _Private)]), _raw("GET", "/private"))
    assert without.status == 403


async def test_authenticated_user_reaches_sync_and_async_methods() -> None:
    app = App([(r"/private", _Private)], login_url="/login")
    jar = {"Cookie": "user=ann"}
    got = await _call(app, _raw("GET", "/private", headers=jar))
    assert (got.status, got.body) == (200, b"hello ann")
    posted = await _call(app, _raw("POST", "/private", headers=jar))
    assert (posted.status, posted.body) == (200, b"posted by ann")


async def test_authenticated_with_async_get_current_user() -> None:
    class Handler(RequestHandler):
        async def get_current_user(self) -> Any:
            await asyncio.sleep(0)
            return self.get_cookie("user")

        @authenticated
        async def get(self) -> None:
            self.write(str(self.current_user))

    app = App([(r"/", Handler)], login_url="/login")
    assert (await _call(app, _raw("GET", "/"))).status == 302
    response = await _call(app, _raw("GET", "/", headers={"Cookie": "user=zed"}))
    assert response.body == b"zed"


# -- output safety ---------------------------------------------------------------------------


async def test_error_page_escapes_the_reason() -> None:
    class Handler(RequestHandler):
        def get(self) -> None:
            raise HTTPError(400, self.get_argument("r"))

    response = await _call(App([(r"/", Handler)]), _raw("GET", "/?r=%3Cscript%3Ex%3C/script%3E"))
    assert response.status == 400
    assert b"<script>" not in response.body
    assert b"&lt;script&gt;" in response.body
