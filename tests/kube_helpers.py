"""Shared set-up for the sandbox Kubernetes tests: a seeded cluster behind its live API."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from tui.sandbox.faults import Faults
from tui.sandbox.kube.api import build_kube_app
from tui.sandbox.kube.cluster import Cluster
from tui.sandbox.kube.kubelet import LogRecord
from tui.sandbox.kube.tokens import Tokens
from tui.sandbox.kube.wire import SANDBOX_USER
from tui.sandbox.tls import sandbox_certificate, server_context

NAMESPACE = "production"
DEPLOYMENT = "clay-integration"
SELECTOR = "app=clay-integration"
SECRET = "clay-secrets"
ORIGINAL_KEY = "clay-key-original"


def clay_deployment(replicas: int = 3) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": DEPLOYMENT, "labels": {"app": DEPLOYMENT}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": DEPLOYMENT}},
            "template": {
                "metadata": {"labels": {"app": DEPLOYMENT}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "registry.example.com/clay-integration:1.4.2",
                            "env": [
                                {
                                    "name": "CLAY_API_KEY",
                                    "valueFrom": {
                                        "secretKeyRef": {"name": SECRET, "key": "api-key"}
                                    },
                                }
                            ],
                        }
                    ]
                },
            },
        },
    }


def fast_cluster(**overrides: Any) -> Cluster:
    """A cluster whose pods start, stop and roll quickly enough for tests."""
    settings: dict[str, Any] = {
        "pod_start_delay": 0.2,
        "pod_stop_delay": 0.2,
        "rollout_step_delay": 0.05,
        "crash_run_time": 0.2,
        "crash_backoff": 0.3,
    }
    settings.update(overrides)
    return Cluster(**settings)


def seed(cluster: Cluster) -> None:
    cluster.create_namespace(NAMESPACE)
    cluster.create_secret(
        NAMESPACE,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": SECRET},
            "type": "Opaque",
            "stringData": {"api-key": ORIGINAL_KEY},
        },
    )
    cluster.create_deployment(NAMESPACE, clay_deployment())


def kubeconfig(server: str, token: str) -> dict[str, Any]:
    """One cluster (trusting the sandbox's certificate), the token, the namespace."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "sandbox",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": sandbox_certificate().cert_base64,
                },
            }
        ],
        "users": [{"name": SANDBOX_USER, "user": {"token": token}}],
        "contexts": [
            {
                "name": "sandbox",
                "context": {"cluster": "sandbox", "user": SANDBOX_USER, "namespace": NAMESPACE},
            }
        ],
        "current-context": "sandbox",
    }


async def wait_for(
    condition: Callable[[], Any], timeout: float = 20.0, what: str = "condition"
) -> Any:
    """Poll until ``condition()`` is truthy (and return it); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def ready_names(cluster: Cluster) -> set[str]:
    return {pod["metadata"]["name"] for pod in cluster.ready_pods(NAMESPACE, SELECTOR)}


def rolled_out(cluster: Cluster) -> bool:
    """What ``kubectl rollout status`` waits for, plus no pod left terminating."""
    dep = cluster.deployment(NAMESPACE, DEPLOYMENT)
    status = dep.get("status", {})
    desired = dep["spec"]["replicas"]
    return (
        status.get("observedGeneration", 0) >= dep["metadata"]["generation"]
        and status.get("updatedReplicas", 0) == desired
        and status.get("replicas", 0) == desired
        and status.get("availableReplicas", 0) == desired
        and len(cluster.pods(NAMESPACE, SELECTOR)) == desired
    )


def container_env(obj: dict[str, Any]) -> dict[str, str]:
    """``name -> value`` (or ``secret:NAME/KEY``) of the first container of a pod or
    deployment."""
    spec = obj["spec"]["template"]["spec"] if "template" in obj["spec"] else obj["spec"]
    env = {}
    for var in spec["containers"][0].get("env", []):
        ref = var.get("valueFrom", {}).get("secretKeyRef")
        env[var["name"]] = f"secret:{ref['name']}/{ref['key']}" if ref else var.get("value", "")
    return env


@dataclass
class KubeSandbox:
    """A running cluster, its API on loopback, and a kubeconfig that reaches it."""

    cluster: Cluster
    faults: Faults
    token: str
    server: str
    kubeconfig: Path
    home: Path
    lines_written: list[int] = field(default_factory=lambda: [0])

    def kubectl_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        env.update({"KUBECONFIG": str(self.kubeconfig), "HOME": str(self.home)})
        return env


async def _write_logs(cluster: Cluster, counter: list[int]) -> None:
    """Numbered lines into every running container, as the world's traffic would write."""
    while True:
        now = datetime.now(UTC)
        for namespace, pod, container in cluster.running_containers():
            batch = []
            for _ in range(3):
                counter[0] += 1
                batch.append(LogRecord(now, f"line {counter[0]} handled request on {pod}"))
            cluster.append_logs(namespace, pod, container, batch)
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_sandbox(
    tmp_path: Path, cluster: Cluster | None = None
) -> AsyncIterator[KubeSandbox]:
    """Seed a cluster, serve its API over TLS on 127.0.0.1 (a free port), write a kubeconfig
    for it, and run the controller and a log writer until the block ends."""
    cluster = cluster or fast_cluster()
    seed(cluster)
    faults = Faults()
    token = secrets.token_urlsafe(24)
    runner = web.AppRunner(build_kube_app(cluster, faults, Tokens(token)), shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context())
    await site.start()
    host, port = runner.addresses[0][:2]
    server = f"https://{host}:{port}"
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig(server, token)))
    home = tmp_path / "home"
    home.mkdir()
    sandbox = KubeSandbox(cluster, faults, token, server, path, home)
    tasks = [
        asyncio.create_task(cluster.run()),
        asyncio.create_task(_write_logs(cluster, sandbox.lines_written)),
    ]
    try:
        await wait_for(lambda: len(ready_names(cluster)) == 3, what="the seeded pods to be ready")
        yield sandbox
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await runner.cleanup()


def kubectl_binary() -> str:
    """The kubectl on PATH; without one the test fails under CI=true and is skipped
    elsewhere."""
    found = shutil.which("kubectl")
    if found:
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("kubectl is not on PATH, and CI=true requires it")
    pytest.skip("kubectl is not on PATH")


@dataclass
class Result:
    code: int
    out: str
    err: str


async def kubectl(
    sandbox: KubeSandbox, *args: str, stdin: str | None = None, timeout: float = 60.0
) -> Result:
    """Run the real kubectl against the sandbox (the test's event loop keeps serving)."""
    process = await asyncio.create_subprocess_exec(
        kubectl_binary(),
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=sandbox.kubectl_env(),
    )
    try:
        out, err = await asyncio.wait_for(
            process.communicate(stdin.encode() if stdin is not None else None), timeout
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"kubectl {' '.join(args)} did not finish in {timeout}s") from None
    return Result(process.returncode or 0, out.decode(), err.decode())


async def kubectl_ok(sandbox: KubeSandbox, *args: str, stdin: str | None = None) -> str:
    result = await kubectl(sandbox, *args, stdin=stdin)
    assert result.code == 0, f"kubectl {' '.join(args)} failed: {result.err}"
    return result.out
