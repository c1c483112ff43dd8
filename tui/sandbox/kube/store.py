"""The cluster's object store: every object by resource type, one cluster-wide
resourceVersion (as in etcd), the change history and the watches that replay and follow it;
how each resource type is named on the wire, and the API's refusals (:class:`ApiError`)."""

from __future__ import annotations

import asyncio
import copy
import random
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tui.sandbox.kube.selectors import FieldSelector, LabelSelector
from tui.sandbox.kube.settings import ClusterSettings

__all__ = [
    "NAME_ALPHABET",
    "RESOURCES",
    "ApiError",
    "Change",
    "ResourceInfo",
    "Store",
    "Watch",
    "canonical",
    "format_time",
    "object_key",
    "owner_ref",
    "random_suffix",
]

# The alphabet Kubernetes uses for generated names: no vowels, no look-alikes.
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


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
    """A refusal in the API's own terms; :mod:`tui.sandbox.kube.api` turns it into a Status."""

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
class Change:
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
        store: Store,
        resource: str,
        namespace: str | None,
        labels: LabelSelector,
        fields: FieldSelector,
        backlog: Iterable[Change],
    ) -> None:
        self._store = store
        self.resource = resource
        self._namespace = namespace
        self._labels = labels
        self._fields = fields
        self._queue: asyncio.Queue[Change | None] = asyncio.Queue()
        for change in backlog:
            self._queue.put_nowait(change)
        self.closed = False

    def _push(self, change: Change | None) -> None:
        self._queue.put_nowait(change)

    def _matches(self, obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        if self._namespace and obj["metadata"].get("namespace") != self._namespace:
            return False
        return self._labels.matches(obj["metadata"].get("labels")) and self._fields.matches(obj)

    def _translate(self, change: Change) -> tuple[str, dict[str, Any]] | None:
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
            self._store.watchers[self.resource].discard(self)
            self._queue.put_nowait(None)


class Store:
    """Objects as the API returns them, keyed ``(namespace, name)`` ("" for cluster-scoped
    ones) in creation order; every write gets the next resourceVersion and goes to the
    change history and the watches of its resource type."""

    def __init__(self, settings: ClusterSettings) -> None:
        self._settings = settings
        self.rv = 0
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {
            name: {} for name in RESOURCES
        }
        self.history: dict[str, deque[Change]] = {name: deque() for name in RESOURCES}
        self.history_floor: dict[str, int] = dict.fromkeys(RESOURCES, 0)
        self.watchers: dict[str, set[Watch]] = {name: set() for name in RESOURCES}

    def put(
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
        previous = self.objects[resource].get(key)
        if created:
            meta["uid"] = str(uuid.uuid4())
            meta.setdefault(
                "creationTimestamp",
                format_time(self._settings.clock() if created_at is None else created_at),
            )
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        self.objects[resource][key] = obj
        self._emit(
            resource, Change(self.rv, "ADDED" if previous is None else "MODIFIED", obj, previous)
        )
        return obj

    def remove(self, resource: str, key: tuple[str, str]) -> None:
        obj = self.objects[resource].pop(key, None)
        if obj is None:
            return
        self.rv += 1
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = str(self.rv)
        self._emit(resource, Change(self.rv, "DELETED", gone, obj))

    def _emit(self, resource: str, change: Change) -> None:
        history = self.history[resource]
        history.append(change)
        while len(history) > self._settings.watch_history:
            self.history_floor[resource] = history.popleft().rv
        for watcher in self.watchers[resource]:
            watcher._push(change)


def object_key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def owner_ref(owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def canonical(value: Any) -> Any:
    """Empty and null fields removed, so templates compare the way Go's omitempty does."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = canonical(v)
            if v is None or v == {} or v == []:
                continue
            out[k] = v
        return out
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def random_suffix(length: int = 5) -> str:
    return "".join(random.choice(NAME_ALPHABET) for _ in range(length))
