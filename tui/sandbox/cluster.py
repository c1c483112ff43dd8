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
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = ["Cluster", "LogRecord", "PodBehaviour"]

PodBehaviour = Literal["ok", "crash"]
"""What a new pod does: ``ok`` becomes Running/Ready after ``pod_start_delay``;
``crash`` becomes Running but never Ready, its container cycling through
``CrashLoopBackOff`` with ``restartCount`` rising."""


@dataclass(frozen=True)
class LogRecord:
    """One line of one container's log."""

    time: datetime  # UTC, aware
    text: str  # without the trailing newline


@dataclass
class Cluster:
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

    # seeding --------------------------------------------------------------------------

    def create_namespace(self, name: str) -> dict[str, Any]:
        raise NotImplementedError

    def create_deployment(self, namespace: str, manifest: dict[str, Any]) -> dict[str, Any]:
        """Create a Deployment from an apps/v1 manifest; its first ReplicaSet (revision 1)
        and pods are created as the controller would."""
        raise NotImplementedError

    def update_deployment_template(
        self, namespace: str, name: str, template: dict[str, Any], cause: str | None = None
    ) -> dict[str, Any]:
        """Replace the pod template (a new revision), as ``kubectl apply`` would; used to
        seed history such as a bad rollout. ``cause`` becomes ``kubernetes.io/change-cause``."""
        raise NotImplementedError

    def create_secret(self, namespace: str, manifest: dict[str, Any]) -> dict[str, Any]:
        """Create a Secret; ``stringData`` is folded into base64 ``data`` as the API does."""
        raise NotImplementedError

    # reading (deep copies) ------------------------------------------------------------

    def deployment(self, namespace: str, name: str) -> dict[str, Any]:
        raise NotImplementedError

    def secret(self, namespace: str, name: str) -> dict[str, Any]:
        raise NotImplementedError

    def pods(self, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
        """Pods matching a label selector in kubectl syntax (``app=x``, ``a in (b,c)``,
        ``!k``), in creation order, including Pending and Terminating ones."""
        raise NotImplementedError

    def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        """The decoded value of one key of a Secret, or None."""
        raise NotImplementedError

    # logs -------------------------------------------------------------------------------

    def append_logs(
        self, namespace: str, pod: str, container: str, records: list[LogRecord]
    ) -> None:
        """Append lines to a running container's log and wake its followers. Called in
        batches by the world at up to 50,000 lines/s in all; it must stay cheap."""
        raise NotImplementedError

    # bookkeeping for tests --------------------------------------------------------------

    writes: dict[tuple[str, str], int] = field(default_factory=dict)
    """API writes accepted so far by ``(verb, resource)``: ``("patch", "deployments")``.
    Dry-run requests are not counted."""

    async def run(self) -> None:
        """The controller loop (rollouts, pod start/stop, crash loops); runs until cancelled."""
        raise NotImplementedError
