"""The runbook's pods, listed and then kept current with a watch."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from tui.errors import SourceError, SourceMalformed, SourceTimeout
from tui.runbook import Runbook
from tui.signals import PodState, SourceFault
from tui.sources.base import FaultTracker, Outcome, error_for_status
from tui.sources.kube.connection import KubeConnection
from tui.sources.kube.objects import parse_pod

__all__ = ["PodWatcher"]


class PodWatcher:
    """Lists the runbook's pods, then follows a watch; re-lists after any failure.

    ``on_pods`` gets the whole current list after every change; ``on_fault`` gets a fault
    (or None once the API answers again)."""

    backend = "kubernetes"

    def __init__(
        self,
        conn: KubeConnection,
        selector: str,
        on_pods: Callable[[list[PodState]], None],
        on_fault: Callable[[SourceFault | None], None],
        runbook: Runbook | None = None,
        retry_interval: float = 2.0,
        watch_timeout: int = 60,
        idle_grace: float = 3.0,
    ) -> None:
        self.conn = conn
        self.selector = selector
        self.idle_grace = idle_grace
        """Seconds of silence past the watch's own end that make the API server hung."""
        self.on_pods = on_pods
        self.on_fault = on_fault
        self.tracker = FaultTracker(self.backend, runbook)
        self.retry_interval = retry_interval
        self.watch_timeout = watch_timeout
        self.pods: dict[str, dict[str, Any]] = {}
        self.revisions: dict[str, str] = {}
        self._faulted = False

    def states(self) -> list[PodState]:
        return [parse_pod(obj, self.revisions) for obj in self.pods.values()]

    async def _list(self) -> str:
        what = f"list pods {self.selector} in {self.conn.namespace}"
        data = await self.conn.get_json(
            self.backend,
            what,
            self.conn.api.list_namespaced_pod_without_preload_content(
                self.conn.namespace, label_selector=self.selector
            ),
        )
        items = data.get("items")
        if not isinstance(items, list):
            raise SourceMalformed(self.backend, f"{what}: the answer has no `items` list")
        self.pods = {
            item["metadata"]["name"]: item
            for item in items
            if isinstance(item, dict) and isinstance(item.get("metadata"), dict)
        }
        await self._load_revisions()
        return str((data.get("metadata") or {}).get("resourceVersion") or "")

    async def _load_revisions(self) -> None:
        """ReplicaSet revisions by pod-template-hash, so pods say "revision 3"."""
        with contextlib.suppress(SourceError):
            data = await self.conn.get_json(
                self.backend,
                "list replicasets",
                self.conn.api.list_namespaced_replica_set_without_preload_content(
                    self.conn.namespace, label_selector=self.selector
                ),
            )
            revisions = {}
            for item in data.get("items") or []:
                meta = item.get("metadata") or {}
                template_hash = (meta.get("labels") or {}).get("pod-template-hash")
                revision = (meta.get("annotations") or {}).get("deployment.kubernetes.io/revision")
                if template_hash and revision:
                    revisions[template_hash] = revision
            self.revisions = revisions

    async def _watch(self, resource_version: str) -> None:
        what = f"watch pods {self.selector}"
        response = await self.conn.request(
            self.backend,
            what,
            self.conn.api.list_namespaced_pod_without_preload_content(
                self.conn.namespace,
                label_selector=self.selector,
                watch=True,
                resource_version=resource_version,
                timeout_seconds=self.watch_timeout,
                allow_watch_bookmarks=True,
                _request_timeout=float(self.watch_timeout + 15),
            ),
        )
        # the server ends the watch after timeout_seconds and sends bookmarks meanwhile:
        # silence past that is an API server that stopped answering (a hung or stopped
        # process keeps its connections open, so no error would ever arrive)
        idle = self.watch_timeout + self.idle_grace
        try:
            while True:
                try:
                    raw = await asyncio.wait_for(response.content.readline(), idle)
                except TimeoutError:
                    raise SourceTimeout(
                        self.backend,
                        f"{what}: {self.conn.server} sent nothing for {idle:g} s, not even "
                        "the end of the watch",
                    ) from None
                if not raw:
                    return
                line = raw.strip()
                if not line:
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    raise SourceMalformed(self.backend, f"{what}: an event is not JSON") from None
                kind = event.get("type")
                obj = event.get("object") or {}
                if kind == "ERROR":
                    raise error_for_status(
                        self.backend, int(obj.get("code") or 500), what, str(obj.get("message"))
                    )
                name = (obj.get("metadata") or {}).get("name")
                if kind == "BOOKMARK" or not name:
                    continue
                if kind == "DELETED":
                    self.pods.pop(name, None)
                else:
                    if name not in self.pods:
                        await self._load_revisions()
                    self.pods[name] = obj
                self.on_pods(self.states())
        finally:
            response.release()

    async def run(self) -> None:
        import aiohttp

        while True:
            try:
                version = await self._list()
                self._healed()
                self.on_pods(self.states())
                await self._watch(version)
            except SourceError as error:
                self._failed(error)
                await asyncio.sleep(self.retry_interval)
            except TimeoutError:
                # the client's own total timeout on a watch that never ended
                self._failed(
                    SourceTimeout(self.backend, f"watch pods {self.selector}: no answer in time")
                )
                await asyncio.sleep(self.retry_interval)
            except (aiohttp.ClientError, asyncio.IncompleteReadError):
                await asyncio.sleep(self.retry_interval / 4)

    def _failed(self, error: SourceError) -> None:
        outcome: Outcome[None] = self.tracker.failed(error, self.conn.server)
        self._faulted = True
        self.on_fault(outcome.fault)

    def _healed(self) -> None:
        self.tracker.ok(None)
        if self._faulted:
            self._faulted = False
            self.on_fault(None)
