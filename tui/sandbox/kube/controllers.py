"""The deployment and replica-set controllers: a Deployment's pods rolled through its
ReplicaSets (RollingUpdate or Recreate, paused, undone to an old revision), each ReplicaSet's
pods kept at its count, and both kinds' status written as the real controllers write it."""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tui.sandbox.kube.events import Events
from tui.sandbox.kube.kubelet import Kubelet, pod_active, pod_ready
from tui.sandbox.kube.settings import NODE_NAME, ClusterSettings
from tui.sandbox.kube.store import (
    NAME_ALPHABET,
    Store,
    canonical,
    format_time,
    object_key,
    owner_ref,
)

__all__ = ["Controllers"]

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


def _template_key(template: dict[str, Any]) -> str:
    """A pod template as comparable text: canonical, without the ``pod-template-hash`` label
    a ReplicaSet adds (templates are equal the way the controller's EqualIgnoreHash says)."""
    canon = canonical(template)
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
        number, index = divmod(number, len(NAME_ALPHABET))
        chars.append(NAME_ALPHABET[index])
    return "".join(chars)


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


def _parse_time(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


class Controllers:
    """Both controllers over the store; the kubelet starts and stops the pods they ask for."""

    def __init__(
        self,
        settings: ClusterSettings,
        store: Store,
        events: Events,
        kubelet: Kubelet,
        kick: Callable[[], None],
    ) -> None:
        self._settings = settings
        self._store = store
        self._events = events
        self._kubelet = kubelet
        self._kick = kick
        self._last_step: dict[tuple[str, str], float] = {}
        self.stepping = False
        """A rolling update is under way: the loop should come back soon."""
        self._template_keys: dict[tuple[str, int], str] = {}

    def sync(self) -> None:
        """One pass of both controllers: deployments, replica sets, then deployments' status."""
        self.stepping = False
        for dep in list(self._store.objects["deployments"].values()):
            self._sync_deployment(dep["metadata"]["namespace"], dep["metadata"]["name"])
        for rs in list(self._store.objects["replicasets"].values()):
            self._sync_replicaset(rs["metadata"]["namespace"], rs["metadata"]["name"])
        for dep in list(self._store.objects["deployments"].values()):
            self._sync_deployment_status(dep["metadata"]["namespace"], dep["metadata"]["name"])

    # -- deployments

    def _owned(self, resource: str, owner: dict[str, Any]) -> list[dict[str, Any]]:
        uid = owner["metadata"]["uid"]
        namespace = owner["metadata"]["namespace"]
        return [
            obj
            for (ns, _), obj in self._store.objects[resource].items()
            if ns == namespace
            and any(
                ref.get("uid") == uid and ref.get("controller")
                for ref in obj["metadata"].get("ownerReferences", [])
            )
        ]

    def _sync_deployment(self, namespace: str, name: str) -> None:
        dep = self._store.objects["deployments"][(namespace, name)]
        spec = dep["spec"]
        rss = self._owned("replicasets", dep)
        paused = bool(spec.get("paused"))
        new_rs = self._matching_replicaset(dep, rss)
        max_revision = max((_revision(rs) for rs in rss), default=0)
        if new_rs is None and not paused:
            new_rs = self.create_replicaset(dep, max_revision + 1, replicas=0 if rss else None)
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
                dep = self._store.put("deployments", dep)
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
            self.stepping = True
            key = (namespace, name)
            now = self._settings.clock()
            due = now - self._last_step.get(key, -math.inf) >= self._settings.rollout_step_delay
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
        olds = [self._store.objects["replicasets"][object_key(rs)] for rs in olds]
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
        olds = [self._store.objects["replicasets"][object_key(rs)] for rs in olds]
        everything = [self._store.objects["replicasets"][object_key(new_rs)], *olds]
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
        rss = [self._store.objects["replicasets"][object_key(rs)] for rs in rss]
        total = sum(rs["spec"].get("replicas", 0) for rs in rss)
        if total == desired or not rss:
            return
        active = [rs for rs in rss if rs["spec"].get("replicas", 0) > 0]
        if new_rs is not None:
            new_rs = self._store.objects["replicasets"][object_key(new_rs)]
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

    def create_replicaset(
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
                "ownerReferences": [owner_ref(dep)],
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
        stored = self._store.put("replicasets", rs, created=True)
        if replicas is None or replicas:
            self._events.record(
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
        return self._store.put("replicasets", rs)

    def _copy_annotations(self, dep: dict[str, Any], rs: dict[str, Any]) -> dict[str, Any]:
        wanted = {
            k: v for k, v in dep["metadata"].get("annotations", {}).items() if k not in _NOT_COPIED
        }
        current = rs["metadata"].get("annotations", {})
        if all(current.get(k) == v for k, v in wanted.items()):
            return rs
        rs = copy.deepcopy(rs)
        rs["metadata"].setdefault("annotations", {}).update(wanted)
        return self._store.put("replicasets", rs)

    def _scale_rs(self, dep: dict[str, Any], rs: dict[str, Any], replicas: int) -> dict[str, Any]:
        rs = copy.deepcopy(self._store.objects["replicasets"][object_key(rs)])
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
        stored = self._store.put("replicasets", rs)
        direction = "up" if replicas > before else "down"
        self._events.record(
            dep,
            "ScalingReplicaSet",
            f"Scaled {direction} replica set {rs['metadata']['name']} from {before} to {replicas}",
        )
        self._kick()
        return stored

    def _cleanup_history(self, dep: dict[str, Any]) -> None:
        limit = int(dep["spec"].get("revisionHistoryLimit", 10))
        dep = self._store.objects["deployments"][object_key(dep)]
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
            self._store.remove("replicasets", object_key(rs))

    def _sync_deployment_status(self, namespace: str, name: str) -> None:
        dep = self._store.objects["deployments"][(namespace, name)]
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
        now = format_time(self._settings.clock())
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
                and self._settings.clock() - _parse_time(last) > deadline
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
            self._store.put("deployments", dep)

    # -- replica sets

    def _sync_replicaset(self, namespace: str, name: str) -> None:
        rs = self._store.objects["replicasets"].get((namespace, name))
        if rs is None:
            return
        pods = self._owned("pods", rs)
        active = [pod for pod in pods if pod_active(pod)]
        desired = rs["spec"].get("replicas", 0)
        if len(active) < desired:
            for _ in range(desired - len(active)):
                pod = self._kubelet.create_pod(rs)
                pod_name = pod["metadata"]["name"]
                self._events.record(
                    rs,
                    "SuccessfulCreate",
                    f"Created pod: {pod_name}",
                    component="replicaset-controller",
                )
                self._events.record(
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
                    pod_ready(item[1]),
                    item[1]["status"].get("phase") == "Running",
                    -item[0],
                ),
            )
            for _, pod in ranked[: len(active) - desired]:
                self._kubelet.terminate_pod(pod, None, by_user=False)
                self._events.record(
                    rs,
                    "SuccessfulDelete",
                    f"Deleted pod: {pod['metadata']['name']}",
                    component="replicaset-controller",
                )
        pods = [pod for pod in self._owned("pods", rs) if pod_active(pod)]
        ready = sum(1 for pod in pods if pod_ready(pod))
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
            self._store.put("replicasets", rs)
