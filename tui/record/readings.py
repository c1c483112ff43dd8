"""The numbers the record holds: each signal as the record last saw it (a replay's error
rates), every reading of an alert (the bundle's ``metrics.json`` keeps them when the
metrics backend is gone), and each alert's episodes with their peaks (the postmortem's
impact)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast, get_args

from tui.record.event import format_time
from tui.record.state import worse_reading
from tui.signals import AlertLevel, MetricReading

if TYPE_CHECKING:
    from tui.record.incident import Incident

__all__ = ["AlertEpisode", "alert_episodes", "metrics_on_record", "readings_on_record"]

_ALERT_KINDS = ("signal_alert_raised", "signal_alert_cleared")


def metrics_on_record(incident: Incident) -> list[MetricReading]:
    """Each signal as the record last saw it (its last alert raised or cleared), for a
    replay: the reading, the level, the rule; no series."""
    readings = []
    for signal in incident.runbook.signals:
        last = next(
            (
                e
                for e in reversed(incident.events)
                if e.kind in _ALERT_KINDS and e.details.get("signal") == signal.id
            ),
            None,
        )
        if last is None:
            continue
        value = last.details.get("value")
        recorded = last.details.get("level") if last.kind == "signal_alert_raised" else "ok"
        level = cast(AlertLevel, recorded if recorded in get_args(AlertLevel) else "unknown")
        readings.append(
            MetricReading(
                signal.id,
                signal.name,
                float(value) if isinstance(value, int | float) else None,
                signal.unit,
                level,
                signal.alert.value if signal.alert else None,
                signal.alert.op if signal.alert else None,
                (),
                last.time,
            )
        )
    return readings


def readings_on_record(incident: Incident) -> dict[str, list[dict[str, Any]]]:
    """Every reading the journal holds of each signal (its alerts raised and cleared)."""
    readings: dict[str, list[dict[str, Any]]] = {}
    for event in incident.events:
        if event.kind not in _ALERT_KINDS:
            continue
        details = event.details
        readings.setdefault(str(details.get("signal")), []).append(
            {
                "time": format_time(event.time),
                "value": details.get("value"),
                "peak": details.get("peak"),
                "level": details.get("level") if event.kind == "signal_alert_raised" else "ok",
                "threshold": details.get("threshold"),
            }
        )
    return readings


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass
class AlertEpisode:
    """One stretch of an alert, from raised to cleared (or still alerting)."""

    signal: str
    name: str
    unit: str
    op: str
    threshold: float | None
    level: str
    """The worst level it reached."""
    raised_at: datetime
    first: float | None
    peak: float | None
    cleared_at: datetime | None = None
    last: float | None = None

    def lasted(self, now: datetime) -> timedelta:
        return (self.cleared_at or now) - self.raised_at


_LEVEL_RANK = {"P1": 1, "P2": 2, "P3": 3, "P4": 4}


def alert_episodes(incident: Incident) -> list[AlertEpisode]:
    """Every alert of the incident, raised to cleared, with the worst reading on record:
    the readings of its raised events and the peak its cleared event carries."""
    open_: dict[str, AlertEpisode] = {}
    done: list[AlertEpisode] = []
    for event in incident.events:
        if event.kind not in _ALERT_KINDS:
            continue
        d = event.details
        signal = str(d.get("signal"))
        value = _number(d.get("value"))
        op = str(d.get("op") or ">")
        episode = open_.get(signal)
        if event.kind == "signal_alert_raised":
            level = str(d.get("level") or "")
            if episode is None:
                episode = AlertEpisode(
                    signal,
                    str(d.get("name") or signal),
                    str(d.get("unit") or ""),
                    op,
                    _number(d.get("threshold")),
                    level,
                    event.time,
                    value,
                    value,
                )
                open_[signal] = episode
            else:
                episode.peak = worse_reading(op, episode.peak, value)
                if _LEVEL_RANK.get(level, 9) < _LEVEL_RANK.get(episode.level, 9):
                    episode.level = level
        elif episode is not None:
            episode.peak = worse_reading(op, worse_reading(op, episode.peak, d.get("peak")), value)
            episode.cleared_at = event.time
            episode.last = value
            done.append(open_.pop(signal))
    episodes = done + list(open_.values())
    episodes.sort(key=lambda e: e.raised_at)
    return episodes
