"""Instructions per request for typhoon's hot path: exact, repeatable, unaffected by load.

Wall-clock figures on a shared two-core VM move by 10% from one minute to the next, so
a change to the hot path is judged first by how many instructions a request costs under
callgrind (valgrind's instruction counter), then confirmed with ``make bench``. The
server here is typhoon's own ``HTTPProtocol`` fed from memory on uvloop's loop, with a
transport that drops what it is given: no sockets, no kernel, only typhoon's code,
httptools and the interpreter.

Each figure is the difference between a run of 3,000 requests and one of 1,000 (after
500 to warm up), divided by 2,000, so start-up and imports cancel out::

    python bench/instructions.py                              # every app and scenario
    python bench/instructions.py --apps typhoon_views --scenarios plaintext,routes200
    python bench/instructions.py --scenarios plaintext --access-log text   # or json

``--access-log`` turns the access log on, written to /dev/null in that format (the
default, ``off``, is how the server runs with ``--no-access-log``).

It needs valgrind (``apt-get install valgrind``); one figure takes about 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SERVERS_DIR = HERE / "servers"
APPS = ("typhoon_views", "typhoon_handlers")
HOST = b"Host: 127.0.0.1:8080\r\n"
_ECHO = b'{"k":"' + b"x" * 4080 + b'"}'
REQUESTS: dict[str, bytes] = {
    "plaintext": b"GET /plaintext HTTP/1.1\r\n" + HOST + b"\r\n",
    "pipelined": (b"GET /plaintext HTTP/1.1\r\n" + HOST + b"\r\n") * 16,
    "json": b"GET /json HTTP/1.1\r\n" + HOST + b"\r\n",
    "routes200": b"GET /route137/42 HTTP/1.1\r\n" + HOST + b"\r\n",
    "16k": b"GET /16k HTTP/1.1\r\n" + HOST + b"\r\n",
    "echo4k": b"POST /echo HTTP/1.1\r\n"
    + HOST
    + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(_ECHO)
    + _ECHO,
}
PER_WRITE = {"pipelined": 16}  # requests per data_received call
WARMUP, SHORT, LONG = 500, 1000, 3000


class NullTransport(asyncio.Transport):
    """Takes what the protocol writes and keeps only the start of the last write."""

    def __init__(self) -> None:
        super().__init__()
        self.last = b""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.last = bytes(data)

    def writelines(self, list_of_data: Any) -> None:
        pieces = list(list_of_data)
        self.last = bytes(pieces[0])  # a head, or the first of pipelined answers

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 50000) if name in ("peername", "sockname") else default

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        raise RuntimeError("the server closed the connection: the scenario is broken")


def log_to_devnull(access_log: str) -> None:
    """Send the access log to /dev/null as text or JSON lines."""
    import logging
    import os

    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - for the run
    if access_log == "json":
        from typhoon.http.logs import JSONFormatter

        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(message)s"))
    access = logging.getLogger("typhoon.access")
    access.addHandler(handler)
    access.propagate = False
    access.setLevel(logging.INFO)


async def feed(app_module: str, scenario: str, count: int, access_log: str = "off") -> None:
    """Serve ``WARMUP + count`` writes of ``scenario`` on one in-memory connection."""
    from typhoon.http.limits import HTTPConfig
    from typhoon.http.protocol import HTTPProtocol
    from typhoon.http.state import ServerState

    sys.path.insert(0, str(SERVERS_DIR))
    app = importlib.import_module(app_module).app
    if access_log != "off":
        log_to_devnull(access_log)
    config = HTTPConfig(access_log=access_log != "off")
    protocol = HTTPProtocol(app, ServerState(config))
    transport = NullTransport()
    protocol.connection_made(transport)
    data = REQUESTS[scenario]
    # Each write is handed over from a loop callback, as a socket read would be; the
    # next one waits until the connection is idle, so the handlers' tasks run in
    # between as they would on a server.
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    remaining = WARMUP + count

    def read() -> None:
        nonlocal remaining
        if protocol._current is not None or protocol._pipeline:
            loop.call_soon(read)  # still answering
        elif remaining:
            remaining -= 1
            protocol.data_received(data)
            loop.call_soon(read)
        else:
            done.set_result(None)

    loop.call_soon(read)
    await done
    if not transport.last.startswith(b"HTTP/1.1 200 "):
        raise RuntimeError(f"{app_module} {scenario}: unexpected answer {transport.last[:80]!r}")


def count_instructions(app_module: str, scenario: str, count: int, access_log: str) -> int:
    """Instructions of one child process serving ``count`` writes, under callgrind."""
    argv = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        app_module,
        scenario,
        str(count),
        "--access-log",
        access_log,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode or found is None:
        raise RuntimeError(f"{app_module} {scenario}: {done.stderr.strip()[-500:]}")
    return int(found.group(1))


def per_request(app_module: str, scenario: str, access_log: str) -> int:
    short = count_instructions(app_module, scenario, SHORT, access_log)
    long = count_instructions(app_module, scenario, LONG, access_log)
    return round((long - short) / ((LONG - SHORT) * PER_WRITE.get(scenario, 1)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", default=",".join(APPS), help="bench/servers modules")
    parser.add_argument("--scenarios", default=",".join(REQUESTS), help="scenario names")
    parser.add_argument(
        "--access-log", choices=("off", "text", "json"), default="off", help="access log format"
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        app_module, scenario, count = args.child
        import uvloop

        uvloop.run(feed(app_module, scenario, int(count), args.access_log))
        return 0
    if shutil.which("valgrind") is None:
        sys.exit("bench/instructions.py: valgrind is missing (apt-get install valgrind)")
    for app_module in args.apps.split(","):
        for scenario in args.scenarios.split(","):
            if scenario not in REQUESTS:
                sys.exit(f"unknown scenario {scenario!r}; known: {', '.join(REQUESTS)}")
            figure = per_request(app_module, scenario, args.access_log)
            log = "" if args.access_log == "off" else f" (access log: {args.access_log})"
            print(
                f"{app_module:18} {scenario:10} {figure:>9,} instructions/request{log}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
