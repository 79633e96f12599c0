"""make autobahn: run Autobahn|Testsuite's fuzzing client against an echo server, score it.

The server (typhoon's ``examples.websocket_echo:app`` by default, or the websockets
library's echo in echo_websockets.py, to check this harness) is started on a free port of
127.0.0.1; ``wstest -m fuzzingclient`` (Autobahn|Testsuite 0.8.2, in its own Python 2.7
virtualenv: see the Makefile) runs the chosen cases against it; the JSON report
(``<reports>/servers/index.json``) is read back and scored, one line per case group.

Gate: the exit status is 1 when a case's behavior is FAILED, or its close behavior is
FAILED, WRONG CODE or UNCLEAN (the server closed with a code the case does not allow, or
dropped the TCP connection without the closing handshake). OK, NON-STRICT, INFORMATIONAL
and UNIMPLEMENTED pass, and every case that is not OK is listed. ``--allow 7.1.5,...``
names cases whose failure is known and accepted: they are listed as allowed and do not fail
the gate. The exit status is 2 when the run itself went wrong (the server did not start,
wstest failed, no report).

``--report FILE`` scores an index.json from an earlier run, without starting anything.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DEFAULT_REPORTS = HERE / "reports"
DEFAULT_WSTEST = HERE / ".venv-py27" / "bin" / "wstest"
DEFAULT_APP = "examples.websocket_echo:app"

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
WSTEST_TIMEOUT_S = 3 * 3600.0

# Autobahn|Testsuite 0.8.2's case groups (there is no group 8 or 11).
GROUPS: dict[str, str] = {
    "1": "framing",
    "2": "pings and pongs",
    "3": "reserved bits",
    "4": "opcodes",
    "5": "fragmentation",
    "6": "UTF-8",
    "7": "close handshake",
    "9": "limits, large messages",
    "10": "auto-fragmentation",
    "12": "permessage-deflate, payloads",
    "13": "permessage-deflate, parameters",
}
BEHAVIORS = ("OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED")
FAILING_BEHAVIORS = frozenset({"FAILED"})
FAILING_CLOSE_BEHAVIORS = frozenset({"FAILED", "WRONG CODE", "UNCLEAN"})


class HarnessError(Exception):
    """The run itself went wrong (exit status 2); the message says why."""


# -- the report --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    behavior: str
    close: str
    close_code: int | None
    duration_ms: int

    @property
    def group(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def key(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.id.split("."))

    @property
    def failed(self) -> bool:
        return self.behavior in FAILING_BEHAVIORS or self.close in FAILING_CLOSE_BEHAVIORS

    def fails_gate(self, allowed: frozenset[str]) -> bool:
        return self.failed and self.id not in allowed

    @property
    def ok(self) -> bool:
        return self.behavior == "OK" and self.close in ("OK", "INFORMATIONAL")


@dataclass
class GroupScore:
    group: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BEHAVIORS, 0))
    close_not_ok: int = 0
    seconds: float = 0.0


def read_report(index: Path) -> tuple[str, list[Case]]:
    """The agent's name and its cases, in case order, from wstest's index.json.

    Raises:
        HarnessError: no such file, not a report, or not exactly one agent in it.
    """
    try:
        data = json.loads(index.read_text())
    except (OSError, ValueError) as exc:
        raise HarnessError(f"cannot read {index}: {exc}") from None
    if not isinstance(data, dict) or len(data) != 1:
        raise HarnessError(f"{index}: expected the results of one agent")
    agent, results = next(iter(data.items()))
    cases = [
        Case(
            id=case_id,
            behavior=str(r.get("behavior")),
            close=str(r.get("behaviorClose")),
            close_code=r.get("remoteCloseCode"),
            duration_ms=int(r.get("duration") or 0),
        )
        for case_id, r in results.items()
    ]
    if not cases:
        raise HarnessError(f"{index}: no case was run")
    return agent, sorted(cases, key=lambda c: c.key)


def score(cases: Sequence[Case]) -> list[GroupScore]:
    groups: dict[str, GroupScore] = {}
    for case in cases:
        g = groups.setdefault(case.group, GroupScore(case.group))
        g.counts[case.behavior] = g.counts.get(case.behavior, 0) + 1
        g.close_not_ok += case.close not in ("OK", "INFORMATIONAL")
        g.seconds += case.duration_ms / 1000
    return sorted(groups.values(), key=lambda g: int(g.group))


def table(
    agent: str,
    cases: Sequence[Case],
    elapsed_s: float | None = None,
    allowed: frozenset[str] = frozenset(),
) -> str:
    """The score table and the list of cases that are not OK, as text."""
    scores = score(cases)
    columns = [*BEHAVIORS, "close!OK"]
    head = f"{'group':<36}" + "".join(f"{c:>14}" for c in columns) + f"{'case s':>9}"
    out = [
        f"Autobahn|Testsuite fuzzingclient, agent {agent}: {len(cases)} cases"
        + (f" in {elapsed_s:.0f} s" if elapsed_s is not None else ""),
        "",
        head,
        "-" * len(head),
    ]
    total = GroupScore("total")
    for g in scores:
        title = f"{g.group:>2} {GROUPS.get(g.group, '?')}"
        cells = [g.counts.get(b, 0) for b in BEHAVIORS] + [g.close_not_ok]
        out.append(f"{title:<36}" + "".join(f"{n:>14}" for n in cells) + f"{g.seconds:>9.1f}")
        for b in BEHAVIORS:
            total.counts[b] += g.counts.get(b, 0)
        total.close_not_ok += g.close_not_ok
        total.seconds += g.seconds
    cells = [total.counts[b] for b in BEHAVIORS] + [total.close_not_ok]
    out += ["-" * len(head), f"{'total':<36}" + "".join(f"{n:>14}" for n in cells)]
    out[-1] += f"{total.seconds:>9.1f}"
    others = [c for c in cases if not c.ok]
    if others:
        out += ["", f"not OK ({len(others)}):"]
        out += [
            f"  {c.id:<10} {c.behavior:<14} close {c.close:<12} code {c.close_code}"
            + (
                "   <- fails the gate"
                if c.fails_gate(allowed)
                else ("   (allowed: --allow)" if c.failed else "")
            )
            for c in others
        ]
    failed = sum(c.fails_gate(allowed) for c in cases)
    allowed_failed = sum(c.failed and c.id in allowed for c in cases)
    out += [
        "",
        f"gate: {'FAIL' if failed else 'PASS'} ({failed} case(s) FAILED, or closed"
        " FAILED / WRONG CODE / UNCLEAN"
        + (f"; {allowed_failed} more allowed" if allowed_failed else "")
        + ")",
    ]
    return "\n".join(out)


# -- the server --------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    agent: str
    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)  # added to this process's


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_for(kind: str, app: str, root: Path, port: int) -> Server:
    if kind == "typhoon":
        argv = [sys.executable, "-m", "typhoon", "run", app, "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--no-access-log", "--log-level", "warning"]
        return Server("typhoon", argv, root)
    if kind == "websockets":
        # websockets' asyncio layer fails a message of 4096 fragments or more (1009, "too
        # many fragments"); cases 9.3.1 and 9.4.1 send 4 MiB in 65,536 fragments of 64 bytes.
        env = {"WEBSOCKETS_MAX_FRAGMENTS": str(2 * 4 * 1024 * 1024 // 64)}
        return Server("websockets", [sys.executable, "echo_websockets.py", str(port)], HERE, env)
    raise ValueError(f"unknown server {kind!r}: typhoon or websockets")


def upgrade_answered(port: int) -> bool:
    """Whether the server answers a WebSocket upgrade on / with 101."""
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


@contextlib.contextmanager
def running(server: Server, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start the server in its own process group, wait until it upgrades; always stop it."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            server.argv,
            cwd=server.cwd,
            env={**os.environ, **server.env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not upgrade_answered(port):
            if proc.poll() is not None:
                raise HarnessError(f"the server exited with {proc.returncode}: {tail(log)}")
            if time.monotonic() > deadline:
                raise HarnessError(f"no WebSocket upgrade within {START_TIMEOUT_S:.0f}s")
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(STOP_TIMEOUT_S)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def tail(path: Path, lines: int = 8) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


# -- wstest ------------------------------------------------------------------------------


def case_patterns(selection: str) -> list[str]:
    """``"1-13"``, ``"1,2,9"`` or ``"6.4.*,7"`` -> wstest case patterns.

    A group number or range stands for its groups' cases; anything with a dot is a
    pattern passed as it is.
    """
    patterns: list[str] = []
    for part in (p.strip() for p in selection.split(",")):
        if not part:
            continue
        if "." in part:
            patterns.append(part)
        elif re.fullmatch(r"\d+-\d+", part):
            low, high = (int(n) for n in part.split("-"))
            patterns += [f"{g}.*" for g in GROUPS if low <= int(g) <= high]
        elif part.isdigit():
            patterns.append(f"{part}.*")
        else:
            raise ValueError(f"bad case selection {part!r}")
    if not patterns:
        raise ValueError(f"no cases in {selection!r}")
    return patterns


def spec(agent: str, url: str, patterns: Sequence[str], outdir: Path) -> dict[str, Any]:
    return {
        "outdir": str(outdir),
        "servers": [{"agent": agent, "url": url}],
        "cases": list(patterns),
        "exclude-cases": [],
        "exclude-agent-cases": {},
    }


def run_wstest(wstest: Path, spec_file: Path, log: Path) -> None:
    if not wstest.exists():
        raise HarnessError(f"no {wstest} (make autobahn installs it)")
    with log.open("wb") as out:
        try:
            done = subprocess.run(
                [str(wstest), "-m", "fuzzingclient", "-s", str(spec_file)],
                cwd=spec_file.parent,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=WSTEST_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise HarnessError(f"wstest did not finish within {WSTEST_TIMEOUT_S:.0f}s") from None
    if done.returncode:
        raise HarnessError(f"wstest exited with {done.returncode}: {tail(log)}")


def fuzz(args: argparse.Namespace, reports: Path) -> tuple[str, list[Case], float]:
    port = free_port()
    server = server_for(args.server, args.app, args.root.resolve(), port)
    outdir = reports / "servers"
    if outdir.exists():  # a report of an earlier run would mix in
        for old in outdir.iterdir():
            old.unlink()
    reports.mkdir(parents=True, exist_ok=True)
    spec_file = reports / "fuzzingclient.json"
    patterns = case_patterns(args.cases)
    wstest = args.wstest.absolute()  # wstest runs in the reports folder
    url = f"ws://127.0.0.1:{port}/"
    spec_file.write_text(json.dumps(spec(server.agent, url, patterns, outdir), indent=2) + "\n")
    print(f"autobahn: {server.agent} on {url} ({' '.join(server.argv)}); cases {patterns}")
    print(f"autobahn: wstest log in {reports / 'wstest.log'}", flush=True)
    started = time.monotonic()
    with running(server, port, reports / "server.log"):
        run_wstest(wstest, spec_file, reports / "wstest.log")
    elapsed = time.monotonic() - started
    agent, cases = read_report(outdir / "index.json")
    return agent, cases, elapsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--server",
        default="typhoon",
        choices=("typhoon", "websockets"),
        help="typhoon (the app below) or the websockets library's echo (checks the harness)",
    )
    parser.add_argument("--app", default=DEFAULT_APP, help="typhoon's echo app, module:attr")
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the folder typhoon's app is imported from"
    )
    parser.add_argument(
        "--cases", default="1-13", help="groups and patterns, e.g. 1-10 or 1,7,6.4.* (1-13)"
    )
    parser.add_argument("--wstest", type=Path, default=DEFAULT_WSTEST)
    parser.add_argument("--reports", type=Path, default=DEFAULT_REPORTS)
    parser.add_argument("--report", type=Path, help="only score this index.json")
    parser.add_argument(
        "--allow", default="", help="case ids whose failure does not fail the gate, e.g. 7.1.5"
    )
    args = parser.parse_args(argv)
    try:
        if args.report:
            agent, cases = read_report(args.report)
            elapsed: float | None = None
        else:
            agent, cases, elapsed = fuzz(args, args.reports.absolute())
    except (HarnessError, ValueError) as exc:
        print(f"autobahn: {exc}", file=sys.stderr)
        return 2
    allowed = frozenset(c.strip() for c in args.allow.split(",") if c.strip())
    print(table(agent, cases, elapsed, allowed))
    if not args.report:
        print(f"\nreport: {args.reports / 'servers' / 'index.html'}")
    return 1 if any(c.fails_gate(allowed) for c in cases) else 0


if __name__ == "__main__":
    raise SystemExit(main())
