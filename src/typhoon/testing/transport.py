"""MemoryTransport: an asyncio transport that keeps what is written, for protocol tests.

A test (or the :class:`~typhoon.testing.TestClient`) plays the peer: it hands bytes to
the protocol and reads back what the protocol wrote. Two optional behaviours make it
a faithful stand-in for a socket:

* **Waiting.** :meth:`MemoryTransport.wait_written` sleeps until there is something
  new to read (or the transport is closing); :meth:`MemoryTransport.wait_for` until
  any condition holds, such as the protocol wanting input again. Both are woken by
  one ``asyncio.Event`` that every state change sets.
* **Write flow control.** With ``high_water`` set, the protocol's ``pause_writing``
  is called once more than that many bytes are waiting to be taken, and
  ``resume_writing`` once :meth:`MemoryTransport.take` empties the buffer, so a
  server streaming to a slow reader is held back exactly as a socket would hold it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


class MemoryTransport(asyncio.Transport):
    """Collects writes in :attr:`written`; closing calls ``connection_lost`` soon after.

    Example::

        transport = MemoryTransport(high_water=65536)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        await transport.wait_written()
        data = transport.take()

    Args:
        peername: what ``get_extra_info("peername")`` returns.
        sockname: what ``get_extra_info("sockname")`` returns.
        high_water: pause the protocol's writing while more than this many bytes
            wait to be taken; None (the default) never pauses it.

    Raises:
        ValueError: ``high_water`` is negative.
    """

    def __init__(
        self,
        peername: tuple[str, int] | None = ("127.0.0.1", 50000),
        sockname: tuple[str, int] | None = ("127.0.0.1", 8000),
        *,
        high_water: int | None = None,
    ) -> None:
        super().__init__()
        if high_water is not None and (isinstance(high_water, bool) or high_water < 0):
            raise ValueError(f"high_water must be None or >= 0, got {high_water!r}")
        self.written = bytearray()
        self.writes = 0
        self.reading = True
        self.closed = False
        self.aborted = False
        self.writing_paused = False
        self.high_water = high_water
        self._closing = False
        self._protocol: asyncio.BaseProtocol | None = None
        self._extra = {"peername": peername, "sockname": sockname}
        self._changed = asyncio.Event()

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
        self._changed.set()
        high_water = self.high_water
        if (
            high_water is not None
            and not self.writing_paused
            and len(self.written) > high_water
            and self._protocol is not None
        ):
            self.writing_paused = True
            self._protocol.pause_writing()

    def take(self) -> bytes:
        """Return what was written so far and forget it (resuming a paused writer)."""
        data = bytes(self.written)
        self.written.clear()
        if self.writing_paused:
            self.writing_paused = False
            if self._protocol is not None and not self.closed:
                self._protocol.resume_writing()
        return data

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` is true; it is checked again at every change.

        A change is a write, a close, or the protocol pausing or resuming reading.
        """
        while not predicate():
            self._changed.clear()
            await self._changed.wait()

    async def wait_written(self) -> None:
        """Return once there are written bytes not yet taken, or the transport is closing."""
        await self.wait_for(lambda: bool(self.written) or self._closing)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._changed.set()
        asyncio.get_running_loop().call_soon(self._lose, None)

    def abort(self) -> None:
        self.aborted = True
        self.close()

    def _lose(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            self._changed.set()
            if self._protocol is not None:
                self._protocol.connection_lost(exc)

    def disconnect(self) -> None:
        """Simulate the peer going away: ``connection_lost`` runs now."""
        self._closing = True
        self._lose(ConnectionResetError("the peer went away"))

    def pause_reading(self) -> None:
        self.reading = False
        self._changed.set()

    def resume_reading(self) -> None:
        self.reading = True
        self._changed.set()

    def is_reading(self) -> bool:
        return self.reading

    def get_write_buffer_size(self) -> int:
        return len(self.written) if self.high_water is not None else 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (0, self.high_water or 0)

    def can_write_eof(self) -> bool:
        return False
