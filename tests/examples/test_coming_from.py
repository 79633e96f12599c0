"""examples/coming_from/*.py: the worked ports of the docs/coming-from-*.md guides.

Each guide's app is driven through typhoon.testing's clients; the Twisted port, which
opens a TCP port beside the web app, is driven over real sockets on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from examples.coming_from import cyclone_port, django_port, flask_port, tornado_port, twisted_port

from typhoon.http import HTTPServer
from typhoon.realtime.redis import RedisPubSub
from typhoon.testing import AsyncTestClient, FakeClock, TestClient

# -- Flask -----------------------------------------------------------------------------------


def test_flask_port_pages_are_html_and_routes_reverse() -> None:
    with TestClient(flask_port.create_app()) as client:
        index = client.get("/")
        assert index.status_code == 200
        assert index.headers["content-type"] == "text/html; charset=utf-8"
        assert 'href="/api/todos"' in index.text
        assert client.get("/hello/ada").text == "Hello, ada!"
        assert client.get("/hello/ada", params={"shout": "1"}).text == "HELLO, ADA!"
        moved = client.get("/old-home")
        assert (moved.status_code, moved.headers["location"]) == (301, "/")
        slash = client.get("/hello/ada/")
        assert (slash.status_code, slash.headers["location"]) == (301, "/hello/ada")


def test_flask_port_json_api_round_trip() -> None:
    with TestClient(flask_port.create_app()) as client:
        assert client.get("/api/todos").json() == []
        created = client.post("/api/todos", json={"title": " write docs "})
        assert (created.status_code, created.headers["location"]) == (201, "/api/todos/1")
        assert created.json() == {"id": 1, "title": "write docs", "done": False}
        assert client.get("/api/todos/1").json()["title"] == "write docs"
        assert client.get("/report").text == "1 todos\n"
        assert client.delete("/api/todos/1").status_code == 204
        assert client.get("/api/todos").json() == []


def test_flask_port_api_errors_are_json_and_site_errors_html() -> None:
    with TestClient(flask_port.create_app()) as client:
        missing = client.get("/api/todos/9")
        assert (missing.status_code, missing.json()) == (404, {"error": "no todo 9"})
        invalid = client.post("/api/todos", json={"title": ""})
        assert invalid.status_code == 400
        assert invalid.json() == {"error": "title must be a non-empty string"}
        malformed = client.post(
            "/api/todos", content=b"{oops", headers={"content-type": "application/json"}
        )
        assert malformed.status_code == 400
        assert malformed.json()["error"].startswith("invalid JSON body")
        for path in ("/nowhere", "/api/nowhere"):  # no route matched: the app's handler
            page = client.get(path)
            assert (page.status_code, page.text) == (404, "<h1>Nothing here</h1>")


# -- Django ----------------------------------------------------------------------------------


def test_django_port_views_forms_and_redirects() -> None:
    library = django_port.Library()
    library.create("Dune", "Frank Herbert")
    with TestClient(django_port.create_app(library=library)) as client:
        listing = client.get("/books/")
        assert listing.status_code == 200
        assert '<a href="/books/1/">Dune</a>' in listing.text
        assert client.get("/books/1/").text == "<h1>Dune</h1><p>by Frank Herbert</p>"
        added = client.post("/books/add/", data={"title": "Emma", "author": "Jane Austen"})
        assert (added.status_code, added.headers["location"]) == (303, "/books/2/")
        assert client.get("/books/2/", follow_redirects=True).text.startswith("<h1>Emma</h1>")
        assert client.post("/books/add/", data={"title": "x"}).status_code == 400
        assert client.get("/books/9/").status_code == 404
        assert client.get("/books/", params={"page": "x"}).status_code == 400
        append_slash = client.get("/books")
        assert (append_slash.status_code, append_slash.headers["location"]) == (301, "/books/")


def test_django_port_settings_drive_paging_and_the_api() -> None:
    library = django_port.Library()
    for n in range(25):
        library.create(f"Book {n}", "Anon")
    with TestClient(django_port.create_app(library=library)) as client:
        assert client.get("/books/").text.count("<li>") == 20  # page_size=20
        assert client.get("/books/", params={"page": "2"}).text.count("<li>") == 5
        assert len(client.get("/api/books/").json()) == 25
        assert client.get("/api/books/3/").json() == {"id": 3, "title": "Book 2", "author": "Anon"}
        assert client.get("/api/books/99/").status_code == 404


def test_django_port_middleware_runs_on_every_response() -> None:
    with TestClient(django_port.create_app()) as client:
        ok = client.get("/books/")
        assert float(ok.headers["x-elapsed-ms"]) >= 0
        assert ok.headers["x-content-type-options"] == "nosniff"  # SecurityHeaders
        assert "x-elapsed-ms" in client.get("/books/404/").headers
        assert client.get("/books/", headers={"host": "evil.example"}).status_code == 400


# -- Tornado ---------------------------------------------------------------------------------


async def test_tornado_port_login_post_and_broadcast() -> None:
    store = tornado_port.MessageStore()
    async with AsyncTestClient(tornado_port.make_app(store)) as client:
        assert "<form" not in (await client.get("/")).text  # anonymous: no post form
        anonymous = await client.post("/post", data={"text": "hi"})
        assert anonymous.status_code == 403  # no XSRF token
        login_page = await client.get("/login")
        assert 'name="_xsrf"' in login_page.text
        xsrf = client.cookies.get("_xsrf")
        assert xsrf
        logged_in = await client.post(
            "/login", params={"next": "/"}, data={"name": "ada", "_xsrf": xsrf}
        )
        assert (logged_in.status_code, logged_in.headers["location"]) == (302, "/")
        async with client.websocket("/ws") as ws:
            posted = await client.post("/post", data={"text": "hi <b>", "_xsrf": xsrf})
            assert (posted.status_code, posted.headers["location"]) == (302, "/")
            assert await ws.receive_json() == {"author": "ada", "text": "hi <b>"}
            await ws.send("ping")
            assert await ws.receive_json() == {"echo": "ping"}
        board = (await client.get("/")).text
        assert "hello, ada" in board
        assert "<li>ada: hi &lt;b&gt;</li>" in board  # the template autoescapes


async def test_tornado_port_authenticated_redirects_to_login() -> None:
    async with AsyncTestClient(tornado_port.make_app()) as client:
        await client.get("/login")
        xsrf = client.cookies.get("_xsrf")
        denied = await client.post("/post", data={"text": "x", "_xsrf": xsrf})
        assert denied.status_code == 403  # @authenticated: non-GET without a user


async def test_tornado_port_api_and_periodic_callback() -> None:
    clock = FakeClock()
    store = tornado_port.MessageStore()
    store.messages = [{"author": "a", "text": str(n)} for n in range(5)]
    async with AsyncTestClient(tornado_port.make_app(store, clock=clock)) as client:
        await clock.run_for(120)  # the async job runs at 60 s and at 120 s
        latest = await client.get("/api/messages", params={"limit": "2"})
        assert latest.json() == {"messages": store.messages[-2:], "ticks": 2}
        bad = await client.get("/api/messages", params={"limit": "many"})
        assert (bad.status_code, bad.json()) == (400, {"error": "limit must be a number"})


# -- Twisted ---------------------------------------------------------------------------------


async def _line(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readline(), 5)


async def test_twisted_port_line_server_thread_timer_and_page_share_a_loop() -> None:
    clock = FakeClock()
    stats = twisted_port.Stats()
    app = twisted_port.create_app(tcp="tcp:0:interface=127.0.0.1", stats=stats, clock=clock)
    async with HTTPServer(app) as server:
        await server.listen_tcp("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", app.services[0].port)
        assert await _line(reader) == b"hello: HASH <text>, STATS or QUIT\n"
        writer.write(b"HASH secret\n")
        assert await _line(reader) == twisted_port.slow_hash("secret").encode() + b"\n"
        writer.write(b"STATS\nfly\n")
        assert await _line(reader) == b"clients=1 lines=2 per_minute=0\n"
        assert await _line(reader) == b"error: unknown command\n"
        clock.advance(twisted_port.SAMPLE_EVERY_S)  # the LoopingCall samples
        base = f"http://127.0.0.1:{server.port}"
        async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=5) as http:
            assert (await http.get("/stats")).json() == {
                "clients": 1,
                "lines": 3,
                "per_minute": 3,
            }
            assert "<th>lines</th><td>3</td>" in (await http.get("/")).text
        writer.write(b"QUIT\n")
        assert await _line(reader) == b"bye\n"
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
    assert stats.clients == 0


async def test_twisted_port_drain_closes_the_line_clients() -> None:
    app = twisted_port.create_app(tcp="tcp:0:interface=127.0.0.1")
    async with HTTPServer(app) as server:
        await server.listen_tcp("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", app.services[0].port)
        await _line(reader)
    assert await asyncio.wait_for(reader.read(), 5) == b""  # shut down with the app
    writer.close()


# -- Cyclone ---------------------------------------------------------------------------------


async def _sse_data(client: AsyncTestClient, count: int, last_event_id: str) -> list[str]:
    """The ``data:`` lines of the first ``count`` events from /events."""
    found: list[str] = []
    headers = {"last-event-id": last_event_id}
    async with client.stream("GET", "/events", headers=headers) as response:
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                found.append(line.removeprefix("data: "))
                if len(found) == count - 1:  # the subscription is live: publish one more
                    await client.post("/publish", json={"text": "live"})
                if len(found) == count:
                    break
    return found


async def _cyclone_round_trip(client: AsyncTestClient) -> None:
    assert "EventSource" in (await client.get("/")).text
    assert (await client.post("/publish", json={"text": "one"})).json() == {"id": 1}
    assert (await client.post("/publish", data={"text": "two"})).json() == {"id": 2}
    assert (await client.post("/publish", json={"text": " "})).status_code == 400
    rpc = await client.post(
        "/rpc", json={"jsonrpc": "2.0", "method": "publish", "params": ["three"], "id": 7}
    )
    assert rpc.json() == {"jsonrpc": "2.0", "id": 7, "result": 3}
    events = await _sse_data(client, 4, last_event_id="0")  # replayed, then live
    assert events == ['{"text":"one"}', '{"text":"two"}', '{"text":"three"}', '{"text":"live"}']
    assert await _sse_data(client, 2, last_event_id="3") == ['{"text":"live"}', '{"text":"live"}']


async def test_cyclone_port_publish_sse_and_rpc_in_memory() -> None:
    async with AsyncTestClient(cyclone_port.create_app()) as client:
        await _cyclone_round_trip(client)


@pytest.fixture
async def redis_hub(redis_url: str) -> AsyncIterator[RedisPubSub]:
    prefix = f"typhoon-test-{uuid.uuid4().hex}:"
    hub = RedisPubSub(redis_url, prefix=prefix)
    yield hub
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def test_cyclone_port_publish_sse_and_rpc_through_redis(redis_hub: RedisPubSub) -> None:
    async with AsyncTestClient(cyclone_port.create_app(pubsub=redis_hub)) as client:
        await _cyclone_round_trip(client)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{oops", {"code": -32700, "message": "parse error"}),
        (b"[1, 2]", {"code": -32600, "message": "invalid request"}),
        (b'{"method": "nope", "id": 1}', {"code": -32601, "message": "method not found: nope"}),
        (
            b'{"method": "add", "params": [1], "id": 1}',
            {"code": -32602, "message": "invalid params: missing a required argument: 'b'"},
        ),
        (
            b'{"method": "add", "params": [1, "x"], "id": 1}',
            {"code": -32603, "message": "internal error"},
        ),
    ],
)
async def test_cyclone_port_rpc_errors_have_json_rpc_codes(
    body: bytes, error: dict[str, object]
) -> None:
    async with AsyncTestClient(cyclone_port.create_app()) as client:
        answer = await client.post(
            "/rpc", content=body, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 200
        assert answer.json()["error"] == error
        ok = await client.post("/rpc", json={"method": "add", "params": {"a": 1, "b": 2}, "id": 2})
        assert ok.json() == {"jsonrpc": "2.0", "id": 2, "result": 3}


# -- the guides quote these files faithfully -------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
GUIDES = sorted((REPO / "docs").glob("coming-from-*.md"))
EXCERPT = re.compile(r"```python\n# from (\S+)\n(.*?)```", re.DOTALL)


def _find_run(lines: list[str], run: list[str], start: int) -> int:
    """The index just after ``run`` found contiguously in ``lines`` at or after ``start``."""
    for at in range(start, len(lines) - len(run) + 1):
        if lines[at : at + len(run)] == run:
            return at + len(run)
    return -1


def test_coming_from_guides_exist() -> None:
    names = {guide.name for guide in GUIDES}
    for system in ("flask", "django", "tornado", "twisted", "cyclone"):
        assert f"coming-from-{system}.md" in names


@pytest.mark.parametrize("guide", GUIDES, ids=lambda path: path.name)
def test_coming_from_guide_excerpts_match_their_files(guide: Path) -> None:
    """A block starting ``# from path`` is lines of that file; ``...`` marks a cut."""
    excerpts = EXCERPT.findall(guide.read_text())
    assert excerpts, f"{guide.name} quotes no example"
    for source, body in excerpts:
        lines = (REPO / source).read_text().splitlines()
        at = 0
        runs: list[list[str]] = [[]]
        for line in body.splitlines():
            if line.strip() == "...":
                runs.append([])
            else:
                runs[-1].append(line)
        for run in runs:
            at = _find_run(lines, run, at)
            assert at >= 0, f"{guide.name}: not found in {source} (in order):\n" + "\n".join(run)
