"""Timers: ``every(seconds, fn)`` (Twisted's LoopingCall) and ``later(seconds, fn)``.

Both run on a :class:`~typhoon.net.clock.Clock`: the running loop by default, or
``typhoon.testing.FakeClock`` in tests, which moves time by hand so that a test of a
once-a-minute job takes no time at all.

``fn`` may be a plain function or an ``async def`` one. A repeating call runs at a
fixed rate, counted from its start: a call that overruns its interval skips the
ticks it missed rather than running them late in a burst, and an ``async`` call is
never overlapped by the next one. When ``fn`` raises, the repetition stops, the
exception is logged once (``typhoon.net``) and kept in :attr:`Repeating.failure`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from collections.abc import Callable
from typing import Any

from typhoon.net.clock import Clock, TimerHandle

logger = logging.getLogger("typhoon.net")


def _clock(clock: Clock | None) -> Clock:
    return clock if clock is not None else asyncio.get_running_loop()


def check_seconds(seconds: float, name: str, *, zero: bool) -> float:
    """``seconds`` as a float, or a ValueError naming ``name`` (0 allowed when ``zero``).

    The check every duration argument of typhoon.net (and ``app.every``) goes through.
    """
    valid = isinstance(seconds, int | float) and not isinstance(seconds, bool)
    if not valid or not math.isfinite(seconds) or seconds < 0 or (not zero and seconds == 0):
        low = ">= 0" if zero else "> 0"
        raise ValueError(f"{name} must be a finite number of seconds {low}, got {seconds!r}")
    return float(seconds)


class Repeating:
    """A call repeated every ``interval`` seconds until :meth:`stop` (see :func:`every`).

    Attributes:
        interval: seconds between calls.
        calls: how many times ``fn`` has been called.
        failure: the exception that stopped it, or None.
    """

    def __init__(
        self,
        interval: float,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        clock: Clock,
    ) -> None:
        self.interval = interval
        self.calls = 0
        self.failure: BaseException | None = None
        self._fn = fn
        self._args = args
        self._clock = clock
        self._start = clock.time()
        self._timer: TimerHandle | None = None
        self._task: asyncio.Task[Any] | None = None
        self._running = False

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        name = getattr(self._fn, "__name__", self._fn)
        return f"<Repeating {name!r} every {self.interval}s {state}>"

    @property
    def running(self) -> bool:
        return self._running

    def _begin(self, now: bool) -> None:
        self._running = True
        if now:
            self._tick()
        else:
            self._schedule()

    def stop(self) -> None:
        """Stop repeating; a call in progress (``async``) is cancelled."""
        self._running = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def _schedule(self) -> None:
        """Arm the timer for the next tick of the fixed-rate schedule after now."""
        if not self._running:
            return
        now = self._clock.time()
        ticks = math.floor((now - self._start) / self.interval) + 1
        self._timer = self._clock.call_later(self._start + ticks * self.interval - now, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if not self._running:
            return
        self.calls += 1
        try:
            result = self._fn(*self._args)
        except Exception as exc:
            self._failed(exc)
            return
        if inspect.isawaitable(result):
            self._task = asyncio.ensure_future(result)
            self._task.add_done_callback(self._awaited)
        else:
            self._schedule()

    def _awaited(self, task: asyncio.Future[Any]) -> None:
        self._task = None
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._failed(exc)
        else:
            self._schedule()

    def _failed(self, exc: BaseException) -> None:
        self._running = False
        self.failure = exc
        logger.error(
            "%r raised; it will not be called again", self, exc_info=(type(exc), exc, None)
        )


def every(
    seconds: float,
    fn: Callable[..., Any],
    *args: Any,
    now: bool = True,
    clock: Clock | None = None,
) -> Repeating:
    """Call ``fn(*args)`` every ``seconds``, at once too unless ``now=False``.

    Example::

        heartbeat = every(30, send_heartbeat)
        ...
        heartbeat.stop()

    Raises:
        ValueError: ``seconds`` is not a positive number.
        TypeError: ``fn`` is not callable.
    """
    interval = check_seconds(seconds, "seconds", zero=False)
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {fn!r}")
    repeating = Repeating(interval, fn, args, _clock(clock))
    repeating._begin(now)
    return repeating


def later(
    seconds: float, fn: Callable[..., Any], *args: Any, clock: Clock | None = None
) -> TimerHandle:
    """Call ``fn(*args)`` once, ``seconds`` from now; ``cancel()`` the result to not.

    An ``async`` ``fn`` is run as a task; an exception from ``fn`` is logged
    (``typhoon.net``).

    Raises:
        ValueError: ``seconds`` is negative or not a number.
        TypeError: ``fn`` is not callable.
    """
    delay = check_seconds(seconds, "seconds", zero=True)
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {fn!r}")

    def fire() -> None:
        try:
            result = fn(*args)
        except Exception:
            logger.exception("later(%r) raised", fn)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(_logged(result, fn))
            _LATER_TASKS.add(task)  # held until done, or it could be collected midway
            task.add_done_callback(_LATER_TASKS.discard)

    return _clock(clock).call_later(delay, fire)


_LATER_TASKS: set[asyncio.Future[None]] = set()


async def _logged(awaitable: Any, fn: Any) -> None:
    try:
        await awaitable
    except Exception:
        logger.exception("later(%r) raised", fn)
