"""What the record says is still changed in the cluster: the remediations in effect, the
temporary mitigations among them (a fallback, a bypass flag, extra replicas), and how
each is undone, in words a responder can follow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui.runbook import Remediation, Runbook

if TYPE_CHECKING:
    from tui.record.incident import Incident
    from tui.record.state import RemediationRun

__all__ = ["InEffect", "in_effect", "temporary_in_effect", "undo_words"]

_IN_EFFECT = ("applied", "rolled_out", "effective", "not_effective")


@dataclass(frozen=True)
class InEffect:
    """One remediation the record says is in effect, with its runbook entry."""

    run: RemediationRun
    remediation: Remediation

    @property
    def title(self) -> str:
        return self.remediation.title


def in_effect(incident: Incident) -> list[InEffect]:
    """Every remediation applied and not undone since, oldest first: not reverted, not
    failed, not undone by the remediation its runbook names as its revert (the scale-down
    after a scale-up), not replaced by a later run of itself."""
    runbook = incident.runbook
    active: dict[str, tuple[RemediationRun, Remediation]] = {}
    for run in sorted(incident.remediations, key=lambda r: r.started_at):
        try:
            rem = runbook.remediation(run.remediation)
        except KeyError:
            continue
        active[run.remediation] = (run, rem)
        if run.stage not in _IN_EFFECT:
            continue
        for other_id, (_, other) in list(active.items()):
            if other.revert is not None and other.revert.remediation == run.remediation:
                del active[other_id]
    return [InEffect(run, rem) for run, rem in active.values() if run.stage in _IN_EFFECT]


def temporary_in_effect(incident: Incident) -> list[InEffect]:
    """The mitigations in effect the runbook marks ``temporary``: meant to be undone."""
    return [m for m in in_effect(incident) if m.remediation.temporary]


def undo_words(runbook: Runbook, remediation: Remediation) -> str:
    """How to undo ``remediation``, as the runbook says (``restore CLAY_FALLBACK to its
    value before (v on its remediation screen)``)."""
    spec = remediation.revert
    deployment = f"deployment/{runbook.service.deployment} -n {runbook.service.namespace}"
    if spec is None:
        return "the runbook names no revert: undo it by hand"
    if spec.kind == "manual":
        return spec.note or "undo it by hand, as the runbook describes"
    if spec.kind == "remediation":
        try:
            other = runbook.remediation(spec.remediation or "").title
        except KeyError:
            other = spec.remediation or "?"
        return f'run "{other}"'
    if spec.kind == "rollout_undo":
        return f"roll back to the revision before it (kubectl rollout undo {deployment})"
    names = ", ".join(getattr(remediation, "env", {}) or {}) or "the variables it set"
    return f"restore {names} to the value before it (v on its remediation screen)"
