"""WebSocketHandler: Tornado's class-based WebSocket API, on :class:`WebSocket`.

A handler class is registered like a RequestHandler (``app.websocket(path)``, or in
Tornado's URL list) and answers only the upgrade GET. Its lifecycle::

    initialize(**kwargs) → prepare() → [handshake: check_origin, select_subprotocol]
        → open(*path_args) → on_message(message)… → on_close()

It is not a RequestHandler: there is no response to write. The upgrade request's
cookies, signed cookies and ``current_user`` are available, and ``prepare()`` may
refuse the upgrade by raising an :class:`~typhoon.web.HTTPError`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any

from typhoon.realtime.websocket import (
    Message,
    WebSocket,
    WebSocketClosed,
    WebSocketOptions,
    WebSocketUpgrade,
    origin_allowed,
)
from typhoon.web.request import Request
from typhoon.web.response import Response
from typhoon.web.signing import decode_signed_value

if TYPE_CHECKING:
    from typhoon.web.app import App

logger = logging.getLogger("typhoon.error")

_UNSET: Any = object()


class _Sent:
    """What ``write_message`` returns: awaiting it waits while the client is slow.

    Not awaiting it is allowed (as in Tornado): the message is already on its way.
    """

    __slots__ = ("_ws",)

    def __init__(self, ws: WebSocket) -> None:
        self._ws = ws

    def __await__(self) -> Generator[Any, None, None]:
        return self._ws._drain().__await__()


class WebSocketHandler:
    """A WebSocket endpoint in Tornado's style.

    Example::

        @app.websocket("/chat/{room}")
        class Chat(WebSocketHandler):
            async def open(self, room: str) -> None:
                self.room = room
                await self.subscribe(f"chat:{room}")

            async def on_message(self, message: str | bytes) -> None:
                await self.publish(f"chat:{self.room}", message)

    Class attributes (None: the app's ``websocket_*`` setting, else the default):
        max_message_size: bytes (1 MiB); a larger message closes with 1009.
        ping_interval / ping_timeout: keepalive, seconds (20 / 20).
        origins: Origins allowed besides the page's own (see :meth:`check_origin`).
        max_queue: received messages held before reading pauses (32).
    """

    max_message_size: int | None = None
    ping_interval: float | None = None
    ping_timeout: float | None = None
    origins: tuple[str, ...] | None = None
    max_queue: int | None = None

    def __init__(self, app: App, request: Request, **kwargs: Any) -> None:
        self.app = self.application = app
        self.request = request
        self.settings: dict[str, Any] = app.settings
        self.path_args: tuple[Any, ...] = ()
        self.path_kwargs: dict[str, Any] = {}
        self.ws: WebSocket | None = None
        self._current_user: Any = _UNSET
        self._tasks: set[asyncio.Task[Any]] = set()
        self.initialize(**kwargs)

    # -- the contract with App ------------------------------------------------------------

    @classmethod
    def implemented_methods(cls) -> frozenset[str]:
        """Only the upgrade GET."""
        return frozenset({"GET"})

    async def _execute(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Response:
        self.path_args, self.path_kwargs = args, kwargs
        if type(self).get_current_user is not WebSocketHandler.get_current_user:
            user = self.get_current_user()
            self._current_user = await user if inspect.isawaitable(user) else user
        prepared = self.prepare()
        if inspect.isawaitable(prepared):
            await prepared
        overrides_origin = type(self).check_origin is not WebSocketHandler.check_origin
        return WebSocketUpgrade(
            self.request,
            self._session,
            self._options(),
            kwargs,
            check_origin=self.check_origin if overrides_origin else None,
            select_subprotocol=self.select_subprotocol,
        )

    def _options(self) -> WebSocketOptions:
        overrides: dict[str, Any] = {}
        for name in ("max_message_size", "ping_interval", "ping_timeout", "origins", "max_queue"):
            value = getattr(self, name)
            if value is not None:
                overrides[name] = value
        compression = self.get_compression_options()
        if compression is None:
            overrides["compression"] = False
        elif "threshold" in compression:
            overrides["compression_threshold"] = compression["threshold"]
        return WebSocketOptions.from_settings(self.settings, **overrides)

    async def _session(self, ws: WebSocket) -> None:
        self.ws = ws
        ws.on_ping = self.on_ping
        ws.on_pong = self.on_pong
        try:
            opened = self.open(*self.path_args, **self.path_kwargs)
            if inspect.isawaitable(opened):
                await opened
            async for message in ws:
                handled = self.on_message(message)
                if inspect.isawaitable(handled):
                    await handled
        finally:
            for task in self._tasks:
                task.cancel()
            try:
                closed = self.on_close()
                if inspect.isawaitable(closed):
                    await closed
            except Exception:
                logger.exception("exception in %s.on_close", type(self).__name__)

    # -- overridable ----------------------------------------------------------------------

    def _initialize(self, **kwargs: Any) -> None:
        """Receive the route's keyword arguments (Tornado's ``initialize``); override it
        with the arguments your routes pass."""
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}.initialize() does not take arguments "
                f"{sorted(kwargs)}; override initialize() to receive them"
            )

    initialize: Callable[..., None] = _initialize  # a subclass may take any keywords

    def prepare(self) -> Awaitable[None] | None:
        """Called before the handshake; raise ``HTTPError`` to refuse the upgrade."""
        return None

    def open(self, *args: Any, **kwargs: Any) -> Awaitable[None] | None:
        """The socket is open; the route's parameters are the arguments."""
        return None

    def on_message(self, message: Message) -> Awaitable[None] | None:
        """A message came: ``str`` for text, ``bytes`` for binary. Must be overridden."""
        raise NotImplementedError(f"{type(self).__name__} must define on_message()")

    def on_close(self) -> Awaitable[None] | None:
        """The socket closed (``close_code`` and ``close_reason`` tell how)."""
        return None

    def on_ping(self, data: bytes) -> None:
        """A ping came (the pong is sent for you)."""

    def on_pong(self, data: bytes) -> None:
        """A pong came."""

    def check_origin(self, origin: str) -> bool:
        """Whether a browser page from ``origin`` may open this socket.

        By default only the page's own host may, plus the ``origins`` class attribute
        or the ``websocket_origins`` setting. Override to decide otherwise.
        """
        origins = self.origins or self.settings.get("websocket_origins")
        return origin_allowed(self.request, tuple(origins) if origins is not None else None)

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        """Pick one of the subprotocols the client offered, or None for none."""
        return None

    def get_compression_options(self) -> dict[str, Any] | None:
        """None turns permessage-deflate off; ``{"threshold": n}`` sets the size below
        which messages are sent uncompressed. On (``{}``) by default."""
        return {}

    def get_current_user(self) -> Any:
        """Override to identify the user from the upgrade request (may be ``async def``)."""
        return None

    # -- the socket -----------------------------------------------------------------------

    def _socket(self) -> WebSocket:
        if self.ws is None:
            raise WebSocketClosed(1006, "the socket is not open yet")
        return self.ws

    def write_message(self, message: str | bytes | dict[str, Any], binary: bool = False) -> _Sent:
        """Send a message (a dict as JSON text); await the result to wait for a slow client.

        Raises:
            WebSocketClosed: the socket is closed.
        """
        ws = self._socket()
        ws.send_nowait(message, binary=binary or None)
        return _Sent(ws)

    def ping(self, data: bytes = b"") -> None:
        """Send a ping; :meth:`on_pong` sees the answer."""
        self._socket().ping_nowait(data)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Start the closing handshake (1000 unless ``code`` is given)."""
        if self.ws is not None:
            self.ws._start_close(code or 1000, reason or "")

    @property
    def close_code(self) -> int | None:
        return None if self.ws is None else self.ws.close_code

    @property
    def close_reason(self) -> str | None:
        return None if self.ws is None else self.ws.close_reason

    @property
    def selected_subprotocol(self) -> str | None:
        return None if self.ws is None else self.ws.subprotocol

    # -- pub/sub ----------------------------------------------------------------------------

    async def publish(self, topic: str, data: Any) -> Any:
        """Publish ``data`` on the app's hub (``app.pubsub``); returns the message."""
        return await self.app.pubsub.publish(topic, data)

    async def subscribe(self, *topics: str, after: int | None = None) -> Any:
        """Forward what the hub publishes on ``topics`` to this socket until it closes.

        Each message goes through :meth:`on_pubsub_message` (by default: sent as is, a
        non-string as JSON). Returns the subscription.
        """
        subscription = self.app.pubsub.subscribe(*topics, after=after)
        task = asyncio.get_running_loop().create_task(self._pump(subscription))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return subscription

    async def on_pubsub_message(self, message: Any) -> None:
        """Send a hub message to the client; override to filter or reshape it."""
        await self.write_message(message.data)

    async def _pump(self, subscription: Any) -> None:
        try:
            async with subscription:
                async for message in subscription:
                    await self.on_pubsub_message(message)
        except WebSocketClosed:
            pass
        except Exception:
            logger.exception("%s: pub/sub forwarding failed; closing", type(self).__name__)
            self.close(1011)

    # -- the upgrade request ------------------------------------------------------------------

    def get_argument(self, name: str, default: str | None = None) -> str | None:
        """The last value of query argument ``name``, or ``default``."""
        values = self.request.query.getall(name)
        return values[-1] if values else default

    def get_cookie(self, name: str, default: str | None = None) -> str | None:
        """The value of cookie ``name`` the client sent, or ``default``."""
        return self.request.cookies.get(name, default)

    def get_signed_cookie(
        self, name: str, value: str | None = None, max_age_days: float = 31
    ) -> bytes | None:
        """The verified value of a signed cookie; None if absent, tampered or expired."""
        secret = self.settings.get("cookie_secret")
        if not secret:
            raise RuntimeError("set App(cookie_secret=...) to use signed cookies")
        if value is None:
            value = self.get_cookie(name)
        return decode_signed_value(secret, name, value, max_age_days=max_age_days)

    get_secure_cookie = get_signed_cookie

    @property
    def current_user(self) -> Any:
        """The user from :meth:`get_current_user`, found before ``prepare()``."""
        if self._current_user is _UNSET:
            self._current_user = self.get_current_user()
        return self._current_user

    @current_user.setter
    def current_user(self, value: Any) -> None:
        self._current_user = value
