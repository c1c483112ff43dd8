"""One remediation from plan to verdict: :class:`RemediationSession` makes the plan, asks
the server for a dry run, applies, follows the rollout and reverts, and records each step
on the incident's timeline as it happens. No Textual: the screens only show what it
returns, and tests drive it headless.

A session belongs to one cockpit (or command): the runs it records are numbered under the
journal's lock after reading what other processes recorded, and it only ever continues its
own runs, so two cockpits on one incident never write into each other's.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tui.act.judge import Judge, Verdict, WatchPlan, watch_plan
from tui.act.plan import ApplyResult, DryRun, Plan, Progress
from tui.act.runner import RemediationRunner
from tui.decision import Readings
from tui.errors import IncidentTuiError, RemediationConflict, RemediationError
from tui.inert import inert
from tui.record.event import utcnow
from tui.record.incident import Incident
from tui.record.journal import Journal
from tui.record.secrets import register_secret
from tui.record.state import RemediationRun, RemediationStage
from tui.runbook import Remediation, RolloutUndo, SetEnv, format_duration

__all__ = ["Preview", "RemediationSession", "Step", "sentence"]


@dataclass
class Preview:
    """What a confirmation shows: the plan and the server's dry run, or why there is none
    (``error`` and the runbook's ``hint``)."""

    plan: Plan | None = None
    dry_run: DryRun | None = None
    error: str | None = None
    hint: str | None = None

    @property
    def ok(self) -> bool:
        return self.plan is not None and self.error is None


@dataclass(frozen=True)
class Step:
    """How applying or following went, in the words the responder reads."""

    ok: bool
    message: str
    hint: str | None = None
    refused: bool = False
    """The cluster changed since the dry run: nothing was applied; a new dry run may go."""
    applied: ApplyResult | None = None
    notice: str | None = None
    """For a failure: the whole error, hint included, as one sentence for a notification."""


def sentence(error: BaseException) -> str:
    """An error as one sentence, ending in a full stop."""
    text = str(error).strip() or type(error).__name__
    return text if text.endswith((".", "!", "?")) else text + "."


def without_hint(error: RemediationError) -> str:
    """An error's sentence without the hint it ends with (shown on its own line)."""
    text = str(error)
    if error.hint and text.endswith(f" Hint: {error.hint}"):
        text = text[: -len(f" Hint: {error.hint}")]
    return text


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


class RemediationSession:
    """Runs one of the runbook's remediations on an incident and records every step.

    ``open_runner`` gives the runner (opened on first use, so a confirmation can show
    before the cluster answers); ``sync`` takes in what other processes appended to the
    journal (the dashboard's, so it also shows them)."""

    def __init__(
        self,
        incident: Incident,
        remediation: Remediation,
        open_runner: Callable[[], Awaitable[RemediationRunner]],
        *,
        journal: Journal | None = None,
        sync: Callable[[], None] | None = None,
        checklist_key: str | None = None,
        read: Callable[[], Awaitable[Readings]] | None = None,
        window: timedelta | None = None,
        within: timedelta | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.incident = incident
        self.remediation = remediation
        self.open_runner = open_runner
        self.journal = journal
        self.sync = sync or (lambda: None)
        self.checklist_key = checklist_key
        self.runner: RemediationRunner | None = None
        self.run: int | None = None
        """The number of this session's run, once planned."""
        self.closed = False
        """The confirmation is gone: a dry run that comes late records nothing more."""
        self.read = read
        """The latest readings of the signals (the dashboard's panes); without it a
        remediation is followed until it has rolled out and not judged."""
        self.window = window
        self.within = within
        """Overrides of the runbook's ``verify`` times (a test's, a replayed world's)."""
        self.clock = clock
        self.watch: WatchPlan | None = None
        """What the rollout is judged by: chosen from the readings when it was applied."""

    @property
    def rid(self) -> str:
        return self.remediation.id

    # ------------------------------------------------------------------ the record

    def _stage(self, stage: RemediationStage, **facts: Any) -> None:
        """Record a stage of this session's run (never another cockpit's)."""
        self.incident.record_remediation(self.rid, stage, run=self.run, **facts)

    def _plan_run(self, details: dict[str, Any]) -> None:
        """Record a new run, numbered under the journal's lock after reading what other
        cockpits recorded, so two never take the same number."""
        with contextlib.ExitStack() as stack:
            if self.journal is not None:
                # an unwritable journal cannot be locked: the event is held, unlocked
                with contextlib.suppress(IncidentTuiError):
                    stack.enter_context(self.journal.locked())
                self.sync()
            event = self.incident.record_remediation(self.rid, "planned", details=details)
        self.run = int(event.details["run"])

    def own_run(self) -> RemediationRun | None:
        return None if self.run is None else self.incident.remediation_run(self.rid, self.run)

    def _record_failure(self, error: BaseException, during: str) -> None:
        hint = error.hint if isinstance(error, RemediationError) else None
        self._stage("failed", error=sentence(error), details={"during": during, "hint": hint})

    def _register_secret(self, value: str) -> None:
        register_secret(value)
        if self.journal is not None:
            self.journal.register_secret(value)

    def in_progress_elsewhere(self) -> list[str]:
        """Remediations another cockpit (or command) started on this incident and has not
        finished, as the shared journal says: one warning each."""
        if self.journal is not None:
            self.sync()
        mine = self.own_run()
        warnings = []
        for run in self.incident.remediations:
            if run is mine or run.stage not in ("planned", "dry_run", "applied"):
                continue
            last = run.steps[-1]
            # journal text from another process: shown inert
            warnings.append(
                inert(
                    f"In progress elsewhere: {run.title}: {last.summary.split(':')[0].lower()} "
                    f"by {last.actor} at {last.at:%H:%M:%S} UTC."
                )
            )
        return warnings

    def recorded_meanwhile(self) -> str:
        """Who changed the deployment since this run's dry run, as the shared journal has
        it, in one sentence."""
        if self.journal is not None:
            self.sync()
        run = self.own_run()
        since = run.steps[-1].at if run is not None and run.steps else None
        changed = [
            e
            for e in self.incident.events
            if e.kind
            in (
                "remediation_applied",
                "remediation_verified",
                "remediation_rolled_out",
                "remediation_reverted",
            )
            and (since is None or e.time >= since)
            and not (run is not None and e.details.get("run") == run.run)
        ]
        if not changed:
            return "Nothing in this incident's journal did it: it was changed from outside."
        last = changed[-1]
        return inert(
            f"Recorded meanwhile: {last.summary} ({last.actor}, {last.time:%H:%M:%S} UTC)."
        )

    # ------------------------------------------------------------------ the stages

    async def prepare(self, params: dict[str, str], secret: str | None = None) -> Preview:
        """Plan with the responder's params (and, for rotate_secret, the new value) and ask
        the server for a dry run: ``planned`` and ``dry_run`` (or ``failed``) recorded."""
        if secret:
            self._register_secret(secret)
        try:
            self.runner = self.runner or await self.open_runner()
        except IncidentTuiError as error:
            return Preview(error=sentence(error))
        if self.closed:
            return Preview()
        remediation = self.remediation
        try:
            plan = self.runner.plan(remediation, params)
        except RemediationError as error:
            return Preview(error=without_hint(error), hint=error.hint)
        plan.secret_value = secret
        shown = {p.name: params.get(p.name) for p in remediation.params if not p.secret}
        self._plan_run({"target": plan.target, "params": shown})
        try:
            dry = await self.runner.dry_run(plan)
        except RemediationError as error:
            if self.closed:
                return Preview()
            self._record_failure(error, "dry run")
            return Preview(plan, None, without_hint(error), error.hint or remediation.hint)
        if self.closed:
            return Preview()
        dry.warnings.extend(self.in_progress_elsewhere())
        changes = [str(c) for c in dry.changes]
        self._stage(
            "dry_run",
            result=_count(len(changes), "change")
            + (" (server-checked)" if dry.server_checked else ""),
            details={"changes": changes, "warnings": dry.warnings},
        )
        return Preview(plan, dry)

    def cancel(self) -> None:
        """The responder closed the confirmation: a run it had planned (and dry-run) ends
        there, in the record too, instead of looking as if it were still to be applied."""
        self.closed = True
        run = self.own_run()
        if run is not None and run.stage in ("planned", "dry_run"):
            self._stage("cancelled", result="nothing applied")

    async def apply(self, plan: Plan, *, reverting: bool = False) -> Step:
        """Make the change: ``applied``, ``refused`` (the cluster changed since the dry
        run; nothing written) or ``failed`` recorded."""
        self.closed = True
        runner = await self._runner()
        during = "revert" if reverting else "apply"
        try:
            applied = await runner.apply(plan)
        except RemediationConflict as error:
            said = f"{sentence(error)} {self.recorded_meanwhile()}"
            self._stage("refused", error=said, details={"during": during, "changes": error.changes})
            return Step(False, said, refused=True)
        except RemediationError as error:
            self._record_failure(error, during)
            hint = error.hint or plan.remediation.hint
            return Step(False, without_hint(error), hint, notice=sentence(error))
        if not reverting:
            self.watch = await self._watch_plan()
            self._stage("applied", result=applied.message)
        return Step(True, applied.message, applied=applied)

    async def verify(
        self,
        plan: Plan,
        applied: ApplyResult | None = None,
        *,
        reverting: bool = False,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> Step:
        """Follow the rollout: ``verified`` (``reverted`` for a revert) or ``failed``
        recorded; a verified remediation ticks the checklist item that started it."""
        runner = await self._runner()
        try:
            verified = await runner.verify(plan, on_progress=on_progress)
        except RemediationError as error:
            self._record_failure(error, "verify")
            return Step(
                False, without_hint(error), error.hint, applied=applied, notice=sentence(error)
            )
        if verified.ok and reverting:
            self._stage("reverted", result=verified.message)
        elif verified.ok:
            watching = self.watch is not None and bool(self.watch.signals)
            self._stage(
                "rolled_out",
                result=verified.message
                + (f"; watching {self.watch.words()}" if self.watch and watching else ""),
                details={"watch": self.watch.as_details()} if self.watch else None,
            )
        else:
            during = "revert" if reverting else "verify"
            self._stage("failed", error=verified.message, details={"during": during})
        if verified.ok and not reverting and self.checklist_key is not None:
            with contextlib.suppress(IncidentTuiError):
                self.incident.check(self.checklist_key)
        return Step(verified.ok, verified.message, applied=applied)

    # ------------------------------------------------------------------ judging

    async def _watch_plan(self) -> WatchPlan | None:
        if self.read is None:
            return None
        try:
            readings = await self.read()
        except IncidentTuiError:
            readings = Readings()
        plan = watch_plan(self.incident.runbook, self.remediation, readings)
        return dataclasses.replace(
            plan, window=self.window or plan.window, within=self.within or plan.within
        )

    async def judge(
        self,
        *,
        on_progress: Callable[[Verdict], None] | None = None,
        tick: float = 1.0,
    ) -> Verdict:
        """After the rollout: watch the signals the remediation is meant to move until it is
        judged; ``effective`` or ``not_effective`` recorded with the evidence. Without
        readings or signals to judge by, nothing is recorded (its rollout was)."""
        if self.read is None or self.watch is None or not self.watch.signals:
            return Verdict("nothing_to_watch")
        judge = Judge(self.incident.runbook, self.watch, self.clock())
        while True:
            try:
                readings = await self.read()
            except IncidentTuiError:
                readings = Readings()
            verdict = judge.observe(readings, self.clock())
            if on_progress is not None:
                on_progress(verdict)
            if verdict.done:
                break
            await asyncio.sleep(tick)
        shown = format_duration(self.watch.window)
        if verdict.state == "effective":
            self._stage(
                "effective",
                result=f"{verdict.evidence} for {shown}",
                details={"watched": list(self.watch.signals)},
            )
        else:
            self._stage(
                "not_effective",
                error=f"still {verdict.problems} after {format_duration(self.watch.within)}",
                details={"watched": list(self.watch.signals)},
            )
        return verdict

    async def _runner(self) -> RemediationRunner:
        self.runner = self.runner or await self.open_runner()
        return self.runner

    # ------------------------------------------------------------------ revert

    def revert_of(self, plan: Plan, applied: ApplyResult) -> Remediation:
        """The remediation that undoes an applied one, the way its runbook entry says:
        another remediation, a rollback to the revision before, or the variables restored.
        :class:`RemediationError` when there is none to run (``manual``, or no previous
        values)."""
        rem = plan.remediation
        spec = rem.revert
        if spec is None:
            raise RemediationError(f'"{rem.title}" has no revert in the runbook.')
        if spec.kind == "manual":
            raise RemediationError(f"Revert by hand: {spec.note or 'see the runbook'}.")
        if spec.kind == "remediation":
            assert spec.remediation is not None
            try:
                return self.incident.runbook.remediation(spec.remediation)
            except KeyError:
                raise RemediationError(
                    f'The revert of "{rem.title}" names "{spec.remediation}", which the runbook does not have.'
                ) from None
        if spec.kind == "rollout_undo":
            revision = applied.before.get("revision")
            return RolloutUndo(
                id=f"{rem.id}-revert",
                title=f"Roll back {rem.title}",
                kind="rollout_undo",
                to_revision=int(revision) if revision and str(revision).isdigit() else None,
            )
        previous = applied.before.get("env")
        if not isinstance(previous, dict) or not isinstance(rem, SetEnv):
            raise RemediationError(f'"{rem.title}" has no previous values to restore.')
        return SetEnv(
            id=f"{rem.id}-revert",
            title=f"Restore the variables {rem.title} changed",
            kind="set_env",
            env=previous,
            container=rem.container,
        )

    async def prepare_revert(self, plan: Plan, applied: ApplyResult) -> Preview:
        """The revert's plan and dry run, to confirm like any remediation."""
        try:
            undo = self.revert_of(plan, applied)
            runner = await self._runner()
            undo_plan = runner.plan(undo, plan.params)
            return Preview(undo_plan, await runner.dry_run(undo_plan))
        except RemediationError as error:
            return Preview(error=without_hint(error), hint=error.hint)

    async def revert(self, plan: Plan, applied: ApplyResult) -> Step:
        """Undo an applied remediation without asking (for commands and tests; the cockpit
        confirms :meth:`prepare_revert`'s preview first): dry run, apply, follow;
        ``reverted`` or ``failed`` recorded."""
        preview = await self.prepare_revert(plan, applied)
        if preview.plan is None or preview.error is not None:
            return Step(False, preview.error or "Nothing to revert.", preview.hint)
        step = await self.apply(preview.plan, reverting=True)
        if not step.ok:
            return step
        return await self.verify(preview.plan, step.applied, reverting=True)
