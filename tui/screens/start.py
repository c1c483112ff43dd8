"""The start: resume an open incident, or declare one (runbook, severity, title, impact)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui.errors import IncidentTuiError
from tui.inert import inert
from tui.record.event import utcnow
from tui.record.listing import IncidentSummary, list_incidents
from tui.runbook import Catalog, Runbook, format_duration
from tui.settings import Settings
from widgets.key_bar import KeyBar

__all__ = ["StartScreen"]


def _age(summary: IncidentSummary) -> str:
    age = summary.age(utcnow())
    if age is None:
        return "?"
    minutes = int(age.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 48 * 60:
        return f"{minutes // 60}h{minutes % 60:02d}m"
    return f"{minutes // 1440}d"


class StartScreen(Screen[None]):
    """Resume or declare."""

    DEFAULT_CSS = """
    StartScreen { align: center top; }
    StartScreen #start-body { width: 110; max-width: 100%; height: auto; padding: 1 2; }
    StartScreen .heading { text-style: bold; color: $accent; margin: 1 0 0 0; }
    StartScreen #open-incidents { height: auto; max-height: 8; }
    StartScreen #runbooks { height: auto; max-height: 8; }
    StartScreen #severities { height: auto; max-height: 7; }
    StartScreen #declare-row { height: auto; margin-top: 1; }
    StartScreen #start-error { color: $error; height: auto; }
    StartScreen Input { margin: 0; }
    """

    BINDINGS = [
        Binding("ctrl+s", "declare", "Declare", priority=True),
        Binding("escape", "app.quit", "Quit"),
    ]

    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        super().__init__(id="start")
        self.catalog = catalog
        self.settings = settings
        self.open = [s for s in list_incidents() if s.is_open]
        self.runbook: Runbook | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="start-body"):
            yield Static(
                "incident-tui — resume an open incident or declare a new one", classes="heading"
            )
            if self.open:
                yield Label("Open incidents (Enter resumes)", classes="heading")
                table: DataTable[str] = DataTable(id="open-incidents", cursor_type="row")
                table.add_columns("id", "severity", "status", "runbook", "title", "age")
                for summary in self.open:
                    table.add_row(
                        summary.id,
                        summary.severity,
                        summary.status,
                        summary.runbook,
                        summary.title,
                        _age(summary),
                        key=summary.id,
                    )
                yield table
            yield Label("1. Runbook", classes="heading")
            options = [
                Option(
                    f"{source.runbook.id:<22} {source.runbook.title}"
                    + ("  (user file)" if source.origin == "user" else ""),
                    id=runbook_id,
                )
                for runbook_id, source in sorted(self.catalog.runbooks.items())
            ]
            yield OptionList(*options, id="runbooks")
            yield Label("2. Severity", classes="heading")
            severities: DataTable[str] = DataTable(id="severities", cursor_type="row")
            severities.add_columns("level", "definition", "respond within", "example")
            yield severities
            yield Label("3. Title and impact", classes="heading")
            yield Input(placeholder="Title, e.g. Clay enrichment failing with 429s", id="title")
            yield Input(placeholder="Impact on users (optional)", id="impact")
            with Horizontal(id="declare-row"):
                yield Button("Declare (ctrl+s)", variant="error", id="declare")
            yield Static("", id="start-error", markup=False)
            for problem in self.catalog.problems:
                yield Static(f"⚠ skipped runbook {problem}", classes="problem")
        yield KeyBar()

    def on_mount(self) -> None:
        if self.open:
            self.query_one("#open-incidents", DataTable).focus()
        else:
            self.query_one("#runbooks", OptionList).focus()
        runbooks = self.query_one("#runbooks", OptionList)
        if runbooks.option_count:
            runbooks.highlighted = 0
            self._choose(runbooks.get_option_at_index(0).id or "")

    def _choose(self, runbook_id: str) -> None:
        self.runbook = self.catalog.get(runbook_id)
        table = self.query_one("#severities", DataTable)
        table.clear()
        for severity in self.runbook.severities:
            table.add_row(
                severity.level,
                severity.definition,
                severity.response_time_label or format_duration(severity.response_time),
                severity.example,
                key=severity.level,
            )

    @on(OptionList.OptionHighlighted, "#runbooks")
    def _runbook_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id:
            self._choose(event.option.id)

    @on(OptionList.OptionSelected, "#runbooks")
    def _runbook_selected(self) -> None:
        self.query_one("#severities", DataTable).focus()

    @on(DataTable.RowSelected, "#severities")
    def _severity_selected(self) -> None:
        self.query_one("#title", Input).focus()

    @on(DataTable.RowSelected, "#open-incidents")
    def _resume(self, event: DataTable.RowSelected) -> None:
        incident_id = str(event.row_key.value)
        try:
            self.app.resume(incident_id)  # type: ignore[attr-defined]
        except Exception as error:  # a broken journal must not take the picker down
            self.query_one("#start-error", Static).update(
                inert(f"Cannot resume {incident_id}: {error}")
            )

    @on(Input.Submitted, "#title")
    def _title_done(self) -> None:
        self.query_one("#impact", Input).focus()

    @on(Input.Submitted, "#impact")
    @on(Button.Pressed, "#declare")
    def action_declare(self) -> None:
        error = self.query_one("#start-error", Static)
        if self.runbook is None:
            error.update("Pick a runbook first.")
            return
        table = self.query_one("#severities", DataTable)
        if table.row_count == 0:
            error.update("The runbook has no severities.")
            return
        level = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        title = self.query_one("#title", Input).value.strip()
        if not title:
            error.update("Give the incident a title.")
            self.query_one("#title", Input).focus()
            return
        impact = self.query_one("#impact", Input).value.strip() or None
        try:
            self.app.declare(self.runbook, level, title, impact)  # type: ignore[attr-defined]
        except IncidentTuiError as problem:
            # the picker stays, with what was typed, so the responder can fix it and retry
            error.update(inert(f"Cannot declare: {problem}"))
