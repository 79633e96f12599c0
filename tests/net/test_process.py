"""spawn_process() and run_process(), on real child processes (this Python, with -c)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from typhoon.net import (
    Process,
    ProcessError,
    ProcessProtocol,
    ProcessResult,
    run_process,
    spawn_process,
    supervisor,
)
from typhoon.testing import FakeClock

PY = sys.executable

# A child that reports when it is ready, then sleeps (so that its death is our doing).
SLEEPER = "import sys, time; print('ready', flush=True); time.sleep(60)"
# The same, deaf to SIGTERM: only SIGKILL ends it.
DEAF_SLEEPER = (
    "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)"
)


class Recorder(ProcessProtocol):
    """Records every hook call; :meth:`ready` waits for the first stdout bytes."""

    def __init__(self, label: str = "") -> None:
        self.label = label
        self.events: list[tuple[str, object]] = []
        self.out = bytearray()
        self.err = bytearray()
        self._output = asyncio.Event()

    def connection_made(self, process: Process[Any]) -> None:
        self.events.append(("made", process))

    def out_received(self, data: bytes) -> None:
        self.out += data
        self._output.set()

    def err_received(self, data: bytes) -> None:
        self.err += data

    def process_exited(self, status: int) -> None:
        self.events.append(("exited", status))

    async def ready(self) -> None:
        await asyncio.wait_for(self._output.wait(), 10)


@pytest.fixture(autouse=True)
async def _stop_the_supervisor() -> AsyncIterator[None]:
    yield
    await supervisor().stop()


def is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_output_chunks_and_exit_status_reach_the_protocol() -> None:
    script = (
        "import sys; sys.stdout.write('to out'); sys.stdout.flush(); "
        "sys.stderr.write('to err'); sys.exit(3)"
    )
    process = await spawn_process([PY, "-c", script], Recorder, label="x")
    assert process.pid > 0
    assert process.protocol.process is process
    assert process.protocol.label == "x"
    assert await process.wait() == 3
    assert process.returncode == 3
    assert not process.timed_out
    assert bytes(process.protocol.out) == b"to out"
    assert bytes(process.protocol.err) == b"to err"
    assert process.protocol.events == [("made", process), ("exited", 3)]
    assert "exited with status 3" in repr(process)


async def test_output_written_just_before_exit_comes_before_process_exited() -> None:
    script = "import os; os.write(1, b'x' * 300000)"
    process = await spawn_process([PY, "-c", script], Recorder)
    assert await process.wait() == 0
    assert len(process.protocol.out) == 300000
    assert process.protocol.events[-1] == ("exited", 0)


async def test_stdin_write_and_close() -> None:
    script = "import sys; sys.stdout.write(sys.stdin.read().upper())"
    process = await spawn_process([PY, "-c", script], Recorder)
    process.write(b"hello ")
    process.write(bytearray(b"world"))
    process.close_stdin()
    process.close_stdin()  # twice is harmless
    assert await process.wait() == 0
    assert bytes(process.protocol.out) == b"HELLO WORLD"
    with pytest.raises(RuntimeError, match=r"write\(\) after close_stdin\(\)"):
        process.write(b"late")
    with pytest.raises(TypeError, match="data must be bytes"):
        process.write("text")  # type: ignore[arg-type]


async def test_without_a_protocol_only_the_status_is_kept() -> None:
    process = await spawn_process([PY, "-c", "print('dropped')"])
    assert await process.wait() == 0
    assert type(process.protocol) is ProcessProtocol


@pytest.mark.parametrize(
    ("how", "status"), [("kill", -signal.SIGKILL), ("terminate", -signal.SIGTERM)]
)
async def test_a_child_killed_by_a_signal_has_a_negative_status(how: str, status: int) -> None:
    process = await spawn_process([PY, "-c", SLEEPER], Recorder)
    await process.protocol.ready()
    getattr(process, how)()
    assert await process.wait() == status
    assert process.protocol.events[-1] == ("exited", status)
    assert "was killed by SIG" in repr(process)
    process.kill()  # once it has exited, signals are ignored
    process.write(b"dropped")  # and so is input


async def test_a_real_timeout_terminates_the_child(caplog: pytest.LogCaptureFixture) -> None:
    process = await spawn_process([PY, "-c", SLEEPER], Recorder, timeout=0.2)
    assert await process.wait() == -signal.SIGTERM
    assert process.timed_out
    assert "after its timeout of 0.2s" in caplog.text


async def test_a_fake_clock_timeout_sends_sigterm_then_sigkill() -> None:
    clock = FakeClock()
    process = await spawn_process(
        [PY, "-c", DEAF_SLEEPER], Recorder, timeout=10, kill_grace=5, clock=clock
    )
    await process.protocol.ready()
    clock.advance(9.9)
    assert not process.timed_out
    clock.advance(0.1)
    assert process.timed_out  # SIGTERM sent, and ignored
    clock.advance(4.9)
    assert process.returncode is None
    clock.advance(0.1)  # SIGKILL
    assert await process.wait() == -signal.SIGKILL
    assert clock.pending == 0


async def test_a_child_that_ends_in_time_cancels_its_timeout() -> None:
    clock = FakeClock()
    process = await spawn_process([PY, "-c", "pass"], timeout=10, clock=clock)
    assert await process.wait() == 0
    assert clock.pending == 0
    assert not process.timed_out


async def test_supervisor_stop_kills_a_sleeping_child() -> None:
    process = await spawn_process([PY, "-c", SLEEPER], Recorder)
    await process.protocol.ready()
    await supervisor().stop()
    assert process.returncode == -signal.SIGTERM
    assert is_gone(process.pid)
    assert await process.wait() == -signal.SIGTERM
    assert process.protocol.events[-1] == ("exited", -signal.SIGTERM)


async def test_supervisor_stop_kills_a_child_deaf_to_sigterm_after_the_grace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    process = await spawn_process([PY, "-c", DEAF_SLEEPER], Recorder, kill_grace=0.1)
    await process.protocol.ready()
    await supervisor().stop()
    assert process.returncode == -signal.SIGKILL
    assert is_gone(process.pid)
    assert "ignored SIGTERM" in caplog.text


async def test_a_child_is_the_supervisors_until_it_ends() -> None:
    process = await spawn_process([PY, "-c", "import sys; sys.stdin.read()"])
    assert "1 stop callback(s)" in repr(supervisor())
    process.close_stdin()
    await process.wait()
    assert "0 stop callback(s)" in repr(supervisor())


async def test_a_hook_that_raises_is_logged_and_the_process_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(ProcessProtocol):
        def out_received(self, data: bytes) -> None:
            raise ValueError("hook boom")

    process = await spawn_process([PY, "-c", "import os; os.write(1, b'x')"], Broken)
    assert await process.wait() == 0
    errors = [r for r in caplog.records if r.name == "typhoon.net" and r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == ["Broken.out_received() raised"]


async def test_run_process_with_input() -> None:
    result = await run_process(
        [PY, "-c", "import sys; data = sys.stdin.read(); print(len(data), end='')"],
        input=b"12345",
    )
    assert result == ProcessResult(stdout=b"5", stderr=b"", status=0)


async def test_run_process_closes_stdin_when_there_is_no_input() -> None:
    result = await run_process([PY, "-c", "import sys; print(repr(sys.stdin.read()), end='')"])
    assert result.stdout == b"''"


async def test_run_process_check() -> None:
    script = "import sys; sys.stderr.write('a' * 5000 + 'the end'); sys.exit(2)"
    result = await run_process([PY, "-c", script])
    assert result.status == 2
    with pytest.raises(ProcessError) as caught:
        await run_process([PY, "-c", script], check=True)
    error = caught.value
    assert error.status == 2
    assert error.stderr.endswith(b"the end")
    message = str(error)
    assert "exited with status 2; stderr: ...a" in message
    assert message.endswith("the end")
    assert len(message) < 2200
    assert (await run_process([PY, "-c", "pass"], check=True)).status == 0


async def test_run_process_check_names_the_killing_signal() -> None:
    script = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    with pytest.raises(ProcessError, match=r"was killed by SIGKILL$"):
        await run_process([PY, "-c", script], check=True)


async def test_run_process_timeout_kills_the_child() -> None:
    with pytest.raises(TimeoutError, match=r"ran past its timeout of 0\.2s"):
        await run_process([PY, "-c", SLEEPER], timeout=0.2)
    assert "0 stop callback(s)" in repr(supervisor())  # the child is gone


async def test_cancelling_run_process_kills_the_child() -> None:
    call = asyncio.ensure_future(run_process([PY, "-c", SLEEPER]))
    await asyncio.sleep(0.2)
    assert "1 stop callback(s)" in repr(supervisor())
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    for _ in range(500):
        if "0 stop callback(s)" in repr(supervisor()):
            break
        await asyncio.sleep(0.01)
    assert "0 stop callback(s)" in repr(supervisor())


async def test_env_and_cwd_are_passed(tmp_path: Path) -> None:
    script = "import os; print(os.getcwd(), os.environ.get('TYPHOON_X'), sep='|', end='')"
    result = await run_process([PY, "-c", script], cwd=tmp_path, env={"TYPHOON_X": "42"})
    assert result.stdout.decode() == f"{tmp_path}|42"  # tmp_path is resolved already


async def test_bad_argv_is_refused() -> None:
    with pytest.raises(ValueError, match="argv must not be empty"):
        await spawn_process([])
    with pytest.raises(TypeError, match="argv must be a sequence of strings"):
        await spawn_process("ls -l")
    with pytest.raises(TypeError, match=r"argv\[1\] must be a str, got int"):
        await spawn_process([PY, 1])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"keyword arguments \['label'\] are for the protocol"):
        await spawn_process([PY, "-c", "pass"], label="x")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="protocol must make a ProcessProtocol"):
        await spawn_process([PY, "-c", "pass"], object)  # type: ignore[type-var]
    with pytest.raises(ValueError, match="timeout must be a finite number of seconds > 0"):
        await spawn_process([PY, "-c", "pass"], timeout=0)
    with pytest.raises(ValueError, match="kill_grace must be a finite number"):
        await spawn_process([PY, "-c", "pass"], kill_grace=-1)
    assert "0 stop callback(s)" in repr(supervisor())  # nothing was started


async def test_a_missing_program_or_directory_is_a_clear_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(
        FileNotFoundError, match="cannot run 'typhoon-no-such-program': no such program on PATH"
    ):
        await spawn_process(["typhoon-no-such-program"])
    with pytest.raises(FileNotFoundError, match="no such file"):
        await run_process([str(tmp_path / "missing")])
    with pytest.raises(FileNotFoundError, match=r"the working directory .* does not exist"):
        await run_process([PY, "-c", "pass"], cwd=tmp_path / "missing")
