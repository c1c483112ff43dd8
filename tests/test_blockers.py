"""Failures a new user met: each test plays the reproduction and checks what they now see."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_helpers import screen_lines
from sandbox_helpers import wait_until
from test_comms import offline_app
from textual.app import App, ComposeResult

from tui.app import IncidentApp, Launch
from tui.incident import Incident
from tui.runbook import discover_runbooks
from tui.screens.dashboard import DashboardScreen
from tui.settings import load_settings
from tui.signals import LogLine
from tui.timeline import Journal, new_incident_id
from widgets.decision_tree import DecisionTreeView
from widgets.log_view import LogView

CATALOG = discover_runbooks()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("INCIDENT_TUI_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("USER", "alice")
    yield


def _declare(title: str = "x") -> str:
    runbook = CATALOG.get("clay")
    incident_id = new_incident_id(runbook.id)
    journal = Journal.create(incident_id)
    journal.save_runbook(runbook)
    Incident.declare(runbook, incident_id=incident_id, title=title, severity="P2", recorder=journal)
    return incident_id


# --------------------------------------------------------------------------- 1: resume


async def test_the_picker_lists_an_open_incident_and_enter_resumes_it() -> None:
    incident_id = _declare("Clay enrichment failing")
    app = IncidentApp(Launch(settings=load_settings(None), catalog=CATALOG, live=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(lambda: app.screen.id == "start", 10, 0.05, "the picker")
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(lambda: isinstance(app.screen, DashboardScreen), 10, 0.05, "resume")
        assert app.incident is not None and app.incident.id == incident_id
        assert app.incident.title == "Clay enrichment failing"


# --------------------------------------------------------------------------- 7: overrides


async def test_answering_no_sends_the_tree_down_the_no_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = offline_app(tmp_path, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        tree = app.screen.query_one(DecisionTreeView)
        tree.focus()
        assert tree.top is not None
        tree.move_cursor(tree.top)
        await pilot.press("n")

        def path_nodes() -> list[str]:
            path = tree.path
            return [a.node_id for a in path.answers] if path is not None else []

        await wait_until(lambda: len(path_nodes()) > 1, 5, 0.05, "the tree to move on")
        assert path_nodes()[:2] == ["api-errors", "service-healthy"]
        assert tree.path is not None and tree.path.answers[0].value is False
        tree.move_cursor(tree.top)
        await pilot.press("y")
        await wait_until(lambda: path_nodes()[1:2] == ["vendor-incident"], 5, 0.05, "yes")


# --------------------------------------------------------------------------- 2, 4: log pane


class LogHarness(App[None]):
    def compose(self) -> ComposeResult:
        yield LogView(max_lines=10_000, strip_prefix="clay-integration-", id="logs")


ERRORS = re.compile(r"(?i)\b(error|429)\b")


def _line(text: str, pod: str = "clay-integration-7d9f8c6b5-x2k4q") -> LogLine:
    return LogLine.parse(pod, "app", None, text, ERRORS)


def _view_rows(app: App[None], view: LogView) -> list[str]:
    """The rows the terminal shows inside the log view, without its scrollbar."""
    region = view.scrollable_content_region
    rows = screen_lines(app)
    return [rows[y][region.x : region.right] for y in range(region.y, region.bottom)]


NESTED = "INFO starting with CLAY_API_URL=" + '{"a":' + "[" * 3000


async def test_a_deeply_nested_json_line_shows_plain_in_json_mode() -> None:
    app = LogHarness()
    async with app.run_test(size=(100, 20)) as pilot:
        view = app.query_one(LogView)
        view.focus()
        view.write_lines([_line(NESTED), _line("after the nested line")])
        await pilot.press("J")  # a line already there
        await pilot.pause()
        assert view.pretty_json
        view.write_lines([_line(NESTED), _line("still tailing")])  # lines arriving in JSON mode
        await pilot.pause()
        assert view.total == 4
        shown = "\n".join(_view_rows(app, view))
        assert "still tailing" in shown
        assert 'CLAY_API_URL={"a":[[[' in shown
        await pilot.press("w")
        await pilot.pause()
        assert "still tailing" in "\n".join(_view_rows(app, view))


async def test_wrapped_lines_keep_every_character_at_the_wrap_points() -> None:
    text = "CLAY_API_URL=https://api.clay.com request_id=" + "0123456789abcdef" * 12
    app = LogHarness()
    async with app.run_test(size=(50, 20)) as pilot:
        view = app.query_one(LogView)
        view.focus()
        view.write_lines([_line(text)])
        await pilot.press("w")
        await pilot.pause()
        rows = [row for row in _view_rows(app, view) if row.strip()]
        assert len(rows) > 3
        assert "".join(rows).rstrip() == "x2k4q " + text
