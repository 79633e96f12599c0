"""Twisted web for the benchmark scenarios: a Resource tree on the default reactor
(epoll on Linux), request logging off."""

from __future__ import annotations

import json
import sys

from twisted.internet import reactor
from twisted.web.resource import NoResource, Resource
from twisted.web.server import Request, Site

BLOB = b"0123456789abcdef" * 1024  # the /16k body


def dumps(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


class Leaf(Resource):
    isLeaf = True

    def __init__(self, body: bytes, content_type: bytes) -> None:
        super().__init__()
        self.body = body
        self.content_type = content_type

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", self.content_type)
        return self.body


class Json(Resource):
    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        return dumps({"message": "Hello, World!"})


class Echo(Resource):
    isLeaf = True

    def render_POST(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        return dumps(json.load(request.content))


class RouteItem(Resource):
    isLeaf = True

    def __init__(self, item_id: int) -> None:
        super().__init__()
        self.item_id = item_id

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return str(self.item_id).encode()


class RouteParent(Resource):
    """``/route<n>/<id>``: the id segment must be an int."""

    def getChild(self, path: bytes, request: Request) -> Resource:
        if path.isdigit():
            return RouteItem(int(path))
        return NoResource()


class QuietSite(Site):
    def log(self, request: Request) -> None:
        pass  # no access log


def main(port: int) -> None:
    root = Resource()
    root.putChild(b"plaintext", Leaf(b"Hello, World!", b"text/plain; charset=utf-8"))
    root.putChild(b"json", Json())
    root.putChild(b"16k", Leaf(BLOB, b"application/octet-stream"))
    root.putChild(b"echo", Echo())
    for i in range(200):  # children are a dict: order does not matter
        root.putChild(f"route{i}".encode(), RouteParent())
    reactor.listenTCP(port, QuietSite(root), interface="127.0.0.1")
    reactor.run()


if __name__ == "__main__":
    main(int(sys.argv[1]))
