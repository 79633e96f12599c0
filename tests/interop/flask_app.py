"""A Flask application, served by typhoon's WSGIHost in the interop tests.

Routes with links built by ``url_for``, a form POST, JSON, a streamed response from a
generator, a large upload read in chunks from ``request.stream``, an error (500), and
``/slow``, which sleeps in its thread to show the pool's bound.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, jsonify, request, stream_with_context, url_for

app = Flask(__name__)


class Concurrency:
    """How many ``/slow`` requests run at once, and the most seen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.now -= 1


SLOW = Concurrency()
CLOSED: list[str] = []
"""Paths whose streamed response was closed by the server (PEP 3333 close())."""


@app.get("/")
def index() -> str:
    return f'<a href="{url_for("hello", name="world")}">hello</a>'


@app.get("/hello/<name>")
def hello(name: str) -> str:
    return f"Hello, {name}!"


@app.get("/where")
def where() -> Response:
    return jsonify(
        script_name=request.environ["SCRIPT_NAME"],
        path_info=request.environ["PATH_INFO"],
        url=url_for("where", _external=False),
        query=request.args.get("q"),
    )


@app.post("/form")
def form() -> str:
    return f"{request.form['name']} is {request.form['age']}"


@app.post("/json")
def json_echo() -> Response:
    data: dict[str, Any] = request.get_json()
    return jsonify(received=data, count=len(data))


@app.get("/stream")
def stream() -> Response:
    def generate() -> Iterator[str]:
        try:
            for i in range(5):
                yield f"chunk {i}\n"
        finally:
            CLOSED.append("/stream")

    return Response(stream_with_context(generate()), mimetype="text/plain")


@app.post("/upload")
def upload() -> Response:
    digest = hashlib.sha256()
    size = reads = 0
    while chunk := request.stream.read(65536):
        digest.update(chunk)
        size += len(chunk)
        reads += 1
    return jsonify(size=size, sha256=digest.hexdigest(), reads=reads)


@app.get("/boom")
def boom() -> str:
    raise RuntimeError("boom")


@app.get("/slow")
def slow() -> str:
    with SLOW:
        time.sleep(float(request.args.get("s", "0.5")))
    return "slow done"
