"""A FastAPI application, served by typhoon's ASGIHost in the interop tests.

JSON routes with path and query parameters, a streamed upload read with
``request.stream()``, a ``StreamingResponse``, a WebSocket echo, a lifespan whose
startup fills the state and whose shutdown is recorded in :data:`EVENTS`.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

EVENTS: list[str] = []
"""What the lifespan did, in order: ``"startup"``, ``"shutdown"``."""

STREAM_PARTS = [f"line {i}\n" for i in range(5)]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    EVENTS.append("startup")
    yield {"greeting": "hello from lifespan"}
    EVENTS.append("shutdown")


app = FastAPI(lifespan=lifespan)


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None) -> dict[str, Any]:
    return {"item_id": item_id, "q": q}


@app.post("/items")
async def create_item(item: dict[str, Any]) -> dict[str, Any]:
    return {"created": item}


@app.get("/state")
async def state(request: Request) -> dict[str, Any]:
    return {"greeting": request.state.greeting}


@app.get("/where", name="where")
async def where(request: Request) -> dict[str, Any]:
    return {
        "root_path": request.scope["root_path"],
        "path": request.scope["path"],
        "url_for": str(request.url_for("where")),
    }


@app.post("/upload")
async def upload(request: Request) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = pieces = 0
    async for piece in request.stream():
        digest.update(piece)
        size += len(piece)
        pieces += 1
    return {"size": size, "sha256": digest.hexdigest(), "pieces": pieces}


@app.get("/stream")
async def stream() -> StreamingResponse:
    async def lines() -> AsyncIterator[str]:
        for line in STREAM_PARTS:
            yield line
            await asyncio.sleep(0.01)

    return StreamingResponse(lines(), media_type="text/plain")


@app.get("/boom")
async def boom() -> dict[str, Any]:
    raise RuntimeError("boom")


@app.websocket("/ws")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept(
        subprotocol="echo" if "echo" in websocket.scope["subprotocols"] else None
    )
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                if message["text"] == "close":
                    await websocket.close(code=4001, reason="asked to")
                    return
                await websocket.send_text("echo: " + message["text"])
            else:
                await websocket.send_bytes(message["bytes"][::-1])
    except WebSocketDisconnect:
        return


@app.websocket("/ws-denied")
async def denied(websocket: WebSocket) -> None:
    await websocket.close()
