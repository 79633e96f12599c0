"""typhoon's public test kit. Nothing else in typhoon imports it.

* :class:`TestClient` / :class:`AsyncTestClient`: call an app over real HTTP/1.1, in memory.
* :func:`connect`, :func:`feed`, :func:`settle`, :func:`parse_responses`: drive the
  server's protocol byte by byte; :class:`MemoryTransport` and :class:`FakeClock`
  stand in for the socket and for time.
* ``typhoon.testing.pytest_plugin``: the ``client`` and ``async_client`` fixtures.
"""

from __future__ import annotations

from typhoon.testing.client import (
    AsyncTestClient,
    ClientOptions,
    RequestOptions,
    TestClient,
    TooManyRedirectsError,
)
from typhoon.testing.clock import FakeClock, FakeTimer
from typhoon.testing.cookies import Cookie, CookieJar
from typhoon.testing.http import (
    RESPONSE_END,
    OutgoingRequest,
    ParsedResponse,
    ResponseHead,
    ResponseReader,
    build_request,
    connect,
    feed,
    parse_responses,
    settle,
)
from typhoon.testing.response import (
    ResponseTimeoutError,
    ServerDisconnectedError,
    TestRequest,
    TestResponse,
)
from typhoon.testing.transport import MemoryTransport
from typhoon.testing.websocket import TestWebSocket, TestWebSocketClosed, WebSocketRejected

__all__ = [
    "RESPONSE_END",
    "AsyncTestClient",
    "ClientOptions",
    "Cookie",
    "CookieJar",
    "FakeClock",
    "FakeTimer",
    "MemoryTransport",
    "OutgoingRequest",
    "ParsedResponse",
    "RequestOptions",
    "ResponseHead",
    "ResponseReader",
    "ResponseTimeoutError",
    "ServerDisconnectedError",
    "TestClient",
    "TestRequest",
    "TestResponse",
    "TestWebSocket",
    "TestWebSocketClosed",
    "TooManyRedirectsError",
    "WebSocketRejected",
    "build_request",
    "connect",
    "feed",
    "parse_responses",
    "settle",
]
