"""Cookies and what rides on them: signed cookies, the current user, XSRF protection.

What a RequestHandler knows of its client from one request to the next:
``get_cookie``/``set_cookie``, Tornado's signed cookies (crypto in ``web.signing``),
``current_user`` from ``get_current_user`` with the :func:`authenticated` decorator,
and the XSRF token and the check RequestHandler runs for unsafe methods when
``xsrf_cookies`` is set. RequestHandler inherits the methods from :class:`CookiesMixin`
and adds the cookies set here to its response; ``typhoon.web.handler`` re-exports
:func:`authenticated`.
"""

from __future__ import annotations

import datetime
import functools
import hmac
import html
import inspect
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlencode, urlsplit

from typhoon.web._handler_args import _Missing
from typhoon.web.cookies import SameSite, format_set_cookie
from typhoon.web.errors import HTTPError
from typhoon.web.signing import (
    TOKEN_BYTES,
    create_signed_value,
    decode_signed_value,
    mask_token,
    signed_value_key_version,
    unmask_token,
)
from typhoon.web.templates import SafeHTML

if TYPE_CHECKING:
    from typhoon.web.handler import RequestHandler
    from typhoon.web.request import Request

F = TypeVar("F", bound=Callable[..., Any])

_UNSET: Any = _Missing()
# The shared starting value of a handler's cookies (RequestHandler.__init__ sets it).
_NO_COOKIES: dict[str, str] = {}


class CookiesMixin:
    """RequestHandler's cookie, user and XSRF methods (see :mod:`typhoon.web.handler`)."""

    # What RequestHandler provides (get_argument: ArgumentsMixin's).
    request: Request
    settings: dict[str, Any]
    _headers_written: bool
    _cookies: dict[str, str]
    _check_headers_open: Callable[[str], None]
    get_argument: Callable[[str, None], str | None]

    # Per-request state, as in RequestHandler: class-level defaults, replaced by the requests
    # that use them.
    _current_user: Any = _UNSET
    _xsrf_token: str | None = None

    # -- cookies -----------------------------------------------------------------------------

    def get_cookie(self, name: str, default: str | None = None) -> str | None:
        """The value of cookie ``name`` the client sent, or ``default``."""
        return self.request.cookies.get(name, default)

    def set_cookie(
        self,
        name: str,
        value: str | bytes,
        domain: str | None = None,
        expires: float | datetime.datetime | None = None,
        path: str = "/",
        expires_days: float | None = None,
        *,
        max_age: int | None = None,
        httponly: bool = True,
        secure: bool = False,
        samesite: SameSite | None = "lax",
    ) -> None:
        """Set a cookie (HttpOnly and SameSite=Lax unless told otherwise).

        Args:
            expires: a datetime or a POSIX timestamp; ``expires_days`` counts from now.

        Raises:
            ValueError: the name or value cannot be a cookie (see ``web.cookies``).
        """
        self._check_headers_open("set_cookie")
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if expires_days is not None and expires is None:
            expires = time.time() + expires_days * 86400
        if isinstance(expires, int | float):
            expires = datetime.datetime.fromtimestamp(expires, datetime.UTC)
        if self._cookies is _NO_COOKIES:
            self._cookies = {}
        self._cookies[name] = format_set_cookie(
            name,
            text,
            max_age=max_age,
            expires=expires,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
        )

    def clear_cookie(self, name: str, path: str = "/", domain: str | None = None) -> None:
        """Tell the client to delete cookie ``name`` (same path and domain as when set)."""
        self.set_cookie(name, "", path=path, domain=domain, max_age=0, expires=0)

    def clear_all_cookies(self, path: str = "/", domain: str | None = None) -> None:
        """Delete every cookie the client sent."""
        for name in self.request.cookies:
            self.clear_cookie(name, path, domain)

    def require_setting(self, name: str, feature: str = "this feature") -> Any:
        """The setting ``name``, or a RuntimeError explaining that ``feature`` needs it."""
        value = self.settings.get(name)
        if not value:
            raise RuntimeError(f"set App({name}=...) to use {feature}")
        return value

    def create_signed_value(self, name: str, value: str | bytes, version: int | None = None) -> str:
        """Sign ``value`` for cookie ``name`` with ``cookie_secret`` (see ``web.signing``)."""
        if version not in (None, 2):
            raise ValueError(f"only signed value version 2 is written, got {version!r}")
        secret = self.require_setting("cookie_secret", "signed cookies")
        return create_signed_value(
            secret, name, value, key_version=self.settings.get("key_version")
        )

    def set_signed_cookie(
        self,
        name: str,
        value: str | bytes,
        expires_days: float | None = 30,
        version: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Set a cookie whose value is signed (the client can read it, not change it).

        Example::

            self.set_signed_cookie("user", str(user.id))
        """
        signed = self.create_signed_value(name, value, version)
        self.set_cookie(name, signed, expires_days=expires_days, **kwargs)

    def get_signed_cookie(
        self,
        name: str,
        value: str | None = None,
        max_age_days: float = 31,
        min_version: int | None = None,
    ) -> bytes | None:
        """The verified value of a signed cookie; None if absent, tampered or expired.

        Example::

            user_id = self.get_signed_cookie("user")  # b"42" or None
        """
        secret = self.require_setting("cookie_secret", "signed cookies")
        if value is None:
            value = self.get_cookie(name)
        return decode_signed_value(
            secret, name, value, max_age_days=max_age_days, min_version=min_version
        )

    def get_signed_cookie_key_version(self, name: str, value: str | None = None) -> int | None:
        """The key version a signed cookie claims (not verified), or None."""
        self.require_setting("cookie_secret", "signed cookies")
        return signed_value_key_version(self.get_cookie(name) if value is None else value)

    set_secure_cookie = set_signed_cookie  # Tornado's older names
    get_secure_cookie = get_signed_cookie
    get_secure_cookie_key_version = get_signed_cookie_key_version

    # -- users -------------------------------------------------------------------------------

    @property
    def current_user(self) -> Any:
        """The user, from :meth:`get_current_user` (called once); None when anonymous."""
        if self._current_user is _UNSET:
            user = self.get_current_user()
            if inspect.isawaitable(user):
                if inspect.iscoroutine(user):
                    user.close()
                raise RuntimeError(
                    "an async get_current_user() is awaited before prepare(); "
                    "current_user cannot be read earlier"
                )
            self._current_user = user
        return self._current_user

    @current_user.setter
    def current_user(self, value: Any) -> None:
        self._current_user = value

    def get_current_user(self) -> Any:
        """Override to identify the user (may be ``async def``); None means anonymous."""
        return None

    def get_login_url(self) -> str | None:
        """Where :func:`authenticated` sends anonymous users: ``settings["login_url"]``."""
        login_url: str | None = self.settings.get("login_url")
        return login_url

    # -- XSRF --------------------------------------------------------------------------------

    @property
    def xsrf_token(self) -> str:
        """The XSRF token for forms and headers, masked afresh for each request.

        Reading it sets the XSRF cookie when the client has none (not HttpOnly, so
        scripts can copy it into an ``X-XSRFToken`` header).
        """
        if self._xsrf_token is None:
            raw = unmask_token(self.get_cookie(self._xsrf_cookie_name))
            if raw is None:
                raw = secrets.token_bytes(TOKEN_BYTES)
                if not self._headers_written:
                    options: dict[str, Any] = {"httponly": False}
                    options.update(self.settings.get("xsrf_cookie_kwargs") or {})
                    self.set_cookie(self._xsrf_cookie_name, mask_token(raw), **options)
            self._xsrf_token = mask_token(raw)
        return self._xsrf_token

    @property
    def _xsrf_cookie_name(self) -> str:
        name: str = self.settings.get("xsrf_cookie_name") or "_xsrf"
        return name

    def xsrf_form_html(self) -> str:
        """``<input type="hidden" name="_xsrf" value="…"/>`` for a form.

        It is :class:`~typhoon.web.templates.SafeHTML`: an autoescaping template puts it
        in as markup (``{{ xsrf_form_html() }}``), not as escaped text.
        """
        token = html.escape(self.xsrf_token)
        return SafeHTML(f'<input type="hidden" name="_xsrf" value="{token}"/>')

    def check_xsrf_cookie(self) -> None:
        """Check that the ``_xsrf`` argument (or X-XSRFToken/X-CSRFToken header) matches
        the XSRF cookie; done for every POST/PUT/PATCH/DELETE with ``xsrf_cookies=True``.

        Raises:
            HTTPError: 403 when the token is missing or does not match.
        """
        token = (
            self.get_argument("_xsrf", None)
            or self.request.headers.get("x-xsrftoken")
            or self.request.headers.get("x-csrftoken")
        )
        if not token:
            raise HTTPError(403, "'_xsrf' argument missing from POST")
        sent = unmask_token(token)
        expected = unmask_token(self.get_cookie(self._xsrf_cookie_name))
        if sent is None or expected is None or not hmac.compare_digest(sent, expected):
            raise HTTPError(403, "XSRF cookie does not match POST argument")


def authenticated(method: F) -> F:
    """Require a logged-in user for a verb method (sync or async).

    An anonymous GET or HEAD is redirected to ``settings["login_url"]`` with
    ``?next=<this url>``; anything else (or no login_url) is 403.

    Example::

        class Account(RequestHandler):
            @authenticated
            def get(self) -> None:
                self.write(f"hello {self.current_user}")
    """

    def deny(handler: RequestHandler) -> None:
        login_url = handler.get_login_url()
        if handler.request.method not in ("GET", "HEAD") or not login_url:
            raise HTTPError(403)
        target = handler.request.exchange.target.decode("latin-1")
        if urlsplit(login_url).scheme:
            target = handler.request.url
        separator = "&" if "?" in login_url else "?"
        handler.redirect(login_url + separator + urlencode({"next": target}))

    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def async_wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Any:
            if self.current_user is None:
                deny(self)
                return None
            return await method(self, *args, **kwargs)

        return cast(F, async_wrapper)

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Any:
        if self.current_user is None:
            deny(self)
            return None
        return method(self, *args, **kwargs)

    return cast(F, wrapper)
