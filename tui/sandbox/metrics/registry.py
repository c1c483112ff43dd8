"""The sandbox's metrics: counters and histograms, their text exposition, and the history
the query API reads (one sample of every series per second, kept for hours)."""

from __future__ import annotations

import asyncio
import bisect
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

__all__ = [
    "DURATION_BUCKETS",
    "EXPOSITION_CONTENT_TYPE",
    "Counter",
    "Histogram",
    "LabelSet",
    "Registry",
    "Series",
    "SeriesStore",
    "format_value",
    "label_set",
    "run_sampler",
    "vendor_registry",
]

EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

DURATION_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds of ``VENDOR_request_duration_seconds`` (``+Inf`` is implied)."""

LabelSet = tuple[tuple[str, str], ...]
"""A series' labels, ``__name__`` included, sorted by label name: hashable and ordered."""


def label_set(labels: dict[str, str]) -> LabelSet:
    return tuple(sorted(labels.items()))


def format_value(value: float) -> str:
    """A float as Prometheus writes it: ``12``, ``0.25``, ``+Inf``, ``NaN``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _render_labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


class Counter:
    """A counter with one label dimension set; every declared label value exists from 0."""

    kind = "counter"

    def __init__(
        self, name: str, help_text: str, label: str | None = None, values: Iterable[str] = ()
    ) -> None:
        self.name = name
        self.help = help_text
        self.label = label
        self._values: dict[str, float] = {v: 0.0 for v in values} if label else {"": 0.0}

    def inc(self, label_value: str = "", amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        self._values[label_value] = self._values.get(label_value, 0.0) + amount

    def value(self, label_value: str = "") -> float:
        return self._values.get(label_value, 0.0)

    def samples(self) -> Iterator[tuple[str, dict[str, str], float]]:
        for label_value, value in self._values.items():
            labels = {self.label: label_value} if self.label else {}
            yield self.name, labels, value


class Histogram:
    """A histogram with fixed buckets, exposed as ``_bucket`` (cumulative), ``_sum``, ``_count``."""

    kind = "histogram"

    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...]) -> None:
        self.name = name
        self.help = help_text
        self.buckets = buckets
        self._counts = [0] * (len(buckets) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self._counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def samples(self) -> Iterator[tuple[str, dict[str, str], float]]:
        cumulative = 0
        for bound, count in zip((*self.buckets, math.inf), self._counts, strict=True):
            cumulative += count
            yield f"{self.name}_bucket", {"le": format_value(float(bound))}, float(cumulative)
        yield f"{self.name}_sum", {}, self.sum
        yield f"{self.name}_count", {}, float(self.count)


Metric = Counter | Histogram


@dataclass
class Registry:
    """Every metric the sandbox exposes, in exposition order."""

    metrics: dict[str, Metric] = field(default_factory=dict)

    def add(self, metric: Metric) -> Metric:
        self.metrics[metric.name] = metric
        return metric

    def counter(self, name: str) -> Counter:
        metric = self.metrics[name]
        assert isinstance(metric, Counter)
        return metric

    def histogram(self, name: str) -> Histogram:
        metric = self.metrics[name]
        assert isinstance(metric, Histogram)
        return metric

    def collect(self) -> list[tuple[LabelSet, float]]:
        """Every series' current value, keyed by its full label set."""
        return [
            (label_set({"__name__": name, **labels}), value)
            for metric in self.metrics.values()
            for name, labels, value in metric.samples()
        ]

    def exposition(self) -> str:
        """The Prometheus text format 0.0.4."""
        lines: list[str] = []
        for metric in self.metrics.values():
            lines.append(f"# HELP {metric.name} {metric.help}")
            lines.append(f"# TYPE {metric.name} {metric.kind}")
            for name, labels, value in metric.samples():
                lines.append(f"{name}{_render_labels(labels)} {format_value(value)}")
        return "\n".join(lines) + "\n"


REQUEST_CODES = ("200", "401", "403", "429", "500", "503")
ERROR_CODES = ("401", "403", "429", "500", "503")


def vendor_registry(vendors: Iterable[tuple[str, str]]) -> Registry:
    """The metrics of our integrations with each ``(vendor id, display name)``."""
    registry = Registry()
    for vendor, display in vendors:
        registry.add(
            Counter(
                f"{vendor}_requests_total",
                f"Calls our integration made to the {display} API, by HTTP status.",
                "code",
                REQUEST_CODES,
            )
        )
        registry.add(
            Counter(
                f"{vendor}_errors_total",
                f"Calls to the {display} API that did not succeed, by HTTP status.",
                "code",
                ERROR_CODES,
            )
        )
        registry.add(
            Histogram(
                f"{vendor}_request_duration_seconds",
                f"Time our integration waited for the {display} API, in seconds.",
                DURATION_BUCKETS,
            )
        )
        if vendor == "clerk":
            registry.add(
                Counter(
                    "clerk_webhook_deliveries_total",
                    "Webhooks Clerk delivered to our endpoint, by how our handler answered.",
                    "result",
                    ("success", "failed"),
                )
            )
    return registry


@dataclass
class Series:
    """One series' history: timestamps in milliseconds (ascending) and values."""

    labels: LabelSet
    times: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def between(self, start_ms: int, end_ms: int) -> tuple[list[int], list[float]]:
        """Samples with ``start_ms <= t <= end_ms`` (both ends closed, as Prometheus 2.x)."""
        lo = bisect.bisect_left(self.times, start_ms)
        hi = bisect.bisect_right(self.times, end_ms)
        return self.times[lo:hi], self.values[lo:hi]

    def latest(self, at_ms: int, lookback_ms: int) -> tuple[int, float] | None:
        """The newest sample at or before ``at_ms`` and newer than ``at_ms - lookback_ms``."""
        index = bisect.bisect_right(self.times, at_ms) - 1
        if index < 0 or self.times[index] <= at_ms - lookback_ms:
            return None
        return self.times[index], self.values[index]


class SeriesStore:
    """The in-memory history of every series, one sample per ``append``, trimmed to
    ``retention`` seconds. ``target_labels`` are added to every series the way a scrape
    adds ``job`` and ``instance``."""

    def __init__(self, retention: float = 2.5 * 3600, target_labels: dict[str, str] | None = None):
        self.retention_ms = int(retention * 1000)
        self.target_labels = dict(target_labels or {})
        self._series: dict[LabelSet, Series] = {}

    def append(self, at_ms: int, samples: Iterable[tuple[LabelSet, float]]) -> None:
        horizon = at_ms - self.retention_ms
        for labels, value in samples:
            series = self._series.get(labels)
            if series is None:
                full = label_set({**dict(labels), **self.target_labels})
                series = self._series[labels] = Series(full)
            if series.times and series.times[-1] >= at_ms:
                continue
            series.times.append(at_ms)
            series.values.append(value)
            # Trim in chunks so that appending stays O(1) amortised.
            if series.times[0] < horizon - 60_000:
                cut = bisect.bisect_left(series.times, horizon)
                del series.times[:cut]
                del series.values[:cut]

    def series(self) -> list[Series]:
        return list(self._series.values())

    def __len__(self) -> int:
        return len(self._series)


async def run_sampler(
    registry: Registry,
    store: SeriesStore,
    interval: float = 1.0,
    clock: Callable[[], float] = time.time,
) -> None:
    """Record every series into ``store`` every ``interval`` seconds, until cancelled."""
    while True:
        now = clock()
        store.append(int(now * 1000), registry.collect())
        # Sleep to the next whole interval so samples stay evenly spaced under load.
        await asyncio.sleep(interval - (clock() % interval))
