"""A client that stays connected: it pings a line server and comes back after outages.

Start the echo server (``python -m examples.echo_server``), then
``python -m examples.reconnecting_client`` (``tcp:127.0.0.1:9000``). Stop and restart
the server: the client logs the loss, retries with exponential backoff (0.5 s, 1 s,
2 s… at most 10 s, with jitter) and carries on where it left off.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from typhoon.net import LineReceiver, Reconnecting, Repeating, every
from typhoon.net import run as run_loop

logger = logging.getLogger("examples.reconnecting_client")


class Pinger(LineReceiver):
    """Sends ``ping N`` every ``interval`` seconds while connected; keeps the echoes."""

    delimiter = b"\n"

    def __init__(self, replies: asyncio.Queue[bytes], interval: float = 1.0) -> None:
        super().__init__()
        self.replies = replies
        self.interval = interval
        self.sent = 0
        self._pings: Repeating | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._pings = every(self.interval, self.ping)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._pings is not None:
            self._pings.stop()

    def ping(self) -> None:
        self.sent += 1
        self.send_line(b"ping %d" % self.sent)

    def line_received(self, line: bytes) -> None:
        self.replies.put_nowait(line)


def connect_forever(
    endpoint: str, replies: asyncio.Queue[bytes], interval: float = 1.0
) -> Reconnecting:
    """A :class:`Reconnecting` client for ``endpoint`` that logs its ups and downs."""
    return Reconnecting(
        endpoint,
        Pinger,
        replies=replies,
        interval=interval,
        initial_delay=0.5,
        max_delay=10.0,
        on_connect=lambda protocol: logger.warning("connected to %s", endpoint),
        on_disconnect=lambda protocol, exc: logger.warning("lost %s (%r)", endpoint, exc),
    )


async def main(endpoint: str) -> None:
    replies: asyncio.Queue[bytes] = asyncio.Queue()
    async with connect_forever(endpoint, replies):
        while True:
            logger.warning("echo: %s", (await replies.get()).decode(errors="replace"))


if __name__ == "__main__":  # pragma: no cover - run by hand
    logging.basicConfig(format="%(asctime)s %(message)s")
    try:
        run_loop(main(sys.argv[1] if len(sys.argv) > 1 else "tcp:127.0.0.1:9000"))
    except KeyboardInterrupt:
        pass
