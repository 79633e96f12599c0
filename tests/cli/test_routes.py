"""``typhoon routes module:attr``: an App's routing table (cli/routes.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from typhoon import App, RequestHandler, RouteGroup
from typhoon.cli.main import main
from typhoon.cli.routes import HEADER, dotted, format_table, route_rows
from typhoon.http.asgi import ASGIHost
from typhoon.web.static import StaticFiles

REPO = Path(__file__).resolve().parents[2]


async def index(request: Any) -> str:
    return "home"


async def item(request: Any, item_id: int) -> str:
    return str(item_id)


async def show_user(request: Any, name: str) -> str:
    return name


async def hello(request: Any) -> str:
    return "hello"


class Ping(RequestHandler):
    async def get(self) -> None:
        self.write("pong")

    async def delete(self) -> None:
        self.set_status(204)


async def raw_asgi(scope: Any, receive: Any, send: Any) -> None:
    return None


def _app() -> App:
    app = App()
    app.add_route("/", index)
    app.add_route("/items/{item_id:int}", item, ["GET", "POST"], name="item")
    app.add_route(r"/ping/(\d+)", Ping)
    api = RouteGroup("/api", name="api")
    api.add_route("/users/{name}", show_user)
    app.include(api)
    sub = App()
    sub.add_route("/hello", hello, host="example.com")
    app.mount("/sub", sub)
    app.mount("/raw", ASGIHost(raw_asgi))
    return app


def test_rows_show_methods_path_name_and_endpoint_in_order() -> None:
    mod = __name__
    assert route_rows(_app()) == [
        ("GET", "/", "index", f"{mod}.index"),
        ("GET,POST", "/items/{item_id:int}", "item", f"{mod}.item"),
        ("DELETE,GET", r"/ping/(\d+)", "Ping", f"{mod}.Ping"),
        ("GET", "/api/users/{name}", "api.show_user", f"{mod}.show_user"),
        ("GET", "/sub/hello  host=example.com", "hello", f"{mod}.hello"),
        ("*", "/raw/...", "", f"mounted ASGI app {mod}.raw_asgi"),
    ]


def test_a_shared_function_name_shows_no_name() -> None:
    app = App()
    for path in ("/a", "/b"):

        async def view(request: Any) -> str:
            return ""

        app.add_route(path, view)
    app.add_route("/head-only", index, ["HEAD"])
    assert [row[2] for row in route_rows(app)] == ["", "", "index"]
    assert route_rows(app)[2][0] == "HEAD"


def test_a_static_route_shows_its_bound_method(tmp_path: Path) -> None:
    app = App()
    StaticFiles(tmp_path, prefix="/static").install(app)
    endpoints = {row[3] for row in route_rows(app)}
    assert endpoints == {"typhoon.web.static.StaticFiles.serve"}


def test_the_table_pads_every_column_but_the_last() -> None:
    text = format_table([("GET", "/", "index", "m.index"), ("GET,POST", "/x", "", "m.x")])
    assert text.splitlines() == [
        "METHODS   PATH  NAME   ENDPOINT",
        "GET       /     index  m.index",
        "GET,POST  /x           m.x",
    ]
    assert HEADER == ("METHODS", "PATH", "NAME", "ENDPOINT")


def test_dotted_names_functions_classes_methods_and_instances() -> None:
    assert dotted(index) == f"{__name__}.index"
    assert dotted(Ping) == f"{__name__}.Ping"
    assert dotted(App().run_in_thread) == "typhoon.web.app.App.run_in_thread"
    assert dotted(ASGIHost(raw_asgi)) == "typhoon.http.asgi.ASGIHost"


def test_main_prints_the_table_for_a_module_app(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", "examples.hello:app"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["METHODS", "PATH", "NAME", "ENDPOINT"]
    assert lines[1].split() == ["GET", "/", "hello", "examples.hello.hello"]


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("examples.hello:nope", "module 'examples.hello' has no attribute 'nope'"),
        ("no_such_module_here", "cannot import module 'no_such_module_here'"),
        ("json:dumps", "is not a typhoon application"),
    ],
)
def test_main_refuses_what_is_not_an_app(
    spec: str, error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["routes", spec]) == 2
    err = capsys.readouterr().err
    assert err.startswith("typhoon routes: error: ")
    assert error in err


def test_the_command_runs_as_a_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "typhoon", "routes", "examples.rest_app:app"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["METHODS", "PATH", "NAME", "ENDPOINT"]
    assert rows
    assert all(row.split()[-1].startswith("examples.rest_app.") for row in rows)


def test_the_routing_doc_shows_what_the_command_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = (REPO / "docs" / "routing.md").read_text()
    block = doc.split("$ typhoon routes examples.hello:app\n", 1)[1].split("```", 1)[0]
    assert main(["routes", "examples.hello:app"]) == 0
    assert capsys.readouterr().out == block
