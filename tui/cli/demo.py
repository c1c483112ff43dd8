"""`incident-tui demo`: the whole cockpit against the built-in sandbox, in one command."""

from __future__ import annotations

from pathlib import Path

import click

from tui.cli.cockpit import run_cockpit
from tui.cli.context import SEVERITIES, use_config, use_prometheus
from tui.errors import IncidentTuiError
from tui.output import echo

__all__ = ["demo"]


def _runbook_of(scenario: str) -> str:
    """``clay-rate-limited`` -> ``clay``: a scenario's name starts with its runbook's id."""
    from tui.sandbox.scenarios import SCENARIOS

    if scenario not in SCENARIOS:
        known = ", ".join(sorted(SCENARIOS))
        raise IncidentTuiError(f'no sandbox scenario "{scenario}" (scenarios: {known})')
    return scenario.split("-", 1)[0]


@click.command("demo")
@click.option(
    "--scenario",
    default="clay-rate-limited",
    show_default=True,
    help="The sandbox scenario (see `incident-tui sandbox --list-scenarios`).",
)
@click.option(
    "--prometheus",
    "real_prometheus",
    is_flag=True,
    help="Run a real Prometheus (from PATH) scraping the sandbox.",
)
@click.option("--severity", type=click.Choice(SEVERITIES), default="P2", show_default=True)
@click.pass_context
def demo(ctx: click.Context, scenario: str, real_prometheus: bool, severity: str) -> None:
    """Start the sandbox on free loopback ports and open the cockpit against it.

    The sandbox (and Prometheus) stop when the cockpit exits, however it exits. Demo
    incidents are kept with the others (`incident-tui incidents` lists them, marked
    demo); quitting offers to resolve the demo's incident."""
    import shutil
    import tempfile

    from tui.sandbox.processes import start_prometheus, start_sandbox, stop

    runbook_id = _runbook_of(scenario)
    folder = Path(tempfile.mkdtemp(prefix="incident-tui-demo-"))
    process = None
    try:
        echo(f"Starting the sandbox ({scenario})…", err=True)
        process, endpoints, config = start_sandbox(folder, scenario)
        use_config(ctx, config)
        title = f"Demo: {scenario.replace('-', ' ')}"
        banner = f"demo · sandbox scenario {scenario}"
        echo(f"kubectl --kubeconfig {endpoints['kubeconfig']} get pods -n production", err=True)
        if real_prometheus:
            binary = shutil.which("prometheus")
            if binary is None:
                raise IncidentTuiError(
                    "--prometheus needs a `prometheus` binary on PATH (Debian: apt-get install prometheus)"
                )
            with start_prometheus(
                binary, [endpoints["metrics"]], folder / "prometheus", "5s"
            ) as url:
                use_prometheus(ctx, url)
                run_cockpit(
                    ctx,
                    runbook_id=runbook_id,
                    severity=severity,
                    title=title,
                    banner=banner + f" · prometheus {url}",
                    demo=scenario,
                )
        else:
            run_cockpit(
                ctx,
                runbook_id=runbook_id,
                severity=severity,
                title=title,
                banner=banner,
                demo=scenario,
            )
    finally:
        stop(process)
        shutil.rmtree(folder, ignore_errors=True)
