"""A WebSocket echo server built on the websockets library, to check `make autobahn` itself.

Run from the project's .venv (which has websockets): ``python echo_websockets.py PORT``.
Text stays text, binary stays binary; permessage-deflate is offered as websockets does
by default; messages up to 32 MiB are accepted (Autobahn's 9.* cases send 16 MiB).
"""

from __future__ import annotations

import asyncio
import sys

from websockets.asyncio.server import ServerConnection, serve

MAX_MESSAGE_BYTES = 32 * 1024 * 1024


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def main(port: int) -> None:
    async with serve(echo, "127.0.0.1", port, max_size=MAX_MESSAGE_BYTES) as server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
