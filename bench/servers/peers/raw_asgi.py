"""A raw ASGI app (no framework) for the benchmark scenarios: served by uvicorn and granian.

Routing is a dict lookup plus a check of the ``/route<n>/<id>`` shape; JSON goes through
the standard library, as an ASGI app without dependencies would do it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

BLOB = b"0123456789abcdef" * 1024  # the /16k body
TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
JSON = [(b"content-type", b"application/json")]
ROUTE_PREFIXES = {f"route{i}" for i in range(200)}


def dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


STATIC = {
    "/plaintext": (b"Hello, World!", TEXT),
    "/16k": (BLOB, [(b"content-type", b"application/octet-stream")]),
}


async def respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    path = scope["path"]
    static = STATIC.get(path)
    if static is not None:
        await respond(send, 200, *static)
        return
    if path == "/json":  # serialised per request, as TechEmpower's rules ask
        await respond(send, 200, dumps({"message": "Hello, World!"}), JSON)
        return
    if path == "/echo" and scope["method"] == "POST":
        await respond(send, 200, dumps(json.loads(await read_body(receive))), JSON)
        return
    _, prefix, item_id = path.split("/", 2) if path.count("/") == 2 else ("", "", "")
    if prefix in ROUTE_PREFIXES and item_id.isdigit():
        await respond(send, 200, str(int(item_id)).encode(), TEXT)
        return
    await respond(send, 404, b"Not Found", TEXT)
