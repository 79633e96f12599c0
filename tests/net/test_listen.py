"""serve() and connect() on real sockets: TCP, IPv6, Unix, UDP and TLS."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from typhoon.net import connect, serve


class Echo(asyncio.Protocol):
    def __init__(self, prefix: bytes = b"") -> None:
        self.prefix = prefix

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.transport.write(self.prefix + data)


class Collect(asyncio.Protocol):
    def __init__(self) -> None:
        self.received = bytearray()
        self.got = asyncio.Event()
        self.alpn: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        self.alpn = ssl_object.selected_alpn_protocol() if ssl_object else None

    def data_received(self, data: bytes) -> None:
        self.received += data
        self.got.set()


async def round_trip(client_endpoint: str, payload: bytes = b"ping") -> Collect:
    transport, collector = await connect(client_endpoint, Collect)
    assert isinstance(collector, Collect)
    cast(asyncio.Transport, transport).write(payload)
    await asyncio.wait_for(collector.got.wait(), 5)
    transport.close()
    return collector


async def test_tcp_with_protocol_keyword_arguments() -> None:
    async with await serve("tcp:0:interface=127.0.0.1", Echo, prefix=b"echo:") as listener:
        collector = await round_trip(f"tcp:127.0.0.1:{listener.port}")
    assert collector.received == b"echo:ping"


async def test_tcp6_loopback() -> None:
    async with await serve("tcp6:0:interface=[::1]", Echo) as listener:
        collector = await round_trip(f"tcp6:[::1]:{listener.port}")
    assert collector.received == b"ping"


@pytest.fixture
def short_dir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="typhoon-net-", dir="/tmp"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def test_unix_socket_with_mode(short_dir: Path) -> None:
    path = short_dir / "echo.sock"
    async with await serve(f"unix:{path}:mode=600", Echo) as listener:
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        collector = await round_trip(f"unix:{path}")
        with pytest.raises(RuntimeError, match="has no port"):
            _ = listener.port
    assert collector.received == b"ping"


async def test_udp() -> None:
    class UDPEcho(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.transport.sendto(data.upper(), addr)

    class UDPCollect(asyncio.DatagramProtocol):
        def __init__(self) -> None:
            self.got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            if not self.got.done():
                self.got.set_result(data)

    async with await serve("udp:0:interface=127.0.0.1", UDPEcho) as listener:
        transport, collector = await connect(f"udp:127.0.0.1:{listener.port}", UDPCollect)
        cast(asyncio.DatagramTransport, transport).sendto(b"hello")
        assert await asyncio.wait_for(collector.got, 5) == b"HELLO"
        transport.close()


async def test_tls_with_alpn_and_a_verified_certificate(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server = f"tls:0:interface=127.0.0.1:cert={cert}:key={key}:alpn=echo/1,h2"
    async with await serve(server, Echo) as listener:
        collector = await round_trip(f"tls:localhost:{listener.port}:ca={cert}:alpn=echo/1")
        assert collector.received == b"ping"
        assert collector.alpn == "echo/1"
        with pytest.raises(ssl.SSLCertVerificationError):
            await connect(f"tls:localhost:{listener.port}", Collect)  # not in the trust store
        unverified = await round_trip(f"tls:localhost:{listener.port}:verify=no")
        assert unverified.received == b"ping"


async def test_errors_name_the_problem(certificate: tuple[Path, Path]) -> None:
    with pytest.raises(ValueError, match="cannot load cert/key"):
        await serve("tls:0:cert=/nonexistent.pem:key=/nonexistent.pem", Echo)
    with pytest.raises(ValueError, match="port must be a number"):
        await serve("tcp:http", Echo)
    with pytest.raises(TypeError, match="protocol must be a Protocol class"):
        await serve("tcp:0", "Echo")  # type: ignore[arg-type]
    with pytest.raises(OSError):  # noqa: PT011 - the OS names the error
        await connect("tcp:127.0.0.1:1", Collect)
