"""`incident-tui demo` records into the one store every command reads, marks its incident
as a demo, and quitting offers to resolve it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from app_helpers import press, settle
from click.testing import CliRunner
from sandbox_helpers import wait_until

from tui.app import IncidentApp
from tui.cli import main
from tui.screens.modals import ChoiceScreen


def _drive(choice: str | None) -> Any:
    """``IncidentApp.run`` as a person at the keyboard would play it: wait for the
    dashboard, press q, pick ``choice`` in the offer (None: Escape, then q again)."""

    def run(self: IncidentApp, *args: Any, **kwargs: Any) -> None:
        async def play() -> None:
            async with self.run_test(size=(120, 40)):
                await wait_until(lambda: self.screen.id == "dashboard", 30, 0.1, "the dashboard")
                press(self, "q", "q")
                offer = await wait_until(
                    lambda: self.screen if isinstance(self.screen, ChoiceScreen) else None,
                    10,
                    0.05,
                    "the offer to resolve",
                )
                values = [value for value, _ in offer.choices]
                assert values == ["resolve", "keep"]
                if choice is None:
                    press(self, "escape")
                    await wait_until(lambda: self.screen.id == "dashboard", 10, 0.05)
                    await settle(self)
                    return
                offer.query_one("#choices").highlighted = values.index(choice)  # type: ignore[attr-defined]
                press(self, "enter")
                await wait_until(lambda: not self.is_running, 10, 0.05, "the app to quit")

        asyncio.run(play())

    return run


@pytest.mark.parametrize("choice", ["resolve", "keep"])
def test_a_demo_incident_is_listed_marked_and_resolved_if_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, choice: str
) -> None:
    state = tmp_path / "state"
    env = {
        "INCIDENT_TUI_STATE_DIR": str(state),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "COLUMNS": "200",
        "NO_COLOR": "1",
    }
    monkeypatch.setattr(IncidentApp, "run", _drive(choice))
    runner = CliRunner(env=env)
    ran = runner.invoke(main, ["demo", "--scenario", "clay-auth"], catch_exceptions=False)
    assert ran.exit_code == 0, ran.output

    # the same store as every other command: no folder of its own
    assert next(p.name for p in (state / "incidents").iterdir()).startswith("clay-")
    assert not (state / "demo").exists()
    listed = runner.invoke(main, ["incidents"])
    assert listed.exit_code == 0
    row = next(line for line in listed.output.splitlines() if line.startswith("clay-"))
    status = "resolved (demo)" if choice == "resolve" else "investigating (demo)"
    assert status in row and "Demo: clay auth" in row, listed.output
    if choice == "resolve":
        incident_id = row.split()[0]
        replay = runner.invoke(main, ["export", incident_id, "--out", str(tmp_path / "out")])
        assert replay.exit_code == 0, replay.output
        text = next((tmp_path / "out").rglob("postmortem.md")).read_text()
        assert "Demo ended; the sandbox was stopped." in text


def test_escape_in_the_offer_keeps_the_demo_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"INCIDENT_TUI_STATE_DIR": str(tmp_path / "state"), "NO_COLOR": "1"}
    monkeypatch.setattr(IncidentApp, "run", _drive(None))
    ran = CliRunner(env=env).invoke(main, ["demo", "--scenario", "clay-auth"])
    assert ran.exit_code == 0, ran.output
    listed = CliRunner(env=env).invoke(main, ["incidents", "--open"])
    assert "investigating (demo)" in listed.output
