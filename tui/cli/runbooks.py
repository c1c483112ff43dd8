"""`incident-tui runbooks`: list, show and validate runbooks."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tui.cli.context import load_context_catalog
from tui.errors import RunbookError
from tui.inert import inert
from tui.output import echo, show

__all__ = ["runbooks"]


@click.group("runbooks")
def runbooks() -> None:
    """List, show and validate runbooks."""


@runbooks.command("list")
@click.pass_context
def runbooks_list(ctx: click.Context) -> None:
    """List every runbook: id, title and where it comes from."""
    from rich.table import Table

    catalog = load_context_catalog(ctx)
    table = Table("id", "title", "source", box=None, pad_edge=False)
    for runbook_id in sorted(catalog.runbooks):
        source = catalog.runbooks[runbook_id]
        where = "bundled" if source.origin == "bundled" else f"user file {source.path}"
        if source.replaces is not None:
            where += f" (replaces {source.replaces})"
        table.add_row(inert(runbook_id), inert(source.runbook.title), inert(where))
    show(table)
    for problem in catalog.problems:
        echo(f"incident-tui: skipped {problem}", err=True)
    if catalog.problems:
        sys.exit(2)


@runbooks.command("show")
@click.argument("runbook_id")
@click.pass_context
def runbooks_show(ctx: click.Context, runbook_id: str) -> None:
    """Show one runbook, readably."""
    from tui.runbook.view import render_runbook

    book = load_context_catalog(ctx).get(runbook_id)
    show(render_runbook(book))


@runbooks.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def runbooks_validate(paths: tuple[Path, ...]) -> None:
    """Validate runbook files, their PromQL included; print every problem as
    FILE:LINE: FIELD: MESSAGE."""
    from tui.runbook import load_runbook

    failed = False
    for path in paths:
        try:
            book = load_runbook(path, check_queries=True)
        except RunbookError as error:
            failed = True
            for problem in error.problems:
                echo(str(problem), err=True)
            continue
        echo(f"{path}: ok ({book.id}: {book.title})")
    if failed:
        sys.exit(2)
