"""Tornado's hello world, ported by changing the imports.

Serve it with ``typhoon run examples.tornado_hello:app``.

The Tornado original imports ``tornado.web`` and builds ``tornado.web.Application``;
everything else is the same.
"""

from __future__ import annotations

from typhoon import App, RequestHandler


class MainHandler(RequestHandler):
    def get(self) -> None:
        self.write("Hello, world")


def make_app() -> App:
    return App([(r"/", MainHandler)])


app = make_app()

if __name__ == "__main__":
    app.run(port=8888)
