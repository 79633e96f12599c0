"""Metrics: counters, gauges and histograms with labels, exposed in Prometheus text format.

A :class:`Registry` holds metric families and writes them out in the text exposition
format, version 0.0.4 (what ``GET /metrics`` answers). It lives in the HTTP layer so
that every layer above can feed one: ``typhoon.web`` records each request by route,
``typhoon.realtime`` counts open WebSockets, the server's connection set is read at
scrape time. ``typhoon.web.metrics`` builds the standard set on top of it.

Rules
-----
* Recording is a dict update (a counter), or that plus a ``bisect`` (a histogram):
  cheap, but not free, so the callers record only when metrics are enabled.
* Label values are plain strings given in ``labelnames`` order, as a tuple. Keep their
  number bounded (a route's pattern, never a raw path): every distinct tuple is a
  series kept for the life of the process.
* Not thread-safe: record from the event loop's thread.
* One registry per process. Under ``--workers N`` each worker has its own; the workers
  share their figures through files (:mod:`typhoon.http.shared_metrics`), so that a
  scrape answered by any of them reports all of them.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from typing import ClassVar, TypeVar

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The media type of :meth:`Registry.expose`'s output."""

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds (seconds) of a request-duration histogram; ``+Inf`` is always added."""

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")

Labels = tuple[str, ...]
Sample = tuple[str, Sequence[tuple[str, str]], float]
"""``(sample name, ((label, value), ...), value)``: one line of the exposition."""


class Metric:
    """A metric family: a name, its help text, its label names, and one series per label set.

    Args:
        name: the metric's name (``[a-zA-Z_:][a-zA-Z0-9_:]*``).
        help: one line saying what it measures.
        labelnames: the names of its labels, in the order values are given.
        function: for a metric without labels, called at each scrape for the value
            (a gauge read from elsewhere, such as the open connections).

    Raises:
        ValueError: a malformed or reserved name, or a function with labels.
    """

    kind: ClassVar[str] = "untyped"
    _reserved_labels: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        *,
        function: Callable[[], float] | None = None,
    ) -> None:
        if not _NAME.match(name):
            raise ValueError(f"invalid metric name {name!r}")
        labelnames = tuple(labelnames)
        for label in labelnames:
            if not _LABEL_NAME.match(label) or label.startswith("__"):
                raise ValueError(f"invalid label name {label!r} for metric {name!r}")
            if label in self._reserved_labels:
                raise ValueError(f"label name {label!r} is reserved in a {self.kind}")
        if len(set(labelnames)) != len(labelnames):
            raise ValueError(f"metric {name!r} repeats a label name: {labelnames}")
        if function is not None and labelnames:
            raise ValueError(f"metric {name!r}: a function gives one value, without labels")
        self.name = name
        self.help = help
        self.labelnames = labelnames
        self.function = function

    def _check(self, labels: Labels) -> None:
        if len(labels) != len(self.labelnames):
            raise ValueError(
                f"{self.name} takes {len(self.labelnames)} label value(s) "
                f"{self.labelnames}, got {labels!r}"
            )

    def sample_names(self) -> tuple[str, ...]:
        """The names its samples use (a histogram's ``_bucket``, ``_sum``, ``_count``)."""
        return (self.name,)

    def samples(self) -> Iterator[Sample]:
        raise NotImplementedError


class _Scalar(Metric):
    """A counter or a gauge: one number per label set."""

    def __init__(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        *,
        function: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(name, help, labelnames, function=function)
        self._values: dict[Labels, float] = {}
        if not self.labelnames:
            self._values[()] = 0  # exposed as 0 from the start, not absent

    def value(self, labels: Labels = ()) -> float:
        """The current value of one series (0 if it was never touched)."""
        if self.function is not None:
            return self.function()
        return self._values.get(labels, 0)

    def samples(self) -> Iterator[Sample]:
        if self.function is not None:
            yield self.name, (), self.function()
            return
        names = self.labelnames
        for labels, value in self._values.items():
            yield self.name, tuple(zip(names, labels, strict=True)), value


class Counter(_Scalar):
    """A number that only goes up (requests, bytes); by convention named ``..._total``.

    Example::

        errors = registry.counter("app_errors_total", "Errors by kind.", ("kind",))
        errors.inc(("timeout",))
    """

    kind = "counter"

    def inc(self, labels: Labels = (), amount: float = 1) -> None:
        """Add ``amount`` (at least 0) to the series ``labels``.

        Raises:
            ValueError: a negative amount, or the wrong number of label values.
        """
        if amount < 0:
            raise ValueError(f"{self.name}: a counter cannot go down (amount {amount!r})")
        values = self._values
        current = values.get(labels)
        if current is None:
            self._check(labels)
            current = 0
        values[labels] = current + amount


class Gauge(_Scalar):
    """A number that goes up and down (open connections, queue length).

    Args:
        mode: how the values of several workers combine into one when their metrics are
            shared (see :mod:`typhoon.http.shared_metrics`): ``"sum"`` (open
            connections), ``"min"`` or ``"max"``.
    """

    kind = "gauge"
    MODES: ClassVar[tuple[str, ...]] = ("sum", "min", "max")

    def __init__(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        *,
        function: Callable[[], float] | None = None,
        mode: str = "sum",
    ) -> None:
        if mode not in self.MODES:
            raise ValueError(f"gauge {name!r}: mode must be one of {self.MODES}, got {mode!r}")
        super().__init__(name, help, labelnames, function=function)
        self.mode = mode

    def set(self, value: float, labels: Labels = ()) -> None:
        self._check(labels)
        self._values[labels] = value

    def inc(self, labels: Labels = (), amount: float = 1) -> None:
        values = self._values
        current = values.get(labels)
        if current is None:
            self._check(labels)
            current = 0
        values[labels] = current + amount

    def dec(self, labels: Labels = (), amount: float = 1) -> None:
        self.inc(labels, -amount)


class Histogram(Metric):
    """Observations counted into buckets by upper bound, with their sum and count.

    Each series keeps one count per bucket (not cumulative: an observation increments
    one slot, found by ``bisect``) and the sum; the exposition adds the counts up.

    Args:
        buckets: finite upper bounds, increasing; ``+Inf`` is added.

    Raises:
        ValueError: no bucket, bounds not increasing, or a bound that is not finite.
    """

    kind = "histogram"
    _reserved_labels = frozenset({"le"})

    def __init__(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> None:
        super().__init__(name, help, labelnames)
        bounds = tuple(float(b) for b in buckets)
        if bounds and bounds[-1] == math.inf:
            bounds = bounds[:-1]
        if not bounds:
            raise ValueError(f"histogram {name!r} needs at least one finite bucket")
        if any(not math.isfinite(b) for b in bounds) or any(
            a >= b for a, b in itertools.pairwise(bounds)
        ):
            raise ValueError(f"histogram {name!r}: buckets must be finite and increasing")
        self.buckets = bounds
        self._le = (*(repr(b) for b in bounds), "+Inf")  # "1.0", as bounds are usually written
        self._series: dict[Labels, list[float]] = {}
        if not self.labelnames:
            self._series[()] = [0] * (len(bounds) + 2)

    def observe(self, value: float, labels: Labels = ()) -> None:
        """Count ``value`` in its bucket of the series ``labels``, and add it to the sum."""
        series = self._series.get(labels)
        if series is None:
            self._check(labels)
            series = self._series[labels] = [0] * (len(self.buckets) + 2)  # buckets, +Inf, sum
        series[bisect_left(self.buckets, value)] += 1
        series[-1] += value

    def count(self, labels: Labels = ()) -> int:
        series = self._series.get(labels)
        return 0 if series is None else int(sum(series[:-1]))

    def sample_names(self) -> tuple[str, ...]:
        return (self.name + "_bucket", self.name + "_sum", self.name + "_count")

    def samples(self) -> Iterator[Sample]:
        names = self.labelnames
        bucket, total, count = self.sample_names()
        for labels, series in self._series.items():
            pairs = tuple(zip(names, labels, strict=True))
            cumulative = 0.0
            for le, n in zip(self._le, series, strict=False):
                cumulative += n
                yield bucket, (*pairs, ("le", le)), cumulative
            yield total, pairs, series[-1]
            yield count, pairs, cumulative


_M = TypeVar("_M", bound=Metric)


class Registry:
    """Metric families by name, written out together.

    Example::

        registry = Registry()
        hits = registry.counter("cache_hits_total", "Cache hits.")
        hits.inc()
        text = registry.expose()
    """

    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}
        self._taken: set[str] = set()

    def register(self, metric: _M) -> _M:
        """Add ``metric`` and return it. Raises ValueError when one of its sample names is taken."""
        names = metric.sample_names()
        clash = self._taken.intersection(names)
        if metric.name in self._metrics or clash:
            raise ValueError(f"a metric called {metric.name!r} is already registered")
        self._metrics[metric.name] = metric
        self._taken.update(names)
        return metric

    def counter(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        *,
        function: Callable[[], float] | None = None,
    ) -> Counter:
        """Register and return a :class:`Counter`."""
        return self.register(Counter(name, help, labelnames, function=function))

    def gauge(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        *,
        function: Callable[[], float] | None = None,
        mode: str = "sum",
    ) -> Gauge:
        """Register and return a :class:`Gauge`."""
        return self.register(Gauge(name, help, labelnames, function=function, mode=mode))

    def histogram(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> Histogram:
        """Register and return a :class:`Histogram`."""
        return self.register(Histogram(name, help, labelnames, buckets=buckets))

    def get(self, name: str) -> Metric | None:
        return self._metrics.get(name)

    def __iter__(self) -> Iterator[Metric]:
        return iter(list(self._metrics.values()))

    def expose(self) -> str:
        """Every metric in the text exposition format 0.0.4."""
        out: list[str] = []
        for metric in self:
            out.append(f"# HELP {metric.name} {_escape_help(metric.help)}\n")
            out.append(f"# TYPE {metric.name} {metric.kind}\n")
            for name, labels, value in metric.samples():
                if labels:
                    pairs = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels)
                    out.append(f"{name}{{{pairs}}} {_number(value)}\n")
                else:
                    out.append(f"{name} {_number(value)}\n")
        return "".join(out)


def _escape_label(value: str) -> str:
    """A label value in the exposition: backslash, double quote and newline escaped."""
    if "\\" in value or '"' in value or "\n" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    """A sample value: integers without a fraction, ``+Inf``, ``-Inf``, ``NaN``."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


# -- the process --------------------------------------------------------------------------


def add_process_metrics(registry: Registry) -> None:
    """Register ``process_cpu_seconds_total`` and, where ``/proc`` exists (Linux),
    ``process_resident_memory_bytes``, ``process_open_fds`` and
    ``process_start_time_seconds``. Each is read at scrape time."""
    registry.counter(
        "process_cpu_seconds_total", "User and system CPU time of the process.", function=_cpu
    )
    if not os.path.exists("/proc/self/statm"):
        return  # pragma: no cover - not Linux
    registry.gauge(
        "process_resident_memory_bytes", "Resident memory of the process.", function=_rss
    )
    registry.gauge("process_open_fds", "Open file descriptors.", function=_open_fds)
    start = _start_time()
    if start is not None:
        registry.gauge(
            "process_start_time_seconds",
            "When the process started, in seconds since the Unix epoch.",
            function=lambda: start,
            mode="min",
        )


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss() -> float:
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * _PAGE_BYTES


def _open_fds() -> float:
    return len(os.listdir("/proc/self/fd"))


def _start_time() -> float | None:
    """From the process's start in clock ticks after boot and the boot time."""
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        with open("/proc/stat", "rb") as f:
            boot = next(line for line in f if line.startswith(b"btime "))
    except (OSError, StopIteration):  # pragma: no cover - not Linux, or a strange /proc
        return None
    # The command name (field 2) may hold spaces: count the fields after its ")".
    ticks = int(stat.rpartition(b")")[2].split()[19])
    return int(boot.split()[1]) + ticks / os.sysconf("SC_CLK_TCK")


__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_BUCKETS",
    "Counter",
    "Gauge",
    "Histogram",
    "Metric",
    "Registry",
    "Sample",
    "add_process_metrics",
]
