"""RequestID: give every request an id, for logs and for the client to quote.

An id the client (or a proxy in front) sent is kept when it is safe to log and echo:
only ``A-Z a-z 0-9 . _ -`` and at most ``max_length`` characters. Anything else is
replaced by a fresh id, so the header can never carry log injection or odd bytes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from typhoon.web.app import CallNext
from typhoon.web.request import Request
from typhoon.web.response import Response, Sent

__all__ = ["RequestID"]

_is_safe_id = re.compile(r"[A-Za-z0-9._\-]+").fullmatch
_is_token = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch


def _uuid_hex() -> str:
    return uuid.uuid4().hex


class RequestID:
    """Read or make a request id, keep it in ``request.state.request_id``, echo it back.

    Args:
        header: the request and response header that carries the id.
        generator: makes a new id; it must return characters ``A-Z a-z 0-9 . _ -``.
        trust_incoming: keep a valid id sent by the client (False: always make one).
        max_length: the longest incoming id kept.

    Raises:
        ValueError: ``header`` is not a valid header name, or ``max_length`` is below 1.
        TypeError: ``generator`` is not callable, or ``max_length`` is not an int.

    Example::

        app.add_middleware(RequestID())

        @app.get("/")
        async def home(request):
            logger.info("serving %s", request.state.request_id)
    """

    def __init__(
        self,
        header: str = "X-Request-ID",
        *,
        generator: Callable[[], str] = _uuid_hex,
        trust_incoming: bool = True,
        max_length: int = 200,
    ) -> None:
        if not isinstance(header, str) or not _is_token(header):
            raise ValueError(f"header must be a valid header name, got {header!r}")
        if not callable(generator):
            raise TypeError(f"generator must be callable, got {generator!r}")
        if isinstance(max_length, bool) or not isinstance(max_length, int):
            raise TypeError(f"max_length must be an int, got {max_length!r}")
        if max_length < 1:
            raise ValueError(f"max_length must be at least 1, got {max_length!r}")
        self.header = header
        self.generator = generator
        self.trust_incoming = trust_incoming
        self.max_length = max_length

    def __repr__(self) -> str:
        return f"RequestID(header={self.header!r}, trust_incoming={self.trust_incoming})"

    def request_id(self, request: Request) -> str:
        """The client's id when trusted and safe, else a new one.

        Raises:
            TypeError: the generator returned something other than a string.
            ValueError: the generator returned characters outside ``A-Z a-z 0-9 . _ -``.
        """
        if self.trust_incoming:
            incoming = request.headers.get(self.header)
            if incoming and len(incoming) <= self.max_length and _is_safe_id(incoming):
                return incoming
        made = self.generator()
        if not isinstance(made, str):
            raise TypeError(f"the request id generator returned {made!r}, not a str")
        if not _is_safe_id(made):
            raise ValueError(
                f"the request id generator returned {made!r}; use only A-Z a-z 0-9 . _ -"
            )
        return made

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        value = self.request_id(request)
        request.state.request_id = value
        response = await call_next(request)
        if not isinstance(response, Sent):
            response.set_header(self.header, value)
        return response
