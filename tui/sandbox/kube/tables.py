"""Tables: the columns and rows ``kubectl get`` prints, computed by the server
(``Accept: application/json;as=Table;g=meta.k8s.io;v=v1``) as a real API server does."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tui.sandbox.kube.cluster import Cluster
from tui.sandbox.kube.selectors import LabelSelector
from tui.sandbox.kube.store import ResourceInfo
from tui.signals import human_duration

__all__ = ["as_table", "wants_table"]


def wants_table(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return any(
        "as=Table" in part and "g=meta.k8s.io" in part and "application/json" in part
        for part in accept.split(",")
    )


def _age(obj: dict[str, Any], now: float) -> str:
    stamp = obj.get("metadata", {}).get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    created = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    return human_duration(now - created)


def _column(
    name: str, kind: str, description: str, priority: int = 0, fmt: str = ""
) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "format": fmt,
        "description": description,
        "priority": priority,
    }


_NAME = _column("Name", "string", "Name must be unique within a namespace.", fmt="name")
_AGE = _column(
    "Age",
    "string",
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
)


def _pod_status_text(pod: dict[str, Any]) -> str:
    status = pod.get("status", {})
    reason = status.get("reason") or status.get("phase", "Unknown")
    for container in status.get("containerStatuses", []):
        state = container.get("state", {})
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            reason = state["terminated"].get("reason") or "Error"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return str(reason)


def _pod_restarts(pod: dict[str, Any], now: float) -> str:
    statuses = pod.get("status", {}).get("containerStatuses", [])
    restarts = sum(c.get("restartCount", 0) for c in statuses)
    finished = [
        c["lastState"]["terminated"].get("finishedAt")
        for c in statuses
        if c.get("lastState", {}).get("terminated", {}).get("finishedAt")
    ]
    if restarts and finished:
        last = datetime.strptime(max(finished), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        return f"{restarts} ({human_duration(now - last.timestamp())} ago)"
    return str(restarts)


def _images(obj: dict[str, Any]) -> tuple[str, str]:
    containers = obj["spec"]["template"]["spec"].get("containers", [])
    return (
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
    )


def _table_spec(
    resource: str,
) -> tuple[list[dict[str, Any]], Callable[[dict[str, Any], float], list[Any]]]:
    if resource == "pods":

        def pod_row(pod: dict[str, Any], now: float) -> list[Any]:
            statuses = pod.get("status", {}).get("containerStatuses", [])
            ready = sum(1 for c in statuses if c.get("ready"))
            total = len(pod["spec"].get("containers", []))
            return [
                pod["metadata"]["name"],
                f"{ready}/{total}",
                _pod_status_text(pod),
                _pod_restarts(pod, now),
                _age(pod, now),
                pod.get("status", {}).get("podIP") or "<none>",
                pod["spec"].get("nodeName") or "<none>",
                "<none>",
                "<none>",
            ]

        return [
            _NAME,
            _column(
                "Ready",
                "string",
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            _column("Status", "string", "The aggregate status of the containers in this pod."),
            _column(
                "Restarts",
                "string",
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            _AGE,
            _column("IP", "string", "IP address allocated to the pod.", 1),
            _column("Node", "string", "Name of the node the pod is assigned to.", 1),
            _column("Nominated Node", "string", "Name of the node the pod is nominated to.", 1),
            _column("Readiness Gates", "string", "The readiness gates of the pod.", 1),
        ], pod_row
    if resource == "deployments":

        def deployment_row(dep: dict[str, Any], now: float) -> list[Any]:
            status = dep.get("status", {})
            names, images = _images(dep)
            return [
                dep["metadata"]["name"],
                f"{status.get('readyReplicas', 0)}/{dep['spec'].get('replicas', 1)}",
                status.get("updatedReplicas", 0),
                status.get("availableReplicas", 0),
                _age(dep, now),
                names,
                images,
                str(LabelSelector.from_spec(dep["spec"].get("selector"))),
            ]

        return [
            _NAME,
            _column("Ready", "string", "Number of the pod with ready state"),
            _column(
                "Up-to-date",
                "integer",
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            _column(
                "Available",
                "integer",
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            _AGE,
            _column("Containers", "string", "Names of each container in the template.", 1),
            _column("Images", "string", "Images referenced by each container in the template.", 1),
            _column("Selector", "string", "Label selector for pods.", 1),
        ], deployment_row
    if resource == "replicasets":

        def replicaset_row(rs: dict[str, Any], now: float) -> list[Any]:
            status = rs.get("status", {})
            names, images = _images(rs)
            return [
                rs["metadata"]["name"],
                rs["spec"].get("replicas", 0),
                status.get("replicas", 0),
                status.get("readyReplicas", 0),
                _age(rs, now),
                names,
                images,
                str(LabelSelector.from_spec(rs["spec"].get("selector"))),
            ]

        return [
            _NAME,
            _column("Desired", "integer", "Replicas is the number of desired replicas."),
            _column(
                "Current", "integer", "Replicas is the most recently observed number of replicas."
            ),
            _column("Ready", "integer", "The number of ready replicas for this replica set."),
            _AGE,
            _column("Containers", "string", "Names of each container in the template.", 1),
            _column("Images", "string", "Images referenced by each container in the template.", 1),
            _column("Selector", "string", "Label selector for pods.", 1),
        ], replicaset_row
    if resource == "secrets":
        return [
            _NAME,
            _column("Type", "string", "Used to facilitate programmatic handling of secret data."),
            _column("Data", "string", "The number of keys in the secret."),
            _AGE,
        ], lambda s, now: [
            s["metadata"]["name"],
            s.get("type", "Opaque"),
            len(s.get("data", {})),
            _age(s, now),
        ]
    if resource == "namespaces":
        return [
            _NAME,
            _column("Status", "string", "The status of the namespace"),
            _AGE,
        ], lambda ns, now: [
            ns["metadata"]["name"],
            ns.get("status", {}).get("phase", "Active"),
            _age(ns, now),
        ]

    def event_row(event: dict[str, Any], now: float) -> list[Any]:
        involved = event.get("involvedObject", {})
        last = event.get("lastTimestamp") or event["metadata"].get("creationTimestamp")
        first = event.get("firstTimestamp") or last
        return [
            human_duration(now - _epoch(last)) if last else "<unknown>",
            event.get("type", ""),
            event.get("reason", ""),
            f"{involved.get('kind', '').lower()}/{involved.get('name', '')}",
            involved.get("fieldPath", ""),
            event.get("source", {}).get("component", ""),
            event.get("message", ""),
            human_duration(now - _epoch(first)) if first else "<unknown>",
            event.get("count", 1),
            event["metadata"]["name"],
        ]

    return [
        _column("Last Seen", "string", "Time when last event occurred"),
        _column(
            "Type",
            "string",
            "Type of this event (Normal, Warning), new types could be added in the future.",
        ),
        _column(
            "Reason",
            "string",
            "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
        ),
        _column("Object", "string", "The object that this event is about"),
        _column("Subobject", "string", "The subobject of the involved object", 1),
        _column("Source", "string", "The component reporting this event.", 1),
        _column(
            "Message", "string", "A human-readable description of the status of this operation."
        ),
        _column("First Seen", "string", "The time at which the event was first recorded.", 1),
        _column("Count", "string", "The number of times this event has occurred.", 1),
        _column("Name", "string", "Name must be unique within a namespace.", 1),
    ], event_row


def _epoch(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def as_table(
    info: ResourceInfo,
    objects: list[dict[str, Any]],
    cluster: Cluster,
    request: web.Request,
    resource_version: str,
) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table: the columns ``kubectl get`` prints, computed by the server."""
    columns, row = _table_spec(info.name)
    include = request.query.get("includeObject", "Metadata")
    now = cluster.clock()
    rows = []
    for obj in objects:
        entry: dict[str, Any] = {"cells": row(obj, now)}
        if include == "Object":
            full = copy.deepcopy(obj)
            full["kind"], full["apiVersion"] = info.kind, info.api_version
            entry["object"] = full
        elif include != "None":
            entry["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(entry)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns,
        "rows": rows,
    }
