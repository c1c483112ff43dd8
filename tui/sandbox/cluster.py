"""The sandbox's simulated Kubernetes cluster: namespaces, deployments, replica sets, pods,
secrets, events and pod logs, with a deployment controller that rolls pods like the real one.

This module is pure in-memory state plus an asyncio controller loop; the HTTP face that
kubectl and the kubernetes package talk to is :mod:`tui.sandbox.kube_api`.

CONTRACT (used by :mod:`tui.sandbox.world`; keep these signatures):

- Objects are plain JSON-ready dicts in the exact shape the Kubernetes API returns
  (``apiVersion``, ``kind``, ``metadata`` with ``name``, ``namespace``, ``uid``,
  ``resourceVersion``, ``creationTimestamp``, ``labels``, ``annotations``, ``generation``,
  ``ownerReferences``; ``spec``; ``status``). Getters return deep copies.
- ``resourceVersion`` is one cluster-wide increasing counter, as in etcd; watches use it.
- Time comes from ``clock`` (seconds since the epoch) so tests can control it.

Beyond the contract, for the world and the API:

- ``create_deployment(..., age=SECONDS)`` seeds a deployment already rolled out that long
  ago (pods Running and Ready at once).
- ``ready_pods(namespace, selector)``: the pods that serve traffic (Ready, not terminating);
  ``running_containers()``: ``(namespace, pod, container)`` that accept log lines now.
- ``crash_log(pod) -> lines``: what a crashing container prints each run (all but the last
  line as it starts, the last, its fatal error, as it exits); ``crash_run_time`` and
  ``crash_backoff`` pace the loop.
- ``get_object`` / ``list_objects`` / ``create_object`` / ``update_object`` /
  ``delete_object`` / ``scale`` / ``update_scale`` / ``watch`` / ``open_log``: the generic
  operations :mod:`tui.sandbox.kube_api` serves; refusals are :class:`ApiError`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import hashlib
import itertools
import json
import math
import random
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from tui.sandbox.selectors import FieldSelector, LabelSelector, SelectorError

__all__ = [
    "RESOURCES",
    "ApiError",
    "Cluster",
    "LogCursor",
    "LogRecord",
    "PodBehaviour",
    "ResourceInfo",
    "Watch",
    "format_time",
]

PodBehaviour = Literal["ok", "crash"]
"""What a new pod does: ``ok`` becomes Running/Ready after ``pod_start_delay``;
``crash`` becomes Running but never Ready, its container cycling through
``CrashLoopBackOff`` with ``restartCount`` rising."""

NODE_NAME = "sandbox-node-1"
HOST_IP = "10.0.0.10"

_REVISION = "deployment.kubernetes.io/revision"
_REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
_DESIRED = "deployment.kubernetes.io/desired-replicas"
_MAX = "deployment.kubernetes.io/max-replicas"
_HASH = "pod-template-hash"
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Deployment annotations the controller never copies onto its ReplicaSets.
_NOT_COPIED = {
    _LAST_APPLIED,
    _REVISION,
    _REVISION_HISTORY,
    _DESIRED,
    _MAX,
    "deprecated.deployment.rollback.to",
}
# The alphabet Kubernetes uses for generated names: no vowels, no look-alikes.
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(frozen=True)
class LogRecord:
    """One line of one container's log."""

    time: datetime  # UTC, aware
    text: str  # without the trailing newline


@dataclass(frozen=True)
class ResourceInfo:
    """How one resource type is named on the wire."""

    name: str  # plural, as in the URL
    group: str  # "" for the core group
    version: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ("get", "list", "watch")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``deployments.apps``, ``pods``: how API error messages name the resource."""
        return f"{self.name}.{self.group}" if self.group else self.name


RESOURCES: dict[str, ResourceInfo] = {
    info.name: info
    for info in (
        ResourceInfo("namespaces", "", "v1", "Namespace", False, ("ns",)),
        ResourceInfo("pods", "", "v1", "Pod", True, ("po",), ("get", "list", "watch", "delete")),
        ResourceInfo(
            "secrets",
            "",
            "v1",
            "Secret",
            True,
            (),
            ("create", "delete", "get", "list", "patch", "update", "watch"),
        ),
        ResourceInfo("events", "", "v1", "Event", True, ("ev",)),
        ResourceInfo(
            "deployments",
            "apps",
            "v1",
            "Deployment",
            True,
            ("deploy",),
            ("create", "get", "list", "patch", "update", "watch"),
        ),
        ResourceInfo("replicasets", "apps", "v1", "ReplicaSet", True, ("rs",)),
    )
}


class ApiError(Exception):
    """A refusal in the API's own terms; :mod:`tui.sandbox.kube_api` turns it into a Status."""

    def __init__(
        self, code: int, reason: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    @classmethod
    def not_found(cls, resource: str, name: str) -> ApiError:
        info = RESOURCES[resource]
        return cls(
            404,
            "NotFound",
            f'{info.qualified} "{name}" not found',
            {"name": name, "group": info.group, "kind": info.name}
            if info.group
            else {"name": name, "kind": info.name},
        )

    @classmethod
    def conflict(cls, resource: str, name: str) -> ApiError:
        info = RESOURCES[resource]
        return cls(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {info.qualified} "{name}": the object has been '
            "modified; please apply your changes to the latest version and try again",
            {"name": name, "group": info.group, "kind": info.name},
        )

    @classmethod
    def invalid(cls, resource: str, name: str, causes: list[tuple[str, str]]) -> ApiError:
        info = RESOURCES[resource]
        kind = f"{info.kind}.{info.group}" if info.group else info.kind
        text = ", ".join(f"{path}: {message}" for path, message in causes)
        return cls(
            422,
            "Invalid",
            f'{kind} "{name}" is invalid: {text}',
            {
                "name": name,
                "group": info.group,
                "kind": info.kind,
                "causes": [
                    {"reason": "FieldValueInvalid", "message": message, "field": path}
                    for path, message in causes
                ],
            },
        )

    @classmethod
    def bad_request(cls, message: str) -> ApiError:
        return cls(400, "BadRequest", message)


def format_time(seconds: float) -> str:
    """RFC 3339 to the second, as ``metadata.creationTimestamp`` is written."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Change:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    obj: dict[str, Any]
    previous: dict[str, Any] | None


class Watch:
    """One watcher of one resource type: changes after a resourceVersion, then live ones.

    Objects handed out are the cluster's own (already serialisable); do not mutate them.
    """

    def __init__(
        self,
        cluster: Cluster,
        resource: str,
        namespace: str | None,
        labels: LabelSelector,
        fields: FieldSelector,
        backlog: Iterable[_Change],
    ) -> None:
        self._cluster = cluster
        self.resource = resource
        self._namespace = namespace
        self._labels = labels
        self._fields = fields
        self._queue: asyncio.Queue[_Change | None] = asyncio.Queue()
        for change in backlog:
            self._queue.put_nowait(change)
        self.closed = False

    def _push(self, change: _Change | None) -> None:
        self._queue.put_nowait(change)

    def _matches(self, obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        if self._namespace and obj["metadata"].get("namespace") != self._namespace:
            return False
        return self._labels.matches(obj["metadata"].get("labels")) and self._fields.matches(obj)

    def _translate(self, change: _Change) -> tuple[str, dict[str, Any]] | None:
        now_matches = self._matches(change.obj)
        if change.type == "ADDED":
            return ("ADDED", change.obj) if now_matches else None
        if change.type == "DELETED":
            return ("DELETED", change.obj) if now_matches else None
        was_matching = self._matches(change.previous)
        if now_matches and was_matching:
            return ("MODIFIED", change.obj)
        if now_matches:
            return ("ADDED", change.obj)
        if was_matching:
            return ("DELETED", change.obj)
        return None

    async def next(self, timeout: float | None = None) -> tuple[str, dict[str, Any]] | None:
        """The next ``(type, object)``; None when the timeout passed or the watch closed."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not self.closed:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return None
            try:
                change = await asyncio.wait_for(self._queue.get(), remaining)
            except TimeoutError:
                return None
            if change is None:
                self.closed = True
                return None
            event = self._translate(change)
            if event is not None:
                return event
        return None

    @property
    def pending(self) -> int:
        """Changes queued but not yet read (the replayed backlog, at first)."""
        return self._queue.qsize()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._cluster._watchers[self.resource].discard(self)
            self._queue.put_nowait(None)


class _LogBuffer:
    """One run of one container: its lines, and an event its followers wait on."""

    __slots__ = ("closed", "lines", "total", "woken")

    def __init__(self, maxlen: int) -> None:
        self.lines: deque[LogRecord] = deque(maxlen=maxlen)
        self.total = 0  # lines ever appended; a follower's position is an index into this
        self.closed = False
        self.woken: asyncio.Event | None = None

    def wake(self) -> None:
        if self.woken is not None:
            self.woken.set()
            self.woken = None

    def since(self, position: int) -> list[LogRecord]:
        """The lines appended at or after ``position`` that are still kept."""
        count = min(self.total - position, len(self.lines))
        if count <= 0:
            return []
        if count == len(self.lines):
            return list(self.lines)
        # Reading from the right keeps this proportional to the new lines, not the buffer.
        tail = list(itertools.islice(reversed(self.lines), count))
        tail.reverse()
        return tail


class LogCursor:
    """A reader of one container's log: what is there now, then (following) what comes."""

    def __init__(self, buffer: _LogBuffer, lines: list[LogRecord]) -> None:
        self._buffer = buffer
        self.initial = lines
        self._position = buffer.total

    @property
    def ended(self) -> bool:
        """The container stopped (restarted, or its pod is gone): nothing more will come."""
        return self._buffer.closed and self._position >= self._buffer.total

    async def next_batch(self, timeout: float | None = None) -> list[LogRecord]:
        """Lines appended since the last call, waiting for at least one; [] when the
        container stopped or the timeout passed."""
        buffer = self._buffer
        if buffer.total == self._position and not buffer.closed:
            if buffer.woken is None:
                buffer.woken = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(buffer.woken.wait(), timeout)
        lines = buffer.since(self._position)
        self._position = buffer.total
        return lines


@dataclass
class _Container:
    """What the simulated kubelet knows about one container of a pod."""

    name: str
    image: str
    logs: _LogBuffer | None = None
    previous: _LogBuffer | None = None
    restarts: int = 0
    started_at: float | None = None
    last_exit: dict[str, Any] | None = None
    container_id: str = ""


@dataclass
class _PodRuntime:
    behaviour: str
    stage: Literal["creating", "running", "crash-running", "backoff", "terminating"]
    due: float | None
    containers: dict[str, _Container]
    ip: str = ""


def _default_crash_log(pod: dict[str, Any]) -> list[str]:
    image = pod["spec"]["containers"][0].get("image", "app")
    return [
        f"starting {image}",
        "loading configuration from environment",
        "connecting to upstream services",
        "FATAL: unhandled exception during start-up; exiting with status 1",
    ]


def _drop_nulls(value: Any) -> Any:
    """The object as the API would store it: null fields are absent."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _canonical(value: Any) -> Any:
    """Empty and null fields removed, so templates compare the way Go's omitempty does."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = _canonical(v)
            if v is None or v == {} or v == []:
                continue
            out[k] = v
        return out
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _template_key(template: dict[str, Any]) -> str:
    """A pod template as comparable text: canonical, without the ``pod-template-hash`` label
    a ReplicaSet adds (templates are equal the way the controller's EqualIgnoreHash says)."""
    canon = _canonical(template)
    metadata = canon.get("metadata", {})
    labels = metadata.get("labels", {})
    if _HASH in labels:
        del labels[_HASH]
        if not labels:
            del metadata["labels"]
        if not metadata:
            del canon["metadata"]
    return json.dumps(canon, sort_keys=True, separators=(",", ":"))


def _template_hash(template: dict[str, Any]) -> str:
    digest = hashlib.sha256(_template_key(template).encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(10):
        number, index = divmod(number, len(_SAFE))
        chars.append(_SAFE[index])
    return "".join(chars)


def _random_suffix(length: int = 5) -> str:
    return "".join(random.choice(_SAFE) for _ in range(length))


def _resolve(value: Any, total: int, round_up: bool) -> int:
    """An int-or-percent field (maxSurge, maxUnavailable) against a replica count."""
    if isinstance(value, str) and value.endswith("%"):
        try:
            share = float(value[:-1]) * total / 100
        except ValueError:
            share = 0.0
        return math.ceil(share) if round_up else math.floor(share)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _revision(obj: dict[str, Any]) -> int:
    try:
        return int(obj["metadata"].get("annotations", {}).get(_REVISION, "0"))
    except ValueError:
        return 0


def _image_id(image: str) -> str:
    name = image.split("@")[0].rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image
    if "/" not in name:
        name = f"docker.io/library/{name}"
    return f"{name}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def _pod_ready(pod: dict[str, Any]) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    for condition in pod.get("status", {}).get("conditions", []):
        if condition["type"] == "Ready":
            return bool(condition["status"] == "True")
    return False


def _active(pod: dict[str, Any]) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and pod.get("status", {}).get(
        "phase"
    ) not in ("Succeeded", "Failed")


_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


@dataclass
class Cluster:
    _event_keys: dict[tuple[str, str, str], tuple[str, str]] = field(
        init=False, repr=False, default_factory=dict
    )
    """Which Event counts each (object uid, reason, message) again."""
    _wakeup: asyncio.Event | None = field(init=False, repr=False, default=None)
    """Set to run the controller loop now instead of at its next step."""

    clock: Callable[[], float] = time.time
    pod_start_delay: float = 1.5
    """Seconds a new pod stays Pending (ContainerCreating) before Running/Ready."""
    pod_stop_delay: float = 1.0
    """Seconds a deleted or scaled-down pod stays Terminating before it is gone."""
    rollout_step_delay: float = 0.5
    """Seconds between the controller's steps of a rolling update."""
    log_buffer_lines: int = 200_000
    """Lines kept per container; older lines are dropped (as a kubelet rotates logs)."""
    pod_behaviour: Callable[[dict[str, Any]], PodBehaviour] = lambda pod: "ok"
    """Decides, when a pod is created, how it behaves (the world sets it)."""
    on_pod_started: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)
    """Called with the pod when it becomes Running (the world snapshots secrets then)."""
    on_pod_stopped: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)
    """Called with the pod when it is gone."""
    crash_run_time: float = 1.0
    """Seconds a crashing container runs before it exits with an error."""
    crash_backoff: float = 4.0
    """Seconds a crashed container waits in CrashLoopBackOff before its next start."""
    crash_log: Callable[[dict[str, Any]], list[str]] = _default_crash_log
    """The lines a crashing container prints on each start, the last one its fatal error."""
    watch_history: int = 2000
    """Changes kept per resource type for watches that resume from a resourceVersion."""
    event_limit: int = 1000
    """Events kept; older ones are deleted, as the API server's TTL does."""
    writes: dict[tuple[str, str], int] = field(default_factory=dict)
    """API writes accepted so far by ``(verb, resource)``: ``("patch", "deployments")``.
    Dry-run requests are not counted."""

    # seeding --------------------------------------------------------------------------

    def create_namespace(self, name: str) -> dict[str, Any]:
        key = ("", name)
        if key in self._objects["namespaces"]:
            return self.get_object("namespaces", None, name)
        obj = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "labels": {"kubernetes.io/metadata.name": name},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }
        return copy.deepcopy(self._store("namespaces", obj, created=True))

    def create_deployment(
        self, namespace: str, manifest: dict[str, Any], *, age: float = 0.0
    ) -> dict[str, Any]:
        """Create a Deployment from an apps/v1 manifest; its first ReplicaSet (revision 1)
        and pods are created as the controller would.

        With ``age`` > 0 the deployment is seeded as already rolled out ``age`` seconds
        ago: its pods are Running and Ready at once (for a world that starts settled)."""
        obj = copy.deepcopy(manifest)
        obj.setdefault("metadata", {})["namespace"] = namespace
        created = self.create_object("deployments", namespace, obj)
        if age > 0:
            self._settle(namespace, created["metadata"]["name"], age)
        else:
            self._sync_all()
        return self.deployment(namespace, created["metadata"]["name"])

    def update_deployment_template(
        self, namespace: str, name: str, template: dict[str, Any], cause: str | None = None
    ) -> dict[str, Any]:
        """Replace the pod template (a new revision), as ``kubectl apply`` would; used to
        seed history such as a bad rollout. ``cause`` becomes ``kubernetes.io/change-cause``."""
        obj = self.get_object("deployments", namespace, name)
        obj["spec"]["template"] = copy.deepcopy(template)
        if cause is not None:
            obj["metadata"].setdefault("annotations", {})["kubernetes.io/change-cause"] = cause
        self.update_object("deployments", namespace, name, obj)
        self._sync_all()
        return self.deployment(namespace, name)

    def create_secret(self, namespace: str, manifest: dict[str, Any]) -> dict[str, Any]:
        """Create a Secret; ``stringData`` is folded into base64 ``data`` as the API does."""
        obj = copy.deepcopy(manifest)
        obj.setdefault("metadata", {})["namespace"] = namespace
        return self.create_object("secrets", namespace, obj)

    # reading (deep copies) ------------------------------------------------------------

    def deployment(self, namespace: str, name: str) -> dict[str, Any]:
        return self.get_object("deployments", namespace, name)

    def secret(self, namespace: str, name: str) -> dict[str, Any]:
        return self.get_object("secrets", namespace, name)

    def pods(self, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
        """Pods matching a label selector in kubectl syntax (``app=x``, ``a in (b,c)``,
        ``!k``), in creation order, including Pending and Terminating ones."""
        items, _ = self.list_objects("pods", namespace, selector)
        return items

    def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        """The decoded value of one key of a Secret, or None."""
        obj = self._objects["secrets"].get((namespace, name))
        if obj is None:
            return None
        encoded = obj.get("data", {}).get(key)
        if encoded is None:
            return None
        return base64.b64decode(encoded).decode("utf-8", "replace")

    def ready_pods(self, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
        """The pods that are Ready and not terminating (those that serve traffic)."""
        return [pod for pod in self.pods(namespace, selector) if _pod_ready(pod)]

    @property
    def resource_version(self) -> int:
        """The cluster's latest resourceVersion."""
        return self._rv

    # logs -------------------------------------------------------------------------------

    def append_logs(
        self, namespace: str, pod: str, container: str, records: list[LogRecord]
    ) -> None:
        """Append lines to a running container's log and wake its followers. Called in
        batches by the world at up to 50,000 lines/s in all; it must stay cheap."""
        runtime = self._runtime.get((namespace, pod))
        if runtime is None:
            return
        state = runtime.containers.get(container)
        if state is None or state.logs is None or state.logs.closed:
            return
        buffer = state.logs
        buffer.lines.extend(records)
        buffer.total += len(records)
        buffer.wake()

    def running_containers(self) -> list[tuple[str, str, str]]:
        """``(namespace, pod, container)`` of every container that is running now."""
        return [
            (namespace, pod, name)
            for (namespace, pod), runtime in self._runtime.items()
            for name, state in runtime.containers.items()
            if state.logs is not None and not state.logs.closed
        ]

    def open_log(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        *,
        previous: bool = False,
        since: datetime | None = None,
        tail_lines: int | None = None,
    ) -> LogCursor:
        """A cursor on one container's log, refusing as the kubelet does when there is none."""
        obj = self._objects["pods"].get((namespace, pod))
        runtime = self._runtime.get((namespace, pod))
        if obj is None or runtime is None:
            raise ApiError.not_found("pods", pod)
        names = [c["name"] for c in obj["spec"]["containers"]]
        if container is None:
            if len(names) > 1:
                default = (
                    obj["metadata"]
                    .get("annotations", {})
                    .get("kubectl.kubernetes.io/default-container")
                )
                if default not in names:
                    raise ApiError.bad_request(
                        f"a container name must be specified for pod {pod}, choose one of: "
                        f"[{' '.join(names)}]"
                    )
                container = default
            else:
                container = names[0]
        if container not in runtime.containers:
            raise ApiError.bad_request(f"container {container} is not valid for pod {pod}")
        state = runtime.containers[container]
        if previous:
            buffer = state.previous
            if buffer is None:
                raise ApiError.bad_request(
                    f'previous terminated container "{container}" in pod "{pod}" not found'
                )
        else:
            buffer = state.logs
            if buffer is None:
                reason = "ContainerCreating" if runtime.stage == "creating" else "PodInitializing"
                raise ApiError.bad_request(
                    f'container "{container}" in pod "{pod}" is waiting to start: {reason}'
                )
        lines = buffer.since(0)
        if since is not None:
            start = len(lines)
            while start > 0 and lines[start - 1].time >= since:
                start -= 1
            lines = lines[start:]
        if tail_lines is not None:
            lines = lines[-tail_lines:] if tail_lines > 0 else []
        return LogCursor(buffer, lines)

    # the generic API ----------------------------------------------------------------------

    def get_object(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
        """One object (a deep copy), or ApiError NotFound."""
        obj = self._objects[resource].get((namespace or "", name))
        if obj is None:
            raise ApiError.not_found(resource, name)
        return copy.deepcopy(obj)

    def list_objects(
        self,
        resource: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Matching objects (deep copies) in creation order, and the list's resourceVersion."""
        labels, fields = _selectors(label_selector, field_selector)
        items = [
            copy.deepcopy(obj)
            for (ns, _), obj in self._objects[resource].items()
            if (not namespace or ns == namespace)
            and labels.matches(obj["metadata"].get("labels"))
            and fields.matches(obj)
        ]
        return items, self._rv

    def create_object(
        self, resource: str, namespace: str | None, obj: dict[str, Any], *, dry_run: bool = False
    ) -> dict[str, Any]:
        """Create an object as POST does: validated, defaulted, then stored unless dry run."""
        info = RESOURCES[resource]
        obj = _drop_nulls(copy.deepcopy(obj))
        meta = obj.setdefault("metadata", {})
        if info.namespaced:
            if meta.get("namespace") and namespace and meta["namespace"] != namespace:
                raise ApiError.bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            namespace = namespace or meta.get("namespace") or "default"
            if ("", namespace) not in self._objects["namespaces"]:
                raise ApiError.not_found("namespaces", namespace)
            meta["namespace"] = namespace
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + _random_suffix()
        name = meta.get("name")
        if not name:
            raise ApiError.invalid(
                resource,
                "",
                [("metadata.name", "Required value: name or generateName is required")],
            )
        if (namespace or "", name) in self._objects[resource]:
            info = RESOURCES[resource]
            raise ApiError(
                409,
                "AlreadyExists",
                f'{info.qualified} "{name}" already exists',
                {"name": name, "group": info.group, "kind": info.name},
            )
        for server_field in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp"):
            meta.pop(server_field, None)
        meta.pop("managedFields", None)
        obj["apiVersion"] = info.api_version
        obj["kind"] = info.kind
        if resource == "deployments":
            self._admit_deployment(None, obj)
        elif resource == "secrets":
            self._admit_secret(None, obj)
        elif resource in ("pods", "replicasets", "events"):
            raise ApiError(
                405, "MethodNotAllowed", f"create is not supported on {info.qualified} here"
            )
        if dry_run:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = format_time(self.clock())
            return obj
        stored = self._store(resource, obj, created=True)
        self._kick()
        return copy.deepcopy(stored)

    def update_object(
        self,
        resource: str,
        namespace: str | None,
        name: str,
        obj: dict[str, Any],
        *,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Replace an object as PUT does; a stale ``metadata.resourceVersion`` is a 409."""
        info = RESOURCES[resource]
        current = self._objects[resource].get((namespace or "", name))
        if current is None:
            raise ApiError.not_found(resource, name)
        obj = _drop_nulls(copy.deepcopy(obj))
        meta = obj.setdefault("metadata", {})
        if meta.get("name", name) != name:
            raise ApiError.bad_request("the name of the object does not match the name on the URL")
        if info.namespaced and meta.get("namespace", namespace) != namespace:
            raise ApiError.bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        wanted_rv = meta.get("resourceVersion")
        if wanted_rv and str(wanted_rv) != current["metadata"]["resourceVersion"]:
            raise ApiError.conflict(resource, name)
        for kept in ("name", "namespace", "uid", "creationTimestamp", "generation"):
            if kept in current["metadata"]:
                meta[kept] = current["metadata"][kept]
        for server_field in ("deletionTimestamp", "managedFields"):
            meta.pop(server_field, None)
        if "deletionTimestamp" in current["metadata"]:
            meta["deletionTimestamp"] = current["metadata"]["deletionTimestamp"]
        obj["apiVersion"] = info.api_version
        obj["kind"] = info.kind
        if resource == "deployments":
            self._admit_deployment(current, obj)
        elif resource == "secrets":
            self._admit_secret(current, obj)
        else:
            raise ApiError(
                405, "MethodNotAllowed", f"update is not supported on {info.qualified} here"
            )
        if _canonical(_strip_rv(obj)) == _canonical(_strip_rv(current)):
            return copy.deepcopy(current)  # a no-op write leaves resourceVersion alone
        if dry_run:
            obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            return obj
        stored = self._store(resource, obj)
        self._kick()
        return copy.deepcopy(stored)

    def delete_object(
        self,
        resource: str,
        namespace: str | None,
        name: str,
        *,
        dry_run: bool = False,
        grace_period: int | None = None,
    ) -> dict[str, Any]:
        """Delete as DELETE does; a pod goes Terminating first and is returned as such."""
        info = RESOURCES[resource]
        key = (namespace or "", name)
        current = self._objects[resource].get(key)
        if current is None:
            raise ApiError.not_found(resource, name)
        if resource == "pods":
            if dry_run:
                return copy.deepcopy(current)
            return copy.deepcopy(self._terminate_pod(current, grace_period, by_user=True))
        if resource not in ("secrets", "events"):
            raise ApiError(
                405, "MethodNotAllowed", f"delete is not supported on {info.qualified} here"
            )
        if dry_run:
            return copy.deepcopy(current)
        self._remove(resource, key)
        return copy.deepcopy(current)

    def scale(self, namespace: str, name: str) -> dict[str, Any]:
        """A Deployment's autoscaling/v1 Scale, as ``deployments/scale`` serves it."""
        dep = self._objects["deployments"].get((namespace, name))
        if dep is None:
            raise ApiError.not_found("deployments", name)
        meta = dep["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": meta["uid"],
                "resourceVersion": meta["resourceVersion"],
                "creationTimestamp": meta["creationTimestamp"],
            },
            "spec": {"replicas": dep["spec"].get("replicas", 1)},
            "status": {
                "replicas": dep.get("status", {}).get("replicas", 0),
                "selector": str(LabelSelector.from_spec(dep["spec"].get("selector"))),
            },
        }

    def update_scale(
        self, namespace: str, name: str, scale: dict[str, Any], *, dry_run: bool = False
    ) -> dict[str, Any]:
        """Set a Deployment's replicas from a Scale object (PUT or PATCH of the subresource)."""
        dep = self.get_object("deployments", namespace, name)
        wanted_rv = scale.get("metadata", {}).get("resourceVersion")
        if wanted_rv and str(wanted_rv) != dep["metadata"]["resourceVersion"]:
            raise ApiError.conflict("deployments", name)
        replicas = scale.get("spec", {}).get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ApiError(
                422,
                "Invalid",
                f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: '
                f"{replicas}: must be greater than or equal to 0",
            )
        dep["spec"]["replicas"] = replicas
        dep["metadata"].pop("resourceVersion", None)
        updated = self.update_object("deployments", namespace, name, dep, dry_run=dry_run)
        result = self.scale(namespace, name)
        if dry_run:
            result["spec"]["replicas"] = updated["spec"]["replicas"]
        return result

    def watch(
        self,
        resource: str,
        namespace: str | None = None,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Watch:
        """Changes after ``resource_version`` (replayed from history, then live); with no
        version or "0", every current object as ADDED first. 410 Gone when too old."""
        labels, fields = _selectors(label_selector, field_selector)
        backlog: list[_Change]
        if not resource_version or resource_version == "0":
            backlog = [
                _Change(int(obj["metadata"]["resourceVersion"]), "ADDED", obj, None)
                for obj in self._objects[resource].values()
            ]
        else:
            try:
                since = int(resource_version)
            except ValueError:
                raise ApiError.bad_request(
                    f'invalid resource version "{resource_version}"'
                ) from None
            if since < self._history_floor[resource]:
                raise ApiError(
                    410,
                    "Expired",
                    f"too old resource version: {since} ({self._history_floor[resource] + 1})",
                )
            backlog = [change for change in self._history[resource] if change.rv > since]
        watcher = Watch(self, resource, namespace, labels, fields, backlog)
        self._watchers[resource].add(watcher)
        return watcher

    def record_write(self, verb: str, resource: str) -> None:
        """Count one accepted, non-dry-run write (the API calls this)."""
        self.writes[(verb, resource)] = self.writes.get((verb, resource), 0) + 1

    def record_event(
        self,
        involved: dict[str, Any],
        reason: str,
        message: str,
        *,
        event_type: str = "Normal",
        component: str = "deployment-controller",
    ) -> None:
        """Record (or count again) an Event about an object, as controllers and kubelets do."""
        meta = involved["metadata"]
        namespace = meta.get("namespace", "default")
        key = (meta.get("uid", ""), reason, message)
        now = format_time(self.clock())
        existing = self._event_keys.get(key)
        if existing is not None and existing in self._objects["events"]:
            event = copy.deepcopy(self._objects["events"][existing])
            event["count"] = event.get("count", 1) + 1
            event["lastTimestamp"] = now
            self._store("events", event)
            return
        name = f"{meta['name']}.{random.getrandbits(64):016x}"
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion", "v1"),
                "kind": involved.get("kind", ""),
                "name": meta["name"],
                "namespace": namespace,
                "uid": meta.get("uid", ""),
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message,
            "source": {"component": component}
            | ({"host": NODE_NAME} if component == "kubelet" else {}),
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": event_type,
            "reportingComponent": component,
            "reportingInstance": NODE_NAME if component == "kubelet" else "",
        }
        if involved.get("kind") == "Pod" and component == "kubelet":
            event["involvedObject"]["fieldPath"] = (
                f"spec.containers{{{involved['spec']['containers'][0]['name']}}}"
            )
        self._store("events", event, created=True)
        self._event_keys[key] = (namespace, name)
        while len(self._objects["events"]) > self.event_limit:
            oldest = next(iter(self._objects["events"]))
            self._remove("events", oldest)
        if len(self._event_keys) > 2 * self.event_limit:
            events = self._objects["events"]
            self._event_keys = {k: v for k, v in self._event_keys.items() if v in events}

    # the controller -------------------------------------------------------------------------

    async def run(self) -> None:
        """The controller loop (rollouts, pod start/stop, crash loops); runs until cancelled."""
        self._wakeup = asyncio.Event()
        while True:
            self._sync_all()
            wait = 0.1
            now = self.clock()
            dues = [rt.due for rt in self._runtime.values() if rt.due is not None]
            if dues:
                wait = min(wait, max(min(dues) - now, 0.005))
            if self._stepping:
                wait = min(wait, max(self.rollout_step_delay / 4, 0.005))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), wait)
            self._wakeup.clear()

    def _kick(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def _sync_all(self) -> None:
        """One pass of every controller: kubelet timers, deployments, replica sets, status."""
        self._advance_pods()
        self._stepping = False
        for dep in list(self._objects["deployments"].values()):
            self._sync_deployment(dep["metadata"]["namespace"], dep["metadata"]["name"])
        for rs in list(self._objects["replicasets"].values()):
            self._sync_replicaset(rs["metadata"]["namespace"], rs["metadata"]["name"])
        for dep in list(self._objects["deployments"].values()):
            self._sync_deployment_status(dep["metadata"]["namespace"], dep["metadata"]["name"])

    # -- deployments

    def _owned(self, resource: str, owner: dict[str, Any]) -> list[dict[str, Any]]:
        uid = owner["metadata"]["uid"]
        namespace = owner["metadata"]["namespace"]
        return [
            obj
            for (ns, _), obj in self._objects[resource].items()
            if ns == namespace
            and any(
                ref.get("uid") == uid and ref.get("controller")
                for ref in obj["metadata"].get("ownerReferences", [])
            )
        ]

    def _sync_deployment(self, namespace: str, name: str) -> None:
        dep = self._objects["deployments"][(namespace, name)]
        spec = dep["spec"]
        rss = self._owned("replicasets", dep)
        paused = bool(spec.get("paused"))
        new_rs = self._matching_replicaset(dep, rss)
        max_revision = max((_revision(rs) for rs in rss), default=0)
        if new_rs is None and not paused:
            new_rs = self._create_replicaset(dep, max_revision + 1, replicas=0 if rss else None)
            rss.append(new_rs)
        elif new_rs is not None and not paused and _revision(new_rs) < max_revision:
            new_rs = self._bump_revision(new_rs, max_revision + 1)
            rss = self._owned("replicasets", dep)
        if new_rs is not None:
            new_rs = self._copy_annotations(dep, new_rs)
            revision = str(_revision(new_rs))
            if dep["metadata"].get("annotations", {}).get(_REVISION) != revision:
                dep = copy.deepcopy(dep)
                dep["metadata"].setdefault("annotations", {})[_REVISION] = revision
                dep = self._store("deployments", dep)
        desired = int(spec.get("replicas", 1))
        olds = [
            rs for rs in rss if new_rs is None or rs["metadata"]["uid"] != new_rs["metadata"]["uid"]
        ]
        active_olds = [rs for rs in olds if rs["spec"].get("replicas", 0) > 0]
        if paused or new_rs is None:
            self._scale_proportionally(dep, rss, new_rs, desired)
        elif not active_olds:
            if new_rs["spec"].get("replicas", 0) != desired:
                self._scale_rs(dep, new_rs, desired)
        else:
            self._stepping = True
            key = (namespace, name)
            now = self.clock()
            due = now - self._last_step.get(key, -math.inf) >= self.rollout_step_delay
            if due and self._rolling_step(dep, new_rs, olds, desired):
                self._last_step[key] = now
        self._cleanup_history(dep)

    def _matching_replicaset(
        self, dep: dict[str, Any], rss: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """The ReplicaSet whose pod template is the deployment's, if there is one."""
        wanted = self._key_of(dep)
        return next((rs for rs in rss if self._key_of(rs) == wanted), None)

    def _key_of(self, obj: dict[str, Any]) -> str:
        # A ReplicaSet's template never changes and a Deployment's changes only with its
        # generation, so the comparable text is computed once per (uid, generation).
        meta = obj["metadata"]
        generation = meta.get("generation", 0) if obj["kind"] == "Deployment" else 0
        cache_key = (meta["uid"], generation)
        key = self._template_keys.get(cache_key)
        if key is None:
            if len(self._template_keys) > 10_000:
                self._template_keys.clear()
            key = self._template_keys[cache_key] = _template_key(obj["spec"]["template"])
        return key

    def _rolling_step(
        self, dep: dict[str, Any], new_rs: dict[str, Any], olds: list[dict[str, Any]], desired: int
    ) -> bool:
        """One step of the RollingUpdate (or Recreate) strategy; True if anything was scaled."""
        strategy = dep["spec"].get("strategy", {})
        everything = [new_rs, *olds]
        if strategy.get("type") == "Recreate":
            changed = False
            for rs in olds:
                if rs["spec"].get("replicas", 0):
                    self._scale_rs(dep, rs, 0)
                    changed = True
            if not changed and not any(self._owned("pods", rs) for rs in olds):
                self._scale_rs(dep, new_rs, desired)
                changed = True
            return changed
        rolling = strategy.get("rollingUpdate", {})
        surge = _resolve(rolling.get("maxSurge", "25%"), desired, round_up=True)
        unavailable = _resolve(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        changed = False
        new_replicas = new_rs["spec"].get("replicas", 0)
        if new_replicas > desired:
            new_rs = self._scale_rs(dep, new_rs, desired)
            changed = True
        elif new_replicas < desired:
            total = sum(rs["spec"].get("replicas", 0) for rs in everything)
            room = min(desired + surge - total, desired - new_replicas)
            if room > 0:
                self._scale_rs(dep, new_rs, new_replicas + room)
                return True  # the real controller also makes one move per sync
        olds = [self._objects["replicasets"][_key(rs)] for rs in olds]
        old_total = sum(rs["spec"].get("replicas", 0) for rs in olds)
        if old_total == 0:
            return changed
        all_total = new_rs["spec"].get("replicas", 0) + old_total
        min_available = desired - unavailable
        new_unavailable = new_rs["spec"].get("replicas", 0) - new_rs.get("status", {}).get(
            "availableReplicas", 0
        )
        budget = all_total - min_available - new_unavailable
        if budget <= 0:
            return changed
        # First shed old replicas that are not available anyway, oldest first.
        for rs in sorted(olds, key=lambda r: _revision(r)):
            if budget <= 0:
                break
            unhealthy = rs["spec"].get("replicas", 0) - rs.get("status", {}).get(
                "availableReplicas", 0
            )
            if unhealthy <= 0:
                continue
            cut = min(budget, unhealthy)
            self._scale_rs(dep, rs, rs["spec"]["replicas"] - cut)
            budget -= cut
            changed = True
        olds = [self._objects["replicasets"][_key(rs)] for rs in olds]
        everything = [self._objects["replicasets"][_key(new_rs)], *olds]
        available = sum(rs.get("status", {}).get("availableReplicas", 0) for rs in everything)
        to_remove = available - min_available
        for rs in sorted(olds, key=lambda r: _revision(r)):
            if to_remove <= 0:
                break
            replicas = rs["spec"].get("replicas", 0)
            if replicas == 0:
                continue
            cut = min(replicas, to_remove)
            self._scale_rs(dep, rs, replicas - cut)
            to_remove -= cut
            changed = True
        return changed

    def _scale_proportionally(
        self,
        dep: dict[str, Any],
        rss: list[dict[str, Any]],
        new_rs: dict[str, Any] | None,
        desired: int,
    ) -> None:
        """A scale of a paused deployment: the difference goes to the newest active set."""
        rss = [self._objects["replicasets"][_key(rs)] for rs in rss]
        total = sum(rs["spec"].get("replicas", 0) for rs in rss)
        if total == desired or not rss:
            return
        active = [rs for rs in rss if rs["spec"].get("replicas", 0) > 0]
        if new_rs is not None:
            new_rs = self._objects["replicasets"][_key(new_rs)]
        target = new_rs if new_rs is not None else (active or rss)[-1]
        if desired > total:
            self._scale_rs(dep, target, target["spec"].get("replicas", 0) + desired - total)
            return
        excess = total - desired
        for rs in sorted(active, key=lambda r: _revision(r)):
            if excess <= 0:
                break
            cut = min(excess, rs["spec"]["replicas"])
            self._scale_rs(dep, rs, rs["spec"]["replicas"] - cut)
            excess -= cut

    def _create_replicaset(
        self, dep: dict[str, Any], revision: int, replicas: int | None
    ) -> dict[str, Any]:
        spec = dep["spec"]
        template = copy.deepcopy(spec["template"])
        pod_hash = _template_hash(template)
        template.setdefault("metadata", {}).setdefault("labels", {})[_HASH] = pod_hash
        desired = int(spec.get("replicas", 1))
        selector = copy.deepcopy(spec.get("selector", {}))
        selector.setdefault("matchLabels", {})[_HASH] = pod_hash
        annotations = {
            k: v for k, v in dep["metadata"].get("annotations", {}).items() if k not in _NOT_COPIED
        }
        rolling = spec.get("strategy", {}).get("rollingUpdate", {})
        annotations[_DESIRED] = str(desired)
        annotations[_MAX] = str(
            desired + _resolve(rolling.get("maxSurge", "25%"), desired, round_up=True)
        )
        annotations[_REVISION] = str(revision)
        name = f"{dep['metadata']['name']}-{pod_hash}"
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": dep["metadata"]["namespace"],
                "labels": copy.deepcopy(template["metadata"]["labels"]),
                "annotations": annotations,
                "ownerReferences": [_owner_ref(dep)],
                "generation": 1,
            },
            "spec": {
                "replicas": desired if replicas is None else replicas,
                "minReadySeconds": spec.get("minReadySeconds", 0),
                "selector": selector,
                "template": template,
            },
            "status": {"replicas": 0},
        }
        stored = self._store("replicasets", rs, created=True)
        if replicas is None or replicas:
            self.record_event(
                dep,
                "ScalingReplicaSet",
                f"Scaled up replica set {name} from 0 to {stored['spec']['replicas']}",
            )
        return stored

    def _bump_revision(self, rs: dict[str, Any], revision: int) -> dict[str, Any]:
        """An undo: the old ReplicaSet becomes the newest revision; its old number moves to
        ``revision-history`` as the real controller does."""
        rs = copy.deepcopy(rs)
        annotations = rs["metadata"].setdefault("annotations", {})
        old = annotations.get(_REVISION)
        if old:
            history = [h for h in annotations.get(_REVISION_HISTORY, "").split(",") if h]
            history.append(old)
            annotations[_REVISION_HISTORY] = ",".join(history)
        annotations[_REVISION] = str(revision)
        return self._store("replicasets", rs)

    def _copy_annotations(self, dep: dict[str, Any], rs: dict[str, Any]) -> dict[str, Any]:
        wanted = {
            k: v for k, v in dep["metadata"].get("annotations", {}).items() if k not in _NOT_COPIED
        }
        current = rs["metadata"].get("annotations", {})
        if all(current.get(k) == v for k, v in wanted.items()):
            return rs
        rs = copy.deepcopy(rs)
        rs["metadata"].setdefault("annotations", {}).update(wanted)
        return self._store("replicasets", rs)

    def _scale_rs(self, dep: dict[str, Any], rs: dict[str, Any], replicas: int) -> dict[str, Any]:
        rs = copy.deepcopy(self._objects["replicasets"][_key(rs)])
        before = rs["spec"].get("replicas", 0)
        if before == replicas:
            return rs
        rs["spec"]["replicas"] = replicas
        rs["metadata"]["generation"] = rs["metadata"].get("generation", 1) + 1
        desired = int(dep["spec"].get("replicas", 1))
        rolling = dep["spec"].get("strategy", {}).get("rollingUpdate", {})
        annotations = rs["metadata"].setdefault("annotations", {})
        annotations[_DESIRED] = str(desired)
        annotations[_MAX] = str(
            desired + _resolve(rolling.get("maxSurge", "25%"), desired, round_up=True)
        )
        stored = self._store("replicasets", rs)
        direction = "up" if replicas > before else "down"
        self.record_event(
            dep,
            "ScalingReplicaSet",
            f"Scaled {direction} replica set {rs['metadata']['name']} from {before} to {replicas}",
        )
        self._kick()
        return stored

    def _cleanup_history(self, dep: dict[str, Any]) -> None:
        limit = int(dep["spec"].get("revisionHistoryLimit", 10))
        dep = self._objects["deployments"][_key(dep)]
        rss = self._owned("replicasets", dep)
        current = dep["metadata"].get("annotations", {}).get(_REVISION)
        idle = [
            rs
            for rs in rss
            if rs["spec"].get("replicas", 0) == 0
            and rs.get("status", {}).get("replicas", 0) == 0
            and rs["metadata"].get("annotations", {}).get(_REVISION) != current
            and not self._owned("pods", rs)
        ]
        idle.sort(key=_revision)
        for rs in idle[: max(len(idle) - limit, 0)]:
            self._remove("replicasets", _key(rs))

    def _sync_deployment_status(self, namespace: str, name: str) -> None:
        dep = self._objects["deployments"][(namespace, name)]
        spec = dep["spec"]
        rss = self._owned("replicasets", dep)
        new_rs = self._matching_replicaset(dep, rss)
        desired = int(spec.get("replicas", 1))

        def total(key: str, sets: list[dict[str, Any]]) -> int:
            return sum(rs.get("status", {}).get(key, 0) for rs in sets)

        available = total("availableReplicas", rss)
        spec_total = sum(rs["spec"].get("replicas", 0) for rs in rss)
        status: dict[str, Any] = {
            "observedGeneration": dep["metadata"].get("generation", 1),
            "replicas": total("replicas", rss),
            "updatedReplicas": total("replicas", [new_rs]) if new_rs else 0,
            "readyReplicas": total("readyReplicas", rss),
            "availableReplicas": available,
            "unavailableReplicas": max(spec_total - available, 0),
        }
        strategy = spec.get("strategy", {})
        if strategy.get("type") == "Recreate":
            max_unavailable = 0
        else:
            rolling = strategy.get("rollingUpdate", {})
            max_unavailable = _resolve(rolling.get("maxUnavailable", "25%"), desired, False)
            if (
                max_unavailable == 0
                and _resolve(rolling.get("maxSurge", "25%"), desired, True) == 0
            ):
                max_unavailable = 1
            max_unavailable = min(max_unavailable, desired)
        now = format_time(self.clock())
        old_status = dep.get("status", {})
        old_conditions = {c["type"]: c for c in old_status.get("conditions", [])}

        def condition(
            kind: str, state: str, reason: str, message: str, progress: bool
        ) -> dict[str, Any]:
            old: dict[str, Any] = old_conditions.get(kind) or {}
            same = bool(old) and old["status"] == state
            unchanged = same and old["reason"] == reason and old["message"] == message
            return {
                "type": kind,
                "status": state,
                "lastUpdateTime": old["lastUpdateTime"] if unchanged and not progress else now,
                "lastTransitionTime": old["lastTransitionTime"] if same else now,
                "reason": reason,
                "message": message,
            }

        if available >= desired - max_unavailable:
            available_condition = condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                False,
            )
        else:
            available_condition = condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                False,
            )
        rs_name = new_rs["metadata"]["name"] if new_rs else ""
        counts = ("updatedReplicas", "readyReplicas", "availableReplicas", "replicas")
        progressed = any(status[k] != old_status.get(k, 0) for k in counts)
        old_progressing = old_conditions.get("Progressing")
        if spec.get("paused"):
            progressing = condition(
                "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", False
            )
        elif (
            new_rs is not None
            and status["updatedReplicas"] == desired
            and status["replicas"] == desired
            and available == desired
        ):
            progressing = condition(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
                False,
            )
        elif old_progressing is not None and old_progressing["reason"] == "DeploymentPaused":
            progressing = condition(
                "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", False
            )
        else:
            deadline = int(spec.get("progressDeadlineSeconds", 600))
            last = old_progressing and old_progressing.get("lastUpdateTime")
            stalled = (
                not progressed
                and old_progressing is not None
                and old_progressing["reason"] in ("ReplicaSetUpdated", "ProgressDeadlineExceeded")
                and last
                and self.clock() - _parse_time(last) > deadline
            )
            if stalled:
                progressing = condition(
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{rs_name}" has timed out progressing.',
                    False,
                )
            else:
                progressing = condition(
                    "Progressing",
                    "True",
                    "ReplicaSetUpdated",
                    f'ReplicaSet "{rs_name}" is progressing.',
                    progressed,
                )
        # The order the real controller writes them in: Available, then Progressing.
        status["conditions"] = [available_condition, progressing]
        status = {k: v for k, v in status.items() if v not in (0, None)}
        if status != old_status:
            dep = copy.deepcopy(dep)
            dep["status"] = status
            self._store("deployments", dep)

    # -- replica sets

    def _sync_replicaset(self, namespace: str, name: str) -> None:
        rs = self._objects["replicasets"].get((namespace, name))
        if rs is None:
            return
        pods = self._owned("pods", rs)
        active = [pod for pod in pods if _active(pod)]
        desired = rs["spec"].get("replicas", 0)
        if len(active) < desired:
            for _ in range(desired - len(active)):
                pod = self._create_pod(rs)
                pod_name = pod["metadata"]["name"]
                self.record_event(
                    rs,
                    "SuccessfulCreate",
                    f"Created pod: {pod_name}",
                    component="replicaset-controller",
                )
                self.record_event(
                    pod,
                    "Scheduled",
                    f"Successfully assigned {namespace}/{pod_name} to {NODE_NAME}",
                    component="default-scheduler",
                )
        elif len(active) > desired:
            # Pods that are not ready go first, then the youngest, as the real controller ranks.
            ranked = sorted(
                enumerate(active),
                key=lambda item: (
                    _pod_ready(item[1]),
                    item[1]["status"].get("phase") == "Running",
                    -item[0],
                ),
            )
            for _, pod in ranked[: len(active) - desired]:
                self._terminate_pod(pod, None, by_user=False)
                self.record_event(
                    rs,
                    "SuccessfulDelete",
                    f"Deleted pod: {pod['metadata']['name']}",
                    component="replicaset-controller",
                )
        pods = [pod for pod in self._owned("pods", rs) if _active(pod)]
        ready = sum(1 for pod in pods if _pod_ready(pod))
        status = {
            "replicas": len(pods),
            "fullyLabeledReplicas": len(pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        status = {k: v for k, v in status.items() if v or k == "replicas"}
        if status != rs.get("status"):
            rs = copy.deepcopy(rs)
            rs["status"] = status
            self._store("replicasets", rs)

    # -- pods (the simulated kubelet)

    def _create_pod(
        self, rs: dict[str, Any], *, started_ago: float | None = None
    ) -> dict[str, Any]:
        template = rs["spec"]["template"]
        namespace = rs["metadata"]["namespace"]
        while True:
            name = f"{rs['metadata']['name']}-{_random_suffix()}"
            if (namespace, name) not in self._objects["pods"]:
                break
        spec = copy.deepcopy(template.get("spec", {}))
        spec["nodeName"] = NODE_NAME
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("priority", 0)
        spec.setdefault(
            "tolerations",
            [
                {
                    "key": f"node.kubernetes.io/{taint}",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                }
                for taint in ("not-ready", "unreachable")
            ],
        )
        meta = template.get("metadata", {})
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "generateName": f"{rs['metadata']['name']}-",
                "namespace": namespace,
                "labels": copy.deepcopy(meta.get("labels", {})),
                "annotations": copy.deepcopy(meta.get("annotations", {})),
                "ownerReferences": [_owner_ref(rs)],
            },
            "spec": spec,
            "status": {},
        }
        if not pod["metadata"]["annotations"]:
            del pod["metadata"]["annotations"]
        self._pod_ips += 1
        behaviour = "ok"
        containers = {
            c["name"]: _Container(c["name"], c.get("image", "")) for c in spec.get("containers", [])
        }
        runtime = _PodRuntime(
            behaviour="ok",
            stage="creating",
            due=None,
            containers=containers,
            ip=f"10.244.{self._pod_ips // 250}.{self._pod_ips % 250 + 2}",
        )
        created_at = self.clock() - (started_ago or 0.0)
        pod["status"] = self._pod_status(pod, runtime, created_at)
        stored = self._store("pods", pod, created=True, created_at=created_at)
        behaviour = self.pod_behaviour(copy.deepcopy(stored))
        runtime.behaviour = behaviour
        self._runtime[(namespace, name)] = runtime
        if started_ago is not None:
            self._start_pod(namespace, name, at=created_at + 1)
        else:
            runtime.due = self.clock() + self.pod_start_delay
        return stored

    def _pod_status(
        self, pod: dict[str, Any], runtime: _PodRuntime, created_at: float | None = None
    ) -> dict[str, Any]:
        """The pod's status as the kubelet would report it for the runtime's stage."""
        old = pod.get("status", {})
        start = old.get("startTime") or format_time(
            created_at if created_at is not None else self.clock()
        )
        stage = runtime.stage
        terminating = bool(pod["metadata"].get("deletionTimestamp"))
        running = any(c.started_at is not None for c in runtime.containers.values())
        ready = stage == "running" and not terminating
        statuses = []
        for spec in pod["spec"].get("containers", []):
            state = runtime.containers[spec["name"]]
            entry: dict[str, Any] = {
                "name": spec["name"],
                "image": spec.get("image", ""),
                "imageID": _image_id(spec.get("image", "")) if stage != "creating" else "",
                "ready": ready,
                "restartCount": state.restarts,
                "started": state.logs is not None and not state.logs.closed,
            }
            if state.container_id:
                entry["containerID"] = state.container_id
            if state.started_at is None:
                entry["state"] = {"waiting": {"reason": "ContainerCreating"}}
            elif stage == "backoff":
                entry["state"] = {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": (
                            f"back-off {10 * 2 ** min(max(state.restarts - 1, 0), 5)}s "
                            "restarting failed "
                            f"container={spec['name']} pod={pod['metadata']['name']}_"
                            f"{pod['metadata']['namespace']}({pod['metadata'].get('uid', '')})"
                        ),
                    }
                }
            else:
                entry["state"] = {"running": {"startedAt": format_time(state.started_at or 0)}}
            if state.last_exit is not None:
                entry["lastState"] = {"terminated": state.last_exit}
            else:
                entry["lastState"] = {}
            statuses.append(entry)
        now = format_time(self.clock())
        names = [c["name"] for c in pod["spec"].get("containers", [])]

        def cond(kind: str, ok: bool) -> dict[str, Any]:
            previous = next((c for c in old.get("conditions", []) if c["type"] == kind), None)
            status = "True" if ok else "False"
            entry = {
                "type": kind,
                "status": status,
                "lastProbeTime": None,
                "lastTransitionTime": previous["lastTransitionTime"]
                if previous and previous["status"] == status
                else now,
            }
            if not ok and kind in ("Ready", "ContainersReady"):
                entry["reason"] = "ContainersNotReady"
                entry["message"] = f"containers with unready status: [{' '.join(names)}]"
            return entry

        status: dict[str, Any] = {
            "phase": "Running" if running else "Pending",
            "conditions": [
                cond("PodReadyToStartContainers", stage != "creating"),
                cond("Initialized", True),
                cond("Ready", ready),
                cond("ContainersReady", ready),
                cond("PodScheduled", True),
            ],
            "hostIP": HOST_IP,
            "hostIPs": [{"ip": HOST_IP}],
            "startTime": start,
            "containerStatuses": statuses,
            "qosClass": "BestEffort",
        }
        if stage != "creating":
            status["podIP"] = runtime.ip
            status["podIPs"] = [{"ip": runtime.ip}]
        return status

    def _refresh_pod(self, namespace: str, name: str) -> dict[str, Any]:
        pod = copy.deepcopy(self._objects["pods"][(namespace, name)])
        pod["status"] = self._pod_status(pod, self._runtime[(namespace, name)])
        return self._store("pods", pod)

    def _start_pod(self, namespace: str, name: str, at: float | None = None) -> None:
        runtime = self._runtime[(namespace, name)]
        now = self.clock() if at is None else at
        crash = runtime.behaviour == "crash"
        runtime.stage = "crash-running" if crash else "running"
        runtime.due = self.clock() + self.crash_run_time if crash else None
        for state in runtime.containers.values():
            self._start_container(state, now)
        pod = self._refresh_pod(namespace, name)
        for spec in pod["spec"]["containers"]:
            for reason, message in (
                ("Pulled", f'Container image "{spec.get("image", "")}" already present on machine'),
                ("Created", f"Created container {spec['name']}"),
                ("Started", f"Started container {spec['name']}"),
            ):
                self.record_event(pod, reason, message, component="kubelet")
        for hook in list(self.on_pod_started):
            hook(copy.deepcopy(pod))
        if crash:
            self._print_crash(pod, runtime)

    def _start_container(self, state: _Container, now: float) -> None:
        state.logs = _LogBuffer(self.log_buffer_lines)
        state.started_at = now
        state.container_id = f"containerd://{random.getrandbits(256):064x}"

    def _print_crash(
        self, pod: dict[str, Any], runtime: _PodRuntime, *, exiting: bool = False
    ) -> None:
        """A crashing container's own lines: all but the last as it starts, the last (its
        fatal error) as it exits."""
        lines = self.crash_log(copy.deepcopy(pod))
        lines = lines[-1:] if exiting else lines[:-1]
        now = datetime.fromtimestamp(self.clock(), UTC)
        for state in runtime.containers.values():
            self.append_logs(
                pod["metadata"]["namespace"],
                pod["metadata"]["name"],
                state.name,
                [LogRecord(now, text) for text in lines],
            )

    def _advance_pods(self) -> None:
        now = self.clock()
        for key, runtime in list(self._runtime.items()):
            if runtime.due is None or runtime.due > now or key not in self._objects["pods"]:
                continue
            namespace, name = key
            if runtime.stage == "creating":
                self._start_pod(namespace, name)
            elif runtime.stage == "crash-running":
                self._print_crash(self._objects["pods"][key], runtime, exiting=True)
                for state in runtime.containers.values():
                    finished = format_time(now)
                    state.last_exit = {
                        "exitCode": 1,
                        "reason": "Error",
                        "startedAt": format_time(state.started_at or now),
                        "finishedAt": finished,
                        "containerID": state.container_id,
                    }
                    if state.logs is not None:
                        state.logs.closed = True
                        state.logs.wake()
                    state.previous, state.logs = state.logs, None
                runtime.stage = "backoff"
                runtime.due = now + self.crash_backoff
                pod = self._refresh_pod(namespace, name)
                for state in runtime.containers.values():
                    self.record_event(
                        pod,
                        "BackOff",
                        f"Back-off restarting failed container {state.name} in pod "
                        f"{name}_{namespace}({pod['metadata']['uid']})",
                        event_type="Warning",
                        component="kubelet",
                    )
            elif runtime.stage == "backoff":
                for state in runtime.containers.values():
                    state.restarts += 1
                    self._start_container(state, now)
                runtime.stage = "crash-running"
                runtime.due = now + self.crash_run_time
                pod = self._refresh_pod(namespace, name)
                self._print_crash(pod, runtime)
            elif runtime.stage == "terminating":
                self._remove_pod(namespace, name)

    def _terminate_pod(
        self, pod: dict[str, Any], grace_period: int | None, *, by_user: bool
    ) -> dict[str, Any]:
        key = _key(pod)
        current = self._objects["pods"][key]
        if current["metadata"].get("deletionTimestamp"):
            if grace_period == 0:
                self._remove_pod(*key)
            return current
        if grace_period == 0:
            self._remove_pod(*key)
            return current
        runtime = self._runtime[key]
        grace = int(current["spec"].get("terminationGracePeriodSeconds", 30))
        if grace_period is not None:
            grace = grace_period
        pod = copy.deepcopy(current)
        pod["metadata"]["deletionTimestamp"] = format_time(self.clock() + grace)
        pod["metadata"]["deletionGracePeriodSeconds"] = grace
        runtime.stage = "terminating"
        runtime.due = self.clock() + self.pod_stop_delay
        pod["status"] = self._pod_status(pod, runtime)
        stored = self._store("pods", pod)
        for spec in pod["spec"]["containers"]:
            self.record_event(
                stored, "Killing", f"Stopping container {spec['name']}", component="kubelet"
            )
        self._kick()
        return stored

    def _remove_pod(self, namespace: str, name: str) -> None:
        runtime = self._runtime.pop((namespace, name), None)
        if runtime is not None:
            for state in runtime.containers.values():
                for buffer in (state.logs, state.previous):
                    if buffer is not None:
                        buffer.closed = True
                        buffer.wake()
        pod = self._objects["pods"].get((namespace, name))
        if pod is None:
            return
        self._remove("pods", (namespace, name))
        for hook in list(self.on_pod_stopped):
            hook(copy.deepcopy(pod))
        self._kick()

    def _settle(self, namespace: str, name: str, age: float) -> None:
        """Seed a deployment as rolled out long ago: one ReplicaSet, Running pods."""
        dep = copy.deepcopy(self._objects["deployments"][(namespace, name)])
        created_at = self.clock() - age
        dep["metadata"]["creationTimestamp"] = format_time(created_at)
        dep = self._store("deployments", dep)
        rs = self._create_replicaset(dep, 1, replicas=None)
        rs = copy.deepcopy(rs)
        rs["metadata"]["creationTimestamp"] = format_time(created_at)
        rs = self._store("replicasets", rs)
        for _ in range(rs["spec"]["replicas"]):
            self._create_pod(rs, started_ago=age)
        self._sync_all()

    # -- admission: defaults and validation

    def _admit_deployment(self, current: dict[str, Any] | None, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        name = meta.get("name", "")
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxSurge", "25%")
            rolling.setdefault("maxUnavailable", "25%")
        template = spec.setdefault("template", {})
        pod_spec = template.setdefault("spec", {})
        _default_pod_spec(pod_spec)
        problems: list[tuple[str, str]] = []
        if not _DNS_LABEL.match(name) or len(name) > 63:
            problems.append(
                (
                    "metadata.name",
                    f"Invalid value: \"{name}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'",
                )
            )
        replicas = spec.get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            problems.append(
                ("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")
            )
        try:
            selector = LabelSelector.from_spec(spec.get("selector"))
        except (SelectorError, KeyError, TypeError):
            selector = LabelSelector()
            problems.append(("spec.selector", "Invalid value: the selector does not parse"))
        if selector.empty:
            problems.append(("spec.selector", "Required value"))
        elif not selector.matches(template.get("metadata", {}).get("labels")):
            problems.append(
                (
                    "spec.template.metadata.labels",
                    f"Invalid value: {json.dumps(template.get('metadata', {}).get('labels', {}))}: "
                    "`selector` does not match template `labels`",
                )
            )
        if current is not None and _canonical(current["spec"].get("selector")) != _canonical(
            spec.get("selector")
        ):
            problems.append(("spec.selector", "Invalid value: field is immutable"))
        for strategy_field in ("maxSurge", "maxUnavailable"):
            value = strategy.get("rollingUpdate", {}).get(strategy_field)
            if value is not None and not (
                (isinstance(value, int) and value >= 0)
                or (isinstance(value, str) and re.fullmatch(r"\d+%", value))
            ):
                problems.append(
                    (
                        f"spec.strategy.rollingUpdate.{strategy_field}",
                        f"Invalid value: {value!r}: must be an integer or percentage (e.g '5%')",
                    )
                )
        problems.extend(_validate_pod_spec(pod_spec, "spec.template.spec"))
        if problems:
            raise ApiError.invalid("deployments", name, problems)
        if current is None:
            meta["generation"] = 1
        else:
            meta["generation"] = current["metadata"].get("generation", 1)
            if _canonical(current["spec"]) != _canonical(spec):
                meta["generation"] += 1
            obj["status"] = copy.deepcopy(current.get("status", {}))

    def _admit_secret(self, current: dict[str, Any] | None, obj: dict[str, Any]) -> None:
        name = obj["metadata"].get("name", "")
        obj.setdefault("type", "Opaque")
        data = dict(obj.get("data") or {})
        problems: list[tuple[str, str]] = []
        for key, value in data.items():
            if not _SECRET_KEY.match(key):
                problems.append(
                    (
                        f"data[{key}]",
                        f"Invalid value: \"{key}\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                    )
                )
            try:
                base64.b64decode(str(value), validate=True)
            except (binascii.Error, ValueError):
                problems.append((f"data[{key}]", "Invalid value: illegal base64 data"))
        for key, value in (obj.pop("stringData", None) or {}).items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        if data:
            obj["data"] = data
        else:
            obj.pop("data", None)
        if current is not None and current.get("type", "Opaque") != obj["type"]:
            problems.append(("type", "Invalid value: field is immutable"))
        if (
            current is not None
            and current.get("immutable")
            and current.get("data") != obj.get("data")
        ):
            problems.append(("data", "Forbidden: field is immutable when `immutable` is set"))
        if problems:
            raise ApiError.invalid("secrets", name, problems)

    # -- storage and change history

    def __post_init__(self) -> None:
        self._rv = 0
        self._objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {
            name: {} for name in RESOURCES
        }
        self._history: dict[str, deque[_Change]] = {name: deque() for name in RESOURCES}
        self._history_floor: dict[str, int] = dict.fromkeys(RESOURCES, 0)
        self._watchers: dict[str, set[Watch]] = {name: set() for name in RESOURCES}
        self._runtime: dict[tuple[str, str], _PodRuntime] = {}
        self._last_step: dict[tuple[str, str], float] = {}
        self._stepping = False
        self._pod_ips = 0
        self._template_keys: dict[tuple[str, int], str] = {}

    def _store(
        self,
        resource: str,
        obj: dict[str, Any],
        *,
        created: bool = False,
        created_at: float | None = None,
    ) -> dict[str, Any]:
        """Write an object (the caller hands over ownership) with a new resourceVersion."""
        meta = obj["metadata"]
        key = (meta.get("namespace", "") if RESOURCES[resource].namespaced else "", meta["name"])
        previous = self._objects[resource].get(key)
        if created:
            meta["uid"] = str(uuid.uuid4())
            meta.setdefault(
                "creationTimestamp",
                format_time(self.clock() if created_at is None else created_at),
            )
        self._rv += 1
        meta["resourceVersion"] = str(self._rv)
        self._objects[resource][key] = obj
        self._emit(
            resource, _Change(self._rv, "ADDED" if previous is None else "MODIFIED", obj, previous)
        )
        return obj

    def _remove(self, resource: str, key: tuple[str, str]) -> None:
        obj = self._objects[resource].pop(key, None)
        if obj is None:
            return
        self._rv += 1
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = str(self._rv)
        self._emit(resource, _Change(self._rv, "DELETED", gone, obj))

    def _emit(self, resource: str, change: _Change) -> None:
        history = self._history[resource]
        history.append(change)
        while len(history) > self.watch_history:
            self._history_floor[resource] = history.popleft().rv
        for watcher in self._watchers[resource]:
            watcher._push(change)


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _strip_rv(obj: dict[str, Any]) -> dict[str, Any]:
    obj = dict(obj)
    obj["metadata"] = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
    return obj


def _owner_ref(owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _parse_time(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def _selectors(
    label_selector: str | None, field_selector: str | None
) -> tuple[LabelSelector, FieldSelector]:
    try:
        return LabelSelector.parse(label_selector), FieldSelector.parse(field_selector)
    except SelectorError as error:
        raise ApiError.bad_request(str(error)) from None


def _default_pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for container in spec.get("containers") or []:
        if not isinstance(container, dict):
            continue
        image = str(container.get("image", ""))
        latest = ":" not in image.split("/")[-1] or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        for port in container.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
        for env in container.get("env") or []:
            field_ref = isinstance(env, dict) and (env.get("valueFrom") or {}).get("fieldRef")
            if isinstance(field_ref, dict):
                field_ref.setdefault("apiVersion", "v1")


def _validate_pod_spec(spec: dict[str, Any], path: str) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return [(f"{path}.containers", "Required value")]
    seen: set[str] = set()
    for index, container in enumerate(containers):
        where = f"{path}.containers[{index}]"
        if not isinstance(container, dict):
            problems.append((where, "Invalid value: must be an object"))
            continue
        name = container.get("name")
        if not isinstance(name, str) or not _DNS_LABEL.match(name):
            problems.append(
                (
                    f"{where}.name",
                    f"Invalid value: {name!r}: a lowercase RFC 1123 label is required",
                )
            )
        elif name in seen:
            problems.append((f"{where}.name", f'Duplicate value: "{name}"'))
        seen.add(str(name))
        if not container.get("image"):
            problems.append((f"{where}.image", "Required value"))
        env_names: set[str] = set()
        for env_index, env in enumerate(container.get("env") or []):
            env_where = f"{where}.env[{env_index}]"
            if not isinstance(env, dict) or not isinstance(env.get("name"), str):
                problems.append((f"{env_where}.name", "Required value"))
                continue
            if not _ENV_NAME.match(env["name"]):
                problems.append(
                    (
                        f"{env_where}.name",
                        f"Invalid value: \"{env['name']}\": a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit",
                    )
                )
            if "value" in env and "valueFrom" in env:
                problems.append(
                    (
                        f"{env_where}.valueFrom",
                        "Invalid value: may not be specified when `value` is not empty",
                    )
                )
            env_names.add(env["name"])
    return problems
