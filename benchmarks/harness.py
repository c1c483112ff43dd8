"""What every benchmark shares: the result record, a sandbox process, a headless cockpit."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui.app import IncidentApp

__all__ = [
    "Result",
    "SandboxProcess",
    "cockpit",
    "kubectl_binary",
    "median",
    "rss_kib",
    "sandbox_process",
]

RUNBOOK = "clay"
SELECTOR = "app=clay-integration"
QUIET_DEPLOYMENTS = ("instantly-integration", "clerk-integration")
"""Scaled to zero so the sandbox spends its core on the pods the cockpit follows."""


@dataclass
class Result:
    """One benchmark's outcome as ``results.json`` stores it."""

    value: float
    unit: str
    baseline: float | None
    ratio: float | None
    target: str
    met: bool
    details: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def emit(self) -> None:
        """The last line of a benchmark process: its result, for the runner."""
        sys.stdout.write("RESULT " + json.dumps(self.to_json()) + "\n")
        sys.stdout.flush()


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def rss_kib(pid: int | str = "self") -> int:
    """Resident memory of a process in KiB (VmRSS)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def kubectl_binary() -> str | None:
    found = shutil.which("kubectl")
    if found:
        return found
    return "/usr/bin/kubectl" if Path("/usr/bin/kubectl").exists() else None


@dataclass
class SandboxProcess:
    """A running `incident-tui sandbox` subprocess."""

    process: subprocess.Popen[bytes]
    endpoints: dict[str, Any]
    config: Path
    folder: Path

    @property
    def kubeconfig(self) -> str:
        return str(self.endpoints["kubeconfig"])

    def control(self, method: str, path: str, body: Any = None) -> Any:
        import httpx  # not at the top: the start-up benchmark imports this module

        with httpx.Client(base_url=self.endpoints["control"], timeout=10) as client:
            response = client.request(method, path, json=body)
            response.raise_for_status()
            return response.json()

    def set_flood(self, lines_per_second_per_pod: float, *, application_logs: bool = True) -> None:
        """Extra log lines on every pod; ``application_logs=False`` also mutes the lines of
        the simulated traffic (its metrics go on)."""
        self.control(
            "POST",
            "/flood",
            {
                "lines_per_second_per_pod": lines_per_second_per_pod,
                "application_logs": application_logs,
            },
        )

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        binary = kubectl_binary()
        if binary is None:
            raise RuntimeError("kubectl is not installed")
        return subprocess.run(
            [binary, "--kubeconfig", self.kubeconfig, "-n", "production", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )

    def quiet_other_vendors(self) -> None:
        """Only the followed deployment's pods log: the others are scaled to zero."""
        if kubectl_binary() is None:
            return
        self.kubectl("scale", "deployment", *QUIET_DEPLOYMENTS, "--replicas=0")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            out = self.kubectl("get", "pods", "-o", "name").stdout.split()
            if not any(name.split("/")[-1].startswith(QUIET_DEPLOYMENTS) for name in out):
                return
            time.sleep(0.2)


@contextlib.contextmanager
def sandbox_process(
    scenario: str = "clay-healthy", *, flood: float = 0.0, quiet_others: bool = True
) -> Iterator[SandboxProcess]:
    """`incident-tui sandbox --flood N` in its own process (the demo's launcher), so it
    does not share the measured process's core or GIL; stopped at the end."""
    from tui.sandbox.processes import start_sandbox, stop

    folder = Path(tempfile.mkdtemp(prefix="incident-bench-"))
    process, endpoints, config = start_sandbox(
        folder, scenario, ["--flood", str(flood), "--seed", "7"]
    )
    try:
        handle = SandboxProcess(process, endpoints, config, folder)
        if quiet_others:
            handle.quiet_other_vendors()
        yield handle
    finally:
        stop(process, 15)
        shutil.rmtree(folder, ignore_errors=True)


def use_private_state_dir() -> Path:
    """Journals of benchmark incidents go to a throwaway folder, not the user's."""
    folder = Path(tempfile.mkdtemp(prefix="incident-bench-state-"))
    os.environ["INCIDENT_TUI_STATE_DIR"] = str(folder)
    return folder


def build_app(config: Path, runbook_id: str = RUNBOOK) -> IncidentApp:
    """The cockpit with a freshly declared incident, as `incident-tui --runbook` opens it."""
    from tui.app import IncidentApp, Launch
    from tui.record.event import new_incident_id
    from tui.record.incident import Incident
    from tui.record.journal import Journal
    from tui.runbook import discover_runbooks
    from tui.settings import load_settings

    settings = load_settings(config)
    catalog = discover_runbooks(())
    runbook = catalog.get(runbook_id)
    incident_id = new_incident_id(runbook.id)
    journal = Journal.create(incident_id)
    journal.save_runbook(runbook)
    incident = Incident.declare(
        runbook,
        incident_id=incident_id,
        title="benchmark",
        severity="P2",
        impact=None,
        commander=settings.responder,
        recorder=journal,
        actor=settings.responder,
    )
    return IncidentApp(
        Launch(settings=settings, catalog=catalog, incident=incident, journal=journal)
    )


@contextlib.asynccontextmanager
async def cockpit(config: Path, size: tuple[int, int] = (120, 40)) -> AsyncIterator[Any]:
    """The headless cockpit on the dashboard; yields the pilot (``pilot.app``)."""
    app = build_app(config)
    async with app.run_test(headless=True, size=size) as pilot:
        await wait_for(lambda: app.screen.id == "dashboard", 30)
        yield pilot
    if app.journal is not None:
        app.journal.close()


async def wait_for(condition: Any, timeout: float, interval: float = 0.05) -> None:
    import asyncio

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:g} s waiting for {condition}")
        await asyncio.sleep(interval)


def log_view(app: Any) -> Any:
    from widgets.log_view import LogView

    return app.screen.query_one("#logs", LogView)


def bench_main(run: Any) -> None:
    """``python -m benchmarks.NAME [--quick]``: run once and print the result line."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the tests")
    args = parser.parse_args()
    use_private_state_dir()
    result: Result = run(quick=args.quick)
    result.emit()
