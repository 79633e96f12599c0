"""Background tasks, threads and a clock-driven sleep, owned by one :class:`Supervisor`.

Each event loop has one supervisor (:func:`supervisor`). It holds what would otherwise
be left behind when the server stops:

* tasks started with :func:`spawn`: referenced until done (asyncio keeps only a weak
  reference to a task), a failure logged once on ``typhoon.net``;
* a bounded thread pool, used by :func:`run_in_thread`;
* stop callbacks: ``typhoon.net.process`` registers every live child there.

``await supervisor().stop()`` puts all of it down, in this order: cancel the tasks and
wait for them, run the stop callbacks (children get SIGTERM, then SIGKILL), shut the
thread pool down without blocking the loop. A stopped supervisor is empty again, not
closed: spawning or calling a thread afterwards works (a new pool is started), so one
loop can run several server lifecycles, as tests do.

:func:`sleep` waits on a :class:`~typhoon.net.clock.Clock` rather than the loop, so a
spawned job that sleeps for a minute wakes when a test's ``FakeClock.advance(60)``
says so.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import logging
import os
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from typhoon.net.clock import Clock
from typhoon.net.timers import _clock, check_seconds

logger = logging.getLogger("typhoon.net")

T = TypeVar("T")
P = ParamSpec("P")

StopCallback = Callable[[], Awaitable[object] | object]

_SUPERVISORS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Supervisor]
_SUPERVISORS = weakref.WeakKeyDictionary()


def default_thread_pool_size() -> int:
    """``min(32, os.cpu_count() + 4)``, the size of a pool nobody sized."""
    return min(32, (os.cpu_count() or 1) + 4)


def _check_threads(threads: int) -> int:
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
    return threads


class Supervisor:
    """The owner of an event loop's background tasks, thread pool and children.

    Get the loop's own with :func:`supervisor`; the module functions :func:`spawn` and
    :func:`run_in_thread` use that one. Making another (``Supervisor(threads=4)``)
    gives a separate group with its own pool and its own :meth:`stop`.

    Example::

        sup = supervisor()
        sup.set_thread_pool_size(8)
        sup.spawn(refresh_cache_forever())
        ...
        await sup.stop()          # what the server does at shutdown

    Args:
        threads: the size of the thread pool (default :func:`default_thread_pool_size`).

    Raises:
        ValueError: ``threads`` is not an integer >= 1.
    """

    def __init__(self, *, threads: int | None = None) -> None:
        self._threads = default_thread_pool_size() if threads is None else _check_threads(threads)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop_callbacks: dict[StopCallback, None] = {}  # an ordered set
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._calls: set[concurrent.futures.Future[Any]] = set()
        self._stopping: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        pool = "started" if self._pool is not None else "not started"
        return (
            f"<Supervisor {len(self._tasks)} task(s), {len(self._stop_callbacks)} stop "
            f"callback(s), {self._threads} thread(s) {pool}>"
        )

    @classmethod
    def current(cls) -> Supervisor:
        """The running loop's supervisor, made on first use (same as :func:`supervisor`).

        Raises:
            RuntimeError: no event loop is running in this thread.
        """
        loop = asyncio.get_running_loop()
        found = _SUPERVISORS.get(loop)
        if found is None:
            found = _SUPERVISORS[loop] = cls()
        return found

    @property
    def tasks(self) -> frozenset[asyncio.Task[Any]]:
        """The spawned tasks that have not finished yet."""
        return frozenset(self._tasks)

    @property
    def threads(self) -> int:
        """The most calls that :meth:`run_in_thread` runs at once."""
        return self._threads

    def set_thread_pool_size(self, threads: int) -> None:
        """Size the thread pool; call it before the first :meth:`run_in_thread`.

        The pool is started on first use and never grows past its size, so the size can
        only change while no pool is running: before the first call, or after
        :meth:`stop`.

        Raises:
            ValueError: ``threads`` is not an integer >= 1.
            RuntimeError: the pool has already started.
        """
        threads = _check_threads(threads)
        if self._pool is not None and threads != self._threads:
            raise RuntimeError(
                f"the thread pool already runs with {self._threads} thread(s); size it "
                "before the first run_in_thread() or after stop()"
            )
        self._threads = threads

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
        """Run ``coro`` as a supervised background task (see :func:`spawn`)."""
        if not inspect.iscoroutine(coro):
            hint = " (call it: spawn(job()), not spawn(job))" if callable(coro) else ""
            raise TypeError(f"coro must be a coroutine object{hint}, got {coro!r}")
        loop = asyncio.get_running_loop()
        task = loop.create_task(coro, name=name if name is not None else coro.__qualname__)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()  # retrieved here, so asyncio does not log it a second time
        if exc is not None:
            logger.error(
                "background task %r raised", task.get_name(), exc_info=(type(exc), exc, None)
            )

    async def run_in_thread(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn(*args, **kwargs)`` in the pool, return its result (:func:`run_in_thread`)."""
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {fn!r}")
        loop = asyncio.get_running_loop()
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=self._threads, thread_name_prefix="typhoon-thread"
            )
        context = contextvars.copy_context()
        call = self._pool.submit(context.run, functools.partial(fn, *args, **kwargs))
        self._calls.add(call)
        call.add_done_callback(self._calls.discard)  # runs in the worker thread; set ops are atomic
        return await asyncio.wrap_future(call, loop=loop)

    def add_stop_callback(self, callback: StopCallback) -> None:
        """Have :meth:`stop` call ``callback()`` (awaited when it returns an awaitable).

        A callback runs at the next :meth:`stop` only, then is forgotten. It should
        bound its own wait: :meth:`stop` awaits it to the end.
        """
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        self._stop_callbacks[callback] = None

    def remove_stop_callback(self, callback: StopCallback) -> None:
        """Forget ``callback``; nothing happens when it was not added."""
        self._stop_callbacks.pop(callback, None)

    async def stop(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 -- a bound, not a cut-off
        """Cancel the tasks, run the stop callbacks, shut the thread pool down.

        1. Every spawned task is cancelled, and awaited for up to ``timeout`` seconds;
           one that is still running then is logged and left alone. The task that
           calls :meth:`stop` (when it is a spawned one) is not cancelled.
        2. The stop callbacks run concurrently, and are awaited to the end: live
           children get SIGTERM, then SIGKILL after their ``kill_grace``.
        3. The thread pool stops: calls not started yet are cancelled (their callers
           get ``CancelledError``), calls in progress are waited for until ``timeout``
           seconds after the start of the stop, in a way that never blocks the loop.
           Threads cannot be killed: one still running then finishes on its own.

        The supervisor is then empty and can be used again. Calling :meth:`stop` while
        a stop is in progress waits for that one; cancelling the caller does not cut
        the stop short.

        Raises:
            ValueError: ``timeout`` is negative or not a number.
        """
        timeout = check_seconds(timeout, "timeout", zero=True)
        if self._stopping is None:
            loop = asyncio.get_running_loop()
            stopping = loop.create_task(
                self._stop(loop.time() + timeout, asyncio.current_task()), name="Supervisor.stop"
            )
            self._stopping = stopping
            stopping.add_done_callback(self._stopped)
        await asyncio.shield(self._stopping)

    def _stopped(self, task: asyncio.Task[None]) -> None:
        self._stopping = None

    async def _stop(self, deadline: float, caller: asyncio.Task[Any] | None) -> None:
        await self._cancel_tasks(deadline, caller)
        await self._run_stop_callbacks()
        await self._stop_pool(deadline)

    async def _cancel_tasks(self, deadline: float, caller: asyncio.Task[Any] | None) -> None:
        loop = asyncio.get_running_loop()
        cancelled: set[asyncio.Task[Any]] = set()
        # A task may spawn another while it unwinds: go round until none is left. Each
        # is cancelled once; one that swallows the cancellation is waited for, then left.
        while pending := {task for task in self._tasks if task is not caller}:
            for task in pending - cancelled:
                task.cancel()
                cancelled.add(task)
            left = deadline - loop.time()
            if left <= 0:
                names = sorted(task.get_name() for task in pending)
                logger.warning(
                    "%d background task(s) still running after being cancelled: %s",
                    len(names),
                    ", ".join(names),
                )
                return
            await asyncio.wait(pending, timeout=left)

    async def _run_stop_callbacks(self) -> None:
        callbacks = list(self._stop_callbacks)
        self._stop_callbacks.clear()
        results = await asyncio.gather(
            *(_call_stop_callback(callback) for callback in callbacks), return_exceptions=True
        )
        for callback, result in zip(callbacks, results, strict=True):
            if isinstance(result, Exception):
                logger.error(
                    "stop callback %r raised", callback, exc_info=(type(result), result, None)
                )

    async def _stop_pool(self, deadline: float) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        pool.shutdown(wait=False, cancel_futures=True)
        running = [call for call in list(self._calls) if not call.done()]
        if not running:
            return
        loop = asyncio.get_running_loop()
        waiters = [asyncio.wrap_future(call, loop=loop) for call in running]
        _, late = await asyncio.wait(waiters, timeout=max(0.0, deadline - loop.time()))
        for waiter in waiters:
            if waiter in late:
                waiter.cancel()
            elif not waiter.cancelled():
                waiter.exception()  # the caller has it; do not log it as never retrieved
        if late:
            logger.warning(
                "%d call(s) still running in threads at stop; they will finish on their own",
                len(late),
            )


async def _call_stop_callback(callback: StopCallback) -> None:
    result = callback()
    if inspect.isawaitable(result):
        await result


def supervisor() -> Supervisor:
    """The running event loop's :class:`Supervisor`, made on first use.

    Raises:
        RuntimeError: no event loop is running in this thread.
    """
    return Supervisor.current()


def spawn(coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
    """Run ``coro`` in the background, supervised (Tornado's ``spawn_callback``).

    The task is kept referenced until it is done, so it cannot be garbage-collected
    midway. When it raises (cancellation aside), the exception is logged once on
    ``typhoon.net``, with the task's name (``name``, or the coroutine's qualified
    name). ``supervisor().stop()`` cancels it.

    Example::

        async def warm_cache() -> None:
            await cache.load_all()

        spawn(warm_cache(), name="warm cache")

    Raises:
        TypeError: ``coro`` is not a coroutine object (``spawn(job)`` instead of
            ``spawn(job())``).
    """
    return supervisor().spawn(coro, name=name)


async def run_in_thread(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Call blocking ``fn(*args, **kwargs)`` in a thread and await its result.

    Twisted's ``deferToThread``. The call runs in the supervisor's bounded pool (see
    :meth:`Supervisor.set_thread_pool_size`), in a copy of the caller's contextvars;
    whatever ``fn`` raises is raised here. Cancelling the await drops a call that has
    not started yet, but does not stop one in progress (Python cannot kill a thread):
    ``fn`` runs to its end and its result is dropped.

    Example::

        digest = await run_in_thread(hashlib.file_digest, fileobj, "sha256")

    Raises:
        TypeError: ``fn`` is not callable.
    """
    return await supervisor().run_in_thread(fn, *args, **kwargs)


async def sleep(seconds: float, *, clock: Clock | None = None) -> None:
    """Wait ``seconds``, as timed by ``clock`` (the running loop by default).

    Unlike ``asyncio.sleep``, the wait is a timer on a :class:`~typhoon.net.clock.Clock`,
    so with ``typhoon.testing.FakeClock`` it ends when the test calls
    ``clock.advance()``. Cancelling the sleep cancels its timer.

    Example::

        async def every_minute(clock: Clock | None = None) -> None:
            while True:
                await sleep(60, clock=clock)
                await purge_expired_sessions()

    Raises:
        ValueError: ``seconds`` is negative or not a number.
    """
    delay = check_seconds(seconds, "seconds", zero=True)
    timer_clock = _clock(clock)
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    timer = timer_clock.call_later(delay, _wake, waiter)
    try:
        await waiter
    finally:
        timer.cancel()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
