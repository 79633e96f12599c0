"""The application the ASGI face tests serve, under typhoon's server and ASGI servers.

Run from this directory, e.g. ``uvicorn asgi_face_app:app`` or
``python -m typhoon run asgi_face_app:app``. The same module is served by every
server in ``test_asgi_face.py``; what it answers does not depend on which one.

The shutdown hook writes ``$ASGI_FACE_SHUTDOWN_FILE`` (when set), so a test can check,
after SIGTERM, that the server ran the app's lifespan to its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from typhoon import (
    JSON,
    App,
    File,
    HTTPError,
    Request,
    RequestHandler,
    Response,
    Streaming,
    Text,
    WebSocket,
)
from typhoon.realtime import WebSocketHandler

MAX_BODY_BYTES = 8 * 1024 * 1024
STREAM_PIECES = 4
STREAM_PAUSE_S = 0.2

# Larger than File's chunk size: natively it goes with sendfile, over ASGI in pieces.
FILE_BYTES = bytes(range(256)) * 1200
FILE_PATH = Path(tempfile.gettempdir()) / f"asgi-face-{os.getpid()}.bin"
FILE_PATH.write_bytes(FILE_BYTES)

state: dict[str, Any] = {"started": False, "context": False, "cancelled": 0, "hanging": 0}


@contextlib.asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[None]:
    state["context"] = True
    yield
    state["context"] = False


app = App(lifespan=lifespan, max_body_bytes=MAX_BODY_BYTES)


@app.on_startup
async def started() -> None:
    await asyncio.sleep(0)
    state["started"] = True


@app.on_shutdown
def write_shutdown_file() -> None:
    FILE_PATH.unlink(missing_ok=True)
    path = os.environ.get("ASGI_FACE_SHUTDOWN_FILE")
    if path:
        with open(path, "w") as f:
            f.write(f"shutdown ran; context was {state['context']}\n")


@app.get("/json")
async def json_view(request: Request) -> dict[str, Any]:
    return {"hello": "world", "started": state["started"], "context": state["context"]}


@app.get("/items/{item_id:int}")
async def item(request: Request, item_id: int) -> dict[str, Any]:
    return {"id": item_id, "type": type(item_id).__name__}


@app.get("/query")
async def query(request: Request) -> dict[str, Any]:
    return {"q": request.query.get("q"), "tags": request.query.getall("tag")}


@app.post("/echo")
async def echo_json(request: Request) -> JSON:
    return JSON({"got": await request.json()}, status=201)


@app.post("/upload")
async def upload(request: Request) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = pieces = 0
    async for piece in request.stream():
        digest.update(piece)
        size += len(piece)
        pieces += 1
    return {"bytes": size, "sha256": digest.hexdigest(), "pieces": pieces}


@app.get("/stream")
async def stream(request: Request) -> Streaming:
    async def pieces() -> AsyncIterator[str]:
        for i in range(STREAM_PIECES):
            if i:
                await asyncio.sleep(STREAM_PAUSE_S)
            yield f"piece {i}\n"

    return Streaming(pieces(), media_type="text/plain")


@app.get("/file")
async def file(request: Request) -> File:
    return File(FILE_PATH, media_type="application/octet-stream")


@app.route("/tornado/{name}")
class TornadoStyle(RequestHandler):
    async def get(self, name: str) -> None:
        self.set_header("x-handler", "yes")
        self.write(f"hello {name}, ")
        await self.flush()  # the head and a first piece leave now
        self.write(f"arg={self.get_argument('a', 'none')}")

    def post(self, name: str) -> None:  # a plain def: run on the app's thread pool
        self.write({"name": name, "colour": self.get_body_argument("colour")})


@app.get("/sync")
def sync_view(request: Request) -> dict[str, str]:
    return {"ran": "in a thread"}


@app.get("/boom")
async def boom(request: Request) -> Response:
    raise RuntimeError("secret internal detail")


@app.get("/teapot")
async def teapot(request: Request) -> Response:
    raise HTTPError(418, "short and stout")


@app.get("/cookies")
async def cookies(request: Request) -> Response:
    response = JSON(
        {"flavour": request.cookies.get("flavour"), "x_test": request.headers.get("x-test")}
    )
    response.set_cookie("seen", "yes")
    response.set_header("x-echo", request.headers.get("x-test") or "")
    return response


@app.get("/hang")
async def hang(request: Request) -> Text:
    state["hanging"] += 1
    request.long_lived()  # natively, a client's EOF is a half-close unless this is said
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        state["cancelled"] += 1
        raise
    return Text("woke up")


@app.get("/hang-status")
async def hang_status(request: Request) -> dict[str, Any]:
    return {"hanging": state["hanging"], "cancelled": state["cancelled"]}


@app.get("/where")
async def where(request: Request) -> dict[str, Any]:
    return {"path": request.path, "root_path": request.root_path, "url": request.url}


sub = App()


@sub.get("/where")
async def sub_where(request: Request) -> dict[str, Any]:
    return {"path": request.path, "root_path": request.root_path, "url": request.url}


app.mount("/sub", sub)


@app.websocket("/ws/echo", subprotocols=("chat.v2", "chat.v1"), max_message_size=1024)
async def ws_echo(ws: WebSocket) -> None:
    await ws.send_json({"subprotocol": ws.subprotocol, "path": ws.request.path})
    async for message in ws:
        await ws.send(message)


@app.websocket("/chat/{room}")
class Chat(WebSocketHandler):
    async def open(self, room: str) -> None:
        self.room = room
        await self.subscribe(f"chat:{room}")
        await self.write_message({"joined": room})

    async def on_message(self, message: str | bytes) -> None:
        await self.publish(f"chat:{self.room}", message)
