"""typhoon's public test kit. Nothing else in typhoon imports it."""

from __future__ import annotations

from typhoon.testing.clock import FakeClock, FakeTimer
from typhoon.testing.http import ParsedResponse, connect, feed, parse_responses, settle
from typhoon.testing.transport import MemoryTransport

__all__ = [
    "FakeClock",
    "FakeTimer",
    "MemoryTransport",
    "ParsedResponse",
    "connect",
    "feed",
    "parse_responses",
    "settle",
]
