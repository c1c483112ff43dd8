"""IncidentApp: wires the Incident, the live sources and the screens; global key bindings."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen

from tui.errors import IncidentTuiError
from tui.inert import inert
from tui.record.event import Event, utcnow
from tui.record.incident import Incident
from tui.record.journal import Journal
from tui.record.store import declare_incident, open_incident
from tui.runbook import Catalog, Runbook
from tui.settings import Settings

__all__ = ["IncidentApp", "Launch"]


@dataclass
class Launch:
    """What the app starts with: an incident to show (declared or resumed), or the picker."""

    settings: Settings
    catalog: Catalog
    incident: Incident | None = None
    journal: Journal | None = None
    read_only: bool = False
    """Replay: show a recorded incident, change nothing, poll nothing."""
    replay_events: list[Event] = field(default_factory=list)
    banner: str | None = None
    """One line shown in the header area (the demo says what it runs against)."""
    live: bool = True
    """Poll the backends; tests of screens without a backend turn it off."""
    demo: str | None = None
    """The sandbox scenario, when this is ``incident-tui demo``: quitting offers to resolve
    its incident, which would otherwise stay open with no world left to fix."""


class IncidentApp(App[None]):
    """The cockpit."""

    TITLE = "incident-tui"
    CSS_PATH = str(Path(__file__).with_name("app.tcss"))
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("question_mark", "help", "Keys", key_display="?"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("q", "quit", "Quit", show=False),
    ]

    def __init__(self, launch: Launch, clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__()
        self.launch = launch
        self.settings = launch.settings
        self.clock = clock
        self.incident: Incident | None = launch.incident
        self.journal: Journal | None = launch.journal

    # ---------------------------------------------------------------- start

    def get_default_screen(self) -> Screen[Any]:
        # an incident given at launch is the first screen itself: composed and laid out
        # once, instead of a blank screen first and the dashboard pushed over it
        if self.incident is not None:
            return self._dashboard(self.incident, self.journal)
        return super().get_default_screen()

    def on_mount(self) -> None:
        if self.incident is None:
            from tui.screens.start import StartScreen

            self.push_screen(StartScreen(self.launch.catalog, self.settings))

    def show_dashboard(self, incident: Incident, journal: Journal | None) -> None:
        screen = self._dashboard(incident, journal)
        if isinstance(self.screen, Screen) and self.screen.id == "start":
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def _dashboard(self, incident: Incident, journal: Journal | None) -> Screen[Any]:
        from tui.screens.dashboard import DashboardScreen

        self.incident = incident
        self.journal = journal
        self.sub_title = f"{incident.id} · {incident.runbook.title}"
        return DashboardScreen(
            incident,
            journal,
            self.settings,
            read_only=self.launch.read_only,
            replay_events=self.launch.replay_events,
            banner=self.launch.banner,
            live=self.launch.live,
            clock=self.clock,
        )

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification is plain text: what it says often came from a backend (a
        server's error, a pod's name), and ``[...]`` in it must show as written."""
        super().notify(
            inert(message), title=inert(title), severity=severity, timeout=timeout, markup=False
        )

    def declare(self, runbook: Runbook, severity: str, title: str, impact: str | None) -> None:
        """Open a new incident from the picker and record its declaration."""

        incident, journal = declare_incident(
            runbook,
            title=title,
            severity=severity,
            impact=impact,
            commander=self.settings.responder,
            clock=self.clock,
            actor=self.settings.responder,
        )
        self.show_dashboard(incident, journal)

    def resume(self, incident_id: str) -> None:
        incident, journal = open_incident(
            incident_id,
            catalog=self.launch.catalog,
            actor=self.settings.responder,
            clock=self.clock,
        )
        self.show_dashboard(incident, journal)

    # ---------------------------------------------------------------- actions

    async def action_quit(self) -> None:
        incident = self.incident
        if (
            self.launch.demo is None
            or self.launch.read_only
            or incident is None
            or incident.resolved_at is not None
            or self.journal is None
            or not any(screen.id == "dashboard" for screen in self.screen_stack)
        ):
            self.exit()
            return
        self._offer_resolve(incident)

    @work(group="quit", exclusive=True, exit_on_error=False)
    async def _offer_resolve(self, incident: Incident) -> None:
        from tui.screens.modals import ChoiceScreen

        choice = await self.push_screen_wait(
            ChoiceScreen(
                "Quit the demo",
                [
                    ("resolve", "Resolve the demo incident, then quit"),
                    ("keep", "Quit and keep it open (incident-tui --resume picks it up)"),
                ],
                help_text=f"{incident.id} is still {incident.status}; the sandbox stops "
                "when the demo quits. Esc stays.",
            )
        )
        if choice == "resolve":
            try:
                incident.resolve("Demo ended; the sandbox was stopped.")
            except IncidentTuiError as error:
                self.notify(str(error), severity="error", timeout=10)
                return
        if choice in ("resolve", "keep"):
            self.exit()

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Keys", "Show every key binding", self.action_help)
        for binding in _screen_bindings(screen):
            action = binding.action
            yield SystemCommand(
                binding.description or action,
                binding.tooltip or f"{binding.description} ({binding.key})",
                _runner(screen, action),
            )


def _screen_bindings(screen: Screen[Any]) -> list[Binding]:
    seen: set[str] = set()
    found = []
    for binding in getattr(screen, "BINDINGS", []):
        if isinstance(binding, Binding) and binding.description and binding.action not in seen:
            seen.add(binding.action)
            found.append(binding)
    return found


def _runner(screen: Screen[Any], action: str) -> Callable[[], Any]:
    async def run() -> None:
        await screen.run_action(action)

    return run
