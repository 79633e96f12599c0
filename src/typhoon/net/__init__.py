"""The engine (Twisted's role): asyncio plumbing that knows bytes, never HTTP.

Where things live: endpoint strings (``endpoints``); ``serve``/``connect`` on them
(``listen``); the base ``Protocol`` (``protocol``); framing protocols (``framing``);
streams (``streams``); reconnecting clients (``reconnect``); timers (``timers``);
supervised background tasks, threads and a clock-driven sleep (``tasks``); child
processes (``process``); Twisted interop (``twisted``, not imported here: Twisted is
an optional extra). Beneath the HTTP server: choosing the loop (``loop``), listening,
tracking connections and draining them gracefully (``server``). See docs/net.md.
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
from typhoon.net.process import (
    Process,
    ProcessError,
    ProcessProtocol,
    ProcessResult,
    run_process,
    spawn_process,
)
from typhoon.net.protocol import Protocol
from typhoon.net.reconnect import Reconnecting
from typhoon.net.server import Drainable, Server, run_until_signalled
from typhoon.net.streams import LineTooLongError, Stream, open_connection, serve_streams
from typhoon.net.tasks import Supervisor, run_in_thread, sleep, spawn, supervisor
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
    "Process",
    "ProcessError",
    "ProcessProtocol",
    "ProcessResult",
    "Protocol",
    "Reconnecting",
    "Repeating",
    "Server",
    "Stream",
    "Supervisor",
    "TimerHandle",
    "connect",
    "every",
    "later",
    "new_event_loop",
    "open_connection",
    "parse_client",
    "parse_server",
    "run",
    "run_in_thread",
    "run_process",
    "run_until_signalled",
    "serve",
    "serve_streams",
    "sleep",
    "spawn",
    "spawn_process",
    "supervisor",
    "uvloop_available",
]
