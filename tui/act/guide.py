"""Guided rollouts: the steps a checklist item starts when it and the items after it at the
same level include a wait (a gradual rollout): remediations to confirm, waits watching
signals, commands to run by hand."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from tui.errors import IncidentTuiError
from tui.runbook import Runbook
from tui.runbook.checklists import ChecklistEntry, checklist_entries, find_checklist_entry

__all__ = ["GuideStep", "first_guide", "guide_steps"]


@dataclass
class GuideStep:
    """One step of a guided sequence: a remediation to confirm, a wait watching signals,
    or a command to run by hand."""

    kind: str
    """``remediation``, ``wait`` or ``command``."""
    text: str
    key: str
    remediation_id: str | None = None
    wait: timedelta | None = None
    watch: tuple[str, ...] = ()
    command: str | None = None


def guide_steps(runbook: Runbook, key: str) -> list[GuideStep]:
    """The guided sequence the checklist item ``key`` starts: the item and the items after
    it at the same level, when they include a wait; else empty."""
    try:
        start = find_checklist_entry(runbook, key)
    except IncidentTuiError:
        return []
    entries = checklist_entries(runbook, start.list_id)
    siblings = list(_siblings(entries, start))
    if not any(e.item.wait is not None for e in siblings):
        return []
    commands = {t.id: t.command for t in (*runbook.triage, *runbook.evidence)}
    steps = []
    for entry in siblings:
        item = entry.item
        if item.remediation is not None:
            steps.append(GuideStep("remediation", entry.text, entry.key, item.remediation))
        elif item.wait is not None:
            steps.append(
                GuideStep("wait", entry.text, entry.key, wait=item.wait, watch=tuple(item.watch))
            )
        elif item.triage is not None:
            steps.append(
                GuideStep("command", entry.text, entry.key, command=commands.get(item.triage))
            )
    return steps


def first_guide(runbook: Runbook) -> list[GuideStep]:
    """The runbook's first guided sequence, if it has one."""
    for checklist in runbook.checklists:
        for entry in checklist_entries(runbook, checklist.id):
            steps = guide_steps(runbook, entry.key)
            if steps:
                return steps
    return []


def _siblings(entries: list[ChecklistEntry], start: ChecklistEntry) -> Iterator[ChecklistEntry]:
    index = entries.index(start)
    for entry in entries[index:]:
        if entry.depth < start.depth:
            return
        if entry.depth == start.depth:
            yield entry
