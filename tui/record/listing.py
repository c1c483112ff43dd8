"""Finding incidents: a journal by id (or unique prefix), and the list of all recorded
incidents with a one-line summary each."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tui.errors import JournalError
from tui.record.event import JOURNAL_FILE, Event, utcnow
from tui.record.journal import Journal, JournalWarning, incidents_dir

__all__ = ["IncidentSummary", "list_incidents", "summarize"]


@dataclass
class IncidentSummary:
    """What ``incident-tui incidents`` shows of one incident, folded from its journal."""

    id: str
    path: Path
    runbook: str = "?"
    title: str = ""
    severity: str = "?"
    status: str = "?"
    declared_at: datetime | None = None
    resolved_at: datetime | None = None
    last_event_at: datetime | None = None
    events: int = 0
    demo: str | None = None
    """The sandbox scenario of a demo incident."""
    warnings: list[JournalWarning] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status != "resolved"

    def age(self, now: datetime | None = None) -> timedelta | None:
        """Time since declaration."""
        if self.declared_at is None:
            return None
        return (now or utcnow()) - self.declared_at


def summarize(
    events: Iterable[Event], *, incident_id: str = "", path: Path | None = None
) -> IncidentSummary:
    """Fold events into an :class:`IncidentSummary` without needing the runbook."""
    summary = IncidentSummary(id=incident_id, path=path or Path())
    for event in events:
        summary.events += 1
        summary.last_event_at = event.time
        details = event.details
        if event.kind == "declared":
            summary.runbook = str(details.get("runbook", summary.runbook))
            summary.title = str(details.get("title", ""))
            summary.severity = str(details.get("severity", summary.severity))
            summary.status = str(details.get("status", "investigating"))
            summary.declared_at = event.time
            summary.id = str(details.get("incident_id", summary.id)) or summary.id
            summary.demo = str(details["demo"]) if details.get("demo") else None
        elif event.kind == "severity_changed":
            summary.severity = str(details.get("to", summary.severity))
        elif event.kind == "status_changed":
            summary.status = str(details.get("to", summary.status))
        elif event.kind == "resolved":
            summary.status = "resolved"
            summary.resolved_at = event.time
        elif event.kind == "reopened":
            summary.status = str(details.get("to", "investigating"))
            summary.resolved_at = None
    return summary


def list_incidents(*, root: Path | None = None) -> list[IncidentSummary]:
    """Every incident in the state dir, most recently declared first."""
    base = root or incidents_dir()
    if not base.is_dir():
        return []
    found = []
    for folder in base.iterdir():
        if not (folder / JOURNAL_FILE).is_file():
            continue
        journal = Journal(folder)
        warnings: list[JournalWarning] = []
        try:
            summary = summarize(journal.iter_events(warnings), incident_id=folder.name, path=folder)
        except JournalError:
            continue
        summary.id = folder.name
        summary.warnings = warnings
        found.append(summary)
    epoch = datetime.min.replace(tzinfo=UTC)
    found.sort(key=lambda s: (s.declared_at or epoch, s.id), reverse=True)
    return found
