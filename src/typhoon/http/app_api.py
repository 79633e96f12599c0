"""The contract between the HTTP server and the application it serves.

``typhoon.http`` never imports ``typhoon.web``: it calls whatever object satisfies
:class:`Application`. ``typhoon.web.App`` is one; a ten-line class is another, which
is how the server's own tests drive it.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from typhoon.http.exchange import Exchange

if TYPE_CHECKING:
    from typhoon.http.state import ServerState


class Application(Protocol):
    """Handles one exchange: reads the request from it and answers through it."""

    def handle(self, exchange: Exchange) -> Coroutine[Any, Any, None]: ...


@runtime_checkable
class Lifespan(Protocol):
    """Optional: an application with work to do when the server starts and stops."""

    async def startup(self) -> None: ...

    async def shutdown(self) -> None: ...


@runtime_checkable
class Draining(Protocol):
    """Optional: an application told when a graceful drain begins.

    Called once the server has stopped accepting and before it asks the connections to
    finish, so that streams with no natural end (SSE, long polls) can end cleanly.
    """

    def draining(self) -> None: ...


@runtime_checkable
class ServerAware(Protocol):
    """Optional: an application told which servers serve it (their connections feed
    its metrics).

    ``server_started`` is called before the startup hook, ``server_stopped`` once the
    server has drained, before the shutdown hook.
    """

    def server_started(self, state: ServerState) -> None: ...

    def server_stopped(self, state: ServerState) -> None: ...


@runtime_checkable
class Mountable(Protocol):
    """Optional: an application that can be served under a path prefix of another.

    ``typhoon.web.App.mount(prefix, obj)`` accepts any such object (the ASGI and WSGI
    hosts are ones). ``root_path`` is the prefix it is mounted at (nested mounts
    joined); ``exchange.path`` is still the full path, as received. It answers
    through the exchange, as :meth:`Application.handle` does.
    """

    def handle_mounted(self, exchange: Exchange, root_path: str) -> Coroutine[Any, Any, None]: ...
