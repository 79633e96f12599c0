"""MemoryTransport: an asyncio transport that keeps what is written, for protocol tests."""

from __future__ import annotations

import asyncio
from typing import Any


class MemoryTransport(asyncio.Transport):
    """Collects writes in :attr:`written`; closing calls ``connection_lost`` soon after.

    Args:
        peername: what ``get_extra_info("peername")`` returns.
        sockname: what ``get_extra_info("sockname")`` returns.
    """

    def __init__(
        self,
        peername: tuple[str, int] | None = ("127.0.0.1", 50000),
        sockname: tuple[str, int] | None = ("127.0.0.1", 8000),
    ) -> None:
        super().__init__()
        self.written = bytearray()
        self.writes = 0
        self.reading = True
        self.closed = False
        self.aborted = False
        self._closing = False
        self._protocol: asyncio.BaseProtocol | None = None
        self._extra = {"peername": peername, "sockname": sockname}

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._protocol is not None
        return self._protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.closed:
            raise RuntimeError("write() on a closed MemoryTransport")
        self.written += data
        self.writes += 1

    def take(self) -> bytes:
        """Return what was written so far and forget it."""
        data = bytes(self.written)
        self.written.clear()
        return data

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        asyncio.get_running_loop().call_soon(self._lose, None)

    def abort(self) -> None:
        self.aborted = True
        self.close()

    def _lose(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            if self._protocol is not None:
                self._protocol.connection_lost(exc)

    def disconnect(self) -> None:
        """Simulate the peer going away: ``connection_lost`` runs now."""
        self._closing = True
        self._lose(ConnectionResetError("the peer went away"))

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_reading(self) -> bool:
        return self.reading

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return False
