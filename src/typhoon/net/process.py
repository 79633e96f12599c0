"""Child processes: :func:`spawn_process` with a :class:`ProcessProtocol`, and :func:`run_process`.

Twisted's ``spawnProcess`` and ``ProcessProtocol``, on ``loop.subprocess_exec``::

    class Tail(ProcessProtocol):
        def out_received(self, data: bytes) -> None:
            print(data.decode(), end="")

        def process_exited(self, status: int) -> None:
            print("tail ended with", status)

    process = await spawn_process(["tail", "-f", "app.log"], Tail)
    ...
    process.terminate()

Rules:

* The child's stdin, stdout and stderr are pipes. ``process_exited(status)`` comes
  last, once the child has exited *and* both output pipes are closed, so no output is
  ever delivered after it. ``status`` is the return code; a negative one is the signal
  that killed the child (-9 for SIGKILL).
* A ``timeout`` counts on a :class:`~typhoon.net.clock.Clock` (so ``FakeClock`` can
  drive it); past it the child gets SIGTERM, then SIGKILL ``kill_grace`` seconds
  later. The child's end is reported as usual, with :attr:`Process.timed_out` set:
  :meth:`Process.wait` returns the (negative) status rather than raising.
  :func:`run_process` turns a timeout into ``TimeoutError``.
* Every live child is registered with the loop's
  :class:`~typhoon.net.tasks.Supervisor`: ``supervisor().stop()`` sends SIGTERM to
  those still running, SIGKILL after their ``kill_grace`` (real seconds, whatever the
  clock), and waits for them.
* An exception raised by a protocol hook is logged on ``typhoon.net``; the process
  carries on.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast, overload

from typhoon.net.clock import Clock, TimerHandle
from typhoon.net.tasks import Supervisor, supervisor
from typhoon.net.timers import _clock, check_seconds

logger = logging.getLogger("typhoon.net")

#: How long the output pipes may stay open after the child exited (a grandchild may
#: hold them) before ``supervisor().stop()`` closes them.
PIPE_GRACE_S = 1.0

#: How much of stderr a :class:`ProcessError` message quotes, at most.
STDERR_TAIL_BYTES = 2000


class ProcessProtocol:
    """What happens to a child started by :func:`spawn_process`; override the hooks.

    Attributes:
        process: the :class:`Process` handle, set just before :meth:`connection_made`.
    """

    process: Process[Any]

    def connection_made(self, process: Process[Any]) -> None:
        """The child has started; ``process`` (also ``self.process``) drives it."""

    def out_received(self, data: bytes) -> None:
        """The child wrote ``data`` to its stdout."""

    def err_received(self, data: bytes) -> None:
        """The child wrote ``data`` to its stderr."""

    def process_exited(self, status: int) -> None:
        """The child ended with ``status`` (negative: killed by that signal); last call."""


ProtocolT = TypeVar("ProtocolT", bound=ProcessProtocol)


class Process(Generic[ProtocolT]):
    """A running (or ended) child process, as returned by :func:`spawn_process`.

    Attributes:
        argv: the command line it was started with.
        protocol: the :class:`ProcessProtocol` that receives its output.
        timed_out: True once its ``timeout`` passed and it was told to stop.
    """

    def __init__(
        self,
        argv: tuple[str, ...],
        transport: asyncio.SubprocessTransport,
        protocol: ProtocolT,
        kill_grace: float,
        clock: Clock,
    ) -> None:
        self.argv = argv
        self.protocol = protocol
        self.timed_out = False
        self._transport = transport
        self._kill_grace = kill_grace
        self._clock = clock
        self._timer: TimerHandle | None = None
        self._stdin_closed = False
        loop = asyncio.get_running_loop()
        self._exited: asyncio.Future[int] = loop.create_future()
        self._finished: asyncio.Future[int] = loop.create_future()

    def __repr__(self) -> str:
        state = "running" if self.returncode is None else _describe(self.returncode)
        return f"<Process pid={self.pid} {self.argv[0]!r} {state}>"

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._transport.get_pid()

    @property
    def returncode(self) -> int | None:
        """The exit status once the child has exited (negative: the signal), else None."""
        return self._exited.result() if self._exited.done() else None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Write ``data`` to the child's stdin, without waiting.

        Once the child has exited (or closed its stdin), the data is dropped.

        Raises:
            TypeError: ``data`` is not bytes.
            RuntimeError: :meth:`close_stdin` was called.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"data must be bytes, got {type(data).__name__}")
        if self._stdin_closed:
            raise RuntimeError("write() after close_stdin()")
        pipe = self._stdin()
        if pipe is not None and not pipe.is_closing():
            pipe.write(data)

    def close_stdin(self) -> None:
        """Close the child's stdin once what was written is flushed (the child reads EOF)."""
        self._stdin_closed = True
        pipe = self._stdin()
        if pipe is not None and not pipe.is_closing():
            pipe.close()

    def _stdin(self) -> asyncio.WriteTransport | None:
        return cast(asyncio.WriteTransport | None, self._transport.get_pipe_transport(0))

    def send_signal(self, signum: int) -> None:
        """Send signal ``signum`` to the child; nothing happens once it has exited."""
        if self._exited.done():
            return
        try:
            self._transport.send_signal(signum)
        except ProcessLookupError:
            pass  # it exited, and the loop has not told us yet

    def terminate(self) -> None:
        """Ask the child to stop (SIGTERM); nothing happens once it has exited."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """Kill the child (SIGKILL); nothing happens once it has exited."""
        self.send_signal(signal.SIGKILL)

    async def wait(self) -> int:
        """Wait until the child has exited and its output is delivered; return the status.

        The status is the return code, negative when a signal killed the child. After
        a timeout it is returned too (see :attr:`timed_out`). Cancelling the wait
        leaves the child alone.
        """
        return await asyncio.shield(self._finished)

    def _arm_timeout(self, timeout: float) -> None:
        self._timer = self._clock.call_later(timeout, self._timeout_passed, timeout)

    def _timeout_passed(self, timeout: float) -> None:
        self._timer = None
        if self._exited.done():
            return
        self.timed_out = True
        logger.warning(
            "%r still running after its timeout of %ss; sending SIGTERM, then SIGKILL in %ss",
            self,
            timeout,
            self._kill_grace,
        )
        self.terminate()
        self._timer = self._clock.call_later(self._kill_grace, self.kill)

    def _exit(self, status: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._exited.done():
            self._exited.set_result(status)

    async def _shut_down(self) -> None:
        """The supervisor's stop callback: SIGTERM, SIGKILL after the grace, then reap."""
        if not self._exited.done():
            self.terminate()
            try:
                await asyncio.wait_for(asyncio.shield(self._exited), self._kill_grace)
            except TimeoutError:
                logger.warning("%r ignored SIGTERM for %ss; killing it", self, self._kill_grace)
                self.kill()
                await asyncio.shield(self._exited)
        await asyncio.wait({self._finished}, timeout=PIPE_GRACE_S)
        if not self._finished.done():
            self._transport.close()  # the pipes close, so the protocol hears the end


class _Adapter(asyncio.SubprocessProtocol):
    """Turns asyncio's subprocess callbacks into :class:`ProcessProtocol` ones."""

    def __init__(
        self,
        argv: tuple[str, ...],
        protocol: ProcessProtocol,
        *,
        timeout: float | None,
        kill_grace: float,
        clock: Clock,
        owner: Supervisor,
    ) -> None:
        self.process: Process[Any] | None = None
        self._argv = argv
        self._protocol = protocol
        self._timeout = timeout
        self._kill_grace = kill_grace
        self._clock = clock
        self._owner = owner
        self._open_outputs = {1, 2}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.SubprocessTransport, transport)
        process = Process(self._argv, transport, self._protocol, self._kill_grace, self._clock)
        self.process = process
        self._owner.add_stop_callback(process._shut_down)
        if self._timeout is not None:
            process._arm_timeout(self._timeout)
        self._protocol.process = process
        self._call_hook("connection_made", process)

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        assert isinstance(data, bytes)  # pipes are opened in binary mode
        self._call_hook("out_received" if fd == 1 else "err_received", data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self._open_outputs.discard(fd)
        self._maybe_finish()

    def process_exited(self) -> None:
        assert self.process is not None
        status = self.process._transport.get_returncode()
        assert status is not None
        self.process._exit(status)
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        process = self.process
        if process is None or self._open_outputs or not process._exited.done():
            return
        if process._finished.done():
            return
        status = process._exited.result()
        process._transport.close()
        self._owner.remove_stop_callback(process._shut_down)
        self._call_hook("process_exited", status)
        process._finished.set_result(status)

    def _call_hook(self, name: str, *args: Any) -> None:
        try:
            getattr(self._protocol, name)(*args)
        except Exception:
            logger.exception("%s.%s() raised", type(self._protocol).__name__, name)


def _check_argv(argv: Sequence[str]) -> tuple[str, ...]:
    if isinstance(argv, str | bytes) or not isinstance(argv, Sequence):
        raise TypeError(f"argv must be a sequence of strings such as ['ls', '-l'], got {argv!r}")
    if not argv:
        raise ValueError("argv must not be empty: argv[0] is the program to run")
    for index, item in enumerate(argv):
        if not isinstance(item, str):
            raise TypeError(f"argv[{index}] must be a str, got {type(item).__name__}: {item!r}")
    return tuple(argv)


def _not_found(argv: tuple[str, ...], cwd: str | os.PathLike[str] | None) -> FileNotFoundError:
    if cwd is not None and not os.path.isdir(cwd):
        message = f"cannot run {argv[0]!r}: the working directory {os.fspath(cwd)!r} does not exist"
    elif os.sep in argv[0]:
        message = f"cannot run {argv[0]!r}: no such file"
    else:
        message = f"cannot run {argv[0]!r}: no such program on PATH"
    return FileNotFoundError(errno.ENOENT, message)


@overload
async def spawn_process(
    argv: Sequence[str],
    protocol: None = None,
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 -- the child's deadline, not the call's
    kill_grace: float = 5.0,
    clock: Clock | None = None,
) -> Process[ProcessProtocol]: ...


@overload
async def spawn_process(
    argv: Sequence[str],
    protocol: Callable[..., ProtocolT],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 -- the child's deadline, not the call's
    kill_grace: float = 5.0,
    clock: Clock | None = None,
    **kwargs: Any,
) -> Process[ProtocolT]: ...


async def spawn_process(
    argv: Sequence[str],
    protocol: Callable[..., ProcessProtocol] | None = None,
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 -- the child's deadline, not the call's
    kill_grace: float = 5.0,
    clock: Clock | None = None,
    **kwargs: Any,
) -> Process[Any]:
    """Start ``argv`` as a child process whose output goes to ``protocol``.

    Twisted's ``spawnProcess``. ``protocol`` is a :class:`ProcessProtocol` class (or
    any callable returning one), called with ``kwargs``; without one, the output is
    dropped and only :meth:`Process.wait` tells the end.

    Example::

        process = await spawn_process(["sort"], Collect, into=lines)
        process.write(b"b\\na\\n")
        process.close_stdin()
        status = await process.wait()

    Args:
        argv: the program and its arguments; the program is looked up on ``PATH``.
        cwd: the working directory of the child (this process's by default).
        env: the child's whole environment (this process's by default).
        timeout: seconds, on ``clock``, after which the child gets SIGTERM, and
            SIGKILL ``kill_grace`` seconds later; :attr:`Process.timed_out` is then
            True and :meth:`Process.wait` returns the status it ended with.
        kill_grace: seconds between SIGTERM and SIGKILL, after a timeout or at
            ``supervisor().stop()``.
        clock: the clock the timeout counts on (the running loop by default).

    Raises:
        TypeError: ``argv`` is not a sequence of strings, or ``kwargs`` without a
            ``protocol``, or ``protocol`` did not make a :class:`ProcessProtocol`.
        ValueError: ``argv`` is empty, or ``timeout`` / ``kill_grace`` is not a
            valid number of seconds.
        FileNotFoundError: the program (or ``cwd``) does not exist.
    """
    args = _check_argv(argv)
    if timeout is not None:
        timeout = check_seconds(timeout, "timeout", zero=False)
    kill_grace = check_seconds(kill_grace, "kill_grace", zero=True)
    if protocol is None:
        if kwargs:
            raise TypeError(
                f"keyword arguments {sorted(kwargs)} are for the protocol, and none was given"
            )
        instance = ProcessProtocol()
    else:
        instance = protocol(**kwargs)
        if not isinstance(instance, ProcessProtocol):
            raise TypeError(f"protocol must make a ProcessProtocol, got {instance!r}")
    loop = asyncio.get_running_loop()
    adapter = _Adapter(
        args,
        instance,
        timeout=timeout,
        kill_grace=kill_grace,
        clock=_clock(clock),
        owner=supervisor(),
    )
    try:
        await loop.subprocess_exec(
            lambda: adapter,
            *args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
        )
    except FileNotFoundError:
        raise _not_found(args, cwd) from None
    assert adapter.process is not None  # connection_made runs before subprocess_exec returns
    return adapter.process


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """What :func:`run_process` returns.

    Attributes:
        stdout: everything the child wrote to stdout.
        stderr: everything the child wrote to stderr.
        status: the return code; negative when a signal killed the child.
    """

    stdout: bytes
    stderr: bytes
    status: int


class ProcessError(Exception):
    """A child run with ``run_process(..., check=True)`` did not exit with status 0.

    The message quotes the end of its stderr.

    Attributes:
        argv: the command line.
        status: the return code; negative when a signal killed the child.
        stdout: everything the child wrote to stdout.
        stderr: everything the child wrote to stderr.
    """

    def __init__(self, argv: Sequence[str], status: int, stdout: bytes, stderr: bytes) -> None:
        self.argv = tuple(argv)
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        message = f"{self.argv[0]!r} {_describe(status)}"
        tail = stderr[-STDERR_TAIL_BYTES:].decode("utf-8", "replace").strip()
        if tail:
            cut = "..." if len(stderr) > STDERR_TAIL_BYTES else ""
            message += f"; stderr: {cut}{tail}"
        super().__init__(message)


def _describe(status: int) -> str:
    if status >= 0:
        return f"exited with status {status}"
    try:
        name = signal.Signals(-status).name
    except ValueError:
        name = f"signal {-status}"
    return f"was killed by {name}"


class _Collect(ProcessProtocol):
    def __init__(self) -> None:
        self.out: list[bytes] = []
        self.err: list[bytes] = []

    def out_received(self, data: bytes) -> None:
        self.out.append(data)

    def err_received(self, data: bytes) -> None:
        self.err.append(data)


async def run_process(
    argv: Sequence[str],
    *,
    input: bytes | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 -- the child's deadline, not the call's
    check: bool = False,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    kill_grace: float = 5.0,
) -> ProcessResult:
    """Run ``argv`` to its end and return its output and status.

    The child reads ``input`` on stdin (nothing by default: stdin is closed at once).
    Cancelling the call kills the child.

    Example::

        result = await run_process(["git", "rev-parse", "HEAD"], check=True, timeout=10)
        commit = result.stdout.decode().strip()

    Args:
        timeout: seconds after which the child gets SIGTERM (SIGKILL ``kill_grace``
            seconds later) and ``TimeoutError`` is raised once it has ended.
        check: raise :class:`ProcessError` when the status is not 0.
        cwd, env, kill_grace: as for :func:`spawn_process`.

    Raises:
        TimeoutError: the child ran past ``timeout`` and was killed.
        ProcessError: ``check`` is true and the status is not 0.
        FileNotFoundError, TypeError, ValueError: as for :func:`spawn_process`.
    """
    process = await spawn_process(
        argv, _Collect, cwd=cwd, env=env, timeout=timeout, kill_grace=kill_grace
    )
    try:
        if input is not None:
            process.write(input)
        process.close_stdin()
        status = await process.wait()
    except BaseException:
        process.kill()
        raise
    stdout, stderr = b"".join(process.protocol.out), b"".join(process.protocol.err)
    if process.timed_out:
        raise TimeoutError(
            f"{process.argv[0]!r} ran past its timeout of {timeout}s; it was stopped"
        )
    if check and status != 0:
        raise ProcessError(process.argv, status, stdout, stderr)
    return ProcessResult(stdout=stdout, stderr=stderr, status=status)
