"""Our service's /health as the cockpit reads it: each integration's status, mean latency
and last error over the last seconds of the world's simulated traffic."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tui.sandbox.scenarios import VENDORS, iso_time

__all__ = ["SLOW_MEAN", "Tick", "health_body"]

SLOW_MEAN = 1.0
"""A mean latency above this many seconds makes a service ``degraded``."""


@dataclass
class Tick:
    """One step's traffic of one vendor, as our /health remembers it."""

    at: float
    calls: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    last_error: str | None = None
    webhook_failures: int = 0
    mitigation: str | None = None


def health_body(
    now: float,
    summaries: dict[str, dict[str, Any]],
    windows: dict[str, deque[Tick]],
    health_window: float,
) -> dict[str, Any]:
    """Our service's /health body from the last ``health_window`` seconds of traffic."""
    services = {
        vendor: _service_health(vendor, now, summaries, windows, health_window)
        for vendor in VENDORS
    }
    statuses = {s["status"] for s in services.values()}
    if statuses == {"healthy"}:
        overall = "healthy"
    elif statuses == {"down"}:
        overall = "down"
    else:
        overall = "degraded"
    return {"status": overall, "checked_at": iso_time(now), "services": services}


def _service_health(
    vendor_id: str,
    now: float,
    summaries: dict[str, dict[str, Any]],
    windows: dict[str, deque[Tick]],
    health_window: float,
) -> dict[str, Any]:
    vendor = VENDORS[vendor_id]
    summary = summaries.get(vendor_id, {"desired": 0, "ready": 0, "crashing": []})
    window = [t for t in windows[vendor_id] if t.at >= now - health_window]
    calls = sum(t.calls for t in window)
    errors = sum(t.errors for t in window)
    webhook_failures = sum(t.webhook_failures for t in window)
    latencies = sorted(x for t in window for x in t.latencies)
    last_error = next((t.last_error for t in reversed(window) if t.last_error), None)
    # Mitigation counts while the latest step made no vendor calls at all.
    mitigation = window[-1].mitigation if window and not window[-1].calls else None
    latency_ms = round(1000 * sum(latencies) / len(latencies)) if latencies else None
    mean = sum(latencies) / len(latencies) if latencies else 0.0
    status = "healthy"
    if summary["ready"] == 0:
        status = "down"
        crashing = summary["crashing"]
        last_error = (
            f"no ready pods: {len(crashing)} of {summary['desired']} {vendor.deployment} "
            f"pods in CrashLoopBackOff ({crashing[0]})"
            if crashing
            else f"no ready {vendor.deployment} pods"
        )
    elif mitigation:
        status = "degraded"
        last_error = mitigation
    elif calls and errors / calls >= 0.5:
        status = "down"
    elif errors or webhook_failures:
        status = "degraded"
    elif mean > SLOW_MEAN:
        # The mean, not a tail percentile of a few hundred calls, so the status holds
        # steady while the pods stay saturated.
        status = "degraded"
        last_error = (
            f"slow responses over the last {health_window:.0f}s: mean "
            f"{mean * 1000:.0f} ms, slowest {latencies[-1]:.1f}s "
            f"({summary['ready']} {vendor.deployment} pods saturated)"
        )
    elif summary["crashing"]:
        status = "degraded"
        last_error = (
            f"{len(summary['crashing'])} {vendor.deployment} pods in CrashLoopBackOff "
            f"({summary['crashing'][0]})"
        )
    return {
        "status": status,
        "latency_ms": latency_ms,
        "last_error": last_error,
        "ready_pods": summary["ready"],
        "desired_pods": summary["desired"],
    }
