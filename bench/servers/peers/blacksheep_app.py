"""BlackSheep (served by uvicorn) for the benchmark scenarios."""

from __future__ import annotations

from blacksheep import Application, Content, Request, Response, json, text

BLOB = b"0123456789abcdef" * 1024  # the /16k body

app = Application()


async def plaintext() -> Response:
    return text("Hello, World!")


async def hello_json() -> Response:
    return json({"message": "Hello, World!"})


async def route(id: int) -> Response:
    return text(str(id))


async def sixteen_k() -> Response:
    return Response(200, content=Content(b"application/octet-stream", BLOB))


async def echo(request: Request) -> Response:
    return json(await request.json())


app.router.add_get("/plaintext", plaintext)
app.router.add_get("/json", hello_json)
app.router.add_get("/16k", sixteen_k)
app.router.add_post("/echo", echo)
for i in range(200):  # last, in case the router scans
    app.router.add_get(f"/route{i}/{{int:id}}", route)
