"""A small REST API in the Flask style: ``typhoon run examples.rest_app:app``.

Items live in a dict in memory (one per app, so each test builds a fresh one)::

    GET    /items              the list, by id
    POST   /items              create from JSON {"name": str, "price": number, "tags": [str]}
    GET    /items/{item_id}    one item
    PUT    /items/{item_id}    replace it (same body as POST)
    DELETE /items/{item_id}    delete it

Every error is JSON: ``{"error": "..."}``, plus ``"field"`` when the body is invalid.
"""

from __future__ import annotations

import itertools
from typing import Any

from typhoon import JSON, App, HTTPError, Request, Response

Item = dict[str, Any]


class InvalidItemError(Exception):
    """A request body that is not a valid item; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def validate_item(data: Any) -> Item:
    """Check a decoded JSON body and return the item fields it holds.

    Example::

        validate_item({"name": "pen", "price": 1.5})   # {"name": "pen", "price": 1.5, "tags": []}

    Raises:
        InvalidItemError: naming the first field that is missing or wrong.
    """
    if not isinstance(data, dict):
        raise InvalidItemError("body", "the body must be a JSON object")
    unknown = sorted(set(data) - {"name", "price", "tags"})
    if unknown:
        raise InvalidItemError(unknown[0], f"unknown field {unknown[0]!r}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidItemError("name", "name must be a non-empty string")
    price = data.get("price")
    if isinstance(price, bool) or not isinstance(price, int | float) or price < 0:
        raise InvalidItemError("price", "price must be a number >= 0")
    tags = data.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise InvalidItemError("tags", "tags must be a list of strings")
    return {"name": name.strip(), "price": price, "tags": tags}


def create_app() -> App:
    """Build the API with an empty store."""
    app = App()
    items: dict[int, Item] = {}
    ids = itertools.count(1)

    def find(item_id: int) -> Item:
        try:
            return items[item_id]
        except KeyError:
            raise HTTPError(404, f"no item {item_id}") from None

    @app.get("/items", name="items")
    async def list_items(request: Request) -> list[Item]:
        return [{"id": item_id, **item} for item_id, item in sorted(items.items())]

    @app.post("/items")
    async def create_item(request: Request) -> Response:
        item = validate_item(await request.json())
        item_id = next(ids)
        items[item_id] = item
        location = request.root_path + app.url_for("item", item_id=item_id)
        return JSON({"id": item_id, **item}, status=201, headers={"location": location})

    @app.get("/items/{item_id:int}", name="item")
    async def get_item(request: Request, item_id: int) -> Item:
        return {"id": item_id, **find(item_id)}

    @app.put("/items/{item_id:int}")
    async def replace_item(request: Request, item_id: int) -> Item:
        find(item_id)
        items[item_id] = validate_item(await request.json())
        return {"id": item_id, **items[item_id]}

    @app.delete("/items/{item_id:int}")
    async def delete_item(request: Request, item_id: int) -> None:
        find(item_id)
        del items[item_id]  # None: 204 No Content

    @app.errorhandler(InvalidItemError)
    async def invalid_item(request: Request, exc: InvalidItemError) -> Response:
        return JSON({"error": exc.message, "field": exc.field}, status=400)

    @app.errorhandler(404)
    async def not_found(request: Request, exc: HTTPError) -> Response:
        return JSON({"error": exc.reason}, status=404)

    @app.errorhandler(HTTPError)
    async def other_error(request: Request, exc: HTTPError) -> Response:
        # 400 (bad JSON), 405 (with its Allow header), ...: the same shape as the rest.
        return JSON({"error": exc.reason}, status=exc.status, headers=exc.headers)

    return app


app = create_app()
