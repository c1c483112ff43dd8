"""The sandbox's scenarios: each breaks what it says, its fix fixes it, and nothing else
does; pod logs are complete, readable and free of secrets; the flood is fast enough."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sandbox_helpers import SandboxHandle, running_sandbox, wait_until

from tui.sandbox.kube.cluster import Cluster
from tui.sandbox.scenarios import SCENARIOS, VENDORS
from tui.sandbox.world import NAMESPACE, World

SECRETS = [value for vendor in VENDORS.values() for value in vendor.secret_values.values()]
SEQ = re.compile(r"seq=(\d+)$")


# --------------------------------------------------------------------------- actions


def cluster_of(sb: SandboxHandle) -> Cluster:
    assert sb.sandbox is not None
    return sb.sandbox.cluster


def set_env(sb: SandboxHandle, deployment: str, **env: str) -> None:
    """What `kubectl set env` does: one new revision of the pod template."""
    cluster = cluster_of(sb)
    dep = cluster.deployment(NAMESPACE, deployment)
    container = dep["spec"]["template"]["spec"]["containers"][0]
    entries = [e for e in container.get("env", []) if e["name"] not in env]
    container["env"] = entries + [{"name": k, "value": v} for k, v in env.items()]
    cluster.update_object("deployments", NAMESPACE, deployment, dep)


def restart(sb: SandboxHandle, deployment: str) -> None:
    """What `kubectl rollout restart` does."""
    cluster = cluster_of(sb)
    dep = cluster.deployment(NAMESPACE, deployment)
    annotations = dep["spec"]["template"].setdefault("metadata", {}).setdefault("annotations", {})
    annotations["kubectl.kubernetes.io/restartedAt"] = datetime.now(UTC).isoformat()
    cluster.update_object("deployments", NAMESPACE, deployment, dep)


def put_secret(sb: SandboxHandle, secret: str, key: str, value: str) -> None:
    cluster = cluster_of(sb)
    obj = cluster.secret(NAMESPACE, secret)
    obj["data"][key] = base64.b64encode(value.encode()).decode()
    cluster.update_object("secrets", NAMESPACE, secret, obj)


def scale(sb: SandboxHandle, deployment: str, replicas: int) -> None:
    cluster_of(sb).update_scale(NAMESPACE, deployment, {"spec": {"replicas": replicas}})


def latest_hash(cluster: Cluster, deployment: str) -> str:
    sets, _ = cluster.list_objects("replicasets", NAMESPACE, f"app={deployment}")
    newest = max(
        sets, key=lambda rs: int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
    )
    return str(newest["metadata"]["labels"]["pod-template-hash"])


async def rolled_out(sb: SandboxHandle, deployment: str, *, ready: bool = True) -> None:
    """Wait until every pod left is of the newest revision (and Ready, unless it crashes)."""
    cluster = cluster_of(sb)

    def done() -> bool:
        wanted = cluster.deployment(NAMESPACE, deployment)["spec"]["replicas"]
        pods = cluster.pods(NAMESPACE, f"app={deployment}")
        current = latest_hash(cluster, deployment)
        if len(pods) != wanted:
            return False
        for pod in pods:
            if pod["metadata"]["labels"].get("pod-template-hash") != current:
                return False
            if pod["metadata"].get("deletionTimestamp"):
                return False
            if ready and not any(
                c["type"] == "Ready" and c["status"] == "True" for c in pod["status"]["conditions"]
            ):
                return False
        return True

    await wait_until(done, 30, 0.05, f"{deployment} to roll out")


async def outcome(sb: SandboxHandle, vendor: str) -> str:
    return str((await sb.state())["vendors"][vendor]["outcome"])


async def stays(sb: SandboxHandle, vendor: str, expected: str) -> None:
    """The vendor's outcome is ``expected`` now and over the next half second."""
    for _ in range(5):
        assert await outcome(sb, vendor) == expected
        await asyncio.sleep(0.1)


async def becomes(sb: SandboxHandle, vendor: str, expected: str, timeout: float = 20) -> None:
    await sb.wait_for(
        lambda s: s["vendors"][vendor]["outcome"] == expected,
        timeout,
        f"{vendor} outcome {expected}",
    )


def counter(sb: SandboxHandle, name: str, label: str) -> float:
    assert sb.sandbox is not None
    return sb.sandbox.registry.counter(name).value(label)


def log_lines(sb: SandboxHandle, pod: str) -> list[str]:
    return [r.text for r in cluster_of(sb).open_log(NAMESPACE, pod).initial]


def ready_pods(sb: SandboxHandle, deployment: str) -> list[str]:
    return [
        p["metadata"]["name"] for p in cluster_of(sb).ready_pods(NAMESPACE, f"app={deployment}")
    ]


# --------------------------------------------------------------------------- seeding


def test_every_scenario_seeds_the_three_services_with_their_secrets() -> None:
    for name in SCENARIOS:
        cluster = Cluster()
        World(cluster, name).seed()
        replicas = {
            v.deployment: cluster.deployment(NAMESPACE, v.deployment)["spec"]["replicas"]
            for v in VENDORS.values()
        }
        assert replicas == {
            "clay-integration": 4,
            "instantly-integration": 3,
            "clerk-integration": 2,
        }, name
        assert cluster.secret_value(NAMESPACE, "clay-secrets", "api-key") == (
            "sk_live_sandbox_clay_0001"
        )
        assert cluster.secret_value(NAMESPACE, "clerk-secrets", "webhook-secret")
        env = cluster.deployment(NAMESPACE, "clay-integration")["spec"]["template"]["spec"][
            "containers"
        ][0]["env"]
        assert {
            "name": "CLAY_API_KEY",
            "valueFrom": {"secretKeyRef": {"name": "clay-secrets", "key": "api-key"}},
        } in env


def test_unknown_scenario_is_one_clear_sentence() -> None:
    with pytest.raises(ValueError, match='unknown scenario "nope"; choose one of: clay-healthy'):
        World(Cluster(), "nope")


def test_infra_seeds_a_bad_revision_on_top_of_a_good_one() -> None:
    cluster = Cluster()
    World(cluster, "clay-infra").seed()
    sets, _ = cluster.list_objects("replicasets", NAMESPACE, "app=clay-integration")
    images = {
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs["spec"]["template"][
            "spec"
        ]["containers"][0]["image"]
        for rs in sets
    }
    assert images == {
        "1": "registry.yourapp.com/clay-integration:1.4.2",
        "2": "registry.yourapp.com/clay-integration:1.5.0-rc1",
    }


# --------------------------------------------------------------------------- fixes


async def test_healthy_has_no_errors() -> None:
    async with running_sandbox("clay-healthy", speed=50) as sb:
        state = await sb.wait_for(lambda s: s["scenario_seconds"] > 60)
        assert state["phase"] == "healthy"
        assert all(v["outcome"] == "ok" for v in state["vendors"].values())
        assert sum(counter(sb, "clay_errors_total", code) for code in ("401", "429", "503")) == 0


async def test_rate_limited_is_fixed_by_queue_mode_only() -> None:
    async with running_sandbox("clay-rate-limited", speed=50) as sb:
        await sb.wait_for(lambda s: s["phase"] == "incident", 10)
        await wait_until(lambda: counter(sb, "clay_errors_total", "429") > 0, 20)
        restart(sb, "clay-integration")
        await rolled_out(sb, "clay-integration")
        await stays(sb, "clay", "rate_limited")
        set_env(sb, "clay-integration", CLAY_FALLBACK="true")
        await rolled_out(sb, "clay-integration")
        await stays(sb, "clay", "rate_limited")
        await sb.kubectl("set", "env", "deployment/clay-integration", "RATE_LIMIT_MODE=queue")
        await rolled_out(sb, "clay-integration")
        await becomes(sb, "clay", "queued")
        state = await sb.state()
        assert state["phase"] == "resolved"
        before = counter(sb, "clay_errors_total", "429")
        await wait_until(lambda: counter(sb, "clay_requests_total", "200") > 0, 5)
        await sb.wait_for(lambda s: s["scenario_seconds"] > state["scenario_seconds"] + 30)
        assert counter(sb, "clay_errors_total", "429") == before


async def test_auth_needs_a_new_key_and_a_restart() -> None:
    async with running_sandbox("clay-auth", speed=50) as sb:
        await sb.wait_for(lambda s: s["phase"] == "incident", 10)
        restart(sb, "clay-integration")
        await rolled_out(sb, "clay-integration")
        await stays(sb, "clay", "auth_failed")
        put_secret(sb, "clay-secrets", "api-key", "sk_live_sandbox_clay_0002")
        await stays(sb, "clay", "auth_failed")
        restart(sb, "clay-integration")
        await rolled_out(sb, "clay-integration")
        await becomes(sb, "clay", "ok")
        assert (await sb.state())["phase"] == "resolved"


async def test_auth_is_not_fixed_by_putting_the_same_key_back() -> None:
    async with running_sandbox("instantly-auth", speed=50) as sb:
        put_secret(sb, "instantly-secrets", "api-key", "sk_live_sandbox_instantly_0001")
        restart(sb, "instantly-integration")
        await rolled_out(sb, "instantly-integration")
        await stays(sb, "instantly", "auth_failed")


async def test_vendor_outage_is_fixed_by_fallback_only() -> None:
    async with running_sandbox("clay-vendor-outage", speed=20) as sb:
        await sb.wait_for(lambda s: s["phase"] == "incident", 10)
        restart(sb, "clay-integration")
        await rolled_out(sb, "clay-integration")
        await stays(sb, "clay", "vendor_down")
        set_env(sb, "clay-integration", RATE_LIMIT_MODE="queue")
        await rolled_out(sb, "clay-integration")
        await stays(sb, "clay", "vendor_down")
        await sb.kubectl("set", "env", "deployment/clay-integration", "CLAY_FALLBACK=true")
        await rolled_out(sb, "clay-integration")
        await becomes(sb, "clay", "fallback")
        assert (await sb.state())["phase"] == "mitigated"
        before = counter(sb, "clay_errors_total", "503")
        health = await wait_until(
            lambda: (
                (h := sb.sandbox.world.health())["services"]["clay"]["last_error"]  # type: ignore[union-attr]
                and "fallback" in h["services"]["clay"]["last_error"]
                and h
            ),
            40,
        )
        assert health["services"]["clay"]["status"] == "degraded"
        assert counter(sb, "clay_errors_total", "503") == before


async def test_vendor_outage_recovers_on_its_own_and_fallback_keeps_errors_away() -> None:
    # 15 minutes of scenario time pass in about 3 seconds.
    async with running_sandbox("instantly-vendor-outage", speed=300) as sb:
        assert sb.sandbox is not None
        page = sb.sandbox.world.vendor_page("instantly")
        assert page.indicator == "major"
        set_env(sb, "instantly-integration", INSTANTLY_FALLBACK="true")
        await rolled_out(sb, "instantly-integration")
        await sb.wait_for(lambda s: s["vendors"]["instantly"]["status_indicator"] == "none", 20)
        before = counter(sb, "instantly_errors_total", "503")
        await becomes(sb, "instantly", "ok")
        await wait_until(lambda: counter(sb, "instantly_requests_total", "200") > 50, 20)
        assert counter(sb, "instantly_errors_total", "503") == before
        page = sb.sandbox.world.vendor_page("instantly")
        assert page.incidents[0]["status"] in ("monitoring", "resolved")
        await sb.wait_for(lambda s: s["scenario_seconds"] > 18 * 60 + 5, 20)
        page = sb.sandbox.world.vendor_page("instantly")
        assert page.incidents[0]["status"] == "resolved"
        assert [u["status"] for u in page.incidents[0]["incident_updates"]] == [
            "resolved",
            "monitoring",
            "identified",
            "investigating",
        ]


async def test_infra_is_fixed_by_rollout_undo() -> None:
    async with running_sandbox("clay-infra", speed=50) as sb:
        state = await sb.wait_for(lambda s: s["vendors"]["clay"]["outcome"] == "crash_loop", 20)
        assert state["vendors"]["clay"]["health"] == "down"
        await sb.kubectl("rollout", "undo", "deployment/clay-integration")
        await rolled_out(sb, "clay-integration")
        await becomes(sb, "clay", "ok")


async def test_infra_is_not_fixed_by_a_restart_or_an_env_change() -> None:
    async with running_sandbox("instantly-infra", speed=50) as sb:
        await becomes(sb, "instantly", "crash_loop")
        restart(sb, "instantly-integration")
        await rolled_out(sb, "instantly-integration", ready=False)
        await becomes(sb, "instantly", "crash_loop")
        await stays(sb, "instantly", "crash_loop")
        set_env(sb, "instantly-integration", INSTANTLY_FALLBACK="true")
        await rolled_out(sb, "instantly-integration", ready=False)
        await becomes(sb, "instantly", "crash_loop")
        await stays(sb, "instantly", "crash_loop")
        await sb.kubectl("rollout", "undo", "deployment/instantly-integration", "--to-revision=1")
        await rolled_out(sb, "instantly-integration")
        await becomes(sb, "instantly", "ok")


async def test_clerk_auth_outage_is_fixed_by_the_emergency_bypass() -> None:
    async with running_sandbox("clerk-auth-outage", speed=20) as sb:
        state = await sb.wait_for(lambda s: s["phase"] == "incident", 10)
        assert state["vendors"]["clerk"]["status_indicator"] == "major"
        await wait_until(
            lambda: sb.sandbox.world.health()["services"]["clerk"]["status"] == "down", 20
        )  # type: ignore[union-attr]
        restart(sb, "clerk-integration")
        await rolled_out(sb, "clerk-integration")
        await stays(sb, "clerk", "vendor_down")
        set_env(sb, "clerk-integration", CLERK_EMERGENCY_BYPASS="true")
        await rolled_out(sb, "clerk-integration")
        await becomes(sb, "clerk", "bypass")


async def test_clerk_webhook_failure_is_fixed_by_rollout_undo_only() -> None:
    async with running_sandbox("clerk-webhook-failure", speed=50) as sb:
        await rolled_out(sb, "clerk-integration")
        await becomes(sb, "clerk", "webhook_failing")
        await wait_until(lambda: counter(sb, "clerk_webhook_deliveries_total", "failed") > 0, 20)
        restart(sb, "clerk-integration")
        await rolled_out(sb, "clerk-integration")
        await stays(sb, "clerk", "webhook_failing")
    async with running_sandbox("clerk-webhook-failure", speed=50) as sb:
        await rolled_out(sb, "clerk-integration")
        await sb.kubectl("rollout", "undo", "deployment/clerk-integration")
        await rolled_out(sb, "clerk-integration")
        await becomes(sb, "clerk", "ok")
        before = counter(sb, "clerk_webhook_deliveries_total", "failed")
        successes = counter(sb, "clerk_webhook_deliveries_total", "success")
        await wait_until(
            lambda: counter(sb, "clerk_webhook_deliveries_total", "success") > successes + 3, 20
        )
        assert counter(sb, "clerk_webhook_deliveries_total", "failed") == before


async def test_clerk_performance_is_fixed_by_four_ready_replicas() -> None:
    async with running_sandbox("clerk-performance", speed=50, calls_per_second_per_pod=25) as sb:
        assert sb.sandbox is not None
        assert sb.sandbox.world.vendor_page("clerk").indicator == "minor"
        await becomes(sb, "clerk", "saturated")
        health = await wait_until(
            lambda: (
                (h := sb.sandbox.world.health()["services"]["clerk"])["status"] == "degraded"  # type: ignore[union-attr]
                and h
            ),
            30,
        )
        assert "slow responses" in health["last_error"]
        scale(sb, "clerk-integration", 3)
        await rolled_out(sb, "clerk-integration")
        await stays(sb, "clerk", "saturated")
        scale(sb, "clerk-integration", 4)
        await rolled_out(sb, "clerk-integration")
        await becomes(sb, "clerk", "ok")


# --------------------------------------------------------------------------- logs


def _seqs(lines: list[str]) -> list[int]:
    found = []
    for line in lines:
        if line.startswith("{"):
            found.append(json.loads(line)["seq"])
        elif match := SEQ.search(line):
            found.append(int(match.group(1)))
    return found


async def test_pod_logs_are_complete_readable_and_secret_free() -> None:
    async with running_sandbox("clay-rate-limited", speed=50) as sb:

        def text_warnings() -> bool:
            # every 4th line is JSON, so a few 429s can all be JSON lines: wait for a text one
            return any(
                line.split(" ")[1] in ("WARN", "ERROR")
                for pod in ready_pods(sb, "clay-integration")
                for line in log_lines(sb, pod)
            )

        await wait_until(lambda: counter(sb, "clay_errors_total", "429") >= 3, 30)
        await wait_until(text_warnings, 30)
        pods = ready_pods(sb, "clay-integration")
        everything: list[str] = []
        for pod in pods:
            lines = log_lines(sb, pod)
            everything += lines
            seqs = _seqs(lines)
            assert seqs == list(range(1, len(seqs) + 1)), f"{pod}: a line is missing or doubled"
        assert any("starting clay-integration 1.4.2" in line for line in everything)
        assert any(
            "clay API responded 429 Too Many Requests (retry-after" in line for line in everything
        )
        structured = [json.loads(line) for line in everything if line.startswith("{")]
        assert structured and {"ts", "level", "msg", "status", "request_id", "seq"} <= set(
            structured[0]
        )
        assert any(line.split(" ")[1] in ("WARN", "ERROR") for line in everything)
        for secret in SECRETS:
            assert not any(secret in line for line in everything)


@pytest.mark.parametrize(
    ("scenario", "deployment", "message"),
    [
        ("clay-auth", "clay-integration", "401 Unauthorized: invalid API key"),
        (
            "instantly-vendor-outage",
            "instantly-integration",
            "503 Service Unavailable from api.instantly.ai",
        ),
        ("clerk-webhook-failure", "clerk-integration", "answered 500 Internal Server Error"),
    ],
)
async def test_error_lines_say_what_is_wrong(scenario: str, deployment: str, message: str) -> None:
    async with running_sandbox(scenario, speed=50, calls_per_second_per_pod=10) as sb:

        def said() -> bool:
            return any(
                message in line for pod in ready_pods(sb, deployment) for line in log_lines(sb, pod)
            )

        await wait_until(said, 20, 0.2, message)


async def test_crash_looping_pods_print_a_stack_trace_and_fatal() -> None:
    async with running_sandbox("clay-infra", speed=50) as sb:
        cluster = cluster_of(sb)

        def crashed() -> list[str]:
            for pod in cluster.pods(NAMESPACE, "app=clay-integration"):
                for cursor_args in ({"previous": True}, {}):
                    try:
                        lines = [
                            r.text
                            for r in cluster.open_log(
                                NAMESPACE, pod["metadata"]["name"], **cursor_args
                            ).initial
                        ]
                    except Exception:
                        continue
                    if any("FATAL" in line for line in lines):
                        return lines
            return []

        lines = await wait_until(crashed, 20)
        assert "Traceback (most recent call last):" in lines
        assert any(line.startswith("KeyError") for line in lines)


async def test_flood_writes_fifty_thousand_lines_a_second_without_gaps() -> None:
    async with running_sandbox("clay-healthy", speed=1) as sb:
        cluster = cluster_of(sb)
        pods = [p["metadata"]["name"] for p in cluster.ready_pods(NAMESPACE)]
        assert len(pods) == 9
        rate = 6000.0
        clock = cluster.clock
        counts = {pod: len(log_lines(sb, pod)) for pod in pods}
        started = clock()
        await sb.set_flood(rate)
        await wait_until(lambda: clock() - started > 2.0, 10)
        await sb.set_flood(0)
        elapsed = clock() - started
        written = sum(len(log_lines(sb, pod)) - counts[pod] for pod in pods)
        assert written / elapsed >= 50_000 * 0.8
        for pod in pods:
            seqs = _seqs(log_lines(sb, pod))
            assert seqs == list(range(1, len(seqs) + 1))
        assert (await sb.state())["flood"] == {
            "lines_per_second_per_pod": 0.0,
            "application_logs": True,
        }


# --------------------------------------------------------------------------- status pages


def _page(sb: SandboxHandle, vendor: str) -> Any:
    assert sb.sandbox is not None
    return sb.sandbox.world.vendor_page(vendor)


async def test_status_pages_follow_the_scenario() -> None:
    async with running_sandbox("clerk-auth-outage", speed=1) as sb:
        page = _page(sb, "clerk")
        assert (page.indicator, page.description) == ("major", "Partial System Outage")
        [incident] = page.unresolved
        assert incident["status"] == "investigating"
        assert incident["incident_updates"][0]["body"].startswith("We are investigating")
        statuses = {c["name"]: c["status"] for c in page.components}
        assert statuses["Frontend API"] == "major_outage"
        for vendor in ("clay", "instantly"):
            assert _page(sb, vendor).indicator == "none"
            assert _page(sb, vendor).incidents == []
