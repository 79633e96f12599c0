"""Starlette (served by uvicorn) for the benchmark scenarios."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

BLOB = b"0123456789abcdef" * 1024  # the /16k body


async def plaintext(request: Request) -> Response:
    return PlainTextResponse("Hello, World!")


async def json(request: Request) -> Response:
    return JSONResponse({"message": "Hello, World!"})


async def route(request: Request) -> Response:
    return PlainTextResponse(str(request.path_params["id"]))


async def sixteen_k(request: Request) -> Response:
    return Response(BLOB, media_type="application/octet-stream")


async def echo(request: Request) -> Response:
    return JSONResponse(await request.json())


app = Starlette(
    routes=[
        Route("/plaintext", plaintext),
        Route("/json", json),
        Route("/16k", sixteen_k),
        Route("/echo", echo, methods=["POST"]),
        *(Route(f"/route{i}/{{id:int}}", route) for i in range(200)),  # last: Starlette scans
    ]
)
