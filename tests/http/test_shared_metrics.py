"""Metrics shared between workers through a directory (http/shared_metrics.py)."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import msgspec
import pytest

from typhoon.http.metrics import Gauge, Registry
from typhoon.http.shared_metrics import (
    RETIRED_FILE,
    MetricsDirectory,
    merge,
    pid_alive,
    read_directory,
    retire,
    snapshot,
)
from typhoon.testing import FakeClock

DEAD_PID = 2**22 + 12345  # above Linux's pid_max default: no such process


def _worker(pid: int, requests: int, open_now: int, started: float) -> Registry:
    registry = Registry()
    hits = registry.counter("hits_total", "Hits.", ("route",))
    hits.inc(("/a",), requests)
    hits.inc(("/b",), 1)
    registry.counter("plain_total", "No labels.").inc((), 2)
    registry.gauge("open", "Open now.").set(open_now)
    registry.gauge("start", "Start time.", mode="min", function=lambda: started)
    registry.gauge("peak", "Largest.", mode="max").set(open_now * 10)
    duration = registry.histogram("duration", "Durations.", ("route",), buckets=(0.1, 1.0))
    duration.observe(0.05, ("/a",))
    duration.observe(5.0, ("/a",))
    return registry


def _lines(registry: Registry) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in registry.expose().splitlines():
        if not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = value
    return found


def test_merge_sums_counters_and_histograms_over_every_worker_and_gauges_over_live_ones() -> None:
    me, other = os.getpid(), DEAD_PID
    snaps = [
        snapshot(_worker(me, 3, 4, 100.0), me),
        snapshot(_worker(other, 5, 7, 50.0), other),  # exited: only its totals count
        snapshot(_worker(me + 0, 1, 1, 200.0), me),  # another live worker (same pid here)
    ]
    lines = _lines(merge(snaps, pid_alive))
    assert lines['hits_total{route="/a"}'] == "9"
    assert lines['hits_total{route="/b"}'] == "3"
    assert lines["plain_total"] == "6"
    assert lines["open"] == "5"  # 4 + 1: the exited worker's 7 is left out
    assert lines["start"] == "100"  # min over the live ones
    assert lines["peak"] == "40"  # max over the live ones
    assert lines['duration_bucket{route="/a",le="0.1"}'] == "3"
    assert lines['duration_bucket{route="/a",le="+Inf"}'] == "6"
    assert lines['duration_count{route="/a"}'] == "6"
    assert float(lines['duration_sum{route="/a"}']) == pytest.approx(15.15)


def test_merge_leaves_out_what_disagrees_with_the_first_worker() -> None:
    first = snapshot(_worker(1, 1, 1, 1.0), 1)
    odd = Registry()
    odd.gauge("hits_total", "Now a gauge.")  # another kind
    odd.histogram("duration", "Other buckets.", ("route",), buckets=(2.0,)).observe(1, ("/a",))
    junk = {"pid": 2, "metrics": [{"name": "x"}, {"kind": "counter"}, 42]}
    lines = _lines(merge([first, snapshot(odd, 2), junk], lambda pid: True))
    assert lines['hits_total{route="/a"}'] == "1"
    assert lines['duration_count{route="/a"}'] == "2"


def test_a_gauge_mode_is_checked() -> None:
    with pytest.raises(ValueError, match=r"gauge 'g': mode must be one of \('sum', 'min', 'max'\)"):
        Gauge("g", "A gauge.", mode="avg")


def test_workers_write_snapshots_and_a_scrape_reports_them_all(tmp_path: Path) -> None:
    first = MetricsDirectory(str(tmp_path), _worker(0, 2, 1, 10.0))
    second = MetricsDirectory(str(tmp_path), _worker(0, 3, 1, 20.0))
    second.pid, second._file = DEAD_PID, str(tmp_path / f"{DEAD_PID}.json")
    second.write()
    (tmp_path / "stray.json").write_text("{not json")
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "list.json").write_text("[1, 2]")
    text = first.expose()
    assert 'hits_total{route="/a"} 5\n' in text
    assert "\nopen 1\n" in text  # the second one's pid is not running
    assert {p.name for p in tmp_path.iterdir()} == {
        f"{DEAD_PID}.json",
        f"{os.getpid()}.json",
        "list.json",
        "notes.txt",
        "stray.json",
    }


def test_a_worker_writes_every_interval_and_once_more_when_it_stops(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    registry = Registry()
    hits = registry.counter("hits_total", "Hits.")
    shared = MetricsDirectory(str(tmp_path), registry, interval_s=1.0)
    assert repr(shared) == f"<MetricsDirectory {str(tmp_path)!r} pid={os.getpid()}>"
    written = tmp_path / f"{os.getpid()}.json"

    def on_disk() -> float:
        data = msgspec.json.decode(written.read_bytes())
        return float(data["metrics"][0]["series"][0][1])

    shared.start(clock)
    shared.start(clock)  # a second server of the same app: no second timer
    assert on_disk() == 0
    hits.inc()
    clock.advance(0.5)
    assert on_disk() == 0
    clock.advance(0.5)
    assert on_disk() == 1
    hits.inc()
    shared.stop()
    assert on_disk() == 2
    assert clock.pending == 0


def test_a_write_into_a_removed_directory_is_only_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = MetricsDirectory(str(tmp_path), Registry())
    tmp_path.rmdir()
    caplog.set_level(logging.DEBUG, "typhoon.error")
    shared.write()
    assert "cannot write the shared metrics" in caplog.text
    assert shared.read() == []


@pytest.mark.parametrize(
    ("path", "interval", "message"),
    [
        ("/no/such/dir", 1.0, "TYPHOON_METRICS_DIR='/no/such/dir' is not a directory"),
        (None, 0.0, "interval_s must be > 0, got 0.0"),
    ],
)
def test_bad_settings_are_refused(
    tmp_path: Path, path: str | None, interval: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        MetricsDirectory(path or str(tmp_path), Registry(), interval_s=interval)


def test_pid_alive_tells_running_from_gone() -> None:
    assert pid_alive(os.getpid())
    assert pid_alive(1)  # init: exists, maybe another user's
    assert not pid_alive(DEAD_PID)


async def test_an_app_under_the_environment_variable_reports_every_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typhoon import App
    from typhoon.http import HTTPConfig, HTTPServer

    other = Registry()
    other.counter("typhoon_http_requests_total", "x", ("route", "method", "status")).inc(
        ("/", "GET", "200"), 40
    )
    (tmp_path / f"{DEAD_PID}.json").write_bytes(msgspec.json.encode(snapshot(other, DEAD_PID)))
    monkeypatch.setenv("TYPHOON_METRICS_DIR", str(tmp_path))
    app = App()
    metrics = app.enable_metrics()
    assert metrics.shared is not None

    @app.get("/")
    async def home(request: object) -> str:
        return "hi"

    server = HTTPServer(app, HTTPConfig(access_log=False))
    await server.listen_tcp("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        data = b""
        while b'status="200"} 41' not in data:
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            assert chunk, data
            data += chunk
        writer.close()
    finally:
        assert await server.drain(5)
    assert (tmp_path / f"{os.getpid()}.json").exists()  # the last write, at the stop


def _write_worker(directory: Path, pid: int, requests: int, token: str | None = None) -> None:
    snap = snapshot(_worker(pid, requests, 3, 1.0), pid, token)
    (directory / f"{pid}.json").write_bytes(msgspec.json.encode(snap))


def test_retire_folds_an_exited_worker_into_one_file_and_keeps_every_total(
    tmp_path: Path,
) -> None:
    live = os.getpid()
    _write_worker(tmp_path, live, 1)
    before = _lines(merge(read_directory(str(tmp_path)), pid_alive))
    for dead in (DEAD_PID, DEAD_PID + 1, DEAD_PID + 2):
        _write_worker(tmp_path, dead, 10)
        retire(str(tmp_path), dead)
    retire(str(tmp_path), DEAD_PID + 3)  # never wrote a file: nothing to fold
    assert {p.name for p in tmp_path.iterdir()} == {f"{live}.json", RETIRED_FILE}
    after = _lines(merge(read_directory(str(tmp_path)), pid_alive))
    assert after['hits_total{route="/a"}'] == "31"
    assert after['hits_total{route="/b"}'] == "4"
    assert after['duration_count{route="/a"}'] == "8"
    assert after["open"] == before["open"] == "3"  # exited workers' gauges are gone
    retired = msgspec.json.decode((tmp_path / RETIRED_FILE).read_bytes())
    assert (retired["pid"], retired["folded"]) == (0, [f"pid-{DEAD_PID + n}" for n in range(3)])


def test_a_worker_caught_between_its_fold_and_its_removal_counts_once(tmp_path: Path) -> None:
    _write_worker(tmp_path, DEAD_PID, 10, token="old")
    saved = (tmp_path / f"{DEAD_PID}.json").read_bytes()
    retire(str(tmp_path), DEAD_PID)
    (tmp_path / f"{DEAD_PID}.json").write_bytes(saved)  # as if its removal had not happened yet
    assert _lines(merge(read_directory(str(tmp_path)), pid_alive))['hits_total{route="/a"}'] == "10"
    _write_worker(tmp_path, DEAD_PID, 5, token="new")  # the pid, reused by a later worker
    assert _lines(merge(read_directory(str(tmp_path)), pid_alive))['hits_total{route="/a"}'] == "15"


def test_retire_leaves_a_broken_file_out(tmp_path: Path) -> None:
    (tmp_path / f"{DEAD_PID}.json").write_text("{half")
    retire(str(tmp_path), DEAD_PID)
    assert list(tmp_path.iterdir()) == []
    assert read_directory(str(tmp_path / "gone")) == []
