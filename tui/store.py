"""The one way to declare an incident: its folder, its runbook snapshot and its first event,
all or nothing."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from datetime import datetime

from tui.incident import Incident
from tui.runbook import Runbook
from tui.timeline import Journal, new_incident_id, utcnow

__all__ = ["declare_incident"]


def declare_incident(
    runbook: Runbook,
    *,
    title: str,
    severity: str,
    impact: str | None = None,
    commander: str | None = None,
    actor: str | None = None,
    source: str = "cockpit",
    clock: Callable[[], datetime] = utcnow,
) -> tuple[Incident, Journal]:
    """Record a new incident and return it with its journal. When any step fails (a full
    disk, an unwritable state folder, a bad severity) the folder is removed again, so no
    half-made incident is left for ``incidents`` to list, and the error is raised."""
    incident_id = new_incident_id(runbook.id)
    journal = Journal.create(incident_id)
    try:
        journal.save_runbook(runbook)
        incident = Incident.declare(
            runbook,
            incident_id=incident_id,
            title=title,
            severity=severity,
            impact=impact,
            commander=commander,
            recorder=journal,
            clock=clock,
            actor=actor,
            source=source,
        )
    except BaseException:  # whatever stopped it, no half-made incident stays behind
        journal.close()
        with contextlib.suppress(OSError):
            shutil.rmtree(journal.directory)
        raise
    return incident, journal
