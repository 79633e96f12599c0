"""WSGIHost with small WSGI applications written here, on a real socket."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx
import pytest
from tests.interop.servers import serving

from typhoon.http.wsgi import WSGIHost

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], None]]


def _show_environ(environ: Environ, start_response: StartResponse) -> list[bytes]:
    shown = {k: v for k, v in environ.items() if isinstance(v, str | tuple | bool)}
    shown["body"] = environ["wsgi.input"].read().decode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [repr(shown).encode()]


async def test_the_environ_follows_pep_3333() -> None:
    async with serving(WSGIHost(_show_environ, root_path="/proxy")) as server:
        port = server.port
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"http://127.0.0.1:{port}/caf%C3%A9/x?a=1&b=%20",
                content=b"name=value",
                headers={
                    "content-type": "application/x-www-form-urlencoded",
                    "x-tag": "one",
                    "cookie": "a=1",
                },
            )
    environ = eval(response.text)  # the repr of plain values, from our own app
    assert environ["REQUEST_METHOD"] == "POST"
    assert environ["SCRIPT_NAME"] == "/proxy"
    assert environ["PATH_INFO"] == "/caf\xc3\xa9/x"  # the bytes, decoded as latin-1
    assert environ["QUERY_STRING"] == "a=1&b=%20"
    assert environ["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert environ["CONTENT_LENGTH"] == "10"
    assert environ["HTTP_X_TAG"] == "one"
    assert environ["HTTP_COOKIE"] == "a=1"
    assert environ["HTTP_HOST"] == f"127.0.0.1:{port}"
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("127.0.0.1", str(port))
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert environ["REMOTE_ADDR"] == "127.0.0.1"
    assert environ["wsgi.version"] == (1, 0)
    assert environ["wsgi.url_scheme"] == "http"
    assert environ["wsgi.multithread"] is True
    assert environ["wsgi.multiprocess"] is False
    assert environ["body"] == "name=value"


async def test_exceptions_500_before_the_head_closed_connection_after(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        if environ["PATH_INFO"] == "/early":
            raise ValueError("early failure")
        start_response("200 OK", [])
        yield b"half"
        raise ValueError("late failure")

    with caplog.at_level(logging.ERROR, logger="typhoon.error"):
        async with serving(WSGIHost(app)) as server, httpx.AsyncClient() as client:
            url = f"http://127.0.0.1:{server.port}"
            early = await client.get(url + "/early")
            assert (early.status_code, early.text) == (500, "500 Internal Server Error\n")
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(url + "/late")
    logged = [r for r in caplog.records if r.name == "typhoon.error"]
    assert [str(r.exc_info[1]) for r in logged if r.exc_info] == ["early failure", "late failure"]


async def test_start_response_with_exc_info_replaces_an_unsent_head() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("x-first", "1")])
        try:
            raise KeyError("missing")
        except KeyError:
            start_response("503 Service Unavailable", [("x-second", "2")], sys.exc_info())
        return [b"sorry"]

    async with serving(WSGIHost(app)) as server, httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{server.port}/")
    assert (response.status_code, response.text) == (503, "sorry")
    assert "x-first" not in response.headers
    assert response.headers["x-second"] == "2"


async def test_start_response_with_exc_info_after_the_head_reraises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        write = start_response("200 OK", [])
        write(b"sent")
        try:
            raise KeyError("late")
        except KeyError:
            try:
                start_response("500 Oops", [], sys.exc_info())
            except KeyError as exc:
                seen.append(repr(exc))
                raise
        yield b"never"

    with caplog.at_level(logging.ERROR, logger="typhoon.error"):
        async with serving(WSGIHost(app)) as server, httpx.AsyncClient() as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(f"http://127.0.0.1:{server.port}/")
    assert seen == ["KeyError('late')"]


async def test_write_callable_content_length_and_head() -> None:
    closed: list[bool] = []

    class Body:
        def __init__(self) -> None:
            self.parts = [b"cd", b"", b"ef"]

        def __iter__(self) -> Iterator[bytes]:
            return iter(self.parts)

        def close(self) -> None:
            closed.append(True)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Length", "6")])
        write(b"ab")
        return Body()

    async with serving(WSGIHost(app)) as server, httpx.AsyncClient() as client:
        url = f"http://127.0.0.1:{server.port}/"
        got = await client.get(url)
        assert (got.text, got.headers["content-length"]) == ("abcdef", "6")
        assert "transfer-encoding" not in got.headers
        head = await client.head(url)
        assert (head.content, head.headers["content-length"]) == (b"", "6")
    assert closed == [True, True]


async def test_wsgi_input_is_streamed_and_the_response_too() -> None:
    """The app answers the first half of the body before the client sends the second."""

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        stream = environ["wsgi.input"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        first = stream.read(5)
        yield b"got " + first + b"\n"
        yield b"then " + stream.readline() + b"\n"
        environ["wsgi.errors"].write("read it all\n")

    async with serving(WSGIHost(app)) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhello")
        head = await asyncio.wait_for(reader.readuntil(b"got hello\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        writer.write(b"world")
        rest = await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 5)
        assert b"then world\n" in rest
        writer.close()


async def test_wsgi_errors_go_to_the_typhoon_wsgi_logger(caplog: pytest.LogCaptureFixture) -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        environ["wsgi.errors"].write("first line\nsecond ")
        environ["wsgi.errors"].writelines(["line\n"])
        start_response("204 No Content", [])
        return []

    with caplog.at_level(logging.ERROR, logger="typhoon.wsgi"):
        async with serving(WSGIHost(app)) as server, httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{server.port}/")).status_code == 204
    assert [r.getMessage() for r in caplog.records if r.name == "typhoon.wsgi"] == [
        "first line",
        "second line",
    ]


async def test_a_slow_client_blocks_the_thread_not_the_loop() -> None:
    """Backpressure towards the app: its iterator is not advanced while the client is slow."""
    produced: list[int] = []
    done = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        try:
            for i in range(10_000):
                produced.append(i)
                yield b"x" * 65536
        finally:
            done.set()

    host = WSGIHost(app, threads=1)
    async with serving(host) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        await reader.read(1000)
        await asyncio.sleep(0.3)
        stalled = len(produced)
        await asyncio.sleep(0.2)
        assert len(produced) == stalled < 1000  # waiting for the client, not 655 MB ahead
        writer.transport.abort()
        assert await asyncio.to_thread(done.wait, 5)  # close() ran: the generator ended


async def test_shutdown_stops_the_thread_pool() -> None:
    threads: set[threading.Thread] = set()

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        threads.add(threading.current_thread())
        start_response("200 OK", [])
        return [b"ok"]

    host = WSGIHost(app, threads=2)
    assert host.threads == 2
    async with serving(host) as server, httpx.AsyncClient() as client:
        for _ in range(3):
            assert (await client.get(f"http://127.0.0.1:{server.port}/")).text == "ok"
    assert 1 <= len(threads) <= 2
    assert all(thread.name.startswith("typhoon-thread") for thread in threads)
    for _ in range(50):  # the pool's threads exit once it is shut down
        if not any(thread.is_alive() for thread in threads):
            break
        await asyncio.sleep(0.02)
    assert not any(thread.is_alive() for thread in threads)
