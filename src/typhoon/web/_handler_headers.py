"""Response headers for RequestHandler.set_header/add_header: checked, then encoded once.

A header is checked (the name a token; the value a str, number or date, with no CR, LF
or NUL, and Latin-1) and encoded as it will be sent, so that sending encodes nothing.
Handlers send the same few headers again and again: names and str-valued headers are
remembered in bounded caches.
"""

from __future__ import annotations

import datetime
import re
from email.utils import format_datetime

_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_NAMES: dict[str, bytes] = {}  # header names already checked, encoded
_ENCODED_HEADERS: dict[tuple[str, str], tuple[bytes, bytes]] = {}  # (name, str value) checked


def _encode_header(name: str, value: str | int | float | datetime.datetime) -> tuple[bytes, bytes]:
    """Check a header for set_header()/add_header() and encode it as it will be sent.

    Handlers send the same few headers again and again (Content-Type, Cache-Control…):
    a header with a str value is checked and encoded once, then remembered.

    Raises:
        ValueError: the name is not a token, or the value holds CR, LF or NUL or is not
            Latin-1.
        TypeError: the value is not a str, int, float or datetime.
    """
    if type(value) is not str:  # a number or a date (or a str subclass): not remembered
        return _check_header(name, value)
    header = _ENCODED_HEADERS.get((name, value))
    if header is None:
        header = _check_header(name, value)
        if len(_ENCODED_HEADERS) >= 1024:  # bounded: start afresh rather than keep old values
            _ENCODED_HEADERS.clear()
        _ENCODED_HEADERS[name, value] = header
    return header


def _check_header(name: str, value: str | int | float | datetime.datetime) -> tuple[bytes, bytes]:
    """:func:`_encode_header` for a header not remembered.

    Raises:
        ValueError: the name is not a token, or the value holds CR, LF or NUL or is not
            Latin-1.
        TypeError: the value is not a str, int, float or datetime.
    """
    raw_name = _HEADER_NAMES.get(name)
    if raw_name is None:
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"invalid header name {name!r}")
        raw_name = name.encode("latin-1")
        if len(_HEADER_NAMES) < 4096:  # bounded: applications use a fixed set of names
            _HEADER_NAMES[name] = raw_name
    if isinstance(value, str):  # the usual case first
        text = value
    elif isinstance(value, datetime.datetime):
        when = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
        text = format_datetime(when.astimezone(datetime.UTC), usegmt=True)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = str(value)
    else:
        raise TypeError(f"header {name!r}: unsupported value type {type(value).__name__}")
    if "\r" in text or "\n" in text or "\x00" in text:
        raise ValueError(f"unsafe value for header {name!r}: {text!r}")
    try:
        return raw_name, text.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"header {name!r}: the value must be Latin-1") from None
