"""The cookie jar of the test clients (RFC 6265, the parts a test needs).

A cookie is kept by (domain, path, name). It goes back with a request whose host
matches its domain (exactly, or as a subdomain when the server gave a Domain
attribute), whose path is under its path, over https when it is Secure, until it
expires. ``Max-Age=0`` or a past ``Expires`` deletes it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

__all__ = ["Cookie", "CookieJar", "parse_set_cookie"]


@dataclass(slots=True)
class Cookie:
    """One cookie of a :class:`CookieJar`.

    Attributes:
        domain: the host it belongs to (lower-case); ``""`` sends it to every host.
        host_only: sent to ``domain`` exactly, not to its subdomains (no Domain attribute).
        expires: a ``time.time()`` deadline, or None for a session cookie.
    """

    name: str
    value: str
    domain: str = ""
    path: str = "/"
    host_only: bool = True
    expires: float | None = None
    secure: bool = False

    def matches(self, scheme: str, host: str, path: str, now: float) -> bool:
        """Whether this cookie goes with a request (RFC 6265 §5.4)."""
        if self.expires is not None and self.expires <= now:
            return False
        if self.secure and scheme != "https":
            return False
        domain = self.domain
        if domain and host != domain and (self.host_only or not host.endswith("." + domain)):
            return False
        prefix = self.path
        return path == prefix or (
            path.startswith(prefix) and (prefix.endswith("/") or path[len(prefix)] == "/")
        )


def parse_set_cookie(header: str, url: str, now: float | None = None) -> Cookie | None:
    """Read a ``Set-Cookie`` value received for ``url`` (RFC 6265 §5.2); None if invalid.

    A cookie deleted by ``Max-Age=0`` or a past ``Expires`` is returned already expired.
    """
    now = time.time() if now is None else now
    pair, *attributes = header.split(";")
    name, eq, value = pair.partition("=")
    name, value = name.strip(), value.strip()
    if not eq or not name:
        return None
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    request_path = parts.path or "/"
    cookie = Cookie(name, value, host, request_path[: request_path.rfind("/")] or "/")
    max_age: float | None = None
    for attribute in attributes:
        key, _, arg = attribute.partition("=")
        key, arg = key.strip().lower(), arg.strip()
        if key == "max-age" and arg.lstrip("-").isdigit():
            max_age = now + int(arg) if int(arg) > 0 else 0.0
        elif key == "expires" and cookie.expires is None:
            try:
                cookie.expires = parsedate_to_datetime(arg).timestamp()
            except (TypeError, ValueError, IndexError):
                pass
        elif key == "domain" and arg:
            domain = arg.lstrip(".").lower()
            if host != domain and not host.endswith("." + domain):
                return None  # a server may not set cookies for another site
            cookie.domain, cookie.host_only = domain, False
        elif key == "path" and arg.startswith("/"):
            cookie.path = arg
        elif key == "secure":
            cookie.secure = True
    if max_age is not None:
        cookie.expires = max_age  # Max-Age wins over Expires
    return cookie


class CookieJar(MutableMapping[str, str]):
    """The cookies a client keeps and sends back, by domain and path.

    As a mapping it shows the live cookies by name (the first of a name when several
    paths hold one). ``jar["name"] = "value"`` sets a cookie sent to every host.

    Example::

        client.cookies["session"] = "abc"
        client.get("/login")
        assert client.cookies["user"] == "42"
    """

    def __init__(self, cookies: Mapping[str, str] | None = None) -> None:
        self._cookies: dict[tuple[str, str, str], Cookie] = {}
        for name, value in (cookies or {}).items():
            self[name] = value

    def store(self, cookie: Cookie, now: float | None = None) -> None:
        """Keep ``cookie``, replacing the one with its name, domain and path; an
        expired cookie removes it instead."""
        key = (cookie.domain, cookie.path, cookie.name)
        now = time.time() if now is None else now
        if cookie.expires is not None and cookie.expires <= now:
            self._cookies.pop(key, None)
        else:
            self._cookies[key] = cookie

    def header_for(self, url: str) -> str | None:
        """The ``Cookie`` header for a request to ``url`` (longest paths first), or None."""
        parts = urlsplit(url)
        host, path, now = (parts.hostname or "").lower(), parts.path or "/", time.time()
        found = [c for c in self._cookies.values() if c.matches(parts.scheme, host, path, now)]
        found.sort(key=lambda cookie: -len(cookie.path))
        return "; ".join(f"{c.name}={c.value}" for c in found) or None

    def _live(self) -> list[Cookie]:
        now = time.time()
        return [c for c in self._cookies.values() if c.expires is None or c.expires > now]

    def get_cookie(
        self, name: str, *, domain: str | None = None, path: str | None = None
    ) -> Cookie | None:
        """The live cookie ``name`` (for ``domain`` and ``path`` when given), or None."""
        for cookie in self._live():
            if (
                cookie.name == name
                and domain in (None, cookie.domain)
                and path in (None, cookie.path)
            ):
                return cookie
        return None

    def __getitem__(self, name: str) -> str:
        cookie = self.get_cookie(name)
        if cookie is None:
            raise KeyError(name)
        return cookie.value

    def __setitem__(self, name: str, value: str) -> None:
        self.store(Cookie(name, value, "", "/", host_only=False))

    def __delitem__(self, name: str) -> None:
        keys = [key for key in self._cookies if key[2] == name]
        if not keys:
            raise KeyError(name)
        for key in keys:
            del self._cookies[key]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(cookie.name for cookie in self._live()))

    def __len__(self) -> int:
        return len({cookie.name for cookie in self._live()})

    def __repr__(self) -> str:
        return f"CookieJar({dict(self)!r})"
