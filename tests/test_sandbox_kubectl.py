"""The real kubectl against the sandbox's Kubernetes API: what a responder types works."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from kube_helpers import (
    DEPLOYMENT,
    NAMESPACE,
    ORIGINAL_KEY,
    SECRET,
    SELECTOR,
    KubeSandbox,
    container_env,
    kubectl,
    kubectl_binary,
    kubectl_ok,
    ready_names,
    rolled_out,
    running_sandbox,
    wait_for,
)

from tui.sandbox.faults import Fault


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[KubeSandbox]:
    kubectl_binary()
    async with running_sandbox(tmp_path) as running:
        yield running


def _writes(sandbox: KubeSandbox) -> int:
    return sum(sandbox.cluster.writes.values())


async def test_get_pods_by_label_prints_the_normal_columns(sandbox: KubeSandbox) -> None:
    out = await kubectl_ok(sandbox, "get", "pods", "-l", SELECTOR)
    header, *rows = out.strip().splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert {row.split()[0] for row in rows} == ready_names(sandbox.cluster)
    assert all(row.split()[1:4] == ["1/1", "Running", "0"] for row in rows)

    wide = await kubectl_ok(sandbox, "get", "deployment", DEPLOYMENT, "-o", "wide")
    assert wide.splitlines()[0].split()[:5] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert "3/3" in wide and "clay-integration:1.4.2" in wide


async def test_logs_by_label_since_five_minutes(sandbox: KubeSandbox) -> None:
    await wait_for(lambda: sandbox.lines_written[0] > 30, what="some log lines")
    out = await kubectl_ok(sandbox, "logs", "-l", SELECTOR, "--since=5m", "--tail=-1")
    lines = out.splitlines()
    pods_seen = {line.rsplit(" ", 1)[-1] for line in lines}
    assert pods_seen == ready_names(sandbox.cluster)
    assert all(line.startswith("line ") for line in lines)

    stamped = await kubectl_ok(sandbox, "logs", "-l", SELECTOR, "--timestamps", "--tail=2")
    first = stamped.splitlines()[0]
    assert first[:4].isdigit() and first.split(" ", 1)[0].endswith("Z")


async def test_logs_follow_streams_new_lines(sandbox: KubeSandbox) -> None:
    pod = sorted(ready_names(sandbox.cluster))[0]
    process = await asyncio.create_subprocess_exec(
        kubectl_binary(),
        "logs",
        "-f",
        pod,
        "--tail=1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=sandbox.kubectl_env(),
    )
    try:
        assert process.stdout is not None
        numbers = []
        while len(numbers) < 5:
            line = await asyncio.wait_for(process.stdout.readline(), 10)
            assert line, "the log stream ended early"
            numbers.append(int(line.split()[1]))
        assert numbers == sorted(numbers) and len(set(numbers)) == 5
    finally:
        process.kill()
        await process.wait()


async def test_rollout_restart_then_status_gives_new_pods(sandbox: KubeSandbox) -> None:
    before = ready_names(sandbox.cluster)
    out = await kubectl_ok(sandbox, "rollout", "restart", f"deployment/{DEPLOYMENT}")
    assert "restarted" in out
    status = await kubectl_ok(
        sandbox, "rollout", "status", f"deployment/{DEPLOYMENT}", "--timeout=60s"
    )
    assert f'deployment "{DEPLOYMENT}" successfully rolled out' in status
    await wait_for(lambda: rolled_out(sandbox.cluster), what="old pods to go")
    after = ready_names(sandbox.cluster)
    assert len(after) == 3 and not after & before
    events = await kubectl_ok(sandbox, "get", "events")
    assert "ScalingReplicaSet" in events


async def test_set_env_rolls_out_and_the_dash_form_removes_it(sandbox: KubeSandbox) -> None:
    cluster = sandbox.cluster
    await kubectl_ok(sandbox, "set", "env", f"deployment/{DEPLOYMENT}", "RATE_LIMIT_MODE=queue")
    await kubectl_ok(sandbox, "rollout", "status", f"deployment/{DEPLOYMENT}", "--timeout=60s")
    await wait_for(lambda: rolled_out(cluster), what="the rollout")
    pods = cluster.ready_pods(NAMESPACE, SELECTOR)
    assert len(pods) == 3
    for pod in pods:
        assert container_env(pod) == {
            "CLAY_API_KEY": f"secret:{SECRET}/api-key",
            "RATE_LIMIT_MODE": "queue",
        }

    await kubectl_ok(sandbox, "set", "env", f"deployment/{DEPLOYMENT}", "RATE_LIMIT_MODE-")
    listed = await kubectl_ok(sandbox, "set", "env", f"deployment/{DEPLOYMENT}", "--list")
    assert "RATE_LIMIT_MODE" not in listed and "CLAY_API_KEY" in listed
    await kubectl_ok(sandbox, "rollout", "status", f"deployment/{DEPLOYMENT}", "--timeout=60s")
    await wait_for(lambda: rolled_out(cluster), what="the second rollout")
    assert all(
        "RATE_LIMIT_MODE" not in container_env(pod)
        for pod in cluster.ready_pods(NAMESPACE, SELECTOR)
    )


async def test_rollout_history_and_undo_restore_the_previous_template(
    sandbox: KubeSandbox,
) -> None:
    cluster = sandbox.cluster
    original = cluster.deployment(NAMESPACE, DEPLOYMENT)["spec"]["template"]
    await kubectl_ok(
        sandbox,
        "set",
        "image",
        f"deployment/{DEPLOYMENT}",
        "app=registry.example.com/clay-integration:1.5.0-rc1",
    )
    await kubectl_ok(
        sandbox,
        "annotate",
        f"deployment/{DEPLOYMENT}",
        "kubernetes.io/change-cause=bump to 1.5.0-rc1",
    )
    await kubectl_ok(sandbox, "rollout", "status", f"deployment/{DEPLOYMENT}", "--timeout=60s")
    history = await kubectl_ok(sandbox, "rollout", "history", f"deployment/{DEPLOYMENT}")
    rows = [line.split(None, 1) for line in history.strip().splitlines()[2:]]
    assert [row[0] for row in rows] == ["1", "2"]
    assert rows[1][1].strip() == "bump to 1.5.0-rc1"

    out = await kubectl_ok(sandbox, "rollout", "undo", f"deployment/{DEPLOYMENT}")
    assert "rolled back" in out
    await kubectl_ok(sandbox, "rollout", "status", f"deployment/{DEPLOYMENT}", "--timeout=60s")
    await wait_for(lambda: rolled_out(cluster), what="the undo rollout")
    restored = cluster.deployment(NAMESPACE, DEPLOYMENT)
    assert restored["spec"]["template"] == original
    assert restored["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    images = {
        pod["spec"]["containers"][0]["image"] for pod in cluster.ready_pods(NAMESPACE, SELECTOR)
    }
    assert images == {"registry.example.com/clay-integration:1.4.2"}
    history = await kubectl_ok(sandbox, "rollout", "history", f"deployment/{DEPLOYMENT}")
    assert [line.split()[0] for line in history.strip().splitlines()[2:]] == ["2", "3"]


async def test_pause_holds_a_template_change_until_resume(sandbox: KubeSandbox) -> None:
    cluster = sandbox.cluster
    before = ready_names(cluster)
    await kubectl_ok(sandbox, "rollout", "pause", f"deployment/{DEPLOYMENT}")
    await kubectl_ok(sandbox, "set", "env", f"deployment/{DEPLOYMENT}", "RATE_LIMIT_MODE=queue")

    def paused_and_observed() -> bool:
        dep = cluster.deployment(NAMESPACE, DEPLOYMENT)
        conditions = {c["type"]: c for c in dep["status"].get("conditions", [])}
        return (
            dep["status"].get("observedGeneration") == dep["metadata"]["generation"]
            and conditions["Progressing"]["reason"] == "DeploymentPaused"
        )

    await wait_for(paused_and_observed, what="the pause to be observed")
    assert cluster.deployment(NAMESPACE, DEPLOYMENT)["status"].get("updatedReplicas", 0) == 0
    assert {p["metadata"]["name"] for p in cluster.pods(NAMESPACE, SELECTOR)} == before
    # long enough for kubectl to start and print on a busy machine; the pause still holds
    stalled = await kubectl(
        sandbox, "rollout", "status", f"deployment/{DEPLOYMENT}", "--timeout=3s"
    )
    assert stalled.code != 0 and "0 out of 3 new replicas" in stalled.out

    await kubectl_ok(sandbox, "rollout", "resume", f"deployment/{DEPLOYMENT}")
    await kubectl_ok(sandbox, "rollout", "status", f"deployment/{DEPLOYMENT}", "--timeout=60s")
    await wait_for(lambda: rolled_out(cluster), what="the resumed rollout")
    pods = cluster.ready_pods(NAMESPACE, SELECTOR)
    assert all(container_env(pod).get("RATE_LIMIT_MODE") == "queue" for pod in pods)
    assert not {p["metadata"]["name"] for p in pods} & before


async def test_scale_to_five(sandbox: KubeSandbox) -> None:
    out = await kubectl_ok(sandbox, "scale", f"deployment/{DEPLOYMENT}", "--replicas=5")
    assert "scaled" in out
    await wait_for(lambda: len(ready_names(sandbox.cluster)) == 5, what="five ready pods")
    await kubectl_ok(sandbox, "rollout", "status", f"deployment/{DEPLOYMENT}", "--timeout=60s")
    listed = await kubectl_ok(sandbox, "get", "deployment", DEPLOYMENT)
    assert listed.splitlines()[1].split()[1] == "5/5"
    assert sandbox.cluster.writes[("patch", "deployments/scale")] == 1


async def test_secret_read_and_rotation_through_apply(sandbox: KubeSandbox) -> None:
    encoded = await kubectl_ok(sandbox, "get", "secret", SECRET, "-o", "jsonpath={.data.api-key}")
    assert base64.b64decode(encoded).decode() == ORIGINAL_KEY

    manifest = await kubectl_ok(
        sandbox,
        "create",
        "secret",
        "generic",
        SECRET,
        "--from-literal=api-key=NEW-KEY-2",
        "--dry-run=client",
        "-o",
        "yaml",
    )
    assert yaml.safe_load(manifest)["data"]["api-key"] == base64.b64encode(b"NEW-KEY-2").decode()
    applied = await kubectl(sandbox, "apply", "--validate=false", "-f", "-", stdin=manifest)
    assert applied.code == 0, applied.err
    assert "configured" in applied.out
    assert sandbox.cluster.secret_value(NAMESPACE, SECRET, "api-key") == "NEW-KEY-2"


async def test_server_dry_run_changes_nothing(sandbox: KubeSandbox) -> None:
    cluster = sandbox.cluster
    before = cluster.deployment(NAMESPACE, DEPLOYMENT)
    writes = _writes(sandbox)
    out = await kubectl_ok(
        sandbox,
        "set",
        "env",
        f"deployment/{DEPLOYMENT}",
        "RATE_LIMIT_MODE=queue",
        "--dry-run=server",
        "-o",
        "yaml",
    )
    assert container_env(yaml.safe_load(out))["RATE_LIMIT_MODE"] == "queue"
    after = cluster.deployment(NAMESPACE, DEPLOYMENT)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert "RATE_LIMIT_MODE" not in container_env(after)
    assert _writes(sandbox) == writes

    scaled = await kubectl_ok(
        sandbox, "scale", f"deployment/{DEPLOYMENT}", "--replicas=5", "--dry-run=server"
    )
    assert "(server dry run)" in scaled
    assert cluster.deployment(NAMESPACE, DEPLOYMENT)["spec"]["replicas"] == 3
    assert _writes(sandbox) == writes


async def test_deleted_pod_is_replaced(sandbox: KubeSandbox) -> None:
    victim = sorted(ready_names(sandbox.cluster))[0]
    await kubectl_ok(sandbox, "delete", "pod", victim)
    await wait_for(
        lambda: (
            len(ready_names(sandbox.cluster)) == 3 and victim not in ready_names(sandbox.cluster)
        ),
        what="a replacement pod",
    )
    assert sandbox.cluster.writes[("delete", "pods")] == 1


# ---------------------------------------------------------------------------- faults


async def test_expired_token_fault_prints_the_status_message(sandbox: KubeSandbox) -> None:
    await kubectl_ok(sandbox, "get", "pods")  # discovery is cached before the fault
    sandbox.faults.set("kubernetes", Fault("401"))
    result = await kubectl(sandbox, "get", "pods")
    assert result.code != 0
    assert "Unauthorized: token has expired" in result.err
    sandbox.faults.clear("kubernetes")
    await kubectl_ok(sandbox, "get", "pods")


async def test_wrong_token_is_unauthorized(sandbox: KubeSandbox) -> None:
    config = yaml.safe_load(sandbox.kubeconfig.read_text())
    config["users"][0]["user"]["token"] = "not-the-token"
    sandbox.kubeconfig.write_text(yaml.safe_dump(config))
    result = await kubectl(sandbox, "get", "pods")
    assert result.code != 0
    assert "You must be logged in to the server" in result.err


async def test_forbidden_fault_applies_only_to_its_verb(sandbox: KubeSandbox) -> None:
    await kubectl_ok(sandbox, "get", "pods")
    sandbox.faults.set("kubernetes", Fault("403", verb="patch", resource="deployments"))
    writes = _writes(sandbox)
    result = await kubectl(sandbox, "set", "env", f"deployment/{DEPLOYMENT}", "A=1")
    assert result.code != 0
    assert (
        'deployments.apps "clay-integration" is forbidden: User "sandbox-responder" cannot '
        'patch resource "deployments" in API group "apps" in the namespace "production"'
    ) in result.err
    assert _writes(sandbox) == writes
    assert "1/1" in await kubectl_ok(sandbox, "get", "pods")
    assert DEPLOYMENT in await kubectl_ok(sandbox, "get", "deployment", DEPLOYMENT)


async def test_unavailable_and_malformed_faults(sandbox: KubeSandbox) -> None:
    await kubectl_ok(sandbox, "get", "pods")
    sandbox.faults.set("kubernetes", Fault("5xx"))
    result = await kubectl(sandbox, "get", "pods")
    assert result.code != 0 and "ServiceUnavailable" in result.err
    sandbox.faults.set("kubernetes", Fault("malformed"))
    result = await kubectl(sandbox, "get", "pods")
    assert result.code != 0 and "JSON" in result.err
    sandbox.faults.set("kubernetes", Fault("slow", delay=0.5))
    started = time.monotonic()
    assert "Running" in await kubectl_ok(sandbox, "get", "pods")
    assert time.monotonic() - started >= 0.5


async def test_log_faults_cut_or_refuse_the_stream(sandbox: KubeSandbox) -> None:
    pod = sorted(ready_names(sandbox.cluster))[0]
    await wait_for(lambda: sandbox.lines_written[0] > 60, what="enough log lines")
    sandbox.faults.set("logs", Fault("drop", after_lines=4))
    result = await kubectl(sandbox, "logs", pod)
    assert len(result.out.splitlines()) == 4
    assert result.code != 0 and "unexpected EOF" in result.err

    sandbox.faults.set("logs", Fault("down"))
    result = await kubectl(sandbox, "logs", pod)
    assert result.code != 0 and result.out == ""

    sandbox.faults.set("logs", Fault("403"))
    result = await kubectl(sandbox, "logs", pod)
    assert 'cannot get resource "pods/log"' in result.err
    assert "Running" in await kubectl_ok(sandbox, "get", "pods")  # the API itself is fine


async def test_crash_looping_pods_show_in_get_and_previous_logs(tmp_path: Path) -> None:
    kubectl_binary()
    async with running_sandbox(tmp_path) as sandbox:
        sandbox.cluster.pod_behaviour = lambda pod: (
            "crash" if "1.5.0-rc1" in pod["spec"]["containers"][0]["image"] else "ok"
        )
        await kubectl_ok(
            sandbox,
            "set",
            "image",
            f"deployment/{DEPLOYMENT}",
            "app=registry.example.com/clay-integration:1.5.0-rc1",
        )

        def restarted_crasher() -> str | None:
            for pod in sandbox.cluster.pods(NAMESPACE, SELECTOR):
                status = pod["status"].get("containerStatuses", [{}])[0]
                if status.get("restartCount", 0) >= 2:
                    return str(pod["metadata"]["name"])
            return None

        crasher = await wait_for(restarted_crasher, what="a pod restarted twice")
        listed = await kubectl_ok(sandbox, "get", "pods")
        row = next(line.split() for line in listed.splitlines() if line.startswith(crasher))
        assert row[1] == "0/1" and row[2] in ("CrashLoopBackOff", "Running", "Error")
        previous = await kubectl_ok(sandbox, "logs", crasher, "--previous")
        assert previous.strip().splitlines()[-1].startswith("FATAL")
        status = await kubectl(
            sandbox, "rollout", "status", f"deployment/{DEPLOYMENT}", "--timeout=1s"
        )
        assert status.code != 0
        # The old pods keep serving: a rollout with maxUnavailable 0 of 3 stalls.
        assert len(ready_names(sandbox.cluster)) == 3
        await kubectl_ok(sandbox, "rollout", "undo", f"deployment/{DEPLOYMENT}")
        await kubectl_ok(sandbox, "rollout", "status", f"deployment/{DEPLOYMENT}", "--timeout=60s")
        await wait_for(lambda: rolled_out(sandbox.cluster), what="the crashing pods to go")
        assert all(
            p["spec"]["containers"][0]["image"].endswith(":1.4.2")
            for p in sandbox.cluster.pods(NAMESPACE, SELECTOR)
        )
