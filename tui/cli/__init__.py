"""The `incident-tui` command line: the cockpit by default, and its helper commands.

One module of this package per command group, each registered below; what they share
is in :mod:`tui.cli.context`. A command module imports nothing heavy at module level
(Textual, the Kubernetes client, the sandbox): ``incident-tui --help`` imports them all,
and each command imports what it needs when it runs."""

from __future__ import annotations

from pathlib import Path

import click

from tui import __version__
from tui.cli import cockpit, demo, record, runbooks, sandbox, triage
from tui.cli.context import SEVERITIES, CommandGroup, keep_options

__all__ = ["main"]


@click.group(
    cls=CommandGroup,
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
@click.option("--severity", type=click.Choice(SEVERITIES), help="Severity of the new incident.")
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
    keep_options(
        ctx,
        runbook_dirs=runbook_dirs,
        config_path=config_path,
        flags={
            "kubernetes": {
                "kubeconfig": kubeconfig,
                "context": kube_context,
                "namespace": namespace,
            },
            "prometheus": {"url": prometheus_url},
        },
    )
    if ctx.invoked_subcommand is None:
        cockpit.run_cockpit(
            ctx,
            runbook_id=runbook_id,
            severity=severity,
            title=title,
            impact=impact,
            resume_id=resume_id,
        )


main.add_command(triage.triage)
main.add_command(demo.demo)
main.add_command(sandbox.sandbox)
main.add_command(runbooks.runbooks)
main.add_command(record.declare)
main.add_command(record.note)
main.add_command(record.severity)
main.add_command(record.status)
main.add_command(record.resolve)
main.add_command(record.export)
main.add_command(record.replay)
main.add_command(record.incidents)
