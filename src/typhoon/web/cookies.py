"""Reading the Cookie header and writing Set-Cookie headers (RFC 6265)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Literal

SameSite = Literal["lax", "strict", "none"]

_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_COOKIE_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")  # RFC 6265 cookie-octet


def parse_cookie_header(header: str) -> dict[str, str]:
    """Parse a ``Cookie`` header; malformed pairs are skipped, the first of a name wins.

    Values wrapped in double quotes are unwrapped. Nothing here raises: a browser
    sends what it was given, and a bad cookie must not make the request fail.
    """
    cookies: dict[str, str] = {}
    for pair in header.split(";"):
        name, sep, value = pair.partition("=")
        name = name.strip()
        value = value.strip()
        if not sep or not _COOKIE_NAME.fullmatch(name):
            continue
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if not _COOKIE_VALUE.fullmatch(value):
            continue
        cookies.setdefault(name, value)
    return cookies


def format_set_cookie(
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    expires: datetime | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    httponly: bool = True,
    samesite: SameSite | None = "lax",
) -> str:
    """Build a ``Set-Cookie`` value. HttpOnly and SameSite=Lax are on by default.

    Raises:
        ValueError: the name is not a token, the value holds characters a cookie
            cannot carry (use a signed or encoded value), ``samesite="none"``
            without ``secure``, or a path/domain holds ``;`` or control characters.
    """
    if not _COOKIE_NAME.fullmatch(name):
        raise ValueError(f"invalid cookie name {name!r}")
    if not _COOKIE_VALUE.fullmatch(value):
        raise ValueError(f"invalid characters in the value of cookie {name!r}")
    parts = [f"{name}={value}"]
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
    if expires is not None:
        when = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
        parts.append(f"Expires={format_datetime(when.astimezone(UTC), usegmt=True)}")
    for label, attr in (("Path", path), ("Domain", domain)):
        if attr is not None:
            if ";" in attr or not attr.isprintable():
                raise ValueError(f"invalid cookie {label.lower()} {attr!r}")
            parts.append(f"{label}={attr}")
    if samesite is not None:
        if samesite not in ("lax", "strict", "none"):
            raise ValueError(f"samesite must be 'lax', 'strict' or 'none', got {samesite!r}")
        if samesite == "none" and not secure:
            raise ValueError("samesite='none' requires secure=True")
        parts.append(f"SameSite={samesite.capitalize()}")
    if secure:
        parts.append("Secure")
    if httponly:
        parts.append("HttpOnly")
    return "; ".join(parts)
