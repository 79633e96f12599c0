"""``App.serve_also``: declaring raw servers, and their place in the app's lifecycle."""

from __future__ import annotations

import asyncio
import socket

import pytest

from typhoon import App
from typhoon.net import LineReceiver
from typhoon.testing import AsyncTestClient

LOCAL = "tcp:0:interface=127.0.0.1"


class Upper(LineReceiver):
    delimiter = b"\n"

    def line_received(self, line: bytes) -> None:
        self.send_line(line.upper())


async def ask(port: int, line: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(line + b"\n")
    try:
        return await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()


async def test_services_follow_startup_and_shutdown_of_the_app_and_its_mounts() -> None:
    app, sub = App(), App()
    events: list[str] = []
    service = app.serve_also(LOCAL, Upper)
    sub_service = sub.serve_also(LOCAL, Upper, max_connections=5)
    app.mount("/sub", sub)

    @app.on_startup
    def started() -> None:
        events.append(f"startup hook, listening: {service.listener is not None}")

    @app.on_shutdown
    def stopped() -> None:
        events.append(f"shutdown hook, listening: {service.listener is not None}")

    with pytest.raises(RuntimeError, match="is not listening"):
        _ = service.port
    async with AsyncTestClient(app):
        assert await ask(service.port, b"hi") == b"HI\n"
        assert await ask(sub_service.port, b"sub") == b"SUB\n"
        assert repr(service) == f"<NetService {LOCAL!r} Upper>"
    assert events == ["startup hook, listening: False", "shutdown hook, listening: False"]
    assert service.listener is None
    assert sub_service.listener is None


async def test_a_failed_bind_stops_the_services_started_before_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = App()
        first = app.serve_also(LOCAL, Upper)
        app.serve_also(f"tcp:{port}:interface=127.0.0.1", Upper)
        with pytest.raises(OSError, match="in use"):
            await app.startup()
    assert first.listener is None


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (("tcp:nope", Upper), {}, ValueError, "port"),
        (("tcp:0", "Upper"), {}, TypeError, "protocol must be"),
        ((LOCAL, Upper), {"drain_timeout": -1}, ValueError, "drain_timeout must be >= 0"),
        ((LOCAL, Upper), {"drain_timeout": "5"}, TypeError, "drain_timeout must be a number"),
    ],
)
def test_bad_declarations_fail_at_once(
    args: tuple[object, ...], kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        App().serve_also(*args, **kwargs)  # type: ignore[arg-type]


async def test_declaring_after_the_app_started_is_refused() -> None:
    app = App()
    async with AsyncTestClient(app):
        with pytest.raises(RuntimeError, match="serve_also"):
            app.serve_also(LOCAL, Upper)
