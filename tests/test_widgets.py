"""The cockpit's panes as a responder sees them: each widget alone in a small app, fed real
signals, runbooks and events, checked on screen and through the messages its keys post."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import pytest
from rich.color import Color
from rich.segment import Segment
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from tui.decision import Readings, dominant_category, evaluate, ranked_remediations
from tui.record.event import Event
from tui.runbook import Runbook, discover_runbooks
from tui.runbook.checklists import all_checklist_ids, checklist_entries, find_checklist_entry
from tui.signals import (
    Component,
    Health,
    MetricReading,
    PodState,
    SourceFault,
    VendorIncident,
    VendorStatus,
)
from widgets.checklist import ChecklistView
from widgets.decision_tree import DecisionTreeView
from widgets.error_rates import ErrorRatesPane, SignalRow, sparkline
from widgets.fault import fault_text
from widgets.incident_header import IncidentHeader
from widgets.key_bar import KeyBar
from widgets.palette import BLUE, CYAN, GREEN, MAGENTA, RED, YELLOW
from widgets.pods import PodGrid, PodTable, k8s_age
from widgets.timeline_view import TimelineView
from widgets.vendor_status import VendorStatusPane

NOW = datetime(2025, 3, 1, 13, 6, 11, tzinfo=UTC)


# --------------------------------------------------------------------------- harness


W = TypeVar("W", bound=Widget)


class Harness(App[None], Generic[W]):
    """One widget on a screen, and every message its keys posted."""

    def __init__(self, widget: W) -> None:
        super().__init__()
        self.widget = widget
        self.seen: list[Message] = []

    def compose(self) -> ComposeResult:
        yield self.widget

    def on_decision_tree_view_answer_chosen(self, message: Message) -> None:
        self.seen.append(message)

    def on_decision_tree_view_remediation_chosen(self, message: Message) -> None:
        self.seen.append(message)

    def on_checklist_view_item_toggled(self, message: Message) -> None:
        self.seen.append(message)

    def on_checklist_view_remediation_chosen(self, message: Message) -> None:
        self.seen.append(message)

    def on_checklist_view_triage_requested(self, message: Message) -> None:
        self.seen.append(message)

    def on_timeline_view_pin_toggled(self, message: Message) -> None:
        self.seen.append(message)


def screen_lines(app: App[None]) -> list[str]:
    """The screen as the responder reads it, one string per row."""
    strips = app.screen._compositor.render_strips()
    return ["".join(segment.text for segment in strip).rstrip() for strip in strips]


def screen_text(app: App[None]) -> str:
    return "\n".join(screen_lines(app))


def segment_with(app: App[None], needle: str) -> Segment:
    """The first segment on screen whose text holds ``needle`` (one styled run)."""
    for strip in app.screen._compositor.render_strips():
        for segment in strip:
            if needle in segment.text:
                return segment
    raise AssertionError(f"{needle!r} is not on screen:\n{screen_text(app)}")


def segment_exactly(app: App[None], text: str) -> Segment:
    """The first segment on screen that says exactly ``text`` (spaces around aside)."""
    for strip in app.screen._compositor.render_strips():
        for segment in strip:
            if segment.text.strip() == text:
                return segment
    raise AssertionError(f"no {text!r} alone on screen:\n{screen_text(app)}")


def colour_of(app: App[None], needle: str, *, exact: bool = False) -> tuple[int, int, int]:
    style = (segment_exactly if exact else segment_with)(app, needle).style
    assert style is not None and style.color is not None
    triplet = style.color.get_truecolor()
    return (triplet.red, triplet.green, triplet.blue)


def rgb(hex_colour: str) -> tuple[int, int, int]:
    triplet = Color.parse(hex_colour).get_truecolor()
    return (triplet.red, triplet.green, triplet.blue)


def line_with(app: App[None], needle: str) -> str:
    for line in screen_lines(app):
        if needle in line:
            return line
    raise AssertionError(f"{needle!r} is not on screen:\n{screen_text(app)}")


@pytest.fixture(scope="module")
def runbooks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Runbook]]:
    """The bundled runbooks, with an empty config home so no user runbook replaces them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))
        catalog = discover_runbooks()
        yield {name: catalog.get(name) for name in ("clay", "clay-prod-checklist")}


@pytest.fixture
def clay(runbooks: dict[str, Runbook]) -> Runbook:
    return runbooks["clay"]


def reading(
    signal_id: str,
    name: str,
    value: float | None,
    level: str,
    threshold: float | None = None,
    *,
    unit: str = "/min",
    series: tuple[tuple[float, float], ...] = (),
    via_backup: bool = False,
) -> MetricReading:
    return MetricReading(
        signal_id,
        name,
        value,
        unit,
        level,  # type: ignore[arg-type]
        threshold,
        ">" if threshold is not None else None,
        series,
        NOW,
        via_backup,
    )


def fault(backend: str = "kubernetes", hint: str | None = None) -> SourceFault:
    return SourceFault(
        backend=backend,
        kind="auth_expired",
        message="401 Unauthorized: token has expired",
        since=NOW - timedelta(minutes=4),
        last_good_at=NOW - timedelta(minutes=5),
        hint=hint,
    )


# --------------------------------------------------------------------------- fault


def test_fault_text_says_what_failed_since_when_and_the_hint() -> None:
    text = fault_text(fault(hint="kubectl fails: Auth expired → Re-authenticate"), NOW)
    assert text.plain == (
        "⚠ Kubernetes API: auth expired — 401 Unauthorized: token has expired"
        " · since 13:02:11 (4m ago) · last good 5m ago\n"
        "Hint: kubectl fails: Auth expired → Re-authenticate"
    )


def test_fault_text_without_a_good_value_or_hint_and_with_control_characters() -> None:
    broken = SourceFault("prometheus", "malformed", "got \x1b[2Jgarbage", NOW)
    plain = fault_text(broken, NOW).plain
    assert (
        plain
        == "⚠ Prometheus: malformed — got ␛[2Jgarbage · since 13:06:11 (0s ago) · no good value yet"
    )
    assert "\x1b" not in plain


# --------------------------------------------------------------------------- vendor status


def status(indicator: str = "major", description: str = "Partial System Outage") -> VendorStatus:
    return VendorStatus(
        vendor="Clay",
        indicator=indicator,
        description=description,
        components=(Component("API", "partial_outage"), Component("Dashboard", "operational")),
        incidents=(
            VendorIncident(
                name="Elevated API errors",
                status="investigating",
                impact="major",
                updated_at=NOW - timedelta(minutes=3),
                latest_update="We are investigating elevated error rates on the API.",
            ),
        ),
        fetched_at=NOW - timedelta(seconds=20),
    )


HEALTH = Health("clay", "down", False, 1234, "upstream answered 503", NOW)


async def test_vendor_pane_shows_status_components_incidents_and_our_health() -> None:
    app = Harness(VendorStatusPane())
    async with app.run_test(size=(100, 24)) as pilot:
        app.widget.show(status(), None, HEALTH, None, NOW)
        await pilot.pause()
        text = screen_text(app)
        assert "Clay status ● major — Partial System Outage" in text
        assert "Degraded: API (partial outage)" in text
        assert "Dashboard" not in text
        assert "Elevated API errors [investigating, impact major] · updated 3m ago" in text
        assert "We are investigating elevated error rates on the API." in text
        assert "Our health ● down · 1234 ms" in text
        assert "Last error: upstream answered 503" in text
        assert colour_of(app, "● major") == rgb(RED)
        assert colour_of(app, "● down") == rgb(RED)


@pytest.mark.parametrize(
    ("indicator", "colour"),
    [("none", GREEN), ("minor", YELLOW), ("major", RED), ("critical", RED), ("flaky", MAGENTA)],
)
async def test_vendor_indicator_colours(indicator: str, colour: str) -> None:
    app = Harness(VendorStatusPane())
    async with app.run_test(size=(100, 24)) as pilot:
        app.widget.show(status(indicator), None, None, None, NOW)
        await pilot.pause()
        assert colour_of(app, f"● {indicator}") == rgb(colour)


async def test_vendor_fault_replaces_its_part_and_keeps_the_last_good_value_stale() -> None:
    pane = VendorStatusPane()
    app = Harness(pane)
    async with app.run_test(size=(100, 30)) as pilot:
        pane.show(status(), None, HEALTH, None, NOW)
        down = SourceFault(
            "status_page",
            "unreachable",
            "cannot connect to https://status.clay.com",
            NOW - timedelta(minutes=1),
            NOW - timedelta(seconds=80),
            "Can't reach status page: Network issue → Use mobile or VPN",
        )
        assert pane.show(None, down, HEALTH, None, NOW)
        await pilot.pause()
        text = screen_text(app)
        assert "⚠ Status page: unreachable — cannot connect to https://status.clay.com" in text
        assert "Hint: Can't reach status page: Network issue → Use mobile or VPN" in text
        assert "stale — last good value from 13:05:51 (20s ago):" in text
        assert "Clay status ● major — Partial System Outage" in text
        assert "Our health ● down" in text and "stale" not in line_with(app, "Our health")
        # the backend answers again: the fault goes away by itself
        pane.show(status("none", "All Systems Operational"), None, HEALTH, None, NOW)
        await pilot.pause()
        text = screen_text(app)
        assert "⚠" not in text and "stale" not in text
        assert "Clay status ● none — All Systems Operational" in text


async def test_vendor_text_with_control_sequences_is_shown_inert() -> None:
    app = Harness(VendorStatusPane())
    async with app.run_test(size=(100, 24)) as pilot:
        app.widget.show(
            status("minor", "Degraded \x1b[31mred\x1b[0m [b]x[/b]"), None, None, None, NOW
        )
        await pilot.pause()
        text = screen_text(app)
        assert "Degraded ␛[31mred␛[0m [b]x[/b]" in text
        assert "\x1b" not in text


# --------------------------------------------------------------------------- error rates

RISING = tuple((float(minute * 60), float(minute)) for minute in range(30))


def clay_readings() -> list[MetricReading]:
    return [
        reading("rate_limited", "Rate Limited", 37, "P2", 5, series=RISING),
        reading("auth_failures", "Auth Failures", 0, "ok", 0),
        reading("server_errors", "API Down", 12, "P1", 10, series=RISING, via_backup=True),
        reading("latency_p99", "High Latency", None, "unknown", 5000, unit="ms"),
        reading("webhooks", "Webhook Delays", 3, "P3", 2),
    ]


def test_sparkline_scales_to_the_threshold_and_keeps_spikes() -> None:
    assert sparkline([0, 5], width=4, top=10) == "  ▁▅"
    assert sparkline([0, 5, 10], width=3) == "▁▅█"
    assert sparkline([0.0] * 59 + [10.0], width=30)[-1] == "█"
    assert len(sparkline(list(range(200)), width=30)) == 30
    assert sparkline([], width=5) == "     "


async def test_error_rates_rows_show_value_threshold_level_and_backup() -> None:
    pane = ErrorRatesPane()
    app = Harness(pane)
    async with app.run_test(size=(100, 24)) as pilot:
        pane.show(clay_readings(), None, NOW)
        await pilot.pause()
        rate = line_with(app, "Rate Limited")
        assert "37/min" in rate and "> 5/min" in rate and "P2" in rate
        assert "▁" in rate and "█" in rate
        assert "via backup" in line_with(app, "API Down")
        assert "via backup" not in rate
        assert "no data" in line_with(app, "High Latency") and "> 5000 ms" in line_with(
            app, "High Latency"
        )
        classes = {row.signal_id: set(row.classes) for row in pane.rows}
        assert "-p2" in classes["rate_limited"]
        assert "-p1" in classes["server_errors"]
        assert "-ok" in classes["auth_failures"]
        assert "-unknown" in classes["latency_p99"]
        assert "-p3" in classes["webhooks"]
        p1 = segment_exactly(app, "P1").style
        assert p1 is not None and p1.bold and colour_of(app, "P1", exact=True) == rgb(RED)
        p2 = segment_exactly(app, "P2").style
        assert p2 is not None and not p2.bold and colour_of(app, "P2", exact=True) == rgb(RED)
        assert colour_of(app, "P3", exact=True) == rgb(YELLOW)
        assert colour_of(app, "ok", exact=True) == rgb(GREEN)
        # no data is said as such, and since when, in dim grey
        assert "no data none in range" in " ".join(line_with(app, "High Latency").split())
        unknown = colour_of(app, "none in range", exact=True)
        assert unknown[0] == unknown[1] == unknown[2]  # dim grey


async def test_error_rates_do_not_repaint_the_same_data(monkeypatch: pytest.MonkeyPatch) -> None:
    pane = ErrorRatesPane()
    app = Harness(pane)
    async with app.run_test(size=(100, 24)) as pilot:
        assert pane.show(clay_readings(), None, NOW)
        painted: list[str] = []
        original = SignalRow.update

        def counting(row: SignalRow, *args: object, **kwargs: object) -> None:
            painted.append(row.signal_id)
            original(row, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(SignalRow, "update", counting)
        assert not pane.show(clay_readings(), None, NOW + timedelta(seconds=15))
        assert painted == []
        changed = clay_readings()
        changed[0] = reading("rate_limited", "Rate Limited", 41, "P2", 5, series=RISING)
        assert pane.show(changed, None, NOW)
        await pilot.pause()
        assert painted == ["rate_limited"]
        assert "41/min" in line_with(app, "Rate Limited")


async def test_error_rates_fault_above_the_last_good_rows() -> None:
    pane = ErrorRatesPane()
    app = Harness(pane)
    async with app.run_test(size=(100, 24)) as pilot:
        pane.show(clay_readings(), None, NOW)
        down = fault("prometheus", "Metrics unavailable: Prometheus down → Check backup metrics")
        assert pane.show([], down, NOW)
        await pilot.pause()
        lines = screen_lines(app)
        warning = next(i for i, line in enumerate(lines) if "⚠ Prometheus" in line)
        row = next(i for i, line in enumerate(lines) if "Rate Limited" in line)
        assert warning < row
        assert "37/min" in lines[row]
        assert all(row.has_class("-stale") for row in pane.rows)
        pane.show(clay_readings(), None, NOW)
        await pilot.pause()
        assert "⚠" not in screen_text(app)
        assert not any(row.has_class("-stale") for row in pane.rows)


# --------------------------------------------------------------------------- pods


def pod(
    name: str,
    phase: str = "Running",
    *,
    ready: bool = True,
    restarts: int = 0,
    age: timedelta = timedelta(minutes=3, seconds=12),
    revision: str = "7d9f8 (2)",
    reason: str | None = None,
) -> PodState:
    return PodState(name, phase, ready, restarts, NOW - age, revision, reason, ("app",))


@pytest.mark.parametrize(
    ("age", "shown"),
    [
        (timedelta(seconds=45), "45s"),
        (timedelta(seconds=100), "100s"),
        (timedelta(minutes=3, seconds=12), "3m12s"),
        (timedelta(minutes=5), "5m"),
        (timedelta(minutes=42), "42m"),
        (timedelta(hours=2, minutes=5), "125m"),
        (timedelta(hours=4, minutes=5), "4h5m"),
        (timedelta(hours=20), "20h"),
        (timedelta(days=3), "3d"),
        (timedelta(days=3, hours=4), "3d4h"),
        (timedelta(days=30), "30d"),
        (None, "?"),
    ],
)
def test_pod_ages_read_like_k9s(age: timedelta | None, shown: str) -> None:
    assert k8s_age(age) == shown


async def test_pod_table_columns_and_status_colours() -> None:
    table = PodTable()
    app = Harness(table)
    async with app.run_test(size=(120, 20)) as pilot:
        table.show(
            [
                pod("clay-integration-aaa"),
                pod(
                    "clay-integration-bbb",
                    "Running",
                    ready=False,
                    restarts=3,
                    reason="CrashLoopBackOff",
                ),
                pod(
                    "clay-integration-ccc",
                    "Pending",
                    ready=False,
                    reason="ContainerCreating",
                    age=timedelta(seconds=45),
                ),
                pod("clay-integration-ddd", "Terminating", ready=False, revision="5c4b (1)"),
            ],
            None,
            NOW,
        )
        await pilot.pause()
        header = line_with(app, "NAME")
        for column in ("NAME", "READY", "STATUS", "RESTARTS", "AGE", "REVISION"):
            assert column in header
        assert "1/1" in line_with(app, "clay-integration-aaa")
        assert "3m12s" in line_with(app, "clay-integration-aaa")
        assert "45s" in line_with(app, "clay-integration-ccc")
        assert "5c4b (1)" in line_with(app, "clay-integration-ddd")
        # the cursor row takes the cursor colours, so move it off the rows checked below
        table.grid.move_cursor(row=3)
        await pilot.pause()
        assert colour_of(app, "Running") == rgb(GREEN)
        assert colour_of(app, "CrashLoopBackOff") == rgb(RED)
        assert colour_of(app, "ContainerCreating") == rgb(YELLOW)
        assert colour_of(app, "3", exact=True) == rgb(RED)
        table.grid.move_cursor(row=0)
        await pilot.pause()
        red, green, blue = colour_of(app, "Terminating")
        assert red == green == blue  # dimmed grey, not a colour


async def test_pod_cursor_stays_on_the_same_pod_and_rows_update_in_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = PodTable()
    app = Harness(table)
    async with app.run_test(size=(120, 20)) as pilot:
        names = ["clay-integration-b", "clay-integration-d", "clay-integration-f"]
        table.show([pod(n) for n in names], None, NOW)
        table.focus()
        await pilot.press("j")
        assert table.selected_pod == "clay-integration-d"

        added: list[object] = []
        cleared: list[object] = []
        original_add = PodGrid.add_row

        def add_row(grid: PodGrid, *cells: Any, **options: Any) -> Any:
            added.append(cells)
            return original_add(grid, *cells, **options)

        def clear(grid: PodGrid, *args: Any, **options: Any) -> PodGrid:
            cleared.append(args)
            return grid

        monkeypatch.setattr(PodGrid, "add_row", add_row)
        monkeypatch.setattr(PodGrid, "clear", clear)
        # only ages move: no row is added or rebuilt, the cursor does not move
        assert table.show([pod(n) for n in names], None, NOW + timedelta(minutes=1))
        await pilot.pause()
        assert added == [] and cleared == []
        assert table.selected_pod == "clay-integration-d"
        assert "4m12s" in line_with(app, "clay-integration-d")
        assert not table.show([pod(n) for n in names], None, NOW + timedelta(minutes=1))

        # a new pod sorts in above the cursor, another one goes away: same pod selected
        later = NOW + timedelta(minutes=2)
        new = [pod("clay-integration-a", age=timedelta(seconds=5)), *[pod(n) for n in names[1:]]]
        table.show(new, None, later)
        await pilot.pause()
        assert table.selected_pod == "clay-integration-d"
        assert [p.name for p in table.pods] == [
            "clay-integration-a",
            "clay-integration-d",
            "clay-integration-f",
        ]
        assert len(added) == 1 and cleared == []
        # the selected pod itself goes: the cursor stays at the same height
        table.show([pod("clay-integration-a"), pod("clay-integration-f")], None, later)
        await pilot.pause()
        assert table.selected_pod == "clay-integration-f"


async def test_pod_names_with_control_sequences_are_inert_and_faults_keep_the_pods() -> None:
    table = PodTable()
    app = Harness(table)
    async with app.run_test(size=(120, 20)) as pilot:
        table.show([pod("evil-\x1b[2J\x1b]0;owned\x07-pod"), pod("[red]markup[/red]")], None, NOW)
        await pilot.pause()
        text = screen_text(app)
        assert "evil-␛[2J␛]0;owned␇-pod" in text
        assert "[red]markup[/red]" in text
        assert "\x1b" not in text and "\x07" not in text
        table.show([], fault("kubernetes", "kubectl fails: Auth expired → Re-authenticate"), NOW)
        await pilot.pause()
        text = screen_text(app)
        assert "⚠ Kubernetes API: auth expired" in text
        assert "Hint: kubectl fails: Auth expired → Re-authenticate" in text
        assert "[red]markup[/red]" in text


# --------------------------------------------------------------------------- decision tree


def clay_readings_for(
    rb: Runbook, *, indicator: str = "none", rate: float = 37, health: str | None = None
) -> Readings:
    metrics = {
        "error_rate": reading("error_rate", "Error Rate", rate, "ok"),
        "rate_limited": reading(
            "rate_limited", "Rate Limited", rate, "P2" if rate > 5 else "ok", 5
        ),
        "auth_failures": reading("auth_failures", "Auth Failures", 0, "ok", 0),
        "server_errors": reading("server_errors", "API Down", 0, "ok", 10),
    }
    vendor = VendorStatus("Clay", indicator, "whatever", fetched_at=NOW)
    ours = None if health is None else Health("clay", health, health == "healthy", 80, None, NOW)
    return Readings(metrics, vendor, ours)


def path_and_groups(
    rb: Runbook, readings: Readings, overrides: dict[str, bool] | None = None
) -> tuple[object, list[tuple[str | None, list[str]]]]:
    path = evaluate(rb, readings, overrides)
    dominant = dominant_category(rb, readings)
    groups = ranked_remediations(path.leaf, [dominant]) if path.leaf else []
    return path, groups


async def test_decision_tree_marks_the_path_with_answers_and_remediations(clay: Runbook) -> None:
    view = DecisionTreeView(clay)
    app = Harness(view)
    async with app.run_test(size=(120, 30)) as pilot:
        readings = clay_readings_for(clay)
        view.show(*path_and_groups(clay, readings))  # type: ignore[arg-type]
        await pilot.pause()
        top = line_with(app, "Clay API returning errors?")
        assert "▶ Clay API returning errors?  yes — " in top
        assert "Rate Limited: 37/min > 5/min" in top
        assert (
            "▶ YES → Is status.clay.com showing incident?  no — status page indicator: none"
            in screen_text(app)
        )
        assert "▶ NO → ◆ Our integration issue." in screen_text(app)
        assert "▶" not in line_with(app, "Wait for Clay")
        assert "▶" not in line_with(app, "Is our service healthy?")
        # remediations under the reached leaf, the dominant error class's group first
        lines = screen_lines(app)
        order = [
            next(i for i, line in enumerate(lines) if needle in line)
            for needle in (
                "Our integration issue",
                "429 - Rate Limited",
                "Enable request queuing",
                "401/403 - Authentication",
                "Update the Clay API key and restart pods",
                "500/503 - Clay Errors",
            )
        ]
        assert order == sorted(order)
        assert "destructive" in line_with(app, "Update the Clay API key")
        # the path is bold in the theme's accent colour
        path_style = segment_with(app, "Clay API returning errors?").style
        assert path_style is not None and path_style.bold
        assert colour_of(app, "Clay API returning errors?") == rgb(app.theme_variables["accent"])
        assert not segment_with(app, "Is our service healthy?").style.bold  # type: ignore[union-attr]


async def test_decision_tree_path_moves_and_the_cursor_follows_until_moved(clay: Runbook) -> None:
    view = DecisionTreeView(clay)
    app = Harness(view)
    async with app.run_test(size=(120, 30)) as pilot:
        view.show(*path_and_groups(clay, clay_readings_for(clay)))  # type: ignore[arg-type]
        await pilot.pause()
        assert view.cursor_node is not None and view.cursor_node.data is not None
        assert view.cursor_node.data.node_id == "integration-issue"

        # the vendor declares an incident: the path and the cursor move
        view.show(*path_and_groups(clay, clay_readings_for(clay, indicator="major")))  # type: ignore[arg-type]
        await pilot.pause()
        assert "▶ YES → ◆ Wait for Clay to resolve. Enable fallback." in screen_text(app)
        assert "▶" not in line_with(app, "Our integration issue")
        assert "Update the Clay API key" not in screen_text(app)
        assert "Enable graceful degradation (fallback)" in line_with(app, "⚙")
        assert view.cursor_node.data.node_id == "wait-for-clay"

        # the responder moves the cursor: a new suggestion no longer drags it along
        await pilot.press("k")
        moved_to = view.cursor_node
        view.show(*path_and_groups(clay, clay_readings_for(clay)))  # type: ignore[arg-type]
        await pilot.pause()
        assert view.cursor_node is moved_to
        assert "▶ NO → ◆ Our integration issue." in screen_text(app)
        # f puts it back on the suggestion, and it follows again
        await pilot.press("f")
        assert view.cursor_node.data.node_id == "integration-issue"
        view.show(*path_and_groups(clay, clay_readings_for(clay, indicator="major")))  # type: ignore[arg-type]
        await pilot.pause()
        assert view.cursor_node.data.node_id == "wait-for-clay"


async def test_decision_tree_unknown_and_responder_answers(clay: Runbook) -> None:
    view = DecisionTreeView(clay)
    app = Harness(view)
    async with app.run_test(size=(120, 30)) as pilot:
        # no errors and no health answer yet: the path stops at an unknown question
        quiet = clay_readings_for(clay, rate=0)
        view.show(*path_and_groups(clay, quiet))  # type: ignore[arg-type]
        await pilot.pause()
        assert "▶ NO → Is our service healthy?  ? — health: no data" in screen_text(app)
        assert view.cursor_node.data.node_id == "service-healthy"  # type: ignore[union-attr]
        # the responder overrides what the signals say
        overridden = path_and_groups(clay, clay_readings_for(clay), {"vendor-incident": True})
        view.show(*overridden)  # type: ignore[arg-type]
        await pilot.pause()
        line = line_with(app, "Is status.clay.com showing incident?")
        assert "yes (you), signals say no" in line
        assert "▶ YES → ◆ Wait for Clay to resolve." in screen_text(app)


async def test_decision_tree_keys_post_answers_and_remediations(clay: Runbook) -> None:
    view = DecisionTreeView(clay)
    app = Harness(view)
    async with app.run_test(size=(120, 30)) as pilot:
        view.show(*path_and_groups(clay, clay_readings_for(clay)))  # type: ignore[arg-type]
        await pilot.pause()
        # on a conclusion y and n do nothing
        await pilot.press("y", "n")
        assert app.seen == []
        question = next(
            n for n in view._tree_nodes.values() if n.data and n.data.node_id == "vendor-incident"
        )
        view.move_cursor(question)
        await pilot.press("y")
        await pilot.pause()
        (answer,) = app.seen
        assert isinstance(answer, DecisionTreeView.AnswerChosen)
        assert (answer.node_id, answer.value, answer.live_value) == ("vendor-incident", True, False)
        assert answer.evidence == ("status page indicator: none (not in minor, major, critical)",)
        assert answer.control is view
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.seen[-1], DecisionTreeView.AnswerChosen)
        assert app.seen[-1].value is False
        # Enter on a remediation picks it
        app.seen.clear()
        fix = next(
            n
            for n in view._tree_nodes.values()
            if n.data and n.data.remediation_id == "enable-queueing"
        )
        view.move_cursor(fix)
        await pilot.press("enter")
        await pilot.pause()
        (chosen,) = app.seen
        assert isinstance(chosen, DecisionTreeView.RemediationChosen)
        assert chosen.remediation_id == "enable-queueing"


async def test_decision_tree_questions_with_control_sequences_are_inert(clay: Runbook) -> None:
    tree = clay.decision_tree
    assert tree is not None
    nodes = [
        n.model_copy(update={"question": "Errors \x1b[5m[blink]?"}) if n.id == tree.root else n
        for n in tree.nodes
    ]
    book = clay.model_copy(update={"decision_tree": tree.model_copy(update={"nodes": nodes})})
    app = Harness(DecisionTreeView(book))
    async with app.run_test(size=(120, 30)):
        text = screen_text(app)
        assert "Errors ␛[5m[blink]?" in text and "\x1b" not in text


# --------------------------------------------------------------------------- checklist


async def test_checklist_uses_the_incident_keys_numbering_and_progress(clay: Runbook) -> None:
    view = ChecklistView(clay)
    app = Harness(view)
    async with app.run_test(size=(120, 60)) as pilot:
        expected = [e.key for lid in all_checklist_ids(clay) for e in checklist_entries(clay, lid)]
        assert view.keys == expected
        for key in expected:
            find_checklist_entry(clay, key)  # the Incident accepts every key the view posts
        total = len(checklist_entries(clay, "response"))
        assert f"Instructions  0/{total}" in screen_text(app)
        assert view.show({"response/1/a", "response/1/b", "other-runbook/1"})
        assert not view.show({"response/1/a", "response/1/b"})
        await pilot.pause()
        text = screen_text(app)
        assert f"Instructions  2/{total}" in text
        assert "☑ 1.a Check Clay status page" in text
        assert "☐ 1.c Check error rate metrics" in text
        assert "1. Step 1: Quick Triage" in line_with(app, "Step 1:")
        assert "2/4" in line_with(app, "Step 1:")
        assert "☐ 3.a.1 Verify API key in secrets" in text
        assert "401/403 - Authentication — actions  0/3" in text


async def test_checklist_keys_post_toggles_remediations_and_triage(clay: Runbook) -> None:
    view = ChecklistView(clay)
    app = Harness(view)
    async with app.run_test(size=(180, 60)) as pilot:
        view.show({"response/1/a"})
        view.move_cursor(view.node_for("response/1/a"))
        await pilot.press("space")
        view.move_cursor(view.node_for("response/1/c"))
        await pilot.press("space")
        await pilot.pause()
        toggles = [(m.key, m.checked) for m in app.seen if isinstance(m, ChecklistView.ItemToggled)]
        assert toggles == [("response/1/a", True), ("response/1/c", False)]

        app.seen.clear()
        view.move_cursor(view.node_for("response/3/a"))
        await pilot.press("enter")
        view.move_cursor(view.node_for("response/1/a"))
        await pilot.press("enter")
        view.move_cursor(view.node_for("category:rate_limit/2"))
        await pilot.press("enter")
        await pilot.pause()
        remediation, triage, queueing = app.seen
        assert isinstance(remediation, ChecklistView.RemediationChosen)
        assert remediation.remediation_id == "rotate-api-key"
        assert isinstance(triage, ChecklistView.TriageRequested)
        assert triage.triage_id == "clay-status"
        assert isinstance(queueing, ChecklistView.RemediationChosen)
        assert queueing.remediation_id == "enable-queueing"
        assert "⏎ fix: Update the Clay API key and restart pods" in line_with(
            app, "401/403: Verify"
        )


async def test_checklist_items_that_wait_say_how_long_and_what_to_watch(
    runbooks: dict[str, Runbook],
) -> None:
    app = Harness(ChecklistView(runbooks["clay-prod-checklist"]))
    async with app.run_test(size=(160, 120)):
        line = line_with(app, "Monitor canary traffic")
        assert "wait 10m, watch: server_errors, latency_p99" in line
        assert "wait 5m, watch: server_errors, latency_p99" in line_with(
            app, "Monitor for 5 minutes"
        )


# --------------------------------------------------------------------------- timeline


def event(kind: str, summary: str, minutes: float = 0, **details: object) -> Event:
    return Event.new(
        kind,  # type: ignore[arg-type]
        summary,
        actor="alice",
        source="cockpit",
        details=dict(details),
        at=NOW + timedelta(minutes=minutes),
    )


async def test_timeline_rows_tags_and_pins() -> None:
    declared = event("declared", "Declared P2: Clay rate limited", -4)
    raised = event("signal_alert_raised", "Rate Limited 37/min > 5/min", -3)
    severity = event("severity_changed", "Severity P2 → P1", 0, **{"from": "P2", "to": "P1"})
    view = TimelineView([declared, raised, severity])
    app = Harness(view)
    async with app.run_test(size=(100, 20)) as pilot:
        await pilot.pause()
        line = line_with(app, "Severity P2 → P1")
        assert "13:06:11  P2→P1      alice       Severity P2 → P1" in line
        assert "13:02:11  DECLARED" in line_with(app, "Declared P2")
        view.add_events(
            [
                event("signal_alert_cleared", "Rate Limited back under 5/min", 1),
                event("remediation_applied", "Applied enable-queueing", 2),
                event("remediation_failed", "Rollback failed: 403", 3),
                event("decision_answered", "Answered yes", 4),
                event("note", "Paged \x1b[31mClay\x1b[0m support", 5),
            ]
        )
        await pilot.pause()
        assert colour_of(app, "ALERT") == rgb(RED)
        assert colour_of(app, "CLEARED") == rgb(GREEN)
        assert colour_of(app, "APPLIED") == rgb(BLUE)
        assert colour_of(app, "FAILED") == rgb(RED)
        assert colour_of(app, "DECISION") == rgb(CYAN)
        assert "Paged ␛[31mClay␛[0m support" in screen_text(app)
        assert "\x1b" not in screen_text(app)

        # P on the selected event asks to pin it; the recorded pin stars it
        view.highlighted = 1
        await pilot.press("P")
        await pilot.pause()
        (toggle,) = app.seen
        assert isinstance(toggle, TimelineView.PinToggled)
        assert (toggle.event_id, toggle.pinned) == (raised.id, False)
        assert "★" not in line_with(app, "Rate Limited 37/min")
        view.add_events([event("pinned", "Pinned: Rate Limited", 6, event=raised.id)])
        await pilot.pause()
        assert line_with(app, "Rate Limited 37/min").lstrip().startswith("★")
        view.add_events([event("unpinned", "Unpinned: Rate Limited", 7, event=raised.id)])
        await pilot.pause()
        assert "★" not in line_with(app, "Rate Limited 37/min")


async def test_timeline_time_zone_toggles_with_z() -> None:
    original = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        view = TimelineView([event("note", "Checked the status page")])
        app = Harness(view)
        async with app.run_test(size=(100, 10)) as pilot:
            assert view.utc
            assert "13:06:11" in line_with(app, "Checked the status page")
            await pilot.press("z")
            await pilot.pause()
            assert not view.utc
            assert "08:06:11" in line_with(app, "Checked the status page")
    finally:
        if original is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = original
        time.tzset()


async def test_timeline_follows_new_events_unless_scrolled_up() -> None:
    view = TimelineView([event("note", f"note {i}", i / 10) for i in range(60)])
    app = Harness(view)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert view.following and view.highlighted == 59
        assert "note 59" in screen_text(app)
        view.add_events([event("note", "note 60", 7)])
        await pilot.pause()
        assert view.highlighted == 60 and "note 60" in screen_text(app)

        await pilot.press("k", "k")
        assert not view.following
        assert view.highlighted == 58
        view.add_events([event("note", f"later {i}", 8 + i) for i in range(5)])
        await pilot.pause()
        assert view.highlighted == 58
        assert view.new_while_paused == 5
        assert "later 4" not in screen_text(app)

        await pilot.press("G")
        await pilot.pause()
        assert view.following and view.highlighted == 65
        assert "later 4" in screen_text(app)
        # set_events replaces everything and follows again
        view.set_events([event("note", "only one")])
        await pilot.pause()
        assert view.events[0].summary == "only one" and view.highlighted == 0


# --------------------------------------------------------------------------- header


def header_args(**changes: object) -> dict[str, object]:
    args: dict[str, object] = {
        "title": "Clay rate limited",
        "severity": "P2",
        "status": "investigating",
        "elapsed": timedelta(hours=1, minutes=23, seconds=45),
        "response_remaining": timedelta(minutes=12, seconds=3),
        "breached": False,
        "commander": "alice",
        "next_update_in": timedelta(minutes=14, seconds=59),
        "now": NOW,
    }
    args.update(changes)
    return args


async def test_header_on_one_line_when_it_fits_and_two_when_not() -> None:
    header = IncidentHeader()
    app = Harness(header)
    async with app.run_test(size=(140, 10)) as pilot:
        header.show(**header_args())  # type: ignore[arg-type]
        await pilot.pause()
        first = screen_lines(app)[0]
        for part in (
            " P2 ",
            "Clay rate limited",
            "INVESTIGATING",
            "elapsed 01:23:45",
            "respond in 12:03",
            "IC @alice",
            "next update in 14:59",
        ):
            assert part in first
        assert header.size.height == 1
        await pilot.resize_terminal(80, 10)
        await pilot.pause()
        assert header.size.height == 2
        assert "respond in 12:03" in screen_lines(app)[1]
        assert not header.show(**header_args())  # type: ignore[arg-type]


async def test_header_breach_overdue_and_severity_colours() -> None:
    header = IncidentHeader()
    app = Harness(header)
    async with app.run_test(size=(140, 10)) as pilot:
        header.show(
            **header_args(  # type: ignore[arg-type]
                severity="P1",
                response_remaining=-timedelta(minutes=3, seconds=10),
                breached=True,
                commander=None,
                next_update_in=-timedelta(seconds=12),
            )
        )
        await pilot.pause()
        text = screen_lines(app)[0]
        assert "BREACHED +03:10" in text and "respond in" not in text
        assert "update overdue +00:12" in text
        assert "IC unassigned" in text
        assert colour_of(app, "BREACHED") == rgb(RED)
        assert colour_of(app, "update overdue") == rgb(RED)
        assert header.has_class("-breached") and header.has_class("-update-overdue")
        badge = segment_with(app, " P1 ").style
        assert badge is not None and badge.bgcolor is not None
        assert badge.bgcolor.get_truecolor()[0] > 200 and badge.bgcolor.get_truecolor()[2] < 50
        header.show(**header_args(severity="P4"))  # type: ignore[arg-type]
        await pilot.pause()
        badge = segment_with(app, " P4 ").style
        assert badge is not None and badge.bgcolor is not None
        triplet = badge.bgcolor.get_truecolor()
        assert triplet.blue > 200 and triplet.red < 50
        assert not header.has_class("-breached")


class Dashboard(App[None]):
    """Every pane at once, fed before it is mounted, as an app's compose may do."""

    def __init__(self, clay: Runbook) -> None:
        super().__init__()
        self.header = IncidentHeader()
        self.vendor = VendorStatusPane()
        self.rates = ErrorRatesPane()
        self.pods = PodTable()
        self.decisions = DecisionTreeView(clay)
        self.checklist = ChecklistView(clay)
        self.timeline = TimelineView()
        self.header.show(**header_args())  # type: ignore[arg-type]
        self.vendor.show(status(), None, HEALTH, None, NOW)
        self.rates.show(clay_readings(), None, NOW)
        self.pods.show([pod("clay-integration-aaa")], None, NOW)
        self.decisions.show(*path_and_groups(clay, clay_readings_for(clay)))  # type: ignore[arg-type]
        self.checklist.show({"response/1/a"})
        self.timeline.add_events([event("note", "Opened the cockpit")])

    def compose(self) -> ComposeResult:
        yield self.header
        with Horizontal():
            with Vertical():
                yield self.vendor
                yield self.rates
                yield self.timeline
            with Vertical():
                yield self.pods
                yield self.decisions
                yield self.checklist


async def test_panes_fed_before_mount_show_their_data_and_follow_the_theme(
    clay: Runbook,
) -> None:
    app = Dashboard(clay)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        for shown in (
            "Clay rate limited",
            "Clay status ● major",
            "Rate Limited",
            "clay-integration-aaa",
            "▶ Clay API returning errors?",
            "☑ 1.a Check Clay status page",
            "Opened the cockpit",
        ):
            assert shown in text
        assert colour_of(app, "Clay API returning errors?") == rgb(app.theme_variables["accent"])
        before = app.theme_variables["accent"]
        app.theme = "nord"
        await pilot.pause()
        assert app.theme_variables["accent"] != before
        assert colour_of(app, "Clay API returning errors?") == rgb(app.theme_variables["accent"])


# --------------------------------------------------------------------------- key bar


class _Explosive(Static, can_focus=True):
    BINDINGS = [Binding("x", "boom", "Explode")]

    def action_boom(self) -> None:
        self.app.pressed.append("x")  # type: ignore[attr-defined]


class _Calm(Static, can_focus=True):
    BINDINGS = [
        Binding("y", "calm", "Calm"),
        Binding("Y", "calm", "Calm too"),
        Binding("z", "hidden", "Hidden", show=False),
    ]

    def action_calm(self) -> None:
        self.app.pressed.append("y")  # type: ignore[attr-defined]


class _KeysApp(App[None]):
    BINDINGS = [Binding("q", "quit", "Quit")]

    def __init__(self) -> None:
        super().__init__()
        self.pressed: list[str] = []

    def compose(self) -> ComposeResult:
        yield _Explosive("a", id="a")
        yield _Calm("b", id="b")
        yield KeyBar()


async def test_key_bar_follows_focus_and_a_click_presses_the_key() -> None:
    app = _KeysApp()
    async with app.run_test(size=(80, 6)) as pilot:
        bar = app.query_one(KeyBar)

        def shown() -> str:
            return bar.render().plain

        app.query_one("#a").focus()
        await pilot.pause()
        assert "x Explode" in shown() and "q Quit" in shown()
        assert "Calm" not in shown()
        assert shown().rstrip().endswith("^p palette"), "the palette key sits at the right"

        app.query_one("#b").focus()
        await pilot.pause()
        assert "y Calm" in shown() and "q Quit" in shown()
        assert "Explode" not in shown()
        assert "Hidden" not in shown(), "show=False bindings stay off the bar"
        assert "Calm too" not in shown(), "one entry per action"

        await pilot.click(KeyBar, offset=(shown().index("y Calm") + 2, 0))
        assert app.pressed == ["y"]


async def test_key_bar_cuts_a_long_row_with_an_ellipsis_and_keeps_the_palette_key() -> None:
    app = _KeysApp()
    async with app.run_test(size=(30, 6)) as pilot:
        app.query_one("#a").focus()
        await pilot.pause()
        text = app.query_one(KeyBar).render().plain
        assert len(text) <= 30
        assert "…" in text and text.rstrip().endswith("^p palette")
