"""Where ``typhoon.realtime`` plugs into the web layer, which never imports it.

The composition root (``typhoon/__init__.py``) installs realtime's implementations
here whenever typhoon is imported, so ``app.websocket(...)`` and ``app.pubsub`` work
however the application was imported. Until then they raise a RuntimeError that says
what is missing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NoReturn

WebSocketViewFactory = Callable[[Any, Mapping[str, Any]], Any]
"""``(endpoint, options) -> route endpoint`` for ``app.websocket(path, **options)``."""

HubFactory = Callable[[Any], Any]
"""``(App(pubsub=...) setting) -> hub`` for ``app.pubsub``."""


ASGIWebSocketRunner = Callable[[Any, Any, Any, Any], Awaitable[None]]
"""``(app, scope, receive, send) -> None``: serve an ASGI ``websocket`` scope (the ASGI
face of App hands it over; the ASGI server does the framing)."""


class RealtimeHooks:
    """The implementations installed by the composition root."""

    websocket_view: WebSocketViewFactory | None = None
    make_hub: HubFactory | None = None
    asgi_websocket: ASGIWebSocketRunner | None = None

    def require(self, what: str) -> NoReturn:
        raise RuntimeError(
            f"{what} needs typhoon.realtime, which is installed when the typhoon package "
            "is imported; import typhoon (or typhoon.realtime) first"
        )


hooks = RealtimeHooks()
