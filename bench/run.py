"""make bench: load each server with wrk, one at a time, and tabulate the results.

Each server runs alone, pinned to core 0 (taskset); wrk runs pinned to core 1
(``-t1 -c64``): a 1 s warm-up, then three runs of 5 s per scenario, the median kept
(``--quick``: one run of 1 s per scenario after one 1 s warm-up per server, about 1.5
minutes in all). Besides requests/s and p99 latency, the server's CPU time per request
is read from /proc (utime + stime of its whole process tree: one wrk thread can
saturate before a fast server does) and its RSS after each scenario. Before loading a
scenario, its response is checked once (status 200, the expected body), so that every
server is measured doing the same work.

typhoon's servers run from the project's .venv (this interpreter), the peers from
bench/.venv-peers (``make bench`` installs bench/requirements-peers.txt there).

Adding a scenario is one entry in SCENARIOS plus one route in each server file;
adding a server is one file in bench/servers/ (or servers/peers/) and one entry in
SERVERS. A server that fails to start, or a scenario that fails, is recorded with the
reason and the run goes on.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SERVERS_DIR = HERE / "servers"
PEERS_DIR = SERVERS_DIR / "peers"
RESULTS = HERE / "results"
PIPELINE_LUA = HERE / "pipeline.lua"
DEFAULT_PEERS_PYTHON = HERE / ".venv-peers" / "bin" / "python"
CLK_TCK = os.sysconf("SC_CLK_TCK")

SERVER_CORE, WRK_CORE = "0", "1"
CONNECTIONS = 64
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
CHECK_TIMEOUT_S = 5.0
BASELINE, FLOOR = "uvicorn-raw", "floor"
BACKGROUND_WARN = 0.1  # cores of other work during a run that make its figures suspect
QUIET_WAIT_S = 30.0  # before a disturbed run is done again, wait this long at most for quiet


@dataclass
class Plan:
    """How long to load each scenario.

    ``runs`` rounds: in each, every server is started alone, each scenario is loaded
    once, and the server is stopped; a figure is the median over the rounds. Spreading
    the runs of one server over the whole benchmark, rather than running them back to
    back, keeps a slow minute of the machine from landing on one server alone.
    ``warmup_s`` runs before each scenario, ``server_warmup_s`` once per server before
    its first scenario. A run during which other work on the machine used more than
    BACKGROUND_WARN cores is done again, once the machine is quiet (QUIET_WAIT_S at
    most), up to ``retries`` times while the whole run's ``retry_budget`` lasts; the
    least disturbed attempt is kept.
    """

    runs: int
    duration_s: int
    warmup_s: int
    server_warmup_s: int
    retries: int
    retry_budget: int
    retried: int = 0  # runs done again so far


def full_plan() -> Plan:
    return Plan(runs=3, duration_s=5, warmup_s=1, server_warmup_s=0, retries=2, retry_budget=36)


def quick_plan() -> Plan:
    return Plan(runs=1, duration_s=1, warmup_s=0, server_warmup_s=1, retries=0, retry_budget=0)


# -- scenarios ---------------------------------------------------------------------------


def _echo_body(size: int = 4096) -> bytes:
    """A JSON object of exactly ``size`` bytes, compact and ASCII, so that every
    server's re-serialisation of it gives back the same bytes."""
    items = [
        {"id": i, "name": f"item-{i}", "tags": ["a", "b"], "active": i % 2 == 0} for i in range(40)
    ]
    data: dict[str, Any] = {"items": items, "pad": ""}
    compact = json.dumps(data, separators=(",", ":")).encode()
    if len(compact) > size:
        raise ValueError(f"the echo body base is {len(compact)} bytes, over {size}")
    data["pad"] = "x" * (size - len(compact))
    body = json.dumps(data, separators=(",", ":")).encode()
    assert len(body) == size
    return body


@dataclass(frozen=True)
class Scenario:
    """One thing to measure: a request, and the response body every server must send.

    ``pipeline`` > 1 sends that many requests per write (bench/pipeline.lua); a
    ``method``/``body``/``content_type`` other than a bare GET gets a generated wrk script.
    """

    name: str
    path: str
    expect: bytes
    method: str = "GET"
    body: bytes = b""
    content_type: str | None = None
    pipeline: int = 1


HELLO = b"Hello, World!"
ECHO_BODY = _echo_body()

SCENARIOS = {
    s.name: s
    for s in (
        Scenario("plaintext", "/plaintext", HELLO),
        Scenario("pipelined", "/plaintext", HELLO, pipeline=16),
        Scenario("json", "/json", b'{"message":"Hello, World!"}'),
        Scenario("routes200", "/route137/42", b"42"),
        Scenario("16k", "/16k", b"0123456789abcdef" * 1024),
        Scenario(
            "echo4k",
            "/echo",
            ECHO_BODY,
            method="POST",
            body=ECHO_BODY,
            content_type="application/json",
        ),
    )
}


# -- servers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server: ``argv`` may use {python}, {bin} (the venv's bin/) and
    {port}; ``peer`` servers run from bench/.venv-peers in servers/peers/, the others
    from this interpreter's venv in servers/. ``packages`` are the versions recorded."""

    key: str
    name: str
    argv: tuple[str, ...]
    packages: tuple[str, ...]
    peer: bool = True


def _typhoon(module: str) -> tuple[str, ...]:
    return (
        "{python}",
        "-m",
        "typhoon",
        "run",
        f"{module}:app",
        "--port",
        "{port}",
        "--no-access-log",
        "--log-level",
        "warning",
    )


def _uvicorn(module: str) -> tuple[str, ...]:
    return (
        "{bin}/uvicorn",
        f"{module}:app",
        "--port",
        "{port}",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    )


TYPHOON_PACKAGES = ("typhoon", "uvloop", "httptools", "msgspec")
UVICORN_PACKAGES = ("uvicorn", "uvloop", "httptools")

SERVERS = [
    ServerSpec(
        "typhoon-views",
        "typhoon (function view)",
        _typhoon("typhoon_views"),
        TYPHOON_PACKAGES,
        peer=False,
    ),
    ServerSpec(
        "typhoon-handlers",
        "typhoon (RequestHandler)",
        _typhoon("typhoon_handlers"),
        TYPHOON_PACKAGES,
        peer=False,
    ),
    ServerSpec(BASELINE, "uvicorn (raw ASGI)", _uvicorn("raw_asgi"), UVICORN_PACKAGES),
    ServerSpec(
        "granian",
        "granian (raw ASGI)",
        (
            "{bin}/granian",
            "--interface",
            "asgi",
            "--http",
            "1",
            "--no-ws",
            "--workers",
            "1",
            "--runtime-threads",
            "1",
            "--loop",
            "uvloop",
            "--no-access-log",
            "--log-level",
            "warning",
            "--port",
            "{port}",
            "raw_asgi:app",
        ),
        ("granian", "uvloop"),
    ),
    ServerSpec(
        "starlette", "Starlette", _uvicorn("starlette_app"), ("starlette", *UVICORN_PACKAGES)
    ),
    ServerSpec(
        "fastapi",
        "FastAPI",
        _uvicorn("fastapi_app"),
        ("fastapi", "starlette", "pydantic", *UVICORN_PACKAGES),
    ),
    ServerSpec(
        "blacksheep", "BlackSheep", _uvicorn("blacksheep_app"), ("blacksheep", *UVICORN_PACKAGES)
    ),
    ServerSpec(
        "sanic",
        "Sanic",
        ("{python}", "sanic_app.py", "{port}"),
        ("sanic", "sanic-routing", "uvloop", "httptools", "ujson"),
    ),
    ServerSpec(
        "aiohttp", "aiohttp", ("{python}", "aiohttp_app.py", "{port}"), ("aiohttp", "uvloop")
    ),
    ServerSpec("tornado", "Tornado", ("{python}", "tornado_app.py", "{port}"), ("tornado",)),
    ServerSpec("twisted", "Twisted web", ("{python}", "twisted_app.py", "{port}"), ("twisted",)),
    ServerSpec(
        FLOOR,
        "floor (uvloop + httptools)",
        ("{python}", "floor.py", "{port}"),
        ("uvloop", "httptools"),
        peer=False,
    ),
]


# -- results -----------------------------------------------------------------------------


@dataclass
class Run:
    requests_per_s: float
    p99_ms: float | None
    cpu_us_per_request: float
    requests: int
    socket_errors: dict[str, int]
    non_2xx: int
    background_cores: float  # CPU used meanwhile by neither the server nor wrk, in cores


@dataclass
class Result:
    server: str
    scenario: str
    error: str | None = None
    requests_per_s: float | None = None
    p99_ms: float | None = None
    cpu_us_per_request: float | None = None
    rss_mib: float | None = None
    content_type: str | None = None
    socket_errors: dict[str, int] = field(default_factory=dict)
    non_2xx: int = 0
    background_cores: float = 0.0  # the most of any run: other work on the machine
    runs: list[Run] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and self.requests_per_s is not None


class ScenarioError(Exception):
    """A scenario could not be measured; the message says why."""


# -- processes and /proc -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, ()))
    return tree


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid``'s process tree (each process's figure covers its threads)."""
    total = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU time of the whole machine spent by processes, or stolen by the hypervisor.

    Interrupts are left out: the loopback traffic of the benchmark itself is
    accounted there (softirq), not to the server or wrk.
    """
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = (int(f) for f in fields)
    return (user + nice + system + steal) / CLK_TCK


def children_cpu_seconds() -> float:
    """CPU time of this process's finished children (wrk, once waited for)."""
    times = os.times()
    return times.children_user + times.children_system


def rss_mib(pid: int) -> float:
    """The RSS of ``pid``'s process tree (pages shared between processes count twice)."""
    total_kib = 0
    for member in process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total_kib += int(match.group(1)) if match else 0
    return total_kib / 1024


def tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


@contextlib.contextmanager
def running(argv: list[str], cwd: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server pinned to SERVER_CORE in its own process group; always stop it.

    SIGTERM to its PID first, SIGKILL to its process group after STOP_TIMEOUT_S (and to
    whatever of the group is left, e.g. a worker whose parent died).
    """
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE, *argv],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_ready(proc: subprocess.Popen[bytes], port: int, path: str, log: Path) -> float:
    """Poll until the server answers ``path`` with 200; return the seconds it took."""
    start = time.monotonic()
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode()
    while time.monotonic() - start < START_TIMEOUT_S:
        if proc.poll() is not None:
            raise ScenarioError(f"exited with status {proc.returncode}: {tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(request)
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.1)
    raise ScenarioError(f"did not answer GET {path} within {START_TIMEOUT_S:.0f}s: {tail(log)}")


# -- checking and loading ----------------------------------------------------------------


def check_response(port: int, scenario: Scenario) -> str:
    """Send the scenario's request once; return the Content-Type of a correct answer.

    Raises:
        ScenarioError: not a 200 with the expected body (or, pipelined, not every answer).
    """
    headers = {"Content-Type": scenario.content_type} if scenario.content_type else {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CHECK_TIMEOUT_S)
    try:
        conn.request(scenario.method, scenario.path, body=scenario.body or None, headers=headers)
        response = conn.getresponse()
        body = response.read()
        content_type = response.getheader("content-type") or ""
    except (OSError, http.client.HTTPException) as exc:
        raise ScenarioError(f"{scenario.method} {scenario.path}: {exc!r}") from None
    finally:
        conn.close()
    if response.status != 200:
        raise ScenarioError(f"{scenario.method} {scenario.path} answered {response.status}")
    if body != scenario.expect:
        raise ScenarioError(
            f"{scenario.method} {scenario.path}: unexpected body {body[:60]!r}"
            f"{'…' if len(body) > 60 else ''} ({len(body)} bytes)"
        )
    if scenario.pipeline > 1:
        check_pipelining(port, scenario)
    return content_type


def check_pipelining(port: int, scenario: Scenario) -> None:
    one = f"{scenario.method} {scenario.path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    received = b""
    deadline = time.monotonic() + CHECK_TIMEOUT_S
    with socket.create_connection(("127.0.0.1", port), timeout=CHECK_TIMEOUT_S) as sock:
        sock.sendall(one * scenario.pipeline)
        while received.count(b"HTTP/1.1 200") < scenario.pipeline:
            if time.monotonic() > deadline:
                break
            try:
                data = sock.recv(65536)
            except OSError:
                break
            if not data:
                break
            received += data
    got = received.count(b"HTTP/1.1 200")
    if got < scenario.pipeline:
        raise ScenarioError(f"{scenario.pipeline} pipelined requests got {got} answers")


def wrk_script(scenario: Scenario, workdir: Path) -> list[str]:
    """The ``-s script [-- args]`` part of wrk's command line for ``scenario``."""
    if scenario.pipeline > 1:
        if scenario.method != "GET" or scenario.body:
            raise ValueError(f"{scenario.name}: pipelined scenarios are GETs without a body")
        return ["-s", str(PIPELINE_LUA)]
    if scenario.method == "GET" and not scenario.body and not scenario.content_type:
        return []
    body = scenario.body.decode()
    if "]==]" in body:
        raise ValueError(f"{scenario.name}: the body cannot be quoted in Lua")
    lines = [f'wrk.method = "{scenario.method}"', f"wrk.body = [==[{body}]==]"]
    if scenario.content_type:
        lines.append(f'wrk.headers["Content-Type"] = "{scenario.content_type}"')
    script = workdir / f"{scenario.name}.lua"
    script.write_text("\n".join(lines) + "\n")
    return ["-s", str(script)]


def wrk_command(url: str, duration_s: int, script: list[str], scenario: Scenario) -> list[str]:
    argv = ["taskset", "-c", WRK_CORE, "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration_s}s"]
    argv += ["--latency", *script, url]
    if scenario.pipeline > 1:
        argv += ["--", str(scenario.pipeline)]
    return argv


def parse_wrk(out: str) -> tuple[float, float | None, int, dict[str, int], int]:
    """(requests/s, p99 ms, requests, socket errors by kind, non-2xx/3xx) from wrk's output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if rps is None or total is None:
        raise ScenarioError(f"unreadable wrk output: {out.strip()[-200:]!r}")
    p99 = re.search(r"^\s*99(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\b", out, re.MULTILINE)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}
    # None when wrk has no figure (its histogram can print 0 for pipelined batches)
    p99_ms = float(p99.group(1)) * scale[p99.group(2)] if p99 else 0.0
    socket_errors: dict[str, int] = {}
    errors = re.search(r"Socket errors: (.*)", out)
    if errors:
        for kind, count in re.findall(r"(connect|read|write|timeout) (\d+)", errors.group(1)):
            if int(count):
                socket_errors[kind] = int(count)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return (
        float(rps.group(1)),
        p99_ms or None,
        int(total.group(1)),
        socket_errors,
        (int(non2xx.group(1)) if non2xx else 0),
    )


def run_wrk(argv: list[str], duration_s: int) -> str:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=duration_s + 30, check=False
        )
    except subprocess.TimeoutExpired:
        raise ScenarioError(f"wrk did not finish within {duration_s + 30}s") from None
    if done.returncode:
        raise ScenarioError(f"wrk exited with {done.returncode}: {done.stderr.strip()[-200:]}")
    return done.stdout


def wait_quiet(pid: int, most_s: float = QUIET_WAIT_S) -> float:
    """Wait (``most_s`` at most) until the machine is quiet but for the idle server;
    return the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < most_s:
        before = machine_busy_seconds() - cpu_seconds(pid)
        time.sleep(0.5)
        if (machine_busy_seconds() - cpu_seconds(pid) - before) / 0.5 < BACKGROUND_WARN:
            break
    return time.monotonic() - start


def one_run(proc: subprocess.Popen[bytes], argv: list[str], duration_s: int) -> Run:
    """One wrk run, with the server's CPU time and what other work used meanwhile."""
    if proc.poll() is not None:
        raise ScenarioError(f"the server exited with status {proc.returncode}")
    before = cpu_seconds(proc.pid), children_cpu_seconds(), machine_busy_seconds()
    start = time.monotonic()
    out = run_wrk(argv, duration_s)
    elapsed = time.monotonic() - start
    cpu = cpu_seconds(proc.pid) - before[0]
    wrk_cpu = children_cpu_seconds() - before[1]
    background = max(0.0, machine_busy_seconds() - before[2] - cpu - wrk_cpu) / elapsed
    rps, p99, total, socket_errors, non2xx = parse_wrk(out)
    cpu_us = cpu / total * 1e6 if total else float("nan")
    return Run(rps, p99, cpu_us, total, socket_errors, non2xx, round(background, 3))


def measure(
    key: str,
    proc: subprocess.Popen[bytes],
    port: int,
    scenario: Scenario,
    plan: Plan,
    workdir: Path,
) -> Result:
    result = Result(key, scenario.name)
    result.content_type = check_response(port, scenario)
    url = f"http://127.0.0.1:{port}{scenario.path}"
    script = wrk_script(scenario, workdir)
    if plan.warmup_s:
        run_wrk(wrk_command(url, plan.warmup_s, script, scenario), plan.warmup_s)
    argv = wrk_command(url, plan.duration_s, script, scenario)
    attempts = [one_run(proc, argv, plan.duration_s)]
    while (
        attempts[-1].background_cores > BACKGROUND_WARN
        and len(attempts) <= plan.retries
        and plan.retried < plan.retry_budget
    ):
        plan.retried += 1
        wait_quiet(proc.pid)  # other work is using the machine: let it pass, try again
        attempts.append(one_run(proc, argv, plan.duration_s))
    result.runs.append(min(attempts, key=lambda run: run.background_cores))
    if proc.poll() is not None:
        raise ScenarioError(f"the server exited with status {proc.returncode}")
    result.rss_mib = rss_mib(proc.pid)
    return summarize(result)


def summarize(result: Result) -> Result:
    """Fill in a result's figures from its runs: the median run by requests/s."""
    median = sorted(result.runs, key=lambda r: r.requests_per_s)[len(result.runs) // 2]
    result.requests_per_s = median.requests_per_s
    result.p99_ms = median.p99_ms
    result.cpu_us_per_request = median.cpu_us_per_request
    result.background_cores = max(run.background_cores for run in result.runs)
    result.socket_errors = {}
    result.non_2xx = 0
    for run in result.runs:
        for kind, count in run.socket_errors.items():
            result.socket_errors[kind] = result.socket_errors.get(kind, 0) + count
        result.non_2xx += run.non_2xx
    return result


def merge_rounds(rounds: Sequence[Sequence[Result]]) -> list[Result]:
    """One result per server and scenario, from the same result of every round.

    A scenario that failed in any round is reported failed, with the first reason; the
    RSS is the largest seen.
    """
    merged: dict[tuple[str, str], Result] = {}
    for results in rounds:
        for r in results:
            key = (r.server, r.scenario)
            if key not in merged:
                merged[key] = r
                continue
            into = merged[key]
            if into.error is not None:
                continue
            if r.error is not None:
                merged[key] = r
                continue
            into.runs.extend(r.runs)
            into.rss_mib = max(into.rss_mib or 0.0, r.rss_mib or 0.0)
            summarize(into)
    return list(merged.values())


def bench_server(
    spec: ServerSpec,
    python: Path,
    scenarios: Sequence[Scenario],
    plan: Plan,
    workdir: Path,
) -> list[Result]:
    """Every scenario against one server; failures become results with an error."""
    if not python.exists():
        reason = f"no interpreter at {python} (make bench installs the peers)"
        print(f"{spec.name}: FAILED: {reason}", flush=True)
        return [Result(spec.key, s.name, error=reason) for s in scenarios]
    port = free_port()
    values = {"python": str(python), "bin": str(python.parent), "port": str(port)}
    argv = [arg.format(**values) for arg in spec.argv]
    log = workdir / f"{spec.key}.log"
    results: list[Result] = []
    with running(argv, PEERS_DIR if spec.peer else SERVERS_DIR, log) as proc:
        try:
            started = wait_ready(proc, port, scenarios[0].path if scenarios else "/", log)
            print(f"{spec.name}: up in {started:.1f}s (pid {proc.pid})", flush=True)
            if plan.server_warmup_s and scenarios:  # the first requests after a start
                url = f"http://127.0.0.1:{port}{scenarios[0].path}"
                run_wrk(wrk_command(url, plan.server_warmup_s, [], scenarios[0]), 1)
        except ScenarioError as exc:
            print(f"{spec.name}: FAILED to start: {exc}", flush=True)
            return [Result(spec.key, s.name, error=f"start: {exc}") for s in scenarios]
        for scenario in scenarios:
            try:
                result = measure(spec.key, proc, port, scenario, plan, workdir)
            except (ScenarioError, OSError) as exc:
                result = Result(spec.key, scenario.name, error=str(exc))
            results.append(result)
            print("  " + progress_line(result), flush=True)
    return results


def progress_line(r: Result) -> str:
    if not r.ok:
        return f"{r.scenario:10} FAILED: {r.error}"
    assert r.requests_per_s is not None
    assert r.cpu_us_per_request is not None
    assert r.rss_mib is not None
    return (
        f"{r.scenario:10} {r.requests_per_s:>10,.0f} req/s  p99 {fmt_ms(r.p99_ms):>7} ms  "
        f"{r.cpu_us_per_request:6.1f} µs/req  {r.rss_mib:5.1f} MiB{error_note(r, ' ')}"
        + (
            f"  [other work used {r.background_cores:.2f} cores]"
            if r.background_cores > BACKGROUND_WARN
            else ""
        )
    )


def error_note(r: Result, lead: str = "") -> str:
    parts = [f"{kind} {n}" for kind, n in sorted(r.socket_errors.items())]
    if r.non_2xx:
        parts.append(f"non-2xx {r.non_2xx}")
    return lead + ", ".join(parts) if parts else ""


# -- versions and machine ----------------------------------------------------------------

VERSIONS_SNIPPET = """
import importlib.metadata as m, json, platform, sys
found = {}
for name in sys.argv[1:]:
    try:
        found[name] = m.version(name)
    except m.PackageNotFoundError:
        found[name] = None
found["python"] = platform.python_version()
print(json.dumps(found))
"""


def versions(python: Path, packages: Sequence[str]) -> dict[str, str | None]:
    if not python.exists():
        return {}
    try:
        out = subprocess.run(
            [str(python), "-c", VERSIONS_SNIPPET, *packages],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        found: dict[str, str | None] = json.loads(out)
        return found
    except (subprocess.SubprocessError, ValueError, OSError):
        return {}


def command_output(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return (done.stdout + done.stderr).strip()


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.*)", cpuinfo)
    commit = command_output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = command_output(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"])
    return {
        "cpu": model.group(1).strip() if model else platform.processor(),
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "wrk": next(iter(command_output(["wrk", "--version"]).splitlines()), ""),
        "typhoon_commit": commit + ("+uncommitted src changes" if dirty else ""),
    }


# -- tables, targets, chart --------------------------------------------------------------


def by_key(results: Sequence[Result]) -> dict[tuple[str, str], Result]:
    return {(r.server, r.scenario): r for r in results if r.ok}


def ratio(value: float | None, base: float | None) -> float | None:
    if value is None or base is None or not base or value != value or base != base:
        return None
    return value / base


def fmt_ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


@dataclass(frozen=True)
class Target:
    """``server``/``scenario`` req/s ≥ ``at_least`` x ``base_server``/``base_scenario``."""

    label: str
    server: str
    scenario: str
    base_server: str
    base_scenario: str
    at_least: float


def targets() -> list[Target]:
    views, handlers = "typhoon-views", "typhoon-handlers"
    found = [
        Target(f"function view {s} ≥ 1.5x uvicorn-raw", views, s, BASELINE, s, 1.5)
        for s in ("plaintext", "json")
    ]
    found += [
        Target(f"function view {s} ≥ 1.0x granian", views, s, "granian", s, 1.0)
        for s in ("plaintext", "json")
    ]
    found.append(
        Target(
            "function view pipelined ≥ 2x uvicorn-raw",
            views,
            "pipelined",
            BASELINE,
            "pipelined",
            2.0,
        )
    )
    found.append(
        Target(
            "routes200 ≥ 0.95x plaintext (function view)",
            views,
            "routes200",
            views,
            "plaintext",
            0.95,
        )
    )
    found += [
        Target(f"RequestHandler {s} ≥ 0.85x function view", handlers, s, views, s, 0.85)
        for s in SCENARIOS
    ]
    found += [
        Target(f"{label} {s} ≥ 1.0x aiohttp", server, s, "aiohttp", s, 1.0)
        for server, label in ((views, "function view"), (handlers, "RequestHandler"))
        for s in SCENARIOS
    ]
    return found


def evaluate(results: Sequence[Result]) -> list[dict[str, Any]]:
    found = by_key(results)
    lines = []
    for target in targets():
        mine = found.get((target.server, target.scenario))
        base = found.get((target.base_server, target.base_scenario))
        value = ratio(mine.requests_per_s if mine else None, base.requests_per_s if base else None)
        lines.append(
            {
                "target": target.label,
                "ratio": value,
                "pass": value is not None and value >= target.at_least,
            }
        )
    return lines


def target_lines(evaluated: Sequence[dict[str, Any]]) -> list[str]:
    return [
        f"{'PASS' if t['pass'] else 'MISS'}  {t['target']}: "
        + ("n/a (a result is missing)" if t["ratio"] is None else f"{t['ratio']:.2f}x")
        for t in evaluated
    ]


def markdown(results: Sequence[Result], servers: Sequence[ServerSpec], meta: dict[str, Any]) -> str:
    found = by_key(results)
    names = {s.key: s.name for s in servers}
    scenarios = [s for s in SCENARIOS if any(r.scenario == s for r in results)]
    out = [
        f"# Benchmark results {meta['date']}{' (quick)' if meta['quick'] else ''}",
        "",
        f"{meta['method']}. Machine: {meta['machine']['cpu']}, {meta['machine']['cpus']} cores, "
        f"Linux {meta['machine']['kernel']}; typhoon {meta['machine']['typhoon_commit']}; "
        f"{meta['seconds']} s in all"
        + (
            f"; {meta['plan']['retried']} run(s) done again because other work was using "
            "the machine."
            if meta["plan"]["retried"]
            else "."
        ),
        "",
        "## Requests/s (x uvicorn-raw)",
        "",
        "| server | " + " | ".join(scenarios) + " |",
        "|---|" + "---:|" * len(scenarios),
    ]
    for spec in servers:
        cells = []
        for name in scenarios:
            r = found.get((spec.key, name))
            if r is None or r.requests_per_s is None:
                cells.append("failed")
                continue
            base = found.get((BASELINE, name))
            x = ratio(r.requests_per_s, base.requests_per_s if base else None)
            cells.append(f"{r.requests_per_s:,.0f} ({fmt_ratio(x)})")
        out.append(f"| {spec.name} | " + " | ".join(cells) + " |")
    out += ["", "## Targets", "", "```", *target_lines(meta["targets"]), "```"]
    for name in scenarios:
        base = found.get((BASELINE, name))
        floor = found.get((FLOOR, name))
        out += [
            "",
            f"## {name}",
            "",
            "| server | req/s | x uvicorn-raw | x floor | p99 ms | CPU µs/req "
            "| CPU x uvicorn-raw | CPU x floor | RSS MiB | errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for spec in servers:
            r = next((x for x in results if x.server == spec.key and x.scenario == name), None)
            if r is None:
                continue
            if not r.ok:
                error = (r.error or "").replace("|", "\\|")
                out.append(f"| {spec.name} | failed | | | | | | | | {error} |")
                continue
            assert r.requests_per_s is not None
            assert r.cpu_us_per_request is not None
            cells = [
                f"{r.requests_per_s:,.0f}",
                fmt_ratio(ratio(r.requests_per_s, base.requests_per_s if base else None)),
                fmt_ratio(ratio(r.requests_per_s, floor.requests_per_s if floor else None)),
                fmt_ms(r.p99_ms),
                f"{r.cpu_us_per_request:.1f}",
                fmt_ratio(ratio(r.cpu_us_per_request, base.cpu_us_per_request if base else None)),
                fmt_ratio(ratio(r.cpu_us_per_request, floor.cpu_us_per_request if floor else None)),
                f"{r.rss_mib:.1f}",
                error_note(r) or "0",
            ]
            out.append(f"| {spec.name} | " + " | ".join(cells) + " |")
    disturbed = [r for r in results if r.ok and r.background_cores > BACKGROUND_WARN]
    if disturbed:
        out += [
            "",
            "## Other work on the machine",
            "",
            f"CPU used during a run by neither the server nor wrk above {BACKGROUND_WARN} core "
            "(the most of a result's runs); these figures are suspect:",
            "",
            *(
                f"- {names[r.server]} {r.scenario}: {r.background_cores:.2f} cores"
                for r in disturbed
            ),
        ]
    out += ["", "## Versions", "", "| server | versions |", "|---|---|"]
    for spec in servers:
        found_versions = meta["versions"].get(spec.key, {})
        text = ", ".join(f"{k} {v}" for k, v in found_versions.items() if k != "python")
        python = found_versions.get("python")
        out.append(f"| {spec.name} | {text}{f'; Python {python}' if python else ''} |")
    return "\n".join(out) + "\n"


def plot(peers_python: Path, results_json: Path, png: Path) -> str | None:
    """Draw the chart with the peers' matplotlib; return why not, or None."""
    if not peers_python.exists():
        return f"no {peers_python}"
    try:
        done = subprocess.run(
            [str(peers_python), str(HERE / "plot.py"), str(results_json), str(png)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "plot.py did not finish within 120s"
    if done.returncode:
        return done.stderr.strip()[-300:] or f"status {done.returncode}"
    return None


# -- main --------------------------------------------------------------------------------


def method(plan: Plan) -> str:
    runs = f"median of {plan.runs} rounds, one run each" if plan.runs > 1 else "1 run"
    if plan.warmup_s:
        runs += f" after a {plan.warmup_s}s warm-up"
    if plan.server_warmup_s:
        runs += f", one {plan.server_warmup_s}s warm-up per server"
    return (
        f"each server alone on core {SERVER_CORE}, wrk on core {WRK_CORE}: "
        f"`wrk -t1 -c{CONNECTIONS} -d{plan.duration_s}s`, {runs}"
    )


def pick(names: str | None, known: Sequence[str], what: str) -> list[str]:
    if not names:
        return list(known)
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in known]
    if unknown:
        sys.exit(f"bench: unknown {what} {', '.join(unknown)}; known: {', '.join(known)}")
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="one 1 s run per scenario (about 2 minutes)"
    )
    parser.add_argument(
        "--peers-python",
        type=Path,
        default=DEFAULT_PEERS_PYTHON,
        help="the interpreter of the peers' venv",
    )
    parser.add_argument("--servers", help="comma-separated keys (then nothing is written)")
    parser.add_argument("--scenarios", help="comma-separated names (then nothing is written)")
    args = parser.parse_args()
    plan = quick_plan() if args.quick else full_plan()
    for tool in ("wrk", "taskset"):
        if subprocess.run(["which", tool], capture_output=True, check=False).returncode:
            sys.exit(f"bench: {tool} is missing (apt-get install wrk util-linux)")
    keys = pick(args.servers, [s.key for s in SERVERS], "server")
    servers = [s for s in SERVERS if s.key in keys]
    scenarios = [SCENARIOS[n] for n in pick(args.scenarios, list(SCENARIOS), "scenario")]
    partial = bool(args.servers or args.scenarios)
    peers_python = args.peers_python.absolute()
    typhoon_python = Path(sys.executable)

    started = time.monotonic()
    host = machine()  # before the run: the typhoon commit measured
    print(f"bench: {len(servers)} servers x {len(scenarios)} scenarios; {method(plan)}", flush=True)
    rounds: list[list[Result]] = []
    with tempfile.TemporaryDirectory(prefix="typhoon-bench-") as tmp:
        for number in range(plan.runs):
            if plan.runs > 1:
                print(f"-- round {number + 1} of {plan.runs}", flush=True)
            # Every other round in reverse, so no server always follows the same one.
            order = servers if number % 2 == 0 else servers[::-1]
            results: list[Result] = []
            for spec in order:
                python = peers_python if spec.peer else typhoon_python
                results.extend(bench_server(spec, python, scenarios, plan, Path(tmp)))
            rounds.append(results)
    elapsed = time.monotonic() - started
    order_of = {spec.key: i for i, spec in enumerate(servers)}
    results = sorted(merge_rounds(rounds), key=lambda r: order_of[r.server])

    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    meta: dict[str, Any] = {
        "date": date,
        "quick": args.quick,
        "seconds": round(elapsed),
        "method": method(plan),
        "plan": asdict(plan),
        "machine": host,
        "versions": {
            s.key: versions(peers_python if s.peer else typhoon_python, s.packages) for s in servers
        },
        "servers": {s.key: {"name": s.name, "argv": list(s.argv)} for s in servers},
    }
    meta["targets"] = evaluate(results)
    md = markdown(results, servers, meta)
    print("\n" + md)
    print("targets:\n  " + "\n  ".join(target_lines(meta["targets"])))
    if partial:
        print(f"\n(a partial run: nothing written) {elapsed:.0f}s")
        return 0
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{date}{'-quick' if args.quick else ''}.json"
    payload = {"meta": meta, "results": [asdict(r) for r in results]}
    out.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    out.with_suffix(".md").write_text(md)
    problem = plot(peers_python, out, out.with_suffix(".png"))
    if problem:
        print(f"bench: no chart: {problem}")
    written = ", ".join(
        str(p.relative_to(ROOT))
        for p in (out, out.with_suffix(".md"), out.with_suffix(".png"))
        if p.exists()
    )
    print(f"\nwritten: {written} ({elapsed:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
