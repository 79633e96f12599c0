"""FakeClock: time that moves only when a test says so."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Any


class FakeTimer:
    """A pending callback of a :class:`FakeClock`."""

    __slots__ = ("args", "callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when = when
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A :class:`typhoon.net.Clock` for tests: :meth:`advance` moves time and runs timers.

    Example::

        clock = FakeClock()
        fired = []
        clock.call_later(5, fired.append, "x")
        clock.advance(4.9); assert fired == []
        clock.advance(0.1); assert fired == ["x"]

    Args:
        start: the initial time, in seconds since the epoch (now by default). It is
            wall-clock time, so the Date header follows the fake clock.
    """

    wall_clock = True

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._timers: list[tuple[float, int, FakeTimer]] = []
        self._order = itertools.count()

    def time(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> FakeTimer:
        timer = FakeTimer(self._now + max(delay, 0.0), callback, args)
        heapq.heappush(self._timers, (timer.when, next(self._order), timer))
        return timer

    @property
    def pending(self) -> int:
        """How many timers are scheduled and not cancelled."""
        return sum(1 for _, _, timer in self._timers if not timer.cancelled)

    def advance(self, seconds: float) -> None:
        """Move time forward, running every timer that falls due, in order."""
        end = self._end(seconds)
        while self._due(end):
            self._fire_next()
        self._now = end

    async def run_for(self, seconds: float) -> None:
        """Move time forward like :meth:`advance`, letting the loop run between timers.

        A timer that starts a task (an ``async`` job of ``app.every``, an ``async``
        callback of ``later``) has it run before the next timer fires, so that what the
        task schedules in its turn falls due inside the same ``seconds``:
        ``await clock.run_for(120)`` calls a 60-second ``async`` job twice, as real time
        would. Call it from the loop the timers' tasks run on.
        """
        end = self._end(seconds)
        await _let_tasks_run()
        while self._due(end):
            self._fire_next()
            await _let_tasks_run()
        self._now = end
        await _let_tasks_run()

    def _end(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds!r}")
        return self._now + seconds

    def _due(self, end: float) -> bool:
        """Whether a timer (maybe a cancelled one) is due at or before ``end``."""
        return bool(self._timers) and self._timers[0][0] <= end

    def _fire_next(self) -> None:
        when, _, timer = heapq.heappop(self._timers)
        if not timer.cancelled:
            self._now = max(self._now, when)
            timer.callback(*timer.args)


# Enough turns of the loop for a started task to run, finish, and have its done
# callbacks (which may schedule the next timer) run too.
_SETTLE_TURNS = 10


async def _let_tasks_run() -> None:
    for _ in range(_SETTLE_TURNS):
        await asyncio.sleep(0)
