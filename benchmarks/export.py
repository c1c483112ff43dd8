"""Export: `incident-tui export` of a 10,000-event journal with a 100,000-line log window.

The evidence comes from a local collector that already holds the lines, so the time is
the export's own (reading the journal, the postmortem, the bundle and its archive), not
the backends'. The calls are the ones the `export` command makes."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.harness import Result, bench_main, median

TARGET_S = 0.5


class LocalEvidence:
    """Log lines and metrics that are already here."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    async def logs(self, start: datetime, end: datetime) -> Iterable[str]:
        return self.lines

    async def metrics(self, start: datetime, end: datetime, step: float) -> dict[str, Any]:
        return {"error_rate": {"values": [[start.timestamp(), "0"], [end.timestamp(), "1"]]}}


def make_journal(root: Path, events: int) -> str:
    """A recorded incident with ``events`` events; returns its id."""
    from tui.record.event import Event, new_incident_id
    from tui.record.incident import Incident
    from tui.record.journal import Journal
    from tui.runbook import discover_runbooks

    runbook = discover_runbooks(()).get("clay")
    recorded: list[Event] = []

    def keep(event: Event) -> Event:
        recorded.append(event)
        return event

    incident_id = new_incident_id(runbook.id)
    incident = Incident.declare(
        runbook,
        incident_id=incident_id,
        title="Clay enrichment failing",
        severity="P2",
        recorder=keep,
        actor="bench",
    )
    incident.set_status("identified", reason="429s from Clay")
    number = 0
    while len(recorded) < events - 1:
        number += 1
        incident.note(
            f"observation {number}: 429s at {number % 40} per minute", pin=number % 500 == 0
        )
    incident.resolve("Queueing enabled; 429s stopped.")
    journal = Journal.create(incident_id, root=root)
    journal.save_runbook(runbook)
    with open(journal.path, "w", encoding="utf-8") as handle:
        handle.writelines(event.to_line() for event in recorded)
    return incident_id


def log_window(count: int, start: datetime) -> list[str]:
    return [
        f"{(start + timedelta(milliseconds=n)).isoformat()} clay-integration-abc12-x2k4q "
        f"INFO  POST /v3/people/enrich 429 0.041s request_id=req_{n:08x} seq={n}"
        for n in range(count)
    ]


def export_once(root: Path, incident_id: str, lines: list[str], out: Path) -> float:
    from tui.record.bundle import export_incident
    from tui.record.journal import find_journal
    from tui.record.store import open_incident

    started = time.perf_counter()
    journal = find_journal(incident_id, root=root)
    incident, _ = open_incident(journal, warnings=[], actor="bench", recorded_as="cli")
    result = export_incident(incident, out, journal=journal, evidence=LocalEvidence(lines))
    incident.record_export(str(result.folder), files=[p.name for p in result.files])
    journal.close()
    elapsed = time.perf_counter() - started
    if result.manifest["log_lines"] != len(lines):
        raise RuntimeError(f"the bundle holds {result.manifest['log_lines']} log lines")
    return elapsed


def run(quick: bool = False) -> Result:
    events, lines = (200, 2_000) if quick else (10_000, 100_000)
    runs = 1 if quick else 5
    folder = Path(tempfile.mkdtemp(prefix="incident-bench-export-"))
    try:
        incident_id = make_journal(folder / "incidents", events)
        window = log_window(lines, datetime.now().astimezone())
        times = [
            export_once(folder / "incidents", incident_id, window, folder / f"out{n}")
            for n in range(runs)
        ]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    value = median(times)
    return Result(
        value=round(value, 3),
        unit="s",
        baseline=None,
        ratio=None,
        target=f"< {TARGET_S} s",
        met=value < TARGET_S,
        details={
            "events": events,
            "log_lines": lines,
            "rounds": runs,
            "all_s": [round(t, 3) for t in times],
        },
    )


if __name__ == "__main__":
    bench_main(run)
