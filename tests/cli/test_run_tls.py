"""``typhoon run`` with HTTPS, as a real process: --ssl-app, the redirect port, HSTS, and
the errors a bad certificate or password gives.

The applications are written to a temporary directory, which is the server's working
directory (``typhoon run`` imports from there). Every process is killed at the end of
its test whatever happened.
"""

from __future__ import annotations

import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

TYPHOON = [sys.executable, "-m", "typhoon"]
START_TIMEOUT_S = 10.0
IO_TIMEOUT_S = 5.0

APPS = """
from pathlib import Path

from typhoon import App

LOG = Path(__file__).with_name("lifecycle.log")


def make(name):
    app = App()

    @app.get("/")
    async def home(request):
        return f"{name} over {request.scheme}"

    @app.on_startup
    async def up():
        with LOG.open("a") as log:
            log.write(f"{name} startup\\n")

    @app.on_shutdown
    async def down():
        with LOG.open("a") as log:
            log.write(f"{name} shutdown\\n")

    return app


plain = make("plain")
secure = make("secure")
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers(port: int, context: ssl.SSLContext | None) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S) as raw:
            sock = raw if context is None else context.wrap_socket(raw, server_hostname="localhost")
            with sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                return sock.recv(9) == b"HTTP/1.1 "
    except OSError:
        return False


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "tls_apps.py").write_text(textwrap.dedent(APPS))
    return tmp_path


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


def launch(
    processes: list[subprocess.Popen[bytes]],
    workdir: Path,
    args: list[str],
    wait_for: list[tuple[int, ssl.SSLContext | None]],
) -> tuple[subprocess.Popen[bytes], Path]:
    log = workdir / f"server-{len(processes)}.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [*TYPHOON, "run", *args],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    processes.append(proc)
    deadline = time.monotonic() + START_TIMEOUT_S
    for port, context in wait_for:
        while not answers(port, context):
            if proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no answer on {port} within {START_TIMEOUT_S} s:\n{log.read_text()}")
            time.sleep(0.05)
    return proc, log


def stop(proc: subprocess.Popen[bytes], log: Path) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(IO_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"no exit within {IO_TIMEOUT_S} s of SIGTERM:\n{log.read_text()}")


def test_ssl_app_serves_a_second_app_over_https_in_the_same_process(
    workdir: Path, processes: list[subprocess.Popen[bytes]], certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    port, ssl_port, redirect_port = free_port(), free_port(), free_port()
    client_tls = ssl.create_default_context(cafile=str(cert))
    args = [
        "tls_apps:plain",
        "--port", str(port),
        "--certfile", str(cert),
        "--keyfile", str(key),
        "--ssl-port", str(ssl_port),
        "--ssl-app", "tls_apps:secure",
        "--redirect-http-port", str(redirect_port),
        "--hsts-max-age", "3600",
        "--no-access-log",
    ]  # fmt: skip
    wait_for = [(port, None), (ssl_port, client_tls), (redirect_port, None)]
    proc, log = launch(processes, workdir, args, wait_for)
    with httpx.Client(trust_env=False, timeout=IO_TIMEOUT_S) as plain:
        home = plain.get(f"http://127.0.0.1:{port}/")
        moved = plain.get(f"http://localhost:{redirect_port}/a?b=c")
    with httpx.Client(verify=client_tls, trust_env=False, timeout=IO_TIMEOUT_S) as secure:
        secure_home = secure.get(f"https://localhost:{ssl_port}/")
    assert (home.status_code, home.text) == (200, "plain over http")
    assert "strict-transport-security" not in home.headers
    assert (secure_home.status_code, secure_home.text) == (200, "secure over https")
    assert secure_home.headers["strict-transport-security"] == "max-age=3600"
    assert moved.status_code == 308
    assert moved.headers["location"] == f"https://localhost:{ssl_port}/a?b=c"

    assert stop(proc, log) == 0
    output = log.read_text()
    assert f"typhoon serving on http://127.0.0.1:{port}/" in output
    assert f"https://127.0.0.1:{ssl_port}/ (tls_apps:secure)" in output
    lifecycle = (workdir / "lifecycle.log").read_text().split("\n")
    assert sorted(filter(None, lifecycle)) == [
        "plain shutdown",
        "plain startup",
        "secure shutdown",
        "secure startup",
    ]


def test_certfile_alone_makes_the_main_port_https(
    workdir: Path, processes: list[subprocess.Popen[bytes]], certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    port = free_port()
    client_tls = ssl.create_default_context(cafile=str(cert))
    proc, log = launch(
        processes,
        workdir,
        ["tls_apps:secure", "--port", str(port), "--certfile", str(cert), "--keyfile", str(key)],
        [(port, client_tls)],
    )
    with httpx.Client(verify=client_tls, trust_env=False, timeout=IO_TIMEOUT_S) as client:
        response = client.get(f"https://localhost:{port}/")
    assert (response.status_code, response.text) == (200, "secure over https")
    assert stop(proc, log) == 0
    assert f"typhoon serving on https://127.0.0.1:{port}/" in log.read_text()


def run_to_exit(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TYPHOON, "run", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_wrong_password_exits_2_naming_the_setting(
    workdir: Path, encrypted_certificate: tuple[Path, Path, str]
) -> None:
    cert, key, _ = encrypted_certificate
    done = run_to_exit(
        workdir,
        "tls_apps:plain",
        "--port", str(free_port()),
        "--certfile", str(cert),
        "--keyfile", str(key),
        "--ssl-keyfile-password", "wrong",
    )  # fmt: skip
    assert done.returncode == 2
    assert "typhoon run: error: TLSConfig.keyfile_password: wrong password" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_certfile_exits_2_naming_the_setting(workdir: Path) -> None:
    done = run_to_exit(workdir, "tls_apps:plain", "--certfile", str(workdir / "none.pem"))
    assert done.returncode == 2
    assert "typhoon run: error: TLSConfig.certfile: cannot read" in done.stderr


def test_ssl_app_without_ssl_port_exits_2(workdir: Path, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    done = run_to_exit(
        workdir,
        "tls_apps:plain",
        "--certfile", str(cert),
        "--keyfile", str(key),
        "--ssl-app", "tls_apps:secure",
    )  # fmt: skip
    assert done.returncode == 2
    assert "--ssl-app tls_apps:secure: needs TLSConfig.ssl_port" in done.stderr


def test_bad_forwarded_allow_ips_exits_2(workdir: Path) -> None:
    done = run_to_exit(workdir, "tls_apps:plain", "--forwarded-allow-ips", "127.0.0.1,nope")
    assert done.returncode == 2
    assert "ProxyConfig.forwarded_allow_ips: 'nope'" in done.stderr
