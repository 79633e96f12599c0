"""The floor: a bare uvloop + httptools protocol answering canned responses.

No routing beyond a dict lookup, no request object, no JSON parsing, no Date refresh:
the fastest an asyncio Python server can answer on this machine, for the ratios in the
results table. Each benchmark scenario has its canned answer here (``/echo`` sends the
request body back as it came).
"""

from __future__ import annotations

import asyncio
import sys
from typing import cast

import httptools
import uvloop

BLOB = b"0123456789abcdef" * 1024  # the /16k body


def response(body: bytes, content_type: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: " + content_type + b"\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"date: Tue, 24 Nov 2026 00:00:00 GMT\r\n\r\n" + body
    )


TEXT = b"text/plain; charset=utf-8"
CANNED = {
    b"/plaintext": response(b"Hello, World!", TEXT),
    b"/json": response(b'{"message":"Hello, World!"}', b"application/json"),
    b"/16k": response(BLOB, b"application/octet-stream"),
}
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"


class Floor(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        assert self.transport is not None
        canned = CANNED.get(self.url)
        if canned is None:
            if self.url == b"/echo":
                canned = response(b"".join(self.body), b"application/json")
            elif self.url.startswith(b"/route"):  # /route<n>/<id>: answer the id
                canned = response(self.url.rpartition(b"/")[2], TEXT)
            else:
                canned = NOT_FOUND
        self.body.clear()
        self.transport.write(canned)


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Floor, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1])))
