"""The FakeClock and MemoryTransport of the public test kit."""

from __future__ import annotations

import asyncio

import pytest

from typhoon.testing import FakeClock, MemoryTransport, parse_responses


def test_fake_clock_runs_timers_in_order_when_due() -> None:
    clock = FakeClock(start=100.0)
    fired: list[str] = []
    clock.call_later(2, fired.append, "b")
    clock.call_later(1, fired.append, "a")
    cancelled = clock.call_later(1.5, fired.append, "never")
    cancelled.cancel()
    assert clock.pending == 2
    clock.advance(0.99)
    assert fired == []
    clock.advance(0.01)
    assert fired == ["a"]
    clock.advance(5)
    assert fired == ["a", "b"]
    assert clock.time() == 106.0


def test_fake_clock_timer_scheduled_by_a_timer_runs_in_the_same_advance() -> None:
    clock = FakeClock(start=0)
    ticks: list[float] = []

    def tick() -> None:
        ticks.append(clock.time())
        if len(ticks) < 3:
            clock.call_later(1, tick)

    clock.call_later(1, tick)
    clock.advance(10)
    assert ticks == [1, 2, 3]


def test_fake_clock_refuses_to_go_back() -> None:
    with pytest.raises(ValueError, match="seconds must be >= 0"):
        FakeClock().advance(-1)


async def test_fake_clock_run_for_lets_the_tasks_timers_start_schedule_the_next() -> None:
    clock = FakeClock(start=0)
    ticks: list[float] = []
    tasks: set[asyncio.Task[None]] = set()

    async def job() -> None:
        await asyncio.sleep(0)  # a task that schedules its next run only when it ends
        ticks.append(clock.time())
        clock.call_later(60, start)

    def start() -> None:
        task = asyncio.ensure_future(job())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    clock.call_later(60, start)
    clock.advance(180)  # the sync advance: the first task has not even run yet
    assert ticks == []
    await asyncio.sleep(0.01)
    assert ticks == [180]  # it ran once, late, and its next run is still to come

    clock = FakeClock(start=0)
    ticks.clear()
    clock.call_later(60, start)
    await clock.run_for(180)
    assert ticks == [60, 120, 180]
    assert clock.time() == 180


async def test_fake_clock_run_for_skips_cancelled_timers_and_refuses_to_go_back() -> None:
    clock = FakeClock(start=0)
    fired: list[str] = []
    clock.call_later(1, fired.append, "never").cancel()
    clock.call_later(2, fired.append, "yes")
    await clock.run_for(5)
    assert (fired, clock.time()) == (["yes"], 5)
    with pytest.raises(ValueError, match="seconds must be >= 0"):
        await clock.run_for(-1)


async def test_memory_transport_collects_writes_and_closes_softly() -> None:
    transport = MemoryTransport()
    lost: list[Exception | None] = []

    class P(asyncio.Protocol):
        def connection_lost(self, exc: Exception | None) -> None:
            lost.append(exc)

    transport.set_protocol(P())
    transport.write(b"ab")
    transport.write(b"c")
    assert (transport.take(), transport.writes) == (b"abc", 2)
    transport.close()
    transport.close()
    assert transport.is_closing()
    assert not transport.closed
    await asyncio.sleep(0)
    assert transport.closed
    assert lost == [None]
    with pytest.raises(RuntimeError, match="closed MemoryTransport"):
        transport.write(b"x")


def test_parse_responses_reads_length_chunked_and_close_delimited() -> None:
    data = (
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi"
        b"HTTP/1.1 204 No Content\r\n\r\n"
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1;x\r\na\r\n2\r\nbc\r\n0\r\n\r\n"
        b"HTTP/1.0 200 OK\r\n\r\nrest"
    )
    responses = parse_responses(data)
    assert [(r.status, r.body) for r in responses] == [
        (200, b"hi"),
        (204, b""),
        (200, b"abc"),
        (200, b"rest"),
    ]
    assert responses[0].header("Content-Length") == "2"
    assert responses[0].header("x-missing") is None


@pytest.mark.parametrize(
    "data", [b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nabc"]
)
def test_parse_responses_incomplete_data_raises(data: bytes) -> None:
    with pytest.raises(ValueError, match="incomplete"):
        parse_responses(data)
