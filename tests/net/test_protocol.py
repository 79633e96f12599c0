"""The base Protocol (drain, STARTTLS, shutdown) and serve()'s connection options; real sockets."""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import ssl
from pathlib import Path
from typing import Any, cast

import pytest

from typhoon.net import LineReceiver, Protocol, connect, serve
from typhoon.net.server import Drainable
from typhoon.testing import FakeClock, MemoryTransport, settle

LOCAL = "tcp:0:interface=127.0.0.1"


class Peer(asyncio.Protocol):
    """The test's end of a connection: keeps what it reads and notices the end."""

    def __init__(self) -> None:
        self.received = bytearray()
        self._changed = asyncio.Event()
        self.lost: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.received += data
        self._changed.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set_result(exc)

    async def read_until(self, marker: bytes) -> None:
        async with asyncio.timeout(5):
            while marker not in self.received:
                self._changed.clear()
                await self._changed.wait()

    async def say(self, data: bytes) -> None:
        """Write ``data`` and wait for the server's echo of it."""
        self.transport.write(data)
        await self.read_until(data)

    async def closed(self) -> None:
        await asyncio.wait_for(self.lost, 5)


async def dial(port: int) -> Peer:
    _, peer = await connect(f"tcp:127.0.0.1:{port}", Peer)
    return cast(Peer, peer)


class Echo(Protocol):
    """Echoes; adds itself to ``seen``; writes ``goodbye`` when asked to shut down."""

    def __init__(self, seen: list[Echo], goodbye: bytes = b"") -> None:
        seen.append(self)
        self.goodbye = goodbye
        self.shutdowns = 0
        self.ended = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.ended.set()

    def shutdown(self) -> None:
        self.shutdowns += 1
        if self.goodbye and self.transport is not None:
            self.transport.write(self.goodbye)
        super().shutdown()


class Stubborn(Echo):
    """Ignores every request to shut down."""

    def shutdown(self) -> None:
        self.shutdowns += 1


class PlainEcho(asyncio.Protocol):
    """A bare asyncio protocol: no shutdown(), no abort()."""

    def __init__(self, seen: list[PlainEcho]) -> None:
        seen.append(self)
        self.ended = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended.set()


# -- Protocol ---------------------------------------------------------------------------------


async def test_protocol_keeps_its_transport_and_peer_until_the_connection_is_lost() -> None:
    seen: list[Echo] = []
    async with await serve(LOCAL, Echo, seen=seen) as listener:
        peer = await dial(listener.port)
        await peer.say(b"hi")
        (server,) = seen
        assert server.transport is not None
        assert server.peer == peer.transport.get_extra_info("sockname")
        await server.drain()  # not paused: returns at once
        peer.transport.close()
        await asyncio.wait_for(server.ended.wait(), 5)
    assert server.transport is None
    assert server.peer is None
    with pytest.raises(ConnectionResetError):
        await server.drain()
    server.shutdown()  # nothing left to close: no error
    server.abort()


def test_every_protocol_is_drainable_and_framing_builds_on_it() -> None:
    drainable: Drainable = Protocol()
    assert drainable is not None
    assert issubclass(LineReceiver, Protocol)


class Writer(Protocol):
    """Hands itself to the test; a tiny send buffer makes a slow reader felt at once."""

    def __init__(self, made: asyncio.Future[Writer]) -> None:
        self.made = made

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        self.transport.set_write_buffer_limits(high=4096)
        self.made.set_result(self)


async def test_drain_waits_while_the_peer_does_not_read_and_returns_once_it_does() -> None:
    made: asyncio.Future[Writer] = asyncio.get_running_loop().create_future()
    async with await serve(LOCAL, Writer, made=made) as listener:
        peer = await dial(listener.port)
        peer.transport.pause_reading()
        writer = await asyncio.wait_for(made, 5)
        assert writer.transport is not None
        writer.transport.write(b"x" * (1 << 20))
        assert writer.transport.get_write_buffer_size() > 4096  # over the high-water mark
        draining = asyncio.ensure_future(writer.drain())
        await settle()
        assert not draining.done()  # the peer reads nothing: the buffer cannot empty
        peer.transport.resume_reading()
        await asyncio.wait_for(draining, 5)
        peer.transport.close()


async def test_drain_raises_when_the_connection_is_lost_while_waiting() -> None:
    made: asyncio.Future[Writer] = asyncio.get_running_loop().create_future()
    async with await serve(LOCAL, Writer, made=made) as listener:
        peer = await dial(listener.port)
        peer.transport.pause_reading()
        writer = await asyncio.wait_for(made, 5)
        assert writer.transport is not None
        writer.transport.write(b"x" * (1 << 20))
        assert writer.transport.get_write_buffer_size() > 4096
        draining = [asyncio.ensure_future(writer.drain()) for _ in range(2)]
        await settle()
        assert not any(task.done() for task in draining)
        peer.transport.abort()
        for task in draining:
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(task, 5)


# -- STARTTLS ---------------------------------------------------------------------------------


def tls_contexts(certificate: tuple[Path, Path]) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    cert, key = certificate
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


class StartTLSServer(LineReceiver):
    """Echoes lines, saying how they came; ``STARTTLS`` answers ``GO`` and switches to TLS."""

    def __init__(self, context: ssl.SSLContext, seen: list[StartTLSServer]) -> None:
        super().__init__()
        seen.append(self)
        self.context = context
        self.switching = False
        self.dropped: list[bytes] = []
        self.failure: Exception | None = None
        self.ended = asyncio.Event()

    def is_secure(self) -> bool:
        transport = self.transport
        return transport is not None and transport.get_extra_info("ssl_object") is not None

    def line_received(self, line: bytes) -> None:
        if self.switching and not self.is_secure():
            self.dropped.append(line)  # plaintext sent after STARTTLS: never acted on
        elif line == b"STARTTLS":
            self.send_line(b"GO")
            self.switching = True
            self.upgrade = asyncio.ensure_future(self._upgrade())
        else:
            self.send_line((b"tls: " if self.is_secure() else b"plain: ") + line)

    async def _upgrade(self) -> None:
        try:
            await self.start_tls(self.context, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            self.failure = exc

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.ended.set()


class StartTLSClient(LineReceiver):
    """Queues the lines it reads; switches to TLS on reading ``GO``."""

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__()
        self.context = context
        self.lines: asyncio.Queue[bytes] = asyncio.Queue()
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def line_received(self, line: bytes) -> None:
        if line == b"GO":
            self.upgrade = asyncio.ensure_future(self._upgrade())
        else:
            self.lines.put_nowait(line)

    async def _upgrade(self) -> None:
        try:
            await self.start_tls(self.context, server_side=False, server_hostname="localhost")
        except Exception as exc:
            self.upgraded.set_exception(exc)
        else:
            self.upgraded.set_result(None)

    async def ask(self, line: bytes) -> bytes:
        self.send_line(line)
        return await asyncio.wait_for(self.lines.get(), 5)


async def test_starttls_upgrades_both_sides_and_drops_plaintext_sent_after_the_command(
    certificate: tuple[Path, Path],
) -> None:
    server_context, client_context = tls_contexts(certificate)
    seen: list[StartTLSServer] = []
    options: dict[str, Any] = {"context": server_context, "seen": seen, "idle_timeout": 60}
    async with await serve(LOCAL, StartTLSServer, **options) as listener:
        _, protocol = await connect(
            f"tcp:127.0.0.1:{listener.port}", StartTLSClient, context=client_context
        )
        client = cast(StartTLSClient, protocol)
        assert await client.ask(b"hello") == b"plain: hello"
        assert client.transport is not None
        client.transport.write(b"STARTTLS\r\nINJECTED\r\n")  # one read on the server
        await asyncio.wait_for(client.upgraded, 5)
        assert await client.ask(b"hello") == b"tls: hello"
        (server,) = seen
        assert server.dropped == [b"INJECTED"]
        assert server.is_secure()
        assert client.transport.get_extra_info("peercert") is not None
        assert listener.connections == 1  # still counted, though TLS now sits in between
        client.transport.close()
        await asyncio.wait_for(server.ended.wait(), 5)
        assert listener.connections == 0


async def test_starttls_with_an_untrusted_certificate_fails_and_closes_on_both_sides(
    certificate: tuple[Path, Path],
) -> None:
    server_context, _ = tls_contexts(certificate)
    seen: list[StartTLSServer] = []
    async with await serve(LOCAL, StartTLSServer, context=server_context, seen=seen) as listener:
        _, protocol = await connect(
            f"tcp:127.0.0.1:{listener.port}",
            StartTLSClient,
            context=ssl.create_default_context(),  # the system store does not know ours
        )
        client = cast(StartTLSClient, protocol)
        client.send_line(b"STARTTLS")
        with pytest.raises(ssl.SSLCertVerificationError):
            await asyncio.wait_for(client.upgraded, 5)
        (server,) = seen
        await asyncio.wait_for(server.ended.wait(), 5)
        assert isinstance(server.failure, ssl.SSLError | ConnectionError)
        assert server.transport is None
        assert client.transport is None
        assert listener.connections == 0


class Answering(LineReceiver):
    """Answers each line; counts how often it is told the connection is lost."""

    def __init__(self) -> None:
        super().__init__()
        self.losses = 0

    def line_received(self, line: bytes) -> None:
        self.send_line(b"ok " + line)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.losses += 1


def attached(monkeypatch: pytest.MonkeyPatch, start_tls: Any) -> tuple[Answering, MemoryTransport]:
    """An Answering protocol on a memory transport, with the loop's start_tls faked."""
    monkeypatch.setattr(asyncio.get_running_loop(), "start_tls", start_tls)
    protocol, raw = Answering(), MemoryTransport()
    raw.set_protocol(protocol)
    protocol.connection_made(raw)
    return protocol, raw


async def test_data_decrypted_before_start_tls_returns_is_answered_over_tls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tls = MemoryTransport()

    async def start_tls(raw: MemoryTransport, receiver: Any, *_: Any, **__: Any) -> Any:
        raw.set_protocol(asyncio.Protocol())  # the TLS layer takes the socket over
        receiver.data_received(b"early\r\n")  # what asyncio does right after the handshake
        return tls

    protocol, raw = attached(monkeypatch, start_tls)
    await protocol.start_tls(ssl.create_default_context(), server_side=False)
    assert protocol.transport is tls
    assert tls.get_protocol() is protocol
    assert bytes(tls.written) == b"ok early\r\n"
    assert raw.written == b""  # never a plaintext answer on the upgraded socket


@pytest.mark.parametrize("reported", [True, False])
async def test_a_connection_lost_mid_handshake_is_reported_once(
    monkeypatch: pytest.MonkeyPatch, reported: bool
) -> None:
    async def start_tls(raw: MemoryTransport, receiver: Any, *_: Any, **__: Any) -> Any:
        raw.set_protocol(asyncio.Protocol())
        if reported:
            receiver.connection_lost(None)
        raise ConnectionResetError("reset during the handshake")

    protocol, raw = attached(monkeypatch, start_tls)
    with pytest.raises(ConnectionResetError):
        await protocol.start_tls(ssl.create_default_context(), server_side=False)
    await settle()
    assert raw.aborted
    assert protocol.losses == 1
    assert protocol.transport is None


async def test_a_connection_lost_right_after_the_handshake_delivers_data_then_the_loss(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def start_tls(raw: MemoryTransport, receiver: Any, *_: Any, **__: Any) -> Any:
        raw.set_protocol(asyncio.Protocol())
        receiver.data_received(b"last words\r\n")
        receiver.connection_lost(None)
        return None  # asyncio's answer when the loss came first

    protocol, raw = attached(monkeypatch, start_tls)
    with pytest.raises(ConnectionResetError, match="lost during start_tls"):
        await protocol.start_tls(ssl.create_default_context(), server_side=False)
    assert bytes(raw.written) == b"ok last words\r\n"
    assert protocol.losses == 1


async def test_start_tls_refused_before_the_tls_layer_takes_over_leaves_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def start_tls(*_: Any, **__: Any) -> Any:
        raise TypeError("sslcontext is expected to be an instance of ssl.SSLContext")

    protocol, raw = attached(monkeypatch, start_tls)
    with pytest.raises(TypeError):
        await protocol.start_tls(ssl.create_default_context(), server_side=False)
    await settle()
    assert protocol.transport is raw
    assert not raw.is_closing()
    assert raw.is_reading()
    protocol.data_received(b"still\r\n")
    assert bytes(raw.written) == b"ok still\r\n"


async def test_start_tls_needs_an_open_connection() -> None:
    with pytest.raises(ConnectionResetError, match="needs an open connection"):
        await Answering().start_tls(ssl.create_default_context(), server_side=True)


# -- serve(): connections and max_connections ----------------------------------------------------


async def test_connections_are_counted_and_close_leaves_them_alone() -> None:
    seen: list[Echo] = []
    listener = await serve(LOCAL, Echo, seen=seen)
    assert listener.connections == 0
    first, second = await dial(listener.port), await dial(listener.port)
    await first.say(b"1")
    await second.say(b"2")
    assert listener.connections == 2
    second.transport.close()
    await asyncio.wait_for(seen[1].ended.wait(), 5)
    assert listener.connections == 1
    await listener.close()
    await first.say(b"still here")
    assert listener.connections == 1
    first.transport.close()
    await asyncio.wait_for(seen[0].ended.wait(), 5)
    assert listener.connections == 0
    assert listener.refused == 0


async def test_a_connection_over_max_connections_is_closed_without_reaching_the_protocol(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[Echo] = []
    async with await serve(LOCAL, Echo, seen=seen, max_connections=2) as listener:
        first, second = await dial(listener.port), await dial(listener.port)
        await first.say(b"1")
        await second.say(b"2")
        with caplog.at_level(logging.WARNING, logger="typhoon.net"):
            third = await dial(listener.port)
            await third.closed()
        assert third.received == b""
        assert listener.refused == 1
        assert len(seen) == 2  # the third protocol was never even built
        assert "max_connections=2" in caplog.text
        await first.say(b"one")
        await second.say(b"two")
        first.transport.close()
        await asyncio.wait_for(seen[0].ended.wait(), 5)
        assert listener.connections == 1
        fourth = await dial(listener.port)
        await fourth.say(b"4")
        assert listener.connections == 2
        assert listener.refused == 1
        for peer in (second, fourth):
            peer.transport.close()


async def test_refusals_are_logged_at_most_once_a_second(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    async with await serve(LOCAL, PlainEcho, seen=[], max_connections=1, clock=clock) as listener:
        kept = await dial(listener.port)
        await kept.say(b"k")
        with caplog.at_level(logging.WARNING, logger="typhoon.net"):
            for _ in range(3):
                await (await dial(listener.port)).closed()
            assert len(caplog.records) == 1
            clock.advance(1)
            await (await dial(listener.port)).closed()
        assert len(caplog.records) == 2
        assert "(4 refused so far)" in caplog.records[1].getMessage()
        assert listener.refused == 4
        kept.transport.close()


async def test_a_buffered_protocol_is_fed_through_its_buffer() -> None:
    class Upper(asyncio.BufferedProtocol):
        def __init__(self) -> None:
            self.buffer = bytearray(3)  # smaller than a read: filled in several goes

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = cast(asyncio.Transport, transport)

        def get_buffer(self, sizehint: int) -> bytearray:
            return self.buffer

        def buffer_updated(self, nbytes: int) -> None:
            self.transport.write(bytes(self.buffer[:nbytes]).upper())

    async with await serve(LOCAL, Upper) as listener:
        peer = await dial(listener.port)
        peer.transport.write(b"hello, buffers")
        await peer.read_until(b"HELLO, BUFFERS")
        assert listener.connections == 1
        peer.transport.close()


async def test_a_factory_that_raises_closes_the_connection_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> asyncio.Protocol:
        raise RuntimeError("no protocol today")

    async with await serve(LOCAL, broken) as listener:
        with caplog.at_level(logging.ERROR, logger="typhoon.net"):
            await (await dial(listener.port)).closed()
        assert "the protocol factory raised" in caplog.text
        assert listener.connections == 0


# -- serve(): idle_timeout --------------------------------------------------------------------


async def test_an_idle_connection_is_asked_to_shut_down_after_idle_timeout() -> None:
    clock = FakeClock()
    seen: list[Echo] = []
    async with await serve(LOCAL, Echo, seen=seen, idle_timeout=10, clock=clock) as listener:
        peer = await dial(listener.port)
        await peer.say(b"hi")  # heard during the first period: the timer starts over
        clock.advance(10)
        clock.advance(9.9)
        assert seen[0].shutdowns == 0
        clock.advance(0.1)  # 10 s without a byte
        assert seen[0].shutdowns == 1
        await peer.closed()
        await asyncio.wait_for(seen[0].ended.wait(), 5)
        assert listener.connections == 0
        assert clock.pending == 0


async def test_an_idle_connection_that_ignores_shutdown_is_aborted_a_period_later() -> None:
    clock = FakeClock()
    seen: list[Echo] = []
    async with await serve(LOCAL, Stubborn, seen=seen, idle_timeout=10, clock=clock) as listener:
        peer = await dial(listener.port)
        await peer.say(b"hi")
        clock.advance(10)  # heard: the period starts over
        assert seen[0].shutdowns == 0
        clock.advance(10)
        assert seen[0].shutdowns == 1
        await settle()
        assert not peer.lost.done()
        clock.advance(10)
        await peer.closed()
        assert seen[0].shutdowns == 1
        await asyncio.wait_for(seen[0].ended.wait(), 5)
        assert listener.connections == 0


async def test_an_idle_plain_asyncio_protocol_is_closed() -> None:
    clock = FakeClock()
    seen: list[PlainEcho] = []
    async with await serve(LOCAL, PlainEcho, seen=seen, idle_timeout=5, clock=clock) as listener:
        peer = await dial(listener.port)
        await peer.say(b"hi")
        assert listener.connections == 1
        clock.advance(10)
        await peer.closed()
        await asyncio.wait_for(seen[0].ended.wait(), 5)
        assert listener.connections == 0


async def test_idle_timeout_on_the_running_loop() -> None:
    seen: list[Echo] = []
    async with await serve(LOCAL, Echo, seen=seen, idle_timeout=0.05) as listener:
        peer = await dial(listener.port)
        await peer.closed()
        await asyncio.wait_for(seen[0].ended.wait(), 5)
        assert seen[0].shutdowns == 1
        assert listener.connections == 0


# -- Listener.drain() -------------------------------------------------------------------------


async def test_drain_closes_idle_connections_lets_shutdown_say_bye_and_stops_accepting() -> None:
    seen: list[Echo] = []
    async with await serve(LOCAL, Echo, seen=seen, goodbye=b"bye\r\n") as listener:
        port = listener.port
        first, second = await dial(port), await dial(port)
        await first.say(b"1")
        await second.say(b"2")
        assert await listener.drain(timeout=5) is True
        assert listener.connections == 0
        for peer in (first, second):
            await peer.closed()
            assert peer.received.endswith(b"bye\r\n")
        with pytest.raises(OSError):  # noqa: PT011 - the OS names the error
            await dial(port)


async def test_drain_aborts_a_protocol_that_ignores_shutdown_and_returns_false(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[Echo] = []
    async with await serve(LOCAL, Stubborn, seen=seen) as listener:
        peer = await dial(listener.port)
        await peer.say(b"hi")
        with caplog.at_level(logging.WARNING, logger="typhoon.net"):
            assert await listener.drain(timeout=0.05) is False
        assert "1 connection(s) still open after 0.05s" in caplog.text
        assert seen[0].shutdowns == 1
        await peer.closed()
        await asyncio.wait_for(seen[0].ended.wait(), 5)
        assert listener.connections == 0


async def test_drain_closes_plain_asyncio_protocols() -> None:
    seen: list[PlainEcho] = []
    async with await serve(LOCAL, PlainEcho, seen=seen) as listener:
        peer = await dial(listener.port)
        await peer.say(b"hi")
        assert await listener.drain() is True
        await peer.closed()


async def test_drain_of_a_udp_listener_closes_it() -> None:
    class Quiet(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

    protocols: list[Quiet] = []

    def make() -> Quiet:
        protocols.append(Quiet())
        return protocols[-1]

    async with await serve("udp:0:interface=127.0.0.1", make) as listener:
        assert listener.connections == 0
        assert await listener.drain() is True
        assert protocols[0].transport.is_closing()


# -- option values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_connections": 0}, "max_connections must be a positive int, got 0"),
        ({"max_connections": -3}, "max_connections must be a positive int, got -3"),
        ({"max_connections": 1.5}, "max_connections must be a positive int, got 1.5"),
        ({"max_connections": True}, "max_connections must be a positive int, got True"),
        ({"idle_timeout": 0}, "idle_timeout must be a finite number of seconds > 0, got 0"),
        ({"idle_timeout": -1.0}, "idle_timeout must be .* got -1.0"),
        ({"idle_timeout": math.inf}, "idle_timeout must be .* got inf"),
        ({"idle_timeout": "30"}, "idle_timeout must be .* got '30'"),
    ],
)
async def test_bad_option_values_raise_value_error_naming_the_option(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await serve(LOCAL, Echo, seen=[], **options)


async def test_connection_options_are_refused_for_udp_and_drain_checks_its_timeout() -> None:
    with pytest.raises(ValueError, match="UDP has no connections"):
        await serve("udp:0:interface=127.0.0.1", asyncio.DatagramProtocol, max_connections=5)
    async with await serve(LOCAL, Echo, seen=[]) as listener:
        with pytest.raises(ValueError, match="timeout must be a finite number of seconds >= 0"):
            await listener.drain(timeout=-1)
