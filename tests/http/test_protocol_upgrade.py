"""The upgrade hand-off: after ``101 Switching Protocols`` a tunnel owns the connection."""

from __future__ import annotations

import asyncio

import pytest

from typhoon.http import ClientDisconnected, Exchange, HTTPConfig
from typhoon.testing import connect, feed, parse_responses, settle

UPGRADE = b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
SWITCH_HEADERS = [(b"upgrade", b"websocket"), (b"connection", b"Upgrade")]


class Tunnel:
    """Records what the connection forwards to it."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.events: list[str] = []
        self.lost = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.received += data

    def eof_received(self) -> bool | None:
        self.events.append("eof")
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append("lost")
        self.lost.set()

    def shutdown(self) -> None:
        self.events.append("shutdown")


class Switching:
    """Switches protocols on an upgrade request, then holds the exchange until lost."""

    def __init__(self, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.tunnel = Tunnel()
        self.headers = SWITCH_HEADERS if headers is None else headers
        self.raised: BaseException | None = None
        self.cancelled = False

    async def handle(self, exchange: Exchange) -> None:
        if exchange.upgrade is None:
            exchange.respond(200, [], b"plain")
            return
        try:
            exchange.switch_protocols(self.headers, self.tunnel)
        except (RuntimeError, ValueError, ClientDisconnected) as exc:
            self.raised = exc
            return
        try:
            await self.tunnel.lost.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


async def test_the_tunnel_gets_the_bytes_behind_the_head_and_all_that_follow() -> None:
    app = Switching()
    protocol, transport = connect(app)
    feed(protocol, UPGRADE + b"\x81\x00early")
    await settle()
    head, _, rest = bytes(transport.written).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"upgrade: websocket" in head
    assert b"date: " in head
    assert rest == b""
    assert transport.reading  # reading resumed for the tunnel
    assert app.tunnel.received == b"\x81\x00early"
    feed(protocol, b"later")
    assert app.tunnel.received == b"\x81\x00earlylater"
    protocol.eof_received()
    transport.disconnect()
    await settle()
    assert app.tunnel.events == ["eof", "lost"]
    assert not app.cancelled  # the tunnel ends its session; the handler is not cancelled


async def test_a_drain_is_forwarded_to_the_tunnel() -> None:
    app = Switching()
    protocol, transport = connect(app)
    feed(protocol, UPGRADE)
    await settle()
    protocol.shutdown()
    assert app.tunnel.events == ["shutdown"]
    assert not transport.closed  # the tunnel closes in its own time
    transport.disconnect()
    await settle()


async def test_an_upgrade_the_application_declines_ends_with_the_response() -> None:
    class Declining:
        async def handle(self, exchange: Exchange) -> None:
            exchange.respond(200, [], b"no upgrade here")

    protocol, transport = connect(Declining())
    feed(protocol, UPGRADE + b"\x81\x00ignored")
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert response.body == b"no upgrade here"
    assert transport.closed


async def test_requests_before_the_upgrade_are_answered_first() -> None:
    app = Switching()
    protocol, transport = connect(app)
    feed(protocol, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n" + UPGRADE)
    await settle()
    written = bytes(transport.written)
    assert written.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"HTTP/1.1 101 Switching Protocols\r\n" in written
    transport.disconnect()
    await settle()


async def test_switching_without_an_upgrade_request_is_refused() -> None:
    class Eager:
        raised: BaseException | None = None

        async def handle(self, exchange: Exchange) -> None:
            try:
                exchange.switch_protocols(SWITCH_HEADERS, Tunnel())
            except RuntimeError as exc:
                self.raised = exc
            exchange.respond(200, [], b"ok")

    app = Eager()
    protocol, _ = connect(app)
    feed(protocol, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    await settle()
    assert str(app.raised) == "the request did not ask for a protocol switch"


async def test_switching_after_a_response_started_is_refused() -> None:
    class Late:
        raised: BaseException | None = None

        async def handle(self, exchange: Exchange) -> None:
            exchange.respond(200, [], b"ok")
            try:
                exchange.switch_protocols(SWITCH_HEADERS, Tunnel())
            except RuntimeError as exc:
                self.raised = exc

    app = Late()
    protocol, _ = connect(app)
    feed(protocol, UPGRADE)
    await settle()
    assert str(app.raised) == "the response was already started"


async def test_a_header_that_would_split_the_response_is_refused() -> None:
    app = Switching([(b"upgrade", b"websocket\r\nx-evil: 1")])
    protocol, transport = connect(app)
    feed(protocol, UPGRADE)
    await settle()
    assert isinstance(app.raised, ValueError)
    assert b"x-evil" not in bytes(transport.written)


async def test_switching_after_the_client_left_raises_client_disconnected() -> None:
    class Slow(Switching):
        async def handle(self, exchange: Exchange) -> None:
            await asyncio.sleep(0.01)
            await super().handle(exchange)

    app = Slow()
    protocol, transport = connect(app, HTTPConfig(access_log=False, cancel_on_disconnect=False))
    feed(protocol, UPGRADE)
    await settle(2)
    transport.disconnect()
    await asyncio.sleep(0.02)
    assert isinstance(app.raised, ClientDisconnected)


async def test_only_the_exchange_being_handled_can_switch() -> None:
    release = asyncio.Event()

    class Holder:
        async def handle(self, exchange: Exchange) -> None:
            await release.wait()
            exchange.respond(200, [], b"ok")

    protocol, transport = connect(Holder())
    feed(protocol, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n" + UPGRADE)
    await settle()
    waiting = protocol._pipeline[0]  # the upgrade, queued behind the first request
    assert isinstance(waiting, Exchange)
    with pytest.raises(RuntimeError, match="only the exchange being handled"):
        protocol.switch_protocols(waiting, b"", Tunnel())
    release.set()
    await settle()
    transport.disconnect()
