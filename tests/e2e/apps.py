"""Applications the end-to-end tests serve from a subprocess.

Run from this directory: ``python -m typhoon run apps:app --port P``.

* ``/``: a short text answer.
* ``/slow``: answers after about one second.
* ``/hang``: sleeps a minute (longer than any test waits) before answering.
* ``/started``: how many ``/slow`` and ``/hang`` requests have begun, as JSON.

The shutdown hook prints a line on stderr, so a test can see that a drain ran it.
``raw_app`` serves ``/`` and, with ``app.serve_also``, a line protocol on
the TCP port in ``$APPS_TCP_PORT``; at startup it spawns a background task and a
child process that only the shutdown ends.
"""

from __future__ import annotations

import asyncio
import os
import sys

from typhoon import App, Request, Text
from typhoon.net import LineReceiver, spawn, spawn_process

SLOW_S = 1.0
HANG_S = 60.0
SHUTDOWN_LINE = "apps: shutdown hook ran"
BACKGROUND_CANCELLED_LINE = "apps: background task cancelled"
CHILD_PID_LINE = "apps: child pid"

app = App()
started = {"slow": 0, "hang": 0}


@app.get("/")
async def home(request: Request) -> Text:
    return Text("apps ok")


@app.get("/slow")
async def slow(request: Request) -> Text:
    started["slow"] += 1
    await asyncio.sleep(SLOW_S)
    return Text("slow done")


@app.get("/hang")
async def hang(request: Request) -> Text:
    started["hang"] += 1
    await asyncio.sleep(HANG_S)
    return Text("hang done")


@app.get("/started")
async def started_count(request: Request) -> dict[str, int]:
    return started


@app.on_shutdown
async def announce_shutdown() -> None:
    print(SHUTDOWN_LINE, file=sys.stderr, flush=True)


class Shout(LineReceiver):
    """A line protocol served beside ``raw_app``: answers each line in capitals."""

    delimiter = b"\n"

    def line_received(self, line: bytes) -> None:
        self.send_line(line.upper())

    def shutdown(self) -> None:
        self.send_line(b"bye")
        super().shutdown()


# ``raw_app``: ``/`` plus Shout on TCP port $APPS_TCP_PORT (app.serve_also).
raw_app = App()
raw_app.add_route("/", home)
raw_app.serve_also(f"tcp:{os.environ.get('APPS_TCP_PORT', '0')}:interface=127.0.0.1", Shout)


@raw_app.on_shutdown
async def announce_raw_shutdown() -> None:
    print(SHUTDOWN_LINE + " (raw_app)", file=sys.stderr, flush=True)


async def forever() -> None:
    try:
        await asyncio.sleep(HANG_S)
    except asyncio.CancelledError:
        print(BACKGROUND_CANCELLED_LINE, file=sys.stderr, flush=True)
        raise


@raw_app.on_startup
async def start_background_work() -> None:
    """A spawned task and a child process, both left running: shutdown must end them."""
    spawn(forever())
    child = await spawn_process(["sleep", str(HANG_S)])
    print(f"{CHILD_PID_LINE} {child.pid}", file=sys.stderr, flush=True)
