"""Tornado for the benchmark scenarios: one process on Tornado's default (asyncio) loop,
no request logging."""

from __future__ import annotations

import asyncio
import json
import sys

from tornado.web import Application, RequestHandler

BLOB = b"0123456789abcdef" * 1024  # the /16k body


def dumps(data: object) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


class Plaintext(RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.write("Hello, World!")


class Json(RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.write(dumps({"message": "Hello, World!"}))


class Route(RequestHandler):
    def get(self, item_id: str) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.write(str(int(item_id)))


class SixteenK(RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "application/octet-stream")
        self.write(BLOB)


class Echo(RequestHandler):
    def post(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.write(dumps(json.loads(self.request.body)))


def no_log(handler: RequestHandler) -> None:
    pass


async def main(port: int) -> None:
    app = Application(
        [
            (r"/plaintext", Plaintext),
            (r"/json", Json),
            (r"/16k", SixteenK),
            (r"/echo", Echo),
            *((rf"/route{i}/(\d+)", Route) for i in range(200)),  # last: Tornado scans
        ],
        log_function=no_log,
    )
    app.listen(port, address="127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
