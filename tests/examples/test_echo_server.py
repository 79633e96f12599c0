"""examples/echo_server.py: in process, and as the script a user runs."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

from examples.echo_server import start

ROOT = Path(__file__).resolve().parents[2]


async def test_echo_in_process_in_small_and_large_writes() -> None:
    async with await start("tcp:0:interface=127.0.0.1") as listener:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b"hello")
        assert await reader.readexactly(5) == b"hello"
        big = bytes(range(256)) * 4096  # 1 MiB: the echo outruns the socket buffers
        writer.write(big)
        assert await asyncio.wait_for(reader.readexactly(len(big)), 10) == big
        writer.close()
        await writer.wait_closed()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_script_serves_until_interrupted() -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "examples.echo_server",
        f"tcp:{port}:interface=127.0.0.1",
        cwd=ROOT,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        banner = await asyncio.wait_for(process.stderr.readline(), 10)
        assert b"echo server on" in banner, banner
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping\n")
        assert await asyncio.wait_for(reader.readline(), 5) == b"ping\n"
        writer.close()
        process.send_signal(2)  # SIGINT, as Ctrl+C
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
