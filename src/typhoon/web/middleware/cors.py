"""CORS: let pages from other origins call the app (the Fetch standard's CORS protocol).

Theory of operation:

* A *preflight* is an ``OPTIONS`` request with ``Origin`` and
  ``Access-Control-Request-Method``. The middleware answers it itself, without routing:
  204 with the grants when the origin, the method and every requested header are
  allowed, else 400 naming what was refused (and no grant, so the browser blocks the call).
* Any other request with an ``Origin`` goes to the app; when the origin is allowed the
  response gets ``Access-Control-Allow-Origin`` (and credentials and exposed headers as
  configured). Error responses get them too, so the page can read the error.
* ``Access-Control-Allow-Origin: *`` is sent only when every origin is allowed and
  credentials are not; otherwise the origin is echoed and ``Vary: Origin`` is added to
  every response, so that a cache never serves one origin's grant to another.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from typhoon.web.app import CallNext
from typhoon.web.middleware.gzip import add_vary
from typhoon.web.request import Request
from typhoon.web.response import Response, Text

__all__ = ["CORS", "SAFELISTED_HEADERS"]

# Request headers a browser may send cross-origin without their being granted (Fetch
# "CORS-safelisted request-header"); Content-Type is listed when its value is not
# safelisted (application/json), and accepting it is what users expect.
SAFELISTED_HEADERS = frozenset({"accept", "accept-language", "content-language", "content-type"})

_is_token = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch
_is_origin = re.compile(r"[a-z][a-z0-9+.\-]*://[^/?#\s@]+").fullmatch


class CORS:
    """Answer CORS preflights and grant cross-origin access to allowed origins.

    Args:
        allow_origins: ``"*"`` for every origin, or the origins allowed, each as
            ``scheme://host[:port]`` (a single string is one origin).
        allow_origin_regex: origins matching this pattern entirely are allowed too.
        allow_methods: the methods a preflight may ask for, or ``"*"`` for any.
        allow_headers: request headers a preflight may ask for, or ``"*"`` for any;
            :data:`SAFELISTED_HEADERS` are always allowed.
        allow_credentials: let the browser send cookies and read the response.
        expose_headers: response headers the page may read, or ``"*"``.
        max_age: seconds a browser may cache a preflight answer.

    Raises:
        ValueError: a malformed origin, method, header or pattern, a negative
            ``max_age``, or ``"*"`` origins or exposed headers with credentials.
        TypeError: an argument has the wrong type.

    Example::

        app.add_middleware(CORS(["https://app.example.com"], allow_methods=["GET", "POST"],
                                allow_headers=["authorization"], allow_credentials=True))
    """

    def __init__(
        self,
        allow_origins: str | Iterable[str] = (),
        *,
        allow_origin_regex: str | re.Pattern[str] | None = None,
        allow_methods: str | Iterable[str] = ("GET", "HEAD", "POST"),
        allow_headers: str | Iterable[str] = (),
        allow_credentials: bool = False,
        expose_headers: str | Iterable[str] = (),
        max_age: int = 600,
    ) -> None:
        origins = _strings("allow_origins", allow_origins)
        self.allow_all_origins = "*" in origins
        if self.allow_all_origins and allow_credentials:
            raise ValueError(
                "allow_origins='*' cannot be used with allow_credentials=True "
                "(browsers refuse it); list the origins instead"
            )
        self.origins = frozenset(_check_origin(o) for o in origins if o != "*")
        if isinstance(allow_origin_regex, str):
            try:
                allow_origin_regex = re.compile(allow_origin_regex)
            except re.error as exc:
                raise ValueError(
                    f"allow_origin_regex {allow_origin_regex!r} is not a valid pattern: {exc}"
                ) from None
        elif allow_origin_regex is not None and not isinstance(allow_origin_regex, re.Pattern):
            raise TypeError(
                f"allow_origin_regex must be a string or a compiled pattern, "
                f"got {allow_origin_regex!r}"
            )
        self.origin_regex = allow_origin_regex
        if not isinstance(allow_credentials, bool):
            raise TypeError(f"allow_credentials must be a bool, got {allow_credentials!r}")
        self.allow_credentials = allow_credentials

        methods = _strings("allow_methods", allow_methods)
        self.allow_all_methods = "*" in methods
        self.methods = tuple(_check_token("allow_methods", m).upper() for m in methods if m != "*")
        headers = _strings("allow_headers", allow_headers)
        self.allow_all_headers = "*" in headers
        self.headers = SAFELISTED_HEADERS | {
            _check_token("allow_headers", h).lower() for h in headers if h != "*"
        }
        exposed = _strings("expose_headers", expose_headers)
        if "*" in exposed:
            if allow_credentials:
                raise ValueError(
                    "expose_headers='*' cannot be used with allow_credentials=True "
                    "(browsers read it as a header named '*'); list the headers instead"
                )
            exposed = ("*",)
        self.expose_headers = ", ".join(
            h if h == "*" else _check_token("expose_headers", h) for h in exposed
        )
        if isinstance(max_age, bool) or not isinstance(max_age, int):
            raise TypeError(f"max_age must be an int, got {max_age!r}")
        if max_age < 0:
            raise ValueError(f"max_age must be at least 0, got {max_age!r}")
        self.max_age = str(max_age)
        self._methods_value = ", ".join(self.methods)

    def __repr__(self) -> str:
        origins = "*" if self.allow_all_origins else sorted(self.origins)
        return f"CORS(allow_origins={origins!r}, allow_credentials={self.allow_credentials})"

    def is_allowed_origin(self, origin: str) -> bool:
        """Whether requests from ``origin`` (the ``Origin`` header value) are granted."""
        if self.allow_all_origins or origin.lower() in self.origins:
            return True
        return self.origin_regex is not None and self.origin_regex.fullmatch(origin) is not None

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        headers = request.headers
        origin = headers.get("origin")
        if origin is not None and request.method == "OPTIONS":
            requested_method = headers.get("access-control-request-method")
            if requested_method is not None:
                requested_headers = ",".join(headers.getall("access-control-request-headers"))
                return self.preflight(origin, requested_method, requested_headers)
        response = await call_next(request)
        if origin is not None and self.is_allowed_origin(origin):
            self._grant(response, origin)
            if self.expose_headers:
                response.set_header("access-control-expose-headers", self.expose_headers)
        if not self.allow_all_origins:
            add_vary(response, "Origin")
        return response

    def preflight(self, origin: str, method: str, requested_headers: str) -> Response:
        """The answer to a preflight from ``origin`` asking for ``method`` and headers.

        ``requested_headers`` is the ``Access-Control-Request-Headers`` value.
        """
        refused: list[str] = []
        if not self.is_allowed_origin(origin):
            refused.append("origin")
        method = method.strip()
        if not _is_token(method) or not (self.allow_all_methods or method in self.methods):
            refused.append("method")
        names = [h.strip().lower() for h in requested_headers.split(",") if h.strip()]
        if not all(
            _is_token(name) and (self.allow_all_headers or name in self.headers) for name in names
        ):
            refused.append("headers")
        if refused:
            response: Response = Text(f"400 Disallowed CORS {', '.join(refused)}\n", 400)
        else:
            response = Response(status=204)
            self._grant(response, origin)
            allowed = method if self.allow_all_methods else self._methods_value
            response.set_header("access-control-allow-methods", allowed)
            if names:
                response.set_header("access-control-allow-headers", ", ".join(names))
            response.set_header("access-control-max-age", self.max_age)
        if not self.allow_all_origins:
            add_vary(response, "Origin")
        return response

    def _grant(self, response: Response, origin: str) -> None:
        response.set_header(
            "access-control-allow-origin", "*" if self.allow_all_origins else origin
        )
        if self.allow_credentials:
            response.set_header("access-control-allow-credentials", "true")


def _strings(name: str, value: str | Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    items = tuple(value)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{name} must hold strings, got {item!r}")
    return items


def _check_origin(origin: str) -> str:
    lowered = origin.strip().lower()
    if lowered == "null" or _is_origin(lowered):
        return lowered
    if _is_origin(lowered.rstrip("/")):
        raise ValueError(f"allow_origins: {origin!r} must not end with '/'")
    raise ValueError(
        f"allow_origins: {origin!r} is not an origin like 'https://example.com' or "
        "'http://localhost:8000' (no path)"
    )


def _check_token(name: str, value: str) -> str:
    if not _is_token(value):
        raise ValueError(f"{name}: {value!r} is not a valid token")
    return value
