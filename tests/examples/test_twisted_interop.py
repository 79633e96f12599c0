"""examples/twisted_interop.py run for real: a Twisted chat port and a typhoon HTTP port.

The example runs as a subprocess (Twisted's reactor is process-global), on free ports
it prints at startup; the test talks to both, then stops it with SIGTERM.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "twisted_interop.py"
IO_TIMEOUT_S = 5.0


@dataclass
class Running:
    proc: asyncio.subprocess.Process
    chat_port: int
    web: str
    seen: list[bytes]

    async def chat(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.chat_port)
        greeting = await read_line(reader)
        assert greeting.startswith(b"* you are guest")
        return reader, writer


async def read_line(reader: asyncio.StreamReader) -> bytes:
    return (await asyncio.wait_for(reader.readline(), IO_TIMEOUT_S)).rstrip(b"\r\n")


@pytest.fixture(params=["uvloop", "asyncio"])
async def example(request: pytest.FixtureRequest) -> AsyncIterator[Running]:
    argv = [sys.executable, str(EXAMPLE), "--http-port", "0", "--chat-port", "0"]
    if request.param == "asyncio":
        argv.append("--no-uvloop")
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    assert proc.stdout is not None
    seen: list[bytes] = []
    try:
        while len(seen) < 2:
            line = await asyncio.wait_for(proc.stdout.readline(), 10)
            assert line, f"the example exited early: {b''.join(seen)!r}"
            seen.append(line)
        output = b"".join(seen).decode()
        chat = re.search(r"chat on tcp 127\.0\.0\.1:(\d+)", output)
        web = re.search(r"web on (http://127\.0\.0\.1:\d+)/", output)
        assert chat is not None, output
        assert web is not None, output
        yield Running(proc, int(chat.group(1)), web.group(1), seen)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def stop(running: Running) -> str:
    running.proc.send_signal(signal.SIGTERM)
    assert running.proc.stdout is not None
    rest = await asyncio.wait_for(running.proc.stdout.read(), 10)
    code = await asyncio.wait_for(running.proc.wait(), 10)
    output = (b"".join(running.seen) + rest).decode(errors="replace")
    assert code == 0, output
    return output


async def test_chat_and_web_share_one_log(example: Running) -> None:
    ada_reader, ada = await example.chat()
    bob_reader, bob = await example.chat()
    async with httpx.AsyncClient(
        base_url=example.web, trust_env=False, timeout=IO_TIMEOUT_S
    ) as client:
        # a web client waits for the next chat line: a Deferred fired by Twisted
        waiting = asyncio.create_task(client.get("/next", params={"within": "5"}))
        await asyncio.sleep(0.1)
        ada.write(b"hello from twisted\r\n")
        assert await read_line(ada_reader) == b"guest1: hello from twisted"
        assert await read_line(bob_reader) == b"guest1: hello from twisted"
        assert (await asyncio.wait_for(waiting, IO_TIMEOUT_S)).json() == {
            "message": {"nick": "guest1", "body": "hello from twisted"}
        }

        # the web app speaks into the chat
        said = await client.post("/say", json={"nick": "eve", "body": "hi from typhoon"})
        assert said.json() == {"delivered_to": 2}
        assert await read_line(bob_reader) == b"eve@web: hi from typhoon"

        # the chat reads typhoon's log through as_deferred
        bob.write(b"/history\r\n")
        assert await read_line(bob_reader) == b"guest1: hello from twisted"
        assert await read_line(bob_reader) == b"eve@web: hi from typhoon"
        assert await read_line(bob_reader) == b"* end of history"

        page = (await client.get("/")).text
        assert page == "guest1: hello from twisted\neve@web: hi from typhoon\n(2 in the chat)\n"

        # nobody speaks: the wait times out and its Deferred is cancelled
        assert (await client.get("/next", params={"within": "0.05"})).json() == {"message": None}
        assert (await client.post("/say", json={"body": " "})).status_code == 400
    for writer in (ada, bob):
        writer.close()
        await writer.wait_closed()
    await stop(example)


async def test_sigterm_closes_the_chat_connections_too(example: Running) -> None:
    reader, writer = await example.chat()
    await stop(example)
    # Twisted's shutdown (stop_reactor in tx.run) dropped the chat connection
    assert await asyncio.wait_for(reader.read(), IO_TIMEOUT_S) == b""
    writer.close()
