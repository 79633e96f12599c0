"""The application ``tests/cli/test_workers.py`` serves with ``typhoon run --workers``.

* ``/``: a short text answer.
* ``/pid``: the serving process's id, so a test can tell the workers apart.
* ``/slow``: answers after ``SLOW_S`` seconds; prints ``SLOW_STARTED`` on stderr first.

``secure_app`` is the ``--ssl-app``: its ``/pid`` answers ``secure <pid>``.
"""

from __future__ import annotations

import asyncio
import os
import sys

from typhoon import App, Request, Text

SLOW_S = 1.0
SLOW_STARTED = "workers_app: slow request started"

app = App()


@app.get("/")
async def home(request: Request) -> Text:
    return Text("workers ok")


@app.get("/pid")
async def pid(request: Request) -> Text:
    return Text(str(os.getpid()))


@app.get("/slow")
async def slow(request: Request) -> Text:
    print(SLOW_STARTED, file=sys.stderr, flush=True)
    await asyncio.sleep(SLOW_S)
    return Text("slow done")


secure_app = App()


@secure_app.get("/pid")
async def secure_pid(request: Request) -> Text:
    return Text(f"secure {os.getpid()}")
