"""``typhoon run`` and ``App.run()`` as real processes, plus ``load_app``'s messages.

Servers listen on 127.0.0.1 and a free port (or a Unix socket in a short temporary
directory); every process is killed at the end of its test whatever happened.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from typhoon import App
from typhoon.cli.main import load_app, main

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 10.0
IO_TIMEOUT_S = 5.0
TYPHOON = [sys.executable, "-m", "typhoon"]


@dataclass
class Served:
    """A server subprocess and where it listens."""

    proc: subprocess.Popen[bytes]
    log: Path
    port: int | None = None
    uds: Path | None = None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def client(self) -> httpx.Client:
        if self.uds is not None:
            return httpx.Client(
                base_url="http://localhost",
                transport=httpx.HTTPTransport(uds=str(self.uds)),
                trust_env=False,
                timeout=IO_TIMEOUT_S,
            )
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}", trust_env=False, timeout=IO_TIMEOUT_S
        )

    def wait_serving(self) -> None:
        """Poll until the server answers HTTP (so its signal handlers are installed)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"the server exited with {self.proc.returncode}:\n{self.output()}")
            if self._answers():
                return
            if time.monotonic() > deadline:
                pytest.fail(f"no answer within {START_TIMEOUT_S} s:\n{self.output()}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        """Whether a GET / gets an HTTP response (raw socket: httpcore leaks a socket when
        a Unix connect fails)."""
        family = socket.AF_UNIX if self.uds is not None else socket.AF_INET
        address = str(self.uds) if self.uds is not None else ("127.0.0.1", self.port)
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(IO_TIMEOUT_S)
            try:
                sock.connect(address)
                sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                data = b""
                while len(data) < 9 and (piece := sock.recv(9 - len(data))):
                    data += piece
                return data == b"HTTP/1.1 "
            except OSError:
                return False

    def stop(self) -> int:
        """SIGTERM, then the exit status (failing if it takes more than a few seconds)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(IO_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit within {IO_TIMEOUT_S} s of SIGTERM:\n{self.output()}")


Start = Callable[..., Served]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory whose paths fit in AF_UNIX's 108 bytes (tmp_path's may not)."""
    directory = Path(tempfile.mkdtemp(prefix="typhoon-cli-", dir="/tmp"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """Start a server command (from the repository root) and wait until it answers.

    ``start(*args, uds=None)`` runs ``python -m typhoon run ARGS --port P`` (or
    ``--uds PATH``); ``start(*args, argv=[...])`` runs ``argv`` as given, with ``port``.
    ``env`` adds environment variables, ``pass_fds`` passes descriptors down,
    ``pythonpath=dir`` lets the server import modules from ``dir``.
    """
    processes: list[subprocess.Popen[bytes]] = []

    def run(
        *args: str,
        uds: Path | None = None,
        argv: list[str] | None = None,
        port: int = 0,
        env: dict[str, str] | None = None,
        pass_fds: tuple[int, ...] = (),
        pythonpath: Path | None = None,
    ) -> Served:
        log = tmp_path / f"server-{len(processes)}.log"
        port = port or free_port()
        if argv is None:
            where = ["--uds", str(uds)] if uds is not None else ["--port", str(port)]
            argv = [*TYPHOON, "run", *args, *where]
        if pythonpath is not None:  # a module written by the test, importable by the server
            path = os.pathsep.join([str(pythonpath), str(REPO)])
            env = {**(env or {}), "PYTHONPATH": path}
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                argv,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                pass_fds=pass_fds,
            )
        processes.append(proc)
        served = Served(proc, log, port=None if uds is not None else port, uds=uds)
        served.wait_serving()
        return served

    try:
        yield run
    finally:
        for proc in processes:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


def typhoon(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path = REPO,
    pass_fds: tuple[int, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run a ``typhoon`` command that is expected to exit by itself."""
    return subprocess.run(
        [*TYPHOON, *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        pass_fds=pass_fds,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=False,
        stdin=subprocess.DEVNULL,
    )


# -- serving -----------------------------------------------------------------------------


def test_run_hello_app_serves_text_and_json(start: Start) -> None:
    served = start("examples.hello:app", "--no-access-log")
    with served.client() as client:
        home = client.get("/")
        data = client.get("/json")
    assert (home.status_code, home.text) == (200, "Hello, world!")
    assert home.headers["content-type"] == "text/html; charset=utf-8"
    assert data.status_code == 200
    assert data.headers["content-type"] == "application/json"
    assert data.json() == {"message": "Hello, world!"}
    assert served.stop() == 0
    assert f"typhoon serving on http://127.0.0.1:{served.port}/" in served.output()


def test_run_spec_without_attr_defaults_to_app(start: Start) -> None:
    served = start("examples.hello", "--no-access-log")
    with served.client() as client:
        assert client.get("/").text == "Hello, world!"
    assert served.stop() == 0


def test_run_uds_serves_over_unix_socket(start: Start, short_dir: Path) -> None:
    path = short_dir / "hello.sock"
    served = start("examples.hello:app", "--no-access-log", uds=path)
    assert path.is_socket()
    with served.client() as client:
        response = client.get("/json")
    assert response.json() == {"message": "Hello, world!"}
    assert served.stop() == 0
    assert f"typhoon serving on unix:{path}" in served.output()


def test_run_access_log_line_on_stderr_in_combined_format(start: Start) -> None:
    served = start("examples.hello:app")
    with served.client() as client:
        assert client.get("/", headers={"user-agent": "e2e-agent/1.0"}).status_code == 200
    assert served.stop() == 0
    line = (
        r"^127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "
        r'"GET / HTTP/1\.1" 200 13 "-" "e2e-agent/1\.0"$'
    )
    assert re.search(line, served.output(), re.MULTILINE), served.output()


def test_run_no_access_log_flag_omits_access_line(start: Start) -> None:
    served = start("examples.hello:app", "--no-access-log")
    with served.client() as client:
        assert client.get("/").status_code == 200
    assert served.stop() == 0
    assert '"GET / HTTP/1.1"' not in served.output()
    assert "typhoon serving on" in served.output()  # the other logs are still there


OBSERVED_APP = """
from typhoon import App, WebSocket

app = App()


@app.get("/")
async def home(request):
    return "home"


@app.get("/items/{item_id:int}")
async def item(request, item_id):
    return {"id": item_id}


@app.get("/boom")
async def boom(request):
    raise ValueError("kaboom")


@app.websocket("/ws")
async def echo(ws: WebSocket):
    async for message in ws:
        await ws.send(message)
"""


def test_run_log_format_json_writes_only_json_lines(start: Start, tmp_path: Path) -> None:
    (tmp_path / "observed_json.py").write_text(OBSERVED_APP)
    served = start("observed_json:app", "--log-format", "json", pythonpath=tmp_path)
    secrets = {"cookie": "sid=SECRET-COOKIE", "authorization": "Bearer SECRET-TOKEN"}
    with served.client() as client:
        headers = {**secrets, "user-agent": "e2e/2.0", "referer": "http://ref.example/"}
        assert client.get("/items/3?color=red", headers=headers).json() == {"id": 3}
        assert client.get("/boom").status_code == 500
    assert served.stop() == 0

    output = served.output()
    lines = [json.loads(line) for line in output.splitlines()]  # every line is JSON
    assert lines, output
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line), line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    assert "SECRET" not in output

    [banner] = [x for x in lines if x["message"].startswith("typhoon serving on")]
    assert (banner["level"], banner["logger"]) == ("info", "typhoon.server")

    [error] = [x for x in lines if x["logger"] == "typhoon.error"]
    assert error["level"] == "error"
    assert error["message"] == "exception while handling GET /boom"
    assert (error["exc_type"], error["exc_message"]) == ("ValueError", "kaboom")
    assert error["traceback"].startswith("Traceback (most recent call last):")
    assert 'raise ValueError("kaboom")' in error["traceback"]
    assert error["traceback"].rstrip().endswith("ValueError: kaboom")

    access = {x["path"]: x for x in lines if x["logger"] == "typhoon.access"}
    item = access["/items/3"]
    assert item["duration_ms"] >= 0
    assert {k: v for k, v in item.items() if k not in ("time", "duration_ms")} == {
        "level": "info",
        "logger": "typhoon.access",
        "message": "GET /items/3?color=red 200",
        "client": "127.0.0.1",
        "method": "GET",
        "path": "/items/3",
        "query": "color=red",
        "status": 200,
        "bytes": 8,
        "http_version": "1.1",
        "user_agent": "e2e/2.0",
        "referer": "http://ref.example/",
    }
    assert access["/boom"]["status"] == 500


def test_run_text_format_logs_an_error_with_its_traceback(start: Start, tmp_path: Path) -> None:
    (tmp_path / "observed_text.py").write_text(OBSERVED_APP)
    served = start("observed_text:app", "--log-format", "text", pythonpath=tmp_path)
    with served.client() as client:
        assert client.get("/boom").status_code == 500
    assert served.stop() == 0
    output = served.output()
    assert re.search(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ERROR typhoon.error: "
        r"exception while handling GET /boom\nTraceback \(most recent call last\):",
        output,
        re.MULTILINE,
    ), output
    assert re.search(r'"GET /boom HTTP/1\.1" 500 \d+ "-" "python-httpx/', output), output


def test_run_metrics_flag_serves_prometheus_text(start: Start, tmp_path: Path) -> None:
    (tmp_path / "observed_metrics.py").write_text(OBSERVED_APP)
    served = start("observed_metrics:app", "--metrics", "--no-access-log", pythonpath=tmp_path)
    with served.client() as client:
        for n in (1, 2):
            assert client.get(f"/items/{n}").status_code == 200
        assert client.get("/nowhere").status_code == 404
        scraped = client.get("/metrics")
    assert served.stop() == 0
    assert scraped.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = scraped.text
    route = 'route="/items/{item_id:int}",method="GET"'
    assert f'typhoon_http_requests_total{{{route},status="200"}} 2\n' in text
    assert 'typhoon_http_requests_total{route="<unmatched>",method="GET",status="404"} 1\n' in text
    assert f"typhoon_http_request_duration_seconds_count{{{route}}} 2\n" in text
    assert f'typhoon_http_request_duration_seconds_bucket{{{route},le="+Inf"}} 2\n' in text
    assert "typhoon_http_connections_open 1\n" in text
    assert "typhoon_websockets_open 0\n" in text
    assert re.search(r"^process_resident_memory_bytes \d+$", text, re.MULTILINE)
    assert 'route="/metrics"' not in text


def test_run_without_metrics_flag_has_no_metrics_route(start: Start) -> None:
    served = start("examples.hello:app", "--no-access-log")
    with served.client() as client:
        assert client.get("/metrics").status_code == 404


def test_run_default_server_header_is_typhoon(start: Start) -> None:
    served = start("examples.hello:app", "--no-access-log")
    with served.client() as client:
        assert client.get("/").headers.get_list("server") == ["typhoon"]


def test_run_no_server_header_flag_omits_server(start: Start) -> None:
    served = start("examples.hello:app", "--no-access-log", "--no-server-header")
    with served.client() as client:
        response = client.get("/")
    assert response.status_code == 200
    assert "server" not in response.headers


def test_run_server_header_flag_sets_value(start: Start) -> None:
    served = start("examples.hello:app", "--no-access-log", "--server-header", "X")
    with served.client() as client:
        assert client.get("/").headers.get_list("server") == ["X"]


def test_app_run_in_script_serves_and_drains_on_sigterm(start: Start, tmp_path: Path) -> None:
    script = tmp_path / "tiny.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys

            from typhoon import App, HTTPConfig

            app = App()


            @app.get("/")
            async def home(request):
                return "served by app.run"


            @app.on_shutdown
            async def bye():
                print("tiny: shutdown", file=sys.stderr, flush=True)


            raise SystemExit(app.run(port=int(sys.argv[1]), config=HTTPConfig(access_log=False)))
            """
        )
    )
    port = free_port()
    served = start(argv=[sys.executable, str(script), str(port)], port=port)
    with served.client() as client:
        response = client.get("/")
    assert (response.status_code, response.text) == (200, "served by app.run")
    assert served.stop() == 0
    assert "tiny: shutdown" in served.output()


def test_run_existing_flags_still_work(start: Start) -> None:
    served = start(
        "examples.hello:app",
        "--no-access-log",
        "--no-cancel-on-disconnect",
        "--no-uvloop",
        "--graceful-timeout",
        "5",
        "--max-body-bytes",
        "10",
        "--header-timeout-s",
        "3",
        "--log-level",
        "warning",
        "--host",
        "127.0.0.1",
    )
    with served.client() as client:
        assert client.get("/").text == "Hello, world!"
        assert client.post("/", content=b"x" * 11).status_code == 413
    assert served.stop() == 0
    assert "typhoon serving on" not in served.output()  # --log-level warning hides it


def test_run_reads_environment_and_toml_file(start: Start, tmp_path: Path) -> None:
    settings = tmp_path / "typhoon.toml"
    settings.write_text(
        textwrap.dedent(
            """
            [server]
            app = "examples.hello:app"
            port = 1                      # the environment wins over this

            [http]
            server_header = "from-toml"
            access_log = false

            [limits]
            max_body_bytes = 20
            """
        )
    )
    port = free_port()
    served = start(
        argv=[*TYPHOON, "run", "--config", str(settings)],
        port=port,
        env={"TYPHOON_PORT": str(port), "TYPHOON_MAX_BODY_BYTES": "5"},
    )
    with served.client() as client:
        response = client.get("/")
        assert client.post("/", content=b"123456").status_code == 413
    assert response.headers["server"] == "from-toml"
    assert served.stop() == 0
    assert '"GET / HTTP/1.1"' not in served.output()


def test_run_serves_on_an_inherited_listening_socket(start: Start) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        fd = listener.fileno()
        served = start(
            argv=[*TYPHOON, "run", "examples.hello:app", "--no-access-log", "--fd", str(fd)],
            port=port,
            pass_fds=(fd,),
        )
        with served.client() as client:
            assert client.get("/json").json() == {"message": "Hello, world!"}
        assert served.stop() == 0
    assert f"typhoon serving on fd {fd} (http://127.0.0.1:{port}/)" in served.output()


def test_run_refuses_an_fd_that_is_not_a_listening_socket(tmp_path: Path) -> None:
    with (tmp_path / "plain").open("w") as plain, socket.socket() as idle:
        idle.bind(("127.0.0.1", 0))  # bound, never listening
        for fd, problem in (
            (plain.fileno(), "not a usable socket: Socket operation on non-socket"),
            (idle.fileno(), "a socket, but not listening"),
            (999, "not a usable socket: Bad file descriptor"),
        ):
            inherited = (fd,) if fd != 999 else ()
            done = typhoon("run", "examples.hello:app", "--fd", str(fd), pass_fds=inherited)
            assert done.returncode == 2, done.stderr
            assert f"typhoon run: error: --fd {fd}: {problem}" in done.stderr


def test_run_print_config_shows_values_and_sources(tmp_path: Path) -> None:
    done = typhoon(
        "run",
        "examples.hello:app",
        "--port",
        "9001",
        "--no-server-header",
        "--print-config",
        env={"TYPHOON_MAX_BODY_BYTES": "1000"},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r'^app = "examples.hello:app" +# APP examples.hello:app$', out, re.M), out
    assert re.search(r"^port = 9001 +# --port 9001$", out, re.M), out
    assert re.search(r'^server_header = "" +# --no-server-header$', out, re.M), out
    assert re.search(r"^max_body_bytes = 1000 +# TYPHOON_MAX_BODY_BYTES=1000$", out, re.M), out
    assert re.search(r'^host = "127.0.0.1" +# default$', out, re.M), out


def test_run_pyproject_tool_typhoon_is_read(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.typhoon.server]\napp = 'examples.hello:app'\nport = 9002\n"
    )
    done = typhoon("run", "--print-config", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert re.search(
        r"^port = 9002 +# pyproject.toml \[tool.typhoon.server\] port$", done.stdout, re.M
    )


# -- refusing to start -------------------------------------------------------------------


def test_run_help_lists_every_flag_with_its_default() -> None:
    done = typhoon("run", "--help")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    flags = sorted(set(re.findall(r"\[(--[a-z][a-z-]*)", text)))
    assert "--graceful-timeout" in flags, flags
    assert "--max-body-bytes" in flags, flags
    # Each option's entry runs from its line to the next option's line.
    entries = re.split(r"\n  (?=-)", text)
    for flag in flags:
        [entry] = [e for e in entries if re.match(rf"{flag}\b(?!-)", e)]
        assert "(default: " in " ".join(entry.split()), f"{flag} shows no default:\n{entry}"
    compact = " ".join(text.split())
    assert re.search(r"--graceful-timeout S .*?\(default: 30(\.0)?\)", compact)
    assert re.search(r"--max-body-bytes N .*?\(default: 16777216\)", compact)
    assert re.search(r"--header-timeout-s S .*?\(default: 10(\.0)?\)", compact)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nosuchmodule:app", "cannot import module 'nosuchmodule'"),
        ("examples.hello:nope", "module 'examples.hello' has no attribute 'nope'"),
        ("examples.hello:hello", "'examples.hello:hello': cannot tell how to serve"),
        (":app", "app must look like 'module:attr', got ':app'"),
    ],
)
def test_run_bad_app_spec_exits_2_naming_problem(spec: str, message: str) -> None:
    done = typhoon("run", spec, "--port", str(free_port()))
    assert done.returncode == 2, done.stderr
    assert f"typhoon run: error: {message}" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--max-body-bytes", "0"], "--max-body-bytes 0: must be a positive integer, got 0"),
        (["--header-timeout-s", "0"], "--header-timeout-s 0: must be positive, got 0.0"),
        (["--graceful-timeout", "-1"], "--graceful-timeout -1: must be >= 0, got -1.0"),
        (["--port", "70000"], "--port 70000: must be between 0 and 65535, got 70000"),
        (["--port", "abc"], "--port abc: must be an integer"),
        (["--server-header", "caf\u00e9"], "--server-header caf\u00e9: must be printable ASCII"),
        (
            ["--metrics", "--metrics-path", "metrics"],
            "--metrics-path metrics: the metrics path must be a plain path",
        ),
        (["--log-format", "xml"], "--log-format xml: must be one of"),
    ],
)
def test_run_bad_setting_exits_2_naming_setting(flags: list[str], message: str) -> None:
    done = typhoon("run", "examples.hello:app", *flags)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("env", "toml", "message"),
    [
        ({"TYPHOON_PORT": "abc"}, "", "TYPHOON_PORT=abc: must be an integer"),
        ({"TYPHOON_ACCES_LOG": "no"}, "", "TYPHOON_ACCES_LOG: unknown setting (did you mean"),
        ({}, "[limits]\nmax_body_bytes = 0", "t.toml [limits] max_body_bytes: must be a positive"),
        (
            {},
            "[limits]\nmax_body_byte = 1",
            "t.toml [limits] max_body_byte: unknown setting (did you mean max_body_bytes?)",
        ),
        (
            {"TYPHOON_UDS": "/tmp/x.sock", "TYPHOON_FD": "3"},
            "",
            "TYPHOON_UDS=/tmp/x.sock, TYPHOON_FD=3:",
        ),
    ],
)
def test_run_bad_env_or_file_exits_2_naming_setting(
    tmp_path: Path, env: dict[str, str], toml: str, message: str
) -> None:
    (tmp_path / "t.toml").write_text(toml + "\n")
    done = typhoon("run", "examples.hello:app", "--config", "t.toml", env=env, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"typhoon run: error: {message}" in done.stderr
    assert "Traceback" not in done.stderr


# -- load_app ----------------------------------------------------------------------------


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run load_app from the repository root, restoring sys.path afterwards."""
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(sys, "path", list(sys.path))


@pytest.mark.usefixtures("in_repo")
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nosuchmodule:app", "cannot import module 'nosuchmodule': No module named 'nosuchmodule'"),
        ("nosuchmodule.sub:app", "cannot import module 'nosuchmodule.sub'"),
        ("examples.hello:nope", "module 'examples.hello' has no attribute 'nope'"),
        ("examples.hello:app.nope", "module 'examples.hello' has no attribute 'app.nope'"),
        ("examples.hello:hello", "'examples.hello:hello': cannot tell how to serve"),
        ("", "app must look like 'module:attr', got ''"),
        (":app", "app must look like 'module:attr', got ':app'"),
    ],
)
def test_load_app_bad_spec_raises_value_error_naming_problem(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        load_app(spec)


@pytest.mark.usefixtures("in_repo")
@pytest.mark.parametrize("spec", ["examples.hello:app", "examples.hello"])
def test_load_app_good_spec_returns_the_app(spec: str) -> None:
    import examples.hello

    assert load_app(spec) is examples.hello.app
    assert isinstance(examples.hello.app, App)


def test_run_metrics_needs_a_typhoon_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bare_application.py").write_text(
        "class Bare:\n    async def handle(self, exchange):\n        exchange.respond(204)\n\n"
        "app = Bare()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["run", "bare_application:app", "--metrics", "--port", "0"]) == 2
    assert "--metrics: needs a typhoon App; 'bare_application:app' is not one" in (
        capsys.readouterr().err
    )
