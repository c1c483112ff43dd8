"""Decisions: a runbook's predicates judged against the latest signals, the walk through its
decision tree (live from the signals or as the record answered it), the words of the
evidence, and the ranking of the remediations the reached conclusion offers.

One answer type, :class:`Answer`, serves both walks: ``answer`` is always the yes/no and
``value`` always the reading it rests on."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from tui.runbook import (
    AllOf,
    AnyOf,
    Condition,
    DecisionNode,
    Predicate,
    Runbook,
)
from tui.signals import Health, MetricReading, VendorStatus, format_value, holds, shown_op

__all__ = [
    "Answer",
    "DecisionPath",
    "How",
    "Readings",
    "Settler",
    "Suggestion",
    "answer_live",
    "dominant_category",
    "evaluate",
    "evidence_text",
    "mitigation_advice",
    "off_suggestion",
    "override_words",
    "ranked_remediations",
    "suggest",
    "walk",
]

How = Literal["live", "override", "manual", "unknown"]
"""``live``: answered by the signals; ``override``: a person answered a question the
signals could answer; ``manual``: a question only a person can answer; ``unknown``: neither
the signals nor a person have answered it."""


@dataclass(frozen=True)
class Readings:
    """The latest value of every signal a predicate can ask about."""

    metrics: Mapping[str, MetricReading] = field(default_factory=dict)
    vendor: VendorStatus | None = None
    health: Health | None = None
    mitigations: tuple[str, ...] = ()
    """The titles of the temporary mitigations the record says are in effect (a fallback
    serves degraded answers on purpose: health ``degraded`` then is not a fault of ours)."""


@dataclass(frozen=True)
class Answer:
    """The answer to one question of the decision tree, with what it rests on."""

    node: str
    question: str
    answer: bool | None
    """True for yes, False for no, None when neither the signals nor a person know."""
    how: How
    evidence: tuple[str, ...] = ()
    """The readings that decided it, in words (``Rate Limited: 37/min > 5/min``)."""
    live_answer: bool | None = None
    """What the signals say (for a recorded override: what they said when the person
    answered; None: there was no such answer)."""
    signal: str | None = None
    """The predicate and reading the answer rests on: its signal, the reading, the
    predicate's threshold and operator."""
    value: float | str | None = None
    threshold: float | str | list[str] | None = None
    op: str | None = None
    actor: str | None = None
    """Who answered and when, for an answer on record."""
    at: datetime | None = None
    event_id: str | None = None

    @property
    def live(self) -> bool:
        return self.how == "live"

    @property
    def by_person(self) -> bool:
        return self.how in ("override", "manual")

    @property
    def how_words(self) -> str:
        """How it was answered, as the timeline and the postmortem say it."""
        if self.how == "live":
            return "live from the signals"
        if self.how == "override":
            return override_words(bool(self.answer), self.live_answer)
        return "by hand"


@dataclass(frozen=True)
class DecisionPath:
    answers: tuple[Answer, ...]
    """From the root, the answer of each question on the path; the last is the question the
    path stops at (``answer`` None) when no conclusion is reached."""
    leaf: DecisionNode | None
    """The conclusion reached, or None when the path stops at an unanswered question."""

    @property
    def node_ids(self) -> tuple[str, ...]:
        ids = tuple(a.node for a in self.answers)
        return (*ids, self.leaf.id) if self.leaf else ids

    @property
    def answered(self) -> bool:
        """Whether the path goes anywhere: a question answered or a conclusion reached."""
        return self.leaf is not None or any(a.answer is not None for a in self.answers)

    @property
    def summary(self) -> str:
        parts = [
            f"{a.question} {'yes' if a.answer else 'no'}"
            for a in self.answers
            if a.answer is not None
        ]
        if self.leaf is not None:
            parts.append(f"→ {self.leaf.conclusion}")
        return "; ".join(parts)


def override_words(answer: bool, live_answer: bool | None) -> str:
    """How a person's answer stands to the signals' last answer."""
    if live_answer is None:
        return "by hand"
    return "confirming the live answer" if live_answer == answer else "overriding the live answer"


# --------------------------------------------------------------------------- predicates

_Tri = bool | None


@dataclass(frozen=True)
class _Judged:
    """One predicate judged: whether it holds, its reading, and the words for it."""

    predicate: Predicate
    holds: _Tri
    value: float | str | None
    said: str


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
        status = readings.health.status
        if status == "degraded" and readings.mitigations:
            return "healthy", (
                f"health status: degraded by our own mitigation ({', '.join(readings.mitigations)}), "
                "not a fault"
            )
        return status, f"health status: {status}"
    if signal == "health.latency_ms":
        if readings.health is None or readings.health.latency_ms is None:
            return None, "health latency: no data"
        return readings.health.latency_ms, f"health latency: {readings.health.latency_ms:.0f} ms"
    reading = readings.metrics.get(signal)
    if reading is None or reading.value is None:
        name = reading.name if reading else signal
        return None, f"{name}: no data"
    return reading.value, f"{reading.name}: {format_value(reading.value, reading.unit)}"


def _predicate(predicate: Predicate, readings: Readings) -> _Judged:
    value, said = _lookup(predicate.signal, readings)
    if value is None:
        return _Judged(predicate, None, None, said)
    target, op = predicate.value, predicate.op
    result = holds(value, op, target)
    if isinstance(target, list):
        return _Judged(
            predicate, result, value, f"{said} ({shown_op(value, op, target)} {', '.join(target)})"
        )
    if result is None:
        return _Judged(predicate, None, value, f"{said} (not a number)")
    if isinstance(value, str) or isinstance(target, str):
        return _Judged(predicate, result, value, f"{said} ({shown_op(value, op, target)} {target})")
    reading = readings.metrics.get(predicate.signal)
    unit = reading.unit if reading else ""
    return _Judged(
        predicate,
        result,
        value,
        f"{said} {shown_op(value, op, target)} {format_value(float(target), unit)}",
    )


def _condition(condition: Condition, readings: Readings) -> tuple[_Tri, list[str], list[_Judged]]:
    """Whether a condition holds, the evidence that decided it, and every predicate judged."""
    if isinstance(condition, Predicate):
        one = _predicate(condition, readings)
        return one.holds, [one.said], [one]
    if isinstance(condition, AnyOf | AllOf):
        parts = [
            _condition(sub, readings)
            for sub in (condition.any if isinstance(condition, AnyOf) else condition.all)
        ]
        every = [j for _, _, judged in parts for j in judged]
        values = [v for v, _, _ in parts]
        decisive = isinstance(condition, AnyOf)
        if decisive in values:
            return decisive, [e for v, ev, _ in parts if v is decisive for e in ev], every
        if None in values:
            return None, [e for v, ev, _ in parts if v is None for e in ev], every
        return not decisive, [e for _, ev, _ in parts for e in ev], every
    value, evidence, judged = _condition(condition.not_, readings)
    return (None if value is None else not value), evidence, judged


def _basis(judged: list[_Judged], live: _Tri) -> _Judged | None:
    """The predicate an answer rests on: the first that agrees with it, else the first with
    a reading, else the first."""
    for candidate in judged:
        if candidate.value is not None and candidate.holds == live:
            return candidate
    for candidate in judged:
        if candidate.value is not None:
            return candidate
    return judged[0] if judged else None


def answer_live(node: DecisionNode, readings: Readings, given: bool | None = None) -> Answer:
    """A question answered from the readings; ``given`` is a person's answer, which wins
    over the signals (``live_answer`` keeps what they say)."""
    live: _Tri = None
    evidence: list[str] = []
    judged: list[_Judged] = []
    if node.when is not None:
        live, evidence, judged = _condition(node.when, readings)
    how: How
    if given is not None:
        answer: _Tri = given
        how = "override" if node.when is not None else "manual"
    else:
        answer, how = live, ("live" if live is not None else "unknown")
    basis = _basis(judged, live)
    return Answer(
        node=node.id,
        question=node.question or "",
        answer=answer,
        how=how,
        evidence=tuple(evidence),
        live_answer=live,
        signal=basis.predicate.signal if basis else None,
        value=basis.value if basis else None,
        threshold=basis.predicate.value if basis else None,
        op=basis.predicate.op if basis else None,
    )


def evidence_text(
    signal: str | None,
    value: float | str | None,
    threshold: float | str | list[str] | None,
    op: str | None,
    unit: str = "",
) -> str:
    """The evidence of an answer on record in words: ``rate_limited 37/min > 5/min``,
    ``vendor.indicator none not in minor/major``, ``health.status down != healthy``."""
    if signal is None:
        return ""
    if value is None:
        return f"{signal}: no data"
    shown = format_value(value, unit) if isinstance(value, int | float) else str(value)
    if op is None or threshold is None:
        return f"{signal} {shown}"
    said = shown_op(value, op, threshold)
    if isinstance(threshold, list):
        return f"{signal} {shown} {said} {'/'.join(threshold)}"
    limit = format_value(threshold, unit) if isinstance(threshold, int | float) else threshold
    return f"{signal} {shown} {said} {limit}"


# --------------------------------------------------------------------------- the walk


def walk(runbook: Runbook, answer_of: Callable[[DecisionNode], Answer | None]) -> DecisionPath:
    """Walk the tree from its root, each question answered by ``answer_of``; stop at a leaf
    or at a question without an answer (None, or an answer of None)."""
    tree = runbook.decision_tree
    if tree is None:
        return DecisionPath((), None)
    answers: list[Answer] = []
    node = tree.node(tree.root)
    for _ in range(len(tree.nodes) + 1):
        if node.is_leaf:
            return DecisionPath(tuple(answers), node)
        given = answer_of(node)
        if given is None:
            given = Answer(node.id, node.question or "", None, "unknown")
        answers.append(given)
        if given.answer is None:
            break
        assert node.yes is not None and node.no is not None
        node = tree.node(node.yes if given.answer else node.no)
    return DecisionPath(tuple(answers), None)


def evaluate(
    runbook: Runbook, readings: Readings, overrides: Mapping[str, bool] | None = None
) -> DecisionPath:
    """The live path: each question answered by a person's override, else by its predicate
    over the readings."""
    given = overrides or {}
    return walk(runbook, lambda node: answer_live(node, readings, given.get(node.id)))


# --------------------------------------------------------------------------- ranking


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
    leaf: DecisionNode, first: Sequence[str | None] = ()
) -> list[tuple[str | None, list[str]]]:
    """A leaf's remediations as ``(category id or None, [ids])`` groups: the groups of the
    error classes in ``first`` (the dominant one, or those that alerted), in that order,
    then the leaf's own list, then the other groups."""
    leading = [c for c in dict.fromkeys(first) if c is not None and c in leaf.by_category]
    groups: list[tuple[str | None, list[str]]] = [(c, list(leaf.by_category[c])) for c in leading]
    if leaf.remediations:
        groups.append((None, list(leaf.remediations)))
    groups += [(c, list(ids)) for c, ids in leaf.by_category.items() if c not in leading]
    return groups


@dataclass(frozen=True)
class Suggestion:
    """What the live signals suggest: the path, and the reached conclusion's remediations
    in the order they are offered (the dominant error class's group first)."""

    path: DecisionPath
    groups: list[tuple[str | None, list[str]]]
    advice: str | None = None
    """What to do about the temporary mitigations in effect: keep watching while the
    vendor is down, revert them once it is operational again."""

    @property
    def first(self) -> list[str]:
        """The remediations offered first (the first group), if any."""
        return self.groups[0][1] if self.groups else []


def suggest(
    runbook: Runbook, readings: Readings, overrides: Mapping[str, bool] | None = None
) -> Suggestion:
    """The live path and its ranked remediations, as the decision pane shows them."""
    path = evaluate(runbook, readings, overrides)
    dominant = dominant_category(runbook, readings)
    groups = ranked_remediations(path.leaf, [dominant]) if path.leaf else []
    return Suggestion(path, groups, mitigation_advice(runbook, readings))


def mitigation_advice(runbook: Runbook, readings: Readings) -> str | None:
    """``Clay reports operational again: revert Enable fallback and watch the signals`` or
    ``Enable fallback in effect: monitor, and wait for Clay to recover before reverting``."""
    if not readings.mitigations:
        return None
    titles = ", ".join(readings.mitigations)
    vendor = runbook.vendor.name
    if readings.vendor is not None and readings.vendor.indicator == "none":
        return f"{vendor} reports operational again: revert {titles} (V) and watch the signals."
    return f"{titles} in effect: monitor, and wait for {vendor} to recover before reverting it."


def off_suggestion(runbook: Runbook, suggestion: Suggestion, remediation_id: str) -> str | None:
    """A sentence for the confirmation when ``remediation_id`` is not among the fixes the
    signals suggest first; None when it is, or when nothing is suggested."""
    first = suggestion.first
    if not first or remediation_id in first:
        return None
    category_id = suggestion.groups[0][0]
    category = next((c for c in runbook.categories if c.id == category_id), None)
    leaf = suggestion.path.leaf
    pointed = category.title if category is not None else (leaf.conclusion if leaf else "")

    def title(rid: str) -> str:
        try:
            return runbook.remediation(rid).title
        except KeyError:
            return rid

    return (
        f"Not the suggested fix: the signals point at {pointed}, where the runbook offers "
        + ", ".join(title(r) for r in first)
        + "."
    )


class Settler:
    """Lets the signals' answers settle before they are recorded: an answer counts once it
    has stayed the same for ``hold`` (a reading that flickers across a threshold for one
    poll records nothing), and each settled answer is given once until it changes."""

    def __init__(self, hold: timedelta) -> None:
        self.hold = hold
        self._seen: dict[str, tuple[bool, datetime]] = {}
        self._given: dict[str, bool] = {}

    def settled(self, answers: Iterable[Answer], now: datetime) -> list[Answer]:
        out: list[Answer] = []
        for answer in answers:
            if answer.how != "live" or answer.answer is None:
                continue
            seen = self._seen.get(answer.node)
            if seen is None or seen[0] != answer.answer:
                self._seen[answer.node] = (answer.answer, now)
                seen = self._seen[answer.node]
            if now - seen[1] >= self.hold and self._given.get(answer.node) != answer.answer:
                self._given[answer.node] = answer.answer
                out.append(answer)
        return out
