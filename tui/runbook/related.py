"""Related runbooks: a runbook can name others for the same service (the Clay incident
runbook names the Clay production checklist), and then carries their checklists, with the
remediations, commands and signals those use, so that during an incident a fix that ships
a new image or config can go out with the checklist's canary pauses and its guided rollout.

What is taken keeps its id unless the runbook already has that id for something else;
then it is prefixed with the related runbook's id (``clay-prod-checklist.rollback``), and
every reference to it follows. The checklists are titled with their runbook's title.
"""

from __future__ import annotations

from collections.abc import Mapping

from tui.runbook.remediations import Remediation
from tui.runbook.schema import Runbook
from tui.runbook.sections import Checklist, ChecklistItem

__all__ = ["with_related"]


class _Taken:
    """What one related runbook gives: its checklists, their remediations, commands and
    watched signals, renamed where the runbook has the id for something else."""

    def __init__(self, runbook: Runbook, other: Runbook) -> None:
        mine_rems = {r.id: r for r in runbook.remediations}
        mine_commands = {t.id: t for t in (*runbook.triage, *runbook.evidence)}
        self.other = other
        self.rem_names = {r.id: _name(r.id, r, mine_rems, other.id) for r in other.remediations}
        self.commands = {t.id: t for t in (*other.triage, *other.evidence)}
        self.command_names = {
            t.id: _name(t.id, t, mine_commands, other.id) for t in self.commands.values()
        }
        self.new_rems = [r for r in other.remediations if self.rem_names[r.id] not in mine_rems]
        self.used_commands: set[str] = set()
        self.watched: set[str] = set()

    def item(self, step: ChecklistItem) -> ChecklistItem:
        if step.triage is not None and step.triage in self.commands:
            self.used_commands.add(step.triage)
        self.watched.update(step.watch)
        return step.model_copy(
            update={
                "remediation": self.rem_names.get(step.remediation or "", step.remediation),
                "triage": self.command_names.get(step.triage or "", step.triage),
                "items": [self.item(child) for child in step.items],
            }
        )

    def remediation(self, rem: Remediation) -> Remediation:
        update: dict[str, object] = {"id": self.rem_names[rem.id]}
        if rem.revert is not None and rem.revert.remediation is not None:
            update["revert"] = rem.revert.model_copy(
                update={"remediation": self.rem_names.get(rem.revert.remediation)}
            )
        return rem.model_copy(update=update)


def _name(item_id: str, item: object, mine: Mapping[str, object], prefix: str) -> str:
    """The id a related runbook's remediation or command goes by: its own, unless the
    runbook has a different one by that id (the same one is shared, not copied)."""
    if item_id not in mine or mine[item_id] == item:
        return item_id
    return f"{prefix}.{item_id}"


def with_related(runbook: Runbook, others: Mapping[str, Runbook]) -> tuple[Runbook, list[str]]:
    """``runbook`` with the checklists of every runbook it names in ``related`` (and what
    they use), and one sentence per related runbook that could not be taken."""
    problems: list[str] = []
    merged = runbook
    service = runbook.service
    for related_id in runbook.related:
        other = others.get(related_id)
        if other is None:
            problems.append(
                f'names the related runbook "{related_id}", which is not in the catalog'
            )
            continue
        if (other.service.namespace, other.service.deployment) != (
            service.namespace,
            service.deployment,
        ):
            problems.append(
                f'names the related runbook "{related_id}", which is for deployment '
                f"{other.service.namespace}/{other.service.deployment}, not "
                f"{service.namespace}/{service.deployment}: its remediations would change "
                "another service"
            )
            continue
        taken = _Taken(merged, other)
        list_ids = {c.id for c in merged.checklists}
        checklists = [
            Checklist(
                id=checklist.id if checklist.id not in list_ids else f"{other.id}.{checklist.id}",
                title=f"{other.title}: {checklist.title}",
                description=checklist.description,
                steps=[taken.item(step) for step in checklist.steps],
                origin=other.id,
            )
            for checklist in other.checklists
        ]
        mine_commands = {t.id for t in (*merged.triage, *merged.evidence)}
        commands = [
            taken.commands[cid].model_copy(update={"id": taken.command_names[cid]})
            for cid in sorted(taken.used_commands)
            if taken.command_names[cid] not in mine_commands
        ]
        known = {s.id for s in merged.signals}
        signals = [s for s in other.signals if s.id in taken.watched and s.id not in known]
        merged = merged.model_copy(
            update={
                "checklists": [*merged.checklists, *checklists],
                "remediations": [
                    *merged.remediations,
                    *(taken.remediation(r) for r in taken.new_rems),
                ],
                "triage": [*merged.triage, *commands],
                "signals": [*merged.signals, *signals],
            }
        )
    return merged, problems
