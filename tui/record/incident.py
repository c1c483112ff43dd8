"""The state of one incident, changed only through methods that each record one timeline event.

:class:`Incident` does no I/O. It is given a *recorder* (a :class:`tui.record.journal.Journal`, or
any callable taking an :class:`~tui.record.event.Event` and returning it as stored) and, for
every change, builds one event, records it, then applies the event as recorded to itself.
The same ``apply`` rebuilds an incident from its journal (:meth:`Incident.from_events`) and
takes in events another process appended (:meth:`Incident.apply_new`): the record is the
source of truth.

The state it keeps, the lifecycle and the event details per kind are in
:mod:`tui.record.state`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, Literal

from tui.decision import Answer, evidence_text, override_words
from tui.errors import IllegalStatusChange, IncidentError
from tui.record.event import Event, EventKind, utcnow
from tui.record.state import (
    _BACKEND_NAMES,
    REMEDIATION_STAGES,
    SIGNALS_ACTOR,
    STAGE_WORDS,
    STATUSES,
    IncidentState,
    Recorder,
    RemediationStage,
    _clean,
    _live_answer_on_record,
    describe_remediation,
    worse_reading,
)
from tui.runbook import Runbook
from tui.runbook.checklists import find_checklist_entry
from tui.signals import format_value

__all__ = ["Incident"]


class Incident(IncidentState):
    """One incident: pure state, changed by methods that each record exactly one event.

    Methods that would change nothing (the same severity again, a checked item checked
    again, a live answer the signals already gave) record nothing and return None; the
    others return the event as recorded.
    """

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
        demo: str | None = None,
    ) -> Incident:
        """Open a new incident: records the ``declared`` event (``demo`` names the sandbox
        scenario of a demo incident)."""
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
        if demo:
            details["demo"] = demo
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

    def check(self, key: str) -> Event | None:
        """Tick a checklist item (key scheme in the module docstring)."""
        return self._mark(key, True)

    def uncheck(self, key: str) -> Event | None:
        """Untick a checklist item."""
        return self._mark(key, False)

    def toggle(self, key: str) -> Event | None:
        return self._mark(key, key not in self.checked)

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
        by_signals: bool = False,
    ) -> Event | None:
        """Answer a question of the decision tree, with the evidence behind the answer.

        A live answer the tree already holds records nothing, and a live answer never
        replaces a person's (an override stays until a person changes it). ``by_signals``:
        the signals answered it by themselves (recorded as theirs, not a person's).
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
        if by_signals:
            return self._emit(
                "decision_answered", summary, details, actor=SIGNALS_ACTOR, source="signals"
            )
        return self._emit("decision_answered", summary, details)

    def observe_answer(self, answer: Answer) -> Event | None:
        """A live answer of the signals, once it has settled: recorded the first time and
        whenever it changes, with its evidence; never over a person's answer."""
        if answer.how != "live" or answer.answer is None:
            return None
        return self.answer(
            answer.node,
            answer.answer,
            live=True,
            signal=answer.signal,
            value=answer.value,
            threshold=answer.threshold,
            op=answer.op,
            by_signals=True,
        )

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
        summary = f"Remediation {STAGE_WORDS[stage]}: {title}"
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
            peak = worse_reading(op, current.peak, current.value)
            summary = f"Alert cleared: {name} at {format_value(value, unit)}"
            if peak is not None:
                summary += f" (peak {format_value(peak, unit)})"
            details = {
                "signal": signal_id,
                "name": name,
                "level": current.level,
                "value": value,
                "threshold": rule_threshold,
                "op": op,
                "unit": unit,
                "peak": peak,
            }
            return self._emit(
                "signal_alert_cleared", summary, details, actor=SIGNALS_ACTOR, source="signals"
            )
        if current is not None and current.level == level:
            peak = worse_reading(op, current.peak, value)
            if peak != current.peak:  # no event: the cleared event will carry it
                self.alerts[signal_id] = dataclasses.replace(current, peak=peak)
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

    def observe_condition(
        self, key: str, name: str, level: str | None, evidence: str
    ) -> Event | None:
        """Feed every look at a problem no runbook signal measures (``pods.crashloop``,
        ``pods.ready``, ``health.status``): ``level`` while it lasts, None when it does not.
        Records one ``signal_alert_raised`` with its evidence when it starts (again if the
        level changes) and one ``signal_alert_cleared`` when it ends."""
        self._require_declared()
        current = self.alerts.get(key)
        details: dict[str, Any] = {
            "signal": key,
            "name": name,
            "value": None,
            "threshold": None,
            "op": None,
            "unit": "",
            "evidence": evidence,
        }
        if level is None:
            if current is None:
                return None
            details["level"] = current.level
            return self._emit(
                "signal_alert_cleared",
                f"Alert cleared: {current.name}: {evidence}",
                details,
                actor=SIGNALS_ACTOR,
                source="signals",
            )
        if current is not None and current.level == level:
            return None
        details.update(level=level, previous_level=current.level if current else None)
        return self._emit(
            "signal_alert_raised",
            f"Alert raised: {name} ({level}): {evidence}",
            details,
            actor=SIGNALS_ACTOR,
            source="signals",
        )

    def observe_pod_restarts(
        self, pod: str, restarts: int, *, reason: str | None = None
    ) -> Event | None:
        """Feed every poll of a pod's restart count: records when it goes up (or is above
        zero the first time the pod is seen); further restarts of a crash loop fold into
        that one event (the crash-loop alert counts them), and a pod that restarts again
        after five quiet minutes is recorded again."""
        self._require_declared()
        previous = self.pod_restarts.get(pod)
        if (previous is None and restarts == 0) or (previous is not None and restarts <= previous):
            self.pod_restarts[pod] = restarts if previous is None else max(previous, restarts)
            return None
        last = self._restart_recorded_at.get(pod)
        self._restart_recorded_at[pod] = self.clock()
        if last is not None and self.clock() - last < timedelta(minutes=5):
            self.pod_restarts[pod] = restarts
            return None
        summary = f"Pod {pod} restarted ({restarts} restart{'s' if restarts != 1 else ''}"
        summary += f", {reason})" if reason else ")"
        details = {"pod": pod, "restarts": restarts, "previous": previous, "reason": reason}
        return self._emit(
            "pod_restarts_seen", summary, details, actor=SIGNALS_ACTOR, source="signals"
        )

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
