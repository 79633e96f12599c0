"""SecurityHeaders: the response headers that close the common browser-side holes.

Each header is added unless the response already carries it, so a view can always
override one (a page meant to be framed sets its own ``X-Frame-Options``). The header
values are built once, at construction.
"""

from __future__ import annotations

import re

from typhoon.web.app import CallNext
from typhoon.web.request import Request
from typhoon.web.response import Response, Sent

__all__ = ["SecurityHeaders"]

REFERRER_POLICIES = frozenset(
    {
        "no-referrer",
        "no-referrer-when-downgrade",
        "origin",
        "origin-when-cross-origin",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
        "unsafe-url",
    }
)
OPENER_POLICIES = frozenset(
    {"same-origin", "same-origin-allow-popups", "noopener-allow-popups", "unsafe-none"}
)
RESOURCE_POLICIES = frozenset({"same-origin", "same-site", "cross-origin"})
HSTS_PRELOAD_MIN_AGE = 31536000  # hstspreload.org asks for at least one year

_bad_value = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]").search


class SecurityHeaders:
    """Add HSTS, nosniff, framing, referrer and other security headers to responses.

    Args:
        hsts: send ``Strict-Transport-Security``.
        hsts_max_age: how long (seconds) browsers should insist on HTTPS.
        hsts_include_subdomains: extend HSTS to every subdomain.
        hsts_preload: ask to be preloaded in browsers (needs subdomains and a year).
        https_only: send HSTS only on requests that came over HTTPS (browsers ignore
            it over plain HTTP anyway); False sends it always (behind a TLS proxy
            whose scheme the app does not see).
        content_type_options: send ``X-Content-Type-Options: nosniff``.
        frame_options: ``"DENY"``, ``"SAMEORIGIN"`` or None for ``X-Frame-Options``.
        frame_ancestors: the CSP ``frame-ancestors`` sources (``"'none'"``,
            ``"'self'"``, ``"'self' https://a.example"``) or None.
        content_security_policy: a whole ``Content-Security-Policy``; ``frame_ancestors``
            is appended unless the policy has its own.
        referrer_policy: a ``Referrer-Policy`` value or None.
        permissions_policy: a ``Permissions-Policy`` value (``"camera=(), geolocation=()"``).
        cross_origin_opener_policy: a ``Cross-Origin-Opener-Policy`` value or None.
        cross_origin_resource_policy: a ``Cross-Origin-Resource-Policy`` value or None.

    Raises:
        ValueError: an unknown policy value, a negative max age, a preload request that
            browsers would refuse, or a value holding control characters.
        TypeError: a number or flag has the wrong type.

    Example::

        app.add_middleware(SecurityHeaders(frame_options="SAMEORIGIN", frame_ancestors="'self'"))
    """

    def __init__(
        self,
        *,
        hsts: bool = True,
        hsts_max_age: int = 31536000,
        hsts_include_subdomains: bool = True,
        hsts_preload: bool = False,
        https_only: bool = True,
        content_type_options: bool = True,
        frame_options: str | None = "DENY",
        frame_ancestors: str | None = "'none'",
        content_security_policy: str | None = None,
        referrer_policy: str | None = "strict-origin-when-cross-origin",
        permissions_policy: str | None = None,
        cross_origin_opener_policy: str | None = None,
        cross_origin_resource_policy: str | None = None,
    ) -> None:
        if isinstance(hsts_max_age, bool) or not isinstance(hsts_max_age, int):
            raise TypeError(f"hsts_max_age must be an int, got {hsts_max_age!r}")
        if hsts_max_age < 0:
            raise ValueError(f"hsts_max_age must be at least 0, got {hsts_max_age!r}")
        if (
            hsts
            and hsts_preload
            and (not hsts_include_subdomains or hsts_max_age < HSTS_PRELOAD_MIN_AGE)
        ):
            raise ValueError(
                "hsts_preload needs hsts_include_subdomains=True and an hsts_max_age of at "
                f"least {HSTS_PRELOAD_MIN_AGE}"
            )
        self.https_only = https_only
        self.hsts: bytes | None = None
        if hsts:
            directives = f"max-age={hsts_max_age}"
            if hsts_include_subdomains:
                directives += "; includeSubDomains"
            if hsts_preload:
                directives += "; preload"
            self.hsts = directives.encode("latin-1")

        headers: list[tuple[str, str]] = []
        if content_type_options:
            headers.append(("x-content-type-options", "nosniff"))
        frame_options = _check("frame_options", frame_options)
        if frame_options is not None:
            upper = frame_options.upper()
            if upper not in ("DENY", "SAMEORIGIN"):
                raise ValueError(
                    f"frame_options must be 'DENY', 'SAMEORIGIN' or None, got {frame_options!r}"
                )
            headers.append(("x-frame-options", upper))
        policy = _check("content_security_policy", content_security_policy)
        ancestors = _check("frame_ancestors", frame_ancestors)
        if ancestors is not None and ";" in ancestors:
            raise ValueError(f"frame_ancestors must be a source list, got {frame_ancestors!r}")
        if ancestors and (policy is None or "frame-ancestors" not in policy.lower()):
            directive = f"frame-ancestors {ancestors}"
            policy = f"{policy.rstrip().rstrip(';')}; {directive}" if policy else directive
        if policy:
            headers.append(("content-security-policy", policy))
        for name, value, allowed in (
            ("referrer-policy", referrer_policy, REFERRER_POLICIES),
            ("cross-origin-opener-policy", cross_origin_opener_policy, OPENER_POLICIES),
            ("cross-origin-resource-policy", cross_origin_resource_policy, RESOURCE_POLICIES),
        ):
            argument = name.replace("-", "_")
            checked = _check(argument, value)
            if checked is None:
                continue
            # Referrer-Policy may list fallbacks, the last one understood wins.
            for item in checked.split(",") if name == "referrer-policy" else (checked,):
                if item.strip().lower() not in allowed:
                    raise ValueError(
                        f"{argument} must be one of {sorted(allowed)} or None, got {value!r}"
                    )
            headers.append((name, checked))
        permissions = _check("permissions_policy", permissions_policy)
        if permissions:
            headers.append(("permissions-policy", permissions))
        self.headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers]

    def __repr__(self) -> str:
        names = [n.decode() for n, _ in self.headers]
        if self.hsts is not None:
            names.insert(0, "strict-transport-security")
        return f"SecurityHeaders({', '.join(names)})"

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        if isinstance(response, Sent):
            return response
        present = {name.lower() for name, _ in response.raw_headers}
        for name, value in self.headers:
            if name not in present:
                response.raw_headers.append((name, value))
        if (
            self.hsts is not None
            and b"strict-transport-security" not in present
            and (request.scheme == "https" or not self.https_only)
        ):
            response.raw_headers.append((b"strict-transport-security", self.hsts))
        return response


def _check(name: str, value: str | None) -> str | None:
    """Refuse a header value with control characters, or one not in Latin-1."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string or None, got {value!r}")
    if _bad_value(value):
        raise ValueError(f"{name} holds control characters: {value!r}")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"{name} must be Latin-1 text, got {value!r}") from None
    return value.strip()
