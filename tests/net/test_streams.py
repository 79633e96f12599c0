"""open_connection() and serve_streams() on real sockets: lines, bytes, EOF, STARTTLS."""

from __future__ import annotations

import asyncio
import logging
import shutil
import ssl
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from typhoon.net import (
    LineTooLongError,
    Listener,
    Stream,
    open_connection,
    serve,
    serve_streams,
)
from typhoon.net.endpoints import parse_client, parse_server
from typhoon.net.listen import server_tls


class Talk(asyncio.Protocol):
    """A server that sends ``script`` as soon as a client connects, then half-closes."""

    def __init__(self, script: bytes, eof: bool = True) -> None:
        self.script = script
        self.eof = eof

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self.script)
        if self.eof:
            transport.write_eof()


async def talking(script: bytes, eof: bool = True) -> Listener:
    return await serve("tcp:0:interface=127.0.0.1", Talk, script=script, eof=eof)


async def echo_lines(stream: Stream) -> None:
    async for line in stream:
        await stream.send(b"echo: " + line)


@pytest.fixture
async def echo_server() -> AsyncIterator[Listener]:
    async with await serve_streams("tcp:0:interface=127.0.0.1", echo_lines) as listener:
        yield listener


async def test_readline_readexactly_read_and_eof() -> None:
    async with await talking(b"hello\r\nworld\n12345tail") as listener:
        stream = await open_connection(f"tcp:127.0.0.1:{listener.port}")
        assert await stream.readline() == b"hello\r\n"
        assert await stream.readuntil(b"\n") == b"world\n"
        assert await stream.readexactly(5) == b"12345"
        assert await stream.read() == b"tail"
        assert await stream.readline() == b""
        assert stream.at_eof()
        assert stream.peer == ("127.0.0.1", listener.port)
        stream.close()


async def test_readline_at_eof_returns_the_partial_line_then_empty() -> None:
    async with (
        await talking(b"no newline") as listener,
        open_connection(f"tcp:127.0.0.1:{listener.port}") as stream,
    ):
        assert await stream.readline() == b"no newline"
        assert await stream.readline() == b""


async def test_readexactly_and_readuntil_at_eof_raise_with_the_partial_data() -> None:
    async with await talking(b"abc") as listener:
        async with open_connection(f"tcp:127.0.0.1:{listener.port}") as stream:
            with pytest.raises(asyncio.IncompleteReadError) as info:
                await stream.readexactly(10)
            assert info.value.partial == b"abc"
        async with open_connection(f"tcp:127.0.0.1:{listener.port}") as stream:
            with pytest.raises(asyncio.IncompleteReadError) as info:
                await stream.readuntil(b"\r\n")
            assert info.value.partial == b"abc"


async def test_async_iteration_yields_lines_until_eof() -> None:
    async with (
        await talking(b"one\ntwo\nthree") as listener,
        open_connection(f"tcp:127.0.0.1:{listener.port}") as stream,
    ):
        lines = [line async for line in stream]
    assert lines == [b"one\n", b"two\n", b"three"]


async def test_a_line_over_the_limit_raises_and_stays_unread() -> None:
    async with (
        await talking(b"x" * 100 + b"\nshort\n", eof=False) as listener,
        open_connection(f"tcp:127.0.0.1:{listener.port}", limit=64) as stream,
    ):
        with pytest.raises(LineTooLongError, match="limit of 64 bytes") as info:
            await asyncio.wait_for(stream.readline(), 5)
        assert info.value.limit == 64
        assert isinstance(info.value, ValueError)
        assert await stream.readexactly(101) == b"x" * 100 + b"\n"  # skip it by hand
        assert await stream.readline() == b"short\n"


async def test_a_line_over_the_limit_without_a_newline_is_not_buffered_forever() -> None:
    async with (
        await talking(b"y" * 10_000, eof=False) as listener,
        open_connection(f"tcp:127.0.0.1:{listener.port}", limit=1024) as stream,
    ):
        with pytest.raises(LineTooLongError):
            await asyncio.wait_for(stream.readline(), 5)


async def test_serve_streams_echo_and_write_eof(echo_server: Listener) -> None:
    async with open_connection(f"tcp:127.0.0.1:{echo_server.port}") as stream:
        await stream.send(b"hi\n")
        assert await asyncio.wait_for(stream.readline(), 5) == b"echo: hi\n"
        stream.write(b"a\nb\n")
        await stream.drain()
        stream.write_eof()
        rest = await asyncio.wait_for(stream.read(), 5)  # the handler returns, then closes
    assert rest == b"echo: a\necho: b\n"


async def test_serve_streams_on_a_unix_socket(short_dir: Path) -> None:
    path = short_dir / "s.sock"
    async with (
        await serve_streams(f"unix:{path}", echo_lines),
        open_connection(f"unix:{path}") as stream,
    ):
        await stream.send(b"over unix\n")
        assert await asyncio.wait_for(stream.readline(), 5) == b"echo: over unix\n"


async def test_open_connection_can_be_awaited_and_used_as_a_context(
    echo_server: Listener,
) -> None:
    stream = await open_connection(parse_client(f"tcp:127.0.0.1:{echo_server.port}"))
    async with stream:
        await stream.send(b"x\n")
        assert await asyncio.wait_for(stream.readline(), 5) == b"echo: x\n"
    assert "closed" in repr(stream)


async def test_a_failing_handler_is_logged_and_its_connection_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fails(stream: Stream) -> None:
        await stream.readline()
        raise RuntimeError("handler broke")

    async with (
        await serve_streams("tcp:0:interface=127.0.0.1", fails) as listener,
        open_connection(f"tcp:127.0.0.1:{listener.port}") as stream,
    ):
        await stream.send(b"go\n")
        assert await asyncio.wait_for(stream.read(), 5) == b""  # EOF: the server closed
    errors = [r for r in caplog.records if r.name == "typhoon.net"]
    assert [r.levelno for r in errors] == [logging.ERROR]
    assert errors[0].exc_info is not None
    assert "handler broke" in str(errors[0].exc_info[1])


async def test_udp_is_not_a_stream() -> None:
    with pytest.raises(ValueError, match="udp is datagrams, not a stream"):
        await open_connection("udp:127.0.0.1:5353")
    with pytest.raises(ValueError, match="udp is datagrams, not a stream"):
        await serve_streams("udp:0", echo_lines)


async def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="limit must be a positive number of bytes, got 0"):
        open_connection("tcp:127.0.0.1:9", limit=0)
    with pytest.raises(TypeError, match="handler must be an async function"):
        await serve_streams("tcp:0", "echo")  # type: ignore[arg-type]
    with pytest.raises(OSError):  # noqa: PT011 - the OS names the error
        await open_connection("tcp:127.0.0.1:1")


@pytest.fixture
def short_dir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="typhoon-streams-", dir="/tmp"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def test_starttls_upgrades_a_plain_stream(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_context = server_tls(parse_server(f"tls:0:interface=127.0.0.1:cert={cert}:key={key}"))

    async def starttls_server(stream: Stream) -> None:
        assert await stream.readline() == b"STARTTLS\r\n"
        await stream.send(b"220 go ahead\r\n")
        await stream.start_tls(server_context)
        assert stream.get_extra_info("ssl_object") is not None
        async for line in stream:
            await stream.send(b"secret " + line)

    async with await serve_streams("tcp:0:interface=127.0.0.1", starttls_server) as listener:
        async with open_connection(f"tcp:localhost:{listener.port}") as stream:
            await stream.send(b"STARTTLS\r\n")
            assert await asyncio.wait_for(stream.readline(), 5) == b"220 go ahead\r\n"
            await asyncio.wait_for(stream.start_tls(ca=str(cert)), 5)
            assert stream.get_extra_info("ssl_object") is not None
            await stream.send(b"hello\n")
            assert await asyncio.wait_for(stream.readline(), 5) == b"secret hello\n"
            with pytest.raises(RuntimeError, match="already TLS"):
                await stream.start_tls()

        # an untrusted certificate fails the handshake; a context can be given instead
        async with open_connection(f"tcp:localhost:{listener.port}") as stream:
            await stream.send(b"STARTTLS\r\n")
            await asyncio.wait_for(stream.readline(), 5)
            with pytest.raises(ssl.SSLCertVerificationError):
                await asyncio.wait_for(stream.start_tls(), 5)
        async with open_connection(f"tcp:localhost:{listener.port}") as stream:
            await stream.send(b"STARTTLS\r\n")
            await asyncio.wait_for(stream.readline(), 5)
            context = ssl.create_default_context(cafile=str(cert))
            with pytest.raises(ValueError, match="not both"):
                await stream.start_tls(context, ca=str(cert))
            await asyncio.wait_for(stream.start_tls(context), 5)
            await stream.send(b"again\n")
            assert await asyncio.wait_for(stream.readline(), 5) == b"secret again\n"
        async with open_connection(f"tcp:localhost:{listener.port}") as stream:
            await stream.send(b"STARTTLS\r\n")
            await asyncio.wait_for(stream.readline(), 5)
            await asyncio.wait_for(stream.start_tls(verify=False), 5)  # tests only
            await stream.send(b"unchecked\n")
            assert await asyncio.wait_for(stream.readline(), 5) == b"secret unchecked\n"


async def test_tls_and_tcp6_endpoints(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    tls_server = f"tls:0:interface=127.0.0.1:cert={cert}:key={key}"
    async with (
        await serve_streams(tls_server, echo_lines) as listener,
        open_connection(f"tls:localhost:{listener.port}:ca={cert}") as stream,
    ):
        assert stream.get_extra_info("ssl_object") is not None
        await stream.send(b"over tls\n")
        assert await asyncio.wait_for(stream.readline(), 5) == b"echo: over tls\n"
    async with (
        await serve_streams("tcp6:0:interface=[::1]", echo_lines) as listener,
        open_connection(f"tcp6:[::1]:{listener.port}") as stream,
    ):
        await stream.send(b"over ipv6\n")
        assert await asyncio.wait_for(stream.readline(), 5) == b"echo: over ipv6\n"


async def test_starttls_on_a_server_stream_needs_a_context(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def no_context(stream: Stream) -> None:
        await stream.start_tls()

    async with (
        await serve_streams("tcp:0:interface=127.0.0.1", no_context) as listener,
        open_connection(f"tcp:127.0.0.1:{listener.port}") as stream,
    ):
        assert await asyncio.wait_for(stream.read(), 5) == b""
    [record] = [r for r in caplog.records if r.name == "typhoon.net"]
    assert record.exc_info is not None
    assert "needs a server ssl.SSLContext" in str(record.exc_info[1])
