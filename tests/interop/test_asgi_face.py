"""A typhoon App served by typhoon's own server, uvicorn, hypercorn and granian.

The same tests run against each server, started for real as a subprocess on
127.0.0.1 and a free port (``asgi_face_app.py`` is the app), through real clients
(httpx, websockets). Under the ASGI servers the app is served by ``App.__call__``
(``typhoon.web.asgi`` and ``typhoon.realtime.asgi``); under typhoon by
``App.handle``. A failing test prints the server's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

HERE = Path(__file__).resolve().parent
START_TIMEOUT_S = 15.0
SERVERS = ("typhoon", "uvicorn", "hypercorn", "granian")
MAX_BODY_BYTES = 8 * 1024 * 1024  # asgi_face_app.MAX_BODY_BYTES


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def command(server: str, port: int, root_path: str = "") -> list[str]:
    """The command line that serves ``asgi_face_app:app`` with ``server``."""
    app = "asgi_face_app:app"
    host = "127.0.0.1"
    if server == "typhoon":
        return [
            *(sys.executable, "-m", "typhoon", "run", app, "--host", host, "--port", str(port)),
            *("--no-access-log", "--max-body-bytes", str(MAX_BODY_BYTES)),
        ]
    if server == "uvicorn":
        extra = ["--root-path", root_path] if root_path else []
        return [
            *(sys.executable, "-m", "uvicorn", app, "--host", host, "--port", str(port)),
            *("--lifespan", "on", "--no-access-log", *extra),
        ]
    if server == "hypercorn":
        extra = ["--root-path", root_path] if root_path else []
        return [sys.executable, "-m", "hypercorn", app, "--bind", f"{host}:{port}", *extra]
    if server == "granian":
        extra = ["--url-path-prefix", root_path] if root_path else []
        return [
            *(sys.executable, "-m", "granian", "--interface", "asgi", "--host", host),
            *("--port", str(port), *extra, app),
        ]
    raise ValueError(server)


@dataclass
class Served:
    """A server subprocess serving ``asgi_face_app:app``."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """Kill the server and its workers (granian forks one): the whole process group."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


def start(
    server: str, log: Path, *, root_path: str = "", env: dict[str, str] | None = None
) -> Served:
    """Start ``server`` and wait until it answers ``/json``; fail with its log if it does not."""
    port = free_port()
    environment = {**os.environ, "PYTHONPATH": str(HERE), **(env or {})}
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            command(server, port, root_path),
            cwd=HERE,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed whole by stop()
        )
    served = Served(server, proc, port, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{server} exited with {proc.returncode}; log:\n{served.output()}")
        try:
            if httpx.get(served.url + "/json", timeout=1.0).status_code == 200:
                return served
        except httpx.HTTPError:
            time.sleep(0.1)
    served.stop()
    pytest.fail(f"{server} did not answer within {START_TIMEOUT_S} s; log:\n{served.output()}")


@pytest.fixture(scope="module", params=SERVERS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    server = str(request.param)
    log = tmp_path_factory.mktemp(server) / "server.log"
    running = start(server, log)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(autouse=True)
def _print_log_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and "served" in request.fixturenames:
        running: Served = request.getfixturevalue("served")
        print(f"----- {running.name} log -----\n{running.output()}")


@pytest.fixture
async def client(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.url, timeout=10.0) as http:
        yield http


# -- HTTP --------------------------------------------------------------------------------


async def test_json_view_sees_the_startup_hook_and_lifespan(client: httpx.AsyncClient) -> None:
    response = await client.get("/json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"hello": "world", "started": True, "context": True}


async def test_path_params_are_converted(client: httpx.AsyncClient) -> None:
    response = await client.get("/items/42")
    assert response.json() == {"id": 42, "type": "int"}
    assert (await client.get("/items/abc")).status_code == 404


async def test_query_string_is_parsed(client: httpx.AsyncClient) -> None:
    response = await client.get("/query", params=[("q", "a b&c"), ("tag", "x"), ("tag", "é")])
    assert response.json() == {"q": "a b&c", "tags": ["x", "é"]}


async def test_post_json_body_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", json={"n": [1, 2, 3], "s": "ü"})
    assert response.status_code == 201
    assert response.json() == {"got": {"n": [1, 2, 3], "s": "ü"}}


async def test_large_streamed_upload_arrives_whole(client: httpx.AsyncClient) -> None:
    piece = bytes(range(256)) * 256  # 64 KiB
    count = 80  # 5 MiB in all, sent chunked

    async def body() -> AsyncIterator[bytes]:
        for _ in range(count):
            yield piece

    response = await client.post("/upload", content=body())
    assert response.status_code == 200
    result = response.json()
    assert result["bytes"] == len(piece) * count
    assert result["sha256"] == hashlib.sha256(piece * count).hexdigest()
    assert result["pieces"] > 1  # read as a stream, not as one buffer


async def test_declared_body_over_the_limit_is_413_before_it_is_sent(served: Served) -> None:
    # A raw client: httpx would still be sending the body when the server answers.
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        writer.write(
            b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1)
        )
        status_line = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
    assert status_line.split(b" ")[1] == b"413"


async def test_streaming_response_arrives_in_pieces(client: httpx.AsyncClient) -> None:
    arrivals: list[tuple[float, bytes]] = []
    async with client.stream("GET", "/stream") as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers
        async for data in response.aiter_raw():
            arrivals.append((time.monotonic(), data))
    assert b"".join(data for _, data in arrivals) == b"".join(
        f"piece {i}\n".encode() for i in range(4)
    )
    # The first piece came well before the last one was produced (3 pauses of 0.2 s).
    assert arrivals[-1][0] - arrivals[0][0] > 0.4


async def test_file_response_whole_and_ranged(client: httpx.AsyncClient) -> None:
    expected = bytes(range(256)) * 1200  # asgi_face_app.FILE_BYTES
    whole = await client.get("/file")
    assert whole.status_code == 200
    assert whole.headers["content-length"] == str(len(expected))
    assert hashlib.sha256(whole.content).digest() == hashlib.sha256(expected).digest()
    part = await client.get("/file", headers={"range": "bytes=100000-100009"})
    assert part.status_code == 206
    assert part.content == expected[100000:100010]
    assert part.headers["content-range"] == f"bytes 100000-100009/{len(expected)}"


async def test_tornado_style_handler_flushes_and_reads_a_form(client: httpx.AsyncClient) -> None:
    got = await client.get("/tornado/ann", params={"a": "1"})
    assert (got.status_code, got.text) == (200, "hello ann, arg=1")
    assert got.headers["x-handler"] == "yes"
    posted = await client.post("/tornado/bob", data={"colour": "teal"})
    assert posted.json() == {"name": "bob", "colour": "teal"}


async def test_sync_view_runs_in_the_thread_pool(client: httpx.AsyncClient) -> None:
    assert (await client.get("/sync")).json() == {"ran": "in a thread"}


async def test_head_has_headers_and_no_body(client: httpx.AsyncClient) -> None:
    get = await client.get("/json")
    head = await client.head("/json")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(get.content))


async def test_unknown_path_is_404_and_wrong_method_is_405(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nowhere")
    assert missing.status_code == 404
    wrong = await client.post("/json")
    assert wrong.status_code == 405
    assert "GET" in wrong.headers["allow"]


async def test_error_is_500_without_internals(client: httpx.AsyncClient) -> None:
    response = await client.get("/boom")
    assert response.status_code == 500
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    teapot = await client.get("/teapot")
    assert teapot.status_code == 418
    assert "short and stout" in teapot.text


async def test_cookies_and_headers_go_both_ways(client: httpx.AsyncClient) -> None:
    response = await client.get("/cookies", headers={"x-test": "abc", "cookie": "flavour=mint"})
    assert response.json() == {"flavour": "mint", "x_test": "abc"}
    assert response.headers["x-echo"] == "abc"
    set_cookie = response.headers["set-cookie"]
    assert set_cookie.startswith("seen=yes")
    assert "HttpOnly" in set_cookie


async def test_mounted_sub_app_sees_its_root_path(
    client: httpx.AsyncClient, served: Served
) -> None:
    response = await client.get("/sub/where")
    assert response.json() == {
        "path": "/where",
        "root_path": "/sub",
        "url": f"{served.url}/sub/where",
    }


async def test_client_disconnect_cancels_the_handler(
    client: httpx.AsyncClient, served: Served
) -> None:
    before = (await client.get("/hang-status")).json()
    with pytest.raises(httpx.ReadTimeout):
        await client.get("/hang", timeout=0.5)  # httpx closes the connection on timeout
    deadline = time.monotonic() + 5.0
    while True:
        status = (await client.get("/hang-status")).json()
        if status["cancelled"] > before["cancelled"]:
            break
        assert time.monotonic() < deadline, f"the handler was not cancelled: {status}"
        await asyncio.sleep(0.1)


# -- WebSocket ---------------------------------------------------------------------------


async def test_websocket_echo_with_subprotocol(served: Served) -> None:
    async with connect(served.ws_url + "/ws/echo", subprotocols=["chat.v1"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "chat.v1"
        assert json.loads(await ws.recv()) == {"subprotocol": "chat.v1", "path": "/ws/echo"}
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await ws.send(b"\x00\xffbinary")
        assert await ws.recv() == b"\x00\xffbinary"


async def test_websocket_without_a_common_subprotocol_has_none(served: Served) -> None:
    async with connect(served.ws_url + "/ws/echo") as ws:
        assert ws.subprotocol is None
        assert json.loads(await ws.recv())["subprotocol"] is None


async def test_websocket_message_over_the_limit_closes_with_1009(served: Served) -> None:
    async with connect(served.ws_url + "/ws/echo") as ws:
        await ws.recv()
        await ws.send("x" * 2000)  # max_message_size=1024
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


async def test_websocket_from_a_foreign_origin_is_refused(served: Served) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(served.ws_url + "/ws/echo", origin="http://evil.example"):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403
    async with connect(  # the page's own origin is fine
        served.ws_url + "/ws/echo",
        origin=f"http://127.0.0.1:{served.port}",  # type: ignore[arg-type]
    ) as ws:
        assert json.loads(await ws.recv())["path"] == "/ws/echo"


async def _joined(ws: ClientConnection, room: str) -> None:
    assert json.loads(await ws.recv()) == {"joined": room}


async def test_websocket_handler_broadcasts_through_pubsub(served: Served) -> None:
    room = f"{served.name}-room"
    async with (
        connect(f"{served.ws_url}/chat/{room}") as alice,
        connect(f"{served.ws_url}/chat/{room}") as bob,
    ):
        await asyncio.gather(_joined(alice, room), _joined(bob, room))
        await alice.send("hi from alice")
        assert await asyncio.wait_for(alice.recv(), 5) == "hi from alice"
        assert await asyncio.wait_for(bob.recv(), 5) == "hi from alice"
        await bob.send("hi from bob")
        assert await asyncio.wait_for(alice.recv(), 5) == "hi from bob"
        assert await asyncio.wait_for(bob.recv(), 5) == "hi from bob"


async def test_websocket_route_over_plain_http_is_426(client: httpx.AsyncClient) -> None:
    response = await client.get("/ws/echo")
    assert response.status_code == 426


# -- lifecycle: a server of its own ----------------------------------------------------------


@pytest.mark.parametrize("server", SERVERS)
def test_shutdown_hook_runs_after_sigterm(server: str, tmp_path: Path) -> None:
    marker = tmp_path / "shutdown.txt"
    running = start(server, tmp_path / "server.log", env={"ASGI_FACE_SHUTDOWN_FILE": str(marker)})
    try:
        assert httpx.get(running.url + "/json").json()["started"] is True
        running.proc.send_signal(signal.SIGTERM)
        running.proc.wait(15)
        assert marker.read_text() == "shutdown ran; context was True\n", running.output()
    finally:
        running.stop()


@pytest.mark.parametrize("server", SERVERS[1:])
def test_server_root_path_is_honoured(server: str, tmp_path: Path) -> None:
    running = start(server, tmp_path / "server.log", root_path="/base")
    try:
        # A proxy in front stripped /base: the client's path reaches the server without it.
        where = httpx.get(running.url + "/where").json()
        assert where == {"path": "/where", "root_path": "/base", "url": f"{running.url}/base/where"}
        sub = httpx.get(running.url + "/sub/where").json()
        assert sub["path"] == "/where"
        assert sub["root_path"] == "/base/sub"
    finally:
        running.stop()
