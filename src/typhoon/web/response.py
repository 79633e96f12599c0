"""Responses: a status, headers as raw bytes pairs, and a body, sent in one write."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from typhoon.http.exchange import Exchange

_json_encode = msgspec.json.Encoder().encode


class Response:
    """A complete response.

    Args:
        body: ``bytes`` as they are, or ``str`` encoded as UTF-8.
        status: the status code.
        headers: extra headers; names and values as ``str``.
        media_type: the ``Content-Type``; ``charset=utf-8`` is added to ``text/*``.

    Example::

        return Response(b"\\x89PNG...", media_type="image/png")
    """

    media_type: str | None = None

    __slots__ = ("body", "raw_headers", "status")

    def __init__(
        self,
        body: bytes | str = b"",
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.status = status
        self.body = body.encode() if isinstance(body, str) else body
        raw: list[tuple[bytes, bytes]] = []
        media = media_type or self.media_type
        if media is not None:
            if media.startswith("text/") and "charset" not in media:
                media += "; charset=utf-8"
            raw.append((b"content-type", media.encode("latin-1")))
        if headers:
            raw.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
        self.raw_headers = raw

    def send(self, exchange: Exchange) -> None:
        """Write this response to ``exchange``."""
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
    """A JSON response, encoded with msgspec (dataclasses and Structs welcome)."""

    __slots__ = ()
    media_type = "application/json"

    def __init__(
        self, content: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(_json_encode(content), status, headers)
