"""Problems no runbook signal measures, judged from the pods and our ``/health``: a crash
loop, no pod ready, our service not healthy. Each is one alert on the record (raised with
its evidence when it starts, cleared when it ends), like a signal past its threshold.

Pure: the dashboard feeds what it sees and records what comes back through
:meth:`tui.record.incident.Incident.observe_condition`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tui.inert import inert
from tui.signals import Health, LogLine, PodState

__all__ = ["CRASH_REASONS", "Finding", "PodJudge", "health_condition"]

CRASH_REASONS = ("CrashLoopBackOff", "Error", "OOMKilled", "RunContainerError")
"""Why a pod is not ready that means its container keeps dying."""


@dataclass(frozen=True)
class Finding:
    """One problem now: ``level`` while it lasts (``P1``-``P4``), None when it does not."""

    key: str
    name: str
    level: str | None
    evidence: str


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


class PodJudge:
    """A crash loop (P2) and no pod ready (P1), judged over time: a pod in a crash loop is
    ``Running`` for a moment between its restarts, so the loop lasts until no pod has
    restarted for ``quiet`` and none is crashing; one alert, not one per restart."""

    def __init__(self, quiet: timedelta = timedelta(seconds=30)) -> None:
        self.quiet = quiet
        self._restarts: dict[str, int] = {}
        self._last_restart: datetime | None = None

    def observe(
        self, pods: Sequence[PodState], last_error: LogLine | None, now: datetime
    ) -> list[Finding]:
        for pod in pods:
            before = self._restarts.get(pod.name)
            if before is not None and pod.restarts > before:
                self._last_restart = now
            self._restarts[pod.name] = pod.restarts
        restarts = sum(p.restarts for p in pods)
        crashing = [p for p in pods if p.reason in CRASH_REASONS]
        restarting = self._last_restart is not None and now - self._last_restart < self.quiet
        ready = sum(p.ready for p in pods)
        if crashing or restarting:
            reasons = ", ".join(
                reason if n == len(crashing) else f"{n} {reason}"
                for reason, n in Counter(str(p.reason) for p in crashing).items()
            )
            evidence = (
                f"{len(crashing)} of {len(pods)} pods restarting ({reasons})"
                if crashing
                else f"pods restarting ({ready}/{len(pods)} ready)"
            )
            evidence += f", {_count(restarts, 'restart')}"
            if last_error is not None:
                evidence += f"; last error: {inert(last_error.text.strip())[:200]}"
            crash = Finding("pods.crashloop", "Crash loop", "P2", evidence)
        else:
            evidence = f"{ready}/{len(pods)} pods ready, {_count(restarts, 'restart')} in all"
            crash = Finding("pods.crashloop", "Crash loop", None, evidence)
        none_ready = Finding(
            "pods.ready",
            "No pod ready",
            "P1" if pods and ready == 0 else None,
            f"{ready}/{len(pods)} pods ready",
        )
        return [crash, none_ready]


def health_condition(health: Health) -> Finding:
    """Our ``/health`` not healthy: ``down`` is P1, anything else short of healthy P2."""
    level = None if health.healthy else ("P1" if health.status == "down" else "P2")
    evidence = f"health {inert(health.status)}"
    if health.last_error and not health.healthy:
        evidence += f" ({inert(health.last_error)[:200]})"
    name = "Health down" if health.status == "down" else "Health degraded"
    if health.healthy:
        name = "Health"
    return Finding("health.status", name, level, evidence)
