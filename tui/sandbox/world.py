"""The simulated world: seeds the cluster with our three integrations, then simulates their
calls to each vendor (metrics, pod logs, our health) and each vendor's status page, as the
scenario and the pods' own env and secrets decide. The status pages and our /health are
drawn from its state by :mod:`tui.sandbox.vendors`; the log lines' formats are in
:mod:`tui.sandbox.applog`."""

from __future__ import annotations

import asyncio
import base64
import random
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tui.sandbox.applog import PodState, access_log, request_line, text_line
from tui.sandbox.kube.cluster import Cluster
from tui.sandbox.kube.kubelet import LogRecord
from tui.sandbox.kube.settings import PodBehaviour
from tui.sandbox.kube.store import ApiError
from tui.sandbox.metrics.registry import Counter, Histogram, Registry, vendor_registry
from tui.sandbox.scenarios import (
    CONTAINER,
    MONITORING_AT,
    RAMP_SECONDS,
    SCENARIOS,
    VENDORS,
    Scenario,
    VendorProfile,
    deployment_manifest,
    iso_time,
    pod_template,
)
from tui.sandbox.vendors.health import Tick, health_body
from tui.sandbox.vendors.status_page import VendorPage, page_ids, status_page

__all__ = ["NAMESPACE", "World", "mask_secret"]

NAMESPACE = "production"
HEALTH_WINDOW = 30.0
"""Seconds of simulated traffic our /health looks back over."""
SLOW_CALL = 2.5
"""A call slower than this many seconds is logged as slow."""
FAILING: tuple[str, ...] = ("crash_loop", "no_ready_pods", "auth_failed", "vendor_down")
FAILING += ("rate_limited", "webhook_failing", "saturated")
MITIGATED = ("fallback", "bypass")

# Shares of calls at full strength; with ~3.5 calls/s per pod these give the runbooks'
# numbers: ~35 429s/min for 4 clay pods, p99 ~7 s for 2 saturated clerk pods.
RATE_LIMIT_SHARE = 0.045
OUTAGE_SHARE = 0.85
SLOW_SHARE = 0.0167


def mask_secret(value: str) -> str:
    """Enough of a secret to tell two apart, never the whole of it."""
    if len(value) < 12:
        return "****"
    return f"{value[:4]}…{value[-4:]}"


def _image_tag(image: str) -> str:
    last = image.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


def _ready(pod: dict[str, Any]) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


@dataclass(frozen=True)
class _Plan:
    """What one pod's calls to its vendor get right now."""

    mode: str = "ok"
    calls: bool = True
    error_code: int | None = None
    error_share: float = 0.0
    error_message: str = ""
    latency: tuple[float, float] = (0.05, 0.25)
    slow_share: float = 0.0
    note: str | None = None


class World:
    """The simulated world for one scenario.

    ``seed()`` populates the cluster; ``run()`` (or ``step(now)`` from tests) advances the
    simulated traffic; ``vendor_page``, ``health`` and ``state`` read it."""

    def __init__(
        self,
        cluster: Cluster,
        scenario: str | Scenario,
        registry: Registry | None = None,
        *,
        speed: float = 1.0,
        calls_per_second_per_pod: float = 3.5,
        webhooks_per_second_per_pod: float = 0.5,
        flood: float = 0.0,
        seed: int | None = None,
        tick: float = 0.1,
        health_window: float = HEALTH_WINDOW,
    ) -> None:
        if isinstance(scenario, str):
            if scenario not in SCENARIOS:
                raise ValueError(
                    f'unknown scenario "{scenario}"; choose one of: {", ".join(SCENARIOS)}'
                )
            scenario = SCENARIOS[scenario]
        if speed <= 0:
            raise ValueError("speed must be above 0")
        self.cluster = cluster
        self.scenario = scenario
        self.registry = registry or vendor_registry((v.id, v.name) for v in VENDORS.values())
        self.speed = speed
        self.calls_per_second_per_pod = calls_per_second_per_pod
        self.webhooks_per_second_per_pod = webhooks_per_second_per_pod
        self.flood = flood
        self.application_logs = True
        """False mutes the simulated requests' log lines (the flood is separate)."""
        self.tick = tick
        self.health_window = health_window
        self._rng = random.Random(seed)
        self.started_at = cluster.clock()
        self._last_step: float | None = None
        self._pods: dict[str, PodState] = {}
        self._seq: dict[str, int] = {}
        self._windows: dict[str, deque[Tick]] = {v: deque() for v in VENDORS}
        self._summary: dict[str, dict[str, Any]] = {}
        self._outcome: dict[str, str] = dict.fromkeys(VENDORS, "ok")
        self._requests: dict[str, Counter] = {}
        self._errors: dict[str, Counter] = {}
        self._durations: dict[str, Histogram] = {}
        for vendor in VENDORS:
            self._requests[vendor] = self.registry.counter(f"{vendor}_requests_total")
            self._errors[vendor] = self.registry.counter(f"{vendor}_errors_total")
            self._durations[vendor] = self.registry.histogram(f"{vendor}_request_duration_seconds")
        self._webhooks = self.registry.counter("clerk_webhook_deliveries_total")
        self._ids: dict[str, dict[str, Any]] = {
            vendor: page_ids(self._rng, VENDORS[vendor]) for vendor in VENDORS
        }
        self._flood_middles = [
            f"GET /internal/cache/{key} 200 {ms}ms"
            for key, ms in zip(
                ("people", "companies", "campaigns", "sessions", "tables", "leads", "users"),
                (3, 5, 2, 4, 7, 3, 6),
                strict=True,
            )
        ]

    # -- time

    def scenario_time(self, now: float | None = None) -> float:
        """Seconds of scenario time since the start (wall seconds times ``speed``)."""
        return ((self.cluster.clock() if now is None else now) - self.started_at) * self.speed

    def _wall(self, scenario_seconds: float) -> float:
        return self.started_at + scenario_seconds / self.speed

    def ramp(self, now: float | None = None) -> float:
        return max(0.0, min(1.0, self.scenario_time(now) / RAMP_SECONDS))

    def _kind(self, vendor: str) -> str:
        return self.scenario.kind if self.scenario.vendor == vendor else "healthy"

    def vendor_down(self, vendor: str, now: float | None = None) -> bool:
        return self._kind(vendor) in ("vendor-outage", "auth-outage") and (
            self.scenario_time(now) < MONITORING_AT
        )

    # -- seeding

    def seed(self) -> None:
        """Create the namespace, Secrets and Deployments (with a bad rollout on top where
        the scenario needs one) and hook the world into the cluster."""
        cluster = self.cluster
        # The scenario's clock starts with the world, not when it was configured.
        self.started_at = cluster.clock()
        cluster.pod_behaviour = self.pod_behaviour
        cluster.crash_log = self._crash_log
        cluster.on_pod_started.append(self._pod_started)
        cluster.on_pod_stopped.append(self._pod_stopped)
        cluster.create_namespace(NAMESPACE)
        for vendor in VENDORS.values():
            cluster.create_secret(
                NAMESPACE,
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": vendor.secret, "labels": {"app": vendor.deployment}},
                    "type": "Opaque",
                    "stringData": dict(vendor.secret_values),
                },
            )
        for vendor in VENDORS.values():
            kind = self._kind(vendor.id)
            manifest = deployment_manifest(vendor, recreate=kind == "infra")
            cluster.create_deployment(NAMESPACE, manifest, age=6 * 3600)
            if kind in ("infra", "webhook-failure"):
                template = pod_template(vendor, vendor.bad_tag)
                cluster.update_deployment_template(
                    NAMESPACE,
                    vendor.deployment,
                    template,
                    cause=f"kubectl set image deployment/{vendor.deployment} "
                    f"app={vendor.image}:{vendor.bad_tag}",
                )

    # -- the cluster's hooks

    def pod_behaviour(self, pod: dict[str, Any]) -> PodBehaviour:
        """Pods of the crashing release never become Ready, whatever the scenario."""
        vendor = self._vendor_of(pod)
        if vendor is None or vendor.id == "clerk":
            return "ok"
        return "crash" if self._tag_of(pod) == vendor.bad_tag else "ok"

    def _vendor_of(self, pod: dict[str, Any]) -> VendorProfile | None:
        app = pod["metadata"].get("labels", {}).get("app")
        return next((v for v in VENDORS.values() if v.deployment == app), None)

    @staticmethod
    def _container(pod: dict[str, Any]) -> dict[str, Any]:
        containers = pod["spec"].get("containers", [])
        return next((c for c in containers if c.get("name") == CONTAINER), containers[0])

    def _tag_of(self, pod: dict[str, Any]) -> str:
        return _image_tag(self._container(pod).get("image", ""))

    def _resolve_env(self, pod: dict[str, Any]) -> dict[str, str]:
        """The container's environment as the kubelet resolves it when the pod starts."""
        container = self._container(pod)
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            ref = source.get("secretRef")
            if not ref:
                continue
            try:
                data = self.cluster.secret(NAMESPACE, ref.get("name", "")).get("data", {})
            except ApiError:
                continue
            prefix = source.get("prefix", "")
            for key, encoded in data.items():
                env[prefix + key] = base64.b64decode(encoded).decode("utf-8", "replace")
        for entry in container.get("env", []):
            name = entry.get("name", "")
            if "value" in entry:
                env[name] = str(entry["value"])
                continue
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                value = self.cluster.secret_value(
                    NAMESPACE, ref.get("name", ""), ref.get("key", "")
                )
                if value is not None:
                    env[name] = value
        return env

    def _pod_started(self, pod: dict[str, Any]) -> None:
        vendor = self._vendor_of(pod)
        if vendor is None:
            return
        name = pod["metadata"]["name"]
        state = self._adopt(pod, vendor)
        if self.pod_behaviour(pod) == "crash":
            return
        started = pod.get("status", {}).get("containerStatuses", [{}])[0]
        started_at = started.get("state", {}).get("running", {}).get("startedAt")
        at = (
            datetime.fromisoformat(started_at.replace("Z", "+00:00")).timestamp()
            if started_at
            else self.cluster.clock()
        )
        key = state.env.get(vendor.api_key_env, "")
        settings = " ".join(
            f"{k}={state.env.get(k, '')}" for k in vendor.plain_env if k != "LOG_LEVEL"
        )
        lines = [
            ("INFO", f"starting {vendor.deployment} {state.tag} (pid 1)"),
            ("INFO", f"config: {settings}"),
            (
                "INFO",
                f"{vendor.api_key_env} loaded ({mask_secret(key)})"
                if key
                else f"{vendor.api_key_env} is not set",
            ),
            ("INFO", "listening on :8080"),
        ]
        moment = datetime.fromtimestamp(at, UTC)
        stamp = iso_time(at)
        records = [LogRecord(moment, text_line(state, stamp, level, text)) for level, text in lines]
        self.cluster.append_logs(NAMESPACE, name, CONTAINER, records)

    def _pod_stopped(self, pod: dict[str, Any]) -> None:
        self._pods.pop(pod["metadata"]["name"], None)
        self._seq.pop(pod["metadata"]["name"], None)

    def _adopt(self, pod: dict[str, Any], vendor: VendorProfile) -> PodState:
        name = pod["metadata"]["name"]
        state = self._pods.get(name)
        if state is None:
            state = PodState(
                name=name,
                vendor=vendor.id,
                tag=self._tag_of(pod),
                env=self._resolve_env(pod),
                seq=self._seq.get(name, 1),
                calls=self._rng.random(),
                errors=self._rng.random() * 0.5,
                slow=self._rng.random() * 0.5,
                fast=self._rng.random(),
                webhooks=self._rng.random(),
                prefix=f"{self._rng.getrandbits(24):06x}",
            )
            self._pods[name] = state
        return state

    def _crash_log(self, pod: dict[str, Any]) -> list[str]:
        vendor = self._vendor_of(pod)
        name = pod["metadata"]["name"]
        deployment = vendor.deployment if vendor else "app"
        module = deployment.replace("-", "_")
        tag = self._tag_of(pod)
        stamp = iso_time(self.cluster.clock())
        seq = self._seq.get(name, 1)
        self._seq[name] = seq + 4
        return [
            f"{stamp} INFO  starting {deployment} {tag} (pid 1) seq={seq}",
            f"{stamp} INFO  loading configuration from environment seq={seq + 1}",
            f"{stamp} ERROR unhandled exception during start-up seq={seq + 2}",
            "Traceback (most recent call last):",
            f'  File "/app/{module}/__main__.py", line 18, in <module>',
            "    app = create_app(Settings.from_env())",
            f'  File "/app/{module}/app.py", line 57, in create_app',
            "    pool = UpstreamPool(size=settings.pool_size)",
            f'  File "/app/{module}/settings.py", line 91, in pool_size',
            '    return int(os.environ["UPSTREAM_POOL_SIZE"])',
            "KeyError: 'UPSTREAM_POOL_SIZE'",
            f"{stamp} FATAL {deployment} {tag} cannot start: UPSTREAM_POOL_SIZE is required "
            f"since {tag}; exiting with status 1 seq={seq + 3}",
        ]

    # -- the simulation

    async def run(self) -> None:
        """Advance the world every ``tick`` seconds until cancelled."""
        while True:
            self.step(self.cluster.clock())
            await asyncio.sleep(self.tick)

    def plan(self, vendor: VendorProfile, pod: PodState, now: float, ready: int) -> _Plan:
        """The scenario's rules for one pod's calls."""
        kind = self._kind(vendor.id)
        ramp = self.ramp(now)
        env = pod.env
        key = env.get(vendor.api_key_env, "")
        if self.vendor_down(vendor.id, now):
            if env.get(vendor.mode_env or "", "").strip().lower() == "true":
                if vendor.id == "clerk":
                    return _Plan(
                        mode="bypass",
                        calls=False,
                        note="emergency bypass active: sessions verified locally while Clerk "
                        "is unavailable",
                    )
                return _Plan(
                    mode="fallback",
                    calls=False,
                    note=f"fallback active: {vendor.name} API unavailable, calls queued for replay",
                )
            return _Plan(
                mode="vendor_down",
                error_code=503,
                error_share=ramp * OUTAGE_SHARE,
                error_message=f"503 Service Unavailable from {vendor.api_host}",
                latency=(0.4, 2.2),
            )
        revoked = kind == "auth" and key == vendor.secret_values.get(
            vendor.secret_env[vendor.api_key_env]
        )
        if not key or revoked:
            return _Plan(
                mode="auth_failed",
                error_code=401,
                error_share=1.0 if not key else ramp,
                error_message=f"{vendor.id} API responded 401 Unauthorized: invalid API key "
                f"({mask_secret(key) if key else 'no key set'})",
                latency=(0.03, 0.12),
            )
        if kind == "rate-limited":
            if env.get("RATE_LIMIT_MODE", "").strip().lower() == "queue":
                return _Plan(mode="queued", latency=(0.08, 0.45))
            return _Plan(
                mode="rate_limited",
                error_code=429,
                error_share=ramp * RATE_LIMIT_SHARE,
                error_message=f"{vendor.id} API responded 429 Too Many Requests "
                "(retry-after {retry}s)",
            )
        if kind == "performance" and ready < 4:
            return _Plan(mode="saturated", latency=(0.6, 2.4), slow_share=ramp * SLOW_SHARE)
        if vendor.id == "clerk" and pod.tag == vendor.bad_tag:
            # The release's webhook handler is broken; its calls to Clerk are fine.
            return _Plan(mode="webhook_failing")
        return _Plan()

    def step(self, now: float) -> None:
        """Simulate the traffic since the previous step."""
        previous = self._last_step
        self._last_step = now
        dt = 0.0 if previous is None else max(0.0, min(now - previous, 5.0))
        for vendor in VENDORS.values():
            pods = self.cluster.pods(NAMESPACE, vendor.selector)
            ready = [p for p in pods if _ready(p)]
            crashing = [
                p
                for p in pods
                if not _ready(p)
                and not p["metadata"].get("deletionTimestamp")
                and self.pod_behaviour(p) == "crash"
            ]
            tick = Tick(now)
            modes: list[str] = []
            for pod in ready:
                state = self._adopt(pod, vendor)
                plan = self.plan(vendor, state, now, len(ready))
                modes.append(plan.mode)
                if plan.note:
                    tick.mitigation = plan.note
                records = self._simulate(vendor, state, plan, now, dt, tick)
                if vendor.id == "clerk":
                    records += self._webhooks_for(state, now, dt, tick)
                if not self.application_logs:
                    # the traffic (and so every metric) goes on; only its log lines go
                    records = []
                if self.flood > 0:
                    records += self._flood_for(state, now, dt)
                if records:
                    self.cluster.append_logs(NAMESPACE, state.name, CONTAINER, records)
                    if vendor.sidecar is not None:
                        self.cluster.append_logs(
                            NAMESPACE, state.name, vendor.sidecar, access_log(vendor, records)
                        )
            window = self._windows[vendor.id]
            window.append(tick)
            while window and window[0].at < now - self.health_window:
                window.popleft()
            desired = self._desired(vendor)
            self._summary[vendor.id] = {
                "desired": desired,
                "ready": len(ready),
                "crashing": [p["metadata"]["name"] for p in crashing],
            }
            self._outcome[vendor.id] = self._vendor_outcome(modes, crashing)

    def _desired(self, vendor: VendorProfile) -> int:
        try:
            return int(self.cluster.deployment(NAMESPACE, vendor.deployment)["spec"]["replicas"])
        except ApiError:
            return 0

    @staticmethod
    def _vendor_outcome(modes: list[str], crashing: list[dict[str, Any]]) -> str:
        if not modes:
            return "crash_loop" if crashing else "no_ready_pods"
        for mode in FAILING:
            if mode in modes:
                return mode
        for mode in MITIGATED:
            if mode in modes:
                return mode
        return "queued" if "queued" in modes else "ok"

    def _latency(self, plan: _Plan, pod: PodState, code: int) -> float:
        rng = self._rng
        if code in (401, 429):
            return rng.uniform(0.03, 0.12)
        if plan.slow_share:
            pod.slow += plan.slow_share
            if pod.slow >= 1:
                pod.slow -= 1
                return rng.uniform(5.2, 9.8)
        low, high = plan.latency
        if plan.mode in ("ok", "webhook_failing"):
            # Most calls are quick; one in twenty takes a few hundred milliseconds.
            pod.fast += 0.05
            if pod.fast >= 1:
                pod.fast -= 1
                return rng.uniform(0.26, 0.49)
        return rng.uniform(low, high)

    def _simulate(
        self, vendor: VendorProfile, pod: PodState, plan: _Plan, now: float, dt: float, tick: Tick
    ) -> list[LogRecord]:
        if not plan.calls:
            return self._mitigated_lines(vendor, pod, plan, now, dt)
        pod.calls += self.calls_per_second_per_pod * dt
        count = int(pod.calls)
        pod.calls -= count
        if count == 0:
            return []
        records: list[LogRecord] = []
        requests = self._requests[vendor.id]
        errors = self._errors[vendor.id]
        durations = self._durations[vendor.id]
        rng = self._rng
        for index in range(count):
            code = 200
            if plan.error_code is not None and plan.error_share > 0:
                pod.errors += plan.error_share
                if pod.errors >= 1:
                    pod.errors -= 1
                    code = plan.error_code
            latency = self._latency(plan, pod, code)
            requests.inc(str(code))
            durations.observe(latency)
            tick.calls += 1
            tick.latencies.append(latency)
            at = now - dt + dt * (index + 1) / count
            method, path = vendor.calls[rng.randrange(len(vendor.calls))]
            request_id = f"req_{rng.getrandbits(48):012x}"
            message: str | None = None
            if code != 200:
                errors.inc(str(code))
                tick.errors += 1
                message = plan.error_message.replace("{retry}", str(rng.randint(5, 30)))
                tick.last_error = message
                level = "ERROR"
            elif latency > SLOW_CALL:
                level = "WARN"
                message = (
                    f"{vendor.id} API call took {latency:.1f}s: worker pool saturated "
                    f"({rng.randint(60, 64)}/64 busy)"
                )
                tick.last_error = message
            else:
                level = "INFO"
            records.append(
                request_line(pod, at, level, method, path, code, latency, request_id, message)
            )
        return records

    def _mitigated_lines(
        self, vendor: VendorProfile, pod: PodState, plan: _Plan, now: float, dt: float
    ) -> list[LogRecord]:
        """While in fallback or bypass the pod serves without calling the vendor; it says so
        now and then."""
        pod.calls += self.calls_per_second_per_pod * dt / 4
        count = int(pod.calls)
        pod.calls -= count
        records = []
        for index in range(count):
            at = now - dt + dt * (index + 1) / count
            records.append(
                LogRecord(
                    datetime.fromtimestamp(at, UTC),
                    text_line(pod, iso_time(at), "WARN", plan.note or ""),
                )
            )
        return records

    def _webhooks_for(self, pod: PodState, now: float, dt: float, tick: Tick) -> list[LogRecord]:
        pod.webhooks += self.webhooks_per_second_per_pod * dt
        count = int(pod.webhooks)
        pod.webhooks -= count
        broken = pod.tag == VENDORS["clerk"].bad_tag
        records = []
        for index in range(count):
            at = now - dt + dt * (index + 1) / count
            event = self._rng.choice(("user.created", "user.updated", "session.created"))
            request_id = f"msg_{self._rng.getrandbits(48):012x}"
            if broken:
                self._webhooks.inc("failed")
                tick.webhook_failures += 1
                message = (
                    f"webhook handler failed for {event}: KeyError: 'email_addresses' in "
                    "handle_user_event (answered 500 Internal Server Error)"
                )
                tick.last_error = message
                records.append(
                    request_line(
                        pod, at, "ERROR", "POST", "/webhooks/clerk", 500, 0.004, request_id, message
                    )
                )
            else:
                self._webhooks.inc("success")
                records.append(
                    request_line(
                        pod, at, "INFO", "POST", "/webhooks/clerk", 200, 0.012, request_id, None
                    )
                )
        return records

    def _flood_for(self, pod: PodState, now: float, dt: float) -> list[LogRecord]:
        pod.flood += self.flood * dt
        count = int(pod.flood)
        if count == 0:
            return []
        pod.flood -= count
        moment = datetime.fromtimestamp(now, UTC)
        stamp = iso_time(now)
        middles = self._flood_middles
        size = len(middles)
        prefix = pod.prefix
        first = pod.seq
        pod.seq += count
        return [
            LogRecord(
                moment,
                f"{stamp} INFO  {middles[seq % size]} request_id=req_{prefix}{seq:06x} seq={seq}",
            )
            for seq in range(first, first + count)
        ]

    # -- what the backends serve

    def health(self, now: float | None = None) -> dict[str, Any]:
        """Our service's /health body from the last ``health_window`` seconds of traffic."""
        now = self.cluster.clock() if now is None else now
        return health_body(now, self._summary, self._windows, self.health_window)

    def vendor_page(self, vendor_id: str, now: float | None = None) -> VendorPage:
        """The vendor's status page at ``now``."""
        now = self.cluster.clock() if now is None else now
        return status_page(
            VENDORS[vendor_id],
            self.scenario,
            self._ids[vendor_id],
            self.scenario_time(now),
            self._wall,
        )

    def state(self, now: float | None = None) -> dict[str, Any]:
        """What the control endpoint reports: scenario, phase and each vendor's outcome."""
        now = self.cluster.clock() if now is None else now
        health = self.health(now)
        vendors = {}
        for vendor_id in VENDORS:
            page = self.vendor_page(vendor_id, now)
            summary = self._summary.get(vendor_id, {"desired": 0, "ready": 0, "crashing": []})
            vendors[vendor_id] = {
                "outcome": self._outcome[vendor_id],
                "status_indicator": page.indicator,
                "unresolved_incidents": len(page.unresolved),
                "health": health["services"][vendor_id]["status"],
                "ready_pods": summary["ready"],
                "desired_pods": summary["desired"],
                "crash_looping_pods": len(summary["crashing"]),
            }
        return {
            "scenario": self.scenario.name,
            "vendor": self.scenario.vendor,
            "summary": self.scenario.summary,
            "fix": self.scenario.fix,
            "phase": self.phase(now),
            "scenario_seconds": round(self.scenario_time(now), 3),
            "speed": self.speed,
            "vendors": vendors,
            "flood": self.flood_json(),
        }

    def flood_json(self) -> dict[str, Any]:
        return {
            "lines_per_second_per_pod": self.flood,
            "application_logs": self.application_logs,
        }

    def phase(self, now: float | None = None) -> str:
        """``healthy``, ``ramp-up``, ``incident``, ``mitigated`` or ``resolved``."""
        if self.scenario.kind == "healthy":
            return "healthy"
        outcome = self._outcome[self.scenario.vendor]
        if outcome in FAILING:
            return "ramp-up" if self.ramp(now) < 1 else "incident"
        if outcome in MITIGATED:
            return "mitigated"
        return "resolved"
