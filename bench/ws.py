"""make bench-ws: WebSocket echo messages/s and memory per idle connection, typhoon vs peers.

Each server runs alone, pinned to core 0 (taskset), and echoes every message on ``/``.
The load comes from bench/wsclient/client.mjs (Node.js and the ``ws`` package), pinned to
core 1:

- **echo**: 64 connections, each keeping one 64-byte text message in flight (the next is
  sent when the echo of the last is back, checked byte for byte), without
  permessage-deflate; a 1 s warm-up, then 5 s measured, in each of three rounds, the median
  kept (``--quick``: one round of 2 s). Besides messages/s and the round-trip p50/p99,
  the server's CPU time per message is read from /proc (its whole process tree), and the
  client's own CPU use is recorded: a client core near 100% would mean the client, not the
  server, set the pace.
- **idle**: N connections (10,000 and 50,000; ``--quick``: 2,000) opened on a freshly
  started server, one message echoed on each so that every handshake is complete, then
  held silent; the server's RSS and anonymous memory are read before (after one warm-up
  connection) and after a 3 s settle; (after - before) / N is the memory per idle
  connection, in KiB. Measured twice: with the client offering permessage-deflate, as
  browsers do, and without. For a count over what the server's RLIMIT_NOFILE hard limit
  allows, the most it allows (a round thousand) is measured instead, and the result says
  so. The client closes its connections with a reset, so that no TIME_WAIT is left on
  its ports for the next measurement.

typhoon runs from this interpreter's venv (``examples.websocket_echo:app`` imported from
``--typhoon-root``, the repository by default), the peers from bench/.venv-peers. Results
go to bench/results/ws-<UTC date>.json and .md (``--quick``: ws-<date>-quick.*, ignored by
git); nothing is written when only some servers or parts are chosen.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import re
import resource
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

if not __package__:  # run as a script (python bench/ws.py): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import run as http_bench  # the /proc helpers and process handling

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SERVERS_DIR = HERE / "servers"
PEERS_DIR = SERVERS_DIR / "peers"
CLIENT_DIR = HERE / "wsclient"
CLIENT = CLIENT_DIR / "client.mjs"
RESULTS = HERE / "results"
DEFAULT_PEERS_PYTHON = HERE / ".venv-peers" / "bin" / "python"

SERVER_CORE, CLIENT_CORE = http_bench.SERVER_CORE, http_bench.WRK_CORE
CONNECTIONS = 64
MESSAGE_BYTES = 64
SETTLE_S = 3.0  # after the last idle connection is ready, before the memory is read
CONNECTIONS_PER_CLIENT = 15_000  # one client process's share (its fds stay under 20,000)
FD_MARGIN = 100  # the server's own files besides the connections
BACKGROUND_WARN = http_bench.BACKGROUND_WARN
CLIENT_BUSY_WARN = 0.9  # a client core this busy may be what limits the rate


@dataclass
class Plan:
    """How long to load, and how many idle connections to hold.

    An echo run during which other work on the machine used more than BACKGROUND_WARN
    cores is done again once the machine is quiet (as bench/run.py does), up to
    ``retries`` times while the whole run's ``retry_budget`` lasts; the least disturbed
    attempt is kept. Memory figures do not depend on other work and are not retried.
    """

    rounds: int
    duration_s: float
    warmup_s: float
    idle_counts: tuple[int, ...]
    retries: int
    retry_budget: int
    window: int = 1  # echo: messages in flight per connection
    retried: int = 0  # echo runs done again so far


def full_plan() -> Plan:
    return Plan(
        rounds=3, duration_s=5, warmup_s=1, idle_counts=(10_000, 50_000), retries=2, retry_budget=18
    )


def quick_plan() -> Plan:
    return Plan(rounds=1, duration_s=2, warmup_s=1, idle_counts=(2_000,), retries=0, retry_budget=0)


# -- servers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WsServer:
    """How to start one echo server: ``argv`` may use {python}, {bin}, {port} and {node}.

    ``kind`` says where from: "typhoon" runs this interpreter in the typhoon root, "local"
    this interpreter in servers/, "peer" bench/.venv-peers in servers/peers/, "node" Node.js
    in bench/wsclient/.
    """

    key: str
    name: str
    argv: tuple[str, ...]
    packages: tuple[str, ...]
    kind: str = "peer"


SERVERS = [
    WsServer(
        "typhoon",
        "typhoon",
        (
            "{python}",
            "-m",
            "typhoon",
            "run",
            "examples.websocket_echo:app",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--no-access-log",
            "--log-level",
            "warning",
        ),
        ("typhoon", "websockets", "uvloop", "httptools"),
        kind="typhoon",
    ),
    WsServer(
        "uvicorn",
        "uvicorn + websockets (raw ASGI)",
        (
            "{bin}/uvicorn",
            "ws_asgi:app",
            "--port",
            "{port}",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--ws",
            "websockets-sansio",
            "--no-access-log",
            "--log-level",
            "warning",
        ),
        ("uvicorn", "websockets", "uvloop", "httptools"),
    ),
    WsServer("tornado", "Tornado", ("{python}", "ws_tornado.py", "{port}"), ("tornado",)),
    WsServer("aiohttp", "aiohttp", ("{python}", "ws_aiohttp.py", "{port}"), ("aiohttp", "uvloop")),
    WsServer(
        "floor",
        "floor (uvloop, no WebSocket checks)",
        ("{python}", "ws_floor.py", "{port}"),
        ("uvloop",),
        kind="local",
    ),
    WsServer(
        "node-ws",
        "ws on Node.js (reference)",
        ("{node}", "client.mjs", "serve", "--port", "{port}"),
        (),
        kind="node",
    ),
]


# -- results -----------------------------------------------------------------------------


@dataclass
class EchoRun:
    messages_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    cpu_us_per_message: float
    client_busy: float  # the client's CPU time / the measured seconds (1.0 = its core full)
    server_busy: float  # messages/s x the server's CPU time per message (1.0 = its core full)
    background_cores: float


@dataclass
class EchoResult:
    server: str
    error: str | None = None
    messages_per_s: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    cpu_us_per_message: float | None = None
    client_busy: float | None = None
    server_busy: float | None = None
    background_cores: float = 0.0
    runs: list[EchoRun] = field(default_factory=list)


@dataclass
class IdleResult:
    server: str
    connections: int  # held
    deflate_offered: bool
    asked: int = 0  # the plan's count, when the machine could not hold it (else 0)
    note: str | None = None  # why fewer were held than asked
    error: str | None = None
    extensions: dict[str, int] = field(default_factory=dict)  # accepted -> connections
    rss_before_kib: int | None = None
    rss_after_kib: int | None = None
    anon_before_kib: int | None = None
    anon_after_kib: int | None = None
    rss_kib_per_connection: float | None = None
    anon_kib_per_connection: float | None = None
    connect_s: float | None = None
    closed_early: int = 0


class BenchError(Exception):
    """A measurement could not be made; the message says why."""


# -- processes, memory -------------------------------------------------------------------


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, anonymous) of ``pid``'s process tree in KiB, from /proc/<pid>/smaps_rollup.

    Anonymous memory (heap and anonymous mappings) is where per-connection state lives.
    PSS and USS would not do here: they depend on which other processes map the same
    pages, so starting the clients (which share libc, or the whole node binary with a
    Node.js server) changes the server's figures by itself.
    """
    rss = anon = 0
    for member in http_bench.process_tree(pid):
        try:
            rollup = Path(f"/proc/{member}/smaps_rollup").read_text()
        except OSError:
            continue
        found = dict(re.findall(r"^(\w+):\s+(\d+) kB", rollup, re.MULTILINE))
        rss += int(found.get("Rss", 0))
        anon += int(found.get("Anonymous", 0))
    return rss, anon


def nofile_hard_limit() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def raise_nofile() -> None:
    """In a child before exec: the soft limit of open files up to the hard limit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def ephemeral_ports() -> int:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(high) - int(low) + 1
    except (OSError, ValueError):
        return 28_232  # Linux's default range, 32768-60999


def source_addresses(connections: int) -> list[str]:
    """Enough loopback source addresses for ``connections`` to one server port.

    One source address gives at most the ephemeral port range (about 28k on Linux); each
    is used to 80% at most. The whole of 127.0.0.0/8 is local, so 127.0.0.2 and on work
    without any setup.
    """
    per_address = int(ephemeral_ports() * 0.8)
    return [f"127.0.0.{i + 1}" for i in range(max(1, math.ceil(connections / per_address)))]


def upgrade_answered(port: int) -> bool:
    request = (
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(request)
            return sock.recv(64).startswith(b"HTTP/1.1 101")
    except OSError:
        return False


@dataclass(frozen=True)
class Started:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path


@contextlib.contextmanager
def server_running(
    spec: WsServer, pythons: dict[str, Path], typhoon_root: Path, workdir: Path
) -> Iterator[Started]:
    """Start ``spec`` pinned to core 0 with its soft RLIMIT_NOFILE at the hard limit, wait
    until it answers an upgrade with 101 (30 s at most); always stop it."""
    python = pythons[spec.kind]
    if not python.exists():
        raise BenchError(f"no interpreter at {python} (make bench-ws installs the peers)")
    port = http_bench.free_port()
    values = {"python": str(python), "bin": str(python.parent), "port": str(port)}
    values["node"] = str(pythons["node"])
    argv = [arg.format(**values) for arg in spec.argv]
    cwd = {"typhoon": typhoon_root, "local": SERVERS_DIR, "peer": PEERS_DIR, "node": CLIENT_DIR}[
        spec.kind
    ]
    log = workdir / f"{spec.key}.log"
    with (
        nofile_raised(),
        http_bench.running(argv, cwd, log) as proc,
    ):
        start = time.monotonic()
        while not upgrade_answered(port):
            if proc.poll() is not None:
                raise BenchError(f"exited with status {proc.returncode}: {http_bench.tail(log)}")
            if time.monotonic() - start > http_bench.START_TIMEOUT_S:
                raise BenchError(f"no WebSocket upgrade within 30s: {http_bench.tail(log)}")
            time.sleep(0.1)
        yield Started(proc, port, log)


@contextlib.contextmanager
def nofile_raised() -> Iterator[None]:
    """This process's soft RLIMIT_NOFILE at the hard limit meanwhile (children inherit it)."""
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (before[1], before[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


# -- the client --------------------------------------------------------------------------


def client_argv(node: Path, mode: str, port: int, *options: str) -> list[str]:
    url = f"ws://127.0.0.1:{port}/"
    return ["taskset", "-c", CLIENT_CORE, str(node), str(CLIENT), mode, "--url", url, *options]


def client_json(out: str, what: str) -> dict[str, Any]:
    """The last JSON line the client printed; BenchError if it reported an error."""
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise BenchError(f"{what}: no answer from the client: {out.strip()[-200:]!r}")
    found: dict[str, Any] = json.loads(lines[-1])
    if "error" in found:
        raise BenchError(f"{what}: {found['error']}")
    return found


def run_client(argv: list[str], timeout_s: float, what: str) -> dict[str, Any]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what}: the client did not finish within {timeout_s:.0f}s") from None
    found = client_json(done.stdout, what)
    if done.returncode:
        raise BenchError(f"{what}: the client exited with {done.returncode}: {done.stderr[-200:]}")
    return found


def check(node: Path, port: int, deflate: bool) -> str:
    """A text and a binary message must come back unchanged; the extensions accepted."""
    options = ["--deflate"] if deflate else []
    found = run_client(client_argv(node, "check", port, *options), 30, "check")
    return str(found.get("extensions", ""))


# -- echo --------------------------------------------------------------------------------


def echo_run(node: Path, started: Started, plan: Plan) -> EchoRun:
    if started.proc.poll() is not None:
        raise BenchError(f"the server exited with status {started.proc.returncode}")
    argv = client_argv(
        node,
        "echo",
        started.port,
        f"--connections={CONNECTIONS}",
        f"--window={plan.window}",
        f"--size={MESSAGE_BYTES}",
        f"--warmup={plan.warmup_s}",
        f"--duration={plan.duration_s}",
    )
    pid = started.proc.pid
    before = http_bench.cpu_seconds(pid), http_bench.children_cpu_seconds()
    busy_before = http_bench.machine_busy_seconds()
    start = time.monotonic()
    found = run_client(argv, plan.warmup_s + plan.duration_s + 60, "echo")
    elapsed = time.monotonic() - start
    cpu = http_bench.cpu_seconds(pid) - before[0]
    client_cpu = http_bench.children_cpu_seconds() - before[1]
    busy = http_bench.machine_busy_seconds() - busy_before
    if found["mismatches"] or found["closed_early"]:
        raise BenchError(
            f"echo: {found['mismatches']} echoes differed, {found['closed_early']} connections "
            "closed by the server"
        )
    total = int(found["messages_total"])
    rate = float(found["messages_per_s"])
    cpu_us = cpu / total * 1e6 if total else float("nan")
    return EchoRun(
        messages_per_s=rate,
        p50_ms=found.get("p50_ms"),
        p99_ms=found.get("p99_ms"),
        cpu_us_per_message=cpu_us,
        client_busy=round(float(found["client_cpu_s"]) / float(found["seconds"]), 3),
        server_busy=round(rate * cpu_us / 1e6, 3),
        background_cores=round(max(0.0, busy - cpu - client_cpu) / elapsed, 3),
    )


def summarize_echo(result: EchoResult) -> EchoResult:
    median = sorted(result.runs, key=lambda r: r.messages_per_s)[len(result.runs) // 2]
    result.messages_per_s = median.messages_per_s
    result.p50_ms, result.p99_ms = median.p50_ms, median.p99_ms
    result.cpu_us_per_message = median.cpu_us_per_message
    result.client_busy, result.server_busy = median.client_busy, median.server_busy
    result.background_cores = max(r.background_cores for r in result.runs)
    return result


# -- idle --------------------------------------------------------------------------------


def idle_problem(connections: int) -> str | None:
    """Why this machine cannot hold ``connections`` in one server process, or None."""
    hard = nofile_hard_limit()
    if connections + FD_MARGIN > hard:
        return (
            f"{connections:,} connections need RLIMIT_NOFILE >= {connections + FD_MARGIN:,}; "
            f"the hard limit here is {hard:,} (raising it takes CAP_SYS_RESOURCE: "
            "`ulimit -Hn N` as root, or limits.conf)"
        )
    return None


def most_connections() -> int:
    """The largest round thousand of connections one server process can hold here."""
    return max(0, (nofile_hard_limit() - FD_MARGIN) // 1000 * 1000)


def hold_clients(node: Path, port: int, connections: int, deflate: bool) -> list[list[str]]:
    """The argv of each client process: CONNECTIONS_PER_CLIENT each at most, every client
    spreading its connections over the source addresses ``connections`` needs."""
    addresses = source_addresses(connections)
    count = math.ceil(connections / CONNECTIONS_PER_CLIENT)
    shares = [connections // count + (i < connections % count) for i in range(count)]
    options = ["--deflate"] if deflate else []
    if len(addresses) > 1:  # else a plain connect(): the kernel picks the source port
        options.append(f"--addresses={','.join(addresses)}")
    return [client_argv(node, "hold", port, f"--connections={share}", *options) for share in shares]


def measure_idle(
    node: Path, started: Started, connections: int, deflate: bool, result: IdleResult
) -> None:
    pid = started.proc.pid
    check(node, started.port, deflate)  # one connection first: code and zlib loaded
    time.sleep(1.0)
    result.rss_before_kib, result.anon_before_kib = memory_kib(pid)
    clients = [
        subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=raise_nofile,
        )
        for argv in hold_clients(node, started.port, connections, deflate)
    ]
    try:
        start = time.monotonic()
        ready = 0
        for client in clients:
            assert client.stdout is not None
            line = client.stdout.readline()  # {"ready": n, ...} once all its connections are
            found = client_json(line or (client.stderr.read() if client.stderr else ""), "hold")
            ready += int(found["ready"])
            for name, n in found["extensions"].items():
                result.extensions[name] = result.extensions.get(name, 0) + int(n)
        result.connect_s = round(time.monotonic() - start, 1)
        if ready != connections:
            raise BenchError(f"hold: {ready} of {connections} connections ready")
        time.sleep(SETTLE_S)
        if started.proc.poll() is not None:
            raise BenchError(f"the server exited with status {started.proc.returncode}")
        result.rss_after_kib, result.anon_after_kib = memory_kib(pid)
    finally:
        for client in clients:  # each says how many of its connections closed early, exits
            with contextlib.suppress(OSError):
                client.send_signal(signal.SIGTERM)
        for client in clients:
            try:
                out, _err = client.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                client.kill()
                out, _err = client.communicate()
            closed = re.search(r'"closed_early":(\d+)', out or "")
            result.closed_early += int(closed.group(1)) if closed else 0
    result.rss_kib_per_connection = (result.rss_after_kib - result.rss_before_kib) / connections
    result.anon_kib_per_connection = (result.anon_after_kib - result.anon_before_kib) / connections
    if result.closed_early:
        raise BenchError(f"hold: the server closed {result.closed_early} idle connections")


# -- one server --------------------------------------------------------------------------


def bench_echo(
    spec: WsServer, pythons: dict[str, Path], root: Path, plan: Plan, workdir: Path
) -> EchoResult:
    result = EchoResult(spec.key)
    try:
        with server_running(spec, pythons, root, workdir) as started:
            check(pythons["node"], started.port, deflate=False)
            attempts = [echo_run(pythons["node"], started, plan)]
            while (
                attempts[-1].background_cores > BACKGROUND_WARN
                and len(attempts) <= plan.retries
                and plan.retried < plan.retry_budget
            ):
                plan.retried += 1
                http_bench.wait_quiet(started.proc.pid)  # other work: let it pass, try again
                attempts.append(echo_run(pythons["node"], started, plan))
            result.runs.append(min(attempts, key=lambda run: run.background_cores))
    except (BenchError, OSError) as exc:
        result.error = str(exc)
        return result
    return summarize_echo(result)


def bench_idle(
    spec: WsServer,
    pythons: dict[str, Path],
    root: Path,
    connections: int,
    deflate: bool,
    workdir: Path,
) -> IdleResult:
    result = IdleResult(spec.key, connections, deflate)
    problem = idle_problem(connections)
    if problem:  # measure the most this machine allows, and say so
        result.asked, result.connections, result.note = connections, most_connections(), problem
        if not result.connections:
            result.error = f"skipped: {problem}"
            return result
        connections = result.connections
    try:
        with server_running(spec, pythons, root, workdir) as started:
            measure_idle(pythons["node"], started, connections, deflate, result)
    except (BenchError, OSError) as exc:
        result.error = str(exc)
    return result


# -- output ------------------------------------------------------------------------------


def fmt(value: float | None, spec: str = ",.0f") -> str:
    return "—" if value is None or value != value else format(value, spec)


def echo_line(r: EchoResult) -> str:
    if r.error:
        return f"echo FAILED: {r.error}"
    return (
        f"echo {fmt(r.messages_per_s):>9} msg/s  p99 {fmt(r.p99_ms, '.2f')} ms  "
        f"{fmt(r.cpu_us_per_message, '.1f')} µs/msg  server core {fmt(r.server_busy, '.0%')}  "
        f"client core {fmt(r.client_busy, '.0%')}"
        + (
            f"  [other work used {r.background_cores:.2f} cores]"
            if r.background_cores > BACKGROUND_WARN
            else ""
        )
    )


def idle_line(r: IdleResult) -> str:
    what = f"idle {r.connections:,} {'deflate offered' if r.deflate_offered else 'no deflate'}"
    if r.asked:
        what += f" ({r.asked:,} asked: over the RLIMIT_NOFILE hard limit)"
    if r.error:
        return f"{what}: {r.error}"
    return (
        f"{what}: {fmt(r.rss_kib_per_connection, '.1f')} KiB RSS, "
        f"{fmt(r.anon_kib_per_connection, '.1f')} KiB anonymous per connection "
        f"(accepted {extensions_text(r.extensions)}; connected in {r.connect_s} s)"
    )


def extensions_text(extensions: dict[str, int]) -> str:
    if not extensions:
        return "—"
    return "; ".join(f"{name or 'none'} x{n:,}" for name, n in extensions.items())


def markdown(
    echo: Sequence[EchoResult],
    idle: Sequence[IdleResult],
    servers: Sequence[WsServer],
    meta: dict[str, Any],
) -> str:
    names = {s.key: s.name for s in servers}
    m = meta["machine"]
    out = [
        f"# WebSocket benchmark results {meta['date']}{' (quick)' if meta['quick'] else ''}",
        "",
        f"{meta['method']}. Machine: {m['cpu']}, {m['cpus']} cores, Linux {m['kernel']}; "
        f"typhoon {m['typhoon_commit']}; node {m['node']}, ws {m['ws']}; "
        f"{meta['seconds']} s in all"
        + (
            f"; {meta['plan']['retried']} echo run(s) done again because other work was "
            "using the machine."
            if meta["plan"]["retried"]
            else "."
        ),
    ]
    if echo:
        out += [
            "",
            f"## Echo: {CONNECTIONS} connections, {meta['plan']['window']} message(s) of "
            f"{MESSAGE_BYTES} bytes "
            "in flight on each, no compression",
            "",
            "| server | messages/s | x uvicorn | p50 ms | p99 ms | server CPU µs/msg "
            "| server core busy | client core busy | other work (cores) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        base = next((r for r in echo if r.server == "uvicorn" and not r.error), None)
        for r in echo:
            if r.error:
                out.append(f"| {names[r.server]} | failed: {r.error.replace('|', '/')} |")
                continue
            x = http_bench.ratio(r.messages_per_s, base.messages_per_s if base else None)
            out.append(
                f"| {names[r.server]} | {fmt(r.messages_per_s)} | {http_bench.fmt_ratio(x)} | "
                f"{fmt(r.p50_ms, '.2f')} | {fmt(r.p99_ms, '.2f')} | "
                f"{fmt(r.cpu_us_per_message, '.1f')} | {fmt(r.server_busy, '.0%')} | "
                f"{fmt(r.client_busy, '.0%')} | "
                f"{fmt(r.background_cores, '.2f')} |"
            )
        disturbed = [names[r.server] for r in echo if r.background_cores > BACKGROUND_WARN]
        out += [
            "",
            "Server CPU per message is the steadiest figure; messages/s follows the machine's "
            "speed of the minute. A client core near 100% means the client set the pace; "
            "neither core full, that waiting did (wake-ups, the VM)."
            + (
                f" Other work used more than {BACKGROUND_WARN} core during the runs of "
                f"{', '.join(disturbed)}: their figures are suspect."
                if disturbed
                else ""
            ),
        ]
    for deflate in (True, False):
        rows = [r for r in idle if r.deflate_offered == deflate]
        if not rows:
            continue
        offered = (
            "the client offers permessage-deflate (as browsers do)"
            if deflate
            else "no permessage-deflate offered"
        )
        out += [
            "",
            f"## Memory per idle connection, {offered}",
            "",
            "| server | connections | KiB RSS / conn | KiB anon / conn "
            "| RSS before → after MiB | extension accepted | connect s |",
            "|---|---:|---:|---:|---:|---|---:|",
        ]
        notes: dict[str, None] = {}  # in order, once each
        for i in rows:
            held = f"{i.connections:,}" + (f" ({i.asked:,} asked \\*)" if i.asked else "")
            if i.note:
                notes[f"\\* {i.note}: the most it allows was measured."] = None
            if i.error:
                error = i.error.replace("|", "/")
                out.append(f"| {names[i.server]} | {held} | {error} | | | | |")
                continue
            assert i.rss_before_kib is not None
            assert i.rss_after_kib is not None
            out.append(
                f"| {names[i.server]} | {held} | "
                f"{fmt(i.rss_kib_per_connection, '.1f')} | "
                f"{fmt(i.anon_kib_per_connection, '.1f')} | "
                f"{i.rss_before_kib / 1024:.1f} → {i.rss_after_kib / 1024:.1f} | "
                f"{extensions_text(i.extensions)} | {i.connect_s} |"
            )
        if notes:
            out += ["", *notes]
    out += ["", "## Versions", "", "| server | versions |", "|---|---|"]
    for spec in servers:
        found = meta["versions"].get(spec.key, {})
        text = ", ".join(f"{k} {v}" for k, v in found.items() if k != "python")
        python = found.get("python")
        out.append(f"| {spec.name} | {text}{f'; Python {python}' if python else ''} |")
    return "\n".join(out) + "\n"


# -- main --------------------------------------------------------------------------------


def method(plan: Plan) -> str:
    runs = f"median of {plan.rounds} rounds" if plan.rounds > 1 else "1 run"
    return (
        f"each server alone on core {SERVER_CORE}, the Node.js client (ws) on core "
        f"{CLIENT_CORE}; echo: {CONNECTIONS} connections x {plan.window} in flight, "
        f"{MESSAGE_BYTES}-byte text, {plan.duration_s:g} s after a {plan.warmup_s:g} s "
        f"warm-up, {runs}; idle: {', '.join(f'{n:,}' for n in plan.idle_counts)} connections, "
        f"memory read {SETTLE_S:g} s after the last is ready"
    )


def node_versions(node: Path) -> dict[str, str]:
    version = http_bench.command_output([str(node), "--version"])
    try:
        ws = json.loads((CLIENT_DIR / "node_modules" / "ws" / "package.json").read_text())
        ws_version = str(ws["version"])
    except (OSError, ValueError, KeyError):
        ws_version = "?"
    return {"node": version, "ws": ws_version}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one 2 s echo run, 2,000 idle")
    parser.add_argument("--peers-python", type=Path, default=DEFAULT_PEERS_PYTHON)
    parser.add_argument("--node", type=Path, default=Path("node"), help="the Node.js binary")
    parser.add_argument(
        "--typhoon-root",
        type=Path,
        default=ROOT,
        help="where examples.websocket_echo is imported from (the repository by default)",
    )
    parser.add_argument("--servers", help="comma-separated keys (then nothing is written)")
    parser.add_argument(
        "--parts", help="echo and/or idle, comma-separated (then nothing is written)"
    )
    parser.add_argument(
        "--idle", help="comma-separated connection counts instead of the plan's (10000,50000)"
    )
    parser.add_argument(
        "--window",
        type=int,
        help="echo messages in flight per connection (1; then nothing is written)",
    )
    args = parser.parse_args()
    plan = quick_plan() if args.quick else full_plan()
    if args.idle:
        plan.idle_counts = tuple(int(n) for n in args.idle.split(","))
    if args.window:
        plan.window = args.window
    node = Path(http_bench.command_output(["which", str(args.node)]) or args.node)
    if not (CLIENT_DIR / "node_modules" / "ws").exists():
        sys.exit("bench-ws: no bench/wsclient/node_modules (make bench-ws runs npm ci there)")
    if http_bench.command_output(["which", "taskset"]) == "":
        sys.exit("bench-ws: taskset is missing (apt-get install util-linux)")
    keys = http_bench.pick(args.servers, [s.key for s in SERVERS], "server")
    servers = [s for s in SERVERS if s.key in keys]
    parts = http_bench.pick(args.parts, ["echo", "idle"], "part")
    partial = bool(args.servers or args.parts or args.idle or args.window)
    pythons = {
        "typhoon": Path(sys.executable),
        "local": Path(sys.executable),
        "peer": args.peers_python.absolute(),
        "node": node,
    }
    root = args.typhoon_root.resolve()

    started = time.monotonic()
    host = http_bench.machine()
    host.pop("wrk", None)
    host.update(node_versions(node))
    host["typhoon_commit"] = typhoon_commit(root)
    host["nofile_hard_limit"] = nofile_hard_limit()
    host["ephemeral_ports"] = ephemeral_ports()
    print(f"bench-ws: {len(servers)} servers; {method(plan)}", flush=True)
    echo: list[EchoResult] = []
    idle: list[IdleResult] = []
    with tempfile.TemporaryDirectory(prefix="typhoon-bench-ws-") as tmp:
        workdir = Path(tmp)
        if "echo" in parts:
            by_server: dict[str, EchoResult] = {}
            for number in range(plan.rounds):
                order = servers if number % 2 == 0 else servers[::-1]
                if plan.rounds > 1:
                    print(f"-- echo, round {number + 1} of {plan.rounds}", flush=True)
                for spec in order:
                    r = bench_echo(spec, pythons, root, plan, workdir)
                    print(f"{spec.name}: {echo_line(r)}", flush=True)
                    into = by_server.setdefault(spec.key, r)
                    if into is not r and into.error is None:
                        if r.error is not None:
                            by_server[spec.key] = r
                        else:
                            into.runs.extend(r.runs)
                            summarize_echo(into)
            echo = [by_server[s.key] for s in servers]
        if "idle" in parts:
            for connections in plan.idle_counts:
                for deflate in (True, False):
                    for spec in servers:
                        held = bench_idle(spec, pythons, root, connections, deflate, workdir)
                        idle.append(held)
                        print(f"{spec.name}: {idle_line(held)}", flush=True)
    elapsed = time.monotonic() - started

    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    meta: dict[str, Any] = {
        "date": date,
        "quick": args.quick,
        "seconds": round(elapsed),
        "method": method(plan),
        "plan": asdict(plan),
        "machine": host,
        "versions": {
            s.key: (
                http_bench.versions(pythons[s.kind], s.packages)
                if s.kind != "node"
                else {"node": host["node"], "ws": host["ws"]}
            )
            for s in servers
        },
        "servers": {s.key: {"name": s.name, "argv": list(s.argv)} for s in servers},
    }
    md = markdown(echo, idle, servers, meta)
    print("\n" + md)
    if partial:
        print(f"(a partial run: nothing written) {elapsed:.0f}s")
        return 0
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"ws-{date}{'-quick' if args.quick else ''}.json"
    payload = {
        "meta": meta,
        "echo": [asdict(r) for r in echo],
        "idle": [asdict(r) for r in idle],
    }
    out.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    out.with_suffix(".md").write_text(md)
    print(f"written: {out.relative_to(ROOT)}, {out.with_suffix('.md').relative_to(ROOT)}")
    return 0


def typhoon_commit(root: Path) -> str:
    commit = http_bench.command_output(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    dirty = http_bench.command_output(
        ["git", "-C", str(root), "status", "--porcelain", "--", "src"]
    )
    return f"{commit} ({root})" + (" +uncommitted src changes" if dirty else "")


if __name__ == "__main__":
    raise SystemExit(main())
