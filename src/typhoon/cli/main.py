"""The ``typhoon`` command: ``run``, ``routes`` and ``shell``, each given ``module:attr``.

``run`` resolves the settings (:mod:`typhoon.cli.config`), loads the application and
serves it; ``routes`` prints an App's routing table (:mod:`typhoon.cli.routes`);
``shell`` opens a console with it loaded (:mod:`typhoon.cli.shell`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from typhoon import __version__
from typhoon.cli import config, routes, shell, workers
from typhoon.cli.interfaces import as_application
from typhoon.cli.workers import WorkersConfig
from typhoon.http.app_api import Application
from typhoon.http.logs import LogConfig, configure_logging
from typhoon.http.server import run as run_server
from typhoon.http.tls import TLSConfig
from typhoon.net.loop import uvloop_available
from typhoon.web.app import App
from typhoon.web.metrics import MetricsConfig


def load_app(spec: str, interface: str = "auto") -> Application:
    """Import ``module:attr`` (``attr`` defaults to ``app``); return it ready to serve.

    A typhoon App is served as it is; with ``interface`` ``auto`` (the default), an
    ASGI or a WSGI application is recognised and put in its host (see
    :func:`typhoon.cli.interfaces.as_application`).

    Raises:
        ValueError: the spec, module or attribute is wrong, or the object speaks no
            interface typhoon serves; the message says which.
    """
    obj = import_object(spec)
    try:
        return as_application(obj, interface)
    except ValueError as exc:
        raise ValueError(f"{spec!r}: {exc}") from None


def import_object(spec: str) -> Any:
    """The object ``module:attr`` names (``attr`` defaults to ``app``; dots go deeper).

    Raises:
        ValueError: the spec, module or attribute is wrong; the message says which.
    """
    module_name, _, attr = spec.partition(":")
    if not module_name:
        raise ValueError(f"app must look like 'module:attr', got {spec!r}")
    attr = attr or "app"
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name + ".").startswith(exc.name + "."):
            raise ValueError(f"cannot import module {module_name!r}: {exc}") from exc
        raise
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"module {module_name!r} has no attribute {attr!r}") from None
    return obj


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="typhoon", description="typhoon's command line.")
    parser.add_argument("--version", action="version", version=f"typhoon {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run",
        help="serve an application",
        description="Serve module:attr until SIGINT/SIGTERM, then drain gracefully. "
        "Every setting is a flag, a TYPHOON_* variable and a key of a TOML table; "
        "the command line wins over the environment, which wins over the file.",
        epilog="docs/server.md, section Configuration, has the details.",
    )
    config.add_arguments(run, config.GROUPS)

    listing = commands.add_parser(
        "routes",
        help="list an App's routes",
        description="Print the routing table of a typhoon App: methods, path, the name "
        "url_for knows the route by, and the endpoint; mounted Apps' routes follow.",
    )
    listing.add_argument("app", help="module:attr of a typhoon App (attr defaults to app)")

    console = commands.add_parser(
        "shell",
        help="a Python console with the app loaded",
        description="A Python console (top-level await allowed) with app, typhoon and "
        "asyncio in its namespace. A typhoon App's startup hooks run first and its "
        "shutdown hooks at the end.",
    )
    console.add_argument("app", help="module:attr of the application (attr defaults to app)")
    console.add_argument(
        "--no-startup", action="store_true", help="do not run the app's startup and shutdown"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "routes":
        return _routes(args.app)
    if args.command == "shell":
        try:
            app = import_object(args.app)
        except ValueError as exc:
            return _refuse(str(exc), "shell")
        return shell.run_shell(app, startup=not args.no_startup)
    assert args.command == "run", "argparse admits only known commands"
    try:
        loaded = config.load(args, os.environ, cwd=Path.cwd(), groups=config.GROUPS)
    except config.ConfigError as exc:
        return _refuse(str(exc))
    if loaded.print_config:
        sys.stdout.write(config.to_toml(loaded))
        return 0
    return _run(loaded, sys.argv[1:] if argv is None else list(argv))


def _refuse(message: str, command: str = "run") -> int:
    sys.stderr.write(f"typhoon {command}: error: {message}\n")
    return 2


def _routes(spec: str) -> int:
    """``typhoon routes``: print the App's routing table; 2 when ``spec`` is no App."""
    try:
        app = load_app(spec, "typhoon")
    except ValueError as exc:
        return _refuse(str(exc), "routes")
    if not isinstance(app, App):
        return _refuse(f"{spec!r} is not a typhoon App; routes lists an App's routes", "routes")
    sys.stdout.write(routes.format_table(routes.route_rows(app)))
    return 0


def _run(loaded: config.Loaded, argv: Sequence[str]) -> int:
    """Serve what ``loaded`` says; 2 for a problem found before serving."""
    settings = config.RunConfig.from_groups(loaded.groups)
    server = settings.server
    if server.loop == "uvloop" and not uvloop_available():  # pragma: no cover - it is installed
        return _refuse(f"{loaded.origins['loop'].where}: uvloop is not installed")
    use_uvloop = {"auto": None, "uvloop": True, "asyncio": False}[server.loop]
    tls = settings.get(TLSConfig)
    if workers.is_worker():  # started by a supervisor: its sockets, not --fd or --port
        try:
            app = _load_served_app(settings, loaded)
            tls_app = load_app(tls.ssl_app) if tls.ssl_app is not None else None
        except ValueError as exc:
            return _refuse(str(exc))
        configure_logging(settings.get(LogConfig), access_log=settings.http.access_log)
        return workers.run_worker(
            app,
            config=settings.http,
            tls=tls if tls.enabled else None,
            tls_app=tls_app,
            use_uvloop=use_uvloop,
        )
    sock = None
    if server.fd is not None:
        try:
            sock = inherited_socket(server.fd)
        except ValueError as exc:
            return _refuse(f"{loaded.origins['fd'].where}: {exc}")
    if settings.get(WorkersConfig).supervised:
        return _supervise(settings, argv, use_uvloop, sock)
    try:
        app = _load_served_app(settings, loaded)
        tls_app = load_app(tls.ssl_app) if tls.ssl_app is not None else None
        if tls.enabled:
            tls.server_context()  # a bad certificate, key or password stops us here
    except ValueError as exc:
        return _refuse(str(exc))
    configure_logging(settings.get(LogConfig), access_log=settings.http.access_log)
    return run_server(
        app,
        host=server.host,
        port=server.port,
        uds=server.uds,
        sock=sock,
        config=settings.http,
        backlog=server.backlog,
        tls=tls if tls.enabled else None,
        tls_app=tls_app,
        use_uvloop=use_uvloop,
    )


def _load_served_app(settings: config.RunConfig, loaded: config.Loaded) -> Application:
    """The application ``[server] app`` names, with metrics enabled when asked.

    Raises:
        ValueError: it cannot be loaded, or ``--metrics`` is given for a non-App.
    """
    server, metrics = settings.server, settings.get(MetricsConfig)
    app = load_app(server.app, server.interface)
    if metrics.metrics:
        if not isinstance(app, App):
            where = loaded.origins["metrics"].where
            raise ValueError(f"{where}: needs a typhoon App; {server.app!r} is not one")
        app.enable_metrics(metrics.metrics_path)
    return app


def _supervise(
    settings: config.RunConfig,
    argv: Sequence[str],
    use_uvloop: bool | None,
    sock: socket.socket | None,
) -> int:
    """``--workers N`` or ``--reload``: bind, start the workers and watch over them."""
    server, tls = settings.server, settings.get(TLSConfig)
    try:
        if tls.enabled:
            tls.server_context()  # a bad certificate stops the supervisor, not each worker
        supervisor = workers.prepare(
            settings.get(WorkersConfig),
            argv=argv,
            app_spec=server.app,
            host=server.host,
            port=server.port,
            uds=server.uds,
            graceful_timeout_s=settings.http.graceful_timeout_s,
            sock=sock,
            ssl_port=tls.ssl_port if tls.enabled else None,
            redirect_http_port=tls.redirect_http_port if tls.enabled else None,
            scheme="https" if tls.enabled and tls.ssl_port is None else "http",
        )
    except ValueError as exc:
        return _refuse(str(exc))
    except OSError as exc:
        sys.stderr.write(f"typhoon run: error: cannot listen: {exc}\n")
        return 1
    configure_logging(settings.get(LogConfig), access_log=settings.http.access_log)
    return supervisor.serve(use_uvloop=use_uvloop)


def inherited_socket(fd: int) -> socket.socket:
    """The listening stream socket behind file descriptor ``fd``.

    Raises:
        ValueError: ``fd`` is not open, not a socket, not a stream socket, or not listening.
    """
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise ValueError(f"not a usable socket: {exc.strerror or exc}") from None
    problem = None
    if sock.type != socket.SOCK_STREAM:
        problem = "not a stream socket"
    elif not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        problem = "a socket, but not listening"
    if problem is not None:
        sock.detach()  # the descriptor stays the parent's business
        raise ValueError(problem)
    return sock
