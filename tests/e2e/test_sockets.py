"""The in-process server over raw sockets: keep-alive, pipelining, framing, smuggling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from typhoon.http import HTTPServer

TIMEOUT_S = 5.0
STREAM_BODY = b"".join(f"part {i}\n".encode() for i in range(5))  # conftest.STREAM_PARTS


@dataclass
class Reply:
    """One response as read off the socket."""

    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks: list[bytes] = field(default_factory=list)


async def _read_reply_unbounded(reader: asyncio.StreamReader, head_request: bool) -> Reply:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].decode("latin-1").split("\r\n")
    version, status, reason = [*lines[0].split(" ", 2), ""][:3]
    assert version in ("HTTP/1.1", "HTTP/1.0"), f"bad status line {lines[0]!r}"
    reply = Reply(int(status), reason)
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        assert sep, f"bad header line {line!r}"
        key = name.strip().lower()
        value = value.strip()
        reply.headers[key] = f"{reply.headers[key]}, {value}" if key in reply.headers else value
    if head_request or reply.status < 200 or reply.status in (204, 304):
        return reply
    if reply.headers.get("transfer-encoding") == "chunked":
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailer fields
                break
            data = await reader.readexactly(size + 2)
            assert data.endswith(b"\r\n"), f"chunk not followed by CRLF: {data[-8:]!r}"
            reply.chunks.append(data[:-2])
        reply.body = b"".join(reply.chunks)
    elif "content-length" in reply.headers:
        reply.body = await reader.readexactly(int(reply.headers["content-length"]))
    else:
        reply.body = await reader.read()
    return reply


async def read_reply(reader: asyncio.StreamReader, *, head_request: bool = False) -> Reply:
    """Read one whole response (Content-Length, chunked, or to the end)."""
    return await asyncio.wait_for(_read_reply_unbounded(reader, head_request), TIMEOUT_S)


async def read_eof(reader: asyncio.StreamReader) -> bytes:
    """What the server sends before it closes the connection (b"" for a clean close)."""
    return await asyncio.wait_for(reader.read(), TIMEOUT_S)


def get(path: str, *extra: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@asynccontextmanager
async def tcp(
    server: HTTPServer,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", server.port), TIMEOUT_S
    )
    try:
        yield reader, writer
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), TIMEOUT_S)
        except ConnectionError:
            pass


async def test_keepalive_several_requests_on_one_socket_all_answered(server: HTTPServer) -> None:
    async with tcp(server) as (reader, writer):
        local_port = writer.get_extra_info("sockname")[1]
        for i in range(5):
            writer.write(get(f"/q?x=r{i}"))
            reply = await read_reply(reader)
            assert (reply.status, reply.body) == (200, f"r{i}".encode())
            assert "connection" not in reply.headers
            writer.write(get("/peer"))
            reply = await read_reply(reader)
            assert reply.body == str(local_port).encode()
        assert server.connections == 1


async def test_pipelining_requests_in_one_send_answered_in_order(server: HTTPServer) -> None:
    post = b"POST /body HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 11\r\n\r\nhello world"
    batch = get("/q?x=0") + get("/q?x=1") + post + get("/q?x=3") + get("/", "Connection: close")
    async with tcp(server) as (reader, writer):
        writer.write(batch)
        replies = [await read_reply(reader) for _ in range(5)]
        assert await read_eof(reader) == b""
    assert [r.status for r in replies] == [200] * 5
    assert [r.body for r in replies] == [b"0", b"1", b"hello world", b"3", b"Hello, world!"]
    assert replies[-1].headers["connection"] == "close"


async def test_chunked_request_body_is_reassembled_and_answered(server: HTTPServer) -> None:
    head = (
        b"POST /body HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/octet-stream\r\n\r\n"
    )
    chunks = [b"5\r\nhello\r\n", b"1;ext=yes\r\n \r\n", b"6\r\nworld!\r\n", b"0\r\n\r\n"]
    async with tcp(server) as (reader, writer):
        writer.write(head)
        for piece in chunks:  # in separate sends, so the body arrives in pieces
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.01)
        reply = await read_reply(reader)
        assert (reply.status, reply.body) == (200, b"hello world!")
        assert reply.headers["content-length"] == "12"
        writer.write(get("/q?x=after"))  # the connection is still in sync
        assert (await read_reply(reader)).body == b"after"


async def test_streamed_response_is_chunked_then_connection_reused(server: HTTPServer) -> None:
    async with tcp(server) as (reader, writer):
        writer.write(get("/stream"))
        reply = await read_reply(reader)
        assert reply.status == 200
        assert reply.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in reply.headers
        assert reply.chunks == [f"part {i}\n".encode() for i in range(5)]
        assert reply.body == STREAM_BODY
        writer.write(get("/q?x=next"))
        assert (await read_reply(reader)).body == b"next"


async def test_head_request_gets_headers_without_body(server: HTTPServer) -> None:
    async with tcp(server) as (reader, writer):
        writer.write(b"HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        reply = await read_reply(reader, head_request=True)
        assert reply.status == 200
        assert reply.headers["content-length"] == "13"
        assert reply.headers["content-type"] == "text/plain; charset=utf-8"
        # Had the server sent a body, it would be read here as the next status line.
        writer.write(get("/q?x=after-head"))
        reply = await read_reply(reader)
        assert (reply.status, reply.body) == (200, b"after-head")


async def test_expect_continue_head_then_body_gets_100_then_response(server: HTTPServer) -> None:
    async with tcp(server) as (reader, writer):
        writer.write(
            b"POST /body HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT_S)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"0123456789")
        reply = await read_reply(reader)
        assert (reply.status, reply.body) == (200, b"0123456789")
        assert "connection" not in reply.headers
        writer.write(get("/q?x=again"))
        assert (await read_reply(reader)).body == b"again"


async def test_smuggling_length_and_chunked_gets_400_and_close(server: HTTPServer) -> None:
    attack = (
        b"POST /body HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 6\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\nGET /q?x=smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )
    async with tcp(server) as (reader, writer):
        writer.write(attack)
        reply = await read_reply(reader)
        assert reply.status == 400
        assert reply.headers["connection"] == "close"
        assert b"smuggled" not in reply.body
        assert await read_eof(reader) == b"", "the smuggled request was answered"
    async with tcp(server) as (reader, writer):
        writer.write(get("/"))
        reply = await read_reply(reader)
        assert (reply.status, reply.body) == (200, b"Hello, world!")


async def test_unix_socket_request_is_answered(unix_server: HTTPServer, uds_path: Path) -> None:
    reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(uds_path)), TIMEOUT_S)
    try:
        writer.write(get("/q?x=over-unix"))
        reply = await read_reply(reader)
        assert (reply.status, reply.body) == (200, b"over-unix")
        writer.write(get("/peer", "Connection: close"))
        reply = await read_reply(reader)
        assert reply.body == b"-"  # no peer address on a Unix socket
        assert await read_eof(reader) == b""
    finally:
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), TIMEOUT_S)
