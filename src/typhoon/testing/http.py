"""Driving the HTTP protocol in memory: connect, feed in pieces, parse what came out."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from typhoon.http.app_api import Application
from typhoon.http.limits import HTTPConfig
from typhoon.http.protocol import HTTPProtocol
from typhoon.http.state import ServerState
from typhoon.net.clock import Clock
from typhoon.testing.transport import MemoryTransport


def connect(
    app: Application,
    config: HTTPConfig | None = None,
    *,
    clock: Clock | None = None,
    transport: MemoryTransport | None = None,
) -> tuple[HTTPProtocol, MemoryTransport]:
    """Build an :class:`HTTPProtocol` for ``app`` on a fresh :class:`MemoryTransport`.

    Call it from a running event loop; handler tasks run on that loop.
    """
    protocol = HTTPProtocol(app, ServerState(config or HTTPConfig(access_log=False)), clock)
    transport = transport or MemoryTransport()
    transport.set_protocol(protocol)
    protocol.connection_made(transport)
    return protocol, transport


def feed(protocol: asyncio.Protocol, data: bytes, chunk: int | None = None) -> None:
    """Hand ``data`` to ``protocol.data_received`` whole, or in pieces of ``chunk`` bytes."""
    if chunk is None:
        protocol.data_received(data)
        return
    for start in range(0, len(data), chunk):
        protocol.data_received(data[start : start + chunk])


async def settle(rounds: int = 20) -> None:
    """Let pending tasks and callbacks run (handlers, closes) without real waiting."""
    for _ in range(rounds):
        await asyncio.sleep(0)


@dataclass
class ParsedResponse:
    """One response read back from the bytes a server wrote."""

    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None


def parse_responses(data: bytes, *, head_request: bool = False) -> list[ParsedResponse]:
    """Split a byte stream into responses (Content-Length, chunked, or to the end).

    Raises:
        ValueError: the data ends in the middle of a response.
    """
    responses: list[ParsedResponse] = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            raise ValueError(f"incomplete response head at byte {pos}: {data[pos : pos + 80]!r}")
        lines = data[pos:end].decode("latin-1").split("\r\n")
        _, status, reason = [*lines[0].split(" ", 2), ""][:3]
        response = ParsedResponse(int(status), reason)
        for line in lines[1:]:
            name, _, value = line.partition(":")
            response.headers.append((name, value.strip()))
        pos = end + 4
        code = response.status
        length = response.header("content-length")
        if head_request or code < 200 or code in (204, 304):
            pass
        elif response.header("transfer-encoding") == "chunked":
            body = bytearray()
            while True:
                line_end = data.index(b"\r\n", pos)
                size = int(data[pos:line_end].split(b";")[0], 16)
                pos = line_end + 2
                if size == 0:
                    pos = data.index(b"\r\n", pos) + 2
                    break
                body += data[pos : pos + size]
                pos += size + 2
            response.body = bytes(body)
        elif length is not None:
            if pos + int(length) > len(data):
                raise ValueError("incomplete response body")
            response.body = data[pos : pos + int(length)]
            pos += int(length)
        else:
            response.body = data[pos:]
            pos = len(data)
        responses.append(response)
    return responses
