"""Builds every source of one runbook from the settings, and takes one reading of them all."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from tui.decision import DecisionPath, Readings, evaluate
from tui.errors import ConfigError, SourceError, SourceMalformed
from tui.runbook import Runbook
from tui.settings import Settings
from tui.signals import Health, LogLine, MetricReading, PodState, SourceFault, VendorStatus, utcnow
from tui.sources.base import FaultTracker, Outcome
from tui.sources.kube.connection import KubeConnection
from tui.sources.kube.objects import parse_pod, parse_timestamp
from tui.sources.prometheus import HttpConfig, PrometheusSource
from tui.sources.statuspage import HealthSource, StatusPageSource

__all__ = ["Evidence", "Snapshot", "Sources"]


@dataclass
class Snapshot:
    """One reading of every backend: values where they answered, faults where not."""

    vendor: VendorStatus | None = None
    health: Health | None = None
    metrics: list[MetricReading] = field(default_factory=list)
    pods: list[PodState] = field(default_factory=list)
    error_lines: list[LogLine] = field(default_factory=list)
    faults: list[SourceFault] = field(default_factory=list)
    path: DecisionPath | None = None
    taken_at: datetime = field(default_factory=utcnow)
    namespace: str | None = None
    """The namespace the pods were listed in (None when Kubernetes could not be opened)."""
    selector: str = ""
    """The label selector the pods were listed with."""

    @property
    def no_pods(self) -> str | None:
        """The sentence to say when the cluster answered but no pod matches, else None."""
        if self.namespace is None or self.pods:
            return None
        if any(f.backend == "kubernetes" for f in self.faults):
            return None
        return f"no pods match {self.selector} in namespace {self.namespace}"

    @property
    def readings(self) -> Readings:
        return Readings({m.signal_id: m for m in self.metrics}, self.vendor, self.health)

    @property
    def alerting(self) -> list[MetricReading]:
        return [m for m in self.metrics if m.alerting]


class Sources:
    """The sources of one runbook, with the endpoints the settings give for it."""

    def __init__(self, settings: Settings, runbook: Runbook) -> None:
        self.settings = settings
        self.runbook = runbook
        endpoints = settings.endpoints(runbook.id)
        self.http = httpx.AsyncClient(
            verify=settings.status.verify_tls,
            follow_redirects=True,
            timeout=settings.status.timeout,
        )
        vendor = runbook.vendor
        self.status_page = StatusPageSource(
            vendor.name,
            endpoints.status_page or vendor.status_page,
            self.http,
            settings.status.timeout,
            page_format=vendor.status_page_format,
            # a page moved by the settings is read where its format keeps it there
            api_url=None if endpoints.status_page else vendor.status_page_api,
            spec=vendor.status_page_json,
        )
        self.health: HealthSource | None = None
        if runbook.health is not None:
            self.health = HealthSource(
                runbook.vendor.name,
                endpoints.health or runbook.health.url,
                runbook.health.path,
                runbook.health.healthy,
                self.http,
                settings.status.timeout,
            )
        prom = settings.prometheus
        self.prometheus = PrometheusSource(
            runbook.signals,
            prom.url,
            prom.backup_url,
            http=HttpConfig.from_settings(prom),
            scrape_interval=prom.scrape_interval,
            timeout=prom.timeout,
            series_range=prom.range,
        )
        self.trackers = {
            name: FaultTracker(name, runbook)
            for name in ("status_page", "health", "prometheus", "kubernetes", "logs")
        }
        self.kube: KubeConnection | None = None

    async def open_kube(self) -> KubeConnection:
        """Connect to Kubernetes once; a bad kubeconfig is a :class:`ConfigError`."""
        if self.kube is None:
            self.kube = await KubeConnection.open(self.settings.kubernetes, self.runbook)
        return self.kube

    async def close(self) -> None:
        await self.http.aclose()
        if self.kube is not None:
            await self.kube.close()

    async def __aenter__(self) -> Sources:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # one reading --------------------------------------------------------------------

    async def read_status(self) -> tuple[Outcome[VendorStatus], Outcome[Health] | None]:
        """The vendor's status page and our /health (None when the runbook has none), each
        through its fault tracker."""

        async def health() -> Outcome[Health] | None:
            if self.health is None:
                return None
            return await self.trackers["health"].run(self.health.fetch(), self.health.target)

        vendor, ours = await asyncio.gather(
            self.trackers["status_page"].run(self.status_page.fetch(), self.status_page.target),
            health(),
        )
        return vendor, ours

    async def read_metrics(self) -> Outcome[list[MetricReading]]:
        """Every runbook signal from Prometheus, through its fault tracker."""
        return await self.trackers["prometheus"].run(
            self.prometheus.fetch(), self.prometheus.target
        )

    async def readings(self) -> Readings:
        """Everything a predicate or a verdict can ask about, read now: the metrics, the
        status page and our /health (what failed to read is missing, never "fine")."""
        (vendor, ours), metrics = await asyncio.gather(self.read_status(), self.read_metrics())
        return Readings(
            metrics={m.signal_id: m for m in metrics.value or ()},
            vendor=vendor.value,
            health=ours.value if ours is not None else None,
        )

    async def recent_error_lines(self, since: timedelta, limit: int) -> list[LogLine]:
        """The last ``limit`` error lines of every pod over ``since`` (not following)."""
        kube = await self.open_kube()
        pattern = re.compile(self.runbook.logs.error_pattern)
        data = await kube.get_json(
            "kubernetes",
            "list pods",
            kube.api.list_namespaced_pod_without_preload_content(
                kube.namespace,
                label_selector=self.runbook.logs.selector or self.runbook.service.selector,
            ),
        )
        container = self.runbook.logs.container or self.runbook.service.container
        lines: list[LogLine] = []

        async def one(name: str) -> None:
            response = await kube.request(
                "logs",
                f"logs of {name}",
                kube.api.read_namespaced_pod_log_without_preload_content(
                    name,
                    kube.namespace,
                    container=container,
                    timestamps=True,
                    since_seconds=max(1, int(since.total_seconds())),
                ),
            )
            try:
                body = await asyncio.wait_for(response.read(), kube.timeout)
            finally:
                response.release()
            for raw in body.decode("utf-8", "replace").splitlines():
                stamp, _, text = raw.partition(" ")
                parsed = parse_timestamp(stamp)
                if parsed is None:
                    raise SourceMalformed(
                        "logs", f"the log of {name} has lines without the timestamps asked for"
                    )
                line = LogLine.parse(
                    name,
                    container or "",
                    parsed[0] if parsed else None,
                    text if parsed else raw,
                    pattern,
                )
                if line.is_error:
                    lines.append(line)

        names = [item["metadata"]["name"] for item in data.get("items") or []]
        results = await asyncio.gather(*(one(n) for n in names), return_exceptions=True)
        for result in results:
            if isinstance(result, SourceError) and result.kind != "error":
                raise result
        lines.sort(key=lambda line: line.timestamp or utcnow())
        return lines[-limit:]

    async def pods(self) -> list[PodState]:
        kube = await self.open_kube()
        data = await kube.get_json(
            "kubernetes",
            "list pods",
            kube.api.list_namespaced_pod_without_preload_content(
                kube.namespace, label_selector=self.runbook.service.selector
            ),
        )
        items = data.get("items")
        if not isinstance(items, list):
            raise SourceMalformed("kubernetes", "list pods: the answer has no `items` list")
        return [parse_pod(item) for item in items]

    async def snapshot(
        self, log_since: timedelta = timedelta(minutes=5), log_limit: int = 20
    ) -> Snapshot:
        """Read every backend at once; each failure becomes a fault, the rest still answer."""
        snap = Snapshot()

        async def read(backend: str, call: Any) -> Any:
            outcome = await self.trackers[backend].run(call)
            if outcome.fault is not None:
                snap.faults.append(outcome.fault)
            return outcome.value

        async def kube_part() -> tuple[Any, Any]:
            try:
                kube = await self.open_kube()
            except ConfigError as error:
                fault = (
                    self.trackers["kubernetes"].failed(SourceError("kubernetes", str(error))).fault
                )
                assert fault is not None
                snap.faults.append(fault)
                return None, None
            snap.namespace = kube.namespace
            snap.selector = self.runbook.service.selector
            return await asyncio.gather(
                read("kubernetes", self.pods()),
                read("logs", self.recent_error_lines(log_since, log_limit)),
            )

        (vendor, health), metrics, (pods, lines) = await asyncio.gather(
            self.read_status(), self.read_metrics(), kube_part()
        )
        for outcome in (vendor, health, metrics):
            if outcome is not None and outcome.fault is not None:
                snap.faults.append(outcome.fault)
        snap.vendor = vendor.value
        snap.health = health.value if health is not None else None
        snap.metrics = metrics.value or []
        snap.pods = pods or []
        snap.error_lines = lines or []
        snap.path = evaluate(self.runbook, snap.readings)
        return snap


def snapshot_json(snap: Snapshot) -> dict[str, Any]:
    """A Snapshot as plain JSON for ``triage --json``."""

    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "taken_at": when(snap.taken_at),
        "vendor": None
        if snap.vendor is None
        else {
            "indicator": snap.vendor.indicator,
            "description": snap.vendor.description,
            "degraded_components": [
                {"name": c.name, "status": c.status} for c in snap.vendor.degraded_components
            ],
            "incidents": [
                {
                    "name": i.name,
                    "status": i.status,
                    "impact": i.impact,
                    "latest_update": i.latest_update,
                }
                for i in snap.vendor.incidents
            ],
        },
        "health": None
        if snap.health is None
        else {
            "status": snap.health.status,
            "healthy": snap.health.healthy,
            "latency_ms": snap.health.latency_ms,
            "last_error": snap.health.last_error,
        },
        "signals": [
            {
                "id": m.signal_id,
                "name": m.name,
                "value": m.value,
                "unit": m.unit,
                "level": m.level,
                "threshold": m.threshold,
                "op": m.op,
                "peak_5m": max((v for _, v in m.series[-10:]), default=None),
                "via_backup": m.via_backup,
            }
            for m in snap.metrics
        ],
        "pods": [
            {
                "name": p.name,
                "phase": p.phase,
                "ready": p.ready,
                "restarts": p.restarts,
                "reason": p.reason,
            }
            for p in snap.pods
        ],
        "error_lines": [
            {"pod": line.pod, "time": when(line.timestamp), "text": line.text}
            for line in snap.error_lines
        ],
        "faults": [
            {"backend": f.backend, "kind": f.kind, "message": f.message, "hint": f.hint}
            for f in snap.faults
        ],
        "decision_path": None
        if snap.path is None
        else {
            "answers": [
                {
                    "node": a.node,
                    "question": a.question,
                    "answer": a.answer,
                    "evidence": list(a.evidence),
                }
                for a in snap.path.answers
            ],
            "conclusion": snap.path.leaf.conclusion if snap.path.leaf else None,
            "remediations": list(snap.path.leaf.remediations) if snap.path.leaf else [],
        },
    }


class Evidence:
    """The live sources as the export's evidence collector: pod logs and every signal's
    range query over the incident's window."""

    def __init__(self, settings: Settings, runbook: Runbook) -> None:
        self.settings = settings
        self.runbook = runbook

    async def logs(self, start: datetime, end: datetime) -> list[str]:
        """Every pod's lines from ``start`` to ``end``, oldest first, with pod names."""
        async with Sources(self.settings, self.runbook) as sources:
            return await self._logs(sources, start, end)

    async def _logs(self, sources: Sources, start: datetime, end: datetime) -> list[str]:
        kube = await sources.open_kube()
        runbook = sources.runbook
        container = runbook.logs.container or runbook.service.container
        data = await kube.get_json(
            "kubernetes",
            "list pods",
            kube.api.list_namespaced_pod_without_preload_content(
                kube.namespace, label_selector=runbook.logs.selector or runbook.service.selector
            ),
        )
        since = max(1, int((utcnow() - start).total_seconds()) + 1)
        lines: list[tuple[str, str]] = []
        for item in data.get("items") or []:
            name = item["metadata"]["name"]
            restarted = any(
                (status.get("restartCount") or 0) > 0
                and (container is None or status.get("name") == container)
                for status in (item.get("status") or {}).get("containerStatuses") or []
            )
            # a restarted container's crash is in the logs of the one before it
            for previous in (True, False) if restarted else (False,):
                try:
                    body = await self._pod_log(kube, name, container, since, previous)
                except SourceError as error:
                    # no previous container any more, or one waiting to start again: the
                    # other pods' lines still belong in the bundle
                    if previous or error.kind not in ("timeout", "unreachable"):
                        continue
                    raise
                for raw in body.decode("utf-8", "replace").splitlines():
                    stamp, _, text = raw.partition(" ")
                    parsed = parse_timestamp(stamp)
                    if parsed is not None and not (start <= parsed[0] <= end):
                        continue
                    lines.append((stamp, f"{stamp} {name} {text}"))
        lines.sort(key=lambda pair: pair[0])
        return [line for _, line in lines]

    @staticmethod
    async def _pod_log(
        kube: KubeConnection, name: str, container: str | None, since: int, previous: bool
    ) -> bytes:
        response = await kube.request(
            "logs",
            f"{'previous ' if previous else ''}logs of {name}",
            kube.api.read_namespaced_pod_log_without_preload_content(
                name,
                kube.namespace,
                container=container,
                timestamps=True,
                since_seconds=since,
                previous=previous,
            ),
            timeout=kube.timeout * 3,
        )
        try:
            return await asyncio.wait_for(response.read(), kube.timeout * 3)
        finally:
            response.release()

    async def metrics(self, start: datetime, end: datetime, step: float) -> dict[str, Any]:
        async with Sources(self.settings, self.runbook) as sources:
            result: dict[str, Any] = {}
            for signal in self.runbook.signals:
                result[signal.id] = {
                    "name": signal.name,
                    "query": sources.prometheus.query_of(signal),
                    "unit": signal.unit,
                    "result": await sources.prometheus.query_range(
                        sources.prometheus.query_of(signal), start, end, f"{step:g}s"
                    ),
                }
            return result
