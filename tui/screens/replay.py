"""A replay (``incident-tui replay ID``): the dashboard read-only, its panes as the record
has them at one event, and left/right to step through the events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape
from textual.widgets import Static

from tui.record.incident import Incident
from tui.record.readings import metrics_on_record
from tui.screens.part import DashboardPart
from widgets.checklist import ChecklistView
from widgets.error_rates import ErrorRatesPane
from widgets.timeline_view import TimelineView

if TYPE_CHECKING:
    from tui.record.event import Event

__all__ = ["ReplayControls"]


class ReplayControls(DashboardPart):
    """Stepping through a recorded incident."""

    if TYPE_CHECKING:
        replay_events: list[Event]

    _replay_at = 0

    def action_replay_step(self, step: int) -> None:
        """Left/right in a replay: move through the recorded events."""
        if not (self.read_only and self.replay_events):
            return
        at = max(0, min(len(self.replay_events) - 1, self._replay_at + step))
        if at != self._replay_at:
            self._replay_at = at
            self._show_replay()

    def _show_replay(self) -> None:
        """The panes as the record has them at the current event."""
        shown = self.replay_events[: self._replay_at + 1]
        state = Incident.from_events(self.runbook, shown, clock=lambda: shown[-1].time)
        self.incident = state
        self.query_one(TimelineView).set_events(shown)
        self.query_one(ChecklistView).show(set(state.checked))
        metrics = metrics_on_record(state)
        self.metrics = {m.signal_id: m for m in metrics}
        self.query_one(ErrorRatesPane).show(metrics, None, shown[-1].time)
        self.refresh_decision()
        event = shown[-1]
        elapsed = event.time - shown[0].time
        self.query_one("#replay-bar", Static).update(
            f"REPLAY (read-only) · event {self._replay_at + 1}/{len(self.replay_events)}"
            f" · {event.time:%Y-%m-%d %H:%M:%S} UTC (+{str(elapsed).split('.')[0]})"
            f" · {escape(event.summary)} · ←/→ step"
        )
        self.tick_at(event.time)
