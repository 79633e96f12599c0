"""Tornado's WebSocket echo for bench/ws.py: one process on Tornado's default (asyncio)
loop, no request logging, Tornado's defaults otherwise (so no permessage-deflate: a
WebSocketHandler negotiates it only when get_compression_options() returns options)."""

from __future__ import annotations

import asyncio
import sys

from tornado.web import Application, RequestHandler
from tornado.websocket import WebSocketHandler


class Echo(WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        self.write_message(message, binary=isinstance(message, bytes))


def no_log(handler: RequestHandler) -> None:
    pass


async def main(port: int) -> None:
    app = Application([(r"/", Echo)], log_function=no_log)
    app.listen(port, address="127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
