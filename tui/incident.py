"""The state of one incident, changed only through methods that each record one timeline event.

:class:`Incident` does no I/O. It is given a *recorder* (a :class:`tui.timeline.Journal`, or
any callable taking an :class:`~tui.timeline.Event` and returning it as stored) and, for
every change, builds one event, records it, then applies the event as recorded to itself.
The same ``apply`` rebuilds an incident from its journal (:meth:`Incident.from_events`) and
takes in events another process appended (:meth:`Incident.apply_new`): the record is the
source of truth.

Status lifecycle::

    investigating -> identified -> mitigated -> monitoring -> resolved

Moving forward (skipping steps too) is free; moving back needs a reason, which is recorded.
``resolved`` is final until :meth:`Incident.reopen` with a reason.

Response clock: the response is due at declaration + the response time of the *current*
severity (the runbook's severity table). The clock stops when the impact is mitigated
(status ``mitigated``, ``monitoring`` or ``resolved``); :meth:`Incident.response_breached`
says whether it stopped, or is still running, past the deadline.

Checklist keys name one item of a runbook checklist: ``<checklist id>/<step>`` with the
step numbered from 1, then ``/<letter>`` for a nested item (``a``, ``b``, …), then numbers
and letters alternating deeper down: ``auth_outage/4/a`` is item *a* of step 4 of the
``auth_outage`` checklist. The actions of a category use ``category:<category id>/…``
(``category:rate_limit/2``); ``:`` cannot occur in an id, so the two never clash.

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

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from tui.decision import Answer, DecisionPath, evidence_text, override_words, walk
from tui.errors import IncidentTuiError
from tui.runbook import ChecklistItem, DecisionNode, Runbook, Severity
from tui.signals import format_value
from tui.timeline import Event, EventKind, default_actor, utcnow

_BACKEND_NAMES = {
    "status_page": "Vendor status page",
    "health": "Health endpoint",
    "prometheus": "Prometheus",
    "kubernetes": "Kubernetes API",
    "logs": "Pod log streams",
}

__all__ = [
    "STATUSES",
    "AlertState",
    "ChecklistEntry",
    "CommsSent",
    "IllegalStatusChange",
    "Incident",
    "IncidentError",
    "Note",
    "Recorder",
    "RemediationRun",
    "RemediationStage",
    "RemediationStep",
    "Status",
    "UnknownReference",
    "UnknownSeverity",
    "check_severity",
    "checklist_entries",
    "find_checklist_entry",
]

Status = Literal["investigating", "identified", "mitigated", "monitoring", "resolved"]
STATUSES: tuple[str, ...] = get_args(Status)
_MITIGATED = ("mitigated", "monitoring", "resolved")

RemediationStage = Literal[
    "planned", "dry_run", "cancelled", "refused", "applied", "verified", "failed", "reverted"
]
REMEDIATION_STAGES: tuple[str, ...] = get_args(RemediationStage)

Recorder = Callable[[Event], "Event | None"]
"""Stores an event and returns it as stored (masked), or None to keep it as given."""

HUMAN_SOURCES = ("cockpit", "cli")
SIGNALS_ACTOR = "signals"


# --------------------------------------------------------------------------- errors


class IncidentError(IncidentTuiError):
    """A change the incident's current state does not allow."""


class IllegalStatusChange(IncidentError):
    """A status move the lifecycle forbids (backwards without a reason, out of resolved)."""


class UnknownSeverity(IncidentError):
    """A severity level the runbook's severity table does not have."""


class UnknownReference(IncidentError):
    """A checklist key, decision node, event or remediation that does not exist."""


# --------------------------------------------------------------------------- state pieces


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


@dataclass(frozen=True)
class ChecklistEntry:
    """One item of a checklist, with its key (see the module docstring)."""

    key: str
    label: str
    """How it is numbered on screen: ``4``, ``4.a``."""
    text: str
    depth: int
    item: ChecklistItem
    list_id: str
    list_title: str


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


# --------------------------------------------------------------------------- checklists


def _segment(depth: int, index: int) -> str:
    if depth % 2 == 0 and index < 26:
        return chr(ord("a") + index)
    return str(index + 1)


def _walk(
    items: list[ChecklistItem], prefix: str, label: str, depth: int, list_id: str, title: str
) -> Iterator[ChecklistEntry]:
    for index, item in enumerate(items):
        segment = _segment(depth, index)
        key = f"{prefix}/{segment}"
        shown = f"{label}.{segment}" if label else segment
        yield ChecklistEntry(key, shown, item.text, depth, item, list_id, title)
        yield from _walk(item.items, key, shown, depth + 1, list_id, title)


def checklist_entries(runbook: Runbook, list_id: str) -> list[ChecklistEntry]:
    """Every item of a checklist (or ``category:<id>`` action list), depth first."""
    if list_id.startswith("category:"):
        category_id = list_id.removeprefix("category:")
        for category in runbook.categories:
            if category.id == category_id:
                return list(_walk(category.actions, list_id, "", 1, list_id, category.title))
    else:
        for checklist in runbook.checklists:
            if checklist.id == list_id:
                return list(_walk(checklist.steps, list_id, "", 1, list_id, checklist.title))
    raise UnknownReference(f'runbook {runbook.id} has no checklist "{list_id}"')


def all_checklist_ids(runbook: Runbook) -> list[str]:
    """The ids of every checklist, then ``category:<id>`` of every category with actions."""
    return [c.id for c in runbook.checklists] + [
        f"category:{c.id}" for c in runbook.categories if c.actions
    ]


def find_checklist_entry(runbook: Runbook, key: str) -> ChecklistEntry:
    """The item a checklist key names; :class:`UnknownReference` if there is none."""
    list_id = key.split("/", 1)[0]
    for entry in checklist_entries(runbook, list_id):
        if entry.key == key:
            return entry
    raise UnknownReference(f'checklist "{list_id}" of runbook {runbook.id} has no item "{key}"')


# --------------------------------------------------------------------------- formatting


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


_STAGE_WORDS = {
    "planned": "planned",
    "dry_run": "dry run passed",
    "cancelled": "cancelled",
    "refused": "refused",
    "applied": "applied",
    "verified": "verified",
    "failed": "failed",
    "reverted": "reverted",
}


# --------------------------------------------------------------------------- the incident


class Incident:
    """One incident: pure state, changed by methods that each record exactly one event.

    Methods that would change nothing (the same severity again, a checked item checked
    again, a live answer the signals already gave) record nothing and return None; the
    others return the event as recorded.
    """

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
        self.vendor_indicator: str | None = None
        self.vendor_description: str | None = None
        self.pod_restarts: dict[str, int] = {}
        self._restart_recorded_at: dict[str, datetime] = {}
        self.source_faults: dict[str, tuple[str, datetime]] = {}
        """Backends failing now: backend -> (fault kind, since)."""
        self.events: list[Event] = []
        """Every event applied, in order."""
        self._event_ids: dict[str, Event] = {}

    # ----------------------------------------------------------------- building

    @classmethod
    def declare(
        cls,
        runbook: Runbook,
        *,
        incident_id: str,
        title: str,
        severity: str,
        impact: str | None = None,
        commander: str | None = None,
        recorder: Recorder | None = None,
        clock: Callable[[], datetime] = utcnow,
        actor: str | None = None,
        source: str = "cockpit",
    ) -> Incident:
        """Open a new incident: records the ``declared`` event."""
        incident = cls(runbook, recorder=recorder, clock=clock, actor=actor, source=source)
        if not title.strip():
            raise IncidentError("an incident needs a title")
        level = incident._check_severity(severity)
        details = {
            "incident_id": incident_id,
            "runbook": runbook.id,
            "vendor": runbook.vendor.name,
            "title": title.strip(),
            "severity": level,
            "status": "investigating",
            "impact": impact.strip() if impact and impact.strip() else None,
            "commander": commander or None,
        }
        summary = f"Incident declared: {title.strip()} ({level})"
        incident._emit("declared", summary, details)
        return incident

    @classmethod
    def from_events(
        cls,
        runbook: Runbook,
        events: Iterable[Event],
        *,
        recorder: Recorder | None = None,
        clock: Callable[[], datetime] = utcnow,
        actor: str | None = None,
        source: str = "cockpit",
    ) -> Incident:
        """Rebuild an incident from its journal's events (resume, replay, export)."""
        incident = cls(runbook, recorder=recorder, clock=clock, actor=actor, source=source)
        for event in events:
            incident.apply(event)
        if incident.declared_at is None:
            raise IncidentError("the journal has no `declared` event, so it holds no incident")
        return incident

    # ----------------------------------------------------------------- lifecycle

    @property
    def is_open(self) -> bool:
        return self.status != "resolved"

    def severity_info(self) -> Severity:
        """The runbook's row for the current severity."""
        return self.runbook.severity(self.severity)

    def set_severity(self, level: str, *, reason: str | None = None) -> Event | None:
        """Change the severity (P1-P4, as the runbook's table has them)."""
        self._require_declared()
        level = self._check_severity(level)
        if level == self.severity:
            return None
        reason = _clean(reason)
        summary = f"Severity changed from {self.severity} to {level}"
        if reason:
            summary += f": {reason}"
        return self._emit(
            "severity_changed", summary, {"from": self.severity, "to": level, "reason": reason}
        )

    def set_status(self, status: str, *, reason: str | None = None) -> Event | None:
        """Move along the lifecycle; backwards needs a reason. ``resolved`` resolves."""
        self._require_declared()
        if status not in STATUSES:
            raise IllegalStatusChange(
                f'"{status}" is not a status; the statuses are {", ".join(STATUSES)}'
            )
        reason = _clean(reason)
        if self.status == "resolved":
            if status == "resolved":
                return None
            raise IllegalStatusChange(
                f"incident {self.id} is resolved; reopen it with a reason to change its status"
            )
        if status == "resolved":
            return self.resolve(reason)
        if status == self.status:
            return None
        backwards = STATUSES.index(status) < STATUSES.index(self.status)
        if backwards and not reason:
            raise IllegalStatusChange(
                f"moving incident {self.id} back from {self.status} to {status} needs a reason"
            )
        if backwards:
            summary = f"Status moved back from {self.status} to {status}: {reason}"
        else:
            summary = f"Status changed from {self.status} to {status}"
            if reason:
                summary += f": {reason}"
        details = {"from": self.status, "to": status, "reason": reason, "backwards": backwards}
        return self._emit("status_changed", summary, details)

    def resolve(self, summary: str | None = None) -> Event:
        """Resolve the incident; ``summary`` becomes the postmortem's summary."""
        self._require_declared()
        if self.status == "resolved":
            raise IllegalStatusChange(f"incident {self.id} is already resolved")
        summary = _clean(summary)
        text = f"Incident resolved: {summary}" if summary else "Incident resolved"
        return self._emit("resolved", text, {"from": self.status, "summary": summary})

    def reopen(self, reason: str, *, status: str = "investigating") -> Event:
        """Reopen a resolved incident, at ``status`` (investigating by default)."""
        self._require_declared()
        if self.status != "resolved":
            raise IllegalStatusChange(
                f"incident {self.id} is not resolved, so it cannot be reopened"
            )
        cleaned = _clean(reason)
        if not cleaned:
            raise IllegalStatusChange(f"reopening incident {self.id} needs a reason")
        reason = cleaned
        if status not in STATUSES or status == "resolved":
            raise IllegalStatusChange(
                f'an incident reopens as one of {", ".join(STATUSES[:-1])}, not "{status}"'
            )
        return self._emit(
            "reopened", f"Incident reopened ({status}): {reason}", {"to": status, "reason": reason}
        )

    def response_due(self) -> datetime:
        """Declaration + the response time of the current severity."""
        self._require_declared()
        assert self.declared_at is not None
        return self.declared_at + self.severity_info().response_time

    def response_remaining(self, now: datetime) -> timedelta:
        """Time left until the response is due (negative once past it)."""
        return self.response_due() - now

    def response_breached(self, now: datetime) -> bool:
        """Whether the impact was (or still is) unmitigated past the response deadline."""
        stop = self.mitigated_at or now
        return stop > self.response_due()

    def elapsed(self, now: datetime) -> timedelta:
        """Time from declaration to resolution, or to ``now`` while open."""
        self._require_declared()
        assert self.declared_at is not None
        return (self.resolved_at or now) - self.declared_at

    # ----------------------------------------------------------------- people

    def set_commander(self, name: str) -> Event | None:
        """Hand the incident command to ``name``."""
        self._require_declared()
        name = name.strip()
        if not name:
            raise IncidentError("the incident commander needs a name")
        if name == self.commander:
            return None
        summary = f"Incident commander: {name}" + (
            f" (was {self.commander})" if self.commander else ""
        )
        return self._emit("commander_changed", summary, {"from": self.commander, "to": name})

    def add_responder(self, name: str, *, role: str | None = None) -> Event | None:
        """``name`` joins the response."""
        self._require_declared()
        name = name.strip()
        if not name:
            raise IncidentError("a responder needs a name")
        if name in self.responders:
            return None
        summary = f"{name} joined the response" + (f" as {role}" if role else "")
        return self._emit("responder_joined", summary, {"name": name, "role": role})

    # ----------------------------------------------------------------- checklists

    def check(self, key: str) -> Event | None:
        """Tick a checklist item (key scheme in the module docstring)."""
        return self._mark(key, True)

    def uncheck(self, key: str) -> Event | None:
        """Untick a checklist item."""
        return self._mark(key, False)

    def toggle(self, key: str) -> Event | None:
        return self._mark(key, key not in self.checked)

    def checklist_progress(self, list_id: str) -> tuple[int, int]:
        """``(checked, total)`` items of one checklist."""
        entries = checklist_entries(self.runbook, list_id)
        return sum(1 for e in entries if e.key in self.checked), len(entries)

    def _mark(self, key: str, checked: bool) -> Event | None:
        self._require_declared()
        entry = find_checklist_entry(self.runbook, key)
        if (key in self.checked) == checked:
            return None
        verb = "checked" if checked else "unchecked"
        summary = f"{entry.list_title}: {verb} {entry.label}. {entry.text}"
        details = {
            "key": key,
            "checklist": entry.list_title,
            "label": entry.label,
            "text": entry.text,
        }
        kind: EventKind = "checklist_item_checked" if checked else "checklist_item_unchecked"
        return self._emit(kind, summary, details)

    # ----------------------------------------------------------------- decisions

    def answer(
        self,
        node_id: str,
        answer: bool,
        *,
        live: bool = False,
        signal: str | None = None,
        value: float | str | None = None,
        threshold: float | str | list[str] | None = None,
        op: str | None = None,
    ) -> Event | None:
        """Answer a question of the decision tree, with the evidence behind the answer.

        A live answer the tree already holds records nothing, and a live answer never
        replaces a person's (an override stays until a person changes it).
        """
        self._require_declared()
        node = self._question(node_id)
        how: Literal["live", "override", "manual"] = (
            "live" if live else ("override" if node.when is not None else "manual")
        )
        previous = self.decisions.get(node_id)
        if previous is not None:
            if live and not previous.live:
                return None
            if previous.answer == answer and previous.how == how:
                return None
        word = "Yes" if answer else "No"
        summary = f"Decision: {node.question} {word}"
        evidence = evidence_text(signal, value, threshold, op, self.unit_of(signal))
        live_answer = _live_answer_on_record(previous)
        if how == "live":
            summary += f" (live: {evidence})" if evidence else " (live)"
        elif how == "override":
            summary += " (" + override_words(answer, live_answer)
            summary += f"; {evidence})" if evidence else ")"
        elif evidence:
            summary += f" ({evidence})"
        details = {
            "node": node_id,
            "question": node.question,
            "answer": "yes" if answer else "no",
            "how": how,
            "signal": signal,
            "value": value,
            "threshold": threshold,
            "op": op,
            "previous": None if previous is None else ("yes" if previous.answer else "no"),
            "live_answer": None if live_answer is None else ("yes" if live_answer else "no"),
        }
        return self._emit("decision_answered", summary, details)

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

    # ----------------------------------------------------------------- remediations

    def record_remediation(
        self,
        remediation_id: str,
        stage: RemediationStage,
        *,
        result: str | None = None,
        error: str | None = None,
        details: dict[str, Any] | None = None,
        run: int | None = None,
    ) -> Event:
        """Record a stage of a remediation: planned, dry_run (passed), cancelled (the
        responder did not apply it), refused (the cluster changed since the dry run, so
        nothing was applied), applied, verified, failed (``error`` says why) or
        reverted. ``planned`` starts a new run; the other stages continue the latest run of
        that remediation. ``result`` is a few words on the outcome (``3/3 pods Ready``)."""
        self._require_declared()
        if stage not in REMEDIATION_STAGES:
            raise IncidentError(
                f'"{stage}" is not a remediation stage; the stages are {", ".join(REMEDIATION_STAGES)}'
            )
        title, kind, action = describe_remediation(self.runbook, remediation_id)
        if kind == "unknown" and details and isinstance(details.get("title"), str):
            title = details["title"]
        runs = [r for r in self.remediations if r.remediation == remediation_id]
        if stage == "planned" or not runs:
            run = max((r.run for r in self.remediations), default=0) + 1
        elif run is None:
            # without its number, a stage continues the latest run of that remediation
            run = runs[-1].run
        result, error = _clean(result), _clean(error)
        summary = f"Remediation {_STAGE_WORDS[stage]}: {title}"
        if stage == "planned" and action:
            summary += f" ({action})"
        if error:
            summary += f": {error}"
        elif result:
            summary += f": {result}"
        facts = dict(details or {})
        facts.update(
            {
                "remediation": remediation_id,
                "title": title,
                "kind": kind,
                "action": action,
                "run": run,
                "result": result,
                "error": error,
            }
        )
        kind_name: EventKind = f"remediation_{stage}"  # type: ignore[assignment]
        return self._emit(kind_name, summary, facts)

    def remediation_run(self, remediation_id: str, run: int | None = None) -> RemediationRun | None:
        """The latest run of a remediation (or the one numbered ``run``), if any."""
        runs = [
            r
            for r in self.remediations
            if r.remediation == remediation_id and (run is None or r.run == run)
        ]
        return runs[-1] if runs else None

    # ----------------------------------------------------------------- comms

    def comms_copied(
        self, channel: str, *, title: str | None = None, text: str | None = None
    ) -> Event:
        """A communication was copied to the clipboard (to paste into Slack or the page)."""
        self._require_declared()
        summary = f"{channel.capitalize()} update copied" + (f": {title}" if title else "")
        details = {"channel": channel, "destination": None, "title": title, "text": text}
        return self._emit("comms_copied", summary, details)

    def comms_posted(
        self,
        channel: str,
        *,
        destination: str,
        title: str | None = None,
        text: str | None = None,
    ) -> Event:
        """A communication was posted (``destination``: ``Slack``, ``status page``…)."""
        self._require_declared()
        summary = f"{channel.capitalize()} update posted to {destination}" + (
            f": {title}" if title else ""
        )
        details = {"channel": channel, "destination": destination, "title": title, "text": text}
        return self._emit("comms_posted", summary, details)

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

    # ----------------------------------------------------------------- notes and pins

    def note(self, text: str, *, pin: bool = False) -> Event:
        """Write a note on the timeline; ``pin`` pins it at once."""
        self._require_declared()
        text = text.strip()
        if not text:
            raise IncidentError("a note needs some text")
        summary = " ".join(text.split())
        return self._emit("note", summary, {"text": text}, pinned=pin)

    def pin(self, event_id: str) -> Event | None:
        """Pin an event, so a pinned-only export keeps it."""
        target = self._event(event_id)
        if event_id in self.pinned:
            return None
        return self._emit(
            "pinned",
            f"Pinned: {target.summary}",
            {"event": event_id, "event_summary": target.summary},
        )

    def unpin(self, event_id: str) -> Event | None:
        target = self._event(event_id)
        if event_id not in self.pinned:
            return None
        return self._emit(
            "unpinned",
            f"Unpinned: {target.summary}",
            {"event": event_id, "event_summary": target.summary},
        )

    def record_export(self, out: str, *, files: list[str], pinned_only: bool = False) -> Event:
        """The postmortem and evidence were exported to ``out``."""
        self._require_declared()
        what = "pinned events" if pinned_only else "postmortem and evidence"
        return self._emit(
            "export",
            f"Exported the {what} to {out}",
            {"out": out, "files": files, "pinned_only": pinned_only},
        )

    def _event(self, event_id: str) -> Event:
        self._require_declared()
        try:
            return self._event_ids[event_id]
        except KeyError:
            raise UnknownReference(f'incident {self.id} has no event "{event_id}"') from None

    # ----------------------------------------------------------------- signals

    def observe_alert(
        self,
        signal_id: str,
        level: str | None,
        value: float | None,
        threshold: float | None = None,
    ) -> Event | None:
        """Feed every poll of a signal here: ``level`` is the alert's severity while past
        its threshold, and None (or ``ok``) when not. Records ``signal_alert_raised`` once
        per crossing (again if the level changes) and ``signal_alert_cleared`` once when
        it clears; ``unknown`` (no data) changes nothing."""
        self._require_declared()
        if level == "unknown":
            return None
        if level == "ok":
            level = None
        name, unit, op, rule_threshold = signal_id, "", ">", threshold
        try:
            signal = self.runbook.signal(signal_id)
        except KeyError:
            pass
        else:
            name, unit = signal.name, signal.unit
            if signal.alert is not None:
                op = signal.alert.op
                rule_threshold = signal.alert.value if threshold is None else threshold
        current = self.alerts.get(signal_id)
        if level is None:
            if current is None:
                return None
            summary = f"Alert cleared: {name} at {format_value(value, unit)}"
            details = {
                "signal": signal_id,
                "name": name,
                "level": current.level,
                "value": value,
                "threshold": rule_threshold,
                "op": op,
                "unit": unit,
            }
            return self._emit(
                "signal_alert_cleared", summary, details, actor=SIGNALS_ACTOR, source="signals"
            )
        if current is not None and current.level == level:
            return None
        reading = format_value(value, unit)
        if rule_threshold is not None:
            reading += f" {op} {format_value(rule_threshold, unit)}"
        summary = f"Alert raised: {name} ({level}): {reading}"
        details = {
            "signal": signal_id,
            "name": name,
            "level": level,
            "value": value,
            "threshold": rule_threshold,
            "op": op,
            "unit": unit,
            "previous_level": current.level if current else None,
        }
        return self._emit(
            "signal_alert_raised", summary, details, actor=SIGNALS_ACTOR, source="signals"
        )

    def observe_vendor_status(
        self,
        indicator: str,
        *,
        description: str | None = None,
        incidents: int | None = None,
    ) -> Event | None:
        """Feed every poll of the vendor's status page: records a change of its indicator
        (``none``, ``minor``, ``major``, ``critical``); an all-clear first reading is the
        baseline and records nothing."""
        self._require_declared()
        previous = self.vendor_indicator
        if indicator == previous or (previous is None and indicator == "none"):
            if previous is None:
                # remember the baseline without an event; it is not part of the record
                self.vendor_indicator = indicator
            return None
        vendor = self.runbook.vendor.name
        summary = f"{vendor} status page: {indicator}"
        if description:
            summary += f" ({description})"
        if incidents:
            summary += f", {incidents} open incident{'s' if incidents != 1 else ''}"
        details = {
            "vendor": vendor,
            "indicator": indicator,
            "previous": previous,
            "description": description,
            "incidents": incidents,
        }
        return self._emit(
            "vendor_status_changed", summary, details, actor=SIGNALS_ACTOR, source="signals"
        )

    def observe_source(
        self,
        backend: str,
        fault: str | None,
        *,
        message: str | None = None,
        hint: str | None = None,
    ) -> Event | None:
        """Feed every poll of a backend: ``fault`` is its failure kind (``unreachable``,
        ``auth_expired``...) or None when it answered. Records ``source_fault`` once when a
        backend starts failing (again if the kind changes) and ``source_recovered`` once when
        it answers again, never once per poll."""
        self._require_declared()
        current = self.source_faults.get(backend)
        if fault is None:
            if current is None:
                return None
            since = current[1]
            down_for = int((self.clock() - since).total_seconds())
            summary = f"{_BACKEND_NAMES.get(backend, backend)} answers again after {down_for} s"
            details = {"backend": backend, "fault": current[0], "down_for": down_for}
            return self._emit(
                "source_recovered", summary, details, actor=SIGNALS_ACTOR, source="signals"
            )
        if current is not None and current[0] == fault:
            return None
        summary = f"{_BACKEND_NAMES.get(backend, backend)} failing ({fault.replace('_', ' ')})"
        if message:
            summary += f": {message}"
        details = {"backend": backend, "fault": fault, "message": message, "hint": hint}
        return self._emit("source_fault", summary, details, actor=SIGNALS_ACTOR, source="signals")

    def observe_pod_restarts(
        self, pod: str, restarts: int, *, reason: str | None = None
    ) -> Event | None:
        """Feed every poll of a pod's restart count: records when it goes up (or is above
        zero the first time the pod is seen), at most once a minute per pod so a crash loop
        is one line a minute, not one per restart."""
        self._require_declared()
        previous = self.pod_restarts.get(pod)
        if (previous is None and restarts == 0) or (previous is not None and restarts <= previous):
            self.pod_restarts[pod] = restarts if previous is None else max(previous, restarts)
            return None
        last = self._restart_recorded_at.get(pod)
        if last is not None and self.clock() - last < timedelta(minutes=1):
            return None
        self._restart_recorded_at[pod] = self.clock()
        summary = f"Pod {pod} restarted ({restarts} restart{'s' if restarts != 1 else ''}"
        summary += f", {reason})" if reason else ")"
        details = {"pod": pod, "restarts": restarts, "previous": previous, "reason": reason}
        return self._emit(
            "pod_restarts_seen", summary, details, actor=SIGNALS_ACTOR, source="signals"
        )

    # ----------------------------------------------------------------- recording

    def _emit(
        self,
        kind: EventKind,
        summary: str,
        details: dict[str, Any],
        *,
        actor: str | None = None,
        source: str | None = None,
        pinned: bool = False,
    ) -> Event:
        event = Event.new(
            kind,
            summary,
            actor=actor or self.actor,
            source=source or self.source,
            details=details,
            pinned=pinned,
            at=self.clock(),
        )
        if self.recorder is not None:
            stored = self.recorder(event)
            if stored is not None:
                event = stored
        self.apply(event)
        return event

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
        stage: RemediationStage = event.kind.removeprefix("remediation_")  # type: ignore[assignment]
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
        )
        if signal not in self.alerted:
            self.alerted.append(signal)

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

    # ----------------------------------------------------------------- checks

    def _require_declared(self) -> None:
        if self.declared_at is None:
            raise IncidentError("the incident has not been declared yet")

    def _check_severity(self, level: str) -> str:
        return check_severity(self.runbook, level)


# --------------------------------------------------------------------------- helpers


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
