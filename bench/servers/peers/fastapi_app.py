"""FastAPI (served by uvicorn) for the benchmark scenarios, written as its docs show:
typed path parameters, a typed JSON body, dicts returned and serialised by FastAPI."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, Response

BLOB = b"0123456789abcdef" * 1024  # the /16k body

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext() -> str:
    return "Hello, World!"


@app.get("/json")
async def json() -> dict[str, str]:
    return {"message": "Hello, World!"}


async def route(id: int) -> PlainTextResponse:
    return PlainTextResponse(str(id))


@app.get("/16k")
async def sixteen_k() -> Response:
    return Response(BLOB, media_type="application/octet-stream")


@app.post("/echo")
async def echo(payload: dict[str, Any]) -> dict[str, Any]:
    return payload


for i in range(200):  # last: Starlette's router scans
    app.add_api_route(f"/route{i}/{{id}}", route, methods=["GET"], name=f"route{i}")
