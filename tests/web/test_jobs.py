"""``@app.every``: periodic jobs started, drained and stopped with the app (web/jobs.py)."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from typhoon import App
from typhoon.http import HTTPConfig, HTTPServer
from typhoon.testing import FakeClock
from typhoon.web.jobs import Job


async def _settle() -> None:
    """Let the tasks a tick started run to their next wait."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_job_starts_with_the_app_and_runs_every_interval() -> None:
    clock = FakeClock()
    app = App()
    seen: list[float] = []

    @app.every(10, clock=clock)
    async def tick() -> None:
        seen.append(clock.time())

    start = clock.time()
    clock.advance(30)  # before startup: nothing runs
    await _settle()
    assert seen == []

    await app.startup()
    (job,) = app.jobs
    assert job.running
    await _settle()
    assert seen == []  # the first call waits a whole interval
    await clock.run_for(30)
    assert seen == [start + 40, start + 50, start + 60]
    assert job.calls == 3

    await app.shutdown()
    assert not job.running
    clock.advance(100)
    await _settle()
    assert job.calls == 3


async def test_now_true_calls_the_job_at_startup() -> None:
    clock = FakeClock()
    app = App()
    calls = 0

    @app.every(60, now=True, clock=clock)
    async def warm() -> None:
        nonlocal calls
        calls += 1

    await app.startup()
    await _settle()
    assert calls == 1
    await app.shutdown()


async def test_a_sync_job_runs_on_the_thread_pool() -> None:
    clock = FakeClock()
    app = App()
    threads: list[int] = []
    ran = threading.Event()

    @app.every(1, now=True, clock=clock)
    def blocking() -> None:
        threads.append(threading.get_ident())
        ran.set()

    await app.startup()
    for _ in range(200):
        if ran.is_set():
            break
        await asyncio.sleep(0.01)
    await _settle()
    assert threads
    assert threads[0] != threading.get_ident()
    assert app.jobs[0].calls == 1
    await app.shutdown()


async def test_a_failing_call_is_logged_and_the_job_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    app = App()
    calls = 0

    @app.every(5, clock=clock)
    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database went away")

    caplog.set_level(logging.ERROR, "typhoon.error")
    await app.startup()
    for _ in range(3):
        clock.advance(5)
        await _settle()
    job = app.jobs[0]
    assert (calls, job.calls, job.failures) == (3, 3, 1)
    assert isinstance(job.last_error, ConnectionError)
    (record,) = [r for r in caplog.records if "periodic job" in r.getMessage()]
    assert "flaky" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[0] is ConnectionError
    await app.shutdown()


async def test_draining_starts_no_call_and_shutdown_cancels_the_one_in_progress() -> None:
    clock = FakeClock()
    app = App()
    started = asyncio.Event()
    events: list[str] = []

    @app.every(5, clock=clock)
    async def slow() -> None:
        events.append("start")
        started.set()
        try:
            await asyncio.Event().wait()  # until cancelled
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    @app.on_shutdown
    async def hook() -> None:
        events.append("shutdown hook")

    await app.startup()
    clock.advance(5)
    await started.wait()
    app.draining()
    clock.advance(50)  # the call in progress holds the schedule; none is added
    await _settle()
    await app.shutdown()
    assert events == ["start", "cancelled", "shutdown hook"]
    assert app.jobs[0].calls == 1


async def test_draining_skips_ticks_that_fall_due() -> None:
    clock = FakeClock()
    app = App()
    calls = 0

    @app.every(5, clock=clock)
    async def job() -> None:
        nonlocal calls
        calls += 1

    await app.startup()
    clock.advance(5)
    await _settle()
    app.draining()
    clock.advance(20)
    await _settle()
    assert calls == 1
    await app.shutdown()


async def test_a_job_runs_under_a_real_server_and_stops_with_its_drain() -> None:
    app = App()
    calls = 0
    stopped_before_hooks: list[bool] = []

    @app.every(0.01, now=True)
    async def beat() -> None:
        nonlocal calls
        calls += 1

    @app.on_shutdown
    def check() -> None:
        stopped_before_hooks.append(not app.jobs[0].running)

    server = HTTPServer(app, HTTPConfig(access_log=False))
    await server.listen_tcp("127.0.0.1", 0)
    for _ in range(500):
        if calls >= 3:
            break
        await asyncio.sleep(0.01)
    assert calls >= 3
    assert await server.drain(5)
    assert stopped_before_hooks == [True]
    after = calls
    await asyncio.sleep(0.05)
    assert calls == after


@pytest.mark.parametrize(
    ("seconds", "error"),
    [
        (0, "seconds must be a finite number of seconds > 0, got 0"),
        (-1, "seconds must be a finite number of seconds > 0, got -1"),
        (float("inf"), "seconds must be a finite number of seconds > 0, got inf"),
        ("5", "seconds must be a finite number of seconds > 0, got '5'"),
        (True, "seconds must be a finite number of seconds > 0, got True"),
    ],
)
def test_a_bad_interval_is_refused_by_name(seconds: Any, error: str) -> None:
    with pytest.raises(ValueError, match=error.replace("(", r"\(")):
        App().every(seconds)


def test_a_job_must_be_callable() -> None:
    with pytest.raises(TypeError, match="a job must be callable, got 42"):
        App().every(1)(42)  # type: ignore[type-var]


async def test_no_job_is_added_once_the_app_serves() -> None:
    app = App()
    await app.startup()
    with pytest.raises(RuntimeError, match="every"):
        app.every(1)
    await app.shutdown()


def test_job_repr_names_the_function() -> None:
    async def purge() -> None: ...

    job = Job(purge, 60, now=False, clock=None, run_in_thread=App().run_in_thread)
    assert "purge" in repr(job)
    assert "every 60.0s stopped" in repr(job)
    assert not job.running
