"""Kubernetes through `kubernetes.aio`: the runbook's pods (kept current with a watch) and
a live log tail across all of them that survives rollouts and dropped streams."""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

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
from tui.signals import LogLine, PodState, SourceFault, detect_level
from tui.sources.base import FaultTracker, Outcome, error_for_status

if TYPE_CHECKING:
    import aiohttp

__all__ = ["KubeConnection", "LogTail", "PodWatcher", "parse_pod", "parse_timestamp"]


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})",
    re.ASCII,
)


def parse_timestamp(text: str) -> tuple[datetime, int] | None:
    """An RFC3339(Nano) time as (aware datetime in UTC, integer nanoseconds since the
    epoch); None for anything else."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        offset = timedelta(0)
        if zone not in ("Z", "z"):
            sign = 1 if zone[0] == "+" else -1
            offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        moment = (
            datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC
            )
            - offset
        )
    except (ValueError, OverflowError):
        return None
    nanos = int((fraction or "").ljust(9, "0"))
    seconds = calendar.timegm(moment.utctimetuple())
    return moment.replace(microsecond=nanos // 1000), seconds * 1_000_000_000 + nanos


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    parsed = parse_timestamp(value)
    return parsed[0] if parsed else None


def parse_pod(obj: dict[str, Any], revisions: dict[str, str] | None = None) -> PodState:
    """A pod object of the API as a PodState: phase (``Terminating`` when deleted), ready,
    restarts, age, revision and why it is not ready. Anything that is not a Pod object is
    :class:`SourceMalformed`."""
    try:
        pod = _parse_pod(obj, revisions)
    except (AttributeError, TypeError, ValueError, KeyError):
        raise SourceMalformed("kubernetes", "a pod in the answer is not a Pod object") from None
    if not isinstance(pod.name, str) or pod.name == "?":
        raise SourceMalformed("kubernetes", "a pod in the answer has no name")
    return pod


def _parse_pod(obj: dict[str, Any], revisions: dict[str, str] | None) -> PodState:
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


def _import_client() -> None:
    import aiohttp  # noqa: F401
    import kubernetes.aio.client.api_client
    import kubernetes.aio.config  # noqa: F401


class KubeCalls:
    """The Kubernetes API calls the cockpit makes, named and shaped like the generated
    ``CoreV1Api``/``AppsV1Api`` methods of the same name and sent through the
    ``kubernetes.aio`` ApiClient (kubeconfig auth, TLS, query serialisation). The generated
    classes are not loaded: importing them builds hundreds of pydantic models and costs
    more than a second of CPU, while every answer here is read as raw JSON anyway."""

    _ACCEPT = "application/json"

    def __init__(self, api_client: Any) -> None:
        self.api_client = api_client

    async def _call(
        self,
        method: str,
        path: str,
        path_params: dict[str, str],
        query: dict[str, Any],
        *,
        body: Any = None,
        content_type: str | None = None,
        request_timeout: float | None = None,
    ) -> aiohttp.ClientResponse:
        headers = {"Accept": self._ACCEPT}
        if content_type is not None:
            headers["Content-Type"] = content_type
        serialized = await self.api_client.param_serialize(
            method=method,
            resource_path=path,
            path_params=path_params,
            query_params=[(key, value) for key, value in query.items() if value is not None],
            header_params=headers,
            body=body,
            post_params=[],
            files={},
            auth_settings=["BearerToken"],
            collection_formats={},
        )
        answer = await self.api_client.call_api(
            *serialized, _preload_content=False, _request_timeout=request_timeout
        )
        response: aiohttp.ClientResponse = answer.response
        return response

    async def list_namespaced_pod_without_preload_content(
        self,
        namespace: str,
        *,
        label_selector: str | None = None,
        watch: bool | None = None,
        resource_version: str | None = None,
        timeout_seconds: int | None = None,
        allow_watch_bookmarks: bool | None = None,
        _request_timeout: float | None = None,
    ) -> aiohttp.ClientResponse:
        return await self._call(
            "GET",
            "/api/v1/namespaces/{namespace}/pods",
            {"namespace": namespace},
            {
                "allowWatchBookmarks": allow_watch_bookmarks,
                "labelSelector": label_selector,
                "resourceVersion": resource_version,
                "timeoutSeconds": timeout_seconds,
                "watch": watch,
            },
            request_timeout=_request_timeout,
        )

    async def read_namespaced_pod_log_without_preload_content(
        self,
        name: str,
        namespace: str,
        *,
        container: str | None = None,
        follow: bool | None = None,
        timestamps: bool | None = None,
        since_seconds: int | None = None,
        _request_timeout: float | None = None,
    ) -> aiohttp.ClientResponse:
        return await self._call(
            "GET",
            "/api/v1/namespaces/{namespace}/pods/{name}/log",
            {"name": name, "namespace": namespace},
            {
                "container": container,
                "follow": follow,
                "sinceSeconds": since_seconds,
                "timestamps": timestamps,
            },
            request_timeout=_request_timeout,
        )

    async def list_namespaced_replica_set_without_preload_content(
        self, namespace: str, *, label_selector: str | None = None
    ) -> aiohttp.ClientResponse:
        return await self._call(
            "GET",
            "/apis/apps/v1/namespaces/{namespace}/replicasets",
            {"namespace": namespace},
            {"labelSelector": label_selector},
        )

    async def read_namespaced_deployment_without_preload_content(
        self, name: str, namespace: str
    ) -> aiohttp.ClientResponse:
        return await self._call(
            "GET",
            "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
            {"name": name, "namespace": namespace},
            {},
        )

    async def read_namespaced_secret_without_preload_content(
        self, name: str, namespace: str
    ) -> aiohttp.ClientResponse:
        return await self._call(
            "GET",
            "/api/v1/namespaces/{namespace}/secrets/{name}",
            {"name": name, "namespace": namespace},
            {},
        )

    async def patch_namespaced_deployment_without_preload_content(
        self,
        name: str,
        namespace: str,
        body: Any,
        *,
        dry_run: str | None = None,
        _content_type: str = "application/strategic-merge-patch+json",
    ) -> aiohttp.ClientResponse:
        return await self._call(
            "PATCH",
            "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
            {"name": name, "namespace": namespace},
            {"dryRun": dry_run},
            body=body,
            content_type=_content_type,
        )

    async def patch_namespaced_secret_without_preload_content(
        self,
        name: str,
        namespace: str,
        body: Any,
        *,
        dry_run: str | None = None,
        _content_type: str = "application/merge-patch+json",
    ) -> aiohttp.ClientResponse:
        return await self._call(
            "PATCH",
            "/api/v1/namespaces/{namespace}/secrets/{name}",
            {"name": name, "namespace": namespace},
            {"dryRun": dry_run},
            body=body,
            content_type=_content_type,
        )


class KubeConnection:
    """An API client for one kubeconfig context and namespace, and typed calls over it."""

    def __init__(self, api_client: Any, namespace: str, context: str, timeout: float) -> None:
        self.api_client = api_client
        self.api = KubeCalls(api_client)
        self.namespace = namespace
        self.context = context
        self.timeout = timeout

    @classmethod
    async def open(cls, settings: KubernetesSettings, runbook: Runbook) -> KubeConnection:
        """Load the kubeconfig like kubectl does; a missing file or unknown context is a
        :class:`ConfigError` naming it."""
        # the client library takes a third of a second of imports: they run in a thread so
        # that the screen keeps drawing and answering keys meanwhile
        await asyncio.to_thread(_import_client)
        from kubernetes.aio import config
        from kubernetes.aio.config.config_exception import ConfigException

        # the loader is untyped; these are the shapes it returns
        list_contexts = cast(
            Callable[[str], tuple[list[dict[str, Any]], dict[str, Any] | None]],
            config.list_kube_config_contexts,
        )
        new_client = cast(Callable[..., Awaitable[Any]], config.new_client_from_config)

        path = settings.kubeconfig_path()
        if not path.exists():
            raise ConfigError(
                Problem(str(path), None, "kubernetes.kubeconfig", "no kubeconfig at this path")
            )
        try:
            contexts, current = list_contexts(str(path))
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
            api_client = await new_client(
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
        # aiohttp is imported here, not at the top: it costs start-up a large share of
        # a second, and the first frame does not need it
        import aiohttp

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
        import aiohttp

        response = await self.request(backend, what, call)
        try:
            body = await asyncio.wait_for(response.read(), self.timeout)
            data = json.loads(body)
        except TimeoutError:
            raise SourceTimeout(backend, f"{what}: the answer did not finish in time") from None
        except (ValueError, UnicodeDecodeError, RecursionError, aiohttp.ClientError):
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


_SLICE = 256
"""Lines taken between two chances for the screen to draw."""
_ERROR_LEVELS = ("error", "fatal")


class _Timestamps:
    """:func:`parse_timestamp` for a stream of lines: the lines of one second share their
    whole-second part, so it is parsed once."""

    def __init__(self) -> None:
        self._seconds: dict[str, tuple[datetime, int] | None] = {}

    def parse(self, text: str) -> tuple[datetime, int] | None:
        base, dot, rest = text.partition(".")
        if not dot or not rest.endswith("Z"):
            return parse_timestamp(text)
        digits = rest[:-1]
        if not digits.isascii() or not digits.isdigit() or len(digits) > 9:
            return None
        if base in self._seconds:
            known = self._seconds[base]
        else:
            if len(self._seconds) > 256:
                self._seconds.clear()
            whole = parse_timestamp(base + "Z")
            known = None if whole is None else (whole[0], whole[1])
            self._seconds[base] = known
        if known is None:
            return None
        moment, seconds_ns = known
        nanos = int(digits[:9].ljust(9, "0"))
        return moment.replace(microsecond=nanos // 1000), seconds_ns + nanos


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
        flush_interval: float = 0.2,
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
        self._broken_streams: set[str] = set()
        """Pods whose stream sent lines without timestamps and no good line since."""
        self._stamps = _Timestamps()
        self._api_down = False

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
                self._broken_streams.discard(name)
                stream = self.streams.pop(name)
                if stream.task is not None:
                    stream.task.cancel()

    # streaming ----------------------------------------------------------------------

    async def _open(self, stream: _PodStream, since: int | None) -> aiohttp.ClientResponse:
        return await self.conn.request(
            self.backend,
            f"logs of {stream.pod}",
            self.conn.api.read_namespaced_pod_log_without_preload_content(
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
        import aiohttp

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
            if buffer:
                chunk = buffer + chunk
            end = chunk.rfind(b"\n")
            if end < 0:
                buffer = chunk
                continue
            buffer = chunk[end + 1 :]
            lines = chunk[:end].decode("utf-8", "replace").split("\n")
            # under a flood a chunk holds thousands of lines: take them in slices and let
            # the screen draw (and keys be answered) between slices
            for start in range(0, len(lines), _SLICE):
                if start:
                    await asyncio.sleep(0)
                self._take_text(stream, lines[start : start + _SLICE])
            await asyncio.sleep(0)
        if buffer:
            self._take(stream, [buffer])

    def _take(self, stream: _PodStream, raw_lines: list[bytes]) -> None:
        self._take_text(stream, [raw.decode("utf-8", "replace") for raw in raw_lines])

    def _take_text(self, stream: _PodStream, texts: list[str]) -> None:
        pending = self._pending
        container = stream.container or ""
        pod = stream.pod
        error_search = self.error_pattern.search
        stamps = self._stamps
        accept = stream.accept
        limit = self.max_line_length
        for text in texts:
            if text.endswith("\r"):
                text = text[:-1]
            stamp, _, rest = text.partition(" ")
            parsed = stamps.parse(stamp)
            if parsed is None:
                # the API was asked for timestamps: a line without one is not a log line
                # the kubelet sent; keep it visible but say the stream is broken
                moment, ns, rest = None, stream.last_ns, text
                self._broken_streams.add(pod)
                if self.tracker.failing_kind != "malformed":
                    self._fault(
                        SourceMalformed(
                            self.backend,
                            f"the log stream of {pod} sent lines without timestamps",
                        )
                    )
            else:
                moment, ns = parsed
                if pod in self._broken_streams:
                    self._broken_streams.discard(pod)
                    # healed only when no pod's stream is still sending broken lines
                    if not self._broken_streams and self.tracker.failing_kind == "malformed":
                        self._healed()
            if len(rest) > limit:
                rest = rest[:limit] + " …[truncated]"
            if not accept(ns, rest):
                continue
            # LogLine.parse, spelled out: this loop runs for every line of a flood
            level = detect_level(rest)
            is_error = level in _ERROR_LEVELS or error_search(rest) is not None
            pending.append(LogLine(pod, container, moment, rest, level, is_error))
        if len(pending) > self.max_pending:
            cut = len(pending) - self.max_pending
            del pending[:cut]
            self._dropped += cut

    # faults ---------------------------------------------------------------------------

    def api_fault(self, fault: SourceFault | None) -> None:
        """What the pod watcher found of the API server. A hung or unreachable one holds
        every log stream too, which cannot tell by itself (a quiet pod sends nothing
        either): the pane says no new lines can arrive until the API answers again."""
        if fault is not None and fault.kind in ("timeout", "unreachable"):
            self._api_down = True
            self._fault(SourceTimeout(self.backend, f"no new lines can arrive: {fault.message}"))
        elif fault is None and self._api_down:
            self._api_down = False
            self._healed()

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
