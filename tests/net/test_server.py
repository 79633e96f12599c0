"""The engine's listening, connection tracking and drain, over real loopback sockets."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from pathlib import Path

import pytest

from typhoon.net import new_event_loop, run, uvloop_available
from typhoon.net.server import ConnectionSet, Server, run_until_signalled


class _Tracked(asyncio.Protocol):
    """Echoes lines; stays busy while ``busy`` is set, like an in-flight request."""

    def __init__(self, connections: ConnectionSet) -> None:
        self.connections = connections
        self.transport: asyncio.Transport | None = None
        self.busy = False
        self.draining = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.connections.add(self)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        if data == b"busy\n":
            self.busy = True
        elif data == b"done\n":
            self.busy = False
            self.transport.write(b"bye\n")
            if self.draining:
                self.transport.close()
        else:
            self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)

    def shutdown(self) -> None:
        self.draining = True
        if not self.busy and self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


def _server() -> Server:
    connections = ConnectionSet()
    return Server(lambda: _Tracked(connections), connections)


async def test_server_listen_tcp_port_zero_serves_and_reports_socket() -> None:
    server = _server()
    await server.listen_tcp("127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"ping\n")
    assert await asyncio.wait_for(reader.readline(), 5) == b"ping\n"
    assert len(server.connections) == 1
    writer.close()
    await writer.wait_closed()
    assert await server.drain(5) is True


async def test_server_listen_unix_replaces_stale_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()
    server = _server()
    await server.listen_unix(path)
    reader, writer = await asyncio.open_unix_connection(path)
    writer.write(b"hi\n")
    assert await asyncio.wait_for(reader.readline(), 5) == b"hi\n"
    writer.close()
    await writer.wait_closed()
    await server.drain(5)


async def test_server_listen_unix_refuses_to_replace_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "not-a-socket"
    path.write_text("keep me")
    with pytest.raises(ValueError, match="exists and is not a socket"):
        await _server().listen_unix(str(path))
    assert path.read_text() == "keep me"


async def test_server_listen_socket_serves_an_inherited_tcp_socket() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    server = _server()
    await server.listen_socket(sock)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"x\n")
    assert await asyncio.wait_for(reader.readline(), 5) == b"x\n"
    writer.close()
    await writer.wait_closed()
    await server.drain(5)


async def test_server_listen_socket_serves_an_inherited_unix_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "u.sock")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(path)
    sock.listen()
    server = _server()
    await server.listen_socket(sock)
    reader, writer = await asyncio.open_unix_connection(path)
    writer.write(b"u\n")
    assert await asyncio.wait_for(reader.readline(), 5) == b"u\n"
    writer.close()
    await writer.wait_closed()
    await server.drain(5)


@pytest.mark.parametrize("port", [-1, 65536])
async def test_server_listen_tcp_bad_port_raises_value_error(port: int) -> None:
    with pytest.raises(ValueError, match="port must be between 0 and 65535"):
        await _server().listen_tcp("127.0.0.1", port)


def test_server_bad_backlog_raises_value_error() -> None:
    with pytest.raises(ValueError, match="backlog must be at least 1"):
        Server(asyncio.Protocol, ConnectionSet(), backlog=0)


async def test_server_drain_waits_for_busy_connection_then_finishes() -> None:
    server = _server()
    await server.listen_tcp("127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"busy\n")
    await asyncio.sleep(0.05)
    drain = asyncio.create_task(server.drain(5))
    assert await asyncio.wait_for(idle_reader.read(), 5) == b""  # idle: closed at once
    await asyncio.sleep(0.05)
    assert not drain.done()
    with pytest.raises(ConnectionRefusedError):  # no longer accepting
        await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"done\n")
    assert await asyncio.wait_for(reader.read(), 5) == b"bye\n"
    assert await asyncio.wait_for(drain, 5) is True
    for w in (writer, idle_writer):
        w.close()
        await w.wait_closed()


async def test_server_drain_timeout_aborts_stragglers() -> None:
    server = _server()
    await server.listen_tcp("127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"busy\n")
    await asyncio.sleep(0.05)
    assert await server.drain(0.1) is False
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert len(server.connections) == 0
    writer.close()
    await writer.wait_closed()


async def test_connection_set_wait_empty_returns_at_once_when_empty() -> None:
    await asyncio.wait_for(ConnectionSet().wait_empty(), 1)


async def _signal_soon(signum: int, delay: float) -> None:
    await asyncio.sleep(delay)
    os.kill(os.getpid(), signum)


async def test_run_until_signalled_drains_on_first_signal_and_returns_zero() -> None:
    server = _server()
    await server.listen_tcp("127.0.0.1", 0)
    kill = asyncio.create_task(_signal_soon(signal.SIGTERM, 0.05))
    assert await asyncio.wait_for(run_until_signalled(server, graceful_timeout_s=5), 5) == 0
    await kill


async def test_run_until_signalled_second_signal_forces_and_returns_one() -> None:
    server = _server()
    await server.listen_tcp("127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"busy\n")
    await asyncio.sleep(0.05)

    async def two_signals() -> None:
        await _signal_soon(signal.SIGINT, 0.05)
        await _signal_soon(signal.SIGINT, 0.1)

    kill = asyncio.create_task(two_signals())
    assert await asyncio.wait_for(run_until_signalled(server, graceful_timeout_s=30), 5) == 1
    await kill
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    await writer.wait_closed()


def test_new_event_loop_prefers_uvloop_and_can_refuse_it() -> None:
    assert uvloop_available()
    loop = new_event_loop()
    try:
        assert type(loop).__module__.startswith("uvloop")
    finally:
        loop.close()
    plain = new_event_loop(use_uvloop=False)
    try:
        assert isinstance(plain, asyncio.BaseEventLoop)
    finally:
        plain.close()


def test_run_executes_a_coroutine_on_the_chosen_loop() -> None:
    async def which() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert run(which()).startswith("uvloop")
    assert run(which(), use_uvloop=False).startswith("asyncio")
