"""What the dashboard's parts (its action mixins) may use of it: the incident, the
settings, its live readings and its backend clients. :class:`DashboardPart` is the base
of :class:`~tui.screens.actions.IncidentActions` and
:class:`~tui.screens.remediating.RemediationActions`, which
:class:`~tui.screens.dashboard.DashboardScreen` mixes in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from tui.act.session import sentence

if TYPE_CHECKING:
    from textual.screen import Screen

    from tui.decision import Readings, Suggestion
    from tui.record.incident import Incident
    from tui.record.journal import Journal
    from tui.runbook import Runbook
    from tui.settings import Settings
    from tui.signals import Health, MetricReading, VendorStatus
    from tui.sources.hub import Sources

    _Base = Screen[None]
else:
    _Base = object

__all__ = ["DashboardPart"]


class DashboardPart(_Base):
    """The dashboard as its action mixins see it."""

    if TYPE_CHECKING:
        incident: Incident
        journal: Journal | None
        settings: Settings
        runbook: Runbook
        read_only: bool
        live: bool
        metrics: dict[str, MetricReading]
        vendor: VendorStatus | None
        health: Health | None
        _sources: Sources | None

        clock: Callable[[], datetime]

        def readings(self) -> Readings: ...
        def refresh_decision(self) -> None: ...
        def follow_journal(self) -> None: ...
        def tick_at(self, now: datetime) -> None: ...
        def suggestion(self) -> Suggestion: ...
        def open_remediation(
            self, remediation_id: str, *, checklist_key: str | None = None
        ) -> bool: ...
        def start_guide(self, key: str) -> None: ...

    def _can_change(self) -> bool:
        if self.read_only:
            self.notify("This is a replay: nothing can be changed.", severity="warning")
            return False
        return True

    def _fail(self, error: BaseException) -> None:
        self.notify(sentence(error), severity="error", timeout=10)

    async def open_sources(self) -> Sources:
        """The dashboard's backend clients, built once. Their modules (httpx, the Prometheus
        client) and TLS contexts take a fifth of a second to load: that happens in a thread,
        so the screen keeps drawing and answering keys meanwhile."""
        if self._sources is None:
            sources = await asyncio.to_thread(_new_sources, self.settings, self.runbook)
            if self._sources is None:
                self._sources = sources
            else:  # built by another caller meanwhile
                await sources.close()
        return self._sources


def _new_sources(settings: Settings, runbook: Runbook) -> Sources:
    from tui.sources.hub import Sources

    return Sources(settings, runbook)
