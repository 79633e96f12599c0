"""``typhoon routes module:attr``: a typhoon App's routing table (Flask's ``flask routes``).

One line per route, in the order they were added: the methods (HEAD, implied by GET, is
not shown), the path (a host-bound route adds ``host=``), the name ``url_for`` knows it
by, and the endpoint's dotted name. The routes of a mounted App follow under its prefix;
another mounted application is one ``*`` line.
"""

from __future__ import annotations

from typing import Any

from typhoon.http.asgi import ASGIHost
from typhoon.http.wsgi import WSGIHost
from typhoon.web.app import App

Row = tuple[str, str, str, str]
HEADER: Row = ("METHODS", "PATH", "NAME", "ENDPOINT")


def route_rows(app: App, prefix: str = "") -> list[Row]:
    """The rows of ``app``'s table, mounted apps' included, paths under ``prefix``."""
    rows: list[Row] = []
    router = app.router
    for route in router.routes:
        shown = route.method_set - {"HEAD"} if "GET" in route.method_set else route.method_set
        path = prefix + route.path
        if route.host is not None:
            path += f"  host={route.host}"
        rows.append(
            (",".join(sorted(shown)), path, router.name_of(route) or "", dotted(route.endpoint))
        )
    for mounted_at, sub in app.mounts:
        if isinstance(sub, App):
            rows.extend(route_rows(sub, prefix + mounted_at))
        else:
            rows.append(("*", f"{prefix}{mounted_at}/...", "", f"mounted {_mounted(sub)}"))
    return rows


def format_table(rows: list[Row]) -> str:
    """``rows`` under :data:`HEADER`, in columns padded to their widest cell."""
    table = [HEADER, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADER) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[-1]
        for row in table
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def dotted(obj: Any) -> str:
    """``module.qualname`` of a function, class or bound method; else of its type."""
    target = getattr(obj, "__func__", obj)
    qualname = getattr(target, "__qualname__", None)
    if not isinstance(qualname, str):
        target, qualname = type(obj), type(obj).__qualname__
    module = getattr(target, "__module__", None)
    return f"{module}.{qualname}" if module else qualname


def _mounted(sub: Any) -> str:
    if isinstance(sub, ASGIHost):
        return f"ASGI app {dotted(sub.app)}"
    if isinstance(sub, WSGIHost):
        return f"WSGI app {dotted(sub.app)}"
    return dotted(sub)
