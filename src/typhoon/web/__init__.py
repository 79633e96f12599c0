"""What users touch: App, routes, Request, the Response family, HTTPError."""

from __future__ import annotations

from typhoon.web.app import App, CallNext, Middleware, RouteGroup, to_response
from typhoon.web.datastructures import Headers, MultiDict
from typhoon.web.errors import HTTPError
from typhoon.web.files import File
from typhoon.web.forms import FormData, FormLimits, UploadFile
from typhoon.web.handler import (
    Finish,
    MissingArgumentError,
    RequestHandler,
    authenticated,
    stream_request_body,
)
from typhoon.web.jobs import Job
from typhoon.web.metrics import AppMetrics, MetricsConfig
from typhoon.web.redirect import RedirectHandler
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
from typhoon.web.routing import Converter, Route, Router
from typhoon.web.signing import create_signed_value, decode_signed_value
from typhoon.web.static import StaticFileHandler, StaticFiles
from typhoon.web.templates import Templates, render

__all__ = [
    "HTML",
    "JSON",
    "App",
    "AppMetrics",
    "CallNext",
    "Converter",
    "File",
    "Finish",
    "FormData",
    "FormLimits",
    "HTTPError",
    "Headers",
    "Job",
    "MetricsConfig",
    "Middleware",
    "MissingArgumentError",
    "MultiDict",
    "NoContent",
    "Redirect",
    "RedirectHandler",
    "Request",
    "RequestHandler",
    "Response",
    "Route",
    "RouteGroup",
    "Router",
    "Sent",
    "StaticFileHandler",
    "StaticFiles",
    "Streaming",
    "Templates",
    "Text",
    "UploadFile",
    "authenticated",
    "create_signed_value",
    "decode_signed_value",
    "render",
    "stream_request_body",
    "to_response",
]
