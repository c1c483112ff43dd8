"""The simulated kubelet on the cluster's one node: it starts and stops the pods the
replica-set controller creates and deletes, reports their status, keeps each container's
log, and runs a crashing container through CrashLoopBackOff, its restartCount rising."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import itertools
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from tui.sandbox.kube.events import Events
from tui.sandbox.kube.settings import HOST_IP, NODE_NAME, ClusterSettings
from tui.sandbox.kube.store import (
    Store,
    format_time,
    object_key,
    owner_ref,
    random_suffix,
)

__all__ = ["Kubelet", "LogCursor", "LogRecord", "pod_active", "pod_ready"]


@dataclass(frozen=True)
class LogRecord:
    """One line of one container's log."""

    time: datetime  # UTC, aware
    text: str  # without the trailing newline


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


def _image_id(image: str) -> str:
    name = image.split("@")[0].rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image
    if "/" not in name:
        name = f"docker.io/library/{name}"
    return f"{name}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def pod_ready(pod: dict[str, Any]) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    for condition in pod.get("status", {}).get("conditions", []):
        if condition["type"] == "Ready":
            return bool(condition["status"] == "True")
    return False


def pod_active(pod: dict[str, Any]) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and pod.get("status", {}).get(
        "phase"
    ) not in ("Succeeded", "Failed")


class Kubelet:
    """Pods' life on the node, each a ``_PodRuntime``: created, then (``due`` later)
    Running, crashing or Terminating, then gone; ``kick`` wakes the controller loop."""

    def __init__(
        self,
        settings: ClusterSettings,
        store: Store,
        events: Events,
        kick: Callable[[], None],
    ) -> None:
        self._settings = settings
        self._store = store
        self._events = events
        self._kick = kick
        self.runtime: dict[tuple[str, str], _PodRuntime] = {}
        self._pod_ips = 0

    # -- logs

    def append_logs(
        self, namespace: str, pod: str, container: str, records: list[LogRecord]
    ) -> None:
        """Append lines to a running container's log and wake its followers. Called in
        batches by the world at up to 50,000 lines/s in all; it must stay cheap."""
        runtime = self.runtime.get((namespace, pod))
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
            for (namespace, pod), runtime in self.runtime.items()
            for name, state in runtime.containers.items()
            if state.logs is not None and not state.logs.closed
        ]

    # -- pods

    def create_pod(self, rs: dict[str, Any], *, started_ago: float | None = None) -> dict[str, Any]:
        template = rs["spec"]["template"]
        namespace = rs["metadata"]["namespace"]
        while True:
            name = f"{rs['metadata']['name']}-{random_suffix()}"
            if (namespace, name) not in self._store.objects["pods"]:
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
                "ownerReferences": [owner_ref(rs)],
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
        created_at = self._settings.clock() - (started_ago or 0.0)
        pod["status"] = self._pod_status(pod, runtime, created_at)
        stored = self._store.put("pods", pod, created=True, created_at=created_at)
        behaviour = self._settings.pod_behaviour(copy.deepcopy(stored))
        runtime.behaviour = behaviour
        self.runtime[(namespace, name)] = runtime
        if started_ago is not None:
            self._start_pod(namespace, name, at=created_at + 1)
        else:
            runtime.due = self._settings.clock() + self._settings.pod_start_delay
        return stored

    def _pod_status(
        self, pod: dict[str, Any], runtime: _PodRuntime, created_at: float | None = None
    ) -> dict[str, Any]:
        """The pod's status as the kubelet would report it for the runtime's stage."""
        old = pod.get("status", {})
        start = old.get("startTime") or format_time(
            created_at if created_at is not None else self._settings.clock()
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
        now = format_time(self._settings.clock())
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
        pod = copy.deepcopy(self._store.objects["pods"][(namespace, name)])
        pod["status"] = self._pod_status(pod, self.runtime[(namespace, name)])
        return self._store.put("pods", pod)

    def _start_pod(self, namespace: str, name: str, at: float | None = None) -> None:
        runtime = self.runtime[(namespace, name)]
        now = self._settings.clock() if at is None else at
        crash = runtime.behaviour == "crash"
        runtime.stage = "crash-running" if crash else "running"
        runtime.due = self._settings.clock() + self._settings.crash_run_time if crash else None
        for state in runtime.containers.values():
            self._start_container(state, now)
        pod = self._refresh_pod(namespace, name)
        for spec in pod["spec"]["containers"]:
            for reason, message in (
                ("Pulled", f'Container image "{spec.get("image", "")}" already present on machine'),
                ("Created", f"Created container {spec['name']}"),
                ("Started", f"Started container {spec['name']}"),
            ):
                self._events.record(pod, reason, message, component="kubelet")
        for hook in list(self._settings.on_pod_started):
            hook(copy.deepcopy(pod))
        if crash:
            self._print_crash(pod, runtime)

    def _start_container(self, state: _Container, now: float) -> None:
        state.logs = _LogBuffer(self._settings.log_buffer_lines)
        state.started_at = now
        state.container_id = f"containerd://{random.getrandbits(256):064x}"

    def _print_crash(
        self, pod: dict[str, Any], runtime: _PodRuntime, *, exiting: bool = False
    ) -> None:
        """A crashing container's own lines: all but the last as it starts, the last (its
        fatal error) as it exits."""
        lines = self._settings.crash_log(copy.deepcopy(pod))
        lines = lines[-1:] if exiting else lines[:-1]
        now = datetime.fromtimestamp(self._settings.clock(), UTC)
        for state in runtime.containers.values():
            self.append_logs(
                pod["metadata"]["namespace"],
                pod["metadata"]["name"],
                state.name,
                [LogRecord(now, text) for text in lines],
            )

    def advance_pods(self) -> None:
        now = self._settings.clock()
        for key, runtime in list(self.runtime.items()):
            if runtime.due is None or runtime.due > now or key not in self._store.objects["pods"]:
                continue
            namespace, name = key
            if runtime.stage == "creating":
                self._start_pod(namespace, name)
            elif runtime.stage == "crash-running":
                self._print_crash(self._store.objects["pods"][key], runtime, exiting=True)
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
                runtime.due = now + self._settings.crash_backoff
                pod = self._refresh_pod(namespace, name)
                for state in runtime.containers.values():
                    self._events.record(
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
                runtime.due = now + self._settings.crash_run_time
                pod = self._refresh_pod(namespace, name)
                self._print_crash(pod, runtime)
            elif runtime.stage == "terminating":
                self._remove_pod(namespace, name)

    def terminate_pod(
        self, pod: dict[str, Any], grace_period: int | None, *, by_user: bool
    ) -> dict[str, Any]:
        key = object_key(pod)
        current = self._store.objects["pods"][key]
        if current["metadata"].get("deletionTimestamp"):
            if grace_period == 0:
                self._remove_pod(*key)
            return current
        if grace_period == 0:
            self._remove_pod(*key)
            return current
        runtime = self.runtime[key]
        grace = int(current["spec"].get("terminationGracePeriodSeconds", 30))
        if grace_period is not None:
            grace = grace_period
        pod = copy.deepcopy(current)
        pod["metadata"]["deletionTimestamp"] = format_time(self._settings.clock() + grace)
        pod["metadata"]["deletionGracePeriodSeconds"] = grace
        runtime.stage = "terminating"
        runtime.due = self._settings.clock() + self._settings.pod_stop_delay
        pod["status"] = self._pod_status(pod, runtime)
        stored = self._store.put("pods", pod)
        for spec in pod["spec"]["containers"]:
            self._events.record(
                stored, "Killing", f"Stopping container {spec['name']}", component="kubelet"
            )
        self._kick()
        return stored

    def _remove_pod(self, namespace: str, name: str) -> None:
        runtime = self.runtime.pop((namespace, name), None)
        if runtime is not None:
            for state in runtime.containers.values():
                for buffer in (state.logs, state.previous):
                    if buffer is not None:
                        buffer.closed = True
                        buffer.wake()
        pod = self._store.objects["pods"].get((namespace, name))
        if pod is None:
            return
        self._store.remove("pods", (namespace, name))
        for hook in list(self._settings.on_pod_stopped):
            hook(copy.deepcopy(pod))
        self._kick()
