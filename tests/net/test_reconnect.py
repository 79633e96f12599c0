"""Reconnecting on real sockets, its delays on the fake clock: exact and instant."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from typhoon.net import Reconnecting, serve
from typhoon.testing import FakeClock


class Client(asyncio.Protocol):
    """Records its own lifecycle, to show it still runs under Reconnecting."""

    def __init__(self, name: str = "client") -> None:
        self.name = name
        self.made = False
        self.lost = False
        self.gone = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.made = True

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.gone.set()


class Accepting(asyncio.Protocol):
    """A server protocol that keeps its transports in ``server`` so a test can drop them."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.server.transports.append(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.closed.put_nowait(self)


class Server:
    def __init__(self) -> None:
        self.transports: list[asyncio.Transport] = []
        self.closed: asyncio.Queue[Accepting] = asyncio.Queue()
        self.port = 0


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()
    async with await serve("tcp:0:interface=127.0.0.1", Accepting, server=state) as listener:
        state.port = listener.port
        yield state
        for transport in state.transports:
            transport.close()


@pytest.fixture
async def refused_port() -> int:
    """A port nothing listens on: a listener's, once it is closed."""
    listener = await serve("tcp:0:interface=127.0.0.1", asyncio.Protocol)
    port = listener.port
    await listener.close()
    return port


class Recorded(Reconnecting):
    """Reports each delay it schedules (``next_delay`` is called once per retry)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scheduled: asyncio.Queue[float] = asyncio.Queue()

    def next_delay(self) -> float:
        delay = super().next_delay()
        self.scheduled.put_nowait(delay)
        return delay


async def next_retry(client: Recorded) -> float:
    return await asyncio.wait_for(client.scheduled.get(), 5)


async def test_backoff_doubles_up_to_max_delay_without_jitter(refused_port: int) -> None:
    clock = FakeClock()
    client = Recorded(f"tcp:127.0.0.1:{refused_port}", Client, max_delay=5, jitter=0, clock=clock)
    client.start()
    delays = []
    for attempt in range(1, 7):
        assert client.attempts == attempt
        delay = await next_retry(client)
        assert client.delay == delay
        assert isinstance(client.failure, ConnectionRefusedError)
        clock.advance(delay - 0.001)
        assert client.attempts == attempt  # not yet
        clock.advance(0.002)
        delays.append(delay)
    assert delays == [1, 2, 4, 5, 5, 5]
    assert client.retries == 6
    assert not client.connected
    await client.stop()


async def test_backoff_with_seeded_jitter_is_exact_and_capped(refused_port: int) -> None:
    clock = FakeClock()
    client = Recorded(
        f"tcp:127.0.0.1:{refused_port}",
        Client,
        initial_delay=0.5,
        factor=3,
        max_delay=10,
        jitter=0.25,
        rng=random.Random(2024),
        clock=clock,
    )
    draws = random.Random(2024)
    expected = [min(10.0, min(10.0, 0.5 * 3.0**n) * draws.uniform(0.75, 1.25)) for n in range(6)]
    client.start()
    delays = []
    for _ in expected:
        delay = await next_retry(client)
        delays.append(delay)
        clock.advance(delay)
    await client.stop()
    assert delays == expected
    assert all(delay <= 10 for delay in delays)
    assert delays[-1] == 10  # 0.5 * 3**5 = 121.5, jittered, capped
    assert client.attempts == 7


async def test_reconnects_after_the_server_drops_the_connection(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    events: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    async def on_connect(protocol: Client) -> None:  # async callbacks are awaited as tasks
        await events.put(("connect", protocol))

    def on_disconnect(protocol: Client, exc: Exception | None) -> None:
        events.put_nowait(("disconnect", protocol, exc))

    client = Reconnecting(
        f"tcp:127.0.0.1:{server.port}",
        Client,
        name="feed",
        jitter=0,
        clock=clock,
        on_connect=on_connect,
        on_disconnect=on_disconnect,
    )
    async with client:
        first = await client.wait_connected(timeout=5)
        assert isinstance(first, Client)
        assert first.name == "feed"
        assert first.made
        assert client.connected
        assert await asyncio.wait_for(events.get(), 5) == ("connect", first)

        server.transports[0].close()
        assert await asyncio.wait_for(events.get(), 5) == ("disconnect", first, None)
        assert first.lost
        assert not client.connected
        assert client.protocol is None
        assert client.delay == 1.0  # after a loss: the initial delay, not at once
        assert client.attempts == 1

        clock.advance(1.0)
        second = await client.wait_connected(timeout=5)
        assert await asyncio.wait_for(events.get(), 5) == ("connect", second)
        assert second is not first
        assert client.protocol is second
        assert client.attempts == 2
        assert client.retries == 0
    assert await asyncio.wait_for(events.get(), 5) == ("disconnect", second, None)
    assert events.empty()
    assert any("lost" in r.getMessage() for r in caplog.records if r.name == "typhoon.net")


async def test_stop_closes_the_connection_and_no_retry_follows(server: Server) -> None:
    clock = FakeClock()
    disconnected: list[Client] = []
    client = Reconnecting(
        f"tcp:127.0.0.1:{server.port}",
        Client,
        clock=clock,
        on_disconnect=lambda protocol, exc: disconnected.append(protocol),
    )
    client.start()
    with pytest.raises(RuntimeError, match="already running"):
        client.start()
    protocol = await client.wait_connected(timeout=5)
    await client.stop()
    assert disconnected == [protocol]  # on_disconnect has run by the time stop returns
    assert protocol.lost
    assert not client.connected
    assert not client.running
    await asyncio.wait_for(server.closed.get(), 5)  # the server saw it go
    assert clock.pending == 0
    clock.advance(3600)
    assert client.attempts == 1
    with pytest.raises(ConnectionError, match="not connecting"):
        await client.wait_connected(timeout=5)
    await client.stop()  # harmless twice


async def test_stop_while_waiting_to_retry_cancels_the_retry(refused_port: int) -> None:
    clock = FakeClock()
    client = Recorded(f"tcp:127.0.0.1:{refused_port}", Client, clock=clock)
    client.start()
    await next_retry(client)
    assert clock.pending == 1
    waiting = asyncio.ensure_future(client.wait_connected())
    await client.stop()
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(waiting, 5)  # a waiter is woken, not left hanging
    assert clock.pending == 0
    assert client.delay is None
    clock.advance(3600)
    assert client.attempts == 1


async def test_gives_up_after_max_retries(
    refused_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    client = Recorded(f"tcp:127.0.0.1:{refused_port}", Client, max_retries=2, jitter=0, clock=clock)
    client.start()
    for _ in range(2):
        clock.advance(await next_retry(client))
    with pytest.raises(ConnectionError) as info:
        await client.wait_connected(timeout=5)
    assert isinstance(info.value.__cause__, ConnectionRefusedError)
    assert client.attempts == 3
    assert client.retries == 2
    assert not client.running
    assert clock.pending == 0
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "giving up after 2 retries" in errors[0].getMessage()
    await client.stop()


async def test_max_retries_zero_gives_up_on_the_first_loss(server: Server) -> None:
    clock = FakeClock()
    client = Reconnecting(f"tcp:127.0.0.1:{server.port}", Client, max_retries=0, clock=clock)
    async with client:
        protocol = await client.wait_connected(timeout=5)
        server.transports[0].close()
        await asyncio.wait_for(protocol.gone.wait(), 5)
        with pytest.raises(ConnectionError):
            await client.wait_connected(timeout=5)
        assert not client.running
        assert clock.pending == 0


async def test_callback_errors_are_logged_and_not_fatal(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken_disconnect(protocol: Client, exc: Exception | None) -> None:
        raise RuntimeError("async callback broke")

    def broken_connect(protocol: Client) -> None:
        raise RuntimeError("callback broke")

    client = Reconnecting(
        f"tcp:127.0.0.1:{server.port}",
        Client,
        clock=FakeClock(),
        on_connect=broken_connect,
        on_disconnect=broken_disconnect,
    )
    async with client:
        assert isinstance(await client.wait_connected(timeout=5), Client)
        assert client.connected
    messages = [str(r.exc_info[1]) for r in caplog.records if r.exc_info]
    assert messages == ["callback broke", "async callback broke"]


async def test_an_error_that_is_not_a_network_error_stops_at_once(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_factory() -> asyncio.Protocol:
        raise RuntimeError("cannot build the protocol")

    clock = FakeClock()
    client = Reconnecting(f"tcp:127.0.0.1:{server.port}", broken_factory, clock=clock)
    client.start()
    with pytest.raises(ConnectionError) as info:
        await client.wait_connected(timeout=5)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert clock.pending == 0
    assert [r.levelno for r in caplog.records if r.name == "typhoon.net"] == [logging.ERROR]


async def test_a_buffered_protocol_gets_its_data(server: Server) -> None:
    class Buffered(asyncio.BufferedProtocol):
        def __init__(self) -> None:
            self.buffer = bytearray(16)
            self.received = bytearray()
            self.got = asyncio.Event()

        def get_buffer(self, sizehint: int) -> bytearray:
            return self.buffer

        def buffer_updated(self, nbytes: int) -> None:
            self.received += self.buffer[:nbytes]
            self.got.set()

    async with Reconnecting(f"tcp:127.0.0.1:{server.port}", Buffered) as client:  # loop clock
        protocol = await client.wait_connected(timeout=5)
        server.transports[0].write(b"buffered")
        await asyncio.wait_for(protocol.got.wait(), 5)
        assert protocol.received == b"buffered"


def test_next_delay_survives_a_huge_exponent() -> None:
    client = Reconnecting("tcp:127.0.0.1:9000", Client, factor=10, max_delay=60, jitter=0)
    client.retries = 400  # 10.0 ** 400 overflows a float
    assert client.next_delay() == 60


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"initial_delay": 0}, "initial_delay must be a finite number of seconds > 0, got 0"),
        ({"initial_delay": float("nan")}, "initial_delay must be"),
        ({"max_delay": -1}, "max_delay must be a finite number of seconds > 0, got -1"),
        ({"initial_delay": 5, "max_delay": 2}, r"max_delay must be >= initial_delay \(5\), got 2"),
        ({"factor": 0.5}, "factor must be >= 1, got 0.5"),
        ({"jitter": 1}, "jitter must be >= 0 and < 1, got 1"),
        ({"jitter": -0.1}, "jitter must be >= 0 and < 1, got -0.1"),
        ({"max_retries": -1}, "max_retries must be None or an integer >= 0, got -1"),
        ({"max_retries": 1.5}, "max_retries must be None or an integer >= 0, got 1.5"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Reconnecting("tcp:127.0.0.1:9000", Client, **kwargs)


def test_bad_endpoints_and_protocols() -> None:
    with pytest.raises(ValueError, match="udp has no connection to keep up"):
        Reconnecting("udp:127.0.0.1:53", asyncio.DatagramProtocol)
    with pytest.raises(ValueError, match="needs a host and a port"):
        Reconnecting("tcp:9000", Client)
    with pytest.raises(TypeError, match="protocol must be a Protocol class"):
        Reconnecting("tcp:127.0.0.1:9000", "Client")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="on_connect must be callable"):
        Reconnecting("tcp:127.0.0.1:9000", Client, on_connect=42)  # type: ignore[arg-type]
