"""What a WebSocket handshake settles: options, compression, Origin, subprotocol.

:class:`WebSocketOptions` holds a route's limits and behaviour (also read from
Tornado's ``websocket_*`` settings); ``DeflateFactory`` negotiates permessage-deflate
without context takeover; :func:`origin_allowed` and :func:`offered_subprotocols` read
the upgrade request. ``websocket.py`` uses them to answer the handshake.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import CONT as OP_CONT
from websockets.frames import Frame

from typhoon.web.request import Request


@dataclasses.dataclass(frozen=True, slots=True)
class WebSocketOptions:
    """Limits and behaviour of the sockets of one route.

    Attributes:
        max_message_size: the largest message accepted, in bytes (larger: close 1009).
        max_queue: received messages held for the application before reading pauses.
        compression: negotiate permessage-deflate when the client offers it.
        compression_threshold: messages shorter than this are sent uncompressed.
        ping_interval: seconds between keepalive pings; None disables them.
        ping_timeout: seconds to wait for the pong before closing with 1011.
        close_timeout: seconds to wait for the client's close frame, then drop TCP.
        write_limit: bytes queued for a client that does not read before it is
            dropped (only writes that do not wait for the client can get there).
        origins: the Origin values allowed; None means same origin only (requests
            without an Origin header, from non-browser clients, are always allowed).
            ``"*"`` allows any origin.
        subprotocols: the subprotocols this endpoint speaks, in order of preference.
    """

    max_message_size: int = 1 << 20
    max_queue: int = 32
    compression: bool = True
    compression_threshold: int = 128
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    close_timeout: float = 10.0
    write_limit: int = 1 << 22
    origins: tuple[str, ...] | None = None
    subprotocols: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("max_message_size", "max_queue", "write_limit"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        threshold = self.compression_threshold
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
            raise ValueError(f"compression_threshold must be an int >= 0, got {threshold!r}")
        for name in ("ping_interval", "ping_timeout", "close_timeout"):
            value = getattr(self, name)
            if value is None and name != "close_timeout":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"{name} must be a number of seconds > 0, got {value!r}")
        if isinstance(self.origins, str) or isinstance(self.subprotocols, str):
            raise TypeError("origins and subprotocols must be sequences of strings, not a str")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], **overrides: Any) -> WebSocketOptions:
        """Options from an app's settings (Tornado's names), then per-route ``overrides``.

        Settings read: ``websocket_max_message_size``, ``websocket_ping_interval``,
        ``websocket_ping_timeout``, ``websocket_compression``, ``websocket_origins``.

        Raises:
            TypeError: an override is not an option.
        """
        values: dict[str, Any] = {}
        for field in ("max_message_size", "ping_interval", "ping_timeout", "compression"):
            key = "websocket_" + field
            if key in settings:
                values[field] = settings[key]
        if settings.get("websocket_origins") is not None:
            values["origins"] = tuple(settings["websocket_origins"])
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(f"unknown WebSocket option(s) {unknown}; known: {sorted(known)}")
        values.update(overrides)
        for field in ("origins", "subprotocols"):
            if values.get(field) is not None and not isinstance(values[field], str):
                values[field] = tuple(values[field])
        return cls(**values)


class _Deflate(PerMessageDeflate):
    """permessage-deflate that sends short messages uncompressed."""

    threshold = 128

    def encode(self, frame: Frame) -> Frame:
        if frame.opcode is not OP_CONT and frame.fin and len(frame.data) < self.threshold:
            return frame  # not worth compressing: sent as is, RSV1 clear
        return super().encode(frame)  # frees zlib state after the message (no takeover)


class DeflateFactory(ServerPerMessageDeflateFactory):
    """Negotiates permessage-deflate, then hands out :class:`_Deflate`."""

    def __init__(self, threshold: int) -> None:
        super().__init__(
            server_no_context_takeover=True,
            client_no_context_takeover=True,
            server_max_window_bits=12,
            compress_settings={"memLevel": 5},
        )
        self.threshold = threshold

    def process_request_params(self, params: Sequence[Any], accepted: Sequence[Any]) -> Any:
        response_params, negotiated = super().process_request_params(params, accepted)
        extension = _Deflate(
            negotiated.remote_no_context_takeover,
            negotiated.local_no_context_takeover,
            negotiated.remote_max_window_bits,
            negotiated.local_max_window_bits,
            negotiated.compress_settings,
        )
        extension.threshold = self.threshold
        return response_params, extension


def origin_allowed(request: Request, allowed: Sequence[str] | None) -> bool:
    """Whether the request's Origin may open a socket.

    No Origin header (a non-browser client) is allowed. With ``allowed`` None only the
    page's own host is: the Origin's host and port must equal the Host header (the
    scheme is not compared, so TLS ended by a proxy in front does not matter).
    ``"*"`` in ``allowed`` allows any origin; otherwise the Origin must be listed.
    """
    origin = request.headers.get("origin")
    if origin is None:
        return True
    if allowed is None:
        return urlsplit(origin).netloc.lower() == request.host.lower()
    return "*" in allowed or origin in allowed


def offered_subprotocols(request: Request) -> list[str]:
    """The subprotocols the client offered (``Sec-WebSocket-Protocol``), in its order."""
    values = request.headers.getall("sec-websocket-protocol")
    return [item.strip() for value in values for item in value.split(",") if item.strip()]
