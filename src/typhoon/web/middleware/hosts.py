"""TrustedHosts: answer only requests addressed to this site's own host names.

A forged ``Host`` header poisons whatever the app builds from it: absolute URLs in
password-reset mails, cache keys, redirects. This middleware refuses (400) any request
whose ``Host`` is not one of the allowed names, before anything else runs.

Matching: the port is ignored, names compare case-insensitively, one trailing dot is
dropped (``example.com.`` is ``example.com``), and ``*.example.com`` matches every
subdomain (``a.example.com``, ``a.b.example.com``) but not ``example.com`` itself, nor
``badexample.com``. ``"*"`` allows every host.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from typhoon.web.app import CallNext
from typhoon.web.errors import HTTPError
from typhoon.web.request import Request
from typhoon.web.response import Redirect, Response

__all__ = ["TrustedHosts"]

_LABEL = r"[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9_])?"
_is_name = re.compile(rf"{_LABEL}(?:\.{_LABEL})*").fullmatch
_is_ipv6 = re.compile(r"\[[0-9a-f:.]+\]").fullmatch
_is_port = re.compile(r":[0-9]*").fullmatch


def normalize_host(value: str) -> str | None:
    """The host name of a ``Host`` header value: lower-cased, without port or final dot.

    Returns None when the value is not a well-formed host.

    Example::

        normalize_host("Example.COM.:8080")   # "example.com"
    """
    value = value.strip().lower()
    if value.startswith("["):
        host, _, rest = value.partition("]")
        host += "]"
        if not _is_ipv6(host):
            return None
    else:
        host, colon, port = value.partition(":")
        rest = colon + port
        if host.endswith("."):
            host = host[:-1]
        if not _is_name(host):
            return None
    # RFC 3986 §3.2.3: the port is digits, possibly none.
    if rest and not _is_port(rest):
        return None
    return host


class TrustedHosts:
    """Refuse requests whose ``Host`` header is not an allowed name (400).

    Args:
        allowed: host names (``"example.com"``), subdomain wildcards
            (``"*.example.com"``), IP addresses, or ``"*"`` for any; a single string is
            one name. Ports are not part of a name.
        www_redirect: when ``www.<host>`` is allowed and ``<host>`` is not, redirect
            requests for ``<host>`` there (301, or 308 for unsafe methods) instead of
            refusing them.

    Raises:
        ValueError: no names, or a malformed one (a port, a path, a misplaced ``*``).
        TypeError: a name is not a string.

    Example::

        app.add_middleware(TrustedHosts(["example.com", "*.example.com"]))
    """

    def __init__(self, allowed: str | Iterable[str], *, www_redirect: bool = False) -> None:
        patterns = (allowed,) if isinstance(allowed, str) else tuple(allowed)
        if not patterns:
            raise ValueError("allowed must name at least one host (or '*' for any)")
        exact: set[str] = set()
        suffixes: list[str] = []
        self.allow_any = False
        for pattern in patterns:
            if not isinstance(pattern, str):
                raise TypeError(f"allowed must hold strings, got {pattern!r}")
            name = pattern.strip().lower()
            if name == "*":
                self.allow_any = True
            elif name.startswith("*.") and _is_name(name[2:]):
                suffixes.append(name[1:])
            elif _is_name(name.removesuffix(".")) or _is_ipv6(name):
                exact.add(name.removesuffix("."))
            else:
                hint = " (ports are ignored, leave them out)" if ":" in name else ""
                raise ValueError(
                    f"allowed: {pattern!r} is not a host name, '*.domain' or '*'{hint}"
                )
        self.exact = frozenset(exact)
        self.suffixes = tuple(suffixes)
        self.www_redirect = www_redirect

    def __repr__(self) -> str:
        names = ["*"] if self.allow_any else sorted(self.exact) + ["*" + s for s in self.suffixes]
        return f"TrustedHosts({names!r})"

    def is_allowed(self, host: str) -> bool:
        """Whether a ``Host`` header value names an allowed host."""
        if self.allow_any:
            return True
        name = normalize_host(host)
        if name is None:
            return False
        return name in self.exact or any(name.endswith(s) for s in self.suffixes)

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        host = request.headers.get("host", "")
        if self.is_allowed(host):
            return await call_next(request)
        if (
            self.www_redirect
            and not host.lower().startswith("www.")
            and self.is_allowed("www." + host)
        ):
            exchange = request.exchange
            target = exchange.path + (b"?" + exchange.query if exchange.query else b"")
            location = f"{request.scheme}://www.{host}{target.decode('latin-1')}"
            return Redirect(location, 301 if request.method in ("GET", "HEAD") else 308)
        return HTTPError(400, "Invalid host header").response()
