"""Starting the cockpit from the command line: declare, resume, or the picker."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tui.cli.context import load_context_catalog, load_context_settings
from tui.output import echo

if TYPE_CHECKING:
    from tui.record.journal import Journal

__all__ = ["run_cockpit"]


def run_cockpit(
    ctx: click.Context,
    *,
    runbook_id: str | None = None,
    severity: str | None = None,
    title: str | None = None,
    impact: str | None = None,
    resume_id: str | None = None,
    banner: str | None = None,
    demo: str | None = None,
) -> None:
    """Build the launch from the flags (every problem is one line before the screen
    opens) and run the app until the responder quits."""
    from tui.app import IncidentApp, Launch
    from tui.record.store import declare_incident, open_incident

    settings = load_context_settings(ctx)
    catalog = load_context_catalog(ctx)
    launch = Launch(settings=settings, catalog=catalog, banner=banner, demo=demo)
    if resume_id:
        launch.incident, launch.journal = open_incident(
            resume_id, catalog=catalog, actor=settings.responder
        )
    elif runbook_id:
        runbook = catalog.get(runbook_id)
        if not title:
            raise click.UsageError("--runbook needs --title (and --severity, P2 by default).")
        launch.incident, launch.journal = declare_incident(
            runbook,
            title=title,
            severity=severity or "P2",
            impact=impact,
            commander=settings.responder,
            actor=settings.responder,
            demo=demo,
        )
    app = IncidentApp(launch)
    try:
        app.run()
    finally:
        # the picker may have opened another incident than the one given at launch
        for journal in {id(j): j for j in (launch.journal, app.journal) if j is not None}.values():
            try:
                _say_held(journal)
            finally:
                journal.close()
    if app.return_code not in (0, None):
        raise SystemExit(app.return_code)


def _say_held(journal: Journal) -> None:
    """A last try at writing what the journal could not take; what still cannot be written
    is said on quitting, not lost without a word."""
    journal.flush_held()
    if journal.held:
        count = len(journal.held)
        echo(
            f"incident-tui: {count} event{'s' if count != 1 else ''} of incident "
            f"{journal.incident_id} could not be written to {journal.path} "
            f"({journal.held_error}); they were lost when the cockpit closed.",
            err=True,
        )
        raise SystemExit(2)
