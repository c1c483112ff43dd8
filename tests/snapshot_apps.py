"""Cockpits with fixed data and a frozen clock, for SVG snapshots that never drift."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tui.app import IncidentApp, Launch
from tui.record.event import Event
from tui.record.incident import Incident
from tui.runbook import discover_runbooks
from tui.screens.dashboard import DashboardScreen
from tui.settings import load_settings
from tui.signals import (
    Component,
    Health,
    LogLine,
    MetricReading,
    PodState,
    SourceFault,
    VendorIncident,
    VendorStatus,
)

NOW = datetime(2026, 3, 2, 14, 30, 0, tzinfo=UTC)
DECLARED = NOW - timedelta(minutes=12, seconds=30)
CATALOG = discover_runbooks()
ERRORS = re.compile(r"(?i)\berror\b")


def frozen() -> datetime:
    return NOW


def _series(values: list[float]) -> tuple[tuple[float, float], ...]:
    start = NOW.timestamp() - 30 * 60
    step = 30 * 60 / max(1, len(values) - 1)
    return tuple((start + i * step, v) for i, v in enumerate(values))


def _reading(
    signal_id: str,
    name: str,
    value: float,
    unit: str,
    level: str,
    op: str,
    threshold: float,
    shape: list[float],
) -> MetricReading:
    return MetricReading(
        signal_id,
        name,
        value,
        unit,
        level,
        threshold,
        op,
        _series(shape),
        NOW,  # type: ignore[arg-type]
    )


def _pods(
    deployment: str, count: int, *, ready: bool = True, reason: str | None = None
) -> list[PodState]:
    suffixes = ["x2k4q", "b7m9t", "p3lz8", "w6c1n"]
    return [
        PodState(
            name=f"{deployment}-7d9f8c6b5-{suffixes[i]}",
            phase="Running",
            ready=ready,
            restarts=0 if ready else 7 + i,
            created=NOW - timedelta(hours=2, minutes=i * 3),
            revision="3 (7d9f8c6b5)",
            reason=reason,
            containers=("app",),
            node="sandbox-node-1",
        )
        for i in range(count)
    ]


def _logs(deployment: str, lines: list[str]) -> list[LogLine]:
    pods = _pods(deployment, 4)
    out = []
    for i, text in enumerate(lines):
        stamp = NOW - timedelta(seconds=len(lines) - i)
        out.append(LogLine.parse(pods[i % 4].name, "app", stamp, text, ERRORS))
    return out


def rate_limited() -> dict[str, object]:
    shape = [0, 0, 0, 1, 2, 5, 9, 14, 20, 26, 31, 35, 37, 37, 38, 37]
    return {
        "vendor": VendorStatus(
            "Clay",
            "none",
            "All Systems Operational",
            (Component("Enrichment API", "operational"), Component("Webhooks", "operational")),
            (),
            NOW,
            "https://status.clay.com",
        ),
        "health": Health(
            "Clay", "degraded", False, 412.0, "429 Too Many Requests from api.clay.com", NOW
        ),
        "metrics": [
            _reading("error_rate", "Error Rate", 38, "/min", "ok", ">", 0, shape),
            _reading("server_errors", "API Down", 0, "/min", "ok", ">", 10, [0] * 16),
            _reading(
                "latency_p99",
                "High Latency",
                840,
                "ms",
                "ok",
                ">",
                5000,
                [300 + 30 * i for i in range(16)],
            ),
            _reading("rate_limited", "Rate Limited", 37, "/min", "P2", ">", 5, shape),
            _reading("auth_failures", "Auth Failures", 0, "/min", "ok", ">", 0, [0] * 16),
        ],
        "pods": _pods("clay-integration", 4),
        "log_lines": _logs(
            "clay-integration",
            [
                f"2026-03-02T14:29:{40 + i:02d}Z {'ERROR' if i % 3 == 0 else 'INFO '} "
                + (
                    f"clay API responded 429 Too Many Requests (retry-after 12s) request_id=req_{i:04x} seq={100 + i}"
                    if i % 3 == 0
                    else f"POST /v3/people/enrich 200 {140 + i}ms request_id=req_{i:04x} seq={100 + i}"
                )
                for i in range(20)
            ],
        ),
    }


def vendor_outage() -> dict[str, object]:
    shape = [0, 0, 0, 0, 4, 12, 25, 40, 52, 60, 63, 64, 66, 65, 64, 66]
    return {
        "vendor": VendorStatus(
            "Instantly",
            "major",
            "Partial System Outage",
            (
                Component("Sending API", "major_outage"),
                Component("Campaigns", "degraded_performance"),
                Component("Dashboard", "operational"),
            ),
            (
                VendorIncident(
                    "Elevated API error rates",
                    "identified",
                    "major",
                    NOW - timedelta(minutes=4),
                    "We have identified the cause of elevated 503s on the Sending API and are rolling out a fix.",
                ),
            ),
            NOW,
            "https://status.instantly.com",
        ),
        "health": Health(
            "Instantly", "down", False, 3020.0, "503 Service Unavailable from api.instantly.ai", NOW
        ),
        "metrics": [
            _reading("error_rate", "Error Rate", 66, "/min", "ok", ">", 0, shape),
            _reading("server_errors", "API Down", 66, "/min", "P1", ">", 10, shape),
            _reading(
                "latency_p99",
                "High Latency",
                3020,
                "ms",
                "ok",
                ">",
                5000,
                [400 + 180 * i for i in range(16)],
            ),
            _reading("rate_limited", "Rate Limited", 0, "/min", "ok", ">", 5, [0] * 16),
            _reading("auth_failures", "Auth Failures", 0, "/min", "ok", ">", 0, [0] * 16),
        ],
        "pods": _pods("instantly-integration", 3),
        "log_lines": _logs(
            "instantly-integration",
            [
                f'{{"ts":"2026-03-02T14:29:{40 + i:02d}Z","level":"error","msg":"503 Service Unavailable from api.instantly.ai","status":503,"request_id":"req_{i:04x}","seq":{200 + i}}}'
                if i % 2
                else f"2026-03-02T14:29:{40 + i:02d}Z INFO  POST /api/v2/emails/send 202 {90 + i}ms seq={200 + i}"
                for i in range(20)
            ],
        ),
    }


SCENARIOS = {
    "clay-rate-limited": ("clay", rate_limited),
    "instantly-vendor-outage": ("instantly", vendor_outage),
}


class SnapshotApp(IncidentApp):
    """The cockpit on one incident with fixed values and a frozen clock; no backend."""

    def __init__(self, scenario: str, state_dir: Path, fault: SourceFault | None = None) -> None:
        runbook_id, data = SCENARIOS[scenario]
        runbook = CATALOG.get(runbook_id)
        events: list[Event] = []
        incident = Incident.declare(
            runbook,
            incident_id=f"{runbook_id}-20260302-1417-snap",
            title=f"{runbook.vendor.name} integration failing",
            severity="P2",
            impact="Enrichment delayed for all workspaces",
            commander="alice",
            recorder=lambda e: events.append(e) or e,
            clock=lambda: DECLARED,
            actor="alice",
        )
        settings = (
            load_settings(state_dir / "config.toml")
            if (state_dir / "config.toml").exists()
            else load_settings(None)
        )
        super().__init__(
            Launch(settings=settings, catalog=CATALOG, incident=incident, live=False),
            clock=frozen,
        )
        self.data = data()
        self.fault = fault
        self.filled = False
        """True once the fixed values are on screen (keys pressed before would race them)."""

    def on_mount(self) -> None:
        # Textual runs IncidentApp.on_mount too (handlers run for every class)
        self.call_after_refresh(self._fill)

    async def press_when_filled(self, pilot: object, *keys: str) -> None:
        """Wait for the fixed values, then press keys (for snap_compare's run_before)."""
        import asyncio

        for _ in range(200):
            if self.filled:
                break
            await asyncio.sleep(0.02)
        await pilot.pause()  # type: ignore[attr-defined]
        await pilot.press(*keys)  # type: ignore[attr-defined]
        await pilot.pause()  # type: ignore[attr-defined]

    def _fill(self) -> None:
        screen = self.screen
        if isinstance(screen, DashboardScreen):
            data = dict(self.data)
            if self.fault is not None:
                data["kube_fault"] = self.fault
            screen.present(**data)  # type: ignore[arg-type]
            self.filled = True
