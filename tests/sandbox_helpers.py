"""Start a whole sandbox for a test (in this event loop, in a thread, or as the real
`incident-tui sandbox` process), real Prometheus next to it, and the binaries they need.

    async with running_sandbox("clay-rate-limited", speed=20) as sb:
        await sb.set_fault("status_page", "down")
        await sb.kubectl("set", "env", "deployment/clay-integration", "RATE_LIMIT_MODE=queue")
        state = await sb.wait_for(lambda s: s["vendors"]["clay"]["outcome"] == "queued")

    with sandbox_thread("clerk-performance") as sb:     # for plain (non-async) tests
        sb.control("GET", "/state")

Every handle has ``endpoints`` (:class:`tui.sandbox.server.Endpoints`), ``control(...)``
for the control API and ``kubectl(...)`` running the real kubectl with the sandbox's
kubeconfig. In-process handles also give ``sandbox`` (cluster, world, faults).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tui.sandbox.processes import free_port, start_sandbox, stop
from tui.sandbox.server import Endpoints, Sandbox

__all__ = [
    "FAST_PODS",
    "SandboxHandle",
    "SyncSandboxHandle",
    "free_port",
    "need_binary",
    "prometheus_process",
    "running_prometheus",
    "running_sandbox",
    "sandbox_process",
    "sandbox_thread",
    "wait_until",
]

FAST_PODS: dict[str, float] = {
    "pod_start_delay": 0.2,
    "pod_stop_delay": 0.1,
    "rollout_step_delay": 0.05,
    "crash_run_time": 0.3,
    "crash_backoff": 0.6,
}
"""Cluster delays short enough for a rollout of 4 pods to finish in about a second."""

CI = os.environ.get("CI") == "true"


def need_binary(name: str) -> str:
    """The path of a binary the test needs: skipped if missing, but failed under CI=true."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else "")
    if path:
        return path
    if CI:
        pytest.fail(f"{name} is required (CI=true) but is not installed")
    pytest.skip(f"{name} is not installed")


def incident_tui_command() -> list[str]:
    """How to run the `incident-tui` console script of this environment."""
    script = Path(sys.executable).parent / "incident-tui"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from tui.cli import main; main()"]


async def wait_until(
    condition: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> Any:
    """Poll ``condition`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = condition()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        await asyncio.sleep(interval)


# --------------------------------------------------------------------------- async handle


@dataclass
class SandboxHandle:
    """A running sandbox seen from a test running in an event loop."""

    endpoints: Endpoints
    sandbox: Sandbox | None = None
    """The in-process sandbox (cluster, world, faults); None when it is a subprocess."""
    process: asyncio.subprocess.Process | None = None
    kubectl_timeout: float = 60.0

    @property
    def kubeconfig(self) -> str:
        return self.endpoints.kubeconfig

    def status_page(self, vendor: str) -> str:
        return self.endpoints.status_pages[vendor]

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the control API; returns its JSON (raises for an error status)."""
        async with httpx.AsyncClient(base_url=self.endpoints.control, timeout=10) as client:
            response = await client.request(method, path, json=body)
            response.raise_for_status()
            return response.json()

    async def state(self) -> dict[str, Any]:
        return dict(await self.control("GET", "/state"))

    async def set_fault(self, backend: str, kind: str, **options: Any) -> dict[str, Any]:
        return dict(
            await self.control("POST", "/faults", {"backend": backend, "kind": kind, **options})
        )

    async def clear_faults(self, backend: str | None = None) -> dict[str, Any]:
        return dict(await self.control("DELETE", f"/faults/{backend}" if backend else "/faults"))

    async def set_flood(self, lines_per_second_per_pod: float) -> dict[str, Any]:
        body = {"lines_per_second_per_pod": lines_per_second_per_pod}
        return dict(await self.control("POST", "/flood", body))

    async def wait_for(
        self, condition: Callable[[dict[str, Any]], bool], timeout: float = 30.0, what: str = ""
    ) -> dict[str, Any]:
        """Poll /state until ``condition(state)`` holds; returns that state."""

        async def check() -> dict[str, Any] | None:
            state = await self.state()
            return state if condition(state) else None

        result: dict[str, Any] = await wait_until(check, timeout, 0.1, what)
        return result

    async def wait_for_restart(self, selector: str, timeout: float = 60.0) -> None:
        """Until a pod of ``selector`` has restarted, as kubectl reads the restart counts."""

        async def restarted() -> bool:
            got = await self.kubectl(
                "get",
                "pods",
                "-l",
                selector,
                "-o",
                "jsonpath={.items[*].status.containerStatuses[0].restartCount}",
            )
            return any(int(n) > 0 for n in got.stdout.split())

        await wait_until(restarted, timeout, 0.5, f"a pod of {selector} to restart")

    async def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl against the sandbox without blocking the event loop."""
        binary = need_binary("kubectl")
        process = await asyncio.create_subprocess_exec(
            binary,
            "--kubeconfig",
            self.kubeconfig,
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), self.kubectl_timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError(f"kubectl {' '.join(args)} did not finish") from None
        result = subprocess.CompletedProcess(
            [binary, *args], process.returncode or 0, out.decode(), err.decode()
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result


@contextlib.asynccontextmanager
async def running_sandbox(
    scenario: str = "clay-healthy",
    *,
    speed: float = 1.0,
    subprocess_mode: bool = False,
    fast_pods: bool = True,
    **options: Any,
) -> AsyncIterator[SandboxHandle]:
    """A sandbox for the duration of the block.

    In-process by default (``options`` go to :class:`~tui.sandbox.server.Sandbox`, e.g.
    ``flood=``, ``faults=``, ``calls_per_second_per_pod=``; ``fast_pods`` shortens pod
    delays); with ``subprocess_mode=True`` it is the real CLI (only ``speed``, ``flood``
    and ``fault=[...]`` specs apply)."""
    if subprocess_mode:
        args = ["--scenario", scenario, "--speed", str(speed)]
        if options.get("flood"):
            args += ["--flood", str(options["flood"])]
        for spec in options.get("fault", []):
            args += ["--fault", spec]
        async with _cli_sandbox(args) as handle:
            yield handle
        return
    if fast_pods:
        options = {**FAST_PODS, **options}
    sandbox = Sandbox(scenario, speed=speed, **options)
    endpoints = await sandbox.start()
    try:
        yield SandboxHandle(endpoints, sandbox=sandbox)
    finally:
        await sandbox.stop()


@contextlib.asynccontextmanager
async def _cli_sandbox(args: list[str]) -> AsyncIterator[SandboxHandle]:
    # stderr goes to a file: a pipe nobody reads would stall a chatty process.
    with tempfile.TemporaryFile(mode="w+") as errors:
        process = await asyncio.create_subprocess_exec(
            *incident_tui_command(),
            "sandbox",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
        )
        try:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), 60)
            if not line:
                await process.wait()
                errors.seek(0)
                raise AssertionError(f"the sandbox did not start: {errors.read()}")
            yield SandboxHandle(Endpoints.from_json(json.loads(line)), process=process)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 15)
                except TimeoutError:
                    process.kill()
                    await process.wait()


# --------------------------------------------------------------------------- sync handle


@dataclass
class SyncSandboxHandle:
    """A running sandbox seen from a plain (non-async) test."""

    endpoints: Endpoints
    sandbox: Sandbox | None = None
    loop: asyncio.AbstractEventLoop | None = None
    process: subprocess.Popen[Any] | None = None

    @property
    def kubeconfig(self) -> str:
        return self.endpoints.kubeconfig

    def control(self, method: str, path: str, body: Any = None) -> Any:
        with httpx.Client(base_url=self.endpoints.control, timeout=10) as client:
            response = client.request(method, path, json=body)
            response.raise_for_status()
            return response.json()

    def state(self) -> dict[str, Any]:
        return dict(self.control("GET", "/state"))

    def set_fault(self, backend: str, kind: str, **options: Any) -> dict[str, Any]:
        return dict(self.control("POST", "/faults", {"backend": backend, "kind": kind, **options}))

    def clear_faults(self, backend: str | None = None) -> dict[str, Any]:
        return dict(self.control("DELETE", f"/faults/{backend}" if backend else "/faults"))

    def wait_for(
        self, condition: Callable[[dict[str, Any]], bool], timeout: float = 30.0, what: str = ""
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            state = self.state()
            if condition(state):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
            time.sleep(0.1)

    def kubectl(
        self, *args: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        binary = need_binary("kubectl")
        result = subprocess.run(
            [binary, "--kubeconfig", self.kubeconfig, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result


@contextlib.contextmanager
def sandbox_thread(
    scenario: str = "clay-healthy", *, speed: float = 1.0, fast_pods: bool = True, **options: Any
) -> Iterator[SyncSandboxHandle]:
    """An in-process sandbox on its own event loop in a background thread."""
    if fast_pods:
        options = {**FAST_PODS, **options}
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sandbox", daemon=True)
    thread.start()
    sandbox: Sandbox | None = None

    async def build() -> tuple[Sandbox, Endpoints]:
        box = Sandbox(scenario, speed=speed, **options)
        return box, await box.start()

    try:
        sandbox, endpoints = asyncio.run_coroutine_threadsafe(build(), loop).result(60)
        yield SyncSandboxHandle(endpoints, sandbox=sandbox, loop=loop)
    finally:
        if sandbox is not None:
            asyncio.run_coroutine_threadsafe(sandbox.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextlib.contextmanager
def sandbox_process(
    scenario: str = "clay-healthy", *args: str, speed: float = 1.0
) -> Iterator[SyncSandboxHandle]:
    """The real `incident-tui sandbox` process (the demo's launcher); stopped at the end."""
    with tempfile.TemporaryDirectory(prefix="incident-sandbox-") as folder:
        process, endpoints, _config = start_sandbox(
            Path(folder), scenario, ["--speed", str(speed), *args]
        )
        try:
            yield SyncSandboxHandle(Endpoints.from_json(endpoints), process=process)
        finally:
            stop(process, 15)


# --------------------------------------------------------------------------- prometheus


def _prometheus_args(
    targets: list[str], folder: Path, port: int, scrape_interval: str
) -> list[str]:
    config = folder / "prometheus.yml"
    config.write_text(
        "global:\n"
        f"  scrape_interval: {scrape_interval}\n"
        f"  evaluation_interval: {scrape_interval}\n"
        "scrape_configs:\n"
        "  - job_name: incident-sandbox\n"
        f"    scrape_interval: {scrape_interval}\n"
        f"    scrape_timeout: {scrape_interval}\n"
        "    static_configs:\n"
        f"      - targets: {json.dumps(targets)}\n"
    )
    return [
        need_binary("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]


def _target(metrics_url: str) -> str:
    return httpx.URL(metrics_url).netloc.decode()


@contextlib.asynccontextmanager
async def running_prometheus(
    metrics_urls: list[str], folder: Path, scrape_interval: str = "1s"
) -> AsyncIterator[str]:
    """A real Prometheus on 127.0.0.1 scraping the given /metrics URLs; yields its URL."""
    port = free_port()
    args = _prometheus_args([_target(u) for u in metrics_urls], folder, port, scrape_interval)
    log = (folder / "prometheus.log").open("w")
    process = await asyncio.create_subprocess_exec(*args, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:

        async def ready() -> bool:
            if process.returncode is not None:
                raise AssertionError(
                    f"prometheus exited: {(folder / 'prometheus.log').read_text()}"
                )
            try:
                async with httpx.AsyncClient(timeout=2) as client:
                    return (await client.get(f"{url}/-/ready")).status_code == 200
            except httpx.HTTPError:
                return False

        await wait_until(ready, 60, 0.2, "prometheus to be ready")
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


@contextlib.contextmanager
def prometheus_process(
    metrics_urls: list[str], folder: Path, scrape_interval: str = "1s"
) -> Iterator[str]:
    """The same as :func:`running_prometheus` for plain tests."""
    port = free_port()
    args = _prometheus_args([_target(u) for u in metrics_urls], folder, port, scrape_interval)
    with (folder / "prometheus.log").open("w") as log:
        process = subprocess.Popen(args, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise AssertionError(
                        f"prometheus exited: {(folder / 'prometheus.log').read_text()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise AssertionError("prometheus did not become ready")
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
