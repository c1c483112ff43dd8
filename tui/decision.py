"""Answers a runbook's decision tree from the latest signals: the suggested path and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from tui.runbook import (
    AllOf,
    AnyOf,
    Condition,
    DecisionNode,
    Predicate,
    Runbook,
)
from tui.signals import Health, MetricReading, VendorStatus, compare, format_value

__all__ = [
    "Answer",
    "DecisionPath",
    "Readings",
    "dominant_category",
    "evaluate",
    "ranked_remediations",
]


@dataclass(frozen=True)
class Readings:
    """The latest value of every signal a predicate can ask about."""

    metrics: Mapping[str, MetricReading] = field(default_factory=dict)
    vendor: VendorStatus | None = None
    health: Health | None = None


@dataclass(frozen=True)
class Answer:
    node_id: str
    question: str
    value: bool | None
    """True for yes, False for no, None when neither the signals nor the responder know."""
    source: Literal["live", "responder", "unknown"]
    evidence: tuple[str, ...] = ()
    live_value: bool | None = None
    """What the signals alone say, also when the responder overrode it."""


@dataclass(frozen=True)
class DecisionPath:
    answers: tuple[Answer, ...]
    leaf: DecisionNode | None
    """The conclusion reached, or None when the path stops at an unanswered question."""

    @property
    def node_ids(self) -> tuple[str, ...]:
        ids = tuple(a.node_id for a in self.answers)
        return (*ids, self.leaf.id) if self.leaf else ids

    @property
    def summary(self) -> str:
        parts = [
            f"{a.question} {'yes' if a.value else 'no'}"
            for a in self.answers
            if a.value is not None
        ]
        if self.leaf is not None:
            parts.append(f"→ {self.leaf.conclusion}")
        return "; ".join(parts)


_Tri = bool | None


def _lookup(signal: str, readings: Readings) -> tuple[float | str | None, str]:
    """The value of a predicate's signal and how to say it."""
    if signal == "vendor.indicator":
        if readings.vendor is None:
            return None, "status page: no data"
        return readings.vendor.indicator, f"status page indicator: {readings.vendor.indicator}"
    if signal == "vendor.incidents":
        if readings.vendor is None:
            return None, "status page: no data"
        count = len(readings.vendor.incidents)
        return float(count), f"open vendor incidents: {count}"
    if signal == "health.status":
        if readings.health is None:
            return None, "health: no data"
        return readings.health.status, f"health status: {readings.health.status}"
    if signal == "health.latency_ms":
        if readings.health is None or readings.health.latency_ms is None:
            return None, "health latency: no data"
        return readings.health.latency_ms, f"health latency: {readings.health.latency_ms:.0f} ms"
    reading = readings.metrics.get(signal)
    if reading is None or reading.value is None:
        name = reading.name if reading else signal
        return None, f"{name}: no data"
    return reading.value, f"{reading.name}: {format_value(reading.value, reading.unit)}"


def _predicate(predicate: Predicate, readings: Readings) -> tuple[_Tri, str]:
    value, said = _lookup(predicate.signal, readings)
    if value is None:
        return None, said
    target = predicate.value
    op = predicate.op
    result: bool
    if op in ("in", "not_in"):
        assert isinstance(target, list)
        result = (str(value) in target) == (op == "in")
        shown = ", ".join(target)
        return result, f"{said} ({'in' if result == (op == 'in') else 'not in'} {shown})"
    if isinstance(value, str) or isinstance(target, str):
        if op not in ("==", "!="):
            return None, f"{said} (not a number)"
        result = (str(value) == str(target)) == (op == "==")
        return result, f"{said} ({'==' if str(value) == str(target) else '!='} {target})"
    assert isinstance(target, int | float)
    result = compare(float(value), op, float(target))
    reading = readings.metrics.get(predicate.signal)
    unit = reading.unit if reading else ""
    negated = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!=", "!=": "=="}
    shown_op = op if result else negated[op]
    return result, f"{said} {shown_op} {format_value(float(target), unit)}"


def _condition(condition: Condition, readings: Readings) -> tuple[_Tri, list[str]]:
    if isinstance(condition, Predicate):
        value, said = _predicate(condition, readings)
        return value, [said]
    if isinstance(condition, AnyOf | AllOf):
        parts = [
            _condition(sub, readings)
            for sub in (condition.any if isinstance(condition, AnyOf) else condition.all)
        ]
        values = [v for v, _ in parts]
        decisive = isinstance(condition, AnyOf)
        if decisive in values:
            evidence = [e for v, ev in parts if v is decisive for e in ev]
            return decisive, evidence
        if None in values:
            return None, [e for v, ev in parts if v is None for e in ev]
        return not decisive, [e for _, ev in parts for e in ev]
    value, evidence = _condition(condition.not_, readings)
    return (None if value is None else not value), evidence


def evaluate(
    runbook: Runbook, readings: Readings, overrides: Mapping[str, bool] | None = None
) -> DecisionPath:
    """Walk the tree from its root: each question answered by the responder's override,
    else by its predicate over the readings; stop at a leaf or at an unknown answer."""
    tree = runbook.decision_tree
    if tree is None:
        return DecisionPath((), None)
    overrides = overrides or {}
    answers: list[Answer] = []
    node = tree.node(tree.root)
    for _ in range(len(tree.nodes) + 1):
        if node.is_leaf:
            return DecisionPath(tuple(answers), node)
        live: _Tri = None
        evidence: list[str] = []
        if node.when is not None:
            live, evidence = _condition(node.when, readings)
        if node.id in overrides:
            value: _Tri = overrides[node.id]
            source: Literal["live", "responder", "unknown"] = "responder"
        else:
            value, source = live, ("live" if live is not None else "unknown")
        answers.append(Answer(node.id, node.question or "", value, source, tuple(evidence), live))
        if value is None:
            return DecisionPath(tuple(answers), None)
        assert node.yes is not None and node.no is not None
        node = tree.node(node.yes if value else node.no)
    return DecisionPath(tuple(answers), None)


def dominant_category(runbook: Runbook, readings: Readings) -> str | None:
    """The category (error class) whose signal reads highest among those alerting, else
    among those above zero."""
    scored: list[tuple[bool, float, str]] = []
    for category in runbook.categories:
        if category.signal is None:
            continue
        reading = readings.metrics.get(category.signal)
        if reading is None or reading.value is None or reading.value <= 0:
            continue
        scored.append((reading.alerting, reading.value, category.id))
    if not scored:
        return None
    return max(scored)[2]


def ranked_remediations(
    runbook: Runbook, leaf: DecisionNode, readings: Readings
) -> list[tuple[str | None, list[str]]]:
    """A leaf's remediations as ``(category id or None, [ids])`` groups, the dominant
    error class's group first, then the leaf's own list, then the other groups."""
    groups: list[tuple[str | None, list[str]]] = []
    dominant = dominant_category(runbook, readings)
    if dominant in leaf.by_category:
        groups.append((dominant, list(leaf.by_category[dominant])))
    if leaf.remediations:
        groups.append((None, list(leaf.remediations)))
    for category, ids in leaf.by_category.items():
        if category != dominant:
            groups.append((category, list(ids)))
    return groups
