"""Failures a new user met: each test plays the reproduction and checks what they now see."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_helpers import wait_until
from test_comms import offline_app

from tui.app import IncidentApp, Launch
from tui.incident import Incident
from tui.runbook import discover_runbooks
from tui.screens.dashboard import DashboardScreen
from tui.settings import load_settings
from tui.timeline import Journal, new_incident_id
from widgets.decision_tree import DecisionTreeView

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
    Incident.declare(
        runbook, incident_id=incident_id, title=title, severity="P2", recorder=journal
    )
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
