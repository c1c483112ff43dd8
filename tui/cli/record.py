"""Headless commands that write and read the incident record: declare, note, severity,
status, resolve, export, replay and incidents.

They append to the same journal a running cockpit shows, so a responder without the
cockpit (or a script) can take part in an incident. Every change is made through
:class:`tui.record.incident.Incident` while the journal's lock is held, so no other process
appends between reading the state and recording the change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tui.cli.context import load_context_catalog, load_context_settings, runbook_dirs
from tui.errors import ConfigError, JournalError
from tui.inert import inert
from tui.output import echo

if TYPE_CHECKING:
    from tui.record.incident import Incident
    from tui.record.journal import Journal, JournalWarning
    from tui.runbook import Runbook

__all__ = ["declare", "export", "incidents", "note", "replay", "resolve", "severity", "status"]


def _warn(warnings: list[JournalWarning]) -> None:
    for warning in warnings:
        echo(f"incident-tui: warning: {warning}", err=True)


def _open(ctx: click.Context, journal: Journal) -> Incident:
    """The incident of a journal as a command changes or exports it; warnings printed."""
    from tui.record.event import default_actor
    from tui.record.store import open_incident

    warnings: list[JournalWarning] = []
    incident, _ = open_incident(
        journal,
        runbook_dirs=runbook_dirs(ctx),
        warnings=warnings,
        actor=default_actor(),
        recorded_as="cli",
    )
    _warn(warnings)
    return incident


@contextmanager
def _changing(ctx: click.Context, incident_id: str) -> Iterator[Incident]:
    """The incident, rebuilt from its journal under the journal's lock, ready to change."""
    from tui.record.journal import find_journal

    journal = find_journal(incident_id)
    with journal, journal.locked():
        yield _open(ctx, journal)


def _clock(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC"


# --------------------------------------------------------------------------- changing


@click.command("declare")
@click.option("--runbook", "runbook_id", required=True, help="Id of the runbook to follow.")
@click.option("--severity", required=True, help="P1-P4, as the runbook's severity table has.")
@click.option("--title", required=True, help="What is happening, in a few words.")
@click.option("--impact", help="Who or what is affected.")
@click.option("--commander", help="The incident commander (default: you).")
@click.pass_context
def declare(
    ctx: click.Context,
    runbook_id: str,
    severity: str,
    title: str,
    impact: str | None,
    commander: str | None,
) -> None:
    """Declare a new incident; prints its id as the last line."""
    from tui.errors import IncidentError
    from tui.record.event import default_actor
    from tui.record.state import check_severity
    from tui.record.store import declare_incident
    from tui.runbook import format_duration

    runbook = load_context_catalog(ctx).get(runbook_id)
    level = check_severity(runbook, severity)
    if not title.strip():
        raise IncidentError("an incident needs a title (--title)")
    incident, journal = declare_incident(
        runbook,
        title=title,
        severity=level,
        impact=impact,
        commander=commander,
        actor=default_actor(),
        source="cli",
    )
    journal.close()
    incident_id = incident.id
    info = incident.severity_info()
    due = incident.response_due()
    limit = info.response_time_label or f"within {format_duration(info.response_time)}"
    echo(f"Declared {level} incident on runbook {runbook.id}: {incident.title}")
    echo(f"Response due by {_clock(due)} ({limit}); journal {journal.path}")
    echo(incident_id)


@click.command("note")
@click.argument("incident_id")
@click.argument("text", nargs=-1, required=True)
@click.option("--pin", is_flag=True, help="Pin the note (a pinned-only export keeps it).")
@click.pass_context
def note(ctx: click.Context, incident_id: str, text: tuple[str, ...], pin: bool) -> None:
    """Write a note on an incident's timeline."""
    with _changing(ctx, incident_id) as incident:
        event = incident.note(" ".join(text), pin=pin)
    echo(f"{incident.id}: noted at {event.time:%H:%M:%S} UTC" + (" (pinned)" if pin else ""))


@click.command("severity")
@click.argument("incident_id")
@click.argument("level")
@click.option("--reason", help="Why the severity changes.")
@click.pass_context
def severity(ctx: click.Context, incident_id: str, level: str, reason: str | None) -> None:
    """Change an incident's severity (P1-P4)."""
    with _changing(ctx, incident_id) as incident:
        before = incident.severity
        event = incident.set_severity(level, reason=reason)
    if event is None:
        echo(f"{incident.id} is already {incident.severity}.")
        return
    due = incident.response_due()
    echo(f"{incident.id}: severity {before} -> {incident.severity}; response due by {_clock(due)}")


@click.command("status")
@click.argument("incident_id")
@click.argument("new_status", metavar="STATUS")
@click.option("--reason", help="Why; required to move the status back.")
@click.pass_context
def status(ctx: click.Context, incident_id: str, new_status: str, reason: str | None) -> None:
    """Move an incident along investigating, identified, mitigated, monitoring, resolved."""
    with _changing(ctx, incident_id) as incident:
        before = incident.status
        event = incident.set_status(new_status.strip().lower(), reason=reason)
    if event is None:
        echo(f"{incident.id} is already {incident.status}.")
        return
    echo(f"{incident.id}: status {before} -> {incident.status}")


@click.command("resolve")
@click.argument("incident_id")
@click.option("--summary", required=True, help="One or two sentences for the postmortem.")
@click.pass_context
def resolve(ctx: click.Context, incident_id: str, summary: str) -> None:
    """Resolve an incident; the summary opens its postmortem."""
    with _changing(ctx, incident_id) as incident:
        incident.resolve(summary)
    assert incident.declared_at is not None and incident.resolved_at is not None
    took = _span(incident.resolved_at - incident.declared_at)
    echo(f"{incident.id}: resolved after {took}")


# --------------------------------------------------------------------------- reading


@click.command("export")
@click.argument("incident_id", required=False)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to write <id>/ and <id>.tar.gz into.",
)
@click.option("--pinned-only", is_flag=True, help="Keep only pinned events on the timeline.")
@click.pass_context
def export(ctx: click.Context, incident_id: str | None, out_dir: Path, pinned_only: bool) -> None:
    """Write the postmortem and the evidence bundle of an incident (the latest by default)."""
    from tui.record.bundle import export_incident
    from tui.record.listing import list_incidents

    if incident_id is None:
        known = list_incidents()
        if not known:
            raise JournalError("there is no incident to export yet")
        incident_id = known[0].id
    # no lock while exporting: collecting evidence may take a while, and a cockpit
    # recording into the same journal must not wait for it
    from tui.record.journal import find_journal

    journal = find_journal(incident_id)
    incident = _open(ctx, journal)
    result = export_incident(
        incident,
        out_dir.resolve(),
        pinned_only=pinned_only,
        journal=journal,
        evidence=_evidence(ctx, incident.runbook),
    )
    for line in result.notes:
        echo(f"note: {line}", err=True)
    echo(f"postmortem: {result.postmortem}")
    echo(f"evidence:   {result.folder}")
    echo(f"archive:    {result.archive}")
    try:
        incident.record_export(
            str(result.folder), files=[p.name for p in result.files], pinned_only=pinned_only
        )
    except JournalError as error:
        # the export is whole; only the line saying it was made is missing
        echo(f"incident-tui: warning: the export is complete, but {error}", err=True)
    finally:
        journal.close()


def _evidence(ctx: click.Context, runbook: Runbook) -> Any:
    """The live sources as the bundle's evidence, or None when the config is unusable
    (the manifest then says the logs and metrics were not collected)."""
    from tui.sources.hub import Evidence

    try:
        settings = load_context_settings(ctx)
    except ConfigError as error:
        echo(f"note: evidence not collected: {error}", err=True)
        return None
    return Evidence(settings, runbook)


def _elapsed(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}"


@click.command("replay")
@click.argument("incident_id")
@click.option(
    "--print",
    "as_text",
    is_flag=True,
    help="Print the timeline instead of stepping through it in the cockpit (the default "
    "when the output is not a terminal).",
)
@click.pass_context
def replay(ctx: click.Context, incident_id: str, as_text: bool) -> None:
    """Step through a recorded incident in the cockpit, read-only (left/right move through
    its events), or print its timeline with the time since declaration."""
    import sys

    from tui.record.journal import find_journal

    journal = find_journal(incident_id)
    loaded = journal.load()
    events = loaded.events
    if not as_text and sys.stdout.isatty() and events:
        _replay_in_cockpit(ctx, journal, events)
        return
    start = next(
        (e.time for e in events if e.kind == "declared"), events[0].time if events else None
    )
    if start is None:
        raise JournalError(f"incident {journal.incident_id} has no events yet")
    kind_width = max(len(inert(e.kind)) for e in events)
    actor_width = max(len(inert(e.actor)) for e in events)
    for event in events:
        # one row per event: a newline inside a summary is shown, not obeyed
        echo(
            f"{_elapsed(event.time - start)}  {inert(event.kind):<{kind_width}}  "
            f"{inert(event.actor):<{actor_width}}  {inert(event.summary)}"
        )
    _warn(loaded.warnings)


def _replay_in_cockpit(ctx: click.Context, journal: Any, events: list[Any]) -> None:
    from tui.app import IncidentApp, Launch
    from tui.record.store import open_incident

    incident, _ = open_incident(journal, runbook_dirs=runbook_dirs(ctx))
    launch = Launch(
        settings=load_context_settings(ctx),
        catalog=load_context_catalog(ctx),
        incident=incident,
        read_only=True,
        replay_events=list(events),
        live=False,
    )
    IncidentApp(launch).run()


def _span(delta: timedelta) -> str:
    """``42m``, ``3h12m``, ``2d4h``, ``<1m``."""
    minutes = int(delta.total_seconds()) // 60
    if minutes < 1:
        return "<1m"
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m"


@click.command("incidents")
@click.option("--open", "only_open", is_flag=True, help="Only incidents not yet resolved.")
def incidents(only_open: bool) -> None:
    """List recorded incidents, newest first: id, status, severity, runbook, title, age."""
    from tui.record.event import utcnow
    from tui.record.journal import incidents_dir
    from tui.record.listing import list_incidents

    found = [s for s in list_incidents() if s.is_open or not only_open]
    if not found:
        echo(f"No {'open ' if only_open else ''}incidents in {incidents_dir()}.")
        return
    now = utcnow()
    rows: list[list[str]] = [["ID", "STATUS", "SEVERITY", "RUNBOOK", "TITLE", "AGE"]]
    for summary in found:
        age = summary.age(now)
        status = f"{summary.status} (demo)" if summary.demo else summary.status
        fields = (summary.id, status, summary.severity, summary.runbook, summary.title)
        rows.append([*(inert(cell) for cell in fields), _span(age) if age is not None else "?"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        padded = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        echo("  ".join([*padded, row[-1]]).rstrip())
