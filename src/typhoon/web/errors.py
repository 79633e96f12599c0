"""Errors a view or handler raises to answer with a status."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

from typhoon.web.response import Response, Text


class HTTPError(Exception):
    """Stop handling and answer ``status``, with ``reason`` as the body.

    Args:
        status: an HTTP status code (100-599).
        reason: a short text for the client; the status phrase by default.
        headers: headers to send with the error response (``Allow``, ``WWW-Authenticate``).
        log_message: detail for the server log only (Tornado's name), never sent.

    Example::

        raise HTTPError(404, "no such article")
    """

    def __init__(
        self,
        status: int,
        reason: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        log_message: str | None = None,
    ) -> None:
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError(f"status must be an HTTP status code (100-599), got {status!r}")
        self.status = status
        self.reason = reason or _phrase(status)
        self.headers = dict(headers or {})
        self.log_message = log_message
        super().__init__(f"{status} {self.reason}")

    def response(self) -> Response:
        """The plain-text response that reports this error."""
        return Text(f"{self.status} {self.reason}\n", self.status, self.headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
