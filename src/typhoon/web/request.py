"""Request: a lazy view over an Exchange."""

from __future__ import annotations

from functools import cached_property
from typing import Any
from urllib.parse import parse_qs, unquote

import msgspec

from typhoon.http.exchange import Exchange
from typhoon.web.errors import HTTPError


class Request:
    """The request as a view sees it; everything is parsed on first use.

    Attributes:
        exchange: the underlying HTTP exchange.
        method: ``"GET"``, ``"POST"``...
        app: the application handling the request.
    """

    __slots__ = ("__dict__", "app", "exchange", "method")

    def __init__(self, exchange: Exchange, app: Any) -> None:
        self.exchange = exchange
        self.method = exchange.method
        self.app = app

    @cached_property
    def path(self) -> str:
        """The percent-decoded path."""
        return unquote(self.exchange.path.decode("latin-1"))

    @cached_property
    def query(self) -> dict[str, list[str]]:
        """The query string as a dict of lists."""
        return parse_qs(self.exchange.query.decode("latin-1"), keep_blank_values=True)

    @cached_property
    def headers(self) -> dict[str, str]:
        """Headers by lower-cased name (repeated fields joined with ``,``)."""
        out: dict[str, str] = {}
        for name, value in self.exchange.headers:
            key = name.decode("latin-1")
            text = value.decode("latin-1")
            out[key] = f"{out[key]},{text}" if key in out else text
        return out

    @property
    def client(self) -> tuple[str, int] | None:
        return self.exchange.client

    async def body(self) -> bytes:
        """The whole request body."""
        return await self.exchange.body()

    async def json(self) -> Any:
        """The body decoded as JSON; malformed JSON is a 400 naming the problem."""
        try:
            return msgspec.json.decode(await self.body())
        except msgspec.DecodeError as exc:
            raise HTTPError(400, f"invalid JSON body: {exc}") from None
