"""aiohttp for the benchmark scenarios: web.run_app on uvloop, access log off."""

from __future__ import annotations

import functools
import json
import sys

import uvloop
from aiohttp import web

BLOB = b"0123456789abcdef" * 1024  # the /16k body
dumps = functools.partial(json.dumps, separators=(",", ":"), ensure_ascii=False)


async def plaintext(request: web.Request) -> web.Response:
    return web.Response(text="Hello, World!")


async def hello_json(request: web.Request) -> web.Response:
    return web.json_response({"message": "Hello, World!"}, dumps=dumps)


async def route(request: web.Request) -> web.Response:
    return web.Response(text=str(int(request.match_info["id"])))


async def sixteen_k(request: web.Request) -> web.Response:
    return web.Response(body=BLOB, content_type="application/octet-stream")


async def echo(request: web.Request) -> web.Response:
    return web.json_response(await request.json(), dumps=dumps)


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/plaintext", plaintext)
    app.router.add_get("/json", hello_json)
    app.router.add_get("/16k", sixteen_k)
    app.router.add_post("/echo", echo)
    for i in range(200):  # last, in case the router scans
        app.router.add_get(f"/route{i}/{{id:\\d+}}", route)
    return app


if __name__ == "__main__":
    web.run_app(
        make_app(),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )
