"""every() and later() driven by the fake clock: no real waiting."""

from __future__ import annotations

import asyncio
import logging

import pytest

from typhoon.net.timers import every, later
from typhoon.testing import FakeClock, settle


async def test_every_calls_at_once_then_at_a_fixed_rate() -> None:
    clock = FakeClock()
    calls: list[float] = []
    repeating = every(10, lambda: calls.append(clock.time()), clock=clock)
    start = calls[0]
    clock.advance(10)
    clock.advance(10)
    assert [t - start for t in calls] == [0, 10, 20]
    assert repeating.calls == 3
    repeating.stop()
    clock.advance(100)
    assert repeating.calls == 3
    assert not repeating.running


async def test_every_with_now_false_waits_a_first_interval() -> None:
    clock = FakeClock()
    calls: list[int] = []
    repeating = every(5, calls.append, 1, now=False, clock=clock)
    assert calls == []
    clock.advance(5)
    assert calls == [1]
    repeating.stop()


async def test_an_overrunning_async_call_skips_missed_ticks_and_never_overlaps() -> None:
    clock = FakeClock()
    release = asyncio.Event()
    started: list[float] = []

    async def slow() -> None:
        started.append(clock.time())
        if len(started) == 1:
            await release.wait()

    repeating = every(10, slow, clock=clock)
    await settle()
    clock.advance(35)  # three ticks go by while the first call is still running
    await settle()
    assert len(started) == 1
    release.set()
    await settle()
    clock.advance(5)  # the next tick of the fixed-rate schedule: 40 s after the start
    await settle()
    assert [t - started[0] for t in started] == [0, 40]
    repeating.stop()
    await settle()


async def test_when_fn_raises_it_stops_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()

    def fails() -> None:
        raise RuntimeError("boom")

    repeating = every(1, fails, clock=clock)
    clock.advance(10)
    assert repeating.calls == 1
    assert isinstance(repeating.failure, RuntimeError)
    assert not repeating.running
    assert [r.levelno for r in caplog.records if r.name == "typhoon.net"] == [logging.ERROR]


async def test_an_async_failure_stops_it_too() -> None:
    clock = FakeClock()

    async def fails() -> None:
        raise ValueError("async boom")

    repeating = every(1, fails, clock=clock)
    await settle()
    assert isinstance(repeating.failure, ValueError)
    clock.advance(5)
    await settle()
    assert repeating.calls == 1


async def test_later_once_cancellable_and_async() -> None:
    clock = FakeClock()
    calls: list[str] = []
    later(3, calls.append, "a", clock=clock)
    handle = later(3, calls.append, "cancelled", clock=clock)
    handle.cancel()

    async def async_call() -> None:
        calls.append("async")

    later(5, async_call, clock=clock)
    clock.advance(3)
    assert calls == ["a"]
    clock.advance(2)
    await settle()
    assert calls == ["a", "async"]


async def test_later_logs_what_fn_raises(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()

    def fails() -> None:
        raise RuntimeError("later boom")

    async def fails_async() -> None:
        raise RuntimeError("later async boom")

    later(0, fails, clock=clock)
    later(0, fails_async, clock=clock)
    clock.advance(0)
    await settle()
    assert "later boom" in caplog.text
    assert "later async boom" in caplog.text


async def test_on_the_real_loop() -> None:
    calls: list[int] = []
    repeating = every(0.01, calls.append, 1)
    await asyncio.sleep(0.05)
    repeating.stop()
    assert len(calls) >= 2
    assert "stopped" in repr(repeating)


@pytest.mark.parametrize("seconds", [0, -1, float("inf"), float("nan"), True, "5"])
async def test_bad_intervals_are_refused(seconds: object) -> None:
    with pytest.raises(ValueError, match="seconds must be a finite number"):
        every(seconds, print)  # type: ignore[arg-type]


async def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        later(-1, print)
    with pytest.raises(TypeError, match="fn must be callable"):
        every(1, "print")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="fn must be callable"):
        later(1, "print")  # type: ignore[arg-type]
