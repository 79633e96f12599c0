"""``typhoon run`` serves ASGI and WSGI applications, detected or named with --interface.

Each case starts a real ``python -m typhoon run`` process on 127.0.0.1 and talks to it
with httpx, then stops it with SIGTERM (exit status 0 after the drain).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get_when_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    deadline = time.monotonic() + 15
    while True:
        try:
            return httpx.get(url, timeout=5, trust_env=False)
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                output = log.read_text(errors="replace")
                pytest.fail(f"the server did not answer (exit {proc.poll()}):\n{output}")
            time.sleep(0.05)


@pytest.mark.parametrize(
    ("spec", "flags", "path", "expected"),
    [
        ("tests.interop.flask_app:app", [], "/hello/wsgi", "Hello, wsgi!"),
        ("tests.interop.flask_app:app", ["--interface", "wsgi"], "/hello/x", "Hello, x!"),
        ("tests.interop.fastapi_app:app", [], "/items/7?q=a", '{"item_id":7,"q":"a"}'),
        ("tests.interop.fastapi_app:app", ["--interface", "asgi"], "/state", '{"greeting":'),
    ],
    ids=["flask-auto", "flask-wsgi", "fastapi-auto", "fastapi-asgi-lifespan"],
)
def test_typhoon_run_serves_asgi_and_wsgi_apps(
    spec: str, flags: list[str], path: str, expected: str, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "typhoon", "run", spec, "--port", str(port), *flags],
            cwd=REPO,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        response = get_when_up(f"http://127.0.0.1:{port}{path}", proc, log)
        assert response.status_code == 200
        assert response.text.startswith(expected)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_a_forced_interface_that_does_not_fit_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "typhoon", "run", "tests.interop.flask_app:app",
         "--interface", "typhoon", "--port", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "typhoon run: error: 'tests.interop.flask_app:app':" in done.stderr
    assert "Traceback" not in done.stderr
