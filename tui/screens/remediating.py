"""Running remediations from the dashboard: pick one, confirm it with its dry run, follow
its rollout, revert it, and walk the runbook's guided gradual rollout. The lifecycle is
:class:`~tui.act.session.RemediationSession`'s; this only shows what it returns."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work

from tui.act.guide import GuideStep, first_guide, guide_steps
from tui.act.session import Preview, RemediationSession
from tui.decision import off_suggestion
from tui.errors import IncidentTuiError, RemediationError
from tui.record.mitigations import InEffect, in_effect, undo_words
from tui.runbook import (
    Remediation,
    RolloutResume,
    RolloutUndo,
)
from tui.screens.modals import ChoiceScreen, CommandScreen
from tui.screens.part import DashboardPart
from tui.screens.remediate import ConfirmScreen, RemediationScreen, RolloutGuideScreen

if TYPE_CHECKING:
    from tui.act.plan import ApplyResult, Plan
    from tui.act.runner import RemediationRunner
    from tui.decision import Readings


__all__ = ["RemediationActions"]


class RemediationActions(DashboardPart):
    """The dashboard's remediation and guided-rollout actions."""

    remediation_verify_timeout: float = 180.0
    """How long a rollout is followed before it is called timed out."""
    remediation_poll_interval: float = 0.5
    remediation_watch_tick: float = 1.0
    """How often a rolled-out remediation's signals are looked at again."""
    remediation_watch: tuple[timedelta, timedelta] | None = None
    """``(window, within)`` in place of the runbook's ``verify`` times (tests)."""
    guide_tick: float = 1.0
    """How often a guided wait refreshes its countdown and signals."""

    _remediation_busy: bool = False
    _applied: dict[str, tuple[RemediationSession, Plan, ApplyResult]] | None = None
    """What this cockpit applied and has not reverted, by remediation id: a revert needs
    the values from before the change, which only the apply saw."""

    # ----------------------------------------------------------------- remediations

    def action_remediations(self) -> None:
        if not self.runbook.remediations:
            self.notify("This runbook has no remediations.")
            return
        self._pick_remediation()

    @work(group="act-dialog", exit_on_error=False)
    async def _pick_remediation(self) -> None:
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
            read=self._latest_readings if self.live else None,
            window=self.remediation_watch[0] if self.remediation_watch else None,
            within=self.remediation_watch[1] if self.remediation_watch else None,
            clock=self.clock,
        )

    async def _latest_readings(self) -> Readings:
        """What the panes show now (they poll on their own)."""
        return self.readings()

    async def run_remediation(
        self, remediation: Remediation, *, checklist_key: str | None = None
    ) -> bool:
        """Confirm (with its dry run), apply, follow, and revert if asked, each step shown
        as the session returns it. Returns whether it was applied and verified."""
        session = self.remediation_session(remediation, checklist_key)
        note = off_suggestion(self.runbook, self.suggestion(), remediation.id)
        plan = await self.app.push_screen_wait(
            ConfirmScreen(
                remediation,
                self.runbook.service.deployment,
                session.prepare,
                note=note if self.live else None,
            )
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
        if self._applied is None:
            self._applied = {}
        if reverting:
            self._applied.pop(plan.remediation.id.removesuffix("-revert"), None)
        elif applied.applied is not None:
            self._applied[plan.remediation.id] = (session, plan, applied.applied)
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
        watch = session.watch
        if verified.ok and not reverting and watch is not None and watch.signals:
            return await self._judge(session, plan, applied.applied, screen, closed, can_revert)
        screen.finish(verified.ok, verified.message, None, can_revert)
        self.notify(
            f"{title}: {verified.message}",
            severity="information" if verified.ok else "error",
            timeout=10,
        )
        if await closed == "revert" and applied.applied is not None:
            await self.revert_remediation(session, plan, applied.applied)
        return verified.ok

    async def _judge(
        self,
        session: RemediationSession,
        plan: Plan,
        applied: ApplyResult | None,
        screen: RemediationScreen,
        closed: asyncio.Future[str | None],
        can_revert: bool,
    ) -> bool:
        """Rolled out: watch the signals it is meant to move until it is judged. Revert
        stays one key away meanwhile; closing the screen leaves the watch running."""
        assert session.watch is not None
        title = plan.remediation.title
        screen.watching(f"Rolled out; watching {session.watch.words()}…", can_revert)
        judging = asyncio.ensure_future(
            session.judge(on_progress=screen.verdict, tick=self.remediation_watch_tick)
        )
        waiting: set[asyncio.Future[Any]] = {judging, closed}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if closed.done() and not judging.done() and closed.result() == "revert":
            judging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await judging
            if applied is not None:
                await self.revert_remediation(session, plan, applied)
            return False
        verdict = await judging
        effective = verdict.state == "effective"
        if effective:
            message = f"Effective: {verdict.evidence}."
        else:
            message = f"Not effective: still {verdict.problems}."
        screen.finish(
            effective,
            message,
            None if effective else "Revert it (v), then try the suggested remediation.",
            can_revert,
            stage="Effective." if effective else "Not effective.",
        )
        self.notify(
            f"{title}: {message}",
            title="Remediation effective" if effective else "Remediation not effective",
            severity="information" if effective else "error",
            timeout=15,
        )
        if await closed == "revert" and applied is not None:
            await self.revert_remediation(session, plan, applied)
        return effective

    async def revert_remediation(
        self, session: RemediationSession, plan: Plan, applied: ApplyResult
    ) -> bool:
        """Undo an applied remediation the runbook's way, previewed and confirmed like any
        remediation."""
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

    # ----------------------------------------------------------------- later reverts

    def action_revert_in_effect(self) -> None:
        if not self._can_change():
            return
        found = in_effect(self.incident)
        if not found:
            self.notify("No remediation is in effect on record.")
            return
        self._pick_revert(found)

    @work(group="act-dialog", exit_on_error=False)
    async def _pick_revert(self, found: list[InEffect]) -> None:
        choices = [
            (m.run.remediation, f"{m.title}{'  (temporary)' if m.remediation.temporary else ''}")
            for m in found
        ]
        chosen = await self.app.push_screen_wait(
            ChoiceScreen("Revert a remediation in effect", choices)
        )
        mitigation = next((m for m in found if m.run.remediation == chosen), None)
        if mitigation is None:
            return
        kept = (self._applied or {}).get(mitigation.run.remediation)
        if kept is None or mitigation.remediation.revert is None:
            # applied by another cockpit or before a restart: the values from before it are
            # not known here, so say how instead of guessing them
            self.app.push_screen(
                CommandScreen(
                    f"Revert by hand: {mitigation.title}",
                    undo_words(self.runbook, mitigation.remediation),
                )
            )
            return
        if self._remediation_busy:
            self.notify(
                "A remediation is already running; wait for its result.", severity="warning"
            )
            return
        self._remediation_busy = True
        try:
            await self.revert_remediation(*kept)
        except Exception as error:
            self._fail(error)
        finally:
            self._remediation_busy = False

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


class _NewDryRun(Exception):
    """The responder asked for a new dry run after the cluster refused a stale one."""
