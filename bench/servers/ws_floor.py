"""The WebSocket floor: a bare uvloop protocol that echoes frames, for bench/ws.py.

It answers the opening handshake, then sends every text or binary frame back unmasked with
its opcode, answers a ping with a pong and a close with a close. Nothing else: no
fragmented messages, no UTF-8 check, no extension, no limit, no validation of what the
client sends; it is no WebSocket server, only the least work an asyncio Python server can
do per message on this machine. bench/ws.py loads it to show how far the load client can
go (the client's headroom) and as the floor of the results table.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import sys
from typing import cast

import uvloop

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def accept_key(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def frame(opcode: int, payload: bytes) -> bytes:
    """An unmasked, final frame (a server's frames are never masked)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big")
    return head + payload


def unmask(mask: bytes, data: bytes) -> bytes:
    n = len(data)
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


class FloorEcho(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.open:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            key = b""
            for line in bytes(self.buffer[:end]).split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"sec-websocket-key":
                    key = value.strip()
            del self.buffer[: end + 4]
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept_key(key) + b"\r\n\r\n"
            )
            self.open = True
        out = []
        buf = self.buffer
        pos = 0
        while len(buf) - pos >= 6:
            opcode = buf[pos] & 0x0F
            n = buf[pos + 1] & 0x7F
            start = pos + 2
            if len(buf) - pos < {126: 8, 127: 14}.get(n, 6):
                break  # the rest of the head has yet to come
            if n == 126:
                n = int.from_bytes(buf[start : start + 2], "big")
                start += 2
            elif n == 127:
                n = int.from_bytes(buf[start : start + 8], "big")
                start += 8
            end = start + 4 + n
            if len(buf) < end:
                break
            payload = unmask(bytes(buf[start : start + 4]), bytes(buf[start + 4 : end]))
            pos = end
            if opcode in (TEXT, BINARY):
                out.append(frame(opcode, payload))
            elif opcode == PING:
                out.append(frame(PONG, payload))
            elif opcode == CLOSE:
                self.transport.write(b"".join(out) + frame(CLOSE, payload[:2]))
                self.transport.close()
                return
        del buf[:pos]
        if out:
            self.transport.write(b"".join(out))


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FloorEcho, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1])))
