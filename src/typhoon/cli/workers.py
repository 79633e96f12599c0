"""``typhoon run --workers N`` and ``--reload``: a supervisor process and its workers.

Process model
-------------
* The **supervisor** never imports the application. It binds the listening sockets,
  starts each worker as a fresh interpreter (``python -m typhoon`` with the same
  arguments), and from then on only watches: it restarts a worker that died, replaces
  all of them on SIGHUP (or, with ``--reload``, on a change to a Python file), and
  drains them on SIGINT/SIGTERM.
* A **worker** is the ordinary single-process server (:func:`typhoon.http.server.run`)
  on a socket it inherited. It knows it is a worker from two file descriptors named in
  its environment (:data:`CONTROL_FD_ENV`, :data:`LISTEN_FD_ENV`).
* A bad application spec or an import error shows up when the first workers start:
  they print the error and exit before they are ready, and the supervisor exits with
  their status (2 for a bad spec), so ``typhoon run`` fails as fast as without workers.

Sockets
-------
* On Linux (TCP), the supervisor binds one ``SO_REUSEPORT`` socket per worker *slot*;
  the kernel spreads new connections over them. A slot's socket outlives the worker
  that serves it: its replacement inherits the same socket, so connections waiting in
  its accept queue while the old worker drains are accepted by the new one, never
  reset (closing the last copy of a listening socket resets what is queued on it).
* Elsewhere, with ``--uds``, or when ``TYPHOON_WORKERS_SOCKET=shared`` is set, one
  socket is bound and every worker accepts on it.
* The supervisor closes its copies when a stop begins, so once the workers stop
  accepting, new connections are refused as with a single process.

Metrics
-------
The supervisor makes a directory for the workers' metrics and names it in their
environment (``TYPHOON_METRICS_DIR``): each worker writes its figures there, and a scrape
answered by any worker reports all of them (:mod:`typhoon.http.shared_metrics`).

Control channel and readiness
-----------------------------
Each worker gets one end of a socketpair. Once it listens and its startup hooks ran,
it writes :data:`READY`; the supervisor waits for that line, not for a delay. An EOF
before it means the worker died while starting. The channel also works the other way
round: when the supervisor goes away (even by SIGKILL), the worker reads EOF and
drains itself.

SIGHUP, one slot at a time: start the new worker, wait until it is ready, then send
SIGTERM to the old one, which drains as usual. If a new worker fails to start, the
replacement stops there and the old workers go on serving.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typhoon.cli import reload as reloading
from typhoon.http import shared_metrics
from typhoon.http.limits import HTTPConfig
from typhoon.http.server import run as run_server
from typhoon.http.shared_metrics import METRICS_DIR_ENV
from typhoon.http.tls import TLSConfig
from typhoon.net import loop as net_loop
from typhoon.net.server import check_uds_path

logger = logging.getLogger("typhoon.workers")

#: The environment variables that make ``typhoon run`` a worker: the file descriptors
#: of its end of the control channel and of its listening socket.
CONTROL_FD_ENV = "TYPHOON_WORKER_CONTROL_FD"
LISTEN_FD_ENV = "TYPHOON_WORKER_LISTEN_FD"
#: With ``--ssl-port`` and ``--redirect-http-port``: the sockets of those ports.
SSL_FD_ENV = "TYPHOON_WORKER_SSL_FD"
REDIRECT_FD_ENV = "TYPHOON_WORKER_REDIRECT_FD"
#: ``shared`` (one socket for all workers) or ``reuseport`` (one per worker, Linux).
SOCKET_MODE_ENV = "TYPHOON_WORKERS_SOCKET"

READY = b"ready\n"
BACKLOG = 2048
#: How long after ``graceful_timeout`` a stopping supervisor waits before SIGKILL.
STOP_MARGIN_S = 5.0
#: Delays before restarting a worker that died: the n-th crash within
#: ``CRASH_WINDOW_S`` waits the n-th delay. More than ``MAX_CRASHES`` is a crash loop.
RESTART_DELAYS_S = (0.1, 0.5, 1.0, 2.0, 5.0)
CRASH_WINDOW_S = 60.0
MAX_CRASHES = 5


@dataclass(frozen=True)
class WorkersConfig:
    """How many processes serve, and whether they reload on code changes."""

    workers: int = field(default=1, metadata={"help": "number of worker processes"})
    reload: bool = field(
        default=False,
        metadata={"help": "restart the worker when a Python file changes (development)"},
    )
    reload_dirs: tuple[str, ...] = field(
        default=(),
        metadata={"help": "more directories to watch with reload (the app's is watched)"},
    )

    def __post_init__(self) -> None:
        if isinstance(self.workers, bool) or not isinstance(self.workers, int):
            raise ValueError(f"workers must be an integer, got {self.workers!r}")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.reload and self.workers > 1:
            raise ValueError(
                f"reload cannot be combined with workers {self.workers}: "
                "reload runs a single worker"
            )
        if self.reload_dirs and not self.reload:
            raise ValueError("reload_dirs needs reload")

    @property
    def supervised(self) -> bool:
        """Whether a supervisor process is needed."""
        return self.workers > 1 or self.reload


# -- listening sockets -------------------------------------------------------------------


@dataclass
class Listeners:
    """The sockets the supervisor bound: one shared, or one per worker slot."""

    sockets: list[socket.socket]
    where: str
    uds: str | None = None

    def for_slot(self, slot: int) -> socket.socket:
        return self.sockets[slot % len(self.sockets)]

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        if self.uds is not None:
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(os.stat(self.uds).st_mode):
                    os.unlink(self.uds)
            self.uds = None


def socket_mode(uds: str | None) -> str:
    """``shared`` or ``reuseport``, from :data:`SOCKET_MODE_ENV` and the platform.

    Raises:
        ValueError: the variable holds something else, or asks for ``reuseport``
            where it is not available.
    """
    reuseport_ok = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")
    wanted = os.environ.get(SOCKET_MODE_ENV, "")
    if wanted not in ("", "shared", "reuseport"):
        raise ValueError(f"{SOCKET_MODE_ENV} must be 'shared' or 'reuseport', got {wanted!r}")
    if wanted == "reuseport" and (uds is not None or not reuseport_ok):
        raise ValueError(f"{SOCKET_MODE_ENV}=reuseport needs TCP on Linux")
    if uds is not None or not reuseport_ok:
        return "shared"
    return wanted or "reuseport"


def bind_listeners(
    *,
    host: str,
    port: int,
    uds: str | None,
    workers: int,
    sock: socket.socket | None = None,
    scheme: str = "http",
) -> Listeners:
    """Bind and listen: a Unix socket, one shared TCP socket, or ``workers`` SO_REUSEPORT
    sockets on the same address; or share ``sock``, a listening socket this process
    inherited (``--fd``), between the workers.

    Raises:
        ValueError: bad settings (see :func:`socket_mode`), or ``uds`` names a file
            that is not a socket.
        OSError: the address cannot be bound.
    """
    if sock is not None:
        return Listeners([sock], f"fd {sock.fileno()}")
    mode = socket_mode(uds)
    if uds is not None:
        return Listeners([_bind_unix(uds)], f"unix:{uds}", uds)
    first = _bind_tcp(host, port, reuse_port=mode == "reuseport")
    sockets = [first]
    try:
        bound_port = int(first.getsockname()[1])
        if mode == "reuseport":
            sockets += [_bind_tcp(host, bound_port, reuse_port=True) for _ in range(workers - 1)]
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    shown = f"[{host}]" if ":" in host else host
    return Listeners(sockets, f"{scheme}://{shown}:{bound_port}/")


def _bind_tcp(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def _bind_unix(path: str) -> socket.socket:
    check_uds_path(path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # a stale socket from an earlier run
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


# -- the worker side ---------------------------------------------------------------------


def is_worker() -> bool:
    """Whether this process was started by a supervisor as a worker."""
    return CONTROL_FD_ENV in os.environ


def run_worker(
    app: Any,
    *,
    config: HTTPConfig,
    tls: TLSConfig | None = None,
    tls_app: Any = None,
    use_uvloop: bool | None,
) -> int:
    """Serve ``app`` on the inherited sockets until SIGTERM (or the supervisor's end);
    return the exit status.

    With ``tls``, the main socket speaks HTTPS; or, with ``tls.ssl_port``, the inherited
    ``--ssl-port`` socket does (served by ``tls_app`` when given), and with
    ``tls.redirect_http_port`` the inherited redirect socket sends clients there.
    """
    # Popped, so that a ``typhoon run`` the application starts is not a worker too.
    control = _inherited(CONTROL_FD_ENV)
    listen = _inherited(LISTEN_FD_ENV)
    assert control is not None, "is_worker() said so"
    assert listen is not None, "the supervisor names both"
    ssl_sock, redirect_sock = _inherited(SSL_FD_ENV), _inherited(REDIRECT_FD_ENV)

    def ready() -> None:
        control.sendall(READY)
        control.setblocking(False)
        loop = asyncio.get_running_loop()
        loop.add_reader(control.fileno(), _control_readable, loop, control)

    try:
        return run_server(
            app,
            sock=listen,
            ssl_sock=ssl_sock,
            redirect_sock=redirect_sock,
            config=config,
            tls=tls,
            tls_app=tls_app,
            use_uvloop=use_uvloop,
            on_ready=ready,
        )
    finally:
        control.close()


def _inherited(name: str) -> socket.socket | None:
    """The socket whose descriptor the environment variable ``name`` holds (popped)."""
    fd = os.environ.pop(name, None)
    if fd is None:
        return None
    sock = socket.socket(fileno=int(fd))
    sock.set_inheritable(False)
    return sock


def _control_readable(loop: asyncio.AbstractEventLoop, control: socket.socket) -> None:
    """The supervisor sends nothing: readable means its end closed."""
    try:
        if control.recv(64):
            return
    except BlockingIOError:
        return
    except OSError:
        pass
    loop.remove_reader(control.fileno())
    logger.warning("worker %d: the supervisor went away; draining", os.getpid())
    os.kill(os.getpid(), signal.SIGTERM)


# -- the supervisor side -----------------------------------------------------------------


class Worker:
    """One worker process, as the supervisor sees it."""

    def __init__(self, slot: int, proc: asyncio.subprocess.Process, control: socket.socket):
        self.slot = slot
        self.proc = proc
        self.pid = proc.pid
        self.draining = False
        self._control = control
        loop = asyncio.get_running_loop()
        #: True once the worker said it is ready; False if it ended before that.
        self.ready: asyncio.Future[bool] = loop.create_future()
        #: The exit status (negative: the signal that ended it).
        self.exited: asyncio.Future[int] = loop.create_future()

    def signal(self, signum: int) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signum)

    def drain(self) -> None:
        """Send SIGTERM once: a second one would force the worker's exit."""
        if not self.draining:
            self.draining = True
            self.signal(signal.SIGTERM)

    async def read_ready(self) -> None:
        loop = asyncio.get_running_loop()
        received = b""
        while READY not in received:
            try:
                data = await loop.sock_recv(self._control, 64)
            except OSError:
                data = b""
            if not data:
                break
            received += data
        if not self.ready.done():
            self.ready.set_result(READY in received)

    async def wait(self) -> int:
        status = await self.proc.wait()
        self._control.close()  # the worker's end is gone; nothing to keep alive
        if not self.ready.done():
            self.ready.set_result(False)
        self.exited.set_result(status)
        return status

    def __str__(self) -> str:
        return f"worker {self.slot} (pid {self.pid})"


def describe_status(status: int) -> str:
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exited with status {status}"


class _Stopping(Exception):
    """A worker was about to start while the supervisor stops."""


class Supervisor:
    """Starts, watches, replaces and stops the worker processes.

    Args:
        config: the number of workers and the reload settings.
        command: how to start a worker (its environment names the inherited sockets).
        listeners: the sockets the workers serve on.
        extra: more sockets for each worker, by the environment variable that names
            them (:data:`SSL_FD_ENV`, :data:`REDIRECT_FD_ENV`).
        graceful_timeout_s: the workers' drain deadline; a stop waits that long plus
            :data:`STOP_MARGIN_S` before SIGKILL.
        watch: the directories to watch for reload, or None.
    """

    def __init__(
        self,
        config: WorkersConfig,
        command: Sequence[str],
        listeners: Listeners,
        *,
        graceful_timeout_s: float,
        watch: Sequence[Path] | None = None,
        extra: Mapping[str, Listeners] | None = None,
    ) -> None:
        self._config = config
        self._command = list(command)
        self._listeners = listeners
        self._extra = dict(extra or {})
        # Where the workers share their metrics (typhoon.http.shared_metrics); made here,
        # removed when the supervisor exits.
        self.metrics_dir = tempfile.mkdtemp(prefix="typhoon-metrics-")
        self._graceful_timeout_s = graceful_timeout_s
        self._watch_dirs = watch
        self._workers: dict[int, Worker] = {}  # the current worker of each slot
        self._live: set[Worker] = set()  # every worker process not yet reaped
        self._crashes: dict[int, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._serving = False
        self._stopping = False
        self._forced = False
        self._status = 0
        self._replacing = False
        self._replace_again = False
        self._reload_pending = False
        self._done = asyncio.Event()
        self._stop_watching = asyncio.Event()

    def serve(self, *, use_uvloop: bool | None = None) -> int:
        """Run until the workers are stopped; return the exit status."""
        try:
            return net_loop.run(self.run(), use_uvloop=use_uvloop)
        finally:
            self._close_listeners()
            shutil.rmtree(self.metrics_dir, ignore_errors=True)

    def _close_listeners(self) -> None:
        self._listeners.close()
        for listeners in self._extra.values():
            listeners.close()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._on_stop_signal, signum)
        loop.add_signal_handler(signal.SIGHUP, self._on_hup)
        try:
            await self._start()
            await self._done.wait()
        finally:
            for signum in handled:
                loop.remove_signal_handler(signum)
            self._stop_watching.set()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            for worker in list(self._live):  # only after an error in the supervisor
                worker.signal(signal.SIGKILL)
        return 1 if self._forced else self._status

    # -- starting ------------------------------------------------------------------------

    async def _start(self) -> None:
        if self._watch_dirs is not None:  # first, so that no change is missed
            self._start_task(self._watch(self._watch_dirs))
        started: list[Worker] = []
        try:
            for slot in range(self._config.workers):
                worker = await self._spawn(slot)
                self._workers[slot] = worker
                started.append(worker)
        except _Stopping:
            return
        results = await asyncio.gather(*(worker.ready for worker in started))
        if self._stopping:
            return
        if all(results):
            self._serving = True
            pids = ", ".join(str(worker.pid) for worker in started)
            count = len(started)
            logger.info(
                "typhoon serving on %s with %d worker%s (pid %s); SIGHUP replaces them",
                ", ".join([self._listeners.where, *(x.where for x in self._extra.values())]),
                count,
                "" if count == 1 else "s",
                pids,
            )
            for slot in range(self._config.workers):
                if slot not in self._workers:  # died between its READY and now
                    self._schedule_restart(slot)
        else:
            failed = next(worker for worker, ok in zip(started, results, strict=True) if not ok)
            status = await failed.exited
            if self._watch_dirs is not None:
                self._serving = True
                logger.error(
                    "the application did not start (%s, %s); fix it and save to reload",
                    failed,
                    describe_status(status),
                )
            else:
                self._stop(
                    status if status > 0 else 1,
                    f"{failed} {describe_status(status)} before it was ready; stopping",
                )
        if self._reload_pending and not self._stopping:
            self._start_task(self._replace_all("reload: files changed while starting"))

    async def _spawn(self, slot: int) -> Worker:
        if self._stopping:
            raise _Stopping
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env[CONTROL_FD_ENV] = str(theirs.fileno())
        env[METRICS_DIR_ENV] = self.metrics_dir
        env[LISTEN_FD_ENV] = str(self._listeners.for_slot(slot).fileno())
        for name, listeners in self._extra.items():
            env[name] = str(listeners.for_slot(slot).fileno())
        inherited = [int(env[name]) for name in (CONTROL_FD_ENV, LISTEN_FD_ENV, *self._extra)]
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._command,
                stdin=subprocess.DEVNULL,
                env=env,
                pass_fds=inherited,
                # Its own session: a Ctrl+C reaches the supervisor only, which
                # forwards one SIGTERM.
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        worker = Worker(slot, proc, ours)
        self._live.add(worker)
        self._start_task(worker.read_ready())
        self._start_task(self._reap(worker))
        if self._stopping:  # a stop began while it was being started
            worker.drain()
        return worker

    def _start_task(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("supervisor task failed", exc_info=task.exception())
            self._stop(1, "stopping after an error in the supervisor")

    # -- a worker ended ------------------------------------------------------------------

    async def _reap(self, worker: Worker) -> None:
        status = await worker.wait()
        self._live.discard(worker)
        shared_metrics.retire(self.metrics_dir, worker.pid)  # its totals stay, in one file
        current = self._workers.get(worker.slot) is worker
        if current:
            del self._workers[worker.slot]
        if self._stopping:
            if status != 0 and self._status == 0:
                self._status = 1
            logger.info("%s %s", worker, describe_status(status))
            if not self._live:
                self._done.set()
        elif not current:
            logger.info("%s (replaced) %s", worker, describe_status(status))
        elif self._serving:
            logger.warning("%s %s unexpectedly", worker, describe_status(status))
            self._schedule_restart(worker.slot)

    def _schedule_restart(self, slot: int) -> None:
        now = time.monotonic()
        crashes = self._crashes[slot]
        crashes.append(now)
        while now - crashes[0] > CRASH_WINDOW_S:
            crashes.popleft()
        if len(crashes) > MAX_CRASHES:
            crashes.clear()
            message = f"worker {slot} died {MAX_CRASHES + 1} times within {CRASH_WINDOW_S:.0f} s"
            if self._watch_dirs is not None:
                logger.error("%s; waiting for a change to try again", message)
            else:
                self._stop(1, f"{message}; stopping")
            return
        delay = RESTART_DELAYS_S[min(len(crashes), len(RESTART_DELAYS_S)) - 1]
        logger.warning("restarting worker %d in %.1f s", slot, delay)
        self._start_task(self._restart(slot, delay))

    async def _restart(self, slot: int, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        if self._stopping or slot in self._workers:
            return
        try:
            worker = await self._spawn(slot)
        except _Stopping:
            return
        if slot in self._workers:  # a replacement filled the slot meanwhile
            worker.drain()
            return
        self._workers[slot] = worker
        if await worker.ready:
            logger.info("%s started in place of the one that died", worker)
        # Dying before it is ready is another crash, seen by _reap.

    # -- replacing all workers (SIGHUP, reload) ----------------------------------------

    def _on_hup(self) -> None:
        if self._stopping or not self._serving:
            logger.info(
                "received SIGHUP while %s; ignored", "stopping" if self._serving else "starting"
            )
            return
        self._start_task(self._replace_all("received SIGHUP"))

    async def _replace_all(self, reason: str) -> None:
        if self._replacing:
            self._replace_again = True
            return
        self._replacing = True
        try:
            again = True
            while again and not self._stopping:
                self._replace_again = False
                await self._roll(reason)
                again, reason = self._replace_again, "more changes came meanwhile"
        finally:
            self._replacing = False

    async def _roll(self, reason: str) -> None:
        count = self._config.workers
        logger.info(
            "%s; starting %d new worker%s, one at a time", reason, count, "" if count == 1 else "s"
        )
        for slot in range(count):
            try:
                new = await self._spawn(slot)
            except _Stopping:
                return
            if not await new.ready:
                status = await new.exited
                serving = len(self._workers)
                keeps = (
                    "no worker is serving"
                    if not serving
                    else f"the old worker{' keeps' if serving == 1 else 's keep'} serving"
                )
                logger.error(
                    "new %s %s before it was ready; %s", new, describe_status(status), keeps
                )
                return
            if self._stopping:
                return  # the stop signalled it too
            old = self._workers.get(slot)
            self._workers[slot] = new
            if old is None:
                logger.info("%s is ready", new)
            else:
                logger.info("%s is ready; draining %s", new, old)
                old.drain()
        logger.info("all %d worker%s replaced", count, "" if count == 1 else "s")

    async def _watch(self, directories: Sequence[Path]) -> None:
        shown = ", ".join(str(path) for path in directories)
        logger.info("reload: watching %s for changes to Python files", shown)
        async for changed in reloading.python_changes(directories, self._stop_watching):
            if self._stopping:
                return
            if not self._serving:
                self._reload_pending = True
                continue
            names = ", ".join(path.name for path in changed[:3])
            more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
            self._start_task(self._replace_all(f"reload: {names}{more} changed"))

    # -- stopping ------------------------------------------------------------------------

    def _on_stop_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if not self._stopping:
            count = len(self._live)
            self._stop(
                0,
                f"received {name}; draining {count} worker{'' if count == 1 else 's'} "
                "(send it again to force exit)",
            )
            return
        logger.warning("received %s again; forcing the workers to exit", name)
        self._forced = True
        for worker in list(self._live):
            worker.signal(signal.SIGTERM)  # their second one: they abort and exit

    def _stop(self, status: int, message: str) -> None:
        if self._stopping:
            return
        self._stopping = True
        self._status = status
        (logger.info if status == 0 else logger.error)("%s", message)
        self._stop_watching.set()
        # Workers stop accepting on SIGTERM; with the supervisor's copies closed too,
        # new connections are refused rather than left queued.
        self._close_listeners()
        for worker in list(self._live):
            worker.drain()  # those replaced are draining already
        if not self._live:
            self._done.set()
            return
        self._start_task(self._kill_after(self._graceful_timeout_s + STOP_MARGIN_S))

    async def _kill_after(self, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        if self._live:
            logger.warning(
                "%d worker(s) still running %.1f s after the stop; killing them",
                len(self._live),
                delay_s,
            )
            self._status = self._status or 1
            for worker in list(self._live):
                worker.signal(signal.SIGKILL)


def prepare(
    config: WorkersConfig,
    *,
    argv: Sequence[str],
    app_spec: str,
    host: str,
    port: int,
    uds: str | None,
    graceful_timeout_s: float,
    sock: socket.socket | None = None,
    ssl_port: int | None = None,
    redirect_http_port: int | None = None,
    scheme: str = "http",
) -> Supervisor:
    """Check the reload settings and bind the sockets; the supervisor is ready to serve.

    Args:
        argv: the ``typhoon`` command's arguments; each worker is started with them.
        ssl_port, redirect_http_port: more TCP ports on ``host`` (``--ssl-port``,
            ``--redirect-http-port``), bound as the main port is (one socket per slot
            with SO_REUSEPORT, else one shared).
        scheme: what the main port speaks, for the log line (``https`` with TLS on it).

    Raises:
        ValueError: a setting is wrong (the message says which).
        OSError: the address cannot be bound.
    """
    watch: list[Path] | None = None
    if config.reload:
        reloading.check_available()
        watch = reloading.watched_directories(app_spec, config.reload_dirs)
    listeners = bind_listeners(
        host=host, port=port, uds=uds, workers=config.workers, sock=sock, scheme=scheme
    )
    extra: dict[str, Listeners] = {}
    try:
        for name, extra_port, extra_scheme in (
            (SSL_FD_ENV, ssl_port, "https"),
            (REDIRECT_FD_ENV, redirect_http_port, "http"),
        ):
            if extra_port is not None:
                extra[name] = bind_listeners(
                    host=host,
                    port=extra_port,
                    uds=None,
                    workers=config.workers,
                    scheme=extra_scheme,
                )
    except BaseException:
        for bound in (listeners, *extra.values()):
            bound.close()
        raise
    if REDIRECT_FD_ENV in extra:
        extra[REDIRECT_FD_ENV].where += " (redirects to HTTPS)"
    command = [sys.executable, "-m", "typhoon", *argv]
    return Supervisor(
        config,
        command,
        listeners,
        graceful_timeout_s=graceful_timeout_s,
        watch=watch,
        extra=extra,
    )


__all__ = [
    "CONTROL_FD_ENV",
    "LISTEN_FD_ENV",
    "REDIRECT_FD_ENV",
    "SOCKET_MODE_ENV",
    "SSL_FD_ENV",
    "Listeners",
    "Supervisor",
    "WorkersConfig",
    "bind_listeners",
    "is_worker",
    "prepare",
    "run_worker",
    "socket_mode",
]
