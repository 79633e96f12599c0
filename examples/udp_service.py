"""A UDP service on ``typhoon.net``: named counters, one datagram per command.

Run it with ``python -m examples.udp_service`` (``udp:9999``), then::

    $ echo "INCR visits" | nc -u -w1 127.0.0.1 9999
    visits 1
    $ echo "GET visits" | nc -u -w1 127.0.0.1 9999
    visits 1

Commands are ``INCR name [by]``, ``GET name`` and ``PING``. Every datagram gets one
answer; a bad command gets ``ERR`` and the reason, and never stops the service.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from typhoon.net import Listener, serve
from typhoon.net import run as run_loop

logger = logging.getLogger("examples.udp_service")

MAX_NAME = 64


class Counters(asyncio.DatagramProtocol):
    """Answers each datagram with one datagram. ``counts`` may be shared between services."""

    def __init__(self, counts: dict[str, int] | None = None) -> None:
        self.counts: dict[str, int] = {} if counts is None else counts
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        assert self.transport is not None
        try:
            answer = self.answer(data.decode("utf-8").split())
        except UnicodeDecodeError:
            answer = "ERR commands are UTF-8 text"
        self.transport.sendto(answer.encode() + b"\n", addr)

    def answer(self, words: list[str]) -> str:
        if not words:
            return "ERR empty command (INCR name [by], GET name, PING)"
        command, args = words[0].upper(), words[1:]
        if command == "PING" and not args:
            return "PONG"
        if command in ("GET", "INCR") and args:
            name = args[0]
            if len(name) > MAX_NAME:
                return f"ERR a name is at most {MAX_NAME} characters"
            if command == "GET" and len(args) == 1:
                return f"{name} {self.counts.get(name, 0)}"
            if command == "INCR" and len(args) <= 2:
                by = args[1] if len(args) == 2 else "1"
                if not by.lstrip("-").isdigit() or len(by) > 18:
                    return f"ERR INCR takes an integer, got {by!r}"
                self.counts[name] = self.counts.get(name, 0) + int(by)
                return f"{name} {self.counts[name]}"
        return f"ERR unknown command {' '.join(words)[:80]!r} (INCR name [by], GET name, PING)"


async def start(endpoint: str = "udp:9999") -> Listener:
    return await serve(endpoint, Counters)


async def main(endpoint: str) -> None:
    async with await start(endpoint):
        logger.warning("UDP counters on %s (Ctrl+C to stop)", endpoint)
        await asyncio.Event().wait()


if __name__ == "__main__":  # pragma: no cover - run by hand
    logging.basicConfig(format="%(message)s")
    try:
        run_loop(main(sys.argv[1] if len(sys.argv) > 1 else "udp:9999"))
    except KeyboardInterrupt:
        pass
