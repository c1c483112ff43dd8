"""What the responder does from the dashboard's keyboard: answer the decision tree, tick
checklists, run remediations (previewed, confirmed, followed, reverted), send updates,
write notes, pin, change severity and status, resolve, export and escalate; running
remediations is :mod:`tui.screens.remediating`.

:class:`IncidentActions` is mixed into :class:`tui.screens.dashboard.DashboardScreen`; its
bindings are :data:`ACT_BINDINGS`. Every change goes through the :class:`Incident`, so it
lands in the journal and the timeline; every failure a responder can cause is one sentence
on screen.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import events, work
from textual.binding import Binding, BindingType

from tui.act.guide import guide_steps
from tui.act.session import sentence
from tui.conditions import Finding
from tui.decision import Answer, answer_live
from tui.errors import IncidentTuiError
from tui.record.event import Event
from tui.record.state import STATUSES
from tui.runbook import (
    format_duration,
)
from tui.screens.modals import (
    ChoiceScreen,
    CommandScreen,
    CommsScreen,
    EscalationScreen,
    ExportScreen,
    PromptScreen,
)
from tui.screens.part import DashboardPart
from widgets.checklist import ChecklistView
from widgets.decision_tree import DecisionTreeView
from widgets.timeline_view import TimelineView

__all__ = ["ACT_BINDINGS", "IncidentActions", "export_folder"]

ACT_BINDINGS: list[BindingType] = [
    Binding("c", "comms", "Comms", tooltip="Write, copy and post the stakeholder updates"),
    Binding("n", "note", "Note", tooltip="Write a note on the timeline"),
    Binding("s", "severity", "Severity", tooltip="Change the severity (the runbook's table)"),
    Binding("S", "status", "Status", tooltip="Move the incident along its lifecycle"),
    Binding("R", "resolve", "Resolve", tooltip="Resolve the incident with a one-line summary"),
    Binding("x", "export", "Export", tooltip="Export the postmortem and evidence bundle"),
    Binding("E", "escalation", "Escalation", tooltip="Who to escalate to, and which level is due"),
    Binding("m", "remediations", "Remediations", show=False, tooltip="Pick a remediation to run"),
    Binding(
        "P", "pin_selected", "Pin event", show=False, tooltip="Pin or unpin the selected event"
    ),
    Binding(
        "V",
        "revert_in_effect",
        "Revert",
        show=False,
        tooltip="Revert a remediation still in effect (the fallback once the vendor is back)",
    ),
    Binding(
        "u",
        "guided_rollout",
        "Guided rollout",
        show=False,
        tooltip="Run the runbook's gradual rollout step by step",
    ),
]
"""The dashboard's bindings for acting; each is also in the command palette and in ``?``."""

EXPORTS_DIRNAME = "incident-tui-exports"


def export_folder(cwd: Path | None = None) -> Path:
    """``./incident-tui-exports`` when the current directory is writable, else
    ``~/incident-tui-exports``."""
    here = cwd or Path.cwd()
    if os.access(here, os.W_OK):
        return here / EXPORTS_DIRNAME
    return Path.home() / EXPORTS_DIRNAME


class IncidentActions(DashboardPart):
    """The dashboard's actions and the handlers of its panes' messages."""

    export_dir: Path | None = None
    """Where exports go; :func:`export_folder` when None."""
    export_evidence_timeout: float = 60.0
    slack_timeout: float = 10.0

    _update_due_notified: datetime | None = None
    _severity_offered: frozenset[tuple[str, str]] = frozenset()

    # ----------------------------------------------------------------- lifecycle

    def _on_mount(self, event: events.Mount) -> None:
        # Textual calls the Mount handler of every class in the MRO, so this runs besides
        # the dashboard's own on_mount
        if not self.read_only:
            self.set_interval(1.0, self.check_update_due)

    def check_update_due(self) -> None:
        """Notify once per due time that stakeholders expect an update."""
        due = self.incident.next_update_due()
        if due is None or self.clock() < due or self._update_due_notified == due:
            return
        self._update_due_notified = due
        self.notify(
            "A stakeholder update is due: press c to write it.",
            title="Update due",
            severity="warning",
            timeout=15,
        )

    # ----------------------------------------------------------------- decisions

    def on_decision_tree_view_answer_chosen(self, message: DecisionTreeView.AnswerChosen) -> None:
        message.stop()
        if not self._can_change():
            return
        shown = message.shown or self._live_answer(message.node_id)
        basis: dict[str, Any] = {}
        if shown is not None:
            basis = {"signal": shown.signal, "value": shown.value}
            basis.update(threshold=shown.threshold, op=shown.op)
        live = shown.live_answer if shown is not None else None
        try:
            event = None
            if live is not None and message.value == live:
                event = self.incident.answer(message.node_id, message.value, live=True, **basis)
            if event is None:
                event = self.incident.answer(message.node_id, message.value, **basis)
        except IncidentTuiError as error:
            self._fail(error)
            return
        if event is None:
            self.notify("That answer is already recorded.")
        self.refresh_decision()

    def _live_answer(self, node_id: str) -> Answer | None:
        """What the signals answer to a question now (for one off the suggested path)."""
        tree = self.runbook.decision_tree
        if tree is None:
            return None
        try:
            return answer_live(tree.node(node_id), self.readings())
        except KeyError:
            return None

    def on_decision_tree_view_remediation_chosen(
        self, message: DecisionTreeView.RemediationChosen
    ) -> None:
        message.stop()
        self.open_remediation(message.remediation_id)

    # ----------------------------------------------------------------- checklists

    def on_checklist_view_item_toggled(self, message: ChecklistView.ItemToggled) -> None:
        message.stop()
        if not self._can_change():
            return
        try:
            self.incident.toggle(message.key)
        except IncidentTuiError as error:
            self._fail(error)

    def on_checklist_view_remediation_chosen(
        self, message: ChecklistView.RemediationChosen
    ) -> None:
        message.stop()
        if guide_steps(self.runbook, message.key):
            self.start_guide(message.key)
        else:
            self.open_remediation(message.remediation_id, checklist_key=message.key)

    def on_checklist_view_triage_requested(self, message: ChecklistView.TriageRequested) -> None:
        message.stop()
        self.show_command(message.triage_id)

    def show_command(self, triage_id: str) -> None:
        for command in (*self.runbook.triage, *self.runbook.evidence):
            if command.id == triage_id:
                self.app.push_screen(
                    CommandScreen(command.title, command.command, command.description)
                )
                return
        self.notify(f'The runbook has no command "{triage_id}".', severity="error")

    # ----------------------------------------------------------------- timeline

    def on_timeline_view_pin_toggled(self, message: TimelineView.PinToggled) -> None:
        message.stop()
        self._toggle_pin(message.event_id, message.pinned)

    def action_pin_selected(self) -> None:
        view = self.query_one(TimelineView)
        event = view.selected_event
        if event is None:
            self.notify("Select an event in the timeline first.")
            return
        self._toggle_pin(event.id, event.id in self.incident.pinned)

    def _toggle_pin(self, event_id: str, pinned: bool) -> None:
        if not self._can_change():
            return
        try:
            if pinned:
                self.incident.unpin(event_id)
            else:
                self.incident.pin(event_id)
        except IncidentTuiError as error:
            self._fail(error)

    # ----------------------------------------------------------------- notes, severity, status

    @work(group="act-dialog", exit_on_error=False)
    async def action_note(self) -> None:
        if not self._can_change():
            return
        text = await self.app.push_screen_wait(
            PromptScreen("Note", placeholder="what you saw, did or decided")
        )
        if text:
            try:
                self.incident.note(text)
            except IncidentTuiError as error:
                self._fail(error)

    @work(group="act-dialog", exit_on_error=False)
    async def action_severity(self) -> None:
        if not self._can_change():
            return
        choices = []
        for severity in self.runbook.severities:
            response = severity.response_time_label or format_duration(severity.response_time)
            label = Text.assemble(
                (f"{severity.level} ", "bold"),
                f"{severity.definition} — respond within {response}",
                (f" · e.g. {severity.example}", "dim"),
            )
            choices.append((severity.level, label))
        level = await self.app.push_screen_wait(
            ChoiceScreen(
                f"Severity (now {self.incident.severity})",
                choices,
                current=self.incident.severity,
            )
        )
        if level is None or level == self.incident.severity:
            return
        try:
            self.incident.set_severity(level)
        except IncidentTuiError as error:
            self._fail(error)

    def observe_conditions(self, conditions: list[Finding]) -> None:
        """Problems no signal measures, on the record; one more severe than the incident
        offers to raise it."""
        if not self.live:
            return
        for condition in conditions:
            event = self.incident.observe_condition(
                condition.key, condition.name, condition.level, condition.evidence
            )
            if event is not None and event.kind == "signal_alert_raised":
                self.offer_severity(event)

    def offer_severity(self, alert: Event) -> None:
        """An alert more severe than the incident: offer to raise the severity (Enter), or
        keep it; either choice is recorded. Offered once per signal and level, when the
        dashboard is on top (never over a dialog the responder is typing into)."""
        level = str(alert.details.get("level") or "")
        signal = str(alert.details.get("signal") or "")
        known = {s.level for s in self.runbook.severities}
        if not self.live or level not in known or self.incident.severity not in known:
            return
        if _rank(level) >= _rank(self.incident.severity):
            return
        if (signal, level) in self._severity_offered:
            return
        self._severity_offered = self._severity_offered | {(signal, level)}
        self._offer_severity(alert, level)

    @work(group="severity-offer", exit_on_error=False)
    async def _offer_severity(self, alert: Event, level: str) -> None:
        while self.app.screen is not self:
            await asyncio.sleep(0.2)
        now = self.incident.severity
        if _rank(level) >= _rank(now):
            return  # raised meanwhile
        name = str(alert.details.get("name") or alert.details.get("signal"))
        definition = self.runbook.severity(level).definition
        choice = await self.app.push_screen_wait(
            ChoiceScreen(
                f"{name} is a {level} alert; this incident is {now}",
                [
                    ("raise", f"Raise the severity to {level}: {definition}"),
                    ("keep", f"Keep {now}"),
                ],
                help_text=f"The alert: {alert.summary}. Either choice is recorded.",
            )
        )
        try:
            if choice == "raise":
                self.incident.set_severity(level, reason=f"{name} alert ({level})")
            elif choice == "keep":
                self.incident.note(f"Kept severity {now} with the {level} alert {name}")
        except IncidentTuiError as error:
            self._fail(error)

    @work(group="act-dialog", exit_on_error=False)
    async def action_status(self) -> None:
        if not self._can_change():
            return
        current = self.incident.status
        reopening = current == "resolved"
        choices = [
            (status, status + ("  (current)" if status == current else ""))
            for status in STATUSES
            if not (reopening and status == "resolved")
        ]
        status = await self.app.push_screen_wait(
            ChoiceScreen(
                "Reopen the incident as" if reopening else f"Status (now {current})",
                choices,
                current=current,
                help_text="Moving back, or reopening, asks for a reason.",
            )
        )
        if status is None or status == current:
            return
        try:
            if status == "resolved":
                await self._resolve()
                return
            backwards = reopening or STATUSES.index(status) < STATUSES.index(current)
            reason = None
            if backwards:
                reason = await self.app.push_screen_wait(
                    PromptScreen(
                        f"Why back to {status}?" if not reopening else "Why reopen it?",
                        placeholder="one line, recorded on the timeline",
                    )
                )
                if not reason:
                    return
            if reopening:
                assert reason is not None
                self.incident.reopen(reason, status=status)
            else:
                self.incident.set_status(status, reason=reason)
        except IncidentTuiError as error:
            self._fail(error)

    @work(group="act-dialog", exit_on_error=False)
    async def action_resolve(self) -> None:
        if not self._can_change():
            return
        if self.incident.status == "resolved":
            self.notify("The incident is already resolved.")
            return
        try:
            await self._resolve()
        except IncidentTuiError as error:
            self._fail(error)

    async def _resolve(self) -> None:
        summary = await self.app.push_screen_wait(
            PromptScreen(
                "Resolve the incident",
                placeholder="one-line summary: what happened and what fixed it",
                help_text="The summary opens the postmortem.",
            )
        )
        if summary:
            self.incident.resolve(summary)
            self.notify("Incident resolved. x exports the postmortem.")

    # ----------------------------------------------------------------- comms, escalation

    def action_comms(self) -> None:
        if not self._can_change():
            return
        if self.runbook.comms is None:
            self.notify("This runbook has no communication templates.")
            return
        webhook = self.settings.slack.webhook_url
        self.app.push_screen(
            CommsScreen(
                self.incident,
                self.clock(),
                webhook.get_secret_value() if webhook else None,
                timeout=self.slack_timeout,
            )
        )

    def action_escalation(self) -> None:
        self.app.push_screen(
            EscalationScreen(self.runbook.escalation, self.incident.elapsed(self.clock()))
        )

    # ----------------------------------------------------------------- export

    @work(group="act-export", exclusive=True, exit_on_error=False)
    async def action_export(self) -> None:
        from tui.record.bundle import export_incident_async
        from tui.sources.hub import Evidence

        if self.journal is None:
            self.notify("This incident has no journal to export.", severity="warning")
            return
        out = self.export_dir or export_folder()
        screen = ExportScreen(str(out))
        self.app.push_screen(screen)
        try:
            result = await export_incident_async(
                self.incident,
                out,
                evidence=Evidence(self.settings, self.runbook),
                journal=self.journal,
                evidence_timeout=self.export_evidence_timeout,
            )
        except IncidentTuiError as error:
            screen.fail(sentence(error))
            self._fail(error)
            return
        files = [str(path) for path in result.files]
        if not self.read_only:
            self.incident.record_export(str(result.folder), files=files)
        screen.finish(
            [str(result.postmortem), str(result.folder), str(result.archive)], result.notes
        )
        self.notify(f"Exported to {result.folder}.")


def _rank(level: str) -> int:
    """``P1`` -> 1: the lower, the more severe."""
    return int(level[1:]) if level[1:].isdigit() else 99
