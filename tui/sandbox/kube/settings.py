"""The simulated cluster's settings (its timings, how new pods behave, its limits) and
the one node its pods run on."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["HOST_IP", "NODE_NAME", "ClusterSettings", "PodBehaviour"]

PodBehaviour = Literal["ok", "crash"]
"""What a new pod does: ``ok`` becomes Running/Ready after ``pod_start_delay``;
``crash`` becomes Running but never Ready, its container cycling through
``CrashLoopBackOff`` with ``restartCount`` rising."""

NODE_NAME = "sandbox-node-1"
HOST_IP = "10.0.0.10"


def _default_crash_log(pod: dict[str, Any]) -> list[str]:
    image = pod["spec"]["containers"][0].get("image", "app")
    return [
        f"starting {image}",
        "loading configuration from environment",
        "connecting to upstream services",
        "FATAL: unhandled exception during start-up; exiting with status 1",
    ]


@dataclass
class ClusterSettings:
    """What a :class:`~tui.sandbox.kube.cluster.Cluster` is made with. The cluster's parts
    read these as they go, so a change (the world sets ``pod_behaviour``) holds at once."""

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
