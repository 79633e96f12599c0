"""Graceful drain of a real ``typhoon run`` process on SIGTERM.

Each test starts ``python -m typhoon run apps:app`` (see ``apps.py``) on 127.0.0.1 and a
free port, waits until it answers, signals it, and checks what its clients saw and how
it exited. The process is killed at the end of the test whatever happened.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

E2E_DIR = Path(__file__).resolve().parent
START_TIMEOUT_S = 10.0
IO_TIMEOUT_S = 5.0
SHUTDOWN_LINE = "apps: shutdown hook ran"  # apps.SHUTDOWN_LINE


@dataclass
class Served:
    """A ``typhoon run apps:app`` subprocess."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def exit_status(self, timeout_s: float) -> int:
        """Wait (without blocking the loop) for the process to exit; fail after timeout_s."""
        try:
            return await asyncio.to_thread(self.proc.wait, timeout_s)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server did not exit within {timeout_s} s; log:\n{self.output()}")


Start = Callable[..., Served]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def start_apps(tmp_path: Path) -> Iterator[Start]:
    """Start ``typhoon run apps:app`` with extra flags; every process is killed at the end."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(*flags: str) -> Served:
        port = free_port()
        log = tmp_path / f"server-{len(processes)}.log"
        command = [sys.executable, "-m", "typhoon", "run", "apps:app", "--port", str(port)]
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [*command, "--no-access-log", *flags],
                cwd=E2E_DIR,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        processes.append(proc)
        return Served(proc, port, log)

    try:
        yield start
    finally:
        for proc in processes:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


async def http_get(port: int, path: str) -> tuple[int, bytes]:
    """One GET on a fresh connection with ``Connection: close``; (status, body)."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port), IO_TIMEOUT_S
    )
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        data = await asyncio.wait_for(reader.read(), IO_TIMEOUT_S)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


async def wait_serving(served: Served) -> None:
    """Poll until the server answers a request (so its signal handlers are installed)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if served.proc.poll() is not None:
            pytest.fail(f"the server exited with {served.proc.returncode}:\n{served.output()}")
        try:
            status, _ = await http_get(served.port, "/")
        except OSError:
            status = 0
        if status == 200:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the server did not answer within {START_TIMEOUT_S} s:\n{served.output()}")
        await asyncio.sleep(0.05)


async def wait_started(served: Served, route: str, count: int) -> None:
    """Poll ``/started`` until ``count`` requests to ``route`` are being handled."""
    deadline = time.monotonic() + IO_TIMEOUT_S
    while True:
        _, body = await http_get(served.port, "/started")
        if json.loads(body)[route] >= count:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"only {body!r} started within {IO_TIMEOUT_S} s, wanted {count} {route}")
        await asyncio.sleep(0.02)


async def wait_refused(port: int) -> None:
    """Poll until connecting to ``port`` is refused (the server stopped accepting)."""
    deadline = time.monotonic() + IO_TIMEOUT_S
    while True:
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port), IO_TIMEOUT_S
            )
        except ConnectionRefusedError:
            return
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"port {port} still accepts connections {IO_TIMEOUT_S} s after SIGTERM")
        await asyncio.sleep(0.02)


async def send_request(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port), IO_TIMEOUT_S
    )
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    return reader, writer


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), IO_TIMEOUT_S)
    except ConnectionError:
        pass


@pytest.mark.parametrize("loop_flags", [(), ("--no-uvloop",)], ids=["uvloop", "asyncio"])
async def test_drain_sigterm_with_20_in_flight_answers_all_and_exits_0(
    start_apps: Start, loop_flags: tuple[str, ...]
) -> None:
    served = start_apps(*loop_flags)
    await wait_serving(served)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{served.port}", trust_env=False, timeout=IO_TIMEOUT_S
    ) as client:
        requests = [asyncio.ensure_future(client.get("/slow")) for _ in range(20)]
        try:
            await wait_started(served, "slow", 20)
            signalled_at = time.monotonic()
            served.proc.send_signal(signal.SIGTERM)
            await wait_refused(served.port)
            assert not any(request.done() for request in requests), "answered before SIGTERM"
            responses = await asyncio.gather(*requests)
        finally:
            for request in requests:
                request.cancel()
            await asyncio.gather(*requests, return_exceptions=True)
    assert [r.status_code for r in responses] == [200] * 20
    assert [r.text for r in responses] == ["slow done"] * 20
    assert {r.headers["connection"] for r in responses} == {"close"}
    assert await served.exit_status(IO_TIMEOUT_S) == 0
    assert time.monotonic() - signalled_at < 4.0
    assert SHUTDOWN_LINE in served.output()


async def test_drain_second_sigterm_forces_exit_with_status_1(start_apps: Start) -> None:
    served = start_apps("--graceful-timeout", "30")
    await wait_serving(served)
    reader, writer = await send_request(served.port, "/hang")
    try:
        await wait_started(served, "hang", 1)
        served.proc.send_signal(signal.SIGTERM)
        await wait_refused(served.port)
        await asyncio.sleep(0.2)
        assert served.proc.poll() is None, "the drain did not wait for the request in flight"
        forced_at = time.monotonic()
        served.proc.send_signal(signal.SIGTERM)
        assert await served.exit_status(IO_TIMEOUT_S) == 1
        assert time.monotonic() - forced_at < 3.0
        assert await asyncio.wait_for(reader.read(), IO_TIMEOUT_S) == b""
    finally:
        await close(writer)
    assert "forcing exit" in served.output()


async def test_drain_graceful_timeout_passes_aborts_and_exits_0(start_apps: Start) -> None:
    served = start_apps("--graceful-timeout", "0.5")
    await wait_serving(served)
    reader, writer = await send_request(served.port, "/hang")
    try:
        await wait_started(served, "hang", 1)
        signalled_at = time.monotonic()
        served.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(reader.read(), IO_TIMEOUT_S) == b""
        closed_after = time.monotonic() - signalled_at
        assert await served.exit_status(IO_TIMEOUT_S) == 0
        exited_after = time.monotonic() - signalled_at
    finally:
        await close(writer)
    assert 0.45 <= closed_after < 3.0
    assert 0.45 <= exited_after < 3.5
    assert "graceful timeout of 0.5s passed; aborting 1 connection(s)" in served.output()
    assert SHUTDOWN_LINE in served.output()


async def test_drain_idle_keepalive_connection_is_closed_at_once(start_apps: Start) -> None:
    served = start_apps("--keep-alive-timeout-s", "60")
    await wait_serving(served)
    reader, writer = await send_request(served.port, "/")
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IO_TIMEOUT_S)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"\r\nconnection: close\r\n" not in head
        assert await asyncio.wait_for(reader.readexactly(7), IO_TIMEOUT_S) == b"apps ok"
        signalled_at = time.monotonic()
        served.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(reader.read(), IO_TIMEOUT_S) == b""
        assert time.monotonic() - signalled_at < 2.0  # the drain, not the 60 s idle timer
        assert await served.exit_status(IO_TIMEOUT_S) == 0
    finally:
        await close(writer)
