"""App's life around the requests: startup, drain and shutdown, and what they run.

:class:`_Lifecycle` is a base of App: the startup and shutdown hooks, the lifespan
context, the raw servers served beside the app (``serve_also``), periodic jobs, the
pub/sub hub, and what the HTTP server calls as it starts, drains and stops (the
:mod:`typhoon.http.app_api` optional protocols). Startup runs mounted apps, the
lifespan, the hooks, the services, then the periodic jobs (``every``, in
:mod:`typhoon.web.jobs`); shutdown undoes it in reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from typhoon.http.app_api import Draining, Mountable
from typhoon.http.app_api import Lifespan as HasLifespan
from typhoon.http.state import ServerState
from typhoon.net.clock import Clock
from typhoon.net.tasks import Supervisor
from typhoon.net.timers import check_seconds
from typhoon.web._hooks import F, Hook, _call
from typhoon.web.jobs import Job
from typhoon.web.metrics import AppMetrics
from typhoon.web.realtime_hooks import hooks as realtime_hooks
from typhoon.web.services import NetService

if TYPE_CHECKING:
    from typhoon.web.app import App, Lifespan


class _Lifecycle:
    """What App does at startup, drain and shutdown, and the registrations for it."""

    # Set by App.__init__; freeze and _check_not_frozen are methods of App.
    settings: dict[str, Any]
    mounts: list[tuple[str, App | Mountable]]
    services: list[NetService]
    jobs: list[Job]
    metrics: AppMetrics | None
    _startup: list[Hook]
    _shutdown: list[Hook]
    _lifespan: Lifespan | None
    _lifespan_stack: contextlib.AsyncExitStack | None
    _workers: Supervisor
    _pubsub: Any
    freeze: Callable[[], None]
    _check_not_frozen: Callable[[str], None]
    run_in_thread: Callable[..., Awaitable[Any]]

    def on_startup(self, hook: F) -> F:
        """Run ``hook()`` once before the first request is served."""
        self._check_not_frozen("on_startup")
        self._startup.append(hook)
        return hook

    def on_shutdown(self, hook: F) -> F:
        """Run ``hook()`` once after the server has drained (last added runs first)."""
        self._shutdown.append(hook)
        return hook

    # -- the pub/sub hub ---------------------------------------------------------------------

    @property
    def pubsub(self) -> Any:
        """The publish/subscribe hub shared by WebSockets, SSE and long polling.

        Made on first use from the ``pubsub`` setting: None or ``"memory"`` for the
        in-process hub, ``"redis://host:port/db"`` to share it through Redis, or a hub
        object (see :mod:`typhoon.realtime.pubsub`). It is closed at shutdown.
        """
        hub = self._pubsub
        if hub is None:
            make = realtime_hooks.make_hub
            if make is None:
                realtime_hooks.require("app.pubsub")
            hub = self._pubsub = make(self.settings.get("pubsub"))
        return hub

    @pubsub.setter
    def pubsub(self, hub: Any) -> None:
        self._pubsub = hub

    # -- raw servers beside the app ----------------------------------------------------------

    def serve_also(
        self,
        endpoint: str,
        protocol: Callable[..., asyncio.BaseProtocol],
        *,
        drain_timeout: float = 30.0,
        **options: Any,
    ) -> NetService:
        """Serve a ``typhoon.net`` protocol beside the app, on the app's lifecycle.

        It starts listening at startup (after the startup hooks), stops accepting and
        asks its connections to shut down when the server drains, and is gone before
        the shutdown hooks run. ``options`` go to :func:`typhoon.net.serve`: protocol
        keyword arguments, and ``max_connections``, ``idle_timeout``, ``clock``.

        Example::

            app.serve_also("tcp:9000", LineChat, app=app)

        Raises:
            ValueError: a malformed endpoint (naming the wrong part), or a negative
                ``drain_timeout``.
            TypeError: ``protocol`` is not callable.
        """
        self._check_not_frozen("serve_also")
        service = NetService(endpoint, protocol, options, drain_timeout)
        self.services.append(service)
        return service

    # -- periodic jobs -----------------------------------------------------------------------

    def every(
        self, seconds: float, *, now: bool = False, clock: Clock | None = None
    ) -> Callable[[F], F]:
        """Call the decorated function every ``seconds`` while the app serves.

        The first call comes ``seconds`` after startup (at startup with ``now=True``).
        An ``async def`` job runs on the loop, a plain ``def`` one on the thread pool. An
        exception is logged and the job runs again at its next tick; draining starts no
        new call, and shutdown cancels one in progress. The :class:`~typhoon.web.jobs.Job`
        is in ``app.jobs``. ``clock``: a ``typhoon.testing.FakeClock`` in tests.

        Example::

            @app.every(60)
            async def purge_expired() -> None:
                await sessions.purge()

        Raises:
            ValueError: ``seconds`` is not a positive finite number.
            TypeError: the decorated object is not callable.
            RuntimeError: the app is already serving.
        """
        self._check_not_frozen("every")
        check_seconds(seconds, "seconds", zero=False)

        def register(fn: F) -> F:
            self.jobs.append(
                Job(fn, seconds, now=now, clock=clock, run_in_thread=self.run_in_thread)
            )
            return fn

        return register

    # -- the server's calls ----------------------------------------------------------------

    def server_started(self, state: ServerState) -> None:
        """A server began serving this app (its connections feed the metrics)."""
        if self.metrics is not None:
            self.metrics.server_started(state)

    def server_stopped(self, state: ServerState) -> None:
        if self.metrics is not None:
            self.metrics.server_stopped(state)

    async def startup(self) -> None:
        self.freeze()
        for _, sub in self.mounts:
            if isinstance(sub, HasLifespan):
                await sub.startup()
        if self._lifespan is not None:
            self._lifespan_stack = contextlib.AsyncExitStack()
            await self._lifespan_stack.enter_async_context(self._lifespan(cast("App", self)))
        for hook in self._startup:
            await _call(hook)
        for started, service in enumerate(self.services):
            try:
                await service.start()
            except BaseException:
                for earlier in self.services[:started]:
                    await earlier.stop()
                raise
        for job in self.jobs:
            job.start()

    def draining(self) -> None:
        """The server began a graceful drain: end pub/sub streams and long polls."""
        if self._pubsub is not None:
            self._pubsub.drain()
        for job in self.jobs:
            job.draining()
        for service in self.services:
            service.draining()
        for _, sub in self.mounts:
            if isinstance(sub, Draining):
                sub.draining()

    async def shutdown(self) -> None:
        for job in self.jobs:
            await job.stop()
        for service in self.services:
            await service.stop()
        for hook in reversed(self._shutdown):
            await _call(hook)
        if self._pubsub is not None:
            await self._pubsub.close()
        if self._lifespan_stack is not None:
            stack, self._lifespan_stack = self._lifespan_stack, None
            await stack.aclose()
        for _, sub in reversed(self.mounts):
            if isinstance(sub, HasLifespan):
                await sub.shutdown()
        # Calls not started are cancelled; those in progress finish on their own.
        await self._workers.stop(timeout=0)
