"""``typhoon run module:attr``: load an application and serve it."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from typhoon import __version__
from typhoon.http.limits import HTTPConfig, HTTPLimits
from typhoon.http.server import configure_logging
from typhoon.http.server import run as run_server

_LIMIT_DEFAULTS = HTTPLimits()


def load_app(spec: str) -> Any:
    """Import ``module:attr`` (``attr`` defaults to ``app``) and return the object.

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
    if not callable(getattr(obj, "handle", None)):
        raise ValueError(f"{spec!r} is not a typhoon application (it has no handle method)")
    return obj


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="typhoon", description="typhoon's command line.")
    parser.add_argument("--version", action="version", version=f"typhoon {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run",
        help="serve an application",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Serve module:attr until SIGINT/SIGTERM, then drain gracefully.",
    )
    run.add_argument("app", help="the application, as module:attr (attr defaults to app)")
    run.add_argument("--host", default="127.0.0.1", help="address to listen on")
    run.add_argument("--port", type=int, default=8000, help="TCP port to listen on")
    run.add_argument("--uds", metavar="PATH", help="listen on this Unix socket instead of TCP")
    run.add_argument(
        "--graceful-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds a drain waits for in-flight requests",
    )
    run.add_argument("--no-access-log", action="store_true", help="do not log each request")
    run.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="how much typhoon logs",
    )
    run.add_argument("--server-header", default="typhoon", help="value of the Server header")
    run.add_argument("--no-server-header", action="store_true", help="omit the Server header")
    run.add_argument(
        "--no-cancel-on-disconnect",
        action="store_true",
        help="let handlers run on after their client went away",
    )
    run.add_argument("--no-uvloop", action="store_true", help="use plain asyncio")
    limits = run.add_argument_group("limits and timeouts")
    for name, kind in (
        ("max_head_bytes", _positive_int),
        ("max_header_count", _positive_int),
        ("max_body_bytes", _positive_int),
        ("max_pipeline_depth", _positive_int),
        ("read_high_water_bytes", _positive_int),
        ("header_timeout_s", _positive_float),
        ("keep_alive_timeout_s", _positive_float),
        ("body_timeout_s", _positive_float),
    ):
        limits.add_argument(
            "--" + name.replace("_", "-"),
            type=kind,
            default=getattr(_LIMIT_DEFAULTS, name),
            metavar="N",
            help=f"HTTPLimits.{name}",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    assert args.command == "run", "argparse admits only known commands"
    return _run(parser, args)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        limits = HTTPLimits(
            **{name: getattr(args, name) for name in HTTPLimits.__dataclass_fields__}
        )
        config = HTTPConfig(
            limits=limits,
            server_header=None if args.no_server_header else args.server_header,
            access_log=not args.no_access_log,
            cancel_on_disconnect=not args.no_cancel_on_disconnect,
            graceful_timeout_s=args.graceful_timeout,
        )
        if not 0 <= args.port <= 65535:
            raise ValueError(f"--port must be between 0 and 65535, got {args.port}")
        app = load_app(args.app)
    except (TypeError, ValueError) as exc:
        parser.exit(2, f"typhoon run: error: {exc}\n")
    configure_logging(args.log_level, access_log=config.access_log)
    return run_server(
        app,
        host=args.host,
        port=args.port,
        uds=args.uds,
        config=config,
        use_uvloop=False if args.no_uvloop else None,
    )
