"""`incident-tui triage`: the runbook's quick triage as one command, without the cockpit."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from tui.cli.context import load_context_runbook, load_context_settings
from tui.inert import inert
from tui.output import echo, show

if TYPE_CHECKING:
    from rich.console import Group

    from tui.runbook import Runbook
    from tui.sources.hub import Snapshot

__all__ = [
    "HEALTHY",
    "NOT_HEALTHY",
    "NO_DATA",
    "UNKNOWN",
    "render_snapshot",
    "triage",
    "verdict",
]

_LEVEL_STYLE = {
    "ok": "green",
    "unknown": "dim",
    "P1": "bold red",
    "P2": "red",
    "P3": "yellow",
    "P4": "yellow",
}


HEALTHY, NOT_HEALTHY, UNKNOWN, NO_DATA = 0, 1, 3, 4
"""triage's exit codes (2 is bad input, as for every command)."""


def verdict(snap: Snapshot) -> tuple[int, list[str]]:
    """Exit code and reasons: 0 when everything reads healthy, 1 when anything does not,
    3 when nothing alerts but part of the picture is missing (a backend could not be read,
    no pod matches), 4 when every backend answered but a signal has no data (a metric
    name that matches nothing, a range shorter than the scrape interval): so healthy
    cannot be said either."""
    reasons = [f"{m.evidence} ({m.level})" for m in snap.alerting]
    if snap.health is not None and not snap.health.healthy:
        reasons.append(f"our health for {snap.health.vendor} is {snap.health.status}")
    if snap.vendor is not None and snap.vendor.indicator != "none":
        reasons.append(
            f"{snap.vendor.vendor} status page: {snap.vendor.indicator} ({snap.vendor.description})"
        )
    missing = [f"{f.backend} could not be read: {f.message}" for f in snap.faults]
    if snap.no_pods:
        missing.append(snap.no_pods)
    empty = [
        f"{m.name} has {m.no_data}: its query matches no series (a metric name that does "
        "not exist, or a range shorter than the scrape interval: use $__rate_interval)"
        for m in snap.metrics
        if m.value is None
    ]
    if reasons:
        return NOT_HEALTHY, reasons + missing + empty
    if missing:
        return UNKNOWN, missing + empty
    if empty:
        return NO_DATA, empty
    return HEALTHY, []


def render_snapshot(runbook: Runbook, snap: Snapshot) -> Group:
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    from tui.signals import format_value

    parts: list[object] = []
    vendor = Text()
    if snap.vendor is not None:
        style = "green" if snap.vendor.indicator == "none" else "bold red"
        vendor.append(f"{inert(snap.vendor.vendor)} status: ", style="bold")
        vendor.append(inert(f"{snap.vendor.indicator} — {snap.vendor.description}"), style=style)
        for component in snap.vendor.degraded_components:
            vendor.append("\n  " + inert(f"{component.name}: {component.status}"), style="yellow")
        for incident in snap.vendor.incidents:
            vendor.append(
                "\n  " + inert(f"incident: {incident.name} [{incident.status}]"), style="red"
            )
            if incident.latest_update:
                vendor.append("\n    " + inert(incident.latest_update))
    if snap.health is not None:
        style = "green" if snap.health.healthy else "bold red"
        vendor.append("\nour health: ", style="bold")
        vendor.append(inert(snap.health.status), style=style)
        if snap.health.latency_ms is not None:
            vendor.append(f"  {snap.health.latency_ms:.0f} ms")
        if snap.health.last_error:
            vendor.append("  last error: " + inert(snap.health.last_error), style="red")
    parts.append(Panel(vendor, title="1-2. Vendor status and our health", title_align="left"))

    table = Table("signal", "now", "peak 5m", "threshold", "level", box=None)
    for reading in snap.metrics:
        peak = max((v for _, v in reading.series[-10:]), default=None)
        threshold = (
            f"{reading.op} {format_value(reading.threshold, reading.unit)}"
            if reading.threshold is not None and reading.op
            else ""
        )
        table.add_row(
            inert(reading.name),
            reading.no_data if reading.value is None else format_value(reading.value, reading.unit),
            "" if peak is None else format_value(peak, reading.unit),
            threshold,
            Text(reading.level, style=_LEVEL_STYLE.get(reading.level, "")),
        )
    parts.append(Panel(table, title="3. Error rates", title_align="left"))

    logs = Text()
    for line in snap.error_lines:
        stamp = line.timestamp.strftime("%H:%M:%S") if line.timestamp else "--:--:--"
        logs.append(f"{stamp} {inert(line.pod)}: ", style="dim")
        logs.append(inert(line.text) + "\n", style="red")
    if snap.no_pods:
        logs.append(snap.no_pods, style="bold red")
    elif not snap.error_lines:
        logs.append("no error lines in the last 5 minutes", style="green")
    parts.append(Panel(logs, title="4. Recent error logs", title_align="left"))

    path = Text()
    if snap.path is not None:
        for answer in snap.path.answers:
            said = {True: "yes", False: "no", None: "unknown"}[answer.answer]
            path.append(f"{inert(answer.question)} ", style="bold")
            path.append(said, style="cyan")
            if answer.evidence:
                path.append(f"  ({inert('; '.join(answer.evidence))})", style="dim")
            path.append("\n")
        if snap.path.leaf is not None:
            path.append(f"→ {inert(snap.path.leaf.conclusion or '')}", style="bold yellow")
            remediations = list(snap.path.leaf.remediations) + [
                r for group in snap.path.leaf.by_category.values() for r in group
            ]
            for rem_id in dict.fromkeys(remediations):
                rem = runbook.remediation(rem_id)
                said = rem.title + (f": {rem.command}" if rem.command else "")
                path.append(f"\n  • {inert(said)}")
    parts.append(Panel(path, title="Decision tree", title_align="left"))

    for fault in snap.faults:
        text = Text(inert(f"{fault.backend}: {fault.message}"), style="red")
        if fault.hint:
            text.append(f"\n  {inert(fault.hint)}", style="yellow")
        parts.append(text)
    return Group(*parts)  # type: ignore[arg-type]


@click.command("triage")
@click.option(
    "--runbook", "runbook_id", required=True, help="The runbook id (see `runbooks list`)."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of panels.")
@click.pass_context
def triage(ctx: click.Context, runbook_id: str, as_json: bool) -> None:
    """Quick triage: vendor status, our health, error rates, recent error logs and the
    decision-tree path. Exit code 0 when healthy, 1 when anything alerts or is unhealthy,
    2 on bad input, 3 when nothing alerts but a backend could not be read or no pod
    matches, 4 when nothing alerts but a signal has no data (healthy cannot be said)."""
    import asyncio
    import json

    from rich.text import Text

    from tui.sources.hub import Sources, snapshot_json

    runbook = load_context_runbook(ctx, runbook_id)
    settings = load_context_settings(ctx)

    async def run() -> Snapshot:
        async with Sources(settings, runbook) as sources:
            return await sources.snapshot()

    snap = asyncio.run(run())
    code, reasons = verdict(snap)
    if as_json:
        data = snapshot_json(snap)
        data["runbook"] = runbook.id
        data["healthy"] = code == 0
        data["reasons"] = reasons
        # ensure_ascii: a control character in a backend's text travels as \u001b
        echo(json.dumps(data, indent=2))
    else:
        show(render_snapshot(runbook, snap))
        if code == HEALTHY:
            show(Text.assemble(("Healthy:", "bold green"), " nothing alerts."))
        elif code in (UNKNOWN, NO_DATA):
            said = inert("; ".join(reasons))
            show(Text.assemble(("Unknown:", "bold yellow"), " nothing alerts, but ", said))
        else:
            show(Text.assemble(("Not healthy:", "bold red"), " ", inert("; ".join(reasons))))
    sys.exit(code)
