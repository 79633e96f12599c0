"""Servers for the interop tests: real applications on 127.0.0.1, drained at the end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from typhoon.http import Application, HTTPConfig, HTTPServer


@asynccontextmanager
async def serving(app: Application, **config: object) -> AsyncIterator[HTTPServer]:
    """Serve ``app`` on a free port of 127.0.0.1; drain it (shutdown hooks run) at the end."""
    server = HTTPServer(app, HTTPConfig(access_log=False, **config))  # type: ignore[arg-type]
    await server.listen_tcp("127.0.0.1", 0)
    try:
        yield server
    finally:
        assert await server.drain(5), "the server did not drain within 5 s"
