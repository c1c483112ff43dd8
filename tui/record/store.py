"""The one way to declare an incident and the one way to open a recorded one.

:func:`declare_incident` makes its folder, its runbook snapshot and its first event, all
or nothing. :func:`open_incident` rebuilds one from its journal, with the runbook given,
else the catalog's runbook with the declared id, else the copy saved at declaration (so an
incident whose runbook has since been removed still opens).
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from tui.errors import JournalError
from tui.record.event import JOURNAL_FILE, new_incident_id, utcnow
from tui.record.incident import Incident
from tui.record.journal import Journal, JournalWarning, find_journal
from tui.runbook import (
    Catalog,
    Runbook,
    discover_runbooks,
)

__all__ = ["declare_incident", "open_incident", "runbook_for", "snapshot_runbook"]


# --------------------------------------------------------------------------- loading


def _aliased(data: Any) -> Any:
    # a snapshot dumped without by_alias spells the `not:` condition `not_`
    if isinstance(data, dict):
        return {("not" if k == "not_" else k): _aliased(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_aliased(v) for v in data]
    return data


def snapshot_runbook(journal: Journal) -> Runbook | None:
    """The runbook saved in the incident's folder at declaration, if it is there and valid."""
    from pydantic import ValidationError

    text = journal.runbook_snapshot()
    if text is None:
        return None
    try:
        return Runbook.model_validate_json(json.dumps(_aliased(json.loads(text))))
    except (ValueError, ValidationError):
        return None


def runbook_for(
    journal: Journal,
    runbook_id: str,
    runbook_dirs: Iterable[Path | str] = (),
    *,
    catalog: Catalog | None = None,
) -> Runbook:
    """The runbook of a recorded incident: the catalog's runbook with that id, else the
    copy saved at declaration; :class:`~tui.errors.RunbookError` when neither exists."""
    catalog = catalog if catalog is not None else discover_runbooks(runbook_dirs)
    source = catalog.runbooks.get(runbook_id)
    if source is not None:
        return source.runbook
    snapshot = snapshot_runbook(journal)
    if snapshot is not None and snapshot.id == runbook_id:
        return snapshot
    return catalog.get(runbook_id)  # raises the catalog's RunbookError naming known ids


def open_incident(
    source: Journal | Path | str,
    *,
    runbook: Runbook | None = None,
    catalog: Catalog | None = None,
    runbook_dirs: Iterable[Path | str] = (),
    warnings: list[JournalWarning] | None = None,
    actor: str | None = None,
    recorded_as: str = "cockpit",
    clock: Callable[[], datetime] = utcnow,
) -> tuple[Incident, Journal]:
    """Rebuild an incident from a journal, a journal folder, or an incident id (or a
    unique prefix of one), to continue it. The runbook is the one given, else the
    catalog's runbook with the declared id, else the copy saved at declaration. Unreadable
    lines go to ``warnings`` (the journal's own list by default, which the dashboard
    shows). New events are recorded into the journal as ``actor`` (the login name by
    default) from ``recorded_as`` (the source); :meth:`Journal.read_new` then returns
    only what others append from now on."""
    if isinstance(source, Journal):
        journal = source
    else:
        path = Path(source)
        journal = Journal(path) if (path / JOURNAL_FILE).is_file() else find_journal(str(source))
    loaded = journal.load()
    (warnings if warnings is not None else journal.warnings).extend(loaded.warnings)
    declared = next((e for e in loaded.events if e.kind == "declared"), None)
    if declared is None:
        raise JournalError(f"{journal.path} has no `declared` event, so it holds no incident")
    if runbook is None:
        runbook_id = str(declared.details.get("runbook", ""))
        runbook = runbook_for(journal, runbook_id, runbook_dirs, catalog=catalog)
    incident = Incident.from_events(
        runbook, loaded.events, recorder=journal, clock=clock, actor=actor, source=recorded_as
    )
    journal.seek_end()
    return incident, journal


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
    demo: str | None = None,
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
            demo=demo,
        )
    except BaseException:  # whatever stopped it, no half-made incident stays behind
        journal.close()
        with contextlib.suppress(OSError):
            shutil.rmtree(journal.directory)
        raise
    return incident, journal
