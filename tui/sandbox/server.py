"""The running sandbox: the cluster, the world and every backend on its own loopback port
(so that a ``down`` fault closes exactly one of them), plus the kubeconfig and the
incident-tui config that point at it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import ssl
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from aiohttp import web

from tui.sandbox.control import build_control_app
from tui.sandbox.faults import Fault, Faults
from tui.sandbox.kube.cluster import Cluster
from tui.sandbox.kube.tokens import Tokens
from tui.sandbox.metrics.registry import Registry, SeriesStore, run_sampler, vendor_registry
from tui.sandbox.metrics.web import build_prometheus_app
from tui.sandbox.scenarios import SCENARIOS, VENDORS
from tui.sandbox.tls import sandbox_certificate, server_context
from tui.sandbox.vendor_web import build_health_app, build_status_app
from tui.sandbox.world import NAMESPACE, World

__all__ = [
    "CONTEXT",
    "PORT_NAMES",
    "RUNBOOK_VENDORS",
    "Endpoints",
    "Sandbox",
    "render_config",
]

HOST = "127.0.0.1"
CONTEXT = "incident-sandbox"
PORT_NAMES = ("kubernetes", "status_page", "health", "prometheus", "control")
"""The backends that listen on a port of their own, as ``--port NAME=PORT`` names them."""
RUNBOOK_VENDORS = {
    "clay": "clay",
    "instantly": "instantly",
    "clerk": "clerk",
    "clay-prod-checklist": "clay",
}
"""Bundled runbook id -> the vendor whose status page it reads."""


@dataclass(frozen=True)
class Endpoints:
    """Where every backend of a running sandbox answers."""

    kubernetes: str
    kubeconfig: str
    context: str
    namespace: str
    status_pages: dict[str, str]
    health: str
    metrics: str
    prometheus: str
    control: str
    scenario: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Endpoints:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def render_config(endpoints: Endpoints) -> str:
    """The incident-tui TOML config that points every bundled runbook at the sandbox."""

    def quote(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = [
        f"# incident-tui against the sandbox (scenario {endpoints.scenario}).",
        "# Written by `incident-tui sandbox --write-config`; valid while that sandbox runs.",
        "[kubernetes]",
        f"kubeconfig = {quote(endpoints.kubeconfig)}",
        f"context = {quote(endpoints.context)}",
        "",
        "[prometheus]",
        f"url = {quote(endpoints.prometheus)}",
    ]
    for runbook, vendor in RUNBOOK_VENDORS.items():
        lines += [
            "",
            f"[runbooks.{runbook}]",
            f"status_page = {quote(endpoints.status_pages[vendor])}",
            f"health = {quote(endpoints.health)}",
        ]
    return "\n".join(lines) + "\n"


class _Backend:
    """One backend's application on its own port, which can be closed and reopened."""

    def __init__(
        self, name: str, app: web.Application, port: int, tls: ssl.SSLContext | None = None
    ) -> None:
        self.name = name
        self.app = app
        self.port = port
        self.tls = tls
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        self.site: web.TCPSite | None = None
        self.lock = asyncio.Lock()

    async def setup(self) -> None:
        await self.runner.setup()
        await self.open()

    async def open(self) -> None:
        if self.site is not None:
            return
        site = web.TCPSite(self.runner, HOST, self.port, ssl_context=self.tls, reuse_address=True)
        try:
            await site.start()
        except OSError as error:
            raise OSError(
                error.errno, f"cannot listen on {HOST}:{self.port} for {self.name}: {error}"
            ) from None
        self.site = site
        self.port = site.port

    async def close(self) -> None:
        """Refuse new connections and cut the open ones, as a dead process would."""
        if self.site is None:
            return
        await self.site.stop()
        self.site = None
        server = self.runner.server
        if server is not None:
            for connection in server.connections:
                connection.force_close()

    async def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            await self.close()
        with contextlib.suppress(Exception):
            await self.runner.cleanup()


class Sandbox:
    """The whole sandbox, in this process's event loop.

    ``async with Sandbox("clay-rate-limited") as sandbox:`` starts everything on free
    loopback ports and yields the sandbox; ``sandbox.endpoints`` says where things are.

    ``speed`` scales the scenario's clock (ramp, vendor recovery) and the cluster's pod
    delays; the ``pod_*`` and ``crash_*`` arguments set those delays outright.
    """

    def __init__(
        self,
        scenario: str = "clay-rate-limited",
        *,
        speed: float = 1.0,
        flood: float = 0.0,
        faults: Iterable[tuple[str, Fault]] = (),
        ports: dict[str, int] | None = None,
        kubeconfig: Path | str | None = None,
        calls_per_second_per_pod: float = 3.5,
        seed: int | None = None,
        pod_start_delay: float | None = None,
        pod_stop_delay: float | None = None,
        rollout_step_delay: float | None = None,
        crash_run_time: float | None = None,
        crash_backoff: float | None = None,
        health_window: float = 30.0,
        sample_interval: float = 1.0,
        retention: float = 2.5 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if scenario not in SCENARIOS:
            raise ValueError(
                f'unknown scenario "{scenario}"; choose one of: {", ".join(SCENARIOS)}'
            )
        if speed <= 0:
            raise ValueError("speed must be above 0")
        unknown = set(ports or {}) - set(PORT_NAMES)
        if unknown:
            raise ValueError(
                f"unknown port name(s) {', '.join(sorted(unknown))}; names: {', '.join(PORT_NAMES)}"
            )
        self.scenario = scenario
        self.speed = speed
        self.token = secrets.token_urlsafe(32)
        self.tokens = Tokens(self.token, clock)
        self.faults = Faults()
        self._initial_faults = list(faults)
        self._ports = dict.fromkeys(PORT_NAMES, 0) | dict(ports or {})
        self._kubeconfig_path = Path(kubeconfig) if kubeconfig else None
        self._tempdir: Path | None = None
        defaults = Cluster()

        def scaled(value: float | None, default: float) -> float:
            return value if value is not None else default / speed

        self.cluster = Cluster(
            clock=clock,
            pod_start_delay=scaled(pod_start_delay, defaults.pod_start_delay),
            pod_stop_delay=scaled(pod_stop_delay, defaults.pod_stop_delay),
            rollout_step_delay=scaled(rollout_step_delay, defaults.rollout_step_delay),
            crash_run_time=scaled(crash_run_time, defaults.crash_run_time),
            crash_backoff=scaled(crash_backoff, defaults.crash_backoff),
        )
        self.registry: Registry = vendor_registry((v.id, v.name) for v in VENDORS.values())
        self.world = World(
            self.cluster,
            scenario,
            self.registry,
            speed=speed,
            flood=flood,
            calls_per_second_per_pod=calls_per_second_per_pod,
            seed=seed,
            health_window=health_window,
        )
        self.store = SeriesStore(retention=retention)
        self._sample_interval = sample_interval
        self._backends: dict[str, _Backend] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: set[asyncio.Task[None]] = set()
        self.endpoints: Endpoints | None = None

    # -- life cycle

    async def start(self) -> Endpoints:
        """Seed the world, open every port, write the kubeconfig; return the endpoints."""
        from tui.sandbox.kube.api import build_kube_app

        self.world.seed()
        apps = {
            "kubernetes": build_kube_app(self.cluster, self.faults, self.tokens),
            "status_page": build_status_app(self.world, self.faults),
            "health": build_health_app(self.world, self.faults),
            "prometheus": build_prometheus_app(
                self.registry, self.store, self.faults, self.cluster.clock
            ),
            "control": build_control_app(self),
        }
        # Making the certificate takes a moment the first time: keep the loop free meanwhile.
        tls = server_context(await asyncio.to_thread(sandbox_certificate))
        try:
            for name in PORT_NAMES:
                backend = _Backend(
                    name, apps[name], self._ports[name], tls if name == "kubernetes" else None
                )
                self._backends[name] = backend
                await backend.setup()
        except BaseException:
            await self.stop()
            raise
        self.store.target_labels = {
            "job": "incident-sandbox",
            "instance": f"{HOST}:{self._backends['prometheus'].port}",
        }
        self.endpoints = self._endpoints(self._write_kubeconfig())
        self.faults.on_change(self._fault_changed)
        for faulty, fault in self._initial_faults:
            await self.set_fault(faulty, fault)
        self._tasks = [
            asyncio.create_task(self.cluster.run(), name="sandbox-cluster"),
            asyncio.create_task(self.world.run(), name="sandbox-world"),
            asyncio.create_task(
                run_sampler(self.registry, self.store, self._sample_interval, self.cluster.clock),
                name="sandbox-sampler",
            ),
        ]
        return self.endpoints

    async def stop(self) -> None:
        """Stop every task and close every port; remove the kubeconfig if it was temporary."""
        tasks = [*self._tasks, *self._pending]
        for task in tasks:
            task.cancel()
        # bounded: a task caught in a cancel (or a client that keeps a connection open)
        # must not keep the sandbox, and whatever waits for it to stop, from ever ending
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        for task in tasks:
            if task.done() and not task.cancelled():
                with contextlib.suppress(Exception):
                    task.exception()
        self._tasks = []
        self._pending.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(
                    *(backend.cleanup() for backend in self._backends.values()),
                    return_exceptions=True,
                ),
                20,
            )
        self._backends.clear()
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- faults

    async def set_fault(self, backend: str, fault: Fault) -> None:
        """Put a fault in force and wait until it shows (a ``down`` port is closed)."""
        self.faults.set(backend, fault)
        await self._sync_port(backend)

    async def clear_faults(self, backend: str | None = None) -> None:
        """Clear one backend's fault (or all) and wait until closed ports are open again."""
        self.faults.clear(backend)
        for name in [backend] if backend else list(self._backends):
            await self._sync_port(name)

    def _fault_changed(self, backend: str, fault: Fault | None) -> None:
        # Faults may also be changed directly on ``self.faults``; follow them.
        if not self._backends:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._sync_port(backend))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _sync_port(self, backend: str) -> None:
        target = self._backends.get(backend)
        if target is None:
            return
        async with target.lock:
            fault = self.faults.get(backend)
            if fault is not None and fault.kind == "down":
                await target.close()
            else:
                await target.open()

    # -- for the control endpoint

    def writes(self) -> dict[tuple[str, str], int]:
        return dict(self.cluster.writes)

    def endpoints_json(self) -> dict[str, Any]:
        return self.endpoints.to_json() if self.endpoints else {}

    def port(self, name: str) -> int:
        return self._backends[name].port

    # -- files

    def _url(self, name: str) -> str:
        # kubectl sends a bearer token only over TLS, hence https for Kubernetes alone.
        scheme = "https" if name == "kubernetes" else "http"
        return f"{scheme}://{HOST}:{self._backends[name].port}"

    def _endpoints(self, kubeconfig: Path) -> Endpoints:
        status = self._url("status_page")
        prometheus = self._url("prometheus")
        return Endpoints(
            kubernetes=self._url("kubernetes"),
            kubeconfig=str(kubeconfig),
            context=CONTEXT,
            namespace=NAMESPACE,
            status_pages={vendor: f"{status}/{vendor}" for vendor in VENDORS},
            health=f"{self._url('health')}/health",
            metrics=f"{prometheus}/metrics",
            prometheus=prometheus,
            control=self._url("control"),
            scenario=self.scenario,
        )

    def kubeconfig_text(self, user: dict[str, Any] | None = None) -> str:
        """The sandbox's kubeconfig; ``user`` replaces its static-token user (as
        :meth:`exec_user` does)."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": CONTEXT,
                    "cluster": {
                        "server": self._url("kubernetes"),
                        "certificate-authority-data": sandbox_certificate().cert_base64,
                    },
                }
            ],
            "users": [{"name": "sandbox-responder", "user": user or {"token": self.token}}],
            "contexts": [
                {
                    "name": CONTEXT,
                    "context": {
                        "cluster": CONTEXT,
                        "user": "sandbox-responder",
                        "namespace": NAMESPACE,
                    },
                }
            ],
            "current-context": CONTEXT,
            "preferences": {},
        }
        return yaml.safe_dump(config, sort_keys=False)

    def exec_user(self, ttl: float, *, claim: float | None = None) -> dict[str, Any]:
        """A kubeconfig user that logs in through an exec credential plugin, as EKS, GKE
        and AKS do: each run gets a token the API server accepts for ``ttl`` seconds; the
        plugin says it lasts ``claim`` seconds (``ttl`` unless told)."""
        args = ["-m", "tui.sandbox.credential", self._url("control"), f"{ttl:g}"]
        if claim is not None:
            args.append(f"{claim:g}")
        return {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": sys.executable,
                "args": args,
                "interactiveMode": "Never",
                "provideClusterInfo": False,
            }
        }

    def _write_kubeconfig(self) -> Path:
        path = self._kubeconfig_path
        if path is None:
            self._tempdir = Path(tempfile.mkdtemp(prefix="incident-sandbox-"))
            path = self._tempdir / "kubeconfig"
        path.parent.mkdir(parents=True, exist_ok=True)
        # The file holds the bearer token: readable by its owner only, from the start.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(self.kubeconfig_text())
        os.chmod(path, 0o600)
        return path.resolve()

    def write_config(self, path: Path | str) -> Path:
        """Write the incident-tui config pointing every bundled runbook at this sandbox."""
        if self.endpoints is None:
            raise RuntimeError("the sandbox is not started")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_config(self.endpoints), encoding="utf-8")
        return path
