"""An echo server on ``typhoon.net``: every byte a client sends comes back.

Run it with ``python -m examples.echo_server`` (``tcp:9000``) or give any server
endpoint: ``python -m examples.echo_server unix:/tmp/echo.sock``, or
``tls:9443:cert=cert.pem:key=key.pem``. Try it with ``nc 127.0.0.1 9000``.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from typhoon.net import Listener, Protocol, serve
from typhoon.net import run as run_loop

logger = logging.getLogger("examples.echo_server")


class Echo(Protocol):
    """Writes back what it receives, and stops reading while the peer is slow to read."""

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)


async def start(endpoint: str = "tcp:9000") -> Listener:
    """Listen on ``endpoint`` (``idle_timeout``: a silent client is dropped after 5 min)."""
    return await serve(endpoint, Echo, idle_timeout=300)


async def main(endpoint: str) -> None:
    async with await start(endpoint):
        logger.warning("echo server on %s (Ctrl+C to stop)", endpoint)
        await asyncio.Event().wait()


if __name__ == "__main__":  # pragma: no cover - run by hand and by tests/examples as a process
    logging.basicConfig(format="%(message)s")
    try:
        run_loop(main(sys.argv[1] if len(sys.argv) > 1 else "tcp:9000"))
    except KeyboardInterrupt:
        pass
