"""The `incident-tui` command line: the cockpit by default, and its helper commands."""

from __future__ import annotations

from pathlib import Path

import click

from tui import __version__
from tui.cli import runbooks
from tui.cli.context import SEVERITIES, CommandGroup, keep_options

__all__ = ["main"]


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


class _Group(CommandGroup):
    """Imports a command's module only when that command runs (start-up stays fast)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _LAZY_COMMANDS and cmd_name not in self.commands:
            import importlib

            module_name, attribute = _LAZY_COMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


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
        from tui.cockpit import run_cockpit

        run_cockpit(
            ctx,
            runbook_id=runbook_id,
            severity=severity,
            title=title,
            impact=impact,
            resume_id=resume_id,
        )


main.add_command(runbooks.runbooks)
