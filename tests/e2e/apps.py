"""Applications the end-to-end tests serve from a subprocess.

Run from this directory: ``python -m typhoon run apps:app --port P``.

* ``/``: a short text answer.
* ``/slow``: answers after about one second.
* ``/hang``: sleeps a minute (longer than any test waits) before answering.
* ``/started``: how many ``/slow`` and ``/hang`` requests have begun, as JSON.

The shutdown hook prints a line on stderr, so a test can see that a drain ran it.
"""

from __future__ import annotations

import asyncio
import sys

from typhoon import App, Request, Text

SLOW_S = 1.0
HANG_S = 60.0
SHUTDOWN_LINE = "apps: shutdown hook ran"

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
