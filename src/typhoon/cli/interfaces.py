"""Which interface an application speaks, for ``typhoon run --interface``.

:func:`as_application` turns what ``module:attr`` names into something the HTTP
server can call: a typhoon ``App`` as it is, an ASGI 3 application in an
:class:`~typhoon.http.asgi.ASGIHost`, a WSGI application in a
:class:`~typhoon.http.wsgi.WSGIHost`.
"""

from __future__ import annotations

import inspect
from typing import Any, get_args

from typhoon.cli.config import Interface
from typhoon.http.app_api import Application
from typhoon.http.asgi import ASGIHost
from typhoon.http.wsgi import WSGIHost

INTERFACES: tuple[Interface, ...] = get_args(Interface)


def as_application(
    obj: Any, interface: Interface | str = "auto", *, threads: int | None = None
) -> Application:
    """Return ``obj`` ready for the HTTP server.

    With ``interface="auto"``: a typhoon application (an ``App``, or anything with an
    ``async handle(exchange)``) is returned as it is; Django's ``ASGIHandler`` and an
    ``async`` callable taking ``(scope, receive, send)`` go into an ``ASGIHost``;
    Django's ``WSGIHandler`` and a plain callable taking ``(environ, start_response)``
    go into a ``WSGIHost``. Any other value of ``interface`` forces that choice.

    Example::

        server = HTTPServer(as_application(flask_app))      # a WSGIHost

    Args:
        threads: the thread pool size of a ``WSGIHost``.

    Raises:
        ValueError: ``interface`` is unknown, or ``obj`` does not speak it (or, for
            ``"auto"``, any interface); the message says what was found.
    """
    if interface not in INTERFACES:
        raise ValueError(f"interface must be one of {', '.join(INTERFACES)}; got {interface!r}")
    if interface == "typhoon":
        if not _is_typhoon(obj):
            raise ValueError(
                f"{obj!r} is not a typhoon application: found {_describe(obj)}, "
                "with no async handle(exchange) method"
            )
        return obj  # type: ignore[no-any-return]
    if interface == "asgi":
        _require_callable(obj, interface)
        return ASGIHost(obj)
    if interface == "wsgi":
        _require_callable(obj, interface)
        return WSGIHost(obj, threads=threads)

    django = _django_kind(obj)
    if django == "asgi":
        return ASGIHost(obj)
    if django == "wsgi":
        return WSGIHost(obj, threads=threads)
    if _is_typhoon(obj):
        return obj  # type: ignore[no-any-return]
    if callable(obj) and not inspect.isclass(obj):
        is_async, count = _shape(obj)
        if is_async and count == 3:
            return ASGIHost(obj)
        if not is_async and count == 2:
            return WSGIHost(obj, threads=threads)
    raise ValueError(
        f"cannot tell how to serve {obj!r}: found {_describe(obj)}. Expected a typhoon App, "
        "an ASGI application (async, taking scope, receive, send) or a WSGI application "
        "(taking environ, start_response); name one with --interface asgi|wsgi|typhoon"
    )


def _is_typhoon(obj: Any) -> bool:
    handle = getattr(obj, "handle", None)
    return (
        not inspect.isclass(obj)
        and handle is not None
        and inspect.iscoroutinefunction(handle)
        and _accepts(handle, 1)
    )


def _accepts(fn: Any, count: int) -> bool:
    """Whether ``fn`` can be called with ``count`` positional arguments."""
    try:
        inspect.signature(fn).bind(*([None] * count))
    except (TypeError, ValueError):
        return False
    return True


def _django_kind(obj: Any) -> str | None:
    """ "asgi" or "wsgi" for Django's handlers (and subclasses), found without importing it."""
    for cls in type(obj).__mro__:
        if cls.__module__ == "django.core.handlers.asgi" and cls.__name__ == "ASGIHandler":
            return "asgi"
        if cls.__module__ == "django.core.handlers.wsgi" and cls.__name__ == "WSGIHandler":
            return "wsgi"
    return None


def _shape(obj: Any) -> tuple[bool, int | None]:
    """(whether calling ``obj`` makes a coroutine, how many positional arguments it takes)."""
    is_async = inspect.iscoroutinefunction(obj) or (
        not inspect.isroutine(obj) and inspect.iscoroutinefunction(type(obj).__call__)
    )
    return is_async, _positional_count(obj)


def _positional_count(fn: Any) -> int | None:
    """How many positional arguments ``fn`` takes; None when that cannot be told."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    count = 0
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            return None
        if parameter.kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            count += 1
    return count


def _describe(obj: Any) -> str:
    if inspect.isclass(obj):
        return f"the class {obj.__name__} (pass an instance)"
    if not callable(obj):
        return f"a {type(obj).__name__}, which is not callable"
    is_async, count = _shape(obj)
    kind = "an async callable" if is_async else "a sync callable"
    taking = "any number of" if count is None else str(count)
    return f"{kind} taking {taking} positional parameter{'s' if count != 1 else ''}"


def _require_callable(obj: Any, interface: str) -> None:
    if not callable(obj) or inspect.isclass(obj):
        raise ValueError(
            f"--interface {interface} needs an application callable; got {_describe(obj)}"
        )
