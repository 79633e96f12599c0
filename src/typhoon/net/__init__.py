"""The engine: asyncio (uvloop when available) plumbing that knows bytes, never HTTP.

Typhoon's Twisted-style engine, being built (issue #6): endpoint strings
(``endpoints``), ``serve``/``connect`` on them (``listen``), the base ``Protocol``
(``protocol``), framing protocols (``framing``), timers (``timers``), streams
(``streams``) and reconnecting clients (``reconnect``), beside what the HTTP server
stands on: choosing the loop, listening, tracking connections and draining them
gracefully.
See docs/net.md.
"""

from __future__ import annotations

from typhoon.net.clock import Clock, TimerHandle
from typhoon.net.endpoints import Endpoint, parse_client, parse_server
from typhoon.net.framing import (
    Int8Prefixed,
    Int16Prefixed,
    Int32Prefixed,
    LengthPrefixed,
    LineReceiver,
    NetstringReceiver,
)
from typhoon.net.listen import Listener, connect, serve
from typhoon.net.loop import new_event_loop, run, uvloop_available
from typhoon.net.protocol import Protocol
from typhoon.net.reconnect import Reconnecting
from typhoon.net.server import Drainable, Server, run_until_signalled
from typhoon.net.streams import LineTooLongError, Stream, open_connection, serve_streams
from typhoon.net.timers import Repeating, every, later

__all__ = [
    "Clock",
    "Drainable",
    "Endpoint",
    "Int8Prefixed",
    "Int16Prefixed",
    "Int32Prefixed",
    "LengthPrefixed",
    "LineReceiver",
    "LineTooLongError",
    "Listener",
    "NetstringReceiver",
    "Protocol",
    "Reconnecting",
    "Repeating",
    "Server",
    "Stream",
    "TimerHandle",
    "connect",
    "every",
    "later",
    "new_event_loop",
    "open_connection",
    "parse_client",
    "parse_server",
    "run",
    "run_until_signalled",
    "serve",
    "serve_streams",
    "uvloop_available",
]
