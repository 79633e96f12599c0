"""examples/line_chat.py: TCP clients and WebSocket clients share one chat room."""

from __future__ import annotations

import asyncio
import json

from examples.line_chat import create_app
from websockets.asyncio.client import connect

from typhoon.http import HTTPServer

LOCAL = "tcp:0:interface=127.0.0.1"


async def line(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readline(), 5)


async def join(port: int, nick: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await line(reader) == b"typhoon chat: your nick?\n"
    writer.write(nick + b"\n")
    assert (await line(reader)).startswith(b"hello, " + nick)
    return reader, writer


async def test_tcp_lines_reach_websockets_and_back() -> None:
    app = create_app(tcp=LOCAL)
    async with HTTPServer(app) as server:
        await server.listen_tcp("127.0.0.1", 0)
        tcp_port = app.services[0].port
        reader, writer = await join(tcp_port, b"ada")
        async with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
            await asyncio.sleep(0.05)  # the socket's subscription starts with its open()
            writer.write(b"hello from a terminal\n")
            assert await line(reader) == b"ada: hello from a terminal\n"
            received = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert received["nick"] == "ada"
            assert received["body"] == "hello from a terminal"
            await ws.send(json.dumps({"nick": "bob", "body": "hi ada"}))
            assert await line(reader) == b"bob: hi ada\n"
        writer.close()


async def test_two_tcp_clients_talk_and_a_bad_line_gets_a_reason() -> None:
    app = create_app(tcp=LOCAL)
    async with HTTPServer(app):
        port = app.services[0].port
        ada, ada_out = await join(port, b"ada")
        bob, bob_out = await join(port, b"bob")
        ada_out.write(b"   \n")
        assert await line(ada) == b"error: body must be a non-empty string\n"
        ada_out.write(b"x" * 1001 + b"\n")
        assert await line(ada) == b"error: body is longer than 1000 characters\n"
        ada_out.write(b"one\ntwo\n")
        assert [await line(bob), await line(bob)] == [b"ada: one\n", b"ada: two\n"]
        ada_out.close()
        bob_out.close()


async def test_a_nick_is_asked_again_until_valid() -> None:
    app = create_app(tcp=LOCAL)
    async with HTTPServer(app):
        reader, writer = await asyncio.open_connection("127.0.0.1", app.services[0].port)
        await line(reader)
        writer.write(b"\n" + b"n" * 41 + b"\n")
        assert (await line(reader)).startswith(b"a nick is 1 to 40 characters")
        assert (await line(reader)).startswith(b"a nick is 1 to 40 characters")
        writer.write(b"eve\n")
        assert (await line(reader)).startswith(b"hello, eve. Lines you type go to everyone")
        writer.close()


async def test_a_drain_says_goodbye_and_closes_tcp_clients() -> None:
    app = create_app(tcp=LOCAL)
    server = HTTPServer(app)
    await server.start()
    reader, writer = await join(app.services[0].port, b"ada")
    assert await server.drain(5)
    assert await line(reader) == b"the server is shutting down; bye\n"
    assert await line(reader) == b""  # then EOF
    assert app.services[0].listener is None
    writer.close()
