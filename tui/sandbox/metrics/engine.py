"""A small PromQL engine over the sandbox's own series, for the demo without a Prometheus:
it evaluates what :mod:`~tui.sandbox.metrics.parser` parses.

Semantics follow Prometheus 2.x: a 5 minute look-back for instant selectors, range
selectors closed at both ends, metric names dropped by functions, aggregations and
arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tui.sandbox.metrics.parser import (
    Aggregate,
    Binary,
    Call,
    MatrixSelector,
    Node,
    NumberLiteral,
    QueryError,
    Unary,
    VectorSelector,
    parse,
)
from tui.sandbox.metrics.registry import LabelSet, Series, SeriesStore

__all__ = ["LOOKBACK_MS", "MAX_POINTS", "Engine", "format_sample_value"]

MAX_POINTS = 11_000
"""Points per series a range query may return (Prometheus's own limit)."""

LOOKBACK_MS = 5 * 60 * 1000


def format_sample_value(value: float) -> str:
    """A sample value as Prometheus's JSON carries it: shortest form, no exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


# --------------------------------------------------------------------------- evaluation

Labels = dict[str, str]


@dataclass
class _Sample:
    labels: Labels
    value: float


def _without_name(labels: Labels) -> Labels:
    return {k: v for k, v in labels.items() if k != "__name__"}


def _arith(op: str, a: float, b: float) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _extrapolated_rate(
    times: list[int],
    values: list[float],
    range_start: int,
    range_end: int,
    range_ms: int,
    is_rate: bool,
) -> float | None:
    """Prometheus 2.x ``extrapolatedRate`` for counters."""
    if len(times) < 2:
        return None
    result = values[-1] - values[0]
    last = 0.0
    for value in values:
        if value < last:
            result += last
        last = value
    to_start = (times[0] - range_start) / 1000
    to_end = (range_end - times[-1]) / 1000
    sampled = (times[-1] - times[0]) / 1000
    average = sampled / (len(times) - 1)
    if result > 0 and values[0] >= 0:
        to_zero = sampled * (values[0] / result)
        to_start = min(to_start, to_zero)
    threshold = average * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average / 2
    interval += to_end if to_end < threshold else average / 2
    result *= interval / sampled
    if is_rate:
        result /= range_ms / 1000
    return result


def _irate(times: list[int], values: list[float]) -> float | None:
    if len(times) < 2:
        return None
    last, previous = values[-1], values[-2]
    delta = last if last < previous else last - previous
    interval = times[-1] - times[-2]
    if interval == 0:
        return None
    return delta / (interval / 1000)


def _bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus 2.x ``bucketQuantile`` over ``(upper bound, cumulative count)`` pairs."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    buckets = sorted(buckets)
    if not buckets or not math.isinf(buckets[-1][0]):
        return math.nan
    merged: list[list[float]] = []
    for bound, count in buckets:
        if merged and merged[-1][0] == bound:
            merged[-1][1] += count
        else:
            merged.append([bound, count])
    highest = -math.inf
    for bucket in merged:
        if bucket[1] > highest:
            highest = bucket[1]
        elif bucket[1] < highest:
            bucket[1] = highest
    if len(merged) < 2:
        return math.nan
    observations = merged[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next((i for i in range(len(merged) - 1) if merged[i][1] >= rank), len(merged) - 1)
    if b == len(merged) - 1:
        return merged[-2][0]
    if b == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start = 0.0
    end = merged[b][0]
    count = merged[b][1]
    if b > 0:
        start = merged[b - 1][0]
        count -= merged[b - 1][1]
        rank -= merged[b - 1][1]
    return start + (end - start) * (rank / count)


def _aggregate(op: str, values: list[float]) -> float:
    if op == "sum":
        return sum(values)
    if op == "avg":
        return sum(values) / len(values)
    if op == "count":
        return float(len(values))
    pick: Callable[[float, float], bool] = (
        (lambda new, old: new > old) if op == "max" else (lambda new, old: new < old)
    )
    result = values[0]
    for value in values[1:]:
        if pick(value, result) or math.isnan(result):
            result = value
    return result


@dataclass
class _Evaluation:
    """One query's evaluation: the selected series are looked up once for all steps."""

    store: SeriesStore
    selected: dict[int, list[tuple[Labels, Series]]] = field(default_factory=dict)

    def series_for(self, selector: VectorSelector) -> list[tuple[Labels, Series]]:
        key = id(selector)
        if key not in self.selected:
            found = []
            for series in self.store.series():
                labels = dict(series.labels)
                if all(m.matches(labels) for m in selector.matchers):
                    found.append((labels, series))
            self.selected[key] = found
        return self.selected[key]

    def scalar(self, node: Node, at: int) -> float:
        result = self.eval(node, at)
        assert isinstance(result, float)
        return result

    def eval(self, node: Node, at: int) -> float | list[_Sample]:
        if isinstance(node, NumberLiteral):
            return node.value
        if isinstance(node, VectorSelector):
            out = []
            for labels, series in self.series_for(node):
                latest = series.latest(at, LOOKBACK_MS)
                if latest is not None:
                    out.append(_Sample(labels, latest[1]))
            return out
        if isinstance(node, Call):
            return _unique(self.call(node, at))
        if isinstance(node, Aggregate):
            return self.aggregate(node, at)
        if isinstance(node, Unary):
            inner = self.eval(node.expr, at)
            if isinstance(inner, float):
                return -inner
            return [_Sample(_without_name(s.labels), -s.value) for s in inner]
        if isinstance(node, Binary):
            result = self.binary(node, at)
            return result if isinstance(result, float) else _unique(result)
        raise QueryError(f"cannot evaluate {type(node).__name__}", "execution", 422)

    def call(self, node: Call, at: int) -> list[_Sample]:
        if node.function == "histogram_quantile":
            q = self.scalar(node.args[0], at)
            vector = self.eval(node.args[1], at)
            assert isinstance(vector, list)
            groups: dict[LabelSet, tuple[Labels, list[tuple[float, float]]]] = {}
            for sample in vector:
                le = sample.labels.get("le")
                if le is None:
                    continue
                try:
                    bound = float(le)
                except ValueError:
                    continue
                rest = {k: v for k, v in sample.labels.items() if k not in ("le", "__name__")}
                key = tuple(sorted(rest.items()))
                groups.setdefault(key, (rest, []))[1].append((bound, sample.value))
            return [_Sample(rest, _bucket_quantile(q, b)) for rest, b in groups.values()]
        matrix = node.args[0]
        assert isinstance(matrix, MatrixSelector)
        out = []
        start = at - matrix.range_ms
        for labels, series in self.series_for(matrix.vector):
            times, values = series.between(start, at)
            if node.function == "irate":
                value = _irate(times, values)
            else:
                value = _extrapolated_rate(
                    times, values, start, at, matrix.range_ms, node.function == "rate"
                )
            if value is not None:
                out.append(_Sample(_without_name(labels), value))
        return out

    def aggregate(self, node: Aggregate, at: int) -> list[_Sample]:
        vector = self.eval(node.expr, at)
        assert isinstance(vector, list)
        groups: dict[LabelSet, tuple[Labels, list[float]]] = {}
        for sample in vector:
            if node.without:
                drop = {*node.grouping, "__name__"}
                labels = {k: v for k, v in sample.labels.items() if k not in drop}
            else:
                labels = {k: sample.labels[k] for k in node.grouping if sample.labels.get(k)}
            key = tuple(sorted(labels.items()))
            groups.setdefault(key, (labels, []))[1].append(sample.value)
        return [_Sample(labels, _aggregate(node.op, values)) for labels, values in groups.values()]

    def binary(self, node: Binary, at: int) -> float | list[_Sample]:
        lhs = self.eval(node.lhs, at)
        rhs = self.eval(node.rhs, at)
        if isinstance(lhs, float) and isinstance(rhs, float):
            return _arith(node.op, lhs, rhs)
        if isinstance(rhs, float):
            assert isinstance(lhs, list)
            return [_Sample(_without_name(s.labels), _arith(node.op, s.value, rhs)) for s in lhs]
        if isinstance(lhs, float):
            return [_Sample(_without_name(s.labels), _arith(node.op, lhs, s.value)) for s in rhs]
        right: dict[LabelSet, _Sample] = {}
        for sample in rhs:
            key = tuple(sorted(_without_name(sample.labels).items()))
            if key in right:
                raise QueryError(
                    f"found duplicate series for the match group {dict(key)} on the right "
                    "hand-side of the operation; many-to-many matching not allowed: matching "
                    "labels must be unique on one side",
                    "execution",
                    422,
                )
            right[key] = sample
        out: list[_Sample] = []
        seen: set[LabelSet] = set()
        for sample in lhs:
            labels = _without_name(sample.labels)
            key = tuple(sorted(labels.items()))
            match = right.get(key)
            if match is None:
                continue
            if key in seen:
                raise QueryError(
                    "multiple matches for labels: many-to-one matching must be explicit "
                    "(group_left/group_right)",
                    "execution",
                    422,
                )
            seen.add(key)
            out.append(_Sample(labels, _arith(node.op, sample.value, match.value)))
        return out


def _unique(samples: list[_Sample]) -> list[_Sample]:
    """Refuse a result in which two samples share a label set, as Prometheus does."""
    seen: set[LabelSet] = set()
    for sample in samples:
        key = tuple(sorted(sample.labels.items()))
        if key in seen:
            raise QueryError(
                "vector cannot contain metrics with the same labelset", "execution", 422
            )
        seen.add(key)
    return samples


def _ts(ms: int) -> float:
    return ms / 1000


class Engine:
    """Answers ``/api/v1/query`` and ``/api/v1/query_range`` from a :class:`SeriesStore`."""

    def __init__(self, store: SeriesStore) -> None:
        self.store = store

    def instant(self, query: str, at_ms: int) -> dict[str, Any]:
        """The ``data`` object of an instant query."""
        node = parse(query)
        evaluation = _Evaluation(self.store)
        if isinstance(node, MatrixSelector):
            result = []
            for labels, series in evaluation.series_for(node.vector):
                times, values = series.between(at_ms - node.range_ms, at_ms)
                if times:
                    result.append(
                        {
                            "metric": labels,
                            "values": [
                                [_ts(t), format_sample_value(v)]
                                for t, v in zip(times, values, strict=True)
                            ],
                        }
                    )
            return {"resultType": "matrix", "result": result}
        value = evaluation.eval(node, at_ms)
        if isinstance(value, float):
            return {"resultType": "scalar", "result": [_ts(at_ms), format_sample_value(value)]}
        return {
            "resultType": "vector",
            "result": [
                {"metric": s.labels, "value": [_ts(at_ms), format_sample_value(s.value)]}
                for s in value
            ],
        }

    def range(self, query: str, start_ms: int, end_ms: int, step_ms: int) -> dict[str, Any]:
        """The ``data`` object of a range query."""
        if end_ms < start_ms:
            raise QueryError("end timestamp must not be before start time")
        if step_ms <= 0:
            raise QueryError(
                "zero or negative query resolution step widths are not accepted. "
                "Try a positive integer"
            )
        if (end_ms - start_ms) / step_ms > MAX_POINTS:
            raise QueryError(
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)"
            )
        node = parse(query)
        if node.type == "matrix":
            raise QueryError(
                'invalid expression type "range vector" for range query, must be Scalar or '
                "instant Vector"
            )
        evaluation = _Evaluation(self.store)
        series: dict[LabelSet, tuple[Labels, list[list[Any]]]] = {}
        at = start_ms
        while at <= end_ms:
            value = evaluation.eval(node, at)
            samples = [_Sample({}, value)] if isinstance(value, float) else value
            for sample in samples:
                key = tuple(sorted(sample.labels.items()))
                entry = series.setdefault(key, (sample.labels, []))
                entry[1].append([_ts(at), format_sample_value(sample.value)])
            at += step_ms
        return {
            "resultType": "matrix",
            "result": [
                {"metric": labels, "values": points}
                for _, (labels, points) in sorted(series.items())
            ],
        }
