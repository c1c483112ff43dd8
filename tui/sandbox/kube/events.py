"""Events: what the controllers and the kubelet record about the objects they act on, an
Event counted again when the same thing happens again, the oldest deleted past a limit."""

from __future__ import annotations

import copy
import random
from typing import Any

from tui.sandbox.kube.settings import NODE_NAME, ClusterSettings
from tui.sandbox.kube.store import Store, format_time

__all__ = ["Events"]


class Events:
    """Writes Event objects to the store, as controllers and kubelets do."""

    def __init__(self, settings: ClusterSettings, store: Store) -> None:
        self._settings = settings
        self._store = store
        self._keys: dict[tuple[str, str, str], tuple[str, str]] = {}
        """Which Event counts each (object uid, reason, message) again."""

    def record(
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
        now = format_time(self._settings.clock())
        existing = self._keys.get(key)
        if existing is not None and existing in self._store.objects["events"]:
            event = copy.deepcopy(self._store.objects["events"][existing])
            event["count"] = event.get("count", 1) + 1
            event["lastTimestamp"] = now
            self._store.put("events", event)
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
        self._store.put("events", event, created=True)
        self._keys[key] = (namespace, name)
        while len(self._store.objects["events"]) > self._settings.event_limit:
            oldest = next(iter(self._store.objects["events"]))
            self._store.remove("events", oldest)
        if len(self._keys) > 2 * self._settings.event_limit:
            events = self._store.objects["events"]
            self._keys = {k: v for k, v in self._keys.items() if v in events}
