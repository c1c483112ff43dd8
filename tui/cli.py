"""The `incident-tui` command line: the cockpit by default, and its helper commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from tui import __version__
from tui.errors import IncidentTuiError
from tui.inert import inert
from tui.output import echo, show

if TYPE_CHECKING:
    from tui.runbook import Catalog, Runbook
    from tui.settings import Settings

__all__ = ["main"]


def fail(error: IncidentTuiError | str, code: int = 2) -> NoReturn:
    """Print one line to stderr (one per problem when a file has several) and exit: how
    every user-caused error ends a command."""
    problems = getattr(error, "problems", None)
    if isinstance(problems, list) and len(problems) > 1:
        for problem in problems:
            echo(f"incident-tui: {problem}", err=True)
    else:
        echo(f"incident-tui: {error}", err=True)
    sys.exit(getattr(error, "exit_code", code) if not isinstance(error, str) else code)


_LAZY_COMMANDS: dict[str, str] = {
    "triage": "tui.triage:triage",
    "demo": "tui.demo:demo",
    "sandbox": "tui.sandbox.command:sandbox",
    "declare": "tui.record_cli:declare",
    "note": "tui.record_cli:note",
    "severity": "tui.record_cli:severity",
    "status": "tui.record_cli:status",
    "resolve": "tui.record_cli:resolve",
    "export": "tui.record_cli:export",
    "replay": "tui.record_cli:replay",
    "incidents": "tui.record_cli:incidents",
    # name: "module:attribute" of a click command, imported only when it runs
}


class _Group(click.Group):
    """A group that turns every :class:`IncidentTuiError` into one line and exit code 2,
    and imports a command's module only when that command runs (start-up stays fast)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _LAZY_COMMANDS and cmd_name not in self.commands:
            import importlib

            module_name, attribute = _LAZY_COMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IncidentTuiError as error:
            fail(error)
        except KeyboardInterrupt:
            # the shell's convention (128 + SIGINT), where click would say "Aborted!" and 1
            echo("incident-tui: interrupted", err=True)
            sys.exit(130)


@click.group(
    cls=_Group,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "--version", prog_name="incident-tui")
@click.option(
    "--runbooks",
    "runbook_dirs",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Another folder of runbook YAML files (repeatable); its ids replace bundled ones.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file (default: $XDG_CONFIG_HOME/incident-tui/config.toml).",
)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).",
)
@click.option(
    "--context", "kube_context", help="Kubeconfig context (default: its current context)."
)
@click.option("--namespace", "-n", help="Namespace (default: the runbook's).")
@click.option("--prometheus", "prometheus_url", help="Prometheus URL (default: from the config).")
@click.option(
    "--runbook", "runbook_id", help="Declare an incident with this runbook (skips the picker)."
)
@click.option(
    "--severity", type=click.Choice(["P1", "P2", "P3", "P4"]), help="Severity of the new incident."
)
@click.option("--title", help="Title of the new incident.")
@click.option("--impact", help="Impact on users of the new incident.")
@click.option("--resume", "resume_id", metavar="ID", help="Continue a recorded incident.")
@click.pass_context
def main(
    ctx: click.Context,
    runbook_dirs: tuple[Path, ...],
    config_path: Path | None,
    kubeconfig: Path | None,
    kube_context: str | None,
    namespace: str | None,
    prometheus_url: str | None,
    runbook_id: str | None,
    severity: str | None,
    title: str | None,
    impact: str | None,
    resume_id: str | None,
) -> None:
    """The on-call engineer's cockpit for a failing vendor integration.

    Run without a command to open the cockpit; `incident-tui demo` tries it against the
    built-in sandbox.
    """
    ctx.ensure_object(dict)
    ctx.obj["runbook_dirs"] = runbook_dirs
    ctx.obj["config_path"] = config_path
    ctx.obj["flags"] = {
        "kubernetes": {"kubeconfig": kubeconfig, "context": kube_context, "namespace": namespace},
        "prometheus": {"url": prometheus_url},
    }
    if ctx.invoked_subcommand is None:
        from tui.cockpit import run_cockpit

        run_cockpit(
            ctx,
            runbook_id=runbook_id,
            severity=severity,
            title=title,
            impact=impact,
            resume_id=resume_id,
        )


def load_context_settings(ctx: click.Context) -> Settings:
    """The settings for this invocation: config file < environment < the group's flags."""
    from tui.settings import load_settings

    obj = ctx.find_root().obj or {}
    return load_settings(obj.get("config_path"), **obj.get("flags", {}))


def load_context_runbook(ctx: click.Context, runbook_id: str) -> Runbook:
    """A runbook by id from the bundled, user and ``--runbooks`` folders."""
    from tui.runbook import discover_runbooks

    obj = ctx.find_root().obj or {}
    return discover_runbooks(obj.get("runbook_dirs", ())).get(runbook_id)


# --------------------------------------------------------------------------- runbooks


@main.group("runbooks")
def runbooks_group() -> None:
    """List, show and validate runbooks."""


def _catalog(ctx: click.Context) -> Catalog:
    from tui.runbook import discover_runbooks

    return discover_runbooks(ctx.obj.get("runbook_dirs", ()) if ctx.obj else ())


@runbooks_group.command("list")
@click.pass_context
def runbooks_list(ctx: click.Context) -> None:
    """List every runbook: id, title and where it comes from."""
    from rich.table import Table

    catalog = _catalog(ctx)
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


@runbooks_group.command("show")
@click.argument("runbook_id")
@click.pass_context
def runbooks_show(ctx: click.Context, runbook_id: str) -> None:
    """Show one runbook, readably."""
    from tui.runbook_view import render_runbook

    book = _catalog(ctx).get(runbook_id)
    show(render_runbook(book))


@runbooks_group.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def runbooks_validate(paths: tuple[Path, ...]) -> None:
    """Validate runbook files; print every problem as FILE:LINE: FIELD: MESSAGE."""
    from tui.errors import RunbookError
    from tui.runbook import load_runbook

    failed = False
    for path in paths:
        try:
            book = load_runbook(path)
        except RunbookError as error:
            failed = True
            for problem in error.problems:
                echo(str(problem), err=True)
            continue
        echo(f"{path}: ok ({book.id}: {book.title})")
    if failed:
        sys.exit(2)
