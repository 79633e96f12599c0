"""make bench: load each server with wrk, one at a time, and tabulate the results.

Each server runs alone, pinned to core 0 (taskset); wrk runs pinned to core 1
(``-t1 -c64``), three runs per scenario, the median kept. Besides requests/s and p99
latency, the server's CPU time per request is read from /proc (one wrk thread can
saturate before a fast server does) and its RSS after the runs.

Adding a scenario is one entry in SCENARIOS; adding a server is one entry in SERVERS.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
PY = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str


@dataclass(frozen=True)
class ServerSpec:
    name: str
    argv: list[str]
    scenarios: tuple[str, ...]


SCENARIOS = {s.name: s for s in (Scenario("plaintext", "/plaintext"), Scenario("json", "/json"))}

SERVERS = [
    ServerSpec(
        "typhoon (function view)",
        [
            PY,
            "-m",
            "typhoon",
            "run",
            "typhoon_views:app",
            "--port",
            "{port}",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        ("plaintext", "json"),
    ),
    ServerSpec("floor (uvloop + httptools)", [PY, "floor.py", "{port}"], ("plaintext",)),
]


@dataclass
class Result:
    server: str
    scenario: str
    requests_per_s: float
    p99_ms: float
    cpu_us_per_request: float
    rss_mib: float
    errors: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, path: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode()
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(request)
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not answer {path} within {timeout}s")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def rss_mib(pid: int) -> float:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else 0.0


def run_wrk(url: str, duration_s: int) -> tuple[float, float, int, int]:
    """Return (requests/s, p99 ms, requests, socket errors + non-2xx)."""
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", "-c64", f"-d{duration_s}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    p99_ms = float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p99_ms, total, errors + (int(non2xx.group(1)) if non2xx else 0)


def bench_server(spec: ServerSpec, runs: int, duration_s: int) -> list[Result]:
    port = free_port()
    argv = [a.format(port=port) for a in spec.argv]
    proc = subprocess.Popen(
        ["taskset", "-c", "0", *argv],
        cwd=HERE / "servers",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results = []
    try:
        wait_ready(port, SCENARIOS[spec.scenarios[0]].path)
        for name in spec.scenarios:
            url = f"http://127.0.0.1:{port}{SCENARIOS[name].path}"
            samples = []
            for _ in range(runs):
                before = cpu_seconds(proc.pid)
                rps, p99, total, errors = run_wrk(url, duration_s)
                cpu = cpu_seconds(proc.pid) - before
                samples.append((rps, p99, cpu / max(total, 1) * 1e6, errors))
            rps, p99, cpu_us, _ = sorted(samples)[len(samples) // 2]
            results.append(
                Result(
                    spec.name, name, rps, p99, cpu_us, rss_mib(proc.pid), sum(s[3] for s in samples)
                )
            )
            print(
                f"  {spec.name:32} {name:12} {rps:>10.0f} req/s  p99 {p99:6.2f} ms  "
                f"{cpu_us:6.1f} µs/req",
                flush=True,
            )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return results


def table(results: list[Result]) -> str:
    floor = {r.scenario: r.requests_per_s for r in results if r.server.startswith("floor")}
    lines = [
        "| server | scenario | req/s | x floor | p99 ms | CPU µs/req | RSS MiB | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ratio = f"{r.requests_per_s / floor[r.scenario]:.2f}" if r.scenario in floor else "—"
        lines.append(
            f"| {r.server} | {r.scenario} | {r.requests_per_s:,.0f} | {ratio} | "
            f"{r.p99_ms:.2f} | {r.cpu_us_per_request:.1f} | {r.rss_mib:.1f} | {r.errors} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 run of 3 s per scenario")
    args = parser.parse_args()
    runs, duration = (1, 3) if args.quick else (3, 5)
    for tool in ("wrk", "taskset"):
        if subprocess.run(["which", tool], capture_output=True).returncode:
            sys.exit(f"bench: {tool} is missing (apt-get install wrk util-linux)")
    results: list[Result] = []
    for spec in SERVERS:
        results.extend(bench_server(spec, runs, duration))
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    meta = {
        "date": stamp,
        "quick": args.quick,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "wrk": f"-t1 -c64 -d{duration}s, {runs} run(s), median",
    }
    out = RESULTS / f"{stamp}{'-quick' if args.quick else ''}.json"
    out.write_text(json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=2))
    md = table(results)
    out.with_suffix(".md").write_text(md + "\n")
    print("\n" + md + f"\n\nwritten: {out.relative_to(ROOT)} and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
