"""The sandbox's simulated Kubernetes cluster: namespaces, deployments, replica sets, pods,
secrets, events and pod logs, with a deployment controller that rolls pods like the real one.

The cluster is its settings (:mod:`~tui.sandbox.kube.settings`) and four parts that share
them: the object store and its watches (:mod:`~tui.sandbox.kube.store`), the Events
recorder (:mod:`~tui.sandbox.kube.events`), the kubelet (:mod:`~tui.sandbox.kube.kubelet`)
and the controllers (:mod:`~tui.sandbox.kube.controllers`); writes pass admission
(:mod:`~tui.sandbox.kube.admission`). This module is the API over them plus the asyncio
loop that drives them; the HTTP face that kubectl and the kubernetes package talk to is
:mod:`tui.sandbox.kube.api`.

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
  operations :mod:`tui.sandbox.kube.api` serves; refusals are :class:`ApiError`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tui.sandbox.kube.admission import admit_deployment, admit_secret
from tui.sandbox.kube.controllers import Controllers
from tui.sandbox.kube.events import Events
from tui.sandbox.kube.kubelet import Kubelet, LogCursor, LogRecord, pod_ready
from tui.sandbox.kube.selectors import FieldSelector, LabelSelector, SelectorError
from tui.sandbox.kube.settings import ClusterSettings
from tui.sandbox.kube.store import (
    RESOURCES,
    ApiError,
    Change,
    Store,
    Watch,
    canonical,
    format_time,
    random_suffix,
)

__all__ = ["Cluster"]


@dataclass
class Cluster(ClusterSettings):
    """The simulated cluster: its settings, and the store, events, kubelet and controllers
    made with them."""

    _wakeup: asyncio.Event | None = field(init=False, repr=False, default=None)
    """Set to run the controller loop now instead of at its next step."""
    writes: dict[tuple[str, str], int] = field(default_factory=dict)
    """API writes accepted so far by ``(verb, resource)``: ``("patch", "deployments")``.
    Dry-run requests are not counted."""

    def __post_init__(self) -> None:
        self._store = Store(self)
        self._events = Events(self, self._store)
        self._kubelet = Kubelet(self, self._store, self._events, self._kick)
        self._controllers = Controllers(self, self._store, self._events, self._kubelet, self._kick)

    # seeding --------------------------------------------------------------------------

    def create_namespace(self, name: str) -> dict[str, Any]:
        key = ("", name)
        if key in self._store.objects["namespaces"]:
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
        return copy.deepcopy(self._store.put("namespaces", obj, created=True))

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
        obj = self._store.objects["secrets"].get((namespace, name))
        if obj is None:
            return None
        encoded = obj.get("data", {}).get(key)
        if encoded is None:
            return None
        return base64.b64decode(encoded).decode("utf-8", "replace")

    def ready_pods(self, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
        """The pods that are Ready and not terminating (those that serve traffic)."""
        return [pod for pod in self.pods(namespace, selector) if pod_ready(pod)]

    @property
    def resource_version(self) -> int:
        """The cluster's latest resourceVersion."""
        return self._store.rv

    # logs -------------------------------------------------------------------------------

    def append_logs(
        self, namespace: str, pod: str, container: str, records: list[LogRecord]
    ) -> None:
        """Append lines to a running container's log and wake its followers (the kubelet's)."""
        self._kubelet.append_logs(namespace, pod, container, records)

    def running_containers(self) -> list[tuple[str, str, str]]:
        """``(namespace, pod, container)`` of every container that is running now."""
        return self._kubelet.running_containers()

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
        obj = self._store.objects["pods"].get((namespace, pod))
        runtime = self._kubelet.runtime.get((namespace, pod))
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
        obj = self._store.objects[resource].get((namespace or "", name))
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
            for (ns, _), obj in self._store.objects[resource].items()
            if (not namespace or ns == namespace)
            and labels.matches(obj["metadata"].get("labels"))
            and fields.matches(obj)
        ]
        return items, self._store.rv

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
            if ("", namespace) not in self._store.objects["namespaces"]:
                raise ApiError.not_found("namespaces", namespace)
            meta["namespace"] = namespace
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + random_suffix()
        name = meta.get("name")
        if not name:
            raise ApiError.invalid(
                resource,
                "",
                [("metadata.name", "Required value: name or generateName is required")],
            )
        if (namespace or "", name) in self._store.objects[resource]:
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
            admit_deployment(None, obj)
        elif resource == "secrets":
            admit_secret(None, obj)
        elif resource in ("pods", "replicasets", "events"):
            raise ApiError(
                405, "MethodNotAllowed", f"create is not supported on {info.qualified} here"
            )
        if dry_run:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = format_time(self.clock())
            return obj
        stored = self._store.put(resource, obj, created=True)
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
        current = self._store.objects[resource].get((namespace or "", name))
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
            admit_deployment(current, obj)
        elif resource == "secrets":
            admit_secret(current, obj)
        else:
            raise ApiError(
                405, "MethodNotAllowed", f"update is not supported on {info.qualified} here"
            )
        if canonical(_strip_rv(obj)) == canonical(_strip_rv(current)):
            return copy.deepcopy(current)  # a no-op write leaves resourceVersion alone
        if dry_run:
            obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            return obj
        stored = self._store.put(resource, obj)
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
        current = self._store.objects[resource].get(key)
        if current is None:
            raise ApiError.not_found(resource, name)
        if resource == "pods":
            if dry_run:
                return copy.deepcopy(current)
            return copy.deepcopy(self._kubelet.terminate_pod(current, grace_period, by_user=True))
        if resource not in ("secrets", "events"):
            raise ApiError(
                405, "MethodNotAllowed", f"delete is not supported on {info.qualified} here"
            )
        if dry_run:
            return copy.deepcopy(current)
        self._store.remove(resource, key)
        return copy.deepcopy(current)

    def scale(self, namespace: str, name: str) -> dict[str, Any]:
        """A Deployment's autoscaling/v1 Scale, as ``deployments/scale`` serves it."""
        dep = self._store.objects["deployments"].get((namespace, name))
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
        backlog: list[Change]
        if not resource_version or resource_version == "0":
            backlog = [
                Change(int(obj["metadata"]["resourceVersion"]), "ADDED", obj, None)
                for obj in self._store.objects[resource].values()
            ]
        else:
            try:
                since = int(resource_version)
            except ValueError:
                raise ApiError.bad_request(
                    f'invalid resource version "{resource_version}"'
                ) from None
            if since < self._store.history_floor[resource]:
                raise ApiError(
                    410,
                    "Expired",
                    f"too old resource version: {since} ({self._store.history_floor[resource] + 1})",
                )
            backlog = [change for change in self._store.history[resource] if change.rv > since]
        watcher = Watch(self._store, resource, namespace, labels, fields, backlog)
        self._store.watchers[resource].add(watcher)
        return watcher

    def record_write(self, verb: str, resource: str) -> None:
        """Count one accepted, non-dry-run write (the API calls this)."""
        self.writes[(verb, resource)] = self.writes.get((verb, resource), 0) + 1

    # the controller -------------------------------------------------------------------------

    async def run(self) -> None:
        """The controller loop (rollouts, pod start/stop, crash loops); runs until cancelled."""
        self._wakeup = asyncio.Event()
        while True:
            self._sync_all()
            wait = 0.1
            now = self.clock()
            dues = [rt.due for rt in self._kubelet.runtime.values() if rt.due is not None]
            if dues:
                wait = min(wait, max(min(dues) - now, 0.005))
            if self._controllers.stepping:
                wait = min(wait, max(self.rollout_step_delay / 4, 0.005))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), wait)
            self._wakeup.clear()

    def _kick(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def _sync_all(self) -> None:
        """One pass of every controller: kubelet timers, deployments, replica sets, status."""
        self._kubelet.advance_pods()
        self._controllers.sync()

    def _settle(self, namespace: str, name: str, age: float) -> None:
        """Seed a deployment as rolled out long ago: one ReplicaSet, Running pods."""
        dep = copy.deepcopy(self._store.objects["deployments"][(namespace, name)])
        created_at = self.clock() - age
        dep["metadata"]["creationTimestamp"] = format_time(created_at)
        dep = self._store.put("deployments", dep)
        rs = self._controllers.create_replicaset(dep, 1, replicas=None)
        rs = copy.deepcopy(rs)
        rs["metadata"]["creationTimestamp"] = format_time(created_at)
        rs = self._store.put("replicasets", rs)
        for _ in range(rs["spec"]["replicas"]):
            self._kubelet.create_pod(rs, started_ago=age)
        self._sync_all()


def _drop_nulls(value: Any) -> Any:
    """The object as the API would store it: null fields are absent."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _strip_rv(obj: dict[str, Any]) -> dict[str, Any]:
    obj = dict(obj)
    obj["metadata"] = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
    return obj


def _selectors(
    label_selector: str | None, field_selector: str | None
) -> tuple[LabelSelector, FieldSelector]:
    try:
        return LabelSelector.parse(label_selector), FieldSelector.parse(field_selector)
    except SelectorError as error:
        raise ApiError.bad_request(str(error)) from None
