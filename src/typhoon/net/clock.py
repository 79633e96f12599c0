"""The small piece of the event loop that timers need.

Connection timeouts are scheduled through a :class:`Clock` rather than the loop
itself, so that tests can swap in ``typhoon.testing.FakeClock`` and move time by
hand. Every asyncio event loop already satisfies this protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class TimerHandle(Protocol):
    """What ``call_later`` returns: something that can be cancelled."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Schedules callbacks in the future. ``asyncio.AbstractEventLoop`` is one."""

    def time(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle: ...
