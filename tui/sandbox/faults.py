"""Faults the sandbox injects into its backends, set through the control endpoint or `--fault`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

__all__ = ["BACKENDS", "FAULT_KINDS", "Fault", "Faults", "parse_fault"]

Backend = Literal["status_page", "health", "prometheus", "kubernetes", "logs"]
FaultKind = Literal["down", "slow", "5xx", "malformed", "401", "403", "drop"]

BACKENDS: tuple[str, ...] = get_args(Backend)
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)


@dataclass(frozen=True)
class Fault:
    """One fault on one backend.

    - ``down``: the backend's port refuses connections.
    - ``slow``: every answer is delayed by ``delay`` seconds.
    - ``5xx``: every answer is a 503 (the backend's own error format).
    - ``malformed``: every answer is 200 with a body that does not parse.
    - ``401``: every request is refused as an expired token.
    - ``403``: requests for ``verb`` on ``resource`` are forbidden (RBAC); any when unset.
    - ``drop``: (logs) every log stream is cut after ``after_lines`` lines.
    """

    kind: FaultKind
    delay: float = 30.0
    verb: str | None = None
    resource: str | None = None
    after_lines: int = 20

    def matches(self, verb: str, resource: str) -> bool:
        """Whether a 403 fault applies to this Kubernetes verb and resource."""
        return (self.verb is None or self.verb == verb) and (
            self.resource is None or self.resource == resource
        )

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def parse_fault(text: str) -> tuple[str, Fault]:
    """Parse ``BACKEND=KIND[:ARG]`` as given to ``--fault``.

    ``kubernetes=slow:10`` (delay seconds), ``kubernetes=403:patch/deployments``,
    ``logs=drop:50`` (lines before the cut), ``status_page=down``.
    """
    backend, sep, rest = text.partition("=")
    if not sep or backend not in BACKENDS:
        raise ValueError(f'"{text}" is not BACKEND=KIND; backends: {", ".join(BACKENDS)}')
    kind, _, arg = rest.partition(":")
    if kind not in FAULT_KINDS:
        raise ValueError(f'"{kind}" is not a fault kind; kinds: {", ".join(FAULT_KINDS)}')
    if kind == "slow":
        return backend, Fault("slow", delay=float(arg) if arg else 30.0)
    if kind == "403" and arg:
        verb, _, resource = arg.partition("/")
        return backend, Fault("403", verb=verb or None, resource=resource or None)
    if kind == "drop":
        return backend, Fault("drop", after_lines=int(arg) if arg else 20)
    return backend, Fault(kind)  # type: ignore[arg-type]


class Faults:
    """The faults in force, one per backend at most; listeners hear every change."""

    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}
        self._listeners: list[Callable[[str, Fault | None], Any]] = []

    def get(self, backend: str) -> Fault | None:
        return self._faults.get(backend)

    def set(self, backend: str, fault: Fault) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}")
        self._faults[backend] = fault
        self._notify(backend, fault)

    def clear(self, backend: str | None = None) -> None:
        for name in [backend] if backend else list(self._faults):
            if self._faults.pop(name, None) is not None:
                self._notify(name, None)

    def on_change(self, listener: Callable[[str, Fault | None], Any]) -> None:
        """Call ``listener(backend, fault_or_None)`` on every change (the server uses it to
        close and reopen a backend's port for ``down``)."""
        self._listeners.append(listener)

    def to_json(self) -> dict[str, Any]:
        return {backend: fault.to_json() for backend, fault in self._faults.items()}

    def _notify(self, backend: str, fault: Fault | None) -> None:
        for listener in self._listeners:
            listener(backend, fault)
