"""The metrics registry and its text exposition (format 0.0.4), without a server."""

from __future__ import annotations

import math
import os
import re
import time

import pytest

from typhoon.http.metrics import (
    CONTENT_TYPE,
    Counter,
    Gauge,
    Histogram,
    Registry,
    add_process_metrics,
)

# One sample line: name, optional {labels}, value. Label values are quoted strings in
# which only \\, \" and \n may be escaped.
SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)"
    r'(?:\{(?P<labels>(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})?'
    r" (?P<value>\S+)$"
)
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def parse(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample of an exposition; fails on a line that is not a comment or a sample."""
    samples = []
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith(("# HELP ", "# TYPE ")):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        labels = {
            k: v.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
            for k, v in LABEL.findall(match["labels"] or "")
        }
        samples.append((match["name"], labels, float(match["value"])))
    return samples


def test_counter_exposes_help_type_and_one_line_per_label_set() -> None:
    registry = Registry()
    hits = registry.counter("app_hits_total", "Hits.", ("kind",))
    hits.inc(("a",))
    hits.inc(("a",))
    hits.inc(("b",), 2.5)
    assert registry.expose() == (
        "# HELP app_hits_total Hits.\n"
        "# TYPE app_hits_total counter\n"
        'app_hits_total{kind="a"} 2\n'
        'app_hits_total{kind="b"} 2.5\n'
    )
    assert hits.value(("a",)) == 2
    assert hits.value(("never",)) == 0


def test_counter_refuses_to_go_down_and_wrong_label_counts() -> None:
    counter = Counter("c_total", "c", ("a", "b"))
    with pytest.raises(ValueError, match="cannot go down"):
        counter.inc(("x", "y"), -1)
    with pytest.raises(ValueError, match="takes 2 label value"):
        counter.inc(("x",))


def test_gauge_goes_up_and_down_and_can_be_set() -> None:
    gauge = Gauge("g", "g")
    gauge.inc()
    gauge.inc()
    gauge.dec()
    assert gauge.value() == 1
    gauge.set(7.25)
    assert gauge.value() == 7.25


def test_gauge_function_is_read_at_each_scrape() -> None:
    registry = Registry()
    level = [3]
    registry.gauge("queue_length", "Waiting jobs.", function=lambda: level[0])
    assert "queue_length 3\n" in registry.expose()
    level[0] = 5
    assert "queue_length 5\n" in registry.expose()


def test_function_metric_cannot_have_labels() -> None:
    with pytest.raises(ValueError, match="without labels"):
        Gauge("g", "g", ("a",), function=lambda: 1.0)


def test_histogram_buckets_are_cumulative_and_end_with_inf() -> None:
    registry = Registry()
    seconds = registry.histogram("t_seconds", "Time.", ("op",), buckets=(0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 3.0):  # 0.1 falls in le="0.1": bounds are inclusive
        seconds.observe(value, ("read",))
    assert registry.expose() == (
        "# HELP t_seconds Time.\n"
        "# TYPE t_seconds histogram\n"
        't_seconds_bucket{op="read",le="0.1"} 2\n'
        't_seconds_bucket{op="read",le="1.0"} 3\n'
        't_seconds_bucket{op="read",le="+Inf"} 4\n'
        't_seconds_sum{op="read"} 3.65\n'
        't_seconds_count{op="read"} 4\n'
    )
    assert seconds.count(("read",)) == 4


@pytest.mark.parametrize("buckets", [(), (1.0, 1.0), (2.0, 1.0), (math.nan,), (1.0, math.inf, 2)])
def test_histogram_rejects_bad_buckets(buckets: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="bucket"):
        Histogram("h", "h", buckets=buckets)


def test_histogram_reserves_le_label() -> None:
    with pytest.raises(ValueError, match="reserved"):
        Histogram("h", "h", ("le",))


@pytest.mark.parametrize("name", ["", "1abc", "a-b", "a b", "é"])
def test_bad_metric_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid metric name"):
        Counter(name, "x")


@pytest.mark.parametrize("labels", [("a-b",), ("__x",), ("a", "a"), ("",)])
def test_bad_label_names_are_refused(labels: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="label name"):
        Counter("c", "x", labels)


def test_registry_refuses_a_name_taken_by_a_histogram_sample() -> None:
    registry = Registry()
    registry.histogram("h", "h")
    with pytest.raises(ValueError, match="already registered"):
        registry.counter("h_count", "clash")
    with pytest.raises(ValueError, match="already registered"):
        registry.gauge("h", "clash")


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ('say "hi"', 'say \\"hi\\"'),
        ("C:\\dir", "C:\\\\dir"),
        ("two\nlines", "two\\nlines"),
        ('\\"\n', '\\\\\\"\\n'),
        ("plain/{id}", "plain/{id}"),
    ],
)
def test_label_values_are_escaped(value: str, escaped: str) -> None:
    registry = Registry()
    registry.counter("c_total", "c", ("v",)).inc((value,))
    text = registry.expose()
    assert f'c_total{{v="{escaped}"}} 1\n' in text
    assert parse(text) == [("c_total", {"v": value}, 1.0)]


def test_help_text_escapes_backslash_and_newline() -> None:
    registry = Registry()
    registry.gauge("g", "a\\b\nc")
    assert registry.expose().startswith("# HELP g a\\\\b\\nc\n# TYPE g gauge\n")


def test_special_float_values_are_written_as_prometheus_spells_them() -> None:
    registry = Registry()
    gauge = registry.gauge("g", "g", ("k",))
    gauge.set(math.inf, ("pos",))
    gauge.set(-math.inf, ("neg",))
    gauge.set(math.nan, ("nan",))
    gauge.set(1e20, ("big",))
    lines = registry.expose().splitlines()[2:]
    assert lines == [
        'g{k="pos"} +Inf',
        'g{k="neg"} -Inf',
        'g{k="nan"} NaN',
        'g{k="big"} 1e+20',
    ]


def test_content_type_is_the_text_format_0_0_4() -> None:
    assert CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"


def test_process_metrics_read_from_the_running_process() -> None:
    registry = Registry()
    add_process_metrics(registry)  # the test machines run Linux: all four are there
    samples = {name: value for name, _, value in parse(registry.expose())}
    assert samples["process_cpu_seconds_total"] > 0
    assert samples["process_resident_memory_bytes"] > 1_000_000
    assert samples["process_open_fds"] == len(os.listdir("/proc/self/fd"))
    assert 0 <= time.time() - samples["process_start_time_seconds"] < 24 * 3600


def test_labelled_gauge_series_start_at_zero_and_function_value_is_read() -> None:
    gauge = Gauge("g", "g", ("pool",))
    gauge.dec(("db",), 2)
    assert gauge.value(("db",)) == -2
    with pytest.raises(ValueError, match="takes 1 label value"):
        gauge.inc(())
    assert Gauge("f", "f", function=lambda: 4.5).value() == 4.5


def test_histogram_accepts_a_trailing_inf_bucket() -> None:
    histogram = Histogram("h", "h", buckets=(1.0, math.inf))
    assert histogram.buckets == (1.0,)
    histogram.observe(5.0)
    assert histogram.count() == 1
