"""Errors of the HTTP layer.

::

    HTTPLayerError
    ├── ProtocolError            the peer broke HTTP/1.1 or a limit; carries the status to answer
    └── ClientDisconnected       the client went away while the application was reading or writing

A :class:`ProtocolError` raised while parsing poisons the connection: the requests
received before it are answered in order, then the error response is sent and the
connection closes. The same error reaches an application that is reading the body
of the offending request.
"""

from __future__ import annotations

from http import HTTPStatus


class HTTPLayerError(Exception):
    """Base class of the errors raised by ``typhoon.http``."""


class ProtocolError(HTTPLayerError):
    """The client sent something the server will not accept.

    Args:
        status: the response status that reports the problem (400, 408, 413, 414,
            417, 431, 501, 505).
        reason: a short, safe description that goes into the response body. It never
            echoes what the client sent.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


def bad_request(reason: str) -> ProtocolError:
    return ProtocolError(HTTPStatus.BAD_REQUEST, reason)


class ClientDisconnected(HTTPLayerError):
    """The client closed the connection before the exchange was complete."""
