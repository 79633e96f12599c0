"""HTTP/1.1 on the wire: parsing, connection state, response writing, limits.

The server calls the application through :class:`Application`; it never imports the
web layer.
"""

from __future__ import annotations

from typhoon.http.app_api import Application, Draining, Lifespan, ServerAware
from typhoon.http.errors import ClientDisconnected, HTTPLayerError, ProtocolError
from typhoon.http.exchange import Exchange, Framing
from typhoon.http.limits import HTTPConfig, HTTPLimits
from typhoon.http.logs import JSONFormatter, LogConfig
from typhoon.http.protocol import HTTPProtocol
from typhoon.http.proxy import ProxyConfig
from typhoon.http.server import HTTPServer, configure_logging, run, serve
from typhoon.http.state import ServerState
from typhoon.http.tls import TLSConfig

__all__ = [
    "Application",
    "ClientDisconnected",
    "Draining",
    "Exchange",
    "Framing",
    "HTTPConfig",
    "HTTPLayerError",
    "HTTPLimits",
    "HTTPProtocol",
    "HTTPServer",
    "JSONFormatter",
    "Lifespan",
    "LogConfig",
    "ProtocolError",
    "ProxyConfig",
    "ServerAware",
    "ServerState",
    "TLSConfig",
    "configure_logging",
    "run",
    "serve",
]
