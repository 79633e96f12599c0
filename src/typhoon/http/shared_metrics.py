"""Metrics shared by the workers of one server: a scrape answered by any worker reports all.

Rules
-----
* The supervisor of ``typhoon run --workers N`` (or ``--reload``) makes a directory,
  names it to its workers in :data:`METRICS_DIR_ENV`, and removes it when it exits.
* Each worker writes a snapshot of its :class:`~typhoon.http.metrics.Registry` to
  ``<pid>.json`` there: every ``interval_s`` (1 s), when it stops, and just before it
  answers a scrape. A file is written whole, then renamed into place, so a reader never
  sees half of one; a file that cannot be read or parsed is skipped.
* A scrape merges every file. Counters and histograms are summed over every worker that
  wrote one, those that have exited included, so a total never goes down when a worker is
  replaced. Gauges are combined over the workers still running, by the gauge's ``mode``
  (``sum``, ``min`` or ``max``). Another worker's figures may be up to ``interval_s`` old.
* Metrics are matched by name; one whose kind, labels or buckets differ from the first
  worker's is left out (every worker runs the same application, so they agree).
* The directory does not grow with every replaced worker: once a worker has exited, the
  supervisor folds its counters and histograms into :data:`RETIRED_FILE` (which lists
  the snapshots it holds by token, as a pid may be reused) and removes its file
  (:func:`retire`). A reader reads that file last and skips the snapshots it lists, so a
  worker being folded as a scrape reads the directory is counted once, never twice and
  never not at all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from typhoon.http.metrics import Counter, Gauge, Histogram, Metric, Registry
from typhoon.net.clock import Clock, TimerHandle

logger = logging.getLogger("typhoon.error")

METRICS_DIR_ENV = "TYPHOON_METRICS_DIR"
"""The environment variable naming the directory the workers share their metrics through."""

RETIRED_FILE = "retired.json"
"""The exited workers' counters and histograms, folded together: pid 0, and in
``folded`` the tokens of the snapshots it holds (a pid may come back)."""

Seen = set[tuple[str, tuple[str, ...]]]
"""The gauge series (metric name, label values) a merge has given a value already."""

Snapshot = dict[str, Any]
"""``{"pid", "token", "metrics": [{"name", "help", "kind", "labelnames", "series", ...}]}``."""


def snapshot(registry: Registry, pid: int, token: str | None = None) -> Snapshot:
    """Every metric of ``registry`` as plain data (function gauges read now).

    ``token`` tells this writer from a later process that gets the same pid (by default
    derived from the pid).
    """
    metrics: list[dict[str, Any]] = []
    for metric in registry:
        entry: dict[str, Any] = {
            "name": metric.name,
            "help": metric.help,
            "kind": metric.kind,
            "labelnames": list(metric.labelnames),
        }
        if isinstance(metric, Histogram):
            entry["buckets"] = list(metric.buckets)
            entry["series"] = [[list(k), list(v)] for k, v in metric._series.items()]
        elif isinstance(metric, Counter | Gauge):
            if isinstance(metric, Gauge):
                entry["mode"] = metric.mode
            if metric.function is not None:
                entry["series"] = [[[], metric.function()]]
            else:
                entry["series"] = [[list(k), v] for k, v in metric._values.items()]
        else:
            continue  # a kind of its own: nothing to merge it with
        metrics.append(entry)
    return {"pid": pid, "token": token or f"pid-{pid}", "metrics": metrics}


def merge(snapshots: Iterable[Snapshot], alive: Callable[[int], bool]) -> Registry:
    """One registry holding what ``snapshots`` say together (see the module's rules)."""
    merged = Registry()
    seen: Seen = set()
    for snap in snapshots:
        pid = int(snap["pid"])
        live = pid > 0 and alive(pid)  # pid 0: the retired workers, never running
        for entry in snap["metrics"]:
            try:
                _add(merged, entry, live, seen)
            except (KeyError, TypeError, ValueError):  # not what snapshot() writes: skip it
                continue
    return merged


def _add(merged: Registry, entry: dict[str, Any], live: bool, seen: Seen) -> None:
    metric = merged.get(entry["name"])
    if metric is None:
        metric = merged.register(_empty(entry))
    elif not _same_shape(metric, entry):
        return
    if isinstance(metric, Histogram):
        _add_histogram(metric, entry)
    elif isinstance(metric, Gauge):
        if live:
            _add_gauge(metric, entry, seen)
    elif isinstance(metric, Counter):
        for labels, value in entry["series"]:
            key = tuple(labels)
            metric._values[key] = metric._values.get(key, 0) + float(value)


def _empty(entry: dict[str, Any]) -> Metric:
    name, help, labelnames = entry["name"], entry["help"], entry["labelnames"]
    kind = entry["kind"]
    if kind == "histogram":
        return Histogram(name, help, labelnames, buckets=entry["buckets"])
    if kind == "gauge":
        return Gauge(name, help, labelnames, mode=entry.get("mode", "sum"))
    return Counter(name, help, labelnames)


def _same_shape(metric: Metric, entry: dict[str, Any]) -> bool:
    if metric.kind != entry["kind"] or list(metric.labelnames) != entry["labelnames"]:
        return False
    return not isinstance(metric, Histogram) or list(metric.buckets) == entry["buckets"]


def _add_histogram(metric: Histogram, entry: dict[str, Any]) -> None:
    size = len(metric.buckets) + 2  # the buckets, +Inf, the sum
    for labels, counts in entry["series"]:
        if len(counts) != size:
            continue
        key = tuple(labels)
        series = metric._series.get(key)
        if series is None:
            metric._series[key] = list(counts)
        else:
            for i, n in enumerate(counts):
                series[i] += n


def _add_gauge(
    metric: Gauge, entry: dict[str, Any], seen: set[tuple[str, tuple[str, ...]]]
) -> None:
    values, mode = metric._values, metric.mode
    for labels, value in entry["series"]:
        key = tuple(labels)
        if (metric.name, key) not in seen:
            seen.add((metric.name, key))
            values[key] = value
        elif mode == "sum":
            values[key] += value
        elif mode == "min":
            values[key] = min(values[key], value)
        else:
            values[key] = max(values[key], value)


def read_snapshot(path: str) -> Snapshot | None:
    """The snapshot in file ``path``, or None when it is missing or not one."""
    try:
        with open(path, "rb") as f:
            data = msgspec.json.decode(f.read())
        if isinstance(data, dict) and isinstance(data.get("metrics"), list):
            int(data["pid"])
            return data
    except (OSError, ValueError, TypeError, KeyError, msgspec.DecodeError):
        pass
    return None


def read_directory(path: str) -> list[Snapshot]:
    """Every snapshot in directory ``path``, each worker's figures once (see :func:`retire`)."""
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return []
    found = [
        snap
        for name in names
        if name.endswith(".json") and name != RETIRED_FILE
        for snap in [read_snapshot(os.path.join(path, name))]
        if snap is not None
    ]
    retired = read_snapshot(os.path.join(path, RETIRED_FILE))  # last: see retire()
    if retired is None:
        return found
    folded = set(retired.get("folded") or ())
    return [retired, *(snap for snap in found if snap.get("token") not in folded)]


def retire(path: str, pid: int) -> None:
    """Fold exited worker ``pid``'s counters and histograms into :data:`RETIRED_FILE`.

    Call it once the worker has exited (its file is final). The retired file, which now
    lists the snapshot's token, replaces the old one before the worker's file is removed.
    """
    own = os.path.join(path, f"{pid}.json")
    snap = read_snapshot(own)
    if snap is None:
        with contextlib.suppress(OSError):
            os.unlink(own)
        return
    retired_path = os.path.join(path, RETIRED_FILE)
    retired = read_snapshot(retired_path) or {"pid": 0, "folded": [], "metrics": []}
    folded = [*retired.get("folded", ()), snap.get("token") or f"pid-{pid}"]
    merged = merge([retired, snap], lambda _: False)  # gauges of exited workers: dropped
    data = {**snapshot(merged, 0), "folded": folded}
    try:
        _write(retired_path, msgspec.json.encode(data))
        os.unlink(own)
    except OSError as exc:
        logger.debug("cannot retire the metrics of pid %d in %s: %s", pid, path, exc)


def _write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` whole, then rename it into place."""
    partial = f"{path}.partial"
    with open(partial, "wb") as f:
        f.write(data)
    os.replace(partial, path)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, and belongs to someone else
        return True
    return True


class MetricsDirectory:
    """This worker's side of the shared directory: write its snapshot, answer for all.

    Args:
        path: the directory (see :data:`METRICS_DIR_ENV`).
        registry: this worker's metrics.
        interval_s: how often the snapshot is written while serving.

    Raises:
        ValueError: ``path`` is not a directory, or ``interval_s`` is not positive.
    """

    def __init__(self, path: str, registry: Registry, *, interval_s: float = 1.0) -> None:
        if not os.path.isdir(path):
            raise ValueError(f"{METRICS_DIR_ENV}={path!r} is not a directory")
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s!r}")
        self.path = path
        self.registry = registry
        self.interval_s = interval_s
        self.pid = os.getpid()
        self.token = f"{self.pid}-{secrets.token_hex(8)}"
        self._file = os.path.join(path, f"{self.pid}.json")
        self._clock: Clock | None = None
        self._timer: TimerHandle | None = None

    def __repr__(self) -> str:
        return f"<MetricsDirectory {self.path!r} pid={self.pid}>"

    def start(self, clock: Clock) -> None:
        """Write now, then every ``interval_s`` until :meth:`stop`."""
        if self._clock is not None:
            return
        self._clock = clock
        self._tick()

    def stop(self) -> None:
        """Stop the periodic writes, after a last one."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._clock = None
        self.write()

    def _tick(self) -> None:
        self.write()
        if self._clock is not None:
            self._timer = self._clock.call_later(self.interval_s, self._tick)

    def write(self) -> None:
        """Write this worker's snapshot (a failure is logged, never raised)."""
        data = msgspec.json.encode(snapshot(self.registry, self.pid, self.token))
        try:
            _write(self._file, data)
        except OSError as exc:  # the supervisor removed the directory as it exits
            logger.debug("cannot write the shared metrics to %s: %s", self._file, exc)

    def read(self) -> list[Snapshot]:
        """Every worker's last snapshot (see :func:`read_directory`)."""
        return read_directory(self.path)

    def expose(self) -> str:
        """Every worker's metrics, merged, in the text exposition format."""
        self.write()
        return merge(self.read(), pid_alive).expose()


__all__ = [
    "METRICS_DIR_ENV",
    "RETIRED_FILE",
    "MetricsDirectory",
    "merge",
    "pid_alive",
    "read_directory",
    "read_snapshot",
    "retire",
    "snapshot",
]
