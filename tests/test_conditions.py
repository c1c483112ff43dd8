"""Problems no runbook signal measures: a crash loop is one alert while pods keep
restarting (even in the moments they read Running), no pod ready and our health not
healthy are alerts too; each clears once, when it ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tui.conditions import PodJudge, health_condition
from tui.signals import Health, LogLine, PodState

T0 = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)


def pod(name: str, restarts: int, *, ready: bool, reason: str | None = None) -> PodState:
    return PodState(name, "Running", ready, restarts, T0, "1", reason)


def levels(judge: PodJudge, pods: list[PodState], at: float) -> dict[str, str | None]:
    line = LogLine("p-1", "app", None, "ERROR KeyError: 'CLAY_REGION'", "error", True)
    return {f.key: f.level for f in judge.observe(pods, line, T0 + timedelta(seconds=at))}


def test_a_crash_loop_lasts_through_the_moments_a_pod_reads_running() -> None:
    judge = PodJudge(quiet=timedelta(seconds=30))
    assert levels(judge, [pod("p-1", 0, ready=True)], 0)["pods.crashloop"] is None
    crashing = judge.observe(
        [pod("p-1", 1, ready=False, reason="CrashLoopBackOff")], None, T0 + timedelta(seconds=5)
    )
    assert crashing[0].level == "P2"
    assert crashing[0].evidence == "1 of 1 pods restarting (CrashLoopBackOff), 1 restart"
    # between restarts it runs for a moment: still the same loop
    assert levels(judge, [pod("p-1", 2, ready=True)], 15)["pods.crashloop"] == "P2"
    assert levels(judge, [pod("p-1", 2, ready=True)], 40)["pods.crashloop"] == "P2"
    # quiet for 30 s and nothing crashing: over
    assert levels(judge, [pod("p-1", 2, ready=True)], 46)["pods.crashloop"] is None


def test_the_crash_loops_evidence_has_the_last_error_line_shown_inert() -> None:
    judge = PodJudge()
    line = LogLine("p-1", "app", None, "ERROR boom \x1b]0;owned\x07", "error", True)
    (crash, _) = judge.observe([pod("p-1", 3, ready=False, reason="Error")], line, T0)
    assert crash.evidence.startswith("1 of 1 pods restarting (Error), 3 restarts; last error: ")
    assert "\x1b" not in crash.evidence and "\x07" not in crash.evidence


def test_no_pod_ready_is_p1_and_some_ready_is_not_an_alert() -> None:
    judge = PodJudge()
    assert (
        levels(judge, [pod("a", 0, ready=False), pod("b", 0, ready=False)], 0)["pods.ready"] == "P1"
    )
    assert (
        levels(judge, [pod("a", 0, ready=True), pod("b", 0, ready=False)], 1)["pods.ready"] is None
    )
    assert levels(judge, [], 2)["pods.ready"] is None


def test_health_down_is_p1_degraded_p2_healthy_none() -> None:
    down = health_condition(Health("clay", "down", False, last_error="KeyError"))
    assert (down.name, down.level, down.evidence) == ("Health down", "P1", "health down (KeyError)")
    assert health_condition(Health("clay", "degraded", False)).level == "P2"
    assert health_condition(Health("clay", "healthy", True)).level is None
