"""Choosing the event loop: uvloop when importable, plain asyncio otherwise.

This is the only module in typhoon that imports uvloop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from types import ModuleType
from typing import Any, TypeVar

from typhoon.net.tasks import supervisor

T = TypeVar("T")

_uvloop: ModuleType | None
try:
    import uvloop as _uvloop
except ImportError:  # pragma: no cover - uvloop is installed wherever the tests run
    _uvloop = None


def uvloop_available() -> bool:
    """Return True when uvloop can be used on this interpreter."""
    return _uvloop is not None


def new_event_loop(use_uvloop: bool | None = None) -> asyncio.AbstractEventLoop:
    """Create a new event loop.

    Args:
        use_uvloop: True to require uvloop, False to refuse it, None (the default)
            to use it when it is importable.

    Raises:
        RuntimeError: ``use_uvloop`` is True but uvloop is not installed.
    """
    if use_uvloop is None:
        use_uvloop = _uvloop is not None
    if not use_uvloop:
        return asyncio.new_event_loop()
    if _uvloop is None:  # pragma: no cover - see above
        raise RuntimeError("use_uvloop=True but uvloop is not installed")
    loop: asyncio.AbstractEventLoop = _uvloop.new_event_loop()
    return loop


def run(main: Coroutine[Any, Any, T], *, use_uvloop: bool | None = None) -> T:
    """Run ``main`` to completion on a new loop chosen by :func:`new_event_loop`.

    When ``main`` ends (returns, raises or is cancelled by Ctrl+C), the loop's
    :class:`~typhoon.net.tasks.Supervisor` stops: background tasks from ``spawn()`` are
    cancelled, child processes killed and the thread pool shut down. ``typhoon run``
    and ``App.run()`` go through here.
    """
    with asyncio.Runner(loop_factory=lambda: new_event_loop(use_uvloop)) as runner:
        return runner.run(_supervised(main))


async def _supervised(main: Coroutine[Any, Any, T]) -> T:
    try:
        return await main
    finally:
        await supervisor().stop()
