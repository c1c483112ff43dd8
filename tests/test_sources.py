"""The live sources against the sandbox: typed values per scenario, one typed fault per
failure with the runbook's hint, recovery, and a log tail that survives rollouts."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sandbox_helpers import running_prometheus, running_sandbox, wait_until

from tui.errors import SourceError
from tui.runbook import Runbook, discover_runbooks
from tui.settings import Settings, load_settings
from tui.signals import LogLine, PodState, SourceFault
from tui.sources.hub import Sources
from tui.sources.kube.logs import LogTail
from tui.sources.kube.pods import PodWatcher
from tui.sources.prometheus import PrometheusSource

CLAY: Runbook = discover_runbooks().get("clay")
SEQ = re.compile(r"\bseq[=\":]+(\d+)")


def settings_for(sb: Any, tmp_path: Path, timeout: float = 1.0) -> Settings:
    config = sb.sandbox.write_config(tmp_path / "config.toml")
    return load_settings(
        config,
        status={"timeout": timeout},
        prometheus={"timeout": timeout},
        kubernetes={"timeout": timeout},
    )


# --------------------------------------------------------------------------- happy paths


@pytest.mark.parametrize(
    ("scenario", "indicator", "healthy", "incidents"),
    [
        ("clay-healthy", "none", True, 0),
        ("clay-vendor-outage", "major", False, 1),
        ("clay-infra", "none", False, 0),
    ],
)
async def test_status_page_and_health_per_scenario(
    tmp_path: Path, scenario: str, indicator: str, healthy: bool, incidents: int
) -> None:
    async with running_sandbox(scenario, speed=30) as sb:
        async with Sources(settings_for(sb, tmp_path), CLAY) as sources:
            assert sources.health is not None

            async def settled() -> bool:
                status = await sources.status_page.fetch()
                health = await sources.health.fetch()  # type: ignore[union-attr]
                return (
                    status.indicator == indicator
                    and health.healthy == healthy
                    and len(status.incidents) >= incidents
                    and (health.latency_ms is not None or not healthy)
                )

            await wait_until(settled, 30, 0.3, f"{scenario} to show on the status page and health")
            status = await sources.status_page.fetch()
            assert status.vendor == "Clay"
            assert status.components, "a Statuspage lists its components"
            if incidents:
                assert status.incidents[0].latest_update
                assert status.degraded_components
            health = await sources.health.fetch()  # type: ignore[union-attr]
            assert health.vendor == "Clay"
            if not healthy:
                assert health.last_error


async def test_rate_limited_reads_as_429s_everywhere(tmp_path: Path) -> None:
    async with running_sandbox("clay-rate-limited", speed=30) as sb:
        async with Sources(settings_for(sb, tmp_path, timeout=3), CLAY) as sources:

            async def alerting() -> Any:
                readings = {r.signal_id: r for r in await sources.prometheus.fetch()}
                return readings if readings["rate_limited"].alerting else None

            readings = await wait_until(alerting, 60, 0.5, "the 429 signal to alert")
            rate = readings["rate_limited"]
            assert rate.level == "P2" and rate.value is not None and rate.value > 5
            assert rate.series, "a 30-minute series comes with the reading"
            assert "Rate Limited" in rate.evidence and "> 5/min" in rate.evidence
            assert readings["auth_failures"].level == "ok"
            health = await sources.health.fetch()  # type: ignore[union-attr]
            assert health.last_error and "429" in health.last_error
            snapshot = await sources.snapshot()
            assert snapshot.path is not None and snapshot.path.leaf is not None
            assert "integration" in (snapshot.path.leaf.conclusion or "").lower()
            assert any("429" in line.text for line in snapshot.error_lines)
            assert len(snapshot.pods) == 4 and all(p.ready for p in snapshot.pods)


async def test_prometheus_backup_is_used_and_said(tmp_path: Path) -> None:
    async with running_sandbox("clay-healthy") as sb:
        dead = "http://127.0.0.1:9"  # discard port: nothing listens
        source = PrometheusSource(CLAY.signals, dead, sb.endpoints.prometheus, timeout=2)
        readings = await source.fetch()
        assert readings and all(r.via_backup for r in readings)
        assert {r.signal_id for r in readings} == {s.id for s in CLAY.signals}
        lonely = PrometheusSource(CLAY.signals, dead, None, timeout=2)
        with pytest.raises(SourceError) as caught:
            await lonely.fetch()
        assert caught.value.kind == "unreachable"


async def test_a_real_prometheus_scraping_the_sandbox_feeds_the_signals(tmp_path: Path) -> None:
    async with running_sandbox("clay-rate-limited", speed=30) as sb:
        async with running_prometheus([sb.endpoints.metrics], tmp_path) as url:
            source = PrometheusSource(CLAY.signals, url, timeout=5)

            async def alerting() -> Any:
                readings = {r.signal_id: r for r in await source.fetch()}
                return readings if readings["rate_limited"].alerting else None

            readings = await wait_until(alerting, 120, 1.0, "Prometheus to see the 429s")
            assert readings["rate_limited"].value is not None
            assert readings["latency_p99"].value is not None
            assert not readings["rate_limited"].via_backup


# --------------------------------------------------------------------------- faults

EXPECTED_KIND = {
    "down": "unreachable",
    "slow": "timeout",
    "5xx": "server_error",
    "malformed": "malformed",
    "401": "auth_expired",
    "403": "forbidden",
}
HINTS = ("status_page", "health", "prometheus", "kubernetes", "logs")


def expected_hint(backend: str, kind: str) -> str | None:
    """The seed's error-handling table, as a responder would look it up."""
    if backend in ("status_page", "health") and kind in ("unreachable", "timeout"):
        return "Use mobile or VPN"
    if backend == "prometheus":
        return "Check backup metrics"
    if backend in ("kubernetes", "logs") and kind == "auth_expired":
        return "Re-authenticate"
    if backend in ("kubernetes", "logs") and kind == "forbidden":
        return "Escalate to admin"
    return None


async def _read(sources: Sources, backend: str) -> Any:
    """One read of a backend, through the tracker that turns errors into faults."""
    calls = {
        "status_page": sources.status_page.fetch,
        "health": sources.health.fetch,  # type: ignore[union-attr]
        "prometheus": sources.prometheus.fetch,
        "kubernetes": sources.pods,
        "logs": lambda: sources.recent_error_lines(timedelta(minutes=5), 5),
    }
    return await sources.trackers[backend].run(calls[backend]())


@pytest.mark.parametrize("backend", ["status_page", "health", "prometheus", "kubernetes", "logs"])
async def test_every_fault_becomes_one_typed_fault_and_clears(tmp_path: Path, backend: str) -> None:
    async with running_sandbox("clay-healthy") as sb:
        async with Sources(settings_for(sb, tmp_path, timeout=1.0), CLAY) as sources:
            await sources.open_kube()
            # the log streams come from the same API server as the pods
            others = [
                b for b in HINTS if b != backend and not {b, backend} <= {"kubernetes", "logs"}
            ]
            for fault, kind in EXPECTED_KIND.items():
                options: dict[str, Any] = {"delay": 3.0} if fault == "slow" else {}
                await sb.set_fault(backend, fault, **options)
                outcome = await asyncio.wait_for(_read(sources, backend), 8)
                assert outcome.fault is not None, f"{backend}/{fault} gave a value"
                got: SourceFault = outcome.fault
                assert got.kind == kind, f"{backend}/{fault}: {got.kind} ({got.message})"
                assert got.backend in (backend, "kubernetes")
                expected = expected_hint(backend, kind)
                if expected:
                    assert got.hint and expected in got.hint, (backend, fault, got.hint)
                for other in others:
                    still = await asyncio.wait_for(_read(sources, other), 8)
                    assert still.fault is None, f"{other} failed during {backend}/{fault}"
                await sb.clear_faults(backend)
                recovered = await asyncio.wait_for(_read(sources, backend), 8)
                assert recovered.fault is None, f"{backend} did not recover from {fault}"


# --------------------------------------------------------------------------- the log tail


class Collected:
    def __init__(self) -> None:
        self.lines: list[LogLine] = []
        self.pods: list[PodState] = []
        self.faults: list[SourceFault | None] = []

    def sink(self, lines: list[LogLine], dropped: int) -> None:
        assert dropped == 0
        self.lines.extend(lines)

    def by_pod(self) -> dict[str, list[int]]:
        seqs: dict[str, list[int]] = defaultdict(list)
        for line in self.lines:
            match = SEQ.search(line.text)
            if match:
                seqs[line.pod].append(int(match.group(1)))
        return seqs


def assert_no_gap_no_double(seqs: dict[str, list[int]]) -> None:
    for pod, numbers in seqs.items():
        assert len(numbers) == len(set(numbers)), f"{pod} showed a line twice"
        assert numbers == sorted(numbers), f"{pod} lines out of order"
        assert numbers == list(range(numbers[0], numbers[-1] + 1)), f"{pod} lost lines"


async def _tail(sb: Any, tmp_path: Path, collected: Collected) -> tuple[Sources, asyncio.Task[Any]]:
    sources = Sources(settings_for(sb, tmp_path, timeout=2.0), CLAY)
    conn = await sources.open_kube()
    tail = LogTail(
        conn, CLAY, collected.sink, collected.faults.append, flush_interval=0.05, retry_interval=0.3
    )

    def on_pods(pods: list[PodState]) -> None:
        collected.pods = pods
        tail.update_pods(pods)

    watcher = PodWatcher(
        conn, CLAY.service.selector, on_pods, collected.faults.append, runbook=CLAY
    )
    task = asyncio.gather(watcher.run(), tail.run())
    return sources, task  # type: ignore[return-value]


async def test_log_tail_follows_a_rollout_restart_without_gaps_or_doubles(tmp_path: Path) -> None:
    async with running_sandbox("clay-healthy", calls_per_second_per_pod=8) as sb:
        collected = Collected()
        sources, task = await _tail(sb, tmp_path, collected)
        try:
            await wait_until(lambda: len(collected.by_pod()) == 4, 20, 0.1, "lines of 4 pods")
            old = set(collected.by_pod())
            await sb.kubectl("rollout", "restart", "deployment/clay-integration")
            await sb.kubectl("rollout", "status", "deployment/clay-integration", "--timeout=60s")

            def new_pods_logged() -> bool:
                pods = set(collected.by_pod()) - old
                return len(pods) == 4 and all(len(collected.by_pod()[p]) >= 5 for p in pods)

            def old_pods_gone() -> bool:
                # the last old pod leaves the list a moment after it stops
                return not ({p.name for p in collected.pods} & old)

            await wait_until(new_pods_logged, 30, 0.1, "the new pods' lines")
            await wait_until(old_pods_gone, 10, 0.1, "the old pods to leave the list")
            new = set(collected.by_pod()) - old
            seqs = collected.by_pod()
            assert_no_gap_no_double(seqs)
            for pod in new:
                assert seqs[pod][0] == 1, f"{pod}'s first line was missed"
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await sources.close()


async def test_log_tail_resumes_a_dropped_stream_without_doubling(tmp_path: Path) -> None:
    async with running_sandbox("clay-healthy", calls_per_second_per_pod=10) as sb:
        collected = Collected()
        sources, task = await _tail(sb, tmp_path, collected)
        try:
            await wait_until(lambda: len(collected.by_pod()) == 4, 20, 0.1, "lines of 4 pods")
            await sb.set_fault("logs", "drop", after_lines=15)
            start = {pod: len(n) for pod, n in collected.by_pod().items()}
            await wait_until(
                lambda: all(len(collected.by_pod()[p]) > start[p] + 40 for p in start),
                30,
                0.2,
                "lines after several drops",
            )
            await sb.clear_faults("logs")
            assert_no_gap_no_double(collected.by_pod())
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await sources.close()


async def test_a_crash_looping_pod_shows_its_previous_container(tmp_path: Path) -> None:
    async with running_sandbox("clay-infra", speed=30) as sb:
        # the responder opens the cockpit once the pods crash-loop: what the crashed
        # container said is only in its previous logs
        await sb.wait_for_restart(CLAY.service.selector)
        collected = Collected()
        sources, task = await _tail(sb, tmp_path, collected)
        try:
            previous = await wait_until(
                lambda: [line for line in collected.lines if line.previous],
                90,
                0.2,
                "lines of a previous container",
            )
            assert any("KeyError: 'UPSTREAM_POOL_SIZE'" in line.text for line in previous)
            assert all(line.pod for line in previous)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await sources.close()


def test_retries_back_off_to_a_cap_with_jitter() -> None:
    from tui.sources.kube.logs import _Backoff

    backoff = _Backoff(0.5, 30.0)
    delays = [backoff.next() for _ in range(12)]
    assert 0.4 <= delays[0] <= 0.6
    assert all(later >= earlier * 1.3 for earlier, later in itertools.pairwise(delays[:6]))
    assert all(24.0 <= d <= 30.0 for d in delays[-4:])  # never past the cap of 30 s
    # jittered: pods that failed together do not retry in step
    assert len({round(_Backoff(0.5, 30.0).next(), 6) for _ in range(8)}) > 1
    backoff.reset()
    assert backoff.next() <= 0.6


async def test_a_pod_whose_containers_are_unknown_keeps_its_stream() -> None:
    """With no container named and none listed, the API's default container is followed:
    one stream, kept across pod updates (not started and cancelled at once)."""
    from datetime import UTC, datetime

    never = asyncio.Event()

    class Conn:
        namespace = "production"
        timeout = 5.0

        class api:
            @staticmethod
            async def read_namespaced_pod_log_without_preload_content(*_: Any, **__: Any) -> Any:
                await never.wait()

        async def request(self, backend: str, what: str, call: Any, timeout: Any = None) -> Any:
            return await call

    runbook = CLAY.model_copy(
        update={
            "service": CLAY.service.model_copy(update={"container": None}),
            "logs": CLAY.logs.model_copy(update={"container": None}),
        }
    )
    tail = LogTail(Conn(), runbook, lambda lines, dropped: None, lambda fault: None)  # type: ignore[arg-type]
    pod = PodState("clay-a", "Running", True, 0, datetime.now(UTC), None)
    tail.update_pods([pod])
    tail.update_pods([pod])
    assert list(tail.streams) == ["clay-a/"]
    task = tail.streams["clay-a/"].task
    assert task is not None and not task.cancelled()
    tail.update_pods([])
    await asyncio.sleep(0)
    assert not tail.streams


def test_a_stream_timing_out_during_a_5xx_outage_does_not_make_it_a_new_fault() -> None:
    """The fault matrix saw "server_error, timeout, server_error" recorded for one 503
    outage of the log API: one of four streams timed out meanwhile."""
    from tui.errors import SourceServerError, SourceTimeout

    seen: list[Any] = []

    class Conn:
        server = "https://127.0.0.1:6443"

    tail = LogTail(Conn(), CLAY, lambda lines, dropped: None, seen.append)  # type: ignore[arg-type]
    tail._fault(SourceServerError("logs", "logs of a answered 503"))
    tail._fault(SourceTimeout("logs", "logs of b: no answer within 2 s"))
    tail._fault(SourceServerError("logs", "logs of c answered 503"))
    assert [fault.kind for fault in seen] == ["server_error", "server_error"]
    assert tail.tracker.failing_kind == "server_error"
