"""aiohttp's WebSocket echo for bench/ws.py: web.run_app on uvloop, no access log,
WebSocketResponse's defaults (which accept permessage-deflate when a client offers it)."""

from __future__ import annotations

import sys

import uvloop
from aiohttp import WSMsgType, web


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for message in ws:
        if message.type == WSMsgType.TEXT:
            await ws.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await ws.send_bytes(message.data)
    return ws


if __name__ == "__main__":
    app = web.Application()
    app.router.add_get("/", echo)
    web.run_app(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )
