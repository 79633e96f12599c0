"""typhoon.net.twisted with the real Twisted package.

The Deferred/Future helpers need no reactor and are tested here, on the test's loop.
Everything that installs Twisted's reactor runs in a fresh interpreter
(``twisted_scenarios.py``): the reactor is process-global, bound to one loop and cannot
restart, while each test here gets a new loop. Those scenarios run on uvloop and on
plain asyncio.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import CancelledError as DeferredCancelledError
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from typhoon.net.twisted import as_deferred, as_future

SCENARIOS = Path(__file__).with_name("twisted_scenarios.py")
REPO = Path(__file__).resolve().parents[2]
LOOPS = ["asyncio", "uvloop"]


def run_scenario(name: str, loop: str = "asyncio") -> None:
    result = subprocess.run(
        [sys.executable, str(SCENARIOS), name, loop],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )
    output = f"--- stdout\n{result.stdout}--- stderr\n{result.stderr}"
    assert result.returncode == 0, output
    assert result.stdout.splitlines()[-1:] == [f"ok {name} {loop}"], output
    assert "never awaited" not in result.stderr, output
    assert "never retrieved" not in result.stderr, output


# -- with the reactor, one process per scenario -------------------------------------------------


@pytest.mark.parametrize("loop", LOOPS)
def test_twisted_line_service_and_typhoon_app_share_the_loop(loop: str) -> None:
    run_scenario("shared_loop", loop)


@pytest.mark.parametrize("loop", LOOPS)
def test_twisted_tcp_clients_servers_udp_and_threads_on_the_loop(loop: str) -> None:
    run_scenario("connections_udp_and_threads", loop)


@pytest.mark.parametrize("loop", LOOPS)
def test_reactor_timer_errors_and_cancellation_cross_over(loop: str) -> None:
    run_scenario("deferred_errors_and_cancellation", loop)


@pytest.mark.parametrize("loop", LOOPS)
def test_install_reactor_twice_on_a_loop_returns_the_same_reactor(loop: str) -> None:
    run_scenario("install_is_idempotent_per_loop", loop)


def test_install_reactor_after_the_default_reactor_explains_what_to_do() -> None:
    run_scenario("default_reactor_installed_first")


def test_install_reactor_refuses_a_plain_asyncio_reactor() -> None:
    run_scenario("plain_asyncio_reactor_installed_first")


@pytest.mark.parametrize("loop", LOOPS)
def test_stop_reactor_runs_shutdown_triggers_and_keeps_the_loop(loop: str) -> None:
    run_scenario("shutdown_keeps_the_loop", loop)


@pytest.mark.parametrize("loop", LOOPS)
def test_run_installs_and_stops_the_reactor_and_its_threads(loop: str) -> None:
    run_scenario("run_stops_twisted_threads", loop)


def test_import_without_twisted_says_how_to_install_it() -> None:
    probe = (
        "import sys; sys.modules['twisted'] = None\n"
        "try:\n"
        "    import typhoon.net.twisted\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'typhoon[twisted]'" in result.stdout


# -- Deferred -> Future ---------------------------------------------------------------------------


async def test_as_future_takes_the_deferred_result() -> None:
    deferred: Deferred[int] = Deferred()
    future = as_future(deferred)
    assert not future.done()
    deferred.callback(42)
    assert await future == 42


async def test_as_future_of_a_fired_deferred_is_done() -> None:
    deferred: Deferred[str] = Deferred()
    deferred.callback("ready")
    assert await as_future(deferred) == "ready"


async def test_as_future_raises_the_deferred_error() -> None:
    deferred: Deferred[int] = Deferred()
    future = as_future(deferred)
    deferred.errback(KeyError("missing"))
    with pytest.raises(KeyError, match="missing"):
        await future
    # the failure was consumed: the Deferred's chain goes on with None, nothing is logged
    rest: list[object] = []
    deferred.addBoth(rest.append)
    assert rest == [None]


async def test_cancelling_the_future_cancels_the_deferred() -> None:
    cancelled: list[Deferred[int]] = []
    deferred: Deferred[int] = Deferred(cancelled.append)
    future = as_future(deferred)
    future.cancel()
    await asyncio.sleep(0)
    assert cancelled == [deferred]
    assert deferred.called  # failed with Twisted's CancelledError, consumed by the helper


async def test_a_task_awaiting_a_deferred_is_cancelled_through_it() -> None:
    cancelled: list[Deferred[int]] = []
    deferred: Deferred[int] = Deferred(cancelled.append)

    async def wait() -> int:
        return await as_future(deferred)

    task = asyncio.create_task(wait())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled == [deferred]


async def test_a_canceller_firing_a_value_leaves_the_future_cancelled() -> None:
    deferred: Deferred[int] = Deferred(lambda d: d.callback(5))
    future = as_future(deferred)
    future.cancel()
    await asyncio.sleep(0)
    assert future.cancelled()
    assert deferred.called


async def test_cancelling_the_deferred_cancels_the_future() -> None:
    deferred: Deferred[int] = Deferred()
    future = as_future(deferred)
    deferred.cancel()
    with pytest.raises(asyncio.CancelledError):
        await future


async def test_a_deferred_fired_after_its_future_was_cancelled_is_ignored() -> None:
    deferred: Deferred[int] = Deferred()
    future = as_future(deferred)
    future.cancel()  # no canceller: Twisted fails the Deferred with CancelledError itself
    await asyncio.sleep(0)
    assert future.cancelled()
    assert deferred.called
    rest: list[object] = []
    deferred.addBoth(rest.append)
    assert rest == [None]  # the CancelledError was consumed, not left unhandled


# -- awaitable -> Deferred ------------------------------------------------------------------------


def is_cancelled(outcome: object) -> bool:
    return isinstance(outcome, Failure) and isinstance(outcome.value, DeferredCancelledError)


def outcome_of(deferred: Deferred[Any]) -> list[Any]:
    seen: list[Any] = []
    deferred.addBoth(seen.append)
    return seen


async def test_as_deferred_fires_with_the_coroutine_result() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 7

    deferred = as_deferred(answer())
    seen = outcome_of(deferred)
    assert seen == []
    await asyncio.sleep(0.01)
    assert seen == [7]


async def test_as_deferred_fails_with_the_coroutine_exception() -> None:
    async def broken() -> int:
        raise ValueError("bad")

    seen = outcome_of(as_deferred(broken()))
    await asyncio.sleep(0.01)
    [failure] = seen
    assert isinstance(failure, Failure)
    assert isinstance(failure.value, ValueError)
    assert str(failure.value) == "bad"


async def test_as_deferred_accepts_a_future() -> None:
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    seen = outcome_of(as_deferred(future))
    future.set_result("done")
    await asyncio.sleep(0)
    assert seen == ["done"]


async def test_cancelling_the_deferred_cancels_the_task() -> None:
    cleaned: list[str] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            cleaned.append("finally")

    task = asyncio.ensure_future(slow())
    deferred = as_deferred(task)
    seen = outcome_of(deferred)
    await asyncio.sleep(0)
    deferred.cancel()
    [failure] = seen
    assert is_cancelled(failure)
    await asyncio.sleep(0)
    assert task.cancelled()
    assert cleaned == ["finally"]


async def test_a_cancelled_task_fails_its_deferred_with_twisted_cancelled_error() -> None:
    task = asyncio.ensure_future(asyncio.sleep(30))
    seen = outcome_of(as_deferred(task))
    task.cancel()
    await asyncio.sleep(0.01)
    [failure] = seen
    assert is_cancelled(failure)


async def test_a_task_failing_after_its_deferred_was_cancelled_is_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fails_on_cancel() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            raise RuntimeError("cleanup failed") from None

    deferred = as_deferred(fails_on_cancel())
    seen = outcome_of(deferred)
    await asyncio.sleep(0)
    deferred.cancel()
    await asyncio.sleep(0.01)
    [failure] = seen
    assert is_cancelled(failure)
    assert "never retrieved" not in caplog.text


async def test_round_trip_deferred_to_future_and_back() -> None:
    inner: Deferred[str] = Deferred()
    outer = as_deferred(as_future(inner))
    seen = outcome_of(outer)
    inner.callback("there and back")
    await asyncio.sleep(0)
    assert seen == ["there and back"]
