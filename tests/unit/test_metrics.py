"""The Prometheus text exposition."""

from __future__ import annotations

import pytest

from selfheal.config.metrics import (
    AppMetrics,
    Counter,
    Histogram,
    Registry,
    escape_label,
    format_value,
)


def test_counter_labels_escaped_and_sorted() -> None:
    reg = Registry()
    c = Counter("x_total", "Help with a \\ backslash\nand newline.", ("event",))
    reg.add(c)
    c.inc({"event": 'push"\n\\'})
    c.inc({"event": "a"}, 2)
    text = reg.render()
    assert text.splitlines() == [
        "# HELP x_total Help with a \\\\ backslash\\nand newline.",
        "# TYPE x_total counter",
        'x_total{event="a"} 2',
        'x_total{event="push\\"\\n\\\\"} 1',
    ]
    with pytest.raises(ValueError):
        c.inc({"wrong": "label"})
    with pytest.raises(ValueError):
        c.inc({"event": "a"}, -1)
    with pytest.raises(ValueError):
        reg.add(Counter("x_total", "dup"))


def test_histogram_is_cumulative() -> None:
    h = Histogram("lat_seconds", "Latency.", ("kind",), buckets=(0.1, 1.0))
    for v in (0.05, 0.5, 5.0):
        h.observe(v, {"kind": "k"})
    assert h.samples() == [
        'lat_seconds_bucket{kind="k",le="0.1"} 1',
        'lat_seconds_bucket{kind="k",le="1"} 2',
        'lat_seconds_bucket{kind="k",le="+Inf"} 3',
        'lat_seconds_sum{kind="k"} 5.55',
        'lat_seconds_count{kind="k"} 3',
    ]


def test_app_metrics_github_callback_and_gate() -> None:
    m = AppMetrics()
    m.on_github_call("checks.create", 201, 4999)
    m.on_github_call("checks.create", None, None)
    m.record_gate_conclusion("failure")
    m.set_queue_depth({"queued": 3, "dead": 0})
    lines = m.render().splitlines()
    assert 'selfheal_github_api_calls_total{call="checks.create",status="201"} 1' in lines
    assert 'selfheal_github_api_calls_total{call="checks.create",status="error"} 1' in lines
    assert "selfheal_github_rate_limit_remaining 4999" in lines
    assert 'selfheal_gate_conclusions_total{conclusion="failure"} 1' in lines
    assert 'selfheal_queue_depth{status="queued"} 3' in lines
    assert lines.count("# TYPE selfheal_queue_depth gauge") == 1


def test_value_formatting() -> None:
    assert format_value(3.0) == "3" and format_value(float("inf")) == "+Inf"
    assert format_value(0.25) == "0.25" and escape_label("a\\b") == "a\\\\b"
