"""A small Flask app, ported: see docs/coming-from-flask.md.

``typhoon run examples.coming_from.flask_port:app``, then::

    GET    /                    an HTML page
    GET    /hello/{name}        a greeting; ?shout=1 for capitals
    GET    /api/todos           the list (JSON)
    POST   /api/todos           {"title": str} -> 201 with a Location header
    GET    /api/todos/{id}      one todo; a JSON 404 when there is none
    DELETE /api/todos/{id}      204
    GET    /report              a plain ``def`` view (it runs on the thread pool)

The ``/api`` routes are a ``RouteGroup`` (Flask's blueprint) with its own error handler,
so API errors are JSON while the rest of the site answers in HTML.
"""

from __future__ import annotations

import itertools
from typing import Any

from typhoon import JSON, App, HTTPError, Redirect, Request, Response, RouteGroup, Text


class BadTodoError(Exception):
    """A request body that is not a todo (Flask users often raise these from helpers)."""


def create_app() -> App:
    """The application factory: Flask's ``create_app`` pattern works as it is."""
    app = App(redirect_slashes=True)
    todos: dict[int, dict[str, Any]] = {}
    ids = itertools.count(1)

    @app.get("/", name="index")
    async def index(request: Request) -> str:  # a str is sent as text/html
        return f'<h1>Todos</h1><a href="{app.url_for("api.todos")}">the API</a>'

    @app.get("/hello/{name}", name="hello")
    async def hello(request: Request, name: str) -> str:
        greeting = f"Hello, {name}!"
        return greeting.upper() if request.query.get("shout") else greeting

    @app.get("/old-home")
    async def old_home(request: Request) -> Response:
        return Redirect(app.url_for("index"), status=301)

    @app.get("/report")
    def report(request: Request) -> Text:  # sync: runs on the app's thread pool
        return Text(f"{len(todos)} todos\n")

    @app.errorhandler(404)
    async def page_not_found(request: Request, exc: HTTPError) -> tuple[str, int]:
        return "<h1>Nothing here</h1>", 404

    # -- the blueprint: a route group under /api, with its own error handlers -------------

    api = RouteGroup("/api", name="api")

    @api.get("/todos", name="todos")
    async def list_todos(request: Request) -> list[dict[str, Any]]:
        return [{"id": todo_id, **todo} for todo_id, todo in sorted(todos.items())]

    @api.post("/todos")
    async def create_todo(request: Request) -> Response:
        data = await request.json()
        title = data.get("title") if isinstance(data, dict) else None
        if not isinstance(title, str) or not title.strip():
            raise BadTodoError("title must be a non-empty string")
        todo_id = next(ids)
        todos[todo_id] = {"title": title.strip(), "done": False}
        location = app.url_for("api.todo", todo_id=todo_id)
        return JSON({"id": todo_id, **todos[todo_id]}, status=201, headers={"location": location})

    @api.get("/todos/{todo_id:int}", name="todo")
    async def get_todo(request: Request, todo_id: int) -> dict[str, Any]:
        if todo_id not in todos:
            raise HTTPError(404, f"no todo {todo_id}")  # Flask's abort(404)
        return {"id": todo_id, **todos[todo_id]}

    @api.delete("/todos/{todo_id:int}")
    async def delete_todo(request: Request, todo_id: int) -> None:
        if todos.pop(todo_id, None) is None:
            raise HTTPError(404, f"no todo {todo_id}")
        # returning None answers 204 No Content

    @api.errorhandler(HTTPError)  # 404s raised above, 400 for malformed JSON, ...
    async def api_error(request: Request, exc: HTTPError) -> tuple[dict[str, str], int]:
        return {"error": exc.reason}, exc.status

    @api.errorhandler(BadTodoError)
    async def bad_todo(request: Request, exc: BadTodoError) -> tuple[dict[str, str], int]:
        return {"error": str(exc)}, 400

    app.include(api)
    return app


app = create_app()

if __name__ == "__main__":
    app.run(port=5000)
