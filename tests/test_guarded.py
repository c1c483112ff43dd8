"""Remediations from the cockpit are guarded: key spam on the confirmation of a destructive
one applies nothing, Escape cancels, a second trigger never applies twice, a rollout in
progress is said before anything applies, a 403 shows and records the escalation hint,
and a verify that runs out of time leaves a clear record while the app keeps running."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from app_helpers import (
    close,
    cockpit,
    dashboard_of,
    events_of,
    open_confirm,
    press,
    preview,
    settle,
    static_text,
)
from sandbox_helpers import running_sandbox, wait_until
from textual.widgets import Button, Input, Static

from tui.app import IncidentApp
from tui.screens.remediate import RemediationScreen

DEPLOYMENT = "clay-integration"


def writes(sb: Any) -> int:
    return sum(sb.sandbox.writes().values())


def recorded(app: IncidentApp, stage: str) -> list[Any]:
    assert app.journal is not None
    return events_of(app.journal, f"remediation_{stage}")


async def test_key_spam_on_a_destructive_confirmation_applies_nothing_and_escape_cancels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-auth") as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(120, 40)):
            confirm = await open_confirm(app, "rotate-api-key")
            await preview(confirm, "sk_live_fresh_key_for_spam_0001")
            assert confirm.preview is not None and confirm.preview.ok, confirm.preview
            before = writes(sb)
            for key, character in [("y", "y"), ("space", " ")] * 3:
                press(app, key, character)
            await settle(app)
            assert app.screen is confirm, "a stray key closed the confirmation"
            # focus starts on Cancel, so Enter there is the safe choice: it cancels
            await close(app, confirm, "enter", "\r")
            await settle(app)
            assert writes(sb) == before and not recorded(app, "applied")
            assert len(recorded(app, "cancelled")) == 1

            confirm = await open_confirm(app, "rotate-api-key")
            await preview(confirm, "sk_live_fresh_key_for_spam_0001")
            name = confirm.query_one("#confirm-name", Input)
            name.focus()
            for wrong in [
                "",
                "y",
                " ",
                "clay",
                "clay-integratio",
                "clay-integration ",
                "CLAY-INTEGRATION",
                "clay_integration",
            ]:
                name.value = wrong
                press(app, "enter", "\r")
                press(app, "y", "y")
                await settle(app)
                assert app.screen is confirm, f"{wrong!r} closed the confirmation"
                assert confirm.query_one("#apply", Button).disabled, f"{wrong!r} enabled Apply"
            assert writes(sb) == before, "key spam changed the cluster"
            await close(app, confirm)
            await settle(app)
            assert writes(sb) == before
            assert not recorded(app, "applied")
            assert [e.details["run"] for e in recorded(app, "cancelled")] == [1, 2]
            assert app._exception is None


async def test_a_second_trigger_while_applying_does_not_apply_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-rate-limited") as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(120, 40)):
            dashboard = await dashboard_of(app)
            confirm = await open_confirm(app, "enable-queueing")
            await preview(confirm)
            before = writes(sb)
            assert not dashboard.open_remediation("enable-queueing"), "a second one opened"
            press(app, "y", "y")
            press(app, "y", "y")
            await wait_until(
                lambda: isinstance(app.screen, RemediationScreen), 15, 0.05, "the run to start"
            )
            assert not dashboard.open_remediation("enable-queueing"), "opened while applying"
            press(app, "y", "y")
            await wait_until(lambda: recorded(app, "rolled_out"), 60, 0.1, "the rollout")
            assert len(recorded(app, "applied")) == 1
            env_writes = writes(sb) - before
            assert env_writes == 1, f"{env_writes} writes for one remediation"
            assert app._exception is None


async def test_escape_while_the_dry_run_is_out_cancels_the_run_and_nothing_follows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-rate-limited") as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(120, 40)):
            confirm = await open_confirm(app, "enable-queueing")
            await preview(confirm)  # the Kubernetes connection is open from here on
            await close(app, confirm)
            # each Kubernetes answer now takes 0.8 s (the app waits up to 1 s)
            await sb.set_fault("kubernetes", "slow", delay=0.8)
            before = writes(sb)
            confirm = await open_confirm(app, "enable-queueing")
            await wait_until(lambda: len(recorded(app, "planned")) == 2, 10, 0.02, "the plan")
            assert confirm.preview is None, "the dry run was not slowed"
            await close(app, confirm)
            await asyncio.sleep(3)  # the dry run's answers would all be in by now
            await sb.clear_faults()
            run = [e for e in app.journal.load().events if e.details.get("run") == 2]  # type: ignore[union-attr]
            assert [e.kind for e in run] == ["remediation_planned", "remediation_cancelled"]
            assert writes(sb) == before
            assert app._exception is None


async def test_a_rollout_in_progress_is_said_before_anything_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-infra") as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(120, 40)):
            before = writes(sb)
            confirm = await open_confirm(app, "restart-pods")
            await preview(confirm)
            body = static_text(confirm.query_one("#confirm-body", Static))
            assert "rollout is already in progress" in body, body
            assert writes(sb) == before, "the preview changed the cluster"
            await close(app, confirm)


async def test_a_forbidden_change_shows_and_records_the_escalation_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-rate-limited") as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(120, 40)):
            await sb.set_fault("kubernetes", "403", verb="patch", resource="deployments")
            before = writes(sb)
            confirm = await open_confirm(app, "enable-queueing")
            await preview(confirm)
            shown = static_text(confirm.query_one("#confirm-error", Static))
            assert "Escalate to admin" in shown, shown
            assert "forbidden" in shown.lower(), shown
            failed = recorded(app, "failed")
            assert failed and "Escalate to admin" in str(failed[-1].details.get("hint")), failed
            assert writes(sb) == before
            press(app, "y", "y")
            await settle(app)
            assert writes(sb) == before, "y applied a refused change"
            await close(app, confirm)
            assert app._exception is None


async def test_a_verify_that_runs_out_of_time_is_recorded_and_the_app_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-infra") as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(120, 40)):
            dashboard = await dashboard_of(app)
            # the crash-looping image never gets Ready: a restart cannot complete
            dashboard.remediation_verify_timeout = 1.5
            dashboard.remediation_poll_interval = 0.2
            confirm = await open_confirm(app, "restart-pods")
            await preview(confirm)
            press(app, "y", "y")
            failed = await wait_until(lambda: recorded(app, "failed"), 30, 0.1, "the timeout")
            assert failed[-1].details.get("during") == "verify"
            assert "did not complete within" in str(failed[-1].details.get("error")), failed
            assert len(recorded(app, "applied")) == 1 and not recorded(app, "rolled_out")
            screen = await wait_until(
                lambda: app.screen if isinstance(app.screen, RemediationScreen) else None, 10
            )
            result = static_text(screen.query_one("#run-result", Static))
            assert "did not complete" in result, result
            press(app, "escape")
            await wait_until(lambda: app.screen is dashboard, 10, 0.05, "back to the dashboard")
            dashboard.action_goto_pane("timeline")
            assert app.is_running and app._exception is None
