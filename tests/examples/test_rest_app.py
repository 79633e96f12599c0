"""The REST example, every endpoint and every error, driven in memory."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from typhoon import App
from typhoon.testing import ParsedResponse, connect, feed, parse_responses


def _load_example() -> ModuleType:
    """Import examples/rest_app.py by path (the repository root is not on sys.path)."""
    path = Path(__file__).resolve().parents[2] / "examples" / "rest_app.py"
    spec = importlib.util.spec_from_file_location("typhoon_examples_rest_app", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rest_app = _load_example()


def create_app() -> App:
    app: App = rest_app.create_app()
    return app


async def _call(app: App, method: str, target: str, body: Any = None) -> ParsedResponse:
    payload = (
        b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    )
    head = f"{method} {target} HTTP/1.1\r\nHost: t\r\n"
    if payload or method in ("POST", "PUT"):
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    protocol, transport = connect(app)
    feed(protocol, head.encode() + b"\r\n" + payload)
    for _ in range(50):
        await asyncio.sleep(0)
        try:
            responses = parse_responses(bytes(transport.written))
        except ValueError:
            continue
        if responses:
            transport.close()
            [response] = responses
            return response
    raise AssertionError(f"no response to {method} {target}")


def _json(response: ParsedResponse) -> Any:
    assert response.header("content-type") == "application/json"
    return json.loads(response.body)


async def test_rest_app_crud_round_trip() -> None:
    app = create_app()
    assert _json(await _call(app, "GET", "/items")) == []

    created = await _call(app, "POST", "/items", {"name": " pen ", "price": 1.5})
    assert (created.status, created.header("location")) == (201, "/items/1")
    assert _json(created) == {"id": 1, "name": "pen", "price": 1.5, "tags": []}
    second = await _call(app, "POST", "/items", {"name": "ink", "price": 3, "tags": ["blue"]})
    assert _json(second)["id"] == 2

    assert _json(await _call(app, "GET", "/items/1"))["name"] == "pen"
    listed = _json(await _call(app, "GET", "/items"))
    assert [item["id"] for item in listed] == [1, 2]

    replaced = await _call(app, "PUT", "/items/1", {"name": "pencil", "price": 0})
    assert (replaced.status, _json(replaced)) == (
        200,
        {"id": 1, "name": "pencil", "price": 0, "tags": []},
    )

    deleted = await _call(app, "DELETE", "/items/1")
    assert (deleted.status, deleted.body) == (204, b"")
    assert [item["id"] for item in _json(await _call(app, "GET", "/items"))] == [2]


@pytest.mark.parametrize(
    ("method", "target"),
    [("GET", "/items/9"), ("PUT", "/items/9"), ("DELETE", "/items/9"), ("GET", "/nowhere")],
)
async def test_rest_app_missing_item_is_json_404(method: str, target: str) -> None:
    body = {"name": "x", "price": 1} if method == "PUT" else None
    response = await _call(create_app(), method, target, body)
    assert response.status == 404
    assert "error" in _json(response)


async def test_rest_app_missing_item_names_it() -> None:
    response = await _call(create_app(), "GET", "/items/9")
    assert _json(response) == {"error": "no item 9"}
    # an id that is not an int matches no route: the same JSON 404
    assert _json(await _call(create_app(), "GET", "/items/abc")) == {"error": "Not Found"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price": 1}, "name"),
        ({"name": "", "price": 1}, "name"),
        ({"name": 5, "price": 1}, "name"),
        ({"name": "x"}, "price"),
        ({"name": "x", "price": -1}, "price"),
        ({"name": "x", "price": "1"}, "price"),
        ({"name": "x", "price": True}, "price"),
        ({"name": "x", "price": 1, "tags": "a"}, "tags"),
        ({"name": "x", "price": 1, "tags": [1]}, "tags"),
        ({"name": "x", "price": 1, "colour": "red"}, "colour"),
        ([1, 2], "body"),
    ],
)
async def test_rest_app_invalid_body_is_400_naming_the_field(body: Any, field: str) -> None:
    app = create_app()
    for method, target in (("POST", "/items"), ("PUT", "/items/1")):
        if method == "PUT":
            await _call(app, "POST", "/items", {"name": "x", "price": 1})
        response = await _call(app, method, target, body)
        assert response.status == 400
        error = _json(response)
        assert error["field"] == field
        assert field in error["error"] or field == "body"


async def test_rest_app_malformed_json_is_json_400() -> None:
    response = await _call(create_app(), "POST", "/items", b"{not json")
    assert response.status == 400
    assert _json(response)["error"].startswith("invalid JSON body")


async def test_rest_app_wrong_method_is_json_405_with_allow() -> None:
    response = await _call(create_app(), "PATCH", "/items/1", {"name": "x"})
    assert (response.status, response.header("allow")) == (405, "DELETE, GET, HEAD, PUT")
    assert _json(response) == {"error": "Method Not Allowed"}


def test_rest_app_module_exposes_an_app_and_a_validator() -> None:
    assert rest_app.app.url_for("item", item_id=3) == "/items/3"
    assert rest_app.validate_item({"name": "a", "price": 2}) == {
        "name": "a",
        "price": 2,
        "tags": [],
    }
