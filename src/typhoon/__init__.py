"""typhoon: a Python web framework and asynchronous networking engine."""

from __future__ import annotations

from typhoon import realtime
from typhoon.http.limits import HTTPConfig, HTTPLimits
from typhoon.realtime import WebSocket, WebSocketClosed, WebSocketHandler
from typhoon.web import (
    HTML,
    JSON,
    App,
    CallNext,
    File,
    Finish,
    HTTPError,
    Middleware,
    NoContent,
    Redirect,
    RedirectHandler,
    Request,
    RequestHandler,
    Response,
    Route,
    RouteGroup,
    StaticFileHandler,
    StaticFiles,
    Streaming,
    Templates,
    Text,
    UploadFile,
    authenticated,
    render,
    stream_request_body,
)

__version__ = "0.1.0.dev0"

realtime.install()  # the composition root: web reaches realtime only through these hooks

__all__ = [
    "HTML",
    "JSON",
    "App",
    "CallNext",
    "File",
    "Finish",
    "HTTPConfig",
    "HTTPError",
    "HTTPLimits",
    "Middleware",
    "NoContent",
    "Redirect",
    "RedirectHandler",
    "Request",
    "RequestHandler",
    "Response",
    "Route",
    "RouteGroup",
    "StaticFileHandler",
    "StaticFiles",
    "Streaming",
    "Templates",
    "Text",
    "UploadFile",
    "WebSocket",
    "WebSocketClosed",
    "WebSocketHandler",
    "__version__",
    "authenticated",
    "render",
    "stream_request_body",
]
