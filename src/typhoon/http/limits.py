"""Limits and timeouts of the HTTP server, in one frozen dataclass.

Every number has a safe default; :class:`HTTPLimits` rejects a nonsensical value at
construction with a ``ValueError`` naming the field. Each field's ``metadata["help"]`` is
its one-line description for ``typhoon run --help``; ``docs/server.md`` lists them all.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from typhoon.http.proxy import ProxyConfig

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True, slots=True)
class HTTPLimits:
    """How much a client may send and how long it may take.

    Attributes:
        max_head_bytes: request line plus headers. Over it: 414 when the request target
            alone is too long, 431 otherwise.
        max_header_count: header fields per request (431 above it).
        max_body_bytes: request body. A larger declared Content-Length is answered 413
            before any of the body is read; a chunked body gets 413 as soon as it passes.
        max_pipeline_depth: requests received ahead of the one being handled. At the
            limit, reading pauses until the handler catches up.
        read_high_water_bytes: request body buffered for the application before reading
            pauses (backpressure).
        header_timeout_s: time to receive a complete request head, from the first byte
            (or from the connection) — the slowloris guard. The connection is closed.
        keep_alive_timeout_s: idle time between requests before the connection closes.
        body_timeout_s: idle time while receiving a request body (408, then close).
    """

    max_head_bytes: int = field(
        default=64 * KiB, metadata={"help": "request line plus headers, in bytes (414/431 above)"}
    )
    max_header_count: int = field(
        default=100, metadata={"help": "header fields per request (431 above)"}
    )
    max_body_bytes: int = field(
        default=16 * MiB, metadata={"help": "request body, in bytes (413 above)"}
    )
    max_pipeline_depth: int = field(
        default=16, metadata={"help": "pipelined requests held before reading pauses"}
    )
    read_high_water_bytes: int = field(
        default=64 * KiB, metadata={"help": "unread body bytes buffered before reading pauses"}
    )
    header_timeout_s: float = field(
        default=10.0, metadata={"help": "seconds to receive a request head (slowloris guard)"}
    )
    keep_alive_timeout_s: float = field(
        default=5.0, metadata={"help": "idle seconds between requests before closing"}
    )
    body_timeout_s: float = field(
        default=30.0, metadata={"help": "idle seconds while receiving a body (408 after)"}
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"HTTPLimits.{f.name} must be a number, got {value!r}")
            if f.name.endswith("_s"):
                if not value > 0:
                    raise ValueError(f"HTTPLimits.{f.name} must be positive, got {value!r}")
            elif not isinstance(value, int) or value < 1:
                raise ValueError(f"HTTPLimits.{f.name} must be a positive integer, got {value!r}")


@dataclass(frozen=True, slots=True)
class HTTPConfig:
    """Behaviour of the HTTP server beyond its limits.

    Attributes:
        limits: see :class:`HTTPLimits`.
        server_header: value of the ``Server`` response header; None omits it.
        access_log: write one line per response to the ``typhoon.access`` logger.
        cancel_on_disconnect: cancel the handler when its client goes away.
        graceful_timeout_s: how long a drain waits for in-flight requests.
        proxy: which peers may set the client, scheme and host through forwarding
            headers (see :class:`~typhoon.http.proxy.ProxyConfig`).
    """

    limits: HTTPLimits = field(
        default_factory=HTTPLimits, metadata={"help": "limits and timeouts (HTTPLimits)"}
    )
    server_header: str | None = field(
        default="typhoon", metadata={"help": "value of the Server response header; unset omits it"}
    )
    access_log: bool = field(
        default=True, metadata={"help": "log one line per response (typhoon.access logger)"}
    )
    cancel_on_disconnect: bool = field(
        default=True, metadata={"help": "cancel a handler when its client goes away"}
    )
    graceful_timeout_s: float = field(
        default=30.0, metadata={"help": "seconds a drain waits for in-flight requests"}
    )
    proxy: ProxyConfig = field(
        default_factory=ProxyConfig,
        metadata={"help": "trust of forwarding headers (ProxyConfig)"},
    )

    def __post_init__(self) -> None:
        if not isinstance(self.proxy, ProxyConfig):
            raise TypeError(f"HTTPConfig.proxy must be ProxyConfig, got {self.proxy!r}")
        if not isinstance(self.limits, HTTPLimits):
            raise TypeError(f"HTTPConfig.limits must be HTTPLimits, got {self.limits!r}")
        header = self.server_header
        if header is not None and not (header.isprintable() and header.isascii()):
            raise ValueError(f"HTTPConfig.server_header must be printable ASCII, got {header!r}")
        if not self.graceful_timeout_s >= 0:
            raise ValueError(
                f"HTTPConfig.graceful_timeout_s must be >= 0, got {self.graceful_timeout_s!r}"
            )
