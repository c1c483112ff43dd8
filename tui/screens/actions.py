"""What the responder does from the dashboard's keyboard: answer the decision tree, tick
checklists, run remediations (previewed, confirmed, followed, reverted), send updates,
write notes, pin, change severity and status, resolve, export and escalate.

:class:`IncidentActions` is mixed into :class:`tui.screens.dashboard.DashboardScreen`; its
bindings are :data:`ACT_BINDINGS`. Every change goes through the :class:`Incident`, so it
lands in the journal and the timeline; every failure a responder can cause is one sentence
on screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events, work
from textual.binding import Binding, BindingType

from tui.act.guide import GuideStep, first_guide, guide_steps
from tui.act.session import Preview, RemediationSession, sentence
from tui.decision import Answer, answer_live
from tui.errors import IncidentTuiError, RemediationError
from tui.record.state import STATUSES
from tui.runbook import (
    Remediation,
    RolloutResume,
    RolloutUndo,
    format_duration,
)

if TYPE_CHECKING:
    from textual.screen import Screen

    from tui.act.plan import ApplyResult, Plan
    from tui.act.runner import RemediationRunner
    from tui.decision import Readings
    from tui.record.incident import Incident
    from tui.record.journal import Journal
    from tui.runbook import Runbook
    from tui.screens.act import RolloutGuideScreen
    from tui.settings import Settings
    from tui.signals import Health, MetricReading, VendorStatus
    from tui.sources.hub import Sources
    from widgets.checklist import ChecklistView
    from widgets.decision_tree import DecisionTreeView
    from widgets.timeline_view import TimelineView

    _Base = Screen[None]
else:
    _Base = object

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


class IncidentActions(_Base):
    """The dashboard's actions and the handlers of its panes' messages."""

    if TYPE_CHECKING:
        incident: Incident
        journal: Journal | None
        settings: Settings
        runbook: Runbook
        read_only: bool
        live: bool
        metrics: dict[str, MetricReading]
        vendor: VendorStatus | None
        health: Health | None
        _sources: Sources | None

        clock: Callable[[], datetime]

        def readings(self) -> Readings: ...
        def refresh_decision(self) -> None: ...
        def follow_journal(self) -> None: ...

    remediation_verify_timeout: float = 180.0
    """How long a rollout is followed before it is called timed out."""
    remediation_poll_interval: float = 0.5
    export_dir: Path | None = None
    """Where exports go; :func:`export_folder` when None."""
    export_evidence_timeout: float = 60.0
    slack_timeout: float = 10.0
    guide_tick: float = 1.0
    """How often a guided wait refreshes its countdown and signals."""

    _remediation_busy: bool = False
    _update_due_notified: datetime | None = None

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

    def _can_change(self) -> bool:
        if self.read_only:
            self.notify("This is a replay: nothing can be changed.", severity="warning")
            return False
        return True

    def _fail(self, error: BaseException) -> None:
        self.notify(sentence(error), severity="error", timeout=10)

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
        from tui.screens.act import CommandScreen

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
        from widgets.timeline_view import TimelineView

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
        from tui.screens.act import PromptScreen

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
        from tui.screens.act import ChoiceScreen

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

    @work(group="act-dialog", exit_on_error=False)
    async def action_status(self) -> None:
        from tui.screens.act import ChoiceScreen, PromptScreen

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
        from tui.screens.act import PromptScreen

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
        from tui.screens.act import CommsScreen

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
        from tui.screens.act import EscalationScreen

        self.app.push_screen(
            EscalationScreen(self.runbook.escalation, self.incident.elapsed(self.clock()))
        )

    # ----------------------------------------------------------------- export

    @work(group="act-export", exclusive=True, exit_on_error=False)
    async def action_export(self) -> None:
        from tui.record.bundle import export_incident_async
        from tui.screens.act import ExportScreen
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

    # ----------------------------------------------------------------- remediations

    def action_remediations(self) -> None:
        if not self.runbook.remediations:
            self.notify("This runbook has no remediations.")
            return
        self._pick_remediation()

    @work(group="act-dialog", exit_on_error=False)
    async def _pick_remediation(self) -> None:
        from tui.screens.act import ChoiceScreen

        choices = [
            (r.id, r.title + ("  ⚠ destructive" if r.destructive else ""))
            for r in self.runbook.remediations
        ]
        chosen = await self.app.push_screen_wait(ChoiceScreen("Run a remediation", choices))
        if chosen:
            self.open_remediation(chosen)

    @property
    def remediation_running(self) -> bool:
        """True from the moment a remediation is opened until its result is in."""
        return self._remediation_busy

    def open_remediation(self, remediation_id: str, *, checklist_key: str | None = None) -> bool:
        """Preview, confirm and run one of the runbook's remediations. Returns False (and
        says why) when it cannot start, e.g. while another one runs."""

        if not self._can_change():
            return False
        if self._remediation_busy:
            self.notify(
                "A remediation is already running; wait for its result.", severity="warning"
            )
            return False
        try:
            remediation = self.runbook.remediation(remediation_id)
        except KeyError:
            self.notify(f'The runbook has no remediation "{remediation_id}".', severity="error")
            return False
        self._remediation_busy = True
        self._remediation_worker(remediation, checklist_key)
        return True

    @work(group="remediation", exit_on_error=False)
    async def _remediation_worker(
        self, remediation: Remediation, checklist_key: str | None
    ) -> None:
        try:
            await self.run_remediation(remediation, checklist_key=checklist_key)
        except Exception as error:
            self._fail(error)
        finally:
            self._remediation_busy = False

    async def open_sources(self) -> Sources:
        """The dashboard's backend clients, built once. Their modules (httpx, the Prometheus
        client) and TLS contexts take a fifth of a second to load: that happens in a thread,
        so the screen keeps drawing and answering keys meanwhile."""
        if self._sources is None:
            sources = await asyncio.to_thread(_new_sources, self.settings, self.runbook)
            if self._sources is None:
                self._sources = sources
            else:  # built by another caller meanwhile
                await sources.close()
        return self._sources

    async def remediation_runner(self) -> RemediationRunner:
        """A runner on the dashboard's Kubernetes connection (opened on first use)."""
        from tui.act.runner import RemediationRunner

        sources = await self.open_sources()
        conn = await sources.open_kube()
        return RemediationRunner(
            conn,
            self.runbook,
            http=sources.http,
            verify_timeout=self.remediation_verify_timeout,
            poll_interval=self.remediation_poll_interval,
        )

    def remediation_session(
        self, remediation: Remediation, checklist_key: str | None = None
    ) -> RemediationSession:
        sync = self.follow_journal if self.journal is not None else None
        return RemediationSession(
            self.incident,
            remediation,
            self.remediation_runner,
            journal=self.journal,
            sync=sync,
            checklist_key=checklist_key,
        )

    async def run_remediation(
        self, remediation: Remediation, *, checklist_key: str | None = None
    ) -> bool:
        """Confirm (with its dry run), apply, follow, and revert if asked, each step shown
        as the session returns it. Returns whether it was applied and verified."""
        from tui.screens.act import ConfirmScreen

        session = self.remediation_session(remediation, checklist_key)
        plan = await self.app.push_screen_wait(
            ConfirmScreen(remediation, self.runbook.service.deployment, session.prepare)
        )
        if plan is None:
            session.cancel()
            return False
        try:
            return await self._apply_and_follow(session, plan)
        except _NewDryRun:
            # the cluster changed under the confirmed preview: a fresh one, from the start
            return await self.run_remediation(remediation, checklist_key=checklist_key)

    async def _apply_and_follow(
        self, session: RemediationSession, plan: Plan, *, reverting: bool = False
    ) -> bool:
        from tui.screens.act import RemediationScreen

        title = plan.remediation.title
        screen = RemediationScreen(("Reverting: " if reverting else "") + title, plan.target)
        closed = self.app.push_screen(screen, wait_for_dismiss=True)
        screen.stage("Applying…")
        applied = await session.apply(plan, reverting=reverting)
        if applied.refused:
            screen.finish(
                False, applied.message, None, False, can_retry=True, stage="Refused: 409."
            )
            if await closed == "retry" and not reverting:
                raise _NewDryRun
            return False
        if not applied.ok:
            screen.finish(False, applied.message, applied.hint, False)
            said = applied.notice or applied.message
            self.notify(said, title=f"{title} failed", severity="error", timeout=15)
            await closed
            return False
        screen.stage("Applied; following the rollout…")
        verified = await session.verify(
            plan, applied.applied, reverting=reverting, on_progress=screen.progress
        )
        if verified.notice is not None:  # following it failed
            screen.finish(False, verified.message, verified.hint, False)
            self.notify(verified.notice, title=f"{title}: not verified", severity="error")
            await closed
            return False
        can_revert = not reverting and plan.remediation.revert is not None
        screen.finish(verified.ok, verified.message, None, can_revert)
        self.notify(
            f"{title}: {verified.message}",
            severity="information" if verified.ok else "error",
            timeout=10,
        )
        if await closed == "revert" and applied.applied is not None:
            await self.revert_remediation(session, plan, applied.applied)
        return verified.ok

    async def revert_remediation(
        self, session: RemediationSession, plan: Plan, applied: ApplyResult
    ) -> bool:
        """Undo an applied remediation the runbook's way, previewed and confirmed like any
        remediation."""
        from tui.screens.act import CommandScreen, ConfirmScreen

        spec = plan.remediation.revert
        if spec is None:
            self.notify("The runbook defines no revert for this remediation.")
            return False
        if spec.kind == "manual":
            self.app.push_screen(
                CommandScreen(
                    f"Revert by hand: {plan.remediation.title}",
                    spec.note or "See the runbook.",
                )
            )
            return False
        try:
            undo = session.revert_of(plan, applied)
        except RemediationError as error:
            self._fail(error)
            return False

        async def prepare(params: dict[str, str], secret: str | None) -> Preview:
            return await session.prepare_revert(plan, applied)

        confirmed = await self.app.push_screen_wait(
            ConfirmScreen(
                undo,
                self.runbook.service.deployment,
                prepare,
                heading=f"Revert: {plan.remediation.title}",
                ask_inputs=False,
            )
        )
        if confirmed is None:
            return False
        return await self._apply_and_follow(session, confirmed, reverting=True)

    # ----------------------------------------------------------------- guided rollout

    def action_guided_rollout(self) -> None:
        steps = first_guide(self.runbook)
        if steps:
            self.start_guide(steps[0].key)
            return
        self.notify("This runbook has no gradual rollout to guide.")

    def start_guide(self, key: str) -> None:
        if not self._can_change():
            return
        if self._remediation_busy:
            self.notify(
                "A remediation is already running; wait for its result.", severity="warning"
            )
            return
        steps = guide_steps(self.runbook, key)
        if not steps:
            return
        self._remediation_busy = True
        self._guide_worker(steps)

    @work(group="remediation", exit_on_error=False)
    async def _guide_worker(self, steps: list[GuideStep]) -> None:
        try:
            await self.run_guide(steps)
        except Exception as error:
            self._fail(error)
        finally:
            self._remediation_busy = False

    async def run_guide(self, steps: list[GuideStep]) -> str:
        """Walk the steps: each remediation confirmed, each wait a countdown over the watched
        signals with Continue (early) or Undo (roll back). Returns how it ended:
        ``done``, ``stopped``, ``undone`` or ``failed``."""
        from tui.screens.act import RolloutGuideScreen

        guide = RolloutGuideScreen("Guided rollout", steps)
        closed = self.app.push_screen(guide, wait_for_dismiss=True)
        outcome = "done"
        for index, step in enumerate(steps):
            if closed.done():
                outcome = "stopped"
                break
            if step.kind == "remediation":
                assert step.remediation_id is not None
                guide.at(index, f"Confirm: {step.text}")
                remediation = self.runbook.remediation(step.remediation_id)
                ok = await self.run_remediation(remediation, checklist_key=step.key)
                if not ok:
                    outcome = "failed"
                    break
            elif step.kind == "wait":
                assert step.wait is not None
                guide.at(index, step.text)
                choice = await self._guided_wait(guide, step)
                if choice == "stop":
                    outcome = "stopped"
                    break
                if choice == "undo":
                    await self._guide_undo(guide)
                    outcome = "undone"
                    break
                self._check_quietly(step.key)
            else:
                guide.at(
                    index, f"By hand: {step.text}" + (f" — {step.command}" if step.command else "")
                )
                self._check_quietly(step.key)
        if outcome == "done":
            guide.finish("The rollout is complete.")
        elif outcome == "undone":
            guide.finish("Rolled back.")
        elif outcome == "failed":
            guide.finish("Stopped: a step did not complete (see the timeline).")
        if not closed.done():
            await closed
        return outcome

    def _check_quietly(self, key: str) -> None:
        with contextlib.suppress(IncidentTuiError):
            self.incident.check(key)

    async def _guided_wait(self, guide: RolloutGuideScreen, step: GuideStep) -> str:
        assert step.wait is not None
        answer = guide.ask()
        end = self.clock() + step.wait
        while not answer.done():
            left = end - self.clock()
            if left <= timedelta(0):
                guide._answer("continue")
                break
            guide.countdown(left, self._watch_text(step.watch))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(answer), self.guide_tick)
        return str(answer.result())

    def _watch_text(self, watch: tuple[str, ...]) -> Text:
        text = Text()
        for signal_id in watch:
            reading = self.metrics.get(signal_id)
            if reading is None or reading.value is None:
                text.append(f"{signal_id}: no data\n", style="dim")
                continue
            style = "bold red" if reading.alerting else "green"
            text.append(f"{reading.name}: {reading.value:.4g} {reading.unit}", style=style)
            if reading.threshold is not None:
                text.append(f" (alert {reading.op or '>'} {reading.threshold:g})", style="dim")
            text.append("\n")
        return text

    async def _guide_undo(self, guide: RolloutGuideScreen) -> None:
        undo = next((r for r in self.runbook.remediations if isinstance(r, RolloutUndo)), None)
        if undo is None:
            self.notify("The runbook has no rollback remediation.", severity="error")
            return
        guide.at(guide.current, f"Undo: {undo.title}")
        # a paused deployment does not roll (kubectl refuses to undo one): resume it first,
        # confirmed like every step, so the rollback actually rolls
        resume = next((r for r in self.runbook.remediations if isinstance(r, RolloutResume)), None)
        try:
            runner = await self.remediation_runner()
            paused = bool((await runner.read_deployment())["spec"].get("paused"))
        except IncidentTuiError as error:
            self._fail(error)
            return
        if paused and resume is not None:
            self.notify("The rollout is paused: resume it first, then the rollback runs.")
            if not await self.run_remediation(resume):
                return
        await self.run_remediation(undo)


# --------------------------------------------------------------------------- helpers


def _new_sources(settings: Settings, runbook: Runbook) -> Sources:
    from tui.sources.hub import Sources

    return Sources(settings, runbook)


class _NewDryRun(Exception):
    """The responder asked for a new dry run after the cluster refused a stale one."""
