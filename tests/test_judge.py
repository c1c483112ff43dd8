"""A remediation is judged by the signals it is meant to move, not by its rollout: effective
once they have read under their thresholds for the window, not effective when the watch
runs out while they still alert. Against the sandbox, headless: the wrong fix for a 401
is recorded as not effective, the right one as effective."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sandbox_helpers import running_sandbox
from test_remediation import CLAY, runner_for
from test_session import Headless
from test_sources import settings_for

from tui.act.judge import HEALTH, Judge, WatchPlan, watch_plan
from tui.decision import Readings
from tui.record.incident import Incident
from tui.runbook import Runbook
from tui.signals import Health, MetricReading
from tui.sources.hub import Sources

T0 = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)


def reading(signal_id: str, value: float | None, alerting: bool) -> MetricReading:
    signal = CLAY.signal(signal_id)
    return MetricReading(
        signal_id,
        signal.name,
        value,
        signal.unit,
        "warning" if alerting else "ok",
        threshold=signal.alert.value if signal.alert else None,
        op=signal.alert.op if signal.alert else None,
    )


def readings(**values: tuple[float | None, bool]) -> Readings:
    return Readings({k: reading(k, v, a) for k, (v, a) in values.items()})


# --------------------------------------------------------------------------- which signals


def test_the_wrong_fix_is_watched_by_the_alerts_of_the_problem_at_hand() -> None:
    auth = readings(auth_failures=(37.0, True), rate_limited=(0.0, False))
    plan = watch_plan(CLAY, CLAY.remediation("enable-queueing"), auth)
    # the alert the incident has, and the signal of the error class queuing is for
    assert plan.signals == ("auth_failures", "rate_limited")
    assert plan.words() == "Auth Failures and Rate Limited for 2m"


def test_a_fix_offered_below_a_health_question_is_watched_by_health_too() -> None:
    quiet = readings(auth_failures=(0.0, False))
    assert watch_plan(CLAY, CLAY.remediation("rollback"), quiet).signals == (HEALTH,)
    rotate = watch_plan(CLAY, CLAY.remediation("rotate-api-key"), quiet)
    assert rotate.signals == ("auth_failures",)


def test_the_runbook_can_name_the_signals_and_the_times() -> None:
    book = CLAY.model_copy(deep=True)
    data = book.model_dump(mode="json")
    for remediation in data["remediations"]:
        if remediation["id"] == "enable-fallback":
            remediation["verify"] = {"signals": ["server_errors"], "window": "30s", "within": "5m"}
    named = Runbook.model_validate(data, strict=False)
    plan = watch_plan(named, named.remediation("enable-fallback"), readings())
    assert plan.signals == ("server_errors",)
    assert (plan.window, plan.within) == (timedelta(seconds=30), timedelta(minutes=5))


# --------------------------------------------------------------------------- the verdict


def plan_of(*signals: str) -> WatchPlan:
    return WatchPlan(signals, timedelta(minutes=2), timedelta(minutes=10), signals)


def test_effective_only_after_the_whole_window_without_a_break() -> None:
    judge = Judge(CLAY, plan_of("rate_limited"), T0)
    low, high = readings(rate_limited=(1.0, False)), readings(rate_limited=(40.0, True))
    assert judge.observe(low, T0).state == "watching"
    assert judge.observe(low, T0 + timedelta(seconds=90)).state == "watching"
    # a relapse starts the window again
    assert judge.observe(high, T0 + timedelta(seconds=100)).state == "watching"
    assert judge.observe(low, T0 + timedelta(seconds=110)).clear_for == timedelta(0)
    assert judge.observe(low, T0 + timedelta(seconds=200)).state == "watching"
    verdict = judge.observe(low, T0 + timedelta(seconds=230))
    assert verdict.state == "effective" and verdict.clear_for == timedelta(minutes=2)
    assert verdict.evidence == "Rate Limited: 1/min <= 5/min"
    # once judged, it stays judged
    assert judge.observe(high, T0 + timedelta(seconds=240)).state == "effective"


def test_not_effective_when_the_watch_runs_out_still_alerting() -> None:
    judge = Judge(CLAY, plan_of("auth_failures", "rate_limited"), T0)
    still = readings(auth_failures=(842.0, True), rate_limited=(0.0, False))
    assert judge.observe(still, T0 + timedelta(minutes=9)).left == timedelta(minutes=1)
    verdict = judge.observe(still, T0 + timedelta(minutes=10))
    assert verdict.state == "not_effective"
    assert verdict.problems == "Auth Failures: 842/min > 0/min"


def test_no_data_is_never_recovered() -> None:
    judge = Judge(CLAY, plan_of("rate_limited", HEALTH), T0)
    blind = Readings(
        {"rate_limited": reading("rate_limited", None, False)},
        health=None,
    )
    for minute in range(11):
        verdict = judge.observe(blind, T0 + timedelta(minutes=minute))
    assert verdict.state == "not_effective"
    assert verdict.problems == "Rate Limited: no data; health: no data"
    fine = Readings(
        {"rate_limited": reading("rate_limited", 0.0, False)},
        health=Health("clay", "healthy", True),
    )
    judge = Judge(CLAY, plan_of("rate_limited", HEALTH), T0)
    judge.observe(fine, T0)
    assert judge.observe(fine, T0 + timedelta(minutes=2)).state == "effective"


def test_nothing_to_watch_is_not_called_effective() -> None:
    verdict = Judge(CLAY, plan_of(), T0).observe(readings(), T0)
    assert verdict.state == "nothing_to_watch" and verdict.done


def test_an_older_journals_verified_reads_as_rolled_out() -> None:
    events = []
    incident = Incident.declare(
        CLAY, incident_id="old", title="Old", severity="P2", recorder=events.append
    )
    incident.record_remediation("enable-queueing", "planned")
    applied = incident.record_remediation("enable-queueing", "applied")
    old = applied.model_copy(
        update={"kind": "remediation_verified", "id": applied.id + "-v", "summary": "verified"}
    )
    rebuilt = Incident.from_events(CLAY, [*events, old])
    assert rebuilt.remediations[0].stage == "rolled_out"


# --------------------------------------------------------------------------- against the sandbox


async def test_the_wrong_fix_for_401s_is_not_effective_and_the_right_one_is(
    tmp_path: Path,
) -> None:
    async with (
        running_sandbox("clay-auth") as sb,
        Sources(settings_for(sb, tmp_path, timeout=3.0), CLAY) as sources,
    ):
        runner = await runner_for(sb, tmp_path)
        try:
            world = Headless(runner, CLAY)

            async def alerting() -> bool:
                got = await sources.readings()
                auth = got.metrics.get("auth_failures")
                return auth is not None and auth.alerting

            await wait_until_async(alerting, 60, "the 401s to alert")
            short = {
                "read": sources.readings,
                "window": timedelta(seconds=3),
                "within": timedelta(seconds=20),
            }
            wrong, _, rolled = await world.through("enable-queueing", **short)
            assert rolled.ok
            assert wrong.watch is not None and "auth_failures" in wrong.watch.signals
            verdict = await wrong.judge(tick=0.5)
            assert verdict.state == "not_effective"
            assert world.stages("enable-queueing")[-2:] == ["rolled_out", "not_effective"]
            said = [e for e in world.events if e.kind == "remediation_not_effective"][-1]
            assert said.summary.startswith(
                "Remediation not effective: Enable request queuing: still Auth Failures:"
            ), said.summary

            # the right one: a new key and a restart; the 1-minute rate takes a while to fall
            right, _, rolled = await world.through(
                "rotate-api-key",
                secret="sk_live_sandbox_clay_0002",
                **{**short, "within": timedelta(minutes=3)},
            )
            assert rolled.ok, rolled.message
            verdict = await right.judge(tick=0.5)
            assert verdict.state == "effective", verdict.problems
            assert world.stages("rotate-api-key")[-2:] == ["rolled_out", "effective"]
        finally:
            await runner.conn.close()


async def wait_until_async(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not await check():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


def test_an_alert_that_fires_during_the_watch_is_watched_too() -> None:
    # queueing applied while a 503 outage was still ramping up: no 429 ever came, but the
    # API Down alert fires during the watch, and the fix cannot be called effective
    plan = watch_plan(
        CLAY, CLAY.remediation("enable-queueing"), readings(rate_limited=(0.0, False))
    )
    assert plan.signals == ("rate_limited",)
    judge = Judge(CLAY, dataclasses.replace(plan, window=timedelta(seconds=30)), T0)
    judge.observe(readings(rate_limited=(0.0, False), server_errors=(40.0, True)), T0)
    for second in range(0, 120, 10):
        verdict = judge.observe(
            readings(rate_limited=(0.0, False), server_errors=(40.0, True)),
            T0 + timedelta(seconds=second),
        )
        assert verdict.state == "watching"
    assert judge.plan.signals == ("rate_limited", "server_errors")
    assert "API Down" in verdict.problems
