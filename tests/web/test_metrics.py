"""``app.enable_metrics()``: a real server on 127.0.0.1, scraped with httpx.

Every scrape is parsed strictly (a line that is neither a comment nor a well-formed
sample fails the test), then checked for exact counts.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from websockets.asyncio.client import connect

from typhoon import HTML, App, HTTPConfig, Request, RequestHandler, Text, WebSocket
from typhoon.http import HTTPServer
from typhoon.http.metrics import DEFAULT_BUCKETS, Registry
from typhoon.web.metrics import UNMATCHED, AppMetrics, MetricsConfig

SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)"
    r'(?:\{(?P<labels>[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*)\})?'
    r" (?P<value>[-+]?(?:\d+(?:\.\d*)?(?:e[-+]?\d+)?|Inf|NaN))$"
)
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
TYPE = re.compile(r"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|untyped)$")
HELP = re.compile(r"^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$")

Key = tuple[str, frozenset[tuple[str, str]]]


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], value)


def parse(text: str) -> tuple[dict[Key, float], dict[str, str]]:
    """Samples by (name, labels) and types by family; fails on anything malformed."""
    samples: dict[Key, float] = {}
    types: dict[str, str] = {}
    assert text.endswith("\n"), "the exposition ends with a newline"
    for line in text.split("\n")[:-1]:
        if line.startswith("#"):
            typed = TYPE.match(line)
            if typed:
                assert typed[1] not in types, f"two TYPE lines for {typed[1]}"
                types[typed[1]] = typed[2]
            else:
                assert HELP.match(line), f"bad comment line {line!r}"
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        labels = frozenset((k, _unescape(v)) for k, v in LABEL.findall(match["labels"] or ""))
        key = (match["name"], labels)
        assert key not in samples, f"duplicate sample {line!r}"
        samples[key] = float(match["value"])
    return samples, types


def value(samples: dict[Key, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests(samples: dict[Key, float]) -> dict[tuple[str, str, str], float]:
    """typhoon_http_requests_total by (route, method, status)."""
    found = {}
    for (name, labels), count in samples.items():
        if name == "typhoon_http_requests_total":
            d = dict(labels)
            found[d["route"], d["method"], d["status"]] = count
    return found


def check_histogram(samples: dict[Key, float], name: str, **labels: str) -> float:
    """Assert the buckets are cumulative and end in +Inf == _count; return _count."""
    bounds = [repr(b) for b in DEFAULT_BUCKETS] + ["+Inf"]
    counts = [value(samples, name + "_bucket", **labels, le=le) for le in bounds]
    assert counts == sorted(counts), f"{name} buckets are not cumulative: {counts}"
    count = value(samples, name + "_count", **labels)
    assert counts[-1] == count
    assert value(samples, name + "_sum", **labels) >= 0
    return count


def make_app() -> App:
    app = App()

    @app.get("/items/{item_id:int}")
    async def item(request: Request, item_id: int) -> Text:
        return Text(f"item {item_id}")

    @app.get('/say/"hi"')
    async def quoted(request: Request) -> str:
        return "quoted"

    @app.get("/line\nbreak")
    async def newline(request: Request) -> str:
        return "newline"

    @app.get("/slow")
    async def slow(request: Request) -> str:
        await asyncio.sleep(0.03)
        return "slow"

    @app.get("/fail")
    async def fail(request: Request) -> str:
        raise RuntimeError("boom")

    class Legacy(RequestHandler):
        async def get(self, number: str) -> None:
            self.write(f"legacy {number}")

    app.add_route(r"/legacy/(\d+)", Legacy)  # a Tornado regex: its backslash is escaped

    @app.websocket("/ws")
    async def echo(ws: WebSocket) -> None:
        async for message in ws:
            await ws.send(message)

    return app


@asynccontextmanager
async def serving(app: App) -> AsyncIterator[tuple[HTTPServer, httpx.AsyncClient]]:
    server = HTTPServer(app, HTTPConfig(access_log=False))
    await server.listen_tcp("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{server.port}", trust_env=False, timeout=5
        ) as client:
            yield server, client
    finally:
        assert await server.drain(5)


async def scrape(client: httpx.AsyncClient, path: str = "/metrics") -> dict[Key, float]:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples, types = parse(response.text)
    assert types["typhoon_http_requests_total"] == "counter"
    assert types["typhoon_http_request_duration_seconds"] == "histogram"
    assert types["typhoon_http_connections_open"] == "gauge"
    assert types["typhoon_websockets_open"] == "gauge"
    assert types["typhoon_http_requests_in_flight"] == "gauge"
    return samples


async def test_requests_are_counted_by_route_pattern_method_and_status() -> None:
    app = make_app()
    app.enable_metrics()
    async with serving(app) as (_, client):
        before = await scrape(client)
        assert requests(before) == {}  # the first scrape did not count itself
        for n in (1, 2, 3):
            assert (await client.get(f"/items/{n}")).status_code == 200
        assert (await client.head("/items/4")).status_code == 200
        assert (await client.get("/nowhere")).status_code == 404
        assert (await client.get("/nowhere/else")).status_code == 404
        assert (await client.post("/items/1")).status_code == 405
        assert (await client.get("/fail")).status_code == 500
        assert (await client.get("/legacy/12")).text == "legacy 12"
        assert (await client.get("/say/%22hi%22")).text == "quoted"
        assert (await client.get("/line%0Abreak")).text == "newline"
        samples = await scrape(client)
        samples_again = await scrape(client)

    assert requests(samples) == {
        ("/items/{item_id:int}", "GET", "200"): 3,
        ("/items/{item_id:int}", "HEAD", "200"): 1,
        (UNMATCHED, "GET", "404"): 2,
        (UNMATCHED, "POST", "405"): 1,
        ("/fail", "GET", "500"): 1,
        (r"/legacy/(\d+)", "GET", "200"): 1,
        ('/say/"hi"', "GET", "200"): 1,
        ("/line\nbreak", "GET", "200"): 1,
    }
    assert requests(samples_again) == requests(samples)  # scrapes never count
    assert (
        check_histogram(
            samples,
            "typhoon_http_request_duration_seconds",
            route="/items/{item_id:int}",
            method="GET",
        )
        == 3
    )
    assert (
        check_histogram(
            samples, "typhoon_http_request_duration_seconds", route=UNMATCHED, method="GET"
        )
        == 2
    )
    assert value(samples, "typhoon_http_requests_in_flight") == 0


async def test_label_values_are_escaped_on_the_wire() -> None:
    app = make_app()
    app.enable_metrics()
    async with serving(app) as (_, client):
        await client.get("/legacy/1")
        await client.get("/say/%22hi%22")
        await client.get("/line%0Abreak")
        text = (await client.get("/metrics")).text
    assert (
        'typhoon_http_requests_total{route="/legacy/(\\\\d+)",method="GET",status="200"} 1\n'
        in text
    )
    assert (
        'typhoon_http_requests_total{route="/say/\\"hi\\"",method="GET",status="200"} 1\n' in text
    )
    assert (
        'typhoon_http_requests_total{route="/line\\nbreak",method="GET",status="200"} 1\n' in text
    )


async def test_duration_histogram_puts_a_slow_request_in_its_bucket() -> None:
    app = make_app()
    app.enable_metrics()
    async with serving(app) as (_, client):
        await client.get("/slow")
        samples = await scrape(client)
    labels = {"route": "/slow", "method": "GET"}
    name = "typhoon_http_request_duration_seconds"
    assert check_histogram(samples, name, **labels) == 1
    assert value(samples, name + "_bucket", **labels, le="0.025") == 0  # slept 30 ms
    assert value(samples, name + "_bucket", **labels, le="10.0") == 1
    assert 0.03 <= value(samples, name + "_sum", **labels) < 10


async def test_connection_and_websocket_gauges_go_up_and_down() -> None:
    app = make_app()
    app.enable_metrics()
    async with serving(app) as (server, client):
        idle = await scrape(client)
        assert value(idle, "typhoon_http_connections_open") == 1  # the scraper's own
        assert value(idle, "typhoon_websockets_open") == 0

        url = f"ws://127.0.0.1:{server.port}/ws"
        async with connect(url) as first, connect(url) as second:
            for ws in (first, second):
                await ws.send("ping")
                assert await ws.recv() == "ping"
            held = await scrape(client)
            assert value(held, "typhoon_websockets_open") == 2
            assert value(held, "typhoon_http_connections_open") == 3

        for _ in range(100):  # the server sees the close a moment after the client
            after = await scrape(client)
            if value(after, "typhoon_websockets_open") == 0:
                break
            await asyncio.sleep(0.01)
        assert value(after, "typhoon_websockets_open") == 0
        assert value(after, "typhoon_http_connections_open") == 1
        # The upgrade requests are counted once their sessions have ended (status 101).
        assert requests(after)[("/ws", "GET", "101")] == 2


async def test_in_flight_counts_requests_being_handled() -> None:
    app = App()
    metrics = app.enable_metrics()
    entered = asyncio.Event()
    release = asyncio.Event()

    @app.get("/wait")
    async def wait(request: Request) -> str:
        entered.set()
        await release.wait()
        return "done"

    async with serving(app) as (_, client):
        waiting = asyncio.create_task(client.get("/wait"))
        await entered.wait()
        during = await scrape(client)
        assert metrics.in_flight.value() == 1
        release.set()
        assert (await waiting).text == "done"
        after = await scrape(client)
    assert value(during, "typhoon_http_requests_in_flight") == 1
    assert value(after, "typhoon_http_requests_in_flight") == 0


async def test_custom_path_own_metrics_and_mounted_app() -> None:
    app = App()
    metrics = app.enable_metrics("/-/prom", process=False)
    jobs = metrics.registry.counter("app_jobs_total", "Jobs run.", ("kind",))
    jobs.inc(("email",))
    sub = App()

    @sub.get("/things/{name}")
    async def thing(request: Request, name: str) -> HTML:
        return HTML(name)

    app.mount("/sub", sub)
    async with serving(app) as (_, client):
        assert (await client.get("/metrics")).status_code == 404
        assert (await client.get("/sub/things/a")).text == "a"
        samples = await scrape(client, "/-/prom")
    assert value(samples, "app_jobs_total", kind="email") == 1
    assert not any(name.startswith("process_") for name, _ in samples)
    assert requests(samples) == {
        (UNMATCHED, "GET", "404"): 1,
        ("/sub/things/{name}", "GET", "200"): 1,
    }


async def test_process_metrics_are_exposed_by_default() -> None:
    app = App()
    app.enable_metrics()
    async with serving(app) as (_, client):
        samples = await scrape(client)
    assert value(samples, "process_resident_memory_bytes") > 0
    assert value(samples, "process_cpu_seconds_total") > 0


def test_app_without_metrics_has_none_and_no_route() -> None:
    app = App()
    assert app.metrics is None
    assert app.router.routes == []


def test_enable_metrics_twice_or_after_start_is_refused() -> None:
    app = App()
    app.enable_metrics()
    with pytest.raises(RuntimeError, match="already enabled"):
        app.enable_metrics("/other")
    frozen = App()
    frozen.freeze()
    with pytest.raises(RuntimeError, match="after the app started serving"):
        frozen.enable_metrics()


@pytest.mark.parametrize("path", ["metrics", "/m?x=1", "/m#f", "/m/{x}", "/m etrics", ""])
def test_metrics_path_must_be_plain(path: str) -> None:
    with pytest.raises(ValueError, match="plain path"):
        App().enable_metrics(path)
    with pytest.raises(ValueError, match="plain path"):
        MetricsConfig(metrics=True, metrics_path=path)


def test_metrics_config_defaults_help_and_types() -> None:
    config = MetricsConfig()
    assert (config.metrics, config.metrics_path) == (False, "/metrics")
    assert MetricsConfig.__dataclass_fields__["metrics"].metadata["help"]
    assert MetricsConfig.__dataclass_fields__["metrics_path"].metadata["help"]
    with pytest.raises(TypeError, match="must be a bool"):
        MetricsConfig(metrics="yes")  # type: ignore[arg-type]


def test_app_metrics_can_share_a_registry() -> None:
    registry = Registry()
    metrics = AppMetrics(registry, process=False)
    assert metrics.registry is registry
    assert registry.get("typhoon_http_requests_total") is metrics.requests
    with pytest.raises(ValueError, match="already registered"):
        AppMetrics(registry)
