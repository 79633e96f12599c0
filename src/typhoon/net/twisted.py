"""Twisted on typhoon's loop: one asyncio loop serves typhoon and Twisted code alike.

Install with ``pip install 'typhoon[twisted]'``. ``typhoon.net`` does not import this
module; import it yourself (``from typhoon.net import twisted as tx``).

Theory of operation:

- Twisted's reactor is process-global: whatever sits in
  ``sys.modules["twisted.internet.reactor"]`` is *the* reactor, and the first import of
  ``twisted.internet.reactor`` installs the default (epoll) one. So
  :func:`install_reactor` must run before anything imports the reactor, and it
  installs at most one reactor per process, bound to one loop.
- The reactor installed is :class:`LoopReactor`, Twisted's own
  ``AsyncioSelectorReactor`` (its readers, writers and timers are the loop's
  ``add_reader`` / ``add_writer`` / ``call_at``) with two differences that follow from
  typhoon, not Twisted, owning the loop: its shutdown does not stop the loop, and
  ``reactor.run()`` refuses to run (the loop already runs). The reactor is started
  with ``startRunning(installSignalHandlers=False)``, the same step ``reactor.run()``
  takes before it hands over to the loop, so ``reactor.running`` is true,
  ``callWhenRunning`` calls at once and the "startup" triggers have fired; signals
  stay typhoon's.
- :func:`stop_reactor` is ``reactor.stop()`` plus waiting for Twisted's "shutdown"
  event to finish: its triggers close Twisted's listening ports and connections and
  stop its thread pool (whose threads would otherwise keep the process alive).
- It works on uvloop as on plain asyncio: the reactor needs only ``add_reader``,
  ``add_writer``, ``call_at``, ``call_soon_threadsafe`` and ``time()``, which both
  loops provide (Twisted 21.2 briefly refused non-``SelectorEventLoop`` loops; the
  ``twisted>=24.3`` this extra requires does not).
- Signals stay typhoon's: the reactor installs no handlers. So Twisted never sees
  SIGCHLD, and ``reactor.spawnProcess`` is unreliable (use asyncio's subprocesses).
- A Deferred is not an asyncio awaitable (awaiting one in a task fails with "Task got
  bad yield"): :func:`as_future` and :func:`as_deferred` convert, with cancellation
  passed both ways.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, NoReturn, Protocol, TypeVar, cast

try:
    from twisted.internet.asyncioreactor import AsyncioSelectorReactor
    from twisted.internet.defer import CancelledError as DeferredCancelledError
    from twisted.internet.defer import Deferred
    from twisted.internet.error import ReactorNotRunning
    from twisted.internet.main import installReactor
    from twisted.python.failure import Failure
except ImportError as exc:  # pragma: no cover - tested in a subprocess without Twisted
    raise ImportError("typhoon.net.twisted needs Twisted: pip install 'typhoon[twisted]'") from exc

from typhoon.net import loop as net_loop

__all__ = [
    "LoopReactor",
    "as_deferred",
    "as_future",
    "install_reactor",
    "installed_reactor",
    "run",
    "stop_reactor",
]

T = TypeVar("T")

_REACTOR_MODULE = "twisted.internet.reactor"

# Narrow typed views of the few Twisted callables that carry no annotations.
_install_reactor_globally = cast(Callable[[object], None], installReactor)
_failure_of = cast(Callable[[BaseException], Failure], Failure)


class _ReactorCalls(Protocol):
    """The untyped AsyncioSelectorReactor methods called here, typed."""

    def removeReader(self, reader: object) -> None: ...

    def stop(self) -> None: ...


class LoopReactor(AsyncioSelectorReactor):
    """Twisted's asyncio reactor on a loop that typhoon, not Twisted, runs.

    Create it with :func:`install_reactor`, not directly.

    Args:
        loop: the event loop the reactor schedules on.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.loop = loop
        """The event loop this reactor lives on."""
        self.is_shut_down = False
        """True once Twisted's "shutdown" event has run to the end."""
        self._shut_down = asyncio.Event()
        self.addSystemEventTrigger("after", "shutdown", self._after_shutdown)

    def run(self, installSignalHandlers: bool = True) -> NoReturn:
        """Refuse: typhoon's loop is already running the reactor."""
        raise RuntimeError(
            "don't call reactor.run(): typhoon's event loop already runs this reactor; "
            "await typhoon.net.twisted.stop_reactor() to shut Twisted down"
        )

    def crash(self) -> None:
        """Leave the running state without stopping the loop.

        ``AsyncioSelectorReactor.crash`` also stops the asyncio loop, which is right when
        ``reactor.run()`` started it and wrong here: it would end ``asyncio.run()`` with
        "Event loop stopped before Future completed". Twisted calls this during its
        "shutdown" event.
        """
        super(AsyncioSelectorReactor, self).crash()

    async def wait_shut_down(self) -> None:
        """Return once Twisted's "shutdown" event has run to the end."""
        await self._shut_down.wait()

    def _after_shutdown(self) -> None:
        self.is_shut_down = True
        # The loop may outlive the reactor: leave nothing of it registered there.
        cast(_ReactorCalls, self).removeReader(self.waker)
        self._shut_down.set()


def installed_reactor() -> LoopReactor | None:
    """Return the reactor :func:`install_reactor` installed, or None."""
    reactor = sys.modules.get(_REACTOR_MODULE)
    return reactor if isinstance(reactor, LoopReactor) else None


def install_reactor(loop: asyncio.AbstractEventLoop | None = None) -> LoopReactor:
    """Install Twisted's asyncio reactor on typhoon's loop and start it.

    Call it before anything imports ``twisted.internet.reactor``: from an
    ``@app.on_startup`` hook, at the top of ``main()``, or let :func:`run` do it.
    Calling it again for the same loop returns the same reactor.

    Example::

        reactor = install_reactor()
        reactor.listenTCP(8023, ChatFactory(), interface="127.0.0.1")
        ...
        await stop_reactor()

    Args:
        loop: the loop to install on; the running loop when None. uvloop and plain
            asyncio loops both work.

    Returns:
        The reactor, also importable as ``twisted.internet.reactor`` from now on.

    Raises:
        RuntimeError: no loop was given and none is running; another reactor is
            installed (typically Twisted's default one, installed by an early
            ``from twisted.internet import reactor``); the reactor is installed on
            another loop; or it was stopped (Twisted reactors cannot restart).
    """
    if loop is None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "install_reactor() needs a running event loop: call it from a coroutine "
                "(e.g. an @app.on_startup hook) or pass loop="
            ) from None
    present = sys.modules.get(_REACTOR_MODULE)
    if isinstance(present, LoopReactor):
        if present.loop is not loop:
            raise RuntimeError(
                "Twisted's reactor is already installed on another event loop; a process "
                "has one reactor, bound to one loop: install it once, on the loop that "
                "serves the application"
            )
        if present.is_shut_down:
            raise RuntimeError(
                "Twisted's reactor was stopped and Twisted reactors cannot be restarted; "
                "stop it only when the process is done with Twisted"
            )
        return present
    if present is not None:
        raise RuntimeError(
            f"another Twisted reactor ({type(present).__module__}.{type(present).__qualname__}) "
            "is already installed, usually because something imported "
            "twisted.internet.reactor (`from twisted.internet import reactor`) before "
            "install_reactor() ran. Call install_reactor() first, and import modules that "
            "use the reactor at import time only after it (or have them take the reactor "
            "as an argument); don't install a reactor yourself"
        )
    reactor = LoopReactor(loop)
    _install_reactor_globally(reactor)
    reactor.startRunning(installSignalHandlers=False)
    return reactor


async def stop_reactor() -> None:
    """Stop the installed reactor and wait until Twisted's "shutdown" event has run.

    Its triggers close Twisted's listening ports and connections and stop its thread
    pool; the loop keeps running. Does nothing when no reactor is installed or it is
    already shut down. Put it in an ``@app.on_shutdown`` hook, or let :func:`run` call it.
    """
    reactor = installed_reactor()
    if reactor is None or reactor.is_shut_down:
        return
    # Already stopping (Twisted code called reactor.stop()): just wait for the end.
    with contextlib.suppress(ReactorNotRunning):
        cast(_ReactorCalls, reactor).stop()
    await reactor.wait_shut_down()


def as_future(
    deferred: Deferred[T], *, loop: asyncio.AbstractEventLoop | None = None
) -> asyncio.Future[T]:
    """Wrap a Deferred in an asyncio Future, so asyncio code can await it.

    Example::

        line = await as_future(protocol.next_line())

    The Future takes the Deferred's result or exception (the Deferred's own chain
    continues with None after it). Cancelling the Future cancels the Deferred; a
    Deferred cancelled by Twisted code cancels the Future (``await`` raises
    ``asyncio.CancelledError``).

    Args:
        deferred: the Deferred to wait for.
        loop: the loop of the Future; the running loop when None.
    """
    future: asyncio.Future[T] = (loop or asyncio.get_running_loop()).create_future()

    def succeeded(result: T) -> None:
        if not future.done():
            future.set_result(result)

    def failed(failure: Failure) -> None:
        # Returning None consumes the failure: the Future now owns it.
        if future.done():
            return
        error = failure.value
        assert error is not None  # a Failure always holds its exception
        if isinstance(error, DeferredCancelledError):
            future.cancel()
        else:
            future.set_exception(error)

    def cancel_deferred(done: asyncio.Future[T]) -> None:
        if done.cancelled():
            deferred.cancel()

    deferred.addCallbacks(succeeded, failed)
    future.add_done_callback(cancel_deferred)
    return future


def as_deferred(
    awaitable: Awaitable[T], *, loop: asyncio.AbstractEventLoop | None = None
) -> Deferred[T]:
    """Run an awaitable as an asyncio task and return a Deferred for its result.

    Example::

        def lineReceived(self, line: bytes) -> None:
            as_deferred(store.save(line)).addCallback(lambda _: self.sendLine(b"saved"))

    Cancelling the Deferred cancels the task and fails the Deferred at once with
    Twisted's ``CancelledError``; a task cancelled by asyncio code fails the Deferred
    the same way.

    Args:
        awaitable: a coroutine, task or future.
        loop: the loop to run a coroutine on; the running loop when None (a Twisted
            callback runs inside the loop, so there is one).
    """
    future = asyncio.ensure_future(awaitable, loop=loop or asyncio.get_running_loop())

    def cancel_task(_: Deferred[T]) -> None:
        future.cancel()

    deferred: Deferred[T] = Deferred(cancel_task)

    def finished(done: asyncio.Future[T]) -> None:
        if done.cancelled():
            outcome: T | Failure = _failure_of(DeferredCancelledError())
        elif (error := done.exception()) is not None:
            outcome = _failure_of(error)
        else:
            outcome = done.result()
        # A cancelled Deferred has already failed: the task's end is then only consumed.
        if not deferred.called:
            deferred.callback(outcome)

    future.add_done_callback(finished)
    return deferred


def run(main: Coroutine[Any, Any, T], *, use_uvloop: bool | None = None) -> T:
    """Run ``main`` on a new typhoon loop with Twisted's reactor installed on it.

    The reactor is installed before ``main`` starts and stopped after it ends (also
    when it raises), so Twisted's ports, connections and threads are closed.

    Example::

        async def main() -> None:
            reactor = installed_reactor()
            ...

        run(main())

    Args:
        main: the coroutine to run.
        use_uvloop: as for :func:`typhoon.net.loop.new_event_loop`.
    """

    async def with_reactor() -> T:
        try:
            install_reactor()
        except BaseException:
            main.close()  # never started: close it, or it warns "never awaited"
            raise
        try:
            return await main
        finally:
            await stop_reactor()

    return net_loop.run(with_reactor(), use_uvloop=use_uvloop)
