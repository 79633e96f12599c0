"""Where ``typhoon.realtime`` plugs WebSockets into the ASGI host, which never imports it.

:class:`~typhoon.http.asgi.ASGIHost` serves an ASGI app's ``websocket`` scopes through
:attr:`AsgiHooks.websocket`; ``typhoon.realtime.install()`` (called by the composition
root, ``typhoon/__init__.py``) fills it with the session built on the ``websockets``
sans-I/O core. Until then an upgrade request is answered ``501``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from typhoon.http.exchange import Exchange

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
"""``async app(scope, receive, send)``: an ASGI 3 application.

Loose on purpose: every framework annotates scope, receive and send its own way
(Starlette's ``MutableMapping``, plain dicts, TypedDicts), and all of them fit."""

WebSocketSession = Callable[[ASGIApp, Exchange, dict[str, Any]], Awaitable[None]]
"""``(app, exchange, scope) -> None``: run ``app`` on the ``websocket`` scope ``scope``,
answering the upgrade request ``exchange`` (101 and the socket, or a refusal)."""


class AsgiHooks:
    """The implementations installed by the composition root."""

    websocket: WebSocketSession | None = None


hooks = AsgiHooks()
