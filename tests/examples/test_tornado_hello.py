"""examples/tornado_hello.py: Tornado's hello world, served in memory."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from types import ModuleType

from typhoon.testing import ParsedResponse, connect, feed, parse_responses

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tornado_hello.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tornado_hello_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _get(raw: bytes) -> ParsedResponse:
    app = _load().app
    protocol, transport = connect(app)
    feed(protocol, raw)
    for _ in range(400):  # the sync get() runs on the thread pool
        await asyncio.sleep(0.005)
        try:
            [response] = parse_responses(bytes(transport.written), head_request=raw[:4] == b"HEAD")
        except ValueError:
            continue
        await app.shutdown()
        return response
    raise AssertionError(f"no complete response: {bytes(transport.written)!r}")


async def test_tornado_hello_get_says_hello_world() -> None:
    response = await _get(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (response.status, response.body) == (200, b"Hello, world")
    assert response.header("content-type") == "text/html; charset=utf-8"
    assert response.header("content-length") == "12"


async def test_tornado_hello_head_has_no_body_and_post_is_405() -> None:
    head = await _get(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (head.status, head.body, head.header("content-length")) == (200, b"", "12")
    post = await _get(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
    assert (post.status, post.header("allow")) == (405, "GET, HEAD")


def test_tornado_hello_make_app_builds_a_fresh_app() -> None:
    module = _load()
    assert module.make_app() is not module.app
