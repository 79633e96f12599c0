"""Responses: a status, raw header pairs and a body; each knows how to send itself.

Every response renders to ``(status, [(name, value), ...], body)`` with the header
bytes built once, and :meth:`Response.send` hands that to the exchange in one write.
:class:`Streaming` sends an async iterator piece by piece, waiting on the client.
:func:`to_response` turns what a view returns (a str, a dict, a tuple…) into one.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

import msgspec

from typhoon.http.exchange import Exchange
from typhoon.web.cookies import SameSite, format_set_cookie

_json_encode = msgspec.json.Encoder().encode

HeaderInput = Mapping[str, str] | Iterable[tuple[str, str]] | None


def encode_headers(headers: HeaderInput) -> list[tuple[bytes, bytes]]:
    """Turn ``{"name": "value"}`` or ``[("name", "value")]`` into raw pairs.

    Raises:
        ValueError: a name or value cannot be encoded as Latin-1.
    """
    if not headers:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    try:
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in items]
    except UnicodeEncodeError as exc:
        raise ValueError(f"header names and values must be Latin-1: {exc.object!r}") from None


@functools.lru_cache(maxsize=256)
def content_type_header(media_type: str | None) -> tuple[bytes, bytes] | None:
    """The ``Content-Type`` pair for ``media_type``; ``text/*`` gets ``charset=utf-8``.

    Remembered per media type: responses then share one pair, whose wire line the
    server finds already validated.
    """
    if not media_type:
        return None
    if media_type.startswith("text/") and "charset" not in media_type:
        media_type += "; charset=utf-8"
    return (b"content-type", media_type.encode("latin-1"))


class Response:
    """A complete response.

    Args:
        body: ``bytes`` as they are, or ``str`` encoded as UTF-8.
        status: the status code.
        headers: extra headers, as a mapping or a list of pairs (for repeats).
        media_type: the ``Content-Type``; ``charset=utf-8`` is added to ``text/*``.

    Example::

        return Response(png_bytes, media_type="image/png", headers={"cache-control": "no-cache"})
    """

    media_type: ClassVar[str | None] = None
    # The Content-Type pair of ``media_type``, built once per class: most responses
    # share it, and the server finds its wire line already validated.
    _content_type: ClassVar[tuple[bytes, bytes] | None] = None

    __slots__ = ("body", "raw_headers", "status")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._content_type = content_type_header(cls.media_type)

    def __init__(
        self,
        body: bytes | str = b"",
        status: int = 200,
        headers: HeaderInput = None,
        media_type: str | None = None,
    ) -> None:
        self.status = status
        self.body = body.encode() if isinstance(body, str) else body
        content_type = content_type_header(media_type) if media_type else self._content_type
        raw = [] if content_type is None else [content_type]
        if headers:
            raw.extend(encode_headers(headers))
        self.raw_headers = raw

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status}>"

    # -- headers -------------------------------------------------------------------------

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        key = name.lower().encode("latin-1")
        for k, v in self.raw_headers:
            if k.lower() == key:
                return v.decode("latin-1")
        return None

    def set_header(self, name: str, value: str) -> None:
        """Set ``name`` to ``value``, replacing any earlier values."""
        self.delete_header(name)
        self.raw_headers.append((name.encode("latin-1"), value.encode("latin-1")))

    def add_header(self, name: str, value: str) -> None:
        """Add a value for ``name``, keeping earlier ones."""
        self.raw_headers.append((name.encode("latin-1"), value.encode("latin-1")))

    def delete_header(self, name: str) -> None:
        key = name.lower().encode("latin-1")
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k.lower() != key]

    def set_cookie(
        self,
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
    ) -> None:
        """Add a ``Set-Cookie`` header; HttpOnly and SameSite=Lax unless told otherwise."""
        cookie = format_set_cookie(
            name,
            value,
            max_age=max_age,
            expires=expires,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
        )
        self.raw_headers.append((b"set-cookie", cookie.encode("latin-1")))

    def delete_cookie(
        self, name: str, *, path: str | None = "/", domain: str | None = None
    ) -> None:
        """Tell the client to forget cookie ``name``."""
        self.set_cookie(name, "", max_age=0, path=path, domain=domain)

    # -- sending -------------------------------------------------------------------------

    async def send(self, exchange: Exchange) -> None:
        """Write this response to ``exchange`` (one write)."""
        exchange.respond(self.status, self.raw_headers, self.body)


class Text(Response):
    """A ``text/plain`` response."""

    __slots__ = ()
    media_type = "text/plain"


class HTML(Response):
    """A ``text/html`` response."""

    __slots__ = ()
    media_type = "text/html"


class JSON(Response):
    """A JSON response, encoded with msgspec (dicts, lists, dataclasses, Structs...).

    Raises:
        TypeError: ``content`` holds something JSON cannot represent.
    """

    __slots__ = ()
    media_type = "application/json"

    def __init__(self, content: Any, status: int = 200, headers: HeaderInput = None) -> None:
        try:
            body = _json_encode(content)
        except (TypeError, msgspec.EncodeError) as exc:
            raise TypeError(f"cannot encode the response as JSON: {exc}") from None
        super().__init__(body, status, headers)


class NoContent(Response):
    """204 No Content."""

    __slots__ = ()

    def __init__(self, headers: HeaderInput = None) -> None:
        super().__init__(b"", 204, headers)


class Redirect(Response):
    """A redirect to ``location`` (302 by default; 301, 303, 307 and 308 accepted).

    Raises:
        ValueError: the status is not a redirect, or the location holds CR/LF.
    """

    __slots__ = ()

    def __init__(self, location: str, status: int = 302, headers: HeaderInput = None) -> None:
        if status not in (301, 302, 303, 307, 308):
            raise ValueError(f"a redirect status must be 301, 302, 303, 307 or 308, got {status}")
        if "\r" in location or "\n" in location:
            raise ValueError(f"invalid redirect location {location!r}")
        super().__init__(b"", status, headers)
        safe = quote(location, safe="/:?#[]@!$&'()*+,;=%~-._")
        self.raw_headers.append((b"location", safe.encode("latin-1")))


class Streaming(Response):
    """A body produced piece by piece by an async iterator of ``bytes`` or ``str``.

    Each piece is written as soon as it is produced, and the iterator is not resumed
    until the client has taken the previous piece (backpressure). Without a
    ``content-length`` header the body is chunked.

    Example::

        async def numbers():
            for i in range(10):
                yield f"{i}\\n"
        return Streaming(numbers(), media_type="text/plain")
    """

    __slots__ = ("iterator",)

    def __init__(
        self,
        iterator: AsyncIterable[bytes | str],
        status: int = 200,
        headers: HeaderInput = None,
        media_type: str | None = None,
    ) -> None:
        super().__init__(b"", status, headers, media_type)
        self.iterator = iterator

    async def send(self, exchange: Exchange) -> None:
        exchange.start(self.status, self.raw_headers)
        await exchange.write(b"")  # the head leaves now, so the client sees progress
        try:
            async for piece in self.iterator:
                await exchange.write(piece.encode() if isinstance(piece, str) else piece)
        finally:
            close = getattr(self.iterator, "aclose", None)
            if close is not None:
                await close()
        await exchange.end()


class Sent(Response):
    """A response that already went out through the exchange (a handler that flushed).

    Middleware and hooks see it like any response, but changing it has no effect.
    """

    __slots__ = ()

    def __init__(self, status: int) -> None:
        super().__init__(b"", status)

    async def send(self, exchange: Exchange) -> None:
        return None


def to_response(value: Any) -> Response:
    """Turn what a view returned into a Response.

    str → HTML, bytes → application/octet-stream, dict or list → JSON, None → 204,
    ``(body, status)``, ``(body, headers)`` or ``(body, status, headers)`` → the same
    with that status and those headers (a mapping or a list of pairs).

    Example::

        to_response(({"id": 1}, 201, {"location": "/items/1"}))

    Raises:
        TypeError: anything else, or a status that is not an int.
        ValueError: a status outside 100-599.
    """
    if isinstance(value, Response):
        return value
    if isinstance(value, str):
        return HTML(value)
    if isinstance(value, bytes):
        return Response(value, media_type="application/octet-stream")
    if isinstance(value, dict | list):
        return JSON(value)
    if value is None:
        return Response(status=204)
    if isinstance(value, tuple) and len(value) in (2, 3):
        status, headers = (value[1], value[2]) if len(value) == 3 else (value[1], None)
        if len(value) == 2 and isinstance(status, Mapping | list):
            status, headers = None, value[1]
        response = to_response(value[0])
        if status is not None:
            if isinstance(status, bool) or not isinstance(status, int):
                raise TypeError(f"a view returned status {status!r}, which is not an int")
            if not 100 <= status <= 599:
                raise ValueError(f"a view returned status {status!r}, outside 100-599")
            response.status = status
        items = (
            headers.items() if isinstance(headers, Mapping) else () if headers is None else headers
        )
        if not isinstance(items, Iterable) or isinstance(items, str | bytes):
            raise TypeError(
                f"a view returned headers {headers!r}: use a dict or (name, value) pairs"
            )
        for pair in items:
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise TypeError(f"a view returned header {pair!r}, not a (name, value) pair")
            response.add_header(*pair)
        return response
    raise TypeError(f"a view returned {type(value).__name__}, which is not a response")
