"""Checklist keys: each item of a runbook checklist by its key.

Checklist keys name one item of a runbook checklist: ``<checklist id>/<step>`` with the
step numbered from 1, then ``/<letter>`` for a nested item (``a``, ``b``, …), then numbers
and letters alternating deeper down: ``auth_outage/4/a`` is item *a* of step 4 of the
``auth_outage`` checklist. The actions of a category use ``category:<category id>/…``
(``category:rate_limit/2``); ``:`` cannot occur in an id, so the two never clash.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tui.errors import UnknownReference
from tui.runbook import ChecklistItem, Runbook

__all__ = ["ChecklistEntry", "all_checklist_ids", "checklist_entries", "find_checklist_entry"]


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
    """The ids of the runbook's own checklists, then ``category:<id>`` of every category
    with actions, then the checklists carried from related runbooks."""
    own = [c.id for c in runbook.checklists if c.origin is None]
    carried = [c.id for c in runbook.checklists if c.origin is not None]
    return own + [f"category:{c.id}" for c in runbook.categories if c.actions] + carried


def find_checklist_entry(runbook: Runbook, key: str) -> ChecklistEntry:
    """The item a checklist key names; :class:`UnknownReference` if there is none."""
    list_id = key.split("/", 1)[0]
    for entry in checklist_entries(runbook, list_id):
        if entry.key == key:
            return entry
    raise UnknownReference(f'checklist "{list_id}" of runbook {runbook.id} has no item "{key}"')
