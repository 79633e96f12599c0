"""The callables App runs besides the endpoint, and the glue that runs them.

Their shapes: middleware (``CallNext``, ``Middleware``), the before and after request
hooks, error handlers, and the startup and shutdown hooks. The glue: :func:`_call`
calls any of them, ``async def`` or plain ``def`` alike; :func:`_link` binds a
middleware to the rest of the chain; :func:`_find_handler` picks the error handler for
an exception.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from typhoon.web.errors import HTTPError
from typhoon.web.request import Request
from typhoon.web.response import Response

CallNext = Callable[[Request], Awaitable[Response]]
Middleware = Callable[[Request, CallNext], Awaitable[Response]]
# Hooks and error handlers may be ``async def`` or plain ``def`` (run on the loop: keep them quick).
BeforeHook = Callable[[Request], Awaitable[Any] | Any]
AfterHook = Callable[[Request, Response], Awaitable[Response | None] | Response | None]
ErrorHandler = Callable[[Request, Any], Awaitable[Any] | Any]
Hook = Callable[[], Awaitable[None] | None]
F = TypeVar("F", bound=Callable[..., Any])


async def _call(hook: Callable[..., Any], *args: Any) -> Any:
    """Call a hook or error handler, awaiting its result when it is awaitable."""
    value = hook(*args)
    if inspect.isawaitable(value):
        value = await value
    return value


def _link(middleware: Middleware, call_next: CallNext) -> CallNext:
    """Bind ``middleware`` to the rest of the chain."""

    async def call(request: Request) -> Response:
        return await middleware(request, call_next)

    return call


def _find_handler(
    handlers: Mapping[type[BaseException] | int, ErrorHandler], exc: BaseException
) -> ErrorHandler | None:
    """The handler for ``exc``: by status for an HTTPError, then by class along the MRO."""
    if not handlers:
        return None
    if isinstance(exc, HTTPError):
        handler = handlers.get(exc.status)
        if handler is not None:
            return handler
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            return handler
    return None
