"""What users touch: App, routes, Request, the Response family, HTTPError."""

from __future__ import annotations

from typhoon.web.app import App, RouteGroup, to_response
from typhoon.web.datastructures import Headers, MultiDict
from typhoon.web.errors import HTTPError
from typhoon.web.forms import FormData
from typhoon.web.request import Request
from typhoon.web.response import (
    HTML,
    JSON,
    NoContent,
    Redirect,
    Response,
    Sent,
    Streaming,
    Text,
)
from typhoon.web.routing import Route, Router

__all__ = [
    "HTML",
    "JSON",
    "App",
    "FormData",
    "HTTPError",
    "Headers",
    "MultiDict",
    "NoContent",
    "Redirect",
    "Request",
    "Response",
    "Route",
    "RouteGroup",
    "Router",
    "Sent",
    "Streaming",
    "Text",
    "to_response",
]
