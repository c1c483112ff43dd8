"""The state of one incident as its record has it: the status lifecycle, the response clock,
the state pieces, and :class:`IncidentState`, which applies each event to them.

Status lifecycle::

    investigating -> identified -> mitigated -> monitoring -> resolved

Moving forward (skipping steps too) is free; moving back needs a reason, which is recorded.
``resolved`` is final until :meth:`Incident.reopen` with a reason.

Response clock: the response is due at declaration + the response time of the *current*
severity (the runbook's severity table). The clock stops when the impact is mitigated
(status ``mitigated``, ``monitoring`` or ``resolved``); :meth:`Incident.response_breached`
says whether it stopped, or is still running, past the deadline.

Event details, per kind (every value JSON-ready; times are the event's own ``time``):

- ``declared``: incident_id, runbook, vendor, title, severity, status, impact, commander
- ``severity_changed``: from, to, reason
- ``status_changed``: from, to, reason, backwards
- ``resolved``: from, summary; ``reopened``: to, reason
- ``signal_alert_raised``: signal, name, level, value, threshold, op, unit, previous_level;
  ``signal_alert_cleared``: signal, name, value, threshold, op, unit, level
- ``vendor_status_changed``: vendor, indicator, previous, description, incidents
- ``pod_restarts_seen``: pod, restarts, previous, reason
- ``source_fault``: backend, fault, message, hint; ``source_recovered``: backend, fault, down_for
- ``decision_answered``: node, question, answer (``yes``/``no``), how (``live``,
  ``override`` of a live answer, ``manual``), signal, value, threshold, op, previous,
  live_answer (for ``override``: the live answer on record then, or null)
- ``checklist_item_checked`` / ``_unchecked``: key, checklist, label, text
- ``remediation_*``: remediation, title, kind, action, run, result, error, plus the caller's
- ``comms_copied`` / ``comms_posted``: channel, destination, title, text
- ``note``: text; ``pinned`` / ``unpinned``: event, event_summary
- ``responder_joined``: name, role; ``commander_changed``: from, to
- ``export``: out, files, pinned_only
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from tui.decision import Answer, DecisionPath, walk
from tui.errors import IncidentError, UnknownReference, UnknownSeverity
from tui.record.event import Event, default_actor, utcnow
from tui.runbook import DecisionNode, Runbook, Severity
from tui.runbook.checklists import checklist_entries

__all__ = [
    "HUMAN_SOURCES",
    "REMEDIATION_STAGES",
    "SIGNALS_ACTOR",
    "STAGE_WORDS",
    "STATUSES",
    "AlertState",
    "ChecklistMark",
    "CommsSent",
    "IncidentState",
    "Note",
    "Recorder",
    "RemediationRun",
    "RemediationStage",
    "RemediationStep",
    "Status",
    "check_severity",
    "describe_remediation",
]


_BACKEND_NAMES = {
    "status_page": "Vendor status page",
    "health": "Health endpoint",
    "prometheus": "Prometheus",
    "kubernetes": "Kubernetes API",
    "logs": "Pod log streams",
}


Status = Literal["investigating", "identified", "mitigated", "monitoring", "resolved"]


STATUSES: tuple[str, ...] = get_args(Status)


_MITIGATED = ("mitigated", "monitoring", "resolved")


RemediationStage = Literal[
    "planned",
    "dry_run",
    "cancelled",
    "refused",
    "applied",
    "rolled_out",
    "effective",
    "not_effective",
    "failed",
    "reverted",
]
"""A remediation's stages: ``rolled_out`` says the pods took the change; ``effective`` and
``not_effective`` say whether the signals it was meant to move recovered. (Journals of
older versions say ``verified`` for ``rolled_out``; they are read as such.)"""


REMEDIATION_STAGES: tuple[str, ...] = get_args(RemediationStage)


Recorder = Callable[[Event], "Event | None"]
"""Stores an event and returns it as stored (masked), or None to keep it as given."""


HUMAN_SOURCES = ("cockpit", "cli")


SIGNALS_ACTOR = "signals"


@dataclass(frozen=True)
class AlertState:
    """A signal currently past its alert threshold."""

    signal: str
    name: str
    level: str
    value: float | None
    threshold: float | None
    op: str | None
    unit: str
    since: datetime
    peak: float | None = None
    """The worst reading since it was raised (the highest; the lowest for ``<``)."""


@dataclass(frozen=True)
class ChecklistMark:
    key: str
    actor: str
    at: datetime


@dataclass(frozen=True)
class RemediationStep:
    stage: RemediationStage
    at: datetime
    actor: str
    summary: str
    details: dict[str, Any]


@dataclass
class RemediationRun:
    """One attempt of a remediation, from ``planned`` to its last stage so far."""

    run: int
    remediation: str
    title: str
    kind: str
    action: str
    steps: list[RemediationStep] = field(default_factory=list)

    @property
    def stage(self) -> RemediationStage:
        return self.steps[-1].stage

    @property
    def started_at(self) -> datetime:
        return self.steps[0].at


@dataclass(frozen=True)
class CommsSent:
    channel: str
    action: Literal["copied", "posted"]
    destination: str | None
    title: str | None
    at: datetime
    actor: str


@dataclass(frozen=True)
class Note:
    event_id: str
    text: str
    actor: str
    at: datetime


def worse_reading(op: object, a: object, b: object) -> float | None:
    """The worse of two readings of an alert: the higher, or the lower for ``<``."""
    values = [float(v) for v in (a, b) if isinstance(v, int | float) and not isinstance(v, bool)]
    if not values:
        return None
    return min(values) if str(op or ">").startswith("<") else max(values)


def describe_remediation(runbook: Runbook, remediation_id: str) -> tuple[str, str, str]:
    """``(title, kind, action)`` of a runbook remediation, the action in a few words
    (``set RATE_LIMIT_MODE=queue on production/clay-integration``)."""
    try:
        remediation = runbook.remediation(remediation_id)
    except KeyError:
        return remediation_id, "unknown", ""
    target = f"{runbook.service.namespace}/{runbook.service.deployment}"
    kind = remediation.kind
    action = ""
    if remediation.kind == "set_env":
        pairs = ", ".join(
            f"{name}={value}" if value is not None else f"unset {name}"
            for name, value in remediation.env.items()
        )
        action = f"set {pairs} on {target}"
    elif remediation.kind == "rollout_restart":
        action = f"restart {target}"
    elif remediation.kind == "rollout_undo":
        revision = f" to revision {remediation.to_revision}" if remediation.to_revision else ""
        action = f"roll back {target}{revision}"
    elif remediation.kind == "rollout_pause":
        action = f"pause the rollout of {target}"
    elif remediation.kind == "rollout_resume":
        action = f"resume the rollout of {target}"
    elif remediation.kind == "scale":
        action = f"scale {target} to {remediation.replicas} replicas"
    elif remediation.kind == "set_image":
        action = f"set the image of {target}" + (
            f" to {remediation.image}" if remediation.image else ""
        )
    elif remediation.kind == "rotate_secret":
        secret = remediation.secret or runbook.service.secret or "the secret"
        key = remediation.key or runbook.service.secret_key
        action = f"replace {runbook.service.namespace}/{secret} key {key}"
        if remediation.restart:
            action += f" and restart {target}"
    elif remediation.kind == "http":
        action = f"{remediation.method} {remediation.url}"
    elif remediation.kind == "manual":
        action = "by hand"
    return remediation.title, kind, action


def _live_answer_on_record(previous: Answer | None) -> bool | None:
    """What the signals last answered to a question: its live answer, or, once a person
    answered it (live answers stop being recorded then), what they answered before."""
    if previous is None:
        return None
    return previous.answer if previous.live else previous.live_answer


STAGE_WORDS = {
    "planned": "planned",
    "dry_run": "dry run passed",
    "cancelled": "cancelled",
    "refused": "refused",
    "applied": "applied",
    "rolled_out": "rolled out",
    "effective": "effective",
    "not_effective": "not effective",
    "failed": "failed",
    "reverted": "reverted",
}


def check_severity(runbook: Runbook, level: str) -> str:
    """``p2`` -> ``P2`` if the runbook's severity table has it; :class:`UnknownSeverity`
    naming the levels it has otherwise."""
    normalized = level.strip().upper()
    known = [s.level for s in runbook.severities]
    if normalized not in known:
        raise UnknownSeverity(
            f'"{level}" is not a severity of runbook {runbook.id}; use one of {", ".join(known)}'
        )
    return normalized


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text or None


def _short_duration(value: timedelta) -> str:
    minutes = max(0, int(value.total_seconds()) // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


class IncidentState:
    """What the record says of one incident, rebuilt by applying its events in order
    (:meth:`apply`); :class:`~tui.record.incident.Incident` adds the changes, each recorded
    as one event."""

    def __init__(
        self,
        runbook: Runbook,
        *,
        recorder: Recorder | None = None,
        clock: Callable[[], datetime] = utcnow,
        actor: str | None = None,
        source: str = "cockpit",
    ) -> None:
        self.runbook = runbook
        self.recorder = recorder
        self.clock = clock
        self.actor = actor or default_actor()
        """Who the events of this process are recorded as (the login name by default)."""
        self.source = source

        self.id = ""
        self.title = ""
        self.impact: str | None = None
        self.severity = ""
        self.initial_severity = ""
        self.status: Status = "investigating"
        self.declared_at: datetime | None = None
        self.declared_by = ""
        self.resolved_at: datetime | None = None
        self.resolution: str | None = None
        self.mitigated_at: datetime | None = None
        self.commander: str | None = None
        self.responders: list[str] = []
        self.checked: dict[str, ChecklistMark] = {}
        self.decisions: dict[str, Answer] = {}
        self.remediations: list[RemediationRun] = []
        self.comms: list[CommsSent] = []
        self.notes: list[Note] = []
        self.pinned: dict[str, Event] = {}
        """Pinned events by id (events recorded pinned, and those pinned later)."""
        self.alerts: dict[str, AlertState] = {}
        """Signals past their threshold now."""
        self.alerted: list[str] = []
        """Every signal that alerted during the incident, in the order it first did."""
        self.alert_names: dict[str, str] = {}
        """What each alert that was raised is called (``Rate Limited``, ``Crash loop``)."""
        self.vendor_indicator: str | None = None
        self.vendor_description: str | None = None
        self.pod_restarts: dict[str, int] = {}
        self._restart_recorded_at: dict[str, datetime] = {}
        self.source_faults: dict[str, tuple[str, datetime]] = {}
        """Backends failing now: backend -> (fault kind, since)."""
        self.events: list[Event] = []
        """Every event applied, in order."""
        self._event_ids: dict[str, Event] = {}

    @property
    def is_open(self) -> bool:
        return self.status != "resolved"

    def severity_info(self) -> Severity:
        """The runbook's row for the current severity."""
        return self.runbook.severity(self.severity)

    def response_due(self) -> datetime:
        """Declaration + the response time of the current severity."""
        self._require_declared()
        assert self.declared_at is not None
        return self.declared_at + self.severity_info().response_time

    def response_remaining(self, now: datetime) -> timedelta:
        """Time left until the response is due (negative once past it); once the impact is
        mitigated, what was left then (the clock stops)."""
        return self.response_due() - (self.mitigated_at or now)

    def response_breached(self, now: datetime) -> bool:
        """Whether the impact was (or still is) unmitigated past the response deadline."""
        stop = self.mitigated_at or now
        return stop > self.response_due()

    def elapsed(self, now: datetime) -> timedelta:
        """Time from declaration to resolution, or to ``now`` while open."""
        self._require_declared()
        assert self.declared_at is not None
        return (self.resolved_at or now) - self.declared_at

    def checklist_progress(self, list_id: str) -> tuple[int, int]:
        """``(checked, total)`` items of one checklist."""
        entries = checklist_entries(self.runbook, list_id)
        return sum(1 for e in entries if e.key in self.checked), len(entries)

    def unit_of(self, signal_id: str | None) -> str:
        """The unit a runbook signal is shown in (``/min``); empty for built-in signals."""
        if signal_id is None:
            return ""
        try:
            return self.runbook.signal(signal_id).unit
        except KeyError:
            return ""

    def error_classes(self) -> list[str]:
        """Ids of the categories (error classes) whose signals alerted, in that order."""
        classes: list[str] = []
        for signal_id in self.alerted:
            for category in self.runbook.categories:
                try:
                    signal_class = self.runbook.signal(signal_id).error_class
                except KeyError:
                    signal_class = None
                if (category.id == signal_class or category.signal == signal_id) and (
                    category.id not in classes
                ):
                    classes.append(category.id)
        return classes

    def decision_path(self) -> DecisionPath:
        """From the root, following the answers on record, to a conclusion or the first
        unanswered question."""
        return walk(self.runbook, lambda node: self.decisions.get(node.id))

    def _question(self, node_id: str) -> DecisionNode:
        tree = self.runbook.decision_tree
        if tree is None:
            raise UnknownReference(f"runbook {self.runbook.id} has no decision tree")
        try:
            node = tree.node(node_id)
        except KeyError:
            raise UnknownReference(
                f'the decision tree of runbook {self.runbook.id} has no node "{node_id}"'
            ) from None
        if node.is_leaf:
            raise UnknownReference(f'"{node_id}" is a conclusion, not a question to answer')
        return node

    def remediation_run(self, remediation_id: str, run: int | None = None) -> RemediationRun | None:
        """The latest run of a remediation (or the one numbered ``run``), if any."""
        runs = [
            r
            for r in self.remediations
            if r.remediation == remediation_id and (run is None or r.run == run)
        ]
        return runs[-1] if runs else None

    def next_update_due(self) -> datetime | None:
        """When stakeholders expect the next update: the last one sent (copied or posted),
        or the declaration, + the runbook's ``comms.update_every``. None once resolved."""
        if self.runbook.comms is None or self.declared_at is None or not self.is_open:
            return None
        last = self.comms[-1].at if self.comms else self.declared_at
        return last + self.runbook.comms.update_every

    def comms_values(self, now: datetime) -> dict[str, str]:
        """The values of the communication templates' ``{placeholders}``."""
        due = self.next_update_due()
        current = "Investigating"
        # a remediation the responder decided against is not what is being done
        going = [r for r in self.remediations if r.stage not in ("cancelled", "refused")]
        if going:
            current = going[-1].steps[-1].summary
        elapsed = self.elapsed(now) if self.declared_at else timedelta(0)
        return {
            "severity": self.severity,
            "status": self.status,
            "title": self.title,
            "vendor": self.runbook.vendor.name,
            "impact": self.impact or "Under assessment",
            "current_action": current,
            "next_update": f"{due:%H:%M} UTC" if due else "none planned",
            "commander": self.commander or self.declared_by,
            "timestamp": f"{now:%Y-%m-%d %H:%M} UTC",
            "elapsed": _short_duration(elapsed),
        }

    def _event(self, event_id: str) -> Event:
        self._require_declared()
        try:
            return self._event_ids[event_id]
        except KeyError:
            raise UnknownReference(f'incident {self.id} has no event "{event_id}"') from None

    def apply_new(self, events: Iterable[Event]) -> list[Event]:
        """Apply events read from the journal (say by :meth:`Journal.read_new`), skipping
        those already applied; returns the ones that were new."""
        return [event for event in events if self.apply(event)]

    def apply(self, event: Event) -> bool:
        """Apply one recorded event to the state; False if it was applied before. Trusts
        the record: no lifecycle rule is checked here."""
        if event.id in self._event_ids:
            return False
        self._event_ids[event.id] = event
        self.events.append(event)
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler is not None:
            handler(event)
        if event.pinned:
            self.pinned[event.id] = event
        return True

    def _on_declared(self, event: Event) -> None:
        d = event.details
        self.id = str(d.get("incident_id", ""))
        self.title = str(d.get("title", ""))
        self.impact = d.get("impact")
        self.severity = self.initial_severity = str(d.get("severity", ""))
        self.status = d.get("status", "investigating")
        self.declared_at = event.time
        self.declared_by = event.actor
        self.commander = d.get("commander") or event.actor
        self._join(event.actor)
        if self.commander:
            self._join(self.commander)

    def _on_severity_changed(self, event: Event) -> None:
        self.severity = str(event.details.get("to", self.severity))

    def _on_status_changed(self, event: Event) -> None:
        self.status = event.details.get("to", self.status)
        if self.status in _MITIGATED and self.mitigated_at is None:
            self.mitigated_at = event.time
        elif self.status not in _MITIGATED:
            self.mitigated_at = None

    def _on_resolved(self, event: Event) -> None:
        self.status = "resolved"
        self.resolved_at = event.time
        self.resolution = event.details.get("summary")
        if self.mitigated_at is None:
            self.mitigated_at = event.time

    def _on_reopened(self, event: Event) -> None:
        self.status = event.details.get("to", "investigating")
        self.resolved_at = None
        if self.status not in _MITIGATED:
            self.mitigated_at = None

    def _on_commander_changed(self, event: Event) -> None:
        self.commander = event.details.get("to")
        if self.commander:
            self._join(self.commander)

    def _on_responder_joined(self, event: Event) -> None:
        self._join(str(event.details.get("name", event.actor)))

    def _join(self, name: str) -> None:
        if name and name not in self.responders:
            self.responders.append(name)

    def _on_checklist_item_checked(self, event: Event) -> None:
        key = str(event.details.get("key"))
        self.checked[key] = ChecklistMark(key, event.actor, event.time)

    def _on_checklist_item_unchecked(self, event: Event) -> None:
        self.checked.pop(str(event.details.get("key")), None)

    def _on_decision_answered(self, event: Event) -> None:
        d = event.details
        node = str(d.get("node"))
        if "live_answer" in d:
            live_answer = None if d["live_answer"] is None else d["live_answer"] == "yes"
        else:  # recorded before the event kept it; the answers before it say what it was
            live_answer = _live_answer_on_record(self.decisions.get(node))
        self.decisions[node] = Answer(
            node=node,
            question=str(d.get("question", "")),
            answer=d.get("answer") == "yes",
            how=d.get("how", "manual"),
            signal=d.get("signal"),
            value=d.get("value"),
            threshold=d.get("threshold"),
            op=d.get("op"),
            actor=event.actor,
            at=event.time,
            event_id=event.id,
            live_answer=live_answer,
        )

    def _on_remediation(self, event: Event) -> None:
        d = event.details
        said = event.kind.removeprefix("remediation_")
        # an older journal's "verified" only ever meant that the rollout completed
        stage: RemediationStage = "rolled_out" if said == "verified" else said  # type: ignore[assignment]
        remediation_id = str(d.get("remediation", ""))
        run_number = int(d.get("run", 0) or 0)
        run = next((r for r in self.remediations if r.run == run_number), None)
        if run is None:
            run = RemediationRun(
                run=run_number or len(self.remediations) + 1,
                remediation=remediation_id,
                title=str(d.get("title", remediation_id)),
                kind=str(d.get("kind", "")),
                action=str(d.get("action", "")),
            )
            self.remediations.append(run)
        run.steps.append(RemediationStep(stage, event.time, event.actor, event.summary, dict(d)))

    _on_remediation_planned = _on_remediation
    _on_remediation_dry_run = _on_remediation
    _on_remediation_cancelled = _on_remediation
    _on_remediation_refused = _on_remediation
    _on_remediation_applied = _on_remediation
    _on_remediation_verified = _on_remediation
    _on_remediation_rolled_out = _on_remediation
    _on_remediation_effective = _on_remediation
    _on_remediation_not_effective = _on_remediation
    _on_remediation_failed = _on_remediation
    _on_remediation_reverted = _on_remediation

    def _on_comms(self, event: Event) -> None:
        d = event.details
        self.comms.append(
            CommsSent(
                channel=str(d.get("channel", "")),
                action="posted" if event.kind == "comms_posted" else "copied",
                destination=d.get("destination"),
                title=d.get("title"),
                at=event.time,
                actor=event.actor,
            )
        )

    _on_comms_copied = _on_comms
    _on_comms_posted = _on_comms

    def _on_note(self, event: Event) -> None:
        text = str(event.details.get("text", event.summary))
        self.notes.append(Note(event.id, text, event.actor, event.time))

    def _on_pinned(self, event: Event) -> None:
        target = self._event_ids.get(str(event.details.get("event")))
        if target is not None:
            self.pinned[target.id] = target

    def _on_unpinned(self, event: Event) -> None:
        self.pinned.pop(str(event.details.get("event")), None)

    def _on_signal_alert_raised(self, event: Event) -> None:
        d = event.details
        signal = str(d.get("signal"))
        previous = self.alerts.get(signal)
        self.alerts[signal] = AlertState(
            signal=signal,
            name=str(d.get("name", signal)),
            level=str(d.get("level")),
            value=d.get("value"),
            threshold=d.get("threshold"),
            op=d.get("op"),
            unit=str(d.get("unit", "")),
            since=previous.since if previous else event.time,
            peak=worse_reading(d.get("op"), previous.peak if previous else None, d.get("value")),
        )
        if signal not in self.alerted:
            self.alerted.append(signal)
        self.alert_names[signal] = str(d.get("name", signal))

    def _on_signal_alert_cleared(self, event: Event) -> None:
        self.alerts.pop(str(event.details.get("signal")), None)

    def _on_vendor_status_changed(self, event: Event) -> None:
        self.vendor_indicator = event.details.get("indicator")
        self.vendor_description = event.details.get("description")

    def _on_pod_restarts_seen(self, event: Event) -> None:
        pod = str(event.details.get("pod"))
        self.pod_restarts[pod] = int(event.details.get("restarts", 0) or 0)
        self._restart_recorded_at[pod] = event.time

    def _on_source_fault(self, event: Event) -> None:
        backend = str(event.details.get("backend"))
        # a fault that changes kind (5xx, then 401, then down) is one outage: it lasts
        # from the first fault until the backend answers again
        current = self.source_faults.get(backend)
        since = current[1] if current is not None else event.time
        self.source_faults[backend] = (str(event.details.get("fault")), since)

    def _on_source_recovered(self, event: Event) -> None:
        self.source_faults.pop(str(event.details.get("backend")), None)

    def _require_declared(self) -> None:
        if self.declared_at is None:
            raise IncidentError("the incident has not been declared yet")

    def _check_severity(self, level: str) -> str:
        return check_severity(self.runbook, level)
