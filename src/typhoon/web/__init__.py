"""What users touch: App, Request, the Response family, HTTPError."""

from __future__ import annotations

from typhoon.web.app import App, to_response
from typhoon.web.errors import HTTPError
from typhoon.web.request import Request
from typhoon.web.response import HTML, JSON, Response, Text

__all__ = ["HTML", "JSON", "App", "HTTPError", "Request", "Response", "Text", "to_response"]
