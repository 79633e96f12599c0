"""Sanic for the benchmark scenarios: one process (no worker manager), access log off."""

from __future__ import annotations

import sys
from typing import Any

from sanic import HTTPResponse, Request, Sanic
from sanic.response import json, raw, text

BLOB = b"0123456789abcdef" * 1024  # the /16k body

app = Sanic("bench")


@app.get("/plaintext")
async def plaintext(request: Request) -> HTTPResponse:
    return text("Hello, World!")


@app.get("/json")
async def hello_json(request: Request) -> HTTPResponse:
    return json({"message": "Hello, World!"})


async def route(request: Request, id: int) -> HTTPResponse:
    return text(str(id))


@app.get("/16k")
async def sixteen_k(request: Request) -> HTTPResponse:
    return raw(BLOB, content_type="application/octet-stream")


@app.post("/echo")
async def echo(request: Request) -> HTTPResponse:
    data: Any = request.json
    return json(data)


for i in range(200):  # last, in case the router scans
    app.add_route(route, f"/route{i}/<id:int>", methods=["GET"], name=f"route{i}")


if __name__ == "__main__":
    app.run(
        host="127.0.0.1",
        port=int(sys.argv[1]),
        single_process=True,
        access_log=False,
        debug=False,
        motd=False,
    )
