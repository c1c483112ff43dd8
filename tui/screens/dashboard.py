"""The dashboard: every pane of the incident, fed by workers that poll and stream the
backends; nothing here blocks the screen."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, Static, Tab, Tabs

from tui.conditions import PodJudge, health_condition
from tui.decision import Readings, Settler, Suggestion, suggest
from tui.errors import ConfigError, IncidentTuiError
from tui.inert import inert
from tui.record.event import Event, utcnow
from tui.record.incident import Incident
from tui.record.journal import Journal
from tui.record.mitigations import temporary_in_effect
from tui.screens.actions import ACT_BINDINGS, IncidentActions
from tui.screens.log_pane import LogPaneControls
from tui.screens.remediating import RemediationActions
from tui.screens.replay import ReplayControls
from tui.settings import Settings
from tui.signals import (
    Health,
    LogLine,
    MetricReading,
    PodState,
    SourceFault,
    VendorStatus,
)
from widgets.checklist import ChecklistView
from widgets.decision_tree import DecisionTreeView
from widgets.error_rates import ErrorRatesPane
from widgets.incident_header import IncidentHeader
from widgets.key_bar import KeyBar
from widgets.log_view import LogView
from widgets.pods import PodTable
from widgets.timeline_view import TimelineView
from widgets.vendor_status import VendorStatusPane

if TYPE_CHECKING:
    from tui.sources.hub import Sources
    from tui.sources.kube.logs import LogTail

__all__ = ["PANES", "DashboardScreen"]

PANES: tuple[tuple[str, str], ...] = (
    ("vendor", "Vendor status"),
    ("rates", "Error rates"),
    ("tree", "Decision tree"),
    ("pods", "Pods"),
    ("logs", "Logs"),
    ("checklist", "Checklist"),
    ("timeline", "Timeline"),
)
"""Pane ids and titles, in the order Tab moves through them."""

_PANE_NAMES = frozenset(name for name, _ in PANES)

WIDE = (120, 40)
"""At this size and above every pane shows; below it the panes become tabs."""


class DashboardScreen(
    IncidentActions, RemediationActions, ReplayControls, LogPaneControls, Screen[None]
):
    """One incident, live."""

    BINDINGS = [
        Binding("tab", "next_pane", "Next pane", priority=True),
        Binding("shift+tab", "previous_pane", "Previous pane", priority=True),
        Binding("1", "goto_pane('vendor')", "Vendor status", show=False),
        Binding("2", "goto_pane('rates')", "Error rates", show=False),
        Binding("3", "goto_pane('tree')", "Decision tree", show=False),
        Binding("4", "goto_pane('pods')", "Pods", show=False),
        Binding("5", "goto_pane('logs')", "Logs", show=False),
        Binding("6", "goto_pane('checklist')", "Checklist", show=False),
        Binding("7", "goto_pane('timeline')", "Timeline", show=False),
        Binding("r", "refresh_now", "Refresh now", show=False),
        Binding("left", "replay_step(-1)", "Earlier event", show=False),
        Binding("right", "replay_step(1)", "Later event", show=False),
        *ACT_BINDINGS,
    ]

    decision_settle = timedelta(seconds=10)
    """How long the signals' answer to a question must hold before it is recorded."""

    def __init__(
        self,
        incident: Incident,
        journal: Journal | None,
        settings: Settings,
        *,
        read_only: bool = False,
        replay_events: list[Event] | None = None,
        banner: str | None = None,
        live: bool = True,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(id="dashboard")
        self.incident = incident
        self.journal = journal
        self.settings = settings
        self.runbook = incident.runbook
        self.read_only = read_only
        self.replay_events = replay_events or []
        self.banner = banner
        self.live = live and not read_only
        self.clock = clock
        self.vendor: VendorStatus | None = None
        self.vendor_fault: SourceFault | None = None
        self.health: Health | None = None
        self.health_fault: SourceFault | None = None
        self.metrics: dict[str, MetricReading] = {}
        self.metrics_fault: SourceFault | None = None
        self.pods: list[PodState] = []
        self.kube_fault: SourceFault | None = None
        self.logs_fault: SourceFault | None = None
        self._shown_events: set[str] = set()
        self._sources: Sources | None = None
        self._tail: LogTail | None = None
        self._active_pane = "logs"
        self._settler = Settler(self.decision_settle)
        self._last_error: LogLine | None = None
        self._pod_judge = PodJudge()
        self._warned = 0

    # ---------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield IncidentHeader(id="header")
        yield Static("", id="journal-banner", markup=False)
        if self.banner:
            yield Static(self.banner, id="banner")
        yield Static("", id="replay-bar")
        yield Tabs(*(Tab(title, id=f"tab-{pane}") for pane, title in PANES), id="pane-tabs")
        with Container(id="panes"):
            with Vertical(classes="pane", id="pane-vendor"):
                yield VendorStatusPane(id="vendor")
            with Vertical(classes="pane", id="pane-rates"):
                yield ErrorRatesPane(id="rates")
            with Vertical(classes="pane", id="pane-tree"):
                yield DecisionTreeView(self.runbook, id="tree")
            with Vertical(classes="pane", id="pane-pods"):
                yield PodTable(f"{self.runbook.service.deployment}-", id="pods")
            with Vertical(classes="pane", id="pane-logs"):
                yield LogView(
                    max_lines=self.settings.logs.buffer_lines,
                    strip_prefix=f"{self.runbook.service.deployment}-",
                    id="logs",
                )
                with Vertical(id="log-footer"):
                    yield Input(
                        placeholder="regex filter (Enter keeps it, Escape clears it)",
                        id="log-filter",
                    )
                    yield Static("", id="log-fault", markup=False)
                    yield Static("", id="log-status")
            with Vertical(classes="pane", id="pane-checklist"):
                yield ChecklistView(self.runbook, id="checklist")
            with Vertical(classes="pane", id="pane-timeline"):
                yield TimelineView(id="timeline")
        yield KeyBar()

    def on_mount(self) -> None:
        for pane, title in PANES:
            self.query_one(f"#pane-{pane}").border_title = title
        self._layout_for(self.app.size.width, self.app.size.height)
        if self.journal is not None and not self.read_only:
            self.incident.recorder = self._record
        events = self.replay_events or list(self.incident.events)
        if self.read_only and self.replay_events:
            self.add_class("-replay")
            self._replay_at = len(events) - 1
            self.call_after_refresh(self._show_replay)
        else:
            self.query_one(TimelineView).set_events(events)
        self._shown_events.update(e.id for e in events)
        self.query_one(ChecklistView).show(set(self.incident.checked))
        self.refresh_decision()
        self.tick()
        self.set_interval(1.0, self.tick)
        self.query_one("#logs", LogView).focus()
        self._say_journal_warnings()
        if self.journal is not None and not self.read_only:
            self.set_interval(0.5, self.follow_journal)
            self.set_interval(1.0, self.retry_held)
        if self.live:
            # after the first frame: the backends' clients are not needed to draw it. The
            # first refresh after mount happens while the app still holds its start-up
            # batch (nothing reaches the terminal), so wait for the one after it
            self.call_after_refresh(self.call_after_refresh, self.start_sources)

    def on_resize(self) -> None:
        self._layout_for(self.app.size.width, self.app.size.height)

    def _layout_for(self, width: int, height: int) -> None:
        narrow = width < WIDE[0] or height < WIDE[1]
        self.set_class(narrow, "-narrow")
        self._mark_active(self._active_pane)

    # ---------------------------------------------------------------- pane focus

    def _pane_of(self, widget: Widget | None) -> str | None:
        while widget is not None:
            if (
                widget.id
                and widget.id.removeprefix("pane-") in _PANE_NAMES
                and widget.id.startswith("pane-")
            ):
                return widget.id.removeprefix("pane-")
            widget = widget.parent  # type: ignore[assignment]
        return None

    def _mark_active(self, pane: str) -> None:
        self._active_pane = pane
        for name, _ in PANES:
            self.query_one(f"#pane-{name}").set_class(name == pane, "-active")
        tabs = self.query_one("#pane-tabs", Tabs)
        if tabs.active != f"tab-{pane}":
            tabs.active = f"tab-{pane}"

    def action_goto_pane(self, pane: str) -> None:
        self._mark_active(pane)
        target = self.query_one(f"#{pane}")
        if target.focusable:
            target.focus()
        else:
            for child in target.query("*"):
                if child.focusable:
                    child.focus()
                    break

    def _step_pane(self, step: int) -> None:
        names = [name for name, _ in PANES]
        current = self._pane_of(self.focused) or self._active_pane
        index = names.index(current) if current in names else 0
        self.action_goto_pane(names[(index + step) % len(names)])

    def action_next_pane(self) -> None:
        if isinstance(self.focused, Input):
            self.focused.blur()
        self._step_pane(1)

    def action_previous_pane(self) -> None:
        self._step_pane(-1)

    def on_descendant_focus(self, event: Any) -> None:
        pane = self._pane_of(event.widget)
        if pane and pane != self._active_pane:
            self._mark_active(pane)

    @on(Tabs.TabActivated, "#pane-tabs")
    def _tab_chosen(self, event: Tabs.TabActivated) -> None:
        if event.tab.id != event.tabs.active:
            # a stale activation (the screen has moved the tabs on since): following it
            # would move them back and start a ping-pong between two panes
            return
        pane = (event.tab.id or "").removeprefix("tab-")
        if pane and pane != self._active_pane:
            self.action_goto_pane(pane)

    # ---------------------------------------------------------------- the clock

    def tick(self) -> None:
        if self.read_only and self.replay_events:
            return
        self.tick_at(self.clock())

    # ---------------------------------------------------------------- the record

    def _record(self, event: Event) -> Event:
        assert self.journal is not None
        # never raises: an event the journal cannot take now is held and written later,
        # so a full disk or an immutable file never stops a pane
        stored = self.journal.record_or_hold(event)
        self._shown_events.add(stored.id)
        self.call_after_refresh(self._show_events, [stored])
        self._show_journal_state()
        return stored

    def retry_held(self) -> None:
        """Write what the journal could not take, once it can; say so either way."""
        if self.journal is None or not self.journal.held:
            return
        written = self.journal.flush_held()
        if written:
            self.notify(
                f"The journal accepts writes again: {written} held "
                f"event{'s' if written != 1 else ''} written in order.",
                timeout=8,
            )
        self._show_journal_state()

    def _show_journal_state(self) -> None:
        banner = self.query_one("#journal-banner", Static)
        journal = self.journal
        if journal is None or not journal.held:
            banner.remove_class("-shown")
            return
        since = journal.held_since or self.clock()
        count = len(journal.held)
        banner.update(
            inert(
                f"⚠ The journal cannot be written since {since:%H:%M:%S} UTC "
                f"({journal.held_error or 'no reason given'}). {count} "
                f"event{'s' if count != 1 else ''} held in memory, written in order once "
                "it can be; the panes stay live."
            )
        )
        banner.add_class("-shown")

    def _show_events(self, events: list[Event]) -> None:
        self.query_one(TimelineView).add_events(events)
        self.query_one(ChecklistView).show(set(self.incident.checked))

    def _say_journal_warnings(self) -> None:
        """Each damaged or skipped journal line, once, as the command line warns of it."""
        if self.journal is None:
            return
        for warning in self.journal.warnings[self._warned :]:
            self.notify(
                inert(str(warning)), title="Journal", severity="warning", timeout=20, markup=False
            )
        self._warned = len(self.journal.warnings)

    def follow_journal(self) -> None:
        """Show events other processes appended (``incident-tui note`` in a second terminal)."""
        assert self.journal is not None
        try:
            events = self.journal.read_new()
        except IncidentTuiError as error:
            self.notify(str(error), severity="error", timeout=8)
            return
        finally:
            self._say_journal_warnings()
        fresh = [e for e in events if e.id not in self._shown_events]
        if not fresh:
            return
        self.incident.apply_new(fresh)
        self._shown_events.update(e.id for e in fresh)
        self._show_events(fresh)
        self.tick()
        self.refresh_decision()

    # ---------------------------------------------------------------- decisions

    def readings(self) -> Readings:
        mitigations = tuple(m.title for m in temporary_in_effect(self.incident))
        return Readings(dict(self.metrics), self.vendor, self.health, mitigations)

    def refresh_decision(self) -> None:
        now = self.suggestion()
        self.query_one(DecisionTreeView).show(now.path, now.groups)
        pane = self.query_one("#pane-tree")
        advice = escape(inert(f"⚑ {now.advice}")) if now.advice else ""
        if pane.border_subtitle != advice:
            pane.border_subtitle = advice
        if self.live and self.journal is not None:
            for answer in self._settler.settled(now.path.answers, self.clock()):
                with contextlib.suppress(IncidentTuiError):
                    self.incident.observe_answer(answer)

    def suggestion(self) -> Suggestion:
        """What the signals suggest now, with the responder's overrides."""
        overrides = {
            node: answer.answer
            for node, answer in self.incident.decisions.items()
            if not answer.live and answer.answer is not None
        }
        return suggest(self.runbook, self.readings(), overrides)

    def tick_at(self, now: datetime) -> None:
        incident = self.incident
        due = incident.next_update_due()
        self.query_one(IncidentHeader).show(
            title=incident.title,
            severity=incident.severity,
            status=incident.status,
            elapsed=incident.elapsed(now),
            response_remaining=incident.response_remaining(now),
            breached=incident.response_breached(now),
            commander=incident.commander,
            next_update_in=(due - now) if due else None,
            now=now,
            mitigated=incident.mitigated_at is not None,
            where=self.kube_where(),
        )

    def kube_where(self) -> str:
        """The context and namespace in use (once connected, what the connection uses)."""
        kube = self._sources.kube if self._sources is not None else None
        if kube is not None:
            return f"{kube.context}/{kube.namespace}"
        settings = self.settings.kubernetes
        namespace = settings.namespace or self.runbook.service.namespace
        # the kubeconfig's current context is known once it is read
        return f"{settings.context}/{namespace}" if settings.context else namespace

    # ---------------------------------------------------------------- showing values

    def present(
        self,
        *,
        vendor: VendorStatus | None = None,
        vendor_fault: SourceFault | None = None,
        health: Health | None = None,
        health_fault: SourceFault | None = None,
        metrics: list[MetricReading] | None = None,
        metrics_fault: SourceFault | None = None,
        pods: list[PodState] | None = None,
        kube_fault: SourceFault | None = None,
        log_lines: list[LogLine] | None = None,
    ) -> None:
        """Show values that did not come from this screen's own workers: a replay's record,
        or a fixed picture for screenshots."""
        now = self.clock()
        if vendor is not None or vendor_fault is not None or health is not None:
            self.vendor, self.vendor_fault = vendor or self.vendor, vendor_fault
            self.health, self.health_fault = health or self.health, health_fault
            self.query_one(VendorStatusPane).show(
                self.vendor, self.vendor_fault, self.health, self.health_fault, now
            )
        if metrics is not None or metrics_fault is not None:
            if metrics is not None:
                self.metrics = {m.signal_id: m for m in metrics}
            self.metrics_fault = metrics_fault
            self.query_one(ErrorRatesPane).show(list(self.metrics.values()), metrics_fault, now)
        if pods is not None or kube_fault is not None:
            self.pods = pods if pods is not None else self.pods
            self.kube_fault = kube_fault
            self.query_one(PodTable).show(self.pods, kube_fault, now)
        if log_lines:
            self.query_one("#logs", LogView).write_lines(log_lines)
        self.refresh_decision()

    # ---------------------------------------------------------------- sources

    @work(group="start-sources", exclusive=True, exit_on_error=False)
    async def start_sources(self) -> None:
        await self.open_sources()
        self.poll_status()
        self.poll_metrics()
        self.set_interval(
            self.settings.status.poll_interval, self._tick("status", self.poll_status)
        )
        self.set_interval(
            self.settings.prometheus.poll_interval, self._tick("metrics", self.poll_metrics)
        )
        self.run_kube()

    def _tick(self, group: str, poll: Callable[[], object]) -> Callable[[], None]:
        """A timer callback that leaves a poll still waiting on a slow backend to reach its
        own timeout, instead of cancelling it with the next one (which would hide the fault)."""

        def tick() -> None:
            busy = any(
                w.node is self and w.group == group and not w.is_finished for w in self.app.workers
            )
            if not busy:
                poll()

        return tick

    def action_refresh_now(self) -> None:
        if self.live and self._sources is not None:
            self.poll_status()
            self.poll_metrics()

    @work(exclusive=True, group="status", exit_on_error=False)
    async def poll_status(self) -> None:
        sources = await self.open_sources()
        vendor, health = await sources.read_status()
        if vendor.value is not None:
            self.vendor = vendor.value
            self.incident.observe_vendor_status(
                vendor.value.indicator,
                description=vendor.value.description,
                incidents=len(vendor.value.incidents),
            )
        self.vendor_fault = vendor.fault
        self._observe_fault("status_page", vendor.fault)
        if health is not None:
            if health.value is not None:
                self.health = health.value
                self.observe_conditions([health_condition(health.value)])
            self.health_fault = health.fault
            self._observe_fault("health", health.fault)
        self.query_one(VendorStatusPane).show(
            self.vendor, self.vendor_fault, self.health, self.health_fault, self.clock()
        )
        self.refresh_decision()

    @work(exclusive=True, group="metrics", exit_on_error=False)
    async def poll_metrics(self) -> None:
        sources = await self.open_sources()
        outcome = await sources.read_metrics()
        if outcome.value is not None:
            self.metrics = {reading.signal_id: reading for reading in outcome.value}
            for reading in outcome.value:
                event = self.incident.observe_alert(
                    reading.signal_id, reading.level, reading.value, reading.threshold
                )
                if event is not None and event.kind == "signal_alert_raised":
                    self.offer_severity(event)
        self.metrics_fault = outcome.fault
        self._observe_fault("prometheus", outcome.fault)
        self.query_one(ErrorRatesPane).show(
            list(self.metrics.values()), self.metrics_fault, self.clock()
        )
        self.refresh_decision()

    @work(exclusive=True, group="kubernetes", exit_on_error=False)
    async def run_kube(self) -> None:
        from tui.sources.kube.logs import LogTail
        from tui.sources.kube.pods import PodWatcher

        sources = await self.open_sources()
        while True:
            try:
                conn = await sources.open_kube()
                break
            except ConfigError as error:
                fault = SourceFault("kubernetes", "error", str(error), since=self.clock())
                self._set_kube_fault(fault)
                await asyncio.sleep(10)
        _settle_heap()
        tail = LogTail(
            conn,
            self.runbook,
            self._on_log_lines,
            self._set_logs_fault,
            max_line_length=self.settings.logs.max_line_length,
        )
        self._tail = tail
        watcher = PodWatcher(
            conn,
            self.runbook.service.selector,
            self._on_pods,
            self._set_kube_fault,
            runbook=self.runbook,
            # re-list every poll interval: a watch left open would not notice a fault that
            # only new requests meet (an expired token, a revoked role)
            watch_timeout=max(1, round(self.settings.kubernetes.poll_interval)),
        )
        await asyncio.gather(
            self._kept_running("kubernetes", watcher.run, self._set_kube_fault),
            self._kept_running("logs", tail.run, self._set_logs_fault),
        )

    async def _kept_running(
        self,
        backend: str,
        run: Callable[[], Awaitable[None]],
        say: Callable[[SourceFault | None], None],
    ) -> None:
        """Run a follower for good: one that stops on an error nobody foresaw is said in
        its pane and started again, instead of leaving the pane frozen and silent."""
        while True:
            try:
                await run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the pane must say it, whatever it was
                say(
                    SourceFault(
                        backend,
                        "error",
                        inert(f"following stopped ({type(error).__name__}: {error}); restarted"),
                        since=self.clock(),
                    )
                )
                await asyncio.sleep(1.0)

    def _on_pods(self, pods: list[PodState]) -> None:
        self.pods = pods
        if self._tail is not None:
            self._tail.update_pods(pods)
        for pod in pods:
            self.incident.observe_pod_restarts(pod.name, pod.restarts, reason=pod.reason)
        self.observe_conditions(self._pod_judge.observe(pods, self._last_error, self.clock()))
        self.query_one(PodTable).show(pods, self.kube_fault, self.clock())
        self.query_one(
            "#pane-pods"
        ).border_subtitle = f"{sum(p.ready for p in pods)}/{len(pods)} ready"

    def _observe_fault(self, backend: str, fault: SourceFault | None) -> None:
        """One timeline event when a backend starts failing and one when it recovers."""
        if self.read_only:
            return
        self.incident.observe_source(
            backend,
            fault.kind if fault else None,
            message=fault.message if fault else None,
            hint=fault.hint if fault else None,
        )

    def _set_kube_fault(self, fault: SourceFault | None) -> None:
        if self._tail is not None:
            self._tail.api_fault(fault)
        self.kube_fault = fault
        self._observe_fault("kubernetes", fault)
        self.query_one(PodTable).show(self.pods, fault, self.clock())

    async def on_unmount(self) -> None:
        self.close_kept_logs()
        if self._sources is not None:
            with contextlib.suppress(Exception):
                await self._sources.close()


def _settle_heap() -> None:
    """Once the app and its clients are loaded, collect what start-up left behind and move
    everything that is still alive (modules, classes, widgets, the runbook, the clients)
    out of the cyclic garbage collector's sight: it lives as long as the app. Without this
    every full collection under a log flood walks those ~130,000 objects again and stalls
    the screen for 50-100 ms; afterwards it walks only what came since."""
    gc.collect()
    gc.freeze()
