"""Long-lived connections: WebSockets, Server-Sent Events, long polling and pub/sub.

:func:`install` plugs this package into the web layer (``app.websocket``,
``app.pubsub``, App's ASGI face) and into typhoon's ASGI host (an ASGI app's
WebSockets); the composition root, ``typhoon/__init__.py``, calls it.
"""

from __future__ import annotations

from typhoon.http.asgi_hooks import hooks as asgi_hooks
from typhoon.realtime.asgi import serve_websocket
from typhoon.realtime.asgi_host import serve_websocket as serve_asgi_websocket
from typhoon.realtime.handler import WebSocketHandler
from typhoon.realtime.pubsub import (
    MemoryPubSub,
    Message,
    PubSub,
    SlowConsumer,
    Subscription,
    hub_from_setting,
)
from typhoon.realtime.sse import Event, EventStream, SSEHandler
from typhoon.realtime.websocket import (
    WebSocket,
    WebSocketClosed,
    WebSocketOptions,
    WebSocketUpgrade,
    websocket_view,
)
from typhoon.web.realtime_hooks import hooks


def install() -> None:
    """Make ``app.websocket(...)``, ``app.pubsub``, App's ASGI WebSockets and ASGIHost's
    WebSockets use this package."""
    hooks.websocket_view = websocket_view
    hooks.make_hub = hub_from_setting
    hooks.asgi_websocket = serve_websocket
    asgi_hooks.websocket = serve_asgi_websocket


__all__ = [
    "Event",
    "EventStream",
    "MemoryPubSub",
    "Message",
    "PubSub",
    "SSEHandler",
    "SlowConsumer",
    "Subscription",
    "WebSocket",
    "WebSocketClosed",
    "WebSocketHandler",
    "WebSocketOptions",
    "WebSocketUpgrade",
    "hub_from_setting",
    "install",
]
