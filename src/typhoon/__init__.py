"""typhoon: a Python web framework and asynchronous networking engine."""

from __future__ import annotations

from typhoon.http.limits import HTTPConfig, HTTPLimits
from typhoon.web import HTML, JSON, App, HTTPError, Request, Response, Text

__version__ = "0.1.0.dev0"

__all__ = [
    "HTML",
    "JSON",
    "App",
    "HTTPConfig",
    "HTTPError",
    "HTTPLimits",
    "Request",
    "Response",
    "Text",
    "__version__",
]
