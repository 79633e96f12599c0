"""spawn(), run_in_thread(), sleep() and the Supervisor that stops them all."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import threading
import time
from collections.abc import AsyncIterator

import pytest

from typhoon.net import Supervisor, run_in_thread, sleep, spawn, supervisor
from typhoon.testing import FakeClock, settle

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


@pytest.fixture(autouse=True)
async def _stop_the_supervisor() -> AsyncIterator[None]:
    yield
    await supervisor().stop()


def net_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "typhoon.net" and r.levelno == level]


async def test_supervisor_is_one_per_loop() -> None:
    assert supervisor() is Supervisor.current() is supervisor()
    assert isinstance(supervisor(), Supervisor)


def test_supervisor_needs_a_running_loop() -> None:
    with pytest.raises(RuntimeError):
        supervisor()


async def test_spawn_logs_a_failure_once_and_the_others_keep_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    done = asyncio.Event()

    async def fails() -> None:
        raise RuntimeError("boom")

    async def carries_on() -> str:
        await done.wait()
        return "ok"

    failing = spawn(fails(), name="nightly report")
    running = spawn(carries_on())
    await settle()
    assert failing.done()
    assert not running.done()
    assert supervisor().tasks == {running}
    errors = net_records(caplog, logging.ERROR)
    assert len(errors) == 1
    assert "nightly report" in errors[0].getMessage()
    assert "boom" in caplog.text
    done.set()
    assert await running == "ok"
    assert running.get_name().endswith("carries_on")
    assert supervisor().tasks == frozenset()


async def test_a_cancelled_task_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    task = spawn(asyncio.Event().wait())
    await settle()
    task.cancel()
    await settle()
    assert task.cancelled()
    assert net_records(caplog, logging.ERROR) == []


async def test_spawn_refuses_what_is_not_a_coroutine() -> None:
    async def job() -> None:
        pass

    with pytest.raises(TypeError, match=r"coro must be a coroutine object \(call it"):
        spawn(job)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="coro must be a coroutine object, got 42"):
        spawn(42)  # type: ignore[arg-type]


async def test_stop_cancels_the_spawned_tasks_and_can_be_used_again() -> None:
    cleaned: list[str] = []

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append("forever")

    tasks = [spawn(forever()), spawn(forever())]
    await settle()
    await supervisor().stop()
    assert all(task.cancelled() for task in tasks)
    assert cleaned == ["forever", "forever"]
    assert supervisor().tasks == frozenset()

    async def answer() -> int:
        return 42

    assert await spawn(answer()) == 42  # the same supervisor works after a stop
    assert await run_in_thread(lambda: 7) == 7


async def test_stop_leaves_a_task_that_will_not_stop_and_logs_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await release.wait()

    task = spawn(stubborn(), name="stubborn")
    await settle()
    await supervisor().stop(timeout=0.01)
    assert not task.done()
    assert "still running after being cancelled: stubborn" in caplog.text
    release.set()
    await task
    assert supervisor().tasks == frozenset()


async def test_a_task_may_stop_its_own_supervisor() -> None:
    async def other() -> None:
        await asyncio.Event().wait()

    async def shut_down() -> str:
        await supervisor().stop()
        return "stopped"

    sibling = spawn(other())
    await settle()
    assert await spawn(shut_down()) == "stopped"
    assert sibling.cancelled()


async def test_stop_callbacks_run_once_even_when_one_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []

    def sync() -> None:
        calls.append("sync")

    async def asynchronous() -> None:
        await asyncio.sleep(0)
        calls.append("async")

    def fails() -> None:
        raise RuntimeError("callback boom")

    def removed() -> None:
        calls.append("removed")

    sup = supervisor()
    for callback in (sync, fails, asynchronous, removed):
        sup.add_stop_callback(callback)
    sup.remove_stop_callback(removed)
    await sup.stop()
    assert sorted(calls) == ["async", "sync"]
    assert "callback boom" in caplog.text
    await sup.stop()
    assert sorted(calls) == ["async", "sync"]  # one-shot


async def test_concurrent_stops_wait_for_the_same_one() -> None:
    calls: list[str] = []
    release = asyncio.Event()

    async def slow() -> None:
        calls.append("slow")
        await release.wait()

    supervisor().add_stop_callback(slow)
    first = asyncio.ensure_future(supervisor().stop())
    second = asyncio.ensure_future(supervisor().stop())
    await settle()
    assert not first.done()
    assert not second.done()
    release.set()
    await asyncio.gather(first, second)
    assert calls == ["slow"]


async def test_run_in_thread_returns_raises_and_runs_elsewhere() -> None:
    def where(x: int, *, y: int) -> tuple[int, str]:
        return x + y, threading.current_thread().name

    result, name = await run_in_thread(where, 1, y=2)
    assert result == 3
    assert name.startswith("typhoon-thread")

    def fails() -> None:
        raise KeyError("from the thread")

    with pytest.raises(KeyError, match="from the thread"):
        await run_in_thread(fails)
    with pytest.raises(TypeError, match="fn must be callable"):
        await run_in_thread("print")  # type: ignore[arg-type]


async def test_run_in_thread_copies_the_contextvars() -> None:
    def read_and_set() -> str:
        seen = request_id.get()
        request_id.set("changed in the thread")
        return seen

    request_id.set("r-17")
    assert await run_in_thread(read_and_set) == "r-17"
    assert request_id.get() == "r-17"  # the thread worked on a copy


async def test_the_thread_pool_is_bounded() -> None:
    sup = Supervisor(threads=2)
    loop = asyncio.get_running_loop()
    two_running = asyncio.Event()
    lock = threading.Lock()
    release = threading.Event()
    active = 0
    most = 0
    idents: set[int] = set()

    def work() -> None:
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
            idents.add(threading.get_ident())
            if active == 2:
                loop.call_soon_threadsafe(two_running.set)
        release.wait(timeout=10)
        with lock:
            active -= 1

    calls = asyncio.gather(*(sup.run_in_thread(work) for _ in range(6)))
    await asyncio.wait_for(two_running.wait(), 10)
    await asyncio.sleep(0.05)  # room for a third thread to start, were the pool unbounded
    assert most == 2
    release.set()
    await calls
    assert most == 2
    assert len(idents) == 2
    await sup.stop()


async def test_thread_pool_size_is_validated_and_fixed_once_started() -> None:
    sup = Supervisor()
    assert sup.threads == min(32, (os.cpu_count() or 1) + 4)
    sup.set_thread_pool_size(3)
    assert sup.threads == 3
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="threads must be an integer >= 1"):
            sup.set_thread_pool_size(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        Supervisor(threads=0)
    await sup.run_in_thread(int)
    with pytest.raises(RuntimeError, match="already runs with 3 thread"):
        sup.set_thread_pool_size(4)
    await sup.stop()
    sup.set_thread_pool_size(4)  # no pool after a stop: free to resize
    assert sup.threads == 4
    assert "4 thread(s) not started" in repr(sup)


async def test_stop_cancels_queued_thread_calls_and_waits_for_running_ones() -> None:
    sup = Supervisor(threads=1)
    started = threading.Event()
    release = threading.Event()
    finished: list[str] = []

    def running() -> None:
        started.set()
        release.wait(timeout=10)
        finished.append("running")

    first = asyncio.ensure_future(sup.run_in_thread(running))
    queued = asyncio.ensure_future(sup.run_in_thread(finished.append, "queued"))
    await run_in_thread(started.wait, 10)
    stopping = asyncio.ensure_future(sup.stop(timeout=5))
    await settle()
    assert not stopping.done()  # the running call is waited for...
    release.set()
    await stopping
    await first
    assert finished == ["running"]  # ...the queued one never runs
    with pytest.raises(asyncio.CancelledError):
        await queued


async def test_stop_does_not_wait_past_its_timeout_for_a_thread(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sup = Supervisor(threads=1)
    started = threading.Event()
    release = threading.Event()

    def running() -> bool:
        started.set()
        return release.wait(timeout=10)

    call = asyncio.ensure_future(sup.run_in_thread(running))
    await run_in_thread(started.wait, 10)
    await sup.stop(timeout=0.01)
    assert "1 call(s) still running in threads" in caplog.text
    release.set()
    assert await call is True


async def test_sleep_is_woken_by_the_fake_clock() -> None:
    clock = FakeClock()
    woke: list[float] = []

    async def nap() -> None:
        await sleep(60, clock=clock)
        woke.append(clock.time())

    start = clock.time()
    task = spawn(nap())
    await settle()
    clock.advance(59.9)
    await settle()
    assert woke == []
    clock.advance(0.1)
    await settle()
    assert woke == [start + 60]
    assert task.done()


async def test_a_job_every_minute_for_three_minutes() -> None:
    clock = FakeClock()
    runs: list[float] = []

    async def job() -> None:
        for _ in range(3):
            await sleep(60, clock=clock)
            runs.append(clock.time())

    start = clock.time()
    task = spawn(job())
    for _ in range(4):
        await settle()
        clock.advance(60)
    await settle()
    assert [t - start for t in runs] == [60, 120, 180]
    assert task.done()
    assert clock.pending == 0


async def test_cancelling_a_sleep_cancels_its_timer() -> None:
    clock = FakeClock()
    task = spawn(sleep(30, clock=clock))
    await settle()
    assert clock.pending == 1
    task.cancel()
    await settle()
    assert clock.pending == 0


async def test_sleep_on_the_real_loop() -> None:
    start = time.monotonic()
    await sleep(0.01)
    await sleep(0)
    assert time.monotonic() - start >= 0.009


@pytest.mark.parametrize("seconds", [-1, float("inf"), float("nan"), True, "5"])
async def test_bad_sleeps_are_refused(seconds: object) -> None:
    with pytest.raises(ValueError, match="seconds must be a finite number of seconds >= 0"):
        await sleep(seconds)  # type: ignore[arg-type]


async def test_bad_stop_timeouts_are_refused() -> None:
    with pytest.raises(ValueError, match="timeout must be a finite number"):
        await supervisor().stop(timeout=-1)
