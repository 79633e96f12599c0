"""typhoon function views for the benchmark scenarios (see bench/run.py's SCENARIOS).

One app serves every scenario: 200 parametrised routes sit beside the others, as in an
application of some size.
"""

from __future__ import annotations

from typing import Any

from typhoon import JSON, App, Request, Response, Text

BLOB = b"0123456789abcdef" * 1024  # the /16k body

app = App()


@app.get("/plaintext")
async def plaintext(request: Request) -> Text:
    return Text("Hello, World!")


@app.get("/json")
async def json(request: Request) -> JSON:
    return JSON({"message": "Hello, World!"})


async def route(request: Request, id: int) -> Text:
    return Text(str(id))


@app.get("/16k")
async def sixteen_k(request: Request) -> Response:
    return Response(BLOB, media_type="application/octet-stream")


@app.post("/echo")
async def echo(request: Request) -> JSON:
    data: Any = await request.json()
    return JSON(data)


# The 200 routes come last in every server file: a router that scans its routes in
# order then slows down routes200 alone, not the other scenarios.
for i in range(200):
    app.add_route(f"/route{i}/{{id:int}}", route, ["GET"])
