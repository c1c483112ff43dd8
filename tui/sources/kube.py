"""Kubernetes through `kubernetes.aio`: the runbook's pods (kept current with a watch) and
a live log tail across all of them that survives rollouts and dropped streams."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp

from tui.errors import (
    ConfigError,
    Problem,
    SourceError,
    SourceMalformed,
    SourceTimeout,
    SourceUnreachable,
)
from tui.runbook import Runbook
from tui.settings import KubernetesSettings
from tui.signals import LogLine, PodState, SourceFault
from tui.sources.base import FaultTracker, error_for_status

__all__ = ["KubeConnection", "LogTail", "PodWatcher", "parse_pod", "parse_timestamp"]


def parse_timestamp(text: str) -> tuple[datetime, int] | None:
    """An RFC3339(Nano) time as (aware datetime, integer nanoseconds since the epoch)."""
    try:
        base, _, rest = text.partition(".")
        if rest:
            digits = rest.rstrip("Z")
            if not digits.isdigit():
                return None
            nanos = int(digits[:9].ljust(9, "0"))
        else:
            base = base.rstrip("Z")
            nanos = 0
        moment = datetime.fromisoformat(base).replace(tzinfo=UTC)
    except ValueError:
        return None
    seconds = int(moment.timestamp())
    return moment.replace(microsecond=nanos // 1000), seconds * 1_000_000_000 + nanos


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    parsed = parse_timestamp(value)
    return parsed[0] if parsed else None


def parse_pod(obj: dict[str, Any], revisions: dict[str, str] | None = None) -> PodState:
    """A pod object of the API as a PodState: phase (``Terminating`` when deleted), ready,
    restarts, age, revision and why it is not ready."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    phase = status.get("phase") or "Unknown"
    if meta.get("deletionTimestamp"):
        phase = "Terminating"
    ready = bool(statuses) and all(bool(c.get("ready")) for c in statuses)
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    reason = None
    for container in statuses:
        state = container.get("state") or {}
        for key in ("waiting", "terminated"):
            if isinstance(state.get(key), dict) and state[key].get("reason"):
                reason = state[key]["reason"]
                break
        if reason:
            break
    labels = meta.get("labels") or {}
    template_hash = labels.get("pod-template-hash")
    revision = template_hash
    if revisions and template_hash in revisions:
        revision = f"{revisions[template_hash]} ({template_hash})"
    return PodState(
        name=meta.get("name") or "?",
        phase=phase,
        ready=ready,
        restarts=restarts,
        created=_time(meta.get("creationTimestamp")),
        revision=revision,
        reason=reason,
        containers=tuple(c.get("name", "?") for c in spec.get("containers") or []),
        node=spec.get("nodeName"),
    )


def _status_message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:200]
    if isinstance(data, dict) and data.get("kind") == "Status":
        return str(data.get("message") or data.get("reason") or "")
    return ""


class KubeConnection:
    """An API client for one kubeconfig context and namespace, and typed calls over it."""

    def __init__(self, api_client: Any, namespace: str, context: str, timeout: float) -> None:
        from kubernetes.aio import client

        self.api_client = api_client
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.namespace = namespace
        self.context = context
        self.timeout = timeout

    @classmethod
    async def open(cls, settings: KubernetesSettings, runbook: Runbook) -> KubeConnection:
        """Load the kubeconfig like kubectl does; a missing file or unknown context is a
        :class:`ConfigError` naming it."""
        from kubernetes.aio import config
        from kubernetes.aio.config.config_exception import ConfigException

        path = settings.kubeconfig_path()
        if not path.exists():
            raise ConfigError(
                Problem(str(path), None, "kubernetes.kubeconfig", "no kubeconfig at this path")
            )
        try:
            contexts, current = config.list_kube_config_contexts(str(path))
            context = settings.context or (current or {}).get("name")
            names = [c["name"] for c in contexts]
            if context not in names:
                raise ConfigError(
                    Problem(
                        str(path),
                        None,
                        "kubernetes.context",
                        f'no context "{context}" (contexts: {", ".join(names) or "none"})',
                    )
                )
            api_client = await config.new_client_from_config(
                config_file=str(path), context=context, persist_config=False
            )
        except ConfigException as exc:
            raise ConfigError(Problem(str(path), None, "kubernetes", str(exc))) from None
        namespace = settings.namespace or runbook.service.namespace
        return cls(api_client, namespace, str(context), settings.timeout)

    @property
    def server(self) -> str:
        return str(self.api_client.configuration.host)

    async def close(self) -> None:
        await self.api_client.close()

    async def request(
        self, backend: str, what: str, call: Any, timeout: float | None = None
    ) -> aiohttp.ClientResponse:
        """Send one request (a ``*_without_preload_content`` coroutine) and turn every
        failure into a typed :class:`SourceError`."""
        try:
            response: aiohttp.ClientResponse = await asyncio.wait_for(call, timeout or self.timeout)
        except TimeoutError:
            raise SourceTimeout(
                backend,
                f"{what}: no answer from {self.server} within {timeout or self.timeout:g} s",
            ) from None
        except (aiohttp.ClientConnectionError, OSError) as exc:
            raise SourceUnreachable(
                backend, f"{what}: cannot connect to {self.server} ({exc})"
            ) from None
        if response.status >= 400:
            body = await response.read()
            response.release()
            message = _status_message(body)
            raise error_for_status(backend, response.status, what, message)
        return response

    async def get_json(self, backend: str, what: str, call: Any) -> dict[str, Any]:
        response = await self.request(backend, what, call)
        try:
            body = await asyncio.wait_for(response.read(), self.timeout)
            data = json.loads(body)
        except TimeoutError:
            raise SourceTimeout(backend, f"{what}: the answer did not finish in time") from None
        except (ValueError, UnicodeDecodeError, aiohttp.ClientError):
            raise SourceMalformed(backend, f"{what}: the answer is not valid JSON") from None
        finally:
            response.release()
        if not isinstance(data, dict):
            raise SourceMalformed(backend, f"{what}: the answer is not a JSON object")
        return data


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
    ) -> None:
        self.conn = conn
        self.selector = selector
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
            self.conn.core.list_namespaced_pod_without_preload_content(
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
                self.conn.apps.list_namespaced_replica_set_without_preload_content(
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
            self.conn.core.list_namespaced_pod_without_preload_content(
                self.conn.namespace,
                label_selector=self.selector,
                watch=True,
                resource_version=resource_version,
                timeout_seconds=self.watch_timeout,
                allow_watch_bookmarks=True,
                _request_timeout=float(self.watch_timeout + 15),
            ),
        )
        try:
            async for raw in response.content:
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
        while True:
            try:
                version = await self._list()
                self._healed()
                self.on_pods(self.states())
                await self._watch(version)
            except SourceError as error:
                outcome = self.tracker.failed(error, self.conn.server)
                self._faulted = True
                self.on_fault(outcome.fault)
                await asyncio.sleep(self.retry_interval)
            except (aiohttp.ClientError, asyncio.IncompleteReadError):
                await asyncio.sleep(self.retry_interval / 4)

    def _healed(self) -> None:
        self.tracker.ok(None)
        if self._faulted:
            self._faulted = False
            self.on_fault(None)


_LINE_END = re.compile(rb"\r?\n")


class _PodStream:
    """One pod's log stream, resumable after a drop without repeating a line."""

    def __init__(self, pod: str, container: str | None) -> None:
        self.pod = pod
        self.container = container
        self.last_ns = 0
        self.seen_at_last: set[str] = set()
        self.task: asyncio.Task[None] | None = None
        self.finished = False

    def accept(self, ns: int, text: str) -> bool:
        """Whether a line is new (not already shown before a reconnect)."""
        if ns < self.last_ns:
            return False
        if ns == self.last_ns:
            if text in self.seen_at_last:
                return False
            self.seen_at_last.add(text)
            return True
        self.last_ns = ns
        self.seen_at_last = {text}
        return True


class LogTail:
    """Follows the logs of every running pod of the runbook, starting at the runbook's
    ``since``, and hands lines to ``sink`` in batches every ``flush_interval`` seconds.

    A new pod is picked up as soon as the pod watcher reports it running; a deleted pod's
    tail ends; a dropped stream reconnects and resumes after the last line it showed."""

    backend = "logs"

    def __init__(
        self,
        conn: KubeConnection,
        runbook: Runbook,
        sink: Callable[[list[LogLine], int], None],
        on_fault: Callable[[SourceFault | None], None],
        *,
        flush_interval: float = 0.1,
        max_pending: int = 50_000,
        retry_interval: float = 1.0,
        max_line_length: int = 16_384,
    ) -> None:
        self.conn = conn
        self.runbook = runbook
        self.container = runbook.logs.container or runbook.service.container
        self.since_seconds = max(1, int(runbook.logs.since.total_seconds()))
        self.error_pattern = re.compile(runbook.logs.error_pattern)
        self.sink = sink
        self.on_fault = on_fault
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.retry_interval = retry_interval
        self.max_line_length = max_line_length
        self.tracker = FaultTracker(self.backend, runbook)
        self.streams: dict[str, _PodStream] = {}
        self._pending: list[LogLine] = []
        self._dropped = 0
        self._started_at = datetime.now(UTC)
        self._faulted = False
        self._known_pods: set[str] = set()
        self._seen_once = False

    # pods -------------------------------------------------------------------------

    def update_pods(self, pods: list[PodState]) -> None:
        """Start tails for running pods not yet followed; forget pods that are gone."""
        names = {p.name for p in pods}
        for pod in pods:
            stream = self.streams.get(pod.name)
            runnable = pod.phase in ("Running", "Terminating", "Succeeded", "Failed")
            if stream is None and runnable:
                # a pod that appeared after the tail started is read from its beginning
                fresh = self._seen_once and pod.name not in self._known_pods
                since = None if fresh else self.since_seconds
                stream = _PodStream(pod.name, self.container)
                self.streams[pod.name] = stream
                stream.task = asyncio.create_task(self._follow(stream, since))
            self._known_pods.add(pod.name)
        self._seen_once = True
        for name in list(self.streams):
            if name not in names:
                stream = self.streams.pop(name)
                if stream.task is not None:
                    stream.task.cancel()

    # streaming ----------------------------------------------------------------------

    async def _open(self, stream: _PodStream, since: int | None) -> aiohttp.ClientResponse:
        return await self.conn.request(
            self.backend,
            f"logs of {stream.pod}",
            self.conn.core.read_namespaced_pod_log_without_preload_content(
                stream.pod,
                self.conn.namespace,
                container=stream.container,
                follow=True,
                timestamps=True,
                since_seconds=since,
                # the client takes one total timeout: a stream is cut after an hour and
                # resumes from its last line
                _request_timeout=3600.0,
            ),
        )

    async def _follow(self, stream: _PodStream, since: int | None) -> None:
        while stream.pod in self.streams:
            try:
                response = await self._open(stream, since)
            except SourceError as error:
                if error.kind == "error" and "400" in error.detail:
                    # the container has not started yet: try again shortly
                    await asyncio.sleep(self.retry_interval / 2)
                    continue
                if "404" in error.detail:
                    return
                self._fault(error)
                await asyncio.sleep(self.retry_interval)
                continue
            if self.tracker.failing_kind != "malformed":
                self._healed()
            try:
                await self._read(stream, response)
            except (aiohttp.ClientError, asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                response.release()
            # the stream ended: the pod is gone, or the connection dropped
            if stream.pod not in self.streams:
                return
            await asyncio.sleep(self.retry_interval / 4)
            elapsed = (datetime.now(UTC).timestamp() * 1e9 - stream.last_ns) / 1e9
            since = max(1, int(elapsed) + 2) if stream.last_ns else since

    async def _read(self, stream: _PodStream, response: aiohttp.ClientResponse) -> None:
        buffer = b""
        async for chunk in response.content.iter_any():
            buffer += chunk
            *complete, buffer = _LINE_END.split(buffer)
            if complete:
                self._take(stream, complete)
        if buffer:
            self._take(stream, [buffer])

    def _take(self, stream: _PodStream, raw_lines: list[bytes]) -> None:
        pending = self._pending
        container = stream.container or ""
        for raw in raw_lines:
            text = raw.decode("utf-8", "replace")
            stamp, _, rest = text.partition(" ")
            parsed = parse_timestamp(stamp)
            if parsed is None:
                # the API was asked for timestamps: a line without one is not a log line
                # the kubelet sent; keep it visible but say the stream is broken
                moment, ns, rest = None, stream.last_ns, text
                if self.tracker.failing_kind != "malformed":
                    self._fault(
                        SourceMalformed(
                            self.backend,
                            f"the log stream of {stream.pod} sent lines without timestamps",
                        )
                    )
            else:
                moment, ns = parsed
                if self.tracker.failing_kind == "malformed":
                    self._healed()
            if len(rest) > self.max_line_length:
                rest = rest[: self.max_line_length] + " …[truncated]"
            if not stream.accept(ns, rest):
                continue
            pending.append(LogLine.parse(stream.pod, container, moment, rest, self.error_pattern))
        if len(pending) > self.max_pending:
            cut = len(pending) - self.max_pending
            del pending[:cut]
            self._dropped += cut

    # faults ---------------------------------------------------------------------------

    def _fault(self, error: SourceError) -> None:
        self._faulted = True
        self.on_fault(self.tracker.failed(error, self.conn.server).fault)

    def _healed(self) -> None:
        self.tracker.ok(None)
        if self._faulted:
            self._faulted = False
            self.on_fault(None)

    # the flusher ----------------------------------------------------------------------

    def flush(self) -> None:
        if self._pending or self._dropped:
            lines, dropped = self._pending, self._dropped
            self._pending, self._dropped = [], 0
            self.sink(lines, dropped)

    async def run(self) -> None:
        """Flush batches until cancelled; cancelling stops every pod's tail."""
        try:
            while True:
                await asyncio.sleep(self.flush_interval)
                self.flush()
        finally:
            for stream in self.streams.values():
                if stream.task is not None:
                    stream.task.cancel()
            self.streams.clear()
