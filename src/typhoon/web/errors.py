"""Errors a view raises to answer with a status."""

from __future__ import annotations

from http import HTTPStatus


class HTTPError(Exception):
    """Stop handling and answer ``status`` with ``reason`` as the body.

    Example::

        raise HTTPError(404, "no such article")
    """

    def __init__(self, status: int, reason: str | None = None) -> None:
        if status not in HTTPStatus.__members__.values() and not 100 <= status <= 599:
            raise ValueError(f"status must be an HTTP status code, got {status!r}")
        self.status = status
        self.reason = reason or _phrase(status)
        super().__init__(f"{status} {self.reason}")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
