"""The benchmark scenarios with typhoon.RequestHandler classes, Tornado style.

The same routes and response bytes as typhoon_views.py; handlers write with
``self.write`` (or return a value, like a view) as a Tornado application would.
"""

from __future__ import annotations

from typhoon import App, RequestHandler

BLOB = b"0123456789abcdef" * 1024  # the /16k body


class Plaintext(RequestHandler):
    async def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.write("Hello, World!")


class Json(RequestHandler):
    async def get(self) -> None:
        self.write({"message": "Hello, World!"})


class Route(RequestHandler):
    async def get(self, id: int) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.write(str(id))


class SixteenK(RequestHandler):
    async def get(self) -> None:
        self.set_header("Content-Type", "application/octet-stream")
        self.write(BLOB)


class Echo(RequestHandler):
    async def post(self) -> None:
        self.write(await self.request.json())


app = App(
    [
        ("/plaintext", Plaintext),
        ("/json", Json),
        ("/16k", SixteenK),
        ("/echo", Echo),
        *((f"/route{i}/{{id:int}}", Route) for i in range(200)),  # last (see typhoon_views)
    ]
)
