"""Whether a remediation worked. A rollout that finished says only that the pods took the
change; a remediation is judged by the signals it is meant to move: after the rollout they
are watched until they have read under their alert thresholds for the runbook's window
(**effective**) or the watch runs out while they still do not (**not effective**).

Which signals: the remediation's ``verify.signals`` when the runbook names them; else
those alerting when it was applied (the problem at hand: a wrong fix leaves them
alerting), the signal of each error class it is grouped under, and our ``/health`` when a
question about it leads to a leaf that offers it. No data is never "recovered".

Pure: :class:`Judge` is fed readings and times and says where the watch stands.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from tui.decision import Readings
from tui.runbook import (
    AnyOf,
    Condition,
    Not,
    Predicate,
    Remediation,
    Runbook,
    format_duration,
)

__all__ = ["HEALTH", "VENDOR", "Judge", "SignalState", "Verdict", "WatchPlan", "watch_plan"]

HEALTH = "health.status"
VENDOR = "vendor.indicator"

VerdictState = Literal["watching", "effective", "not_effective", "nothing_to_watch"]


@dataclass(frozen=True)
class WatchPlan:
    """The signals a rolled-out remediation is judged by, and for how long."""

    signals: tuple[str, ...]
    window: timedelta
    within: timedelta
    names: tuple[str, ...] = ()
    """The signals as the responder reads them (``Auth Failures``, ``health``)."""

    def words(self) -> str:
        """``Auth Failures and health for 2m``."""
        if not self.names:
            return "nothing"
        shown = (
            self.names[0]
            if len(self.names) == 1
            else ", ".join(self.names[:-1]) + " and " + self.names[-1]
        )
        return f"{shown} for {format_duration(self.window)}"

    def as_details(self) -> dict[str, object]:
        return {
            "signals": list(self.signals),
            "window": format_duration(self.window),
            "within": format_duration(self.within),
        }


def _name(runbook: Runbook, signal_id: str) -> str:
    if signal_id == HEALTH:
        return "health"
    if signal_id == VENDOR:
        return "vendor status"
    try:
        return runbook.signal(signal_id).name
    except KeyError:
        return signal_id


def _health_leads_to(runbook: Runbook, remediation_id: str) -> bool:
    """Whether a question on our health lies on the way to a leaf that offers it."""
    tree = runbook.decision_tree
    if tree is None:
        return False
    offering = {
        n.id
        for n in tree.nodes
        if remediation_id in n.remediations
        or any(remediation_id in ids for ids in n.by_category.values())
    }
    parents: dict[str, str] = {}
    for node in tree.nodes:
        for child in (node.yes, node.no):
            if child is not None:
                parents.setdefault(child, node.id)
    for leaf in offering:
        at = parents.get(leaf)
        seen: set[str] = set()
        while at is not None and at not in seen:
            seen.add(at)
            node = tree.node(at)
            if node.when is not None and any(
                s.startswith("health.") for s in _signals_of_all(node.when)
            ):
                return True
            at = parents.get(at)
    return False


def _signals_of_all(condition: Condition) -> list[str]:
    if isinstance(condition, Predicate):
        return [condition.signal]
    if isinstance(condition, Not):
        return _signals_of_all(condition.not_)
    parts = condition.any if isinstance(condition, AnyOf) else condition.all
    return [s for part in parts for s in _signals_of_all(part)]


def watch_plan(runbook: Runbook, remediation: Remediation, readings: Readings) -> WatchPlan:
    """The signals to judge ``remediation`` by, given the readings when it was applied."""
    spec = remediation.verify
    chosen: list[str] = list(spec.signals)
    judged = {s.id for s in runbook.signals if s.alert is not None}
    alerting = [
        signal_id
        for signal_id, reading in readings.metrics.items()
        if signal_id in judged and reading.alerting
    ]
    if chosen and alerting and not set(chosen) & set(alerting):
        # none of the signals it is meant to move was failing: it is judged by the alerts
        # it was applied against too (queueing cannot be effective against a 503 outage
        # because no 429 came)
        chosen += alerting
    if not chosen:
        chosen += alerting
        tree = runbook.decision_tree
        for node in tree.nodes if tree is not None else ():
            for category_id, ids in node.by_category.items():
                if remediation.id not in ids:
                    continue
                category = next((c for c in runbook.categories if c.id == category_id), None)
                if category is not None and category.signal in judged:
                    chosen.append(category.signal)
        if _health_leads_to(runbook, remediation.id):
            chosen.append(HEALTH)
    ordered = tuple(dict.fromkeys(chosen))
    return WatchPlan(ordered, spec.window, spec.within, tuple(_name(runbook, s) for s in ordered))


@dataclass(frozen=True)
class SignalState:
    """One watched signal now: recovered (True), still a problem (False), no data (None)."""

    signal: str
    name: str
    recovered: bool | None
    evidence: str


def signal_state(runbook: Runbook, signal_id: str, readings: Readings) -> SignalState:
    name = _name(runbook, signal_id)
    if signal_id == HEALTH:
        health = readings.health
        if health is None:
            return SignalState(signal_id, name, None, "health: no data")
        return SignalState(signal_id, name, health.healthy, f"health: {health.status}")
    if signal_id == VENDOR:
        vendor = readings.vendor
        if vendor is None:
            return SignalState(signal_id, name, None, "vendor status: no data")
        said = f"vendor status: {vendor.indicator}"
        return SignalState(signal_id, name, vendor.indicator == "none", said)
    reading = readings.metrics.get(signal_id)
    if reading is None or reading.value is None:
        return SignalState(signal_id, name, None, f"{name}: no data")
    return SignalState(signal_id, name, not reading.alerting, reading.evidence)


@dataclass(frozen=True)
class Verdict:
    """Where the watch stands."""

    state: VerdictState
    signals: tuple[SignalState, ...] = ()
    clear_for: timedelta = timedelta(0)
    """How long every watched signal has read recovered, without a break."""
    left: timedelta = timedelta(0)
    """How long the watch goes on before it calls the remediation not effective."""

    @property
    def done(self) -> bool:
        return self.state != "watching"

    @property
    def evidence(self) -> str:
        """``Auth Failures: 842/min > 0/min; health: down``."""
        return "; ".join(s.evidence for s in self.signals)

    @property
    def problems(self) -> str:
        """The watched signals that have not recovered, as evidence."""
        return "; ".join(s.evidence for s in self.signals if s.recovered is not True)


@dataclass
class Judge:
    """Feeds on readings as they come and says when the remediation is judged."""

    runbook: Runbook
    plan: WatchPlan
    started: datetime
    _clear_since: datetime | None = field(default=None, init=False)
    verdict: Verdict = field(default_factory=lambda: Verdict("watching"), init=False)

    def observe(self, readings: Readings, now: datetime) -> Verdict:
        """The watch after these readings at ``now``; once judged, the verdict stays."""
        if self.verdict.done:
            return self.verdict
        if not self.plan.signals:
            self.verdict = Verdict("nothing_to_watch")
            return self.verdict
        self._watch_new_alerts(readings)
        states = tuple(signal_state(self.runbook, s, readings) for s in self.plan.signals)
        if all(s.recovered is True for s in states):
            self._clear_since = self._clear_since or now
        else:
            self._clear_since = None
        clear_for = now - self._clear_since if self._clear_since is not None else timedelta(0)
        left = max(timedelta(0), self.started + self.plan.within - now)
        state: VerdictState = "watching"
        if self._clear_since is not None and clear_for >= self.plan.window:
            state = "effective"
        elif left <= timedelta(0):
            state = "not_effective"
        self.verdict = Verdict(state, states, clear_for, left)
        return self.verdict

    def _watch_new_alerts(self, readings: Readings) -> None:
        """An alert of the runbook that fires during the watch is watched too: a fix
        cannot be effective while the incident's alerts still fire (queueing does nothing
        for a 503 outage whose errors were still ramping up when it was applied)."""
        judged = {s.id for s in self.runbook.signals if s.alert is not None}
        new = tuple(
            signal_id
            for signal_id, reading in readings.metrics.items()
            if signal_id in judged and reading.alerting and signal_id not in self.plan.signals
        )
        if new:
            self.plan = dataclasses.replace(
                self.plan,
                signals=self.plan.signals + new,
                names=self.plan.names + tuple(_name(self.runbook, s) for s in new),
            )
