"""Periodic jobs on the app's lifecycle: ``@app.every(seconds)`` (Tornado's PeriodicCallback).

Rules:

* A job starts when the app has started (after the startup hooks and the services of
  ``serve_also``) and its first call comes ``seconds`` later, or at once with
  ``now=True``. Calls keep a fixed rate (see :func:`typhoon.net.every`): one that
  overruns skips the ticks it missed, and a call is never overlapped by the next.
* An ``async def`` job runs on the loop; a plain ``def`` one on the app's thread pool,
  as sync views do, so a blocking job does not stall the server.
* An exception is logged (``typhoon.error``, with its traceback) and counted in
  :attr:`Job.failures`; the job runs again at its next tick. A web app's cleanup job
  must outlive one failed database call (this is where it differs from
  ``typhoon.net.every``, which stops, as Twisted's LoopingCall does).
* When the server drains, no new call starts; at shutdown a call still in progress is
  cancelled and awaited, before the shutdown hooks close what it might use.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from typhoon.net.clock import Clock
from typhoon.net.timers import Repeating, check_seconds, every

logger = logging.getLogger("typhoon.error")

RunInThread = Callable[[Callable[[], Any]], Awaitable[Any]]


class Job:
    """One function called every ``seconds`` while the app serves (see ``App.every``).

    Attributes:
        fn: the function, called with no arguments.
        seconds: the interval.
        now: whether the first call comes at startup rather than ``seconds`` after it.
        calls: how many calls have started.
        failures: how many of them raised.
        last_error: the latest exception a call raised, or None.
    """

    def __init__(
        self,
        fn: Callable[[], Any],
        seconds: float,
        *,
        now: bool,
        clock: Clock | None,
        run_in_thread: RunInThread,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"a job must be callable, got {fn!r}")
        self.seconds = check_seconds(seconds, "seconds", zero=False)
        self.fn = fn
        self.now = bool(now)
        self.calls = 0
        self.failures = 0
        self.last_error: BaseException | None = None
        self._clock = clock
        self._run_in_thread = run_in_thread
        self._is_async = inspect.iscoroutinefunction(fn)
        self._repeating: Repeating | None = None
        self._accepting = False
        self._current: asyncio.Task[Any] | None = None

    def __repr__(self) -> str:
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        state = "running" if self._repeating is not None else "stopped"
        return f"<Job {name} every {self.seconds}s {state}>"

    @property
    def running(self) -> bool:
        """Started and not yet stopped."""
        return self._repeating is not None

    def start(self) -> None:
        """Begin calling the job (the app calls it at startup)."""
        if self._repeating is not None:
            return
        self._accepting = True
        self._repeating = every(self.seconds, self._call, now=self.now, clock=self._clock)

    def draining(self) -> None:
        """Start no new call (the server is draining)."""
        self._accepting = False

    async def stop(self) -> None:
        """Stop; a call in progress is cancelled, and awaited."""
        self._accepting = False
        repeating, self._repeating = self._repeating, None
        if repeating is None:
            return
        repeating.stop()  # cancels the call in progress, if any
        current = self._current
        if current is not None and current is not asyncio.current_task():
            await asyncio.wait([current])

    async def _call(self) -> None:
        if not self._accepting:
            return
        self._current = asyncio.current_task()
        self.calls += 1
        try:
            if self._is_async:
                await self.fn()
            else:
                result = await self._run_in_thread(self.fn)
                if inspect.isawaitable(result):  # a plain def that returned a coroutine
                    await result
        except Exception as exc:
            self.failures += 1
            self.last_error = exc
            logger.exception("periodic job %r raised; it runs again in %ss", self, self.seconds)
        finally:
            self._current = None
