"""A small Twisted service, ported: see docs/coming-from-twisted.md.

The Twisted original is a ``LineReceiver`` command server, a ``LoopingCall`` that samples
its traffic, ``deferToThread`` for a blocking computation, and a ``twisted.web`` page
showing the numbers, all in one reactor. Here it is one typhoon App:

``typhoon run examples.coming_from.twisted_port:app`` serves the page on port 8000 and,
on the same loop and lifecycle, the command server on TCP port 8023::

    $ nc 127.0.0.1 8023
    hello: HASH <text>, STATS or QUIT
    HASH secret
    a271b4fad4b0c43a...         (PBKDF2, computed on a worker thread)
    STATS
    clients=1 lines=2 per_minute=0

``GET /`` shows the same numbers as HTML, ``GET /stats`` as JSON.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from typhoon import App, Request
from typhoon.net import Clock, LineReceiver, Repeating, every, run_in_thread, spawn

TCP_ENDPOINT = "tcp:8023:interface=127.0.0.1"
SAMPLE_EVERY_S = 60.0


def slow_hash(text: str) -> str:
    """Blocking work (about 50 ms of CPU): it must not run on the event loop."""
    digest = hashlib.pbkdf2_hmac("sha256", text.encode(), b"typhoon-example", 100_000)
    return digest.hex()


class Stats:
    """The factory's shared state in Twisted (``self.factory.stats``): passed in here."""

    def __init__(self) -> None:
        self.clients = 0
        self.lines = 0
        self.per_minute = 0
        self._at_last_sample = 0

    def sample(self) -> None:
        """The LoopingCall's body: lines seen since the previous sample."""
        self.per_minute = self.lines - self._at_last_sample
        self._at_last_sample = self.lines

    def as_dict(self) -> dict[str, int]:
        return {"clients": self.clients, "lines": self.lines, "per_minute": self.per_minute}


class CommandProtocol(LineReceiver):
    """Was ``class CommandProtocol(basic.LineReceiver)`` with camelCase hooks."""

    delimiter = b"\n"
    max_line_length = 1024

    def __init__(self, stats: Stats) -> None:  # was: self.factory.stats
        super().__init__()
        self.stats = stats

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # connectionMade
        super().connection_made(transport)
        self.stats.clients += 1
        self.send_line(b"hello: HASH <text>, STATS or QUIT")

    def connection_lost(self, exc: Exception | None) -> None:  # connectionLost
        super().connection_lost(exc)
        self.stats.clients -= 1

    def line_received(self, line: bytes) -> None:  # lineReceived
        self.stats.lines += 1
        command, _, argument = line.decode("utf-8", "replace").strip().partition(" ")
        if command == "HASH" and argument:
            spawn(self.hash(argument))  # was: deferToThread(...).addCallback(...)
        elif command == "STATS":
            stats = self.stats.as_dict()
            self.send_line(" ".join(f"{k}={v}" for k, v in stats.items()).encode())
        elif command == "QUIT":
            self.send_line(b"bye")
            self.shutdown()  # was: self.transport.loseConnection()
        else:
            self.send_line(b"error: unknown command")

    async def hash(self, text: str) -> None:
        digest = await run_in_thread(slow_hash, text)  # was: yield deferToThread(...)
        if self.transport is not None:  # the client may have left meanwhile
            self.send_line(digest.encode())


def create_app(
    *, tcp: str = TCP_ENDPOINT, stats: Stats | None = None, clock: Clock | None = None
) -> App:
    stats = stats if stats is not None else Stats()
    app = App()
    app.serve_also(tcp, CommandProtocol, stats=stats)  # was: reactor.listenTCP(8023, factory)
    sampler: list[Repeating] = []

    @app.on_startup
    def start_sampling() -> None:  # was: LoopingCall(stats.sample).start(60, now=False)
        sampler.append(every(SAMPLE_EVERY_S, stats.sample, now=False, clock=clock))

    @app.on_shutdown
    def stop_sampling() -> None:
        for repeating in sampler:
            repeating.stop()

    @app.get("/")  # was: a Resource with render_GET, under server.Site
    async def page(request: Request) -> str:
        rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in stats.as_dict().items())
        return f"<h1>Command server</h1><table>{rows}</table>"

    @app.get("/stats")
    async def stats_json(request: Request) -> dict[str, Any]:
        return stats.as_dict()

    return app


app = create_app()

if __name__ == "__main__":  # was: reactor.run()
    app.run(port=8000)
