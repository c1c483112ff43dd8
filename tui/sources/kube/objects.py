"""What the Kubernetes API answers, read: RFC3339 times and pods as :class:`PodState`."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from tui.errors import SourceMalformed
from tui.signals import PodState

__all__ = ["parse_pod", "parse_timestamp"]


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})",
    re.ASCII,
)


def parse_timestamp(text: str) -> tuple[datetime, int] | None:
    """An RFC3339(Nano) time as (aware datetime in UTC, integer nanoseconds since the
    epoch); None for anything else."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        offset = timedelta(0)
        if zone not in ("Z", "z"):
            sign = 1 if zone[0] == "+" else -1
            offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        moment = (
            datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC
            )
            - offset
        )
    except (ValueError, OverflowError):
        return None
    nanos = int((fraction or "").ljust(9, "0"))
    seconds = calendar.timegm(moment.utctimetuple())
    return moment.replace(microsecond=nanos // 1000), seconds * 1_000_000_000 + nanos


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    parsed = parse_timestamp(value)
    return parsed[0] if parsed else None


def parse_pod(obj: dict[str, Any], revisions: dict[str, str] | None = None) -> PodState:
    """A pod object of the API as a PodState: phase (``Terminating`` when deleted), ready,
    restarts, age, revision and why it is not ready. Anything that is not a Pod object is
    :class:`SourceMalformed`."""
    try:
        pod = _parse_pod(obj, revisions)
    except (AttributeError, TypeError, ValueError, KeyError):
        raise SourceMalformed("kubernetes", "a pod in the answer is not a Pod object") from None
    if not isinstance(pod.name, str) or pod.name == "?":
        raise SourceMalformed("kubernetes", "a pod in the answer has no name")
    return pod


def _parse_pod(obj: dict[str, Any], revisions: dict[str, str] | None) -> PodState:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    phase = status.get("phase") or "Unknown"
    if meta.get("deletionTimestamp"):
        phase = "Terminating"
    ready = bool(statuses) and all(bool(c.get("ready")) for c in statuses)
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    reason = None
    for container in statuses:
        state = container.get("state") or {}
        for key in ("waiting", "terminated"):
            if isinstance(state.get(key), dict) and state[key].get("reason"):
                reason = state[key]["reason"]
                break
        if reason:
            break
    labels = meta.get("labels") or {}
    template_hash = labels.get("pod-template-hash")
    revision = template_hash
    if revisions and template_hash in revisions:
        revision = f"{revisions[template_hash]} ({template_hash})"
    return PodState(
        name=meta.get("name") or "?",
        phase=phase,
        ready=ready,
        restarts=restarts,
        created=_time(meta.get("creationTimestamp")),
        revision=revision,
        reason=reason,
        containers=tuple(c.get("name", "?") for c in spec.get("containers") or []),
        node=spec.get("nodeName"),
    )
