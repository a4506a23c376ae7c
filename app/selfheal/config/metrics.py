"""Prometheus metrics in the text exposition format (version 0.0.4), written by hand.

Three small metric types (:class:`Counter`, :class:`Gauge`, :class:`Histogram`) in a
:class:`Registry` that renders ``# HELP`` / ``# TYPE`` lines and samples with escaped label
values. :class:`AppMetrics` holds the metrics the server exposes; ``on_github_call`` has the
signature of the GitHub client's ``ClientHooks.on_call`` callback.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping, Sequence

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0
)  # fmt: skip

LabelValues = tuple[str, ...]


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{escape_label(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help
        self.labelnames = tuple(labelnames)
        self._lock = threading.Lock()

    def _key(self, labels: Mapping[str, str] | None) -> LabelValues:
        labels = labels or {}
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {sorted(labels)}")
        return tuple(str(labels[n]) for n in self.labelnames)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {escape_help(self.help)}", f"# TYPE {self.name} {self.kind}"]

    def samples(self) -> list[str]:
        raise NotImplementedError


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help, labelnames)
        self._values: dict[LabelValues, float] = {}

    def inc(self, labels: Mapping[str, str] | None = None, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("counters only go up")
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, labels: Mapping[str, str] | None = None) -> float:
        return self._values.get(self._key(labels), 0.0)

    def samples(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_labels(self.labelnames, k)} {format_value(v)}" for k, v in items]


class Gauge(Counter):
    kind = "gauge"

    def set(self, value: float, labels: Mapping[str, str] | None = None) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = float(value)


class Histogram(_Metric):
    kind = "histogram"

    def __init__(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        buckets: Iterable[float] = DEFAULT_BUCKETS,
    ) -> None:
        super().__init__(name, help, labelnames)
        self.buckets = tuple(sorted(buckets))
        self._data: dict[LabelValues, tuple[list[int], list[float]]] = {}

    def observe(self, value: float, labels: Mapping[str, str] | None = None) -> None:
        key = self._key(labels)
        with self._lock:
            counts, totals = self._data.setdefault(key, ([0] * len(self.buckets), [0.0, 0.0]))
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    counts[i] += 1
            totals[0] += value
            totals[1] += 1

    def samples(self) -> list[str]:
        lines: list[str] = []
        with self._lock:
            items = sorted((k, (list(c), list(t))) for k, (c, t) in self._data.items())
        for key, (counts, (total, count)) in items:
            for bound, n in zip(self.buckets, counts, strict=True):
                le = f'le="{format_value(bound)}"'
                lines.append(f"{self.name}_bucket{_labels(self.labelnames, key, le)} {n}")
            inf = _labels(self.labelnames, key, 'le="+Inf"')
            lines.append(f"{self.name}_bucket{inf} {format_value(count)}")
            lines.append(f"{self.name}_sum{_labels(self.labelnames, key)} {format_value(total)}")
            lines.append(f"{self.name}_count{_labels(self.labelnames, key)} {format_value(count)}")
        return lines


class Registry:
    def __init__(self) -> None:
        self._metrics: list[_Metric] = []

    def add(self, metric: _Metric) -> None:
        if any(m.name == metric.name for m in self._metrics):
            raise ValueError(f"duplicate metric {metric.name}")
        self._metrics.append(metric)

    def render(self) -> str:
        lines: list[str] = []
        for metric in self._metrics:
            lines.extend(metric.header())
            lines.extend(metric.samples())
        return "\n".join(lines) + "\n"


class AppMetrics:
    """The server's metrics. Queue depth is refreshed from the ledger at scrape time."""

    def __init__(self) -> None:
        self.registry = Registry()
        self.deliveries = Counter(
            "selfheal_deliveries_total", "Webhook deliveries by event and outcome.",
            ("event", "outcome"),
        )  # fmt: skip
        self.processed = Counter(
            "selfheal_deliveries_processed_total",
            "Deliveries handled by the workers, by event and outcome.",
            ("event", "outcome"),
        )
        self.queue_depth = Gauge(
            "selfheal_queue_depth", "Jobs in the durable queue by status.", ("status",)
        )
        self.queue_oldest = Gauge(
            "selfheal_queue_oldest_due_seconds",
            "How long the oldest due, queued job has been waiting (0 when none).",
        )
        self.job_duration = Histogram(
            "selfheal_job_duration_seconds", "Time a job ran, by kind and result.",
            ("kind", "result"),
        )  # fmt: skip
        self.job_wait = Histogram(
            "selfheal_job_wait_seconds", "Time a job waited in the queue before running.",
            ("kind",),
        )  # fmt: skip
        self.github_calls = Counter(
            "selfheal_github_api_calls_total", "GitHub REST calls by call name and HTTP status.",
            ("call", "status"),
        )  # fmt: skip
        self.rate_limit = Gauge(
            "selfheal_github_rate_limit_remaining",
            "X-RateLimit-Remaining from the latest GitHub response.",
        )
        self.gate_conclusions = Counter(
            "selfheal_gate_conclusions_total", "Security-gate check runs completed, by conclusion.",
            ("conclusion",),
        )  # fmt: skip
        self.monitor = Gauge(
            "selfheal_monitor", "The monitor's statistics (as GET /api/monitor/stats), by stat.",
            ("stat",),
        )  # fmt: skip
        # Every metric attribute above, in the order defined: none can be left off /metrics.
        for metric in list(vars(self).values()):
            if isinstance(metric, _Metric):
                self.registry.add(metric)

    def on_github_call(self, name: str, status: int | None, remaining: int | None) -> None:
        self.github_calls.inc({"call": name, "status": "error" if status is None else str(status)})
        if remaining is not None:
            self.rate_limit.set(remaining)

    def record_gate_conclusion(self, conclusion: str) -> None:
        self.gate_conclusions.inc({"conclusion": conclusion})

    def set_queue_depth(self, depth: Mapping[str, int], oldest_due_age: float = 0.0) -> None:
        for status, count in depth.items():
            self.queue_depth.set(count, {"status": status})
        self.queue_oldest.set(oldest_due_age)

    def set_monitor_stats(self, stats: Mapping[str, object]) -> None:
        """The monitor's numeric statistics (``last_check`` is a time, left off)."""
        for name, value in stats.items():
            if isinstance(value, bool | int | float):
                self.monitor.set(float(value), {"stat": name})

    def render(self) -> str:
        return self.registry.render()
