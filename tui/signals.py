"""Typed snapshots of what the backends say; they flow unchanged from source to widget and
into the decision evaluator."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

__all__ = [
    "NEGATED",
    "AlertLevel",
    "Component",
    "Health",
    "LogLine",
    "MetricReading",
    "PodState",
    "SourceFault",
    "VendorIncident",
    "VendorStatus",
    "holds",
    "human_duration",
    "shown_op",
    "utcnow",
]

AlertLevel = Literal["ok", "P1", "P2", "P3", "P4", "unknown"]
"""``ok`` below the threshold, the rule's severity above it, ``unknown`` without data."""

KNOWN_INDICATORS = ("none", "minor", "major", "critical", "maintenance")

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}

NEGATED = {
    ">": "<=",
    ">=": "<",
    "<": ">=",
    "<=": ">",
    "==": "!=",
    "!=": "==",
    "in": "not in",
    "not_in": "in",
}
"""Each operator and the one that holds when it does not: how evidence says "below"."""


def holds(value: float | str, op: str, threshold: float | str | list[str]) -> bool | None:
    """Whether ``value op threshold`` holds: ``holds(37, ">", 5)``, ``holds("major", "in",
    ["minor", "major"])``, ``holds("down", "!=", "healthy")``. Text compares as text and
    only with ``==``, ``!=``, ``in`` and ``not_in``; None when the two cannot be compared."""
    if op in ("in", "not_in"):
        members = threshold if isinstance(threshold, list) else [str(threshold)]
        return (str(value) in members) == (op == "in")
    if isinstance(value, str) or isinstance(threshold, str | list):
        if op not in ("==", "!="):
            return None
        return (str(value) == str(threshold)) == (op == "==")
    compare = _OPERATORS.get(op)
    if compare is None:
        return None
    return compare(float(value), float(threshold))


def shown_op(value: float | str, op: str, threshold: float | str | list[str]) -> str:
    """The operator as evidence says it: ``op`` where it holds, its negation where not."""
    said = op if holds(value, op, threshold) is not False else NEGATED.get(op, op)
    return said.replace("not_in", "not in")


def human_duration(seconds: float) -> str:
    """An age the way kubectl prints it: ``45s``, ``5m12s``, ``3h``, ``2d4h``."""
    if seconds < -1:
        return "<invalid>"
    seconds = max(int(seconds), 0)
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    years = hours // (24 * 365)
    if years < 8:
        return f"{years}y{(hours // 24) % 365}d"
    return f"{years}y"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    status: str
    """``operational``, ``degraded_performance``, ``partial_outage``, ``major_outage``,
    ``under_maintenance``, or whatever the page says."""

    @property
    def degraded(self) -> bool:
        return self.status != "operational"


@dataclass(frozen=True, slots=True)
class VendorIncident:
    name: str
    status: str
    impact: str
    updated_at: datetime | None
    latest_update: str | None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class VendorStatus:
    """The vendor's Statuspage: indicator, description, components, open incidents."""

    vendor: str
    indicator: str
    """``none``, ``minor``, ``major``, ``critical``; an unknown value is kept as it came."""
    description: str
    components: tuple[Component, ...] = ()
    incidents: tuple[VendorIncident, ...] = ()
    fetched_at: datetime = field(default_factory=utcnow)
    page_url: str = ""

    @property
    def known_indicator(self) -> bool:
        return self.indicator in KNOWN_INDICATORS

    @property
    def degraded_components(self) -> tuple[Component, ...]:
        return tuple(c for c in self.components if c.degraded)


@dataclass(frozen=True, slots=True)
class Health:
    """Our service's health object for one vendor (``.services.clay``)."""

    vendor: str
    status: str
    healthy: bool
    latency_ms: float | None = None
    last_error: str | None = None
    fetched_at: datetime = field(default_factory=utcnow)
    url: str = ""


@dataclass(frozen=True, slots=True)
class MetricReading:
    """One runbook signal's current value, judged against its alert rule."""

    signal_id: str
    name: str
    value: float | None
    """None when the query returned no series."""
    unit: str
    level: AlertLevel
    threshold: float | None = None
    op: str | None = None
    series: tuple[tuple[float, float], ...] = ()
    """``(unix time, value)`` points of the last 30 minutes, for a sparkline."""
    fetched_at: datetime = field(default_factory=utcnow)
    via_backup: bool = False
    """True when the primary Prometheus failed and the backup answered."""

    @property
    def alerting(self) -> bool:
        return self.level not in ("ok", "unknown")

    @property
    def no_data(self) -> str:
        """``"no data since 14:02"`` (the last point of the series), or ``"no data in
        30m"`` when the series has none either; empty when there is a value."""
        if self.value is not None:
            return ""
        if self.series:
            last = datetime.fromtimestamp(self.series[-1][0]).astimezone()
            return f"no data since {last:%H:%M}"
        return "no data in range"

    @property
    def evidence(self) -> str:
        """``"Rate Limited: 37/min > 5/min"``: the reading as a sentence fragment."""
        if self.value is None:
            return f"{self.name}: {self.no_data}"
        shown = format_value(self.value, self.unit)
        if self.threshold is None or self.op is None:
            return f"{self.name}: {shown}"
        op = shown_op(self.value, self.op, self.threshold)
        return f"{self.name}: {shown} {op} {format_value(self.threshold, self.unit)}"


def format_value(value: float | None, unit: str = "") -> str:
    """``37/min``, ``5200 ms``, ``0.5%``: a number short enough for a pane; ``no data``
    for None."""
    if value is None:
        return "no data"
    if value != value:  # NaN
        number = "NaN"
    elif abs(value) >= 100 or value == int(value):
        number = f"{value:.0f}"
    elif abs(value) >= 10:
        number = f"{value:.1f}"
    else:
        number = f"{value:.2f}".rstrip("0").rstrip(".")
    if unit.startswith(("/", "%")):
        return f"{number}{unit}"
    return f"{number} {unit}" if unit else number


@dataclass(frozen=True, slots=True)
class PodState:
    name: str
    phase: str
    """``Pending``, ``Running``, ``Succeeded``, ``Failed``, ``Unknown``, or ``Terminating``."""
    ready: bool
    restarts: int
    created: datetime | None
    revision: str | None
    """The ``pod-template-hash`` and, where known, the deployment revision (``3``)."""
    reason: str | None = None
    """Why it is not ready: ``CrashLoopBackOff``, ``ContainerCreating``, ``OOMKilled``."""
    containers: tuple[str, ...] = ()
    node: str | None = None

    def age(self, now: datetime | None = None) -> timedelta | None:
        if self.created is None:
            return None
        return (now or utcnow()) - self.created


_LEVEL = re.compile(
    r"\b(FATAL|CRITICAL|PANIC|ERROR|ERR|WARN|WARNING|INFO|DEBUG|TRACE)\b"
    r'|"level"\s*:\s*"(fatal|critical|panic|error|err|warn|warning|info|debug|trace)"',
    re.IGNORECASE,
)
_LEVEL_NAMES = {
    "fatal": "fatal",
    "critical": "fatal",
    "panic": "fatal",
    "error": "error",
    "err": "error",
    "warn": "warn",
    "warning": "warn",
    "info": "info",
    "debug": "debug",
    "trace": "debug",
}


def detect_level(text: str) -> str | None:
    """The first log level word in a line (``ERROR``, ``"level":"warn"``), normalised."""
    match = _LEVEL.search(text, 0, 400)
    if not match:
        return None
    return _LEVEL_NAMES[(match.group(1) or match.group(2)).lower()]


@dataclass(frozen=True, slots=True)
class LogLine:
    pod: str
    container: str
    timestamp: datetime | None
    text: str
    level: str | None
    is_error: bool
    previous: bool = False
    """From the container that ran before the last restart (``kubectl logs --previous``)."""

    @classmethod
    def parse(
        cls,
        pod: str,
        container: str,
        timestamp: datetime | None,
        text: str,
        error_pattern: re.Pattern[str],
    ) -> LogLine:
        level = detect_level(text)
        is_error = level in ("error", "fatal") or error_pattern.search(text) is not None
        return cls(pod, container, timestamp, text, level, is_error)


FaultKind = Literal[
    "unreachable", "timeout", "server_error", "malformed", "auth_expired", "forbidden", "error"
]


@dataclass(frozen=True, slots=True)
class SourceFault:
    """A backend that failed: what, since when, the last good value's age, and the hint."""

    backend: str
    """``status_page``, ``health``, ``prometheus``, ``kubernetes`` or ``logs``."""
    kind: FaultKind
    message: str
    since: datetime
    last_good_at: datetime | None = None
    hint: str | None = None
    """The runbook's error-handling row: ``Auth expired → Re-authenticate``."""
    target: str = ""
    """The URL or object that failed."""

    def last_good_age(self, now: datetime | None = None) -> timedelta | None:
        if self.last_good_at is None:
            return None
        return (now or utcnow()) - self.last_good_at

    @property
    def sentence(self) -> str:
        text = f"{self.backend.replace('_', ' ')} {self.kind.replace('_', ' ')}: {self.message}"
        return f"{text} — {self.hint}" if self.hint else text
