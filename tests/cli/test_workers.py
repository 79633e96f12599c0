"""``typhoon run --workers N`` and ``--reload`` as real processes.

The supervisor runs ``workers_app:app`` (this directory) or a module written to
``tmp_path``, on 127.0.0.1 and a free port. Load comes from httpx clients that open a
new connection for every request, so each request is a fresh accept somewhere. Every
process (workers included) is killed at the end of its test whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from typhoon.cli.workers import WorkersConfig

CLI_DIR = Path(__file__).resolve().parent
START_TIMEOUT_S = 10.0
IO_TIMEOUT_S = 5.0
SLOW_STARTED = "workers_app: slow request started"  # workers_app.SLOW_STARTED
TYPHOON = [sys.executable, "-m", "typhoon"]


@dataclass
class Supervised:
    """A ``typhoon run --workers`` supervisor subprocess."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        """The worker pids the supervisor announced when it started serving."""
        found = re.search(r"with \d+ workers? \(pid ([\d, ]+)\)", self.output())
        assert found, self.output()
        return [int(pid) for pid in found.group(1).split(", ")]

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def wait_log(self, text: str, count: int = 1, timeout_s: float = IO_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while self.output().count(text) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"{text!r} not logged {count} time(s):\n{self.output()}")
            await asyncio.sleep(0.02)

    async def exit_status(self, timeout_s: float = IO_TIMEOUT_S) -> int:
        try:
            return await asyncio.to_thread(self.proc.wait, timeout_s)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the supervisor did not exit within {timeout_s} s:\n{self.output()}")


Start = Callable[..., Supervised]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def kill_workers(log: Path) -> None:
    """SIGKILL every worker the log names that is still running (test clean-up)."""
    for pid in {int(p) for p in re.findall(r"\(pid (\d+)\)", log.read_text(errors="replace"))}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """``start(*flags, app=..., cwd=..., env=...)`` runs ``typhoon run APP --port P FLAGS``
    and waits until the log shows ``wait`` (by default: the supervisor is serving)."""
    started: list[Supervised] = []

    def run(
        *flags: str,
        app: str = "workers_app:app",
        cwd: Path = CLI_DIR,
        env: dict[str, str] | None = None,
        wait: str | None = "typhoon.workers: typhoon serving on",
    ) -> Supervised:
        port = free_port()
        log = tmp_path / f"supervisor-{len(started)}.log"
        argv = [*TYPHOON, "run", app, "--port", str(port), "--no-access-log", *flags]
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        served = Supervised(proc, port, log)
        started.append(served)
        if wait is not None:
            deadline = time.monotonic() + START_TIMEOUT_S
            while wait not in served.output():
                if proc.poll() is not None:
                    pytest.fail(f"the supervisor exited with {proc.returncode}:\n{served.output()}")
                if time.monotonic() > deadline:
                    pytest.fail(f"not serving within {START_TIMEOUT_S} s:\n{served.output()}")
                time.sleep(0.02)
        return served

    try:
        yield run
    finally:
        for served in started:
            if served.proc.poll() is None:
                served.proc.kill()
            served.proc.wait(10)
            kill_workers(served.log)


def new_connections_client() -> httpx.AsyncClient:
    """A client that opens a new connection for every request."""
    return httpx.AsyncClient(
        trust_env=False,
        timeout=IO_TIMEOUT_S,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


@dataclass
class Load:
    """Clients looping on ``/pid`` until stopped, recording what each request got."""

    url: str
    clients: int = 2
    results: list[tuple[float, int | str]] = field(default_factory=list)  # (time, pid | error)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._tasks = [asyncio.ensure_future(self._loop()) for _ in range(self.clients)]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def _loop(self) -> None:
        async with new_connections_client() as client:
            while not self._stop.is_set():
                try:
                    response = await client.get(self.url)
                    response.raise_for_status()
                    outcome: int | str = int(response.text)
                except httpx.HTTPError as exc:
                    outcome = f"{type(exc).__name__}: {exc}"
                self.results.append((time.monotonic(), outcome))

    def pids(self, since: float = 0.0) -> set[int]:
        return {pid for at, pid in self.results if at >= since and isinstance(pid, int)}

    def errors(self, since: float = 0.0) -> list[str]:
        return [error for at, error in self.results if at >= since and isinstance(error, str)]

    async def run_for(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def get_pids(url: str, count: int) -> list[int]:
    async with new_connections_client() as client:
        responses = await asyncio.gather(*(client.get(url) for _ in range(count)))
    assert {r.status_code for r in responses} == {200}
    return [int(r.text) for r in responses]


# -- configuration -----------------------------------------------------------------------


def test_workers_config_defaults_to_one_worker_without_reload() -> None:
    config = WorkersConfig()
    assert (config.workers, config.reload, config.reload_dirs) == (1, False, ())
    assert not config.supervised
    assert WorkersConfig(workers=2).supervised
    assert WorkersConfig(reload=True).supervised


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workers": 0}, "workers must be at least 1, got 0"),
        ({"workers": True}, "workers must be an integer, got True"),
        ({"workers": 2, "reload": True}, "reload cannot be combined with workers 2"),
        ({"reload_dirs": ("src",)}, "reload_dirs needs reload"),
    ],
)
def test_workers_config_invalid_raises_value_error_naming_field(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        WorkersConfig(**kwargs)  # type: ignore[arg-type]


def test_workers_config_fields_carry_help() -> None:
    for name, spec in WorkersConfig.__dataclass_fields__.items():
        assert spec.metadata["help"], name


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--workers", "2", "--reload"],
            "--workers 2, --reload: reload cannot be combined with workers 2",
        ),
        (["--workers", "0"], "--workers 0: must be at least 1, got 0"),
        (["--reload-dir", "."], "--reload-dir .: needs reload"),
        (
            ["--reload", "--reload-dir", "no/such/dir"],
            "reload_dirs: 'no/such/dir' is not a directory",
        ),
    ],
)
def test_run_bad_workers_flags_exit_2_naming_flags(flags: list[str], message: str) -> None:
    done = subprocess.run(
        [*TYPHOON, "run", "workers_app:app", "--port", str(free_port()), *flags],
        cwd=CLI_DIR,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2, done.stderr
    assert f"typhoon run: error: {message}" in done.stderr
    assert "Traceback" not in done.stderr


async def test_workers_bad_app_spec_exits_2_with_the_workers_message(start: Start) -> None:
    served = start("--workers", "2", app="nosuchmodule:app", wait=None)
    assert await served.exit_status() == 2
    assert "typhoon run: error: cannot import module 'nosuchmodule'" in served.output()
    assert "before it was ready; stopping" in served.output()


# -- serving -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["reuseport", "shared"])
async def test_workers_two_answer_from_two_processes(start: Start, mode: str) -> None:
    served = start("--workers", "2", env={"TYPHOON_WORKERS_SOCKET": mode})
    workers = served.worker_pids()
    assert len(set(workers)) == 2
    assert served.proc.pid not in workers
    seen: set[int] = set()
    deadline = time.monotonic() + IO_TIMEOUT_S
    while seen != set(workers):  # the kernel or the race for accept picks the worker
        seen |= set(await get_pids(served.url("/pid"), 20))
        assert seen <= set(workers)
        assert time.monotonic() < deadline, f"only {seen} answered"
    served.proc.send_signal(signal.SIGTERM)
    assert await served.exit_status() == 0


async def test_workers_serve_https_with_a_certificate(
    start: Start, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    served = start("--workers", "2", "--certfile", str(cert), "--keyfile", str(key))
    async with httpx.AsyncClient(verify=False, trust_env=False) as client:
        response = await client.get(f"https://127.0.0.1:{served.port}/pid")
    assert int(response.text) in served.worker_pids()
    served.proc.send_signal(signal.SIGTERM)
    assert await served.exit_status() == 0


def _requests_counted(text: str) -> int:
    """``typhoon_http_requests_total`` for ``GET /pid 200`` in an exposition (0 if absent)."""
    found = re.search(
        r'^typhoon_http_requests_total\{route="/pid",method="GET",status="200"\} (\d+)$',
        text,
        re.MULTILINE,
    )
    return int(found.group(1)) if found else 0


async def test_workers_metrics_report_every_worker_and_survive_a_sighup(start: Start) -> None:
    served = start("--workers", "2", "--metrics")
    pids = served.worker_pids()
    answered: list[int] = []
    async with new_connections_client() as client:
        deadline = time.monotonic() + IO_TIMEOUT_S
        while set(answered) != set(pids):  # requests on both workers
            answered += await get_pids(served.url("/pid"), 10)
            assert time.monotonic() < deadline, f"only {set(answered)} answered"

        async def scrapes_agree_on(count: int) -> None:
            deadline = time.monotonic() + IO_TIMEOUT_S  # snapshots are written each second
            while True:
                scrapes = [await client.get(served.url("/metrics")) for _ in range(6)]
                counted = [_requests_counted(scrape.text) for scrape in scrapes]
                if counted == [count] * 6:
                    return
                assert time.monotonic() < deadline, f"scrapes counted {counted}, not {count}"
                await asyncio.sleep(0.2)

        await scrapes_agree_on(len(answered))
        served.proc.send_signal(signal.SIGHUP)  # the old workers' totals must not vanish
        await served.wait_log("all 2 workers replaced")
        await served.wait_log("(replaced) exited with status 0", count=2)
        answered += await get_pids(served.url("/pid"), 5)
        await scrapes_agree_on(len(answered))
    served.proc.send_signal(signal.SIGTERM)
    assert await served.exit_status() == 0
    found = re.search(r"TYPHOON_METRICS_DIR=(\S+)", served.output())
    assert found is None  # the directory is the supervisor's business, never logged


async def _pids_answering(client: httpx.AsyncClient, url: str, prefix: str) -> set[int]:
    """The worker pids seen on ``url`` (fresh connections) until two answered, or 5 s."""
    seen: set[int] = set()
    deadline = time.monotonic() + IO_TIMEOUT_S
    while len(seen) < 2 and time.monotonic() < deadline:
        response = await client.get(url, headers={"connection": "close"})
        assert response.text.startswith(prefix), response.text
        seen.add(int(response.text.removeprefix(prefix)))
    return seen


@pytest.mark.parametrize("mode", ["reuseport", "shared"])
async def test_workers_serve_an_ssl_port_with_its_app_and_an_https_redirect(
    start: Start, certificate: tuple[Path, Path], mode: str
) -> None:
    cert, key = certificate
    ssl_port, redirect_port = free_port(), free_port()
    served = start(
        "--workers", "2", "--certfile", str(cert), "--keyfile", str(key),
        "--ssl-port", str(ssl_port), "--ssl-app", "workers_app:secure_app",
        "--redirect-http-port", str(redirect_port),
        env={"TYPHOON_WORKERS_SOCKET": mode},
    )  # fmt: skip
    assert f"https://127.0.0.1:{ssl_port}/" in served.output()
    assert f"http://127.0.0.1:{redirect_port}/ (redirects to HTTPS)" in served.output()
    pids = set(served.worker_pids())
    secure = f"https://127.0.0.1:{ssl_port}/pid"
    async with httpx.AsyncClient(verify=False, trust_env=False) as client:
        assert await _pids_answering(client, served.url("/pid"), "") == pids
        assert await _pids_answering(client, secure, "secure ") == pids
        moved = await client.get(f"http://127.0.0.1:{redirect_port}/pid?x=1")
        assert (moved.status_code, moved.headers["location"]) == (
            308,
            f"https://127.0.0.1:{ssl_port}/pid?x=1",
        )
        served.proc.send_signal(signal.SIGHUP)  # the new workers inherit every port
        await served.wait_log("all 2 workers replaced")
        await served.wait_log("(replaced) exited with status 0", count=2)
        replaced = await _pids_answering(client, secure, "secure ")
        assert len(replaced) == 2
        assert not replaced & pids
    served.proc.send_signal(signal.SIGTERM)
    assert await served.exit_status() == 0
    for port in (served.port, ssl_port, redirect_port):
        with (
            pytest.raises(ConnectionRefusedError),
            socket.create_connection(("127.0.0.1", port), timeout=1),
        ):
            pass


def test_workers_refuse_an_ssl_port_already_taken(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        done = subprocess.run(
            [*TYPHOON, "run", "workers_app:app", "--port", str(free_port()), "--workers", "2",
             "--certfile", str(cert), "--keyfile", str(key), "--ssl-port", str(busy)],
            cwd=CLI_DIR, capture_output=True, text=True, timeout=START_TIMEOUT_S, check=False,
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "cannot listen" in done.stderr


def start_on_inherited_socket(log: Path) -> tuple[subprocess.Popen[bytes], int, int]:
    """``typhoon run --workers 2 --fd N`` on a socket bound here; (process, port, N)."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        fd = listening.fileno()
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [*TYPHOON, "run", "workers_app:app", "--workers", "2", "--fd", str(fd)],
                cwd=CLI_DIR, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                pass_fds=(fd,),
            )  # fmt: skip
        return proc, int(listening.getsockname()[1]), fd


async def test_workers_share_an_inherited_socket(tmp_path: Path) -> None:
    log = tmp_path / "supervisor.log"
    proc, port, fd = start_on_inherited_socket(log)
    served = Supervised(proc, port, log)
    try:
        await served.wait_log(f"typhoon serving on fd {fd} with 2 workers")
        pids = set(await get_pids(served.url("/pid"), 20))
        assert pids <= set(served.worker_pids())
        proc.send_signal(signal.SIGTERM)
        assert await served.exit_status() == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        kill_workers(log)


async def test_workers_uds_is_bound_once_and_shared(start: Start) -> None:
    directory = Path(tempfile.mkdtemp(prefix="typhoon-workers-", dir="/tmp"))
    path = directory / "w.sock"
    try:
        served = start("--workers", "2", "--uds", str(path))
        assert f"typhoon serving on unix:{path} with 2 workers" in served.output()
        transport = httpx.AsyncHTTPTransport(uds=str(path))
        async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
            response = await client.get("http://localhost/pid")
        assert int(response.text) in served.worker_pids()
        served.proc.send_signal(signal.SIGTERM)
        assert await served.exit_status() == 0
        assert not path.exists()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def test_workers_killed_worker_is_replaced_and_requests_go_on(start: Start) -> None:
    served = start("--workers", "2")
    victim, survivor = served.worker_pids()
    load = Load(served.url("/pid"))
    load.start()
    try:
        await load.run_for(0.5)
        os.kill(victim, signal.SIGKILL)
        await served.wait_log("started in place of the one that died")
        replaced_at = time.monotonic()
        await load.run_for(1.0)
    finally:
        await load.stop()
    output = served.output()
    assert f"worker 0 (pid {victim}) killed by SIGKILL unexpectedly" in output
    assert "restarting worker 0 in 0.1 s" in output
    after = load.pids(since=replaced_at)
    assert victim not in after
    assert survivor in after
    assert len(after) == 2, after  # the replacement serves too
    assert load.errors(since=replaced_at) == []
    errors = load.errors()
    print(f"SIGKILL: {len(load.results)} requests, {len(errors)} failed: {errors}")
    served.proc.send_signal(signal.SIGTERM)
    assert await served.exit_status() == 0


@pytest.mark.parametrize("mode", ["reuseport", "shared"])
async def test_workers_sighup_under_load_replaces_all_and_loses_no_request(
    start: Start, mode: str
) -> None:
    served = start("--workers", "2", env={"TYPHOON_WORKERS_SOCKET": mode})
    old = set(served.worker_pids())
    load = Load(served.url("/pid"))
    load.start()
    try:
        await load.run_for(0.5)
        before = len(load.results)
        served.proc.send_signal(signal.SIGHUP)
        await served.wait_log("all 2 workers replaced")
        await served.wait_log("(replaced) exited with status 0", count=2)
        replaced_at = time.monotonic()
        await load.run_for(0.5)
    finally:
        await load.stop()
    print(f"SIGHUP ({mode}): {len(load.results)} requests, {before} before the signal")
    assert load.errors() == []
    assert len(load.results) - before > 100
    new = load.pids(since=replaced_at)
    assert len(new) == 2
    assert not new & old
    assert not any(alive(pid) for pid in old)
    served.proc.send_signal(signal.SIGTERM)
    assert await served.exit_status() == 0


async def test_workers_sigterm_answers_in_flight_requests_and_exits_0(start: Start) -> None:
    served = start("--workers", "2")
    workers = served.worker_pids()
    async with new_connections_client() as client:
        requests = [asyncio.ensure_future(client.get(served.url("/slow"))) for _ in range(6)]
        try:
            await served.wait_log(SLOW_STARTED, count=6)
            served.proc.send_signal(signal.SIGTERM)
            responses = await asyncio.gather(*requests)
        finally:
            for request in requests:
                request.cancel()
            await asyncio.gather(*requests, return_exceptions=True)
    assert [(r.status_code, r.text) for r in responses] == [(200, "slow done")] * 6
    assert await served.exit_status() == 0
    assert "received SIGTERM; draining 2 workers" in served.output()
    assert not any(alive(pid) for pid in workers)
    with pytest.raises(httpx.ConnectError):
        await get_pids(served.url("/pid"), 1)


async def test_workers_second_sigterm_forces_exit_1(start: Start) -> None:
    served = start("--workers", "2", "--graceful-timeout", "30")
    async with new_connections_client() as client:
        request = asyncio.ensure_future(client.get(served.url("/slow")))
        try:
            await served.wait_log(SLOW_STARTED)
            served.proc.send_signal(signal.SIGTERM)
            await served.wait_log("received SIGTERM; draining")
            served.proc.send_signal(signal.SIGTERM)
            assert await served.exit_status() == 1
        finally:
            request.cancel()
            await asyncio.gather(request, return_exceptions=True)
    assert "received SIGTERM again; forcing the workers to exit" in served.output()


async def test_workers_drain_themselves_when_the_supervisor_is_killed(start: Start) -> None:
    served = start("--workers", "2")
    workers = served.worker_pids()
    served.proc.kill()
    served.proc.wait(IO_TIMEOUT_S)
    deadline = time.monotonic() + IO_TIMEOUT_S
    while any(alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "workers outlived their supervisor"
        await asyncio.sleep(0.02)
    assert served.output().count("the supervisor went away; draining") == 2


# -- reload ------------------------------------------------------------------------------

RELOAD_APP = """
from typhoon import App, Text

app = App()


@app.get("/")
async def home(request):
    return Text({text!r})
"""


def resolved(path: Path) -> Path:
    return path.resolve()


async def wait_text(url: str, text: str, served: Supervised) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    last = ""
    async with new_connections_client() as client:
        while last != text:
            if time.monotonic() > deadline:
                pytest.fail(f"still {last!r}, not {text!r}:\n{served.output()}")
            try:
                last = (await client.get(url)).text
            except httpx.HTTPError as exc:
                last = repr(exc)
            await asyncio.sleep(0.02)


async def test_reload_restarts_on_change_and_survives_syntax_error(
    start: Start, tmp_path: Path
) -> None:
    module = tmp_path / "reloaded.py"
    module.write_text(RELOAD_APP.format(text="version one"))
    served = start("--reload", app="reloaded:app", cwd=tmp_path)
    assert f"reload: watching {resolved(tmp_path)}" in served.output()
    await wait_text(served.url(), "version one", served)

    module.write_text(RELOAD_APP.format(text="version two, longer"))
    await wait_text(served.url(), "version two, longer", served)
    await served.wait_log("reloaded.py changed")

    module.write_text(RELOAD_APP.format(text="broken") + "\ndef (:\n")
    await served.wait_log("SyntaxError")
    await served.wait_log("before it was ready; the old worker keeps serving")
    assert served.proc.poll() is None
    await wait_text(served.url(), "version two, longer", served)

    module.write_text(RELOAD_APP.format(text="version three, fixed"))
    await wait_text(served.url(), "version three, fixed", served)
    served.proc.send_signal(signal.SIGTERM)
    assert await served.exit_status() == 0


async def test_reload_app_broken_at_start_is_served_once_fixed(
    start: Start, tmp_path: Path
) -> None:
    module = tmp_path / "late.py"
    module.write_text("app = (\n")
    served = start("--reload", app="late:app", cwd=tmp_path, wait="fix it and save to reload")
    assert served.proc.poll() is None
    module.write_text(RELOAD_APP.format(text="now it works"))
    await wait_text(served.url(), "now it works", served)
    served.proc.send_signal(signal.SIGTERM)
    assert await served.exit_status() == 0
