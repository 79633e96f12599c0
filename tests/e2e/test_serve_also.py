"""``app.serve_also``: a raw TCP server on the web app's lifecycle, in a real process.

``apps:raw_app`` serves HTTP and, beside it, a line protocol (``apps.Shout``). Under
``typhoon run`` and under ``app.run()``, both answer, and SIGTERM drains both: the
TCP client is told ``bye`` and disconnected, both ports stop accepting, the shutdown
hook runs, the background task is cancelled, the child process killed, and the
process exits 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tests.e2e.test_drain import (
    E2E_DIR,
    IO_TIMEOUT_S,
    SHUTDOWN_LINE,
    Served,
    free_port,
    wait_refused,
    wait_serving,
)


def launch(tmp_path: Path, how: str) -> tuple[Served, int]:
    port, tcp_port = free_port(), free_port()
    if how == "typhoon run":
        command = [sys.executable, "-m", "typhoon", "run", "apps:raw_app", "--port", str(port)]
    else:
        command = [sys.executable, "-c", f"from apps import raw_app; raw_app.run(port={port})"]
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            command,
            cwd=E2E_DIR,
            env={**os.environ, "APPS_TCP_PORT": str(tcp_port)},
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return Served(proc, port, log), tcp_port


@pytest.mark.parametrize("how", ["typhoon run", "app.run()"])
async def test_raw_server_starts_and_drains_with_the_app(tmp_path: Path, how: str) -> None:
    served, tcp_port = launch(tmp_path, how)
    try:
        await wait_serving(served)
        assert f"typhoon also serving tcp:{tcp_port}" in served.output()
        reader, writer = await asyncio.open_connection("127.0.0.1", tcp_port)
        writer.write(b"hello\n")
        assert await asyncio.wait_for(reader.readline(), IO_TIMEOUT_S) == b"HELLO\n"

        served.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(reader.readline(), IO_TIMEOUT_S) == b"bye\n"
        assert await asyncio.wait_for(reader.read(), IO_TIMEOUT_S) == b""
        writer.close()
        await wait_refused(tcp_port)
        await wait_refused(served.port)
        assert await served.exit_status(IO_TIMEOUT_S) == 0
        output = served.output()
        assert SHUTDOWN_LINE + " (raw_app)" in output
        assert "apps: background task cancelled" in output
        pid = int(output.split("apps: child pid ", 1)[1].split()[0])
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # the child was killed and reaped
    finally:
        if served.proc.poll() is None:
            served.proc.kill()
        served.proc.wait(10)


def test_a_port_in_use_fails_the_start_with_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        tcp_port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "typhoon", "run", "apps:raw_app", "--port", str(free_port())],
            cwd=E2E_DIR,
            env={**os.environ, "APPS_TCP_PORT": str(tcp_port)},
            capture_output=True,
            timeout=20,
        )
    assert result.returncode != 0
    assert b"address already in use" in result.stderr.lower()
