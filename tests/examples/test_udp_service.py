"""examples/udp_service.py: counters over real UDP datagrams."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from examples.udp_service import start

from typhoon.net import connect


class Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answers: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.answers.put_nowait(data)


async def ask(transport: Any, client: Client, command: bytes) -> bytes:
    transport.sendto(command)
    return await asyncio.wait_for(client.answers.get(), 5)


async def test_counters_count_and_bad_commands_get_a_reason() -> None:
    async with await start("udp:0:interface=127.0.0.1") as listener:
        transport, client = await connect(f"udp:127.0.0.1:{listener.port}", Client)
        try:
            assert await ask(transport, client, b"PING") == b"PONG\n"
            assert await ask(transport, client, b"INCR visits\n") == b"visits 1\n"
            assert await ask(transport, client, b"incr visits 41") == b"visits 42\n"
            assert await ask(transport, client, b"GET visits") == b"visits 42\n"
            assert await ask(transport, client, b"GET other") == b"other 0\n"
            assert (await ask(transport, client, b"INCR visits x")).startswith(
                b"ERR INCR takes an integer"
            )
            assert (await ask(transport, client, b"\xff\xfe")).startswith(b"ERR commands are")
            assert (await ask(transport, client, b"  \n")).startswith(b"ERR empty command")
            assert (await ask(transport, client, b"DROP TABLE")).startswith(b"ERR unknown")
            assert (await ask(transport, client, b"GET " + b"n" * 65)).startswith(
                b"ERR a name is at most 64"
            )
            assert await ask(transport, client, b"GET visits") == b"visits 42\n"
        finally:
            transport.close()


@pytest.mark.parametrize(
    ("words", "answer"),
    [(["PING", "x"], "ERR unknown"), (["GET", "a", "b"], "ERR unknown"), (["INCR"], "ERR unknown")],
)
def test_wrong_arity_is_an_error(words: list[str], answer: str) -> None:
    from examples.udp_service import Counters

    assert Counters().answer(words).startswith(answer)
