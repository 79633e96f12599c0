"""``typhoon shell module:attr``: a Python console with the application loaded.

Flask's ``flask shell`` and Django's ``manage.py shell``, with ``await`` allowed at the
top level: ``await app.pubsub.publish("news", "hi")`` runs on the console's event loop.

Rules:

* The namespace holds ``app``, ``typhoon`` and ``asyncio``. The app's startup hooks
  run first (its pool opened, its services started) and its shutdown hooks when the
  console ends, unless ``--no-startup`` is given.
* One event loop runs the whole session: a statement that awaits runs it until done;
  between statements it does not run (tasks started in the background wait for the
  next awaited statement).
* The console reads standard input, so a script can be piped in.
"""

from __future__ import annotations

import ast
import asyncio
import code
import contextlib
import inspect
import sys
import types
from typing import Any

import typhoon
from typhoon.web.app import App

BANNER = (
    "typhoon {version} shell, Python {python}\n"
    "app = {app!r}; await works at the top level. Ctrl+D to leave."
)


class AsyncConsole(code.InteractiveConsole):
    """An interactive console that compiles top-level ``await`` and runs it on ``loop``."""

    def __init__(self, namespace: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(namespace)
        self.loop = loop
        self.compile.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT

    def runcode(self, code_object: types.CodeType) -> None:
        try:
            result = types.FunctionType(code_object, self.locals)()
            if inspect.iscoroutine(result):
                self.loop.run_until_complete(result)
        except SystemExit:
            raise
        except BaseException:  # KeyboardInterrupt included: back to the prompt
            self.showtraceback()


def run_shell(app: Any, *, startup: bool = True, banner: str | None = None) -> int:
    """Run the console on a new event loop until end of input; return the exit status."""
    if sys.stdin.isatty():
        with contextlib.suppress(ImportError):  # line editing and history where available
            import readline  # noqa: F401
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    namespace: dict[str, Any] = {"app": app, "typhoon": typhoon, "asyncio": asyncio}
    started = startup and isinstance(app, App)
    try:
        if started:
            loop.run_until_complete(app.startup())
        console = AsyncConsole(namespace, loop)
        if banner is None:
            python = sys.version.split()[0]
            banner = BANNER.format(version=typhoon.__version__, python=python, app=app)
        try:
            console.interact(banner=banner, exitmsg="")
        except SystemExit as stop:
            return stop.code if isinstance(stop.code, int) else 0
        return 0
    finally:
        if started:
            loop.run_until_complete(app.shutdown())
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()
