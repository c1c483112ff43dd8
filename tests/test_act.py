"""Acting from the keyboard against the sandbox: remediations previewed, confirmed (typed
name for destructive ones), followed and recorded; decisions, checklists, notes, severity,
status, resolve, export and escalation land in the journal."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from app_helpers import cockpit, events_of, static_text
from rich.console import Console
from sandbox_helpers import running_sandbox, wait_until
from test_comms import CATALOG, Clock, offline_app
from textual.widgets import Button, Input, Static

from tui.app import IncidentApp
from tui.screens.modals import (
    ChoiceScreen,
    CommandScreen,
    EscalationScreen,
    ExportScreen,
    PromptScreen,
    due_level,
)
from tui.screens.remediate import ConfirmScreen, RemediationScreen, RolloutGuideScreen
from widgets.checklist import ChecklistView
from widgets.decision_tree import DecisionTreeView
from widgets.incident_header import IncidentHeader

DEPLOYMENT = "deployment/clay-integration"


def writes(sb: Any) -> int:
    return sum(sb.sandbox.writes().values())


def recorded(app: IncidentApp, kind: str) -> list[Any]:
    assert app.journal is not None
    return events_of(app.journal, kind)


async def env_of(sb: Any) -> dict[str, str]:
    result = await sb.kubectl(
        "get", DEPLOYMENT, "-o", "jsonpath={.spec.template.spec.containers[0].env}"
    )
    return {e["name"]: e.get("value", "<ref>") for e in json.loads(result.stdout or "[]")}


def tree_node(app: IncidentApp, remediation_id: str) -> Any:
    tree = app.screen.query_one(DecisionTreeView)
    for node in tree._tree_nodes.values():
        if node.data is not None and node.data.remediation_id == remediation_id:
            return node
    return None


async def open_confirm(app: IncidentApp, opener: Callable[[], Any]) -> ConfirmScreen:
    opener()
    await wait_until(
        lambda: isinstance(app.screen, ConfirmScreen) and app.screen.preview is not None,
        30,
        what="the dry run on the confirm screen",
    )
    screen = app.screen
    assert isinstance(screen, ConfirmScreen)
    return screen


def fast(app: IncidentApp) -> None:
    app.screen.remediation_poll_interval = 0.1  # type: ignore[attr-defined]
    app.screen.remediation_verify_timeout = 30  # type: ignore[attr-defined]


async def test_suggested_remediation_cancel_then_confirm_with_y(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pods that take a second to start keep the rollout going while the second trigger comes
    async with running_sandbox("clay-rate-limited", speed=20, pod_start_delay=1.0) as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(120, 40)) as pilot:
            fast(app)
            node = await wait_until(lambda: tree_node(app, "enable-queueing"), 60)
            tree = app.screen.query_one(DecisionTreeView)

            async def enter_on_suggestion() -> None:
                tree.focus()
                tree.move_cursor(tree_node(app, "enable-queueing"))
                await pilot.press("enter")

            assert node is not None
            before = writes(sb)
            await enter_on_suggestion()
            await wait_until(
                lambda: isinstance(app.screen, ConfirmScreen) and app.screen.preview, 30
            )
            confirm = app.screen
            assert isinstance(confirm, ConfirmScreen)
            assert confirm.focused is not None and confirm.focused.id == "cancel"
            body = static_text(confirm.query_one("#confirm-body", Static))
            assert not confirm.query("#confirm-note"), "the suggested fix is said to be off it"
            assert "RATE_LIMIT_MODE" in body and "clay-integration" in body
            assert "production" in body and "server-side dry run" in body
            await pilot.press("escape")
            await wait_until(lambda: app.screen.id == "dashboard", 5)
            assert writes(sb) == before, "Escape changed the cluster"
            assert (await env_of(sb)).get("RATE_LIMIT_MODE") != "queue"
            assert not recorded(app, "remediation_applied")
            # the record says the dry-run plan was turned down, not that it is pending
            (dry,) = recorded(app, "remediation_dry_run")
            (cancelled,) = recorded(app, "remediation_cancelled")
            assert cancelled.details["run"] == dry.details["run"]
            assert cancelled.summary.endswith(": nothing applied"), cancelled.summary

            await enter_on_suggestion()
            await wait_until(
                lambda: isinstance(app.screen, ConfirmScreen) and app.screen.preview, 30
            )
            await pilot.press("y")
            await wait_until(lambda: isinstance(app.screen, RemediationScreen), 10)
            progress = app.screen
            assert isinstance(progress, RemediationScreen)

            # a second trigger while it runs opens nothing and applies nothing
            assert not app.screen_stack[-2].open_remediation("enable-queueing")  # type: ignore[attr-defined]
            await wait_until(
                lambda: any("already running" in n.message for n in app._notifications), 5
            )

            await wait_until(lambda: recorded(app, "remediation_rolled_out"), 40)
            assert "updated 4/4" in static_text(progress.query_one("#rollout-status", Static))
            assert (await env_of(sb))["RATE_LIMIT_MODE"] == "queue"
            assert writes(sb) == before + 1, "the remediation was applied more than once"
            stages = [
                e.kind
                for e in events_of(app.journal, "remediation_planned")  # type: ignore[arg-type]
            ]
            assert len(stages) == 2  # the cancelled preview, then the applied run
            assert recorded(app, "remediation_dry_run")
            assert recorded(app, "remediation_applied")
            assert not recorded(app, "remediation_failed")


async def test_the_wrong_fix_is_shown_not_effective_with_the_revert_one_key_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-auth", speed=20) as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(120, 40)) as pilot:
            fast(app)
            dashboard = app.screen
            dashboard.remediation_watch = (timedelta(seconds=2), timedelta(seconds=12))  # type: ignore[attr-defined]
            dashboard.remediation_watch_tick = 0.2  # type: ignore[attr-defined]
            await wait_until(
                lambda: (
                    "auth_failures" in dashboard.metrics  # type: ignore[attr-defined]
                    and dashboard.metrics["auth_failures"].alerting
                ),  # type: ignore[attr-defined]
                60,
                0.2,
                "the 401s to alert",
            )
            confirm = await open_confirm(
                app,
                lambda: dashboard.open_remediation("enable-queueing"),  # type: ignore[attr-defined]
            )
            # said before the dry run: this is not what the signals point at
            note = static_text(confirm.query_one("#confirm-note", Static))
            assert note == (
                "⚠ Not the suggested fix: the signals point at 401/403 - Authentication, where"
                " the runbook offers Update the Clay API key and restart pods, Restart the Clay"
                " integration pods."
            ), note
            await pilot.press("y")
            await wait_until(lambda: isinstance(app.screen, RemediationScreen), 10)
            run = app.screen
            assert isinstance(run, RemediationScreen) and run is not confirm
            await wait_until(lambda: recorded(app, "remediation_rolled_out"), 40)
            (rolled,) = recorded(app, "remediation_rolled_out")
            assert "watching Auth Failures" in rolled.summary, rolled.summary
            assert not recorded(app, "remediation_effective")
            await wait_until(
                lambda: (
                    "watching Auth Failures" in static_text(run.query_one("#run-stage", Static))
                ),
                10,
            )
            await wait_until(lambda: recorded(app, "remediation_not_effective"), 40)
            (judged,) = recorded(app, "remediation_not_effective")
            assert "still Auth Failures:" in judged.summary, judged.summary
            await wait_until(lambda: run.done, 10)
            assert static_text(run.query_one("#run-stage", Static)) == "Not effective."
            assert "Not effective: still Auth Failures" in static_text(
                run.query_one("#run-result", Static)
            )
            # one key reverts it, previewed like every remediation
            await pilot.press("v")
            revert = await wait_until(
                lambda: app.screen if isinstance(app.screen, ConfirmScreen) else None, 30
            )
            assert "Restore the variables" in revert.remediation.title


@pytest.mark.parametrize(
    ("scenario", "signal", "pick"),
    [("clay-auth", "Auth Failures", "raise"), ("clay-vendor-outage", "API Down", "keep")],
)
async def test_an_alert_more_severe_than_the_incident_offers_to_raise_it_and_either_choice_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenario: str, signal: str, pick: str
) -> None:
    async with running_sandbox(scenario, speed=20) as sb:
        app = cockpit(sb, tmp_path, monkeypatch, severity="P2")
        async with app.run_test(size=(120, 40)) as pilot:
            dashboard = app.screen
            heading = f"{signal} is a P1 alert; this incident is P2"
            while True:
                # another P1 alert (our health going down) may make its offer first: Escape
                # leaves that one unanswered
                offer = await wait_until(
                    lambda: app.screen if isinstance(app.screen, ChoiceScreen) else None,
                    90,
                    0.2,
                    "the offer to raise the severity",
                )
                if offer.heading == heading:
                    break
                assert offer.heading.endswith(" is a P1 alert; this incident is P2")
                await pilot.press("escape")
                await wait_until(lambda o=offer: app.screen is not o, 10)  # type: ignore[misc]
            assert [value for value, _ in offer.choices] == ["raise", "keep"]
            if pick == "keep":
                await pilot.press("down")
            await pilot.press("enter")  # Enter raises: one key
            await wait_until(lambda: app.screen is not offer, 10)
            incident = dashboard.incident  # type: ignore[attr-defined]
            if pick == "raise":
                (changed,) = await wait_until(lambda: recorded(app, "severity_changed"), 5)
                assert changed.summary == f"Severity changed from P2 to P1: {signal} alert (P1)"
                assert incident.severity == "P1"
            else:
                notes = await wait_until(lambda: recorded(app, "note"), 5)
                assert notes[-1].details["text"] == f"Kept severity P2 with the P1 alert {signal}"
                assert incident.severity == "P2" and not recorded(app, "severity_changed")
            # offered once per alert: more polls bring no second offer of this one (another
            # alert, our health going down, may make its own)
            await settle_polls(dashboard, 2)
            again = app.screen
            assert not (isinstance(again, ChoiceScreen) and again.heading == heading)


async def settle_polls(dashboard: Any, polls: int) -> None:
    """Wait for ``polls`` more metric polls of the dashboard."""
    for _ in range(polls):
        seen = {k: r.fetched_at for k, r in dashboard.metrics.items()}
        await wait_until(
            lambda seen=seen: any(
                r.fetched_at > seen.get(k, r.fetched_at) for k, r in dashboard.metrics.items()
            ),
            30,
            0.1,
            "another poll",
        )


async def test_a_crash_loop_is_one_alert_with_its_evidence_and_clears_after_the_rollback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-infra", speed=20) as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(120, 40)) as pilot:
            fast(app)
            dashboard = app.screen
            dashboard.remediation_watch = (timedelta(seconds=3), timedelta(minutes=2))  # type: ignore[attr-defined]
            dashboard.remediation_watch_tick = 0.2  # type: ignore[attr-defined]

            def raised(name: str) -> list[Any]:
                return [
                    e for e in recorded(app, "signal_alert_raised") if e.details["name"] == name
                ]

            await wait_until(lambda: raised("Crash loop"), 90, 0.2, "the crash-loop alert")
            (crash,) = raised("Crash loop")
            assert "pods restarting (CrashLoopBackOff)" in crash.summary, crash.summary
            assert " restarts" in crash.summary
            await wait_until(lambda: raised("Health down") or raised("Health degraded"), 60, 0.2)
            # the restarts go on; they fold into one event per pod, not one a minute
            await settle_polls(dashboard, 2)
            restarts = recorded(app, "pod_restarts_seen")
            assert len(restarts) <= len(dashboard.pods), [e.summary for e in restarts]  # type: ignore[attr-defined]
            assert len(raised("Crash loop")) == 1

            confirm = await open_confirm(app, lambda: dashboard.open_remediation("rollback"))  # type: ignore[attr-defined]
            confirm.query_one("#confirm-name", Input).value = "clay-integration"
            await pilot.pause()
            confirm.query_one("#apply", Button).press()
            await wait_until(lambda: recorded(app, "remediation_rolled_out"), 60)
            (rolled,) = recorded(app, "remediation_rolled_out")
            assert "watching health" in rolled.summary, rolled.summary
            await wait_until(
                lambda: (
                    recorded(app, "remediation_effective")
                    or recorded(app, "remediation_not_effective")
                ),
                150,
                0.2,
                "the verdict",
            )
            assert recorded(app, "remediation_effective"), recorded(
                app, "remediation_not_effective"
            )
            cleared = {e.details["signal"] for e in recorded(app, "signal_alert_cleared")}
            await wait_until(
                lambda: (
                    {"pods.crashloop", "health.status"}
                    <= {e.details["signal"] for e in recorded(app, "signal_alert_cleared")}
                ),
                60,
                0.2,
                f"the alerts to clear (cleared so far: {cleared})",
            )
            from tui.record.postmortem import error_type

            assert "Crash loop" in (error_type(dashboard.incident) or "")  # type: ignore[attr-defined]


async def test_destructive_rollback_needs_the_typed_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-infra", speed=20) as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(120, 40)) as pilot:
            fast(app)
            dashboard = app.screen
            before = writes(sb)

            confirm = await open_confirm(app, lambda: dashboard.open_remediation("rollback"))  # type: ignore[attr-defined]
            assert confirm.focused is not None and confirm.focused.id == "cancel"
            assert "DESTRUCTIVE" in static_text(confirm.query_one("#confirm-body", Static))
            await pilot.press("y")
            assert app.screen is confirm and writes(sb) == before
            await pilot.press("enter")  # on Cancel: cancels
            await wait_until(lambda: app.screen is dashboard, 5)
            assert writes(sb) == before

            confirm = await open_confirm(app, lambda: dashboard.open_remediation("rollback"))  # type: ignore[attr-defined]
            name = confirm.query_one("#confirm-name", Input)
            apply = confirm.query_one("#apply", Button)
            await pilot.press("space")
            assert app.screen is confirm and writes(sb) == before
            name.focus()
            for attempt in ("", " ", "clay", "clay-integratoin", "Clay-integration"):
                name.value = attempt
                await pilot.press("enter")
                await pilot.press("y")
                assert app.screen is confirm and apply.disabled
                assert writes(sb) == before, f"{attempt!r} applied the rollback"
            name.value = "clay-integration"
            await pilot.pause()
            assert not apply.disabled
            await pilot.press("enter")
            await wait_until(lambda: recorded(app, "remediation_rolled_out"), 40)
            assert writes(sb) == before + 1
            image = await sb.kubectl(
                "get", DEPLOYMENT, "-o", "jsonpath={.spec.template.spec.containers[0].image}"
            )
            assert image.stdout.endswith("1.4.2")


async def test_forbidden_shows_the_runbook_hint_and_records_the_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-rate-limited", speed=20) as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(120, 40)) as pilot:
            fast(app)
            await sb.set_fault("kubernetes", "403", verb="patch", resource="deployments")
            before = writes(sb)
            confirm = await open_confirm(
                app,
                lambda: app.screen.open_remediation("enable-queueing"),  # type: ignore[attr-defined]
            )
            await wait_until(lambda: recorded(app, "remediation_failed"), 10)
            shown = static_text(confirm.query_one("#confirm-error", Static))
            assert "Escalate to admin" in shown
            assert confirm.query_one("#apply", Button).disabled
            failed = recorded(app, "remediation_failed")[-1]
            assert "Escalate to admin" in failed.summary
            assert writes(sb) == before
            await pilot.press("escape")
            await wait_until(lambda: app.screen.id == "dashboard", 5)
            assert app.is_running


async def test_the_signals_answers_are_recorded_once_when_they_settle_and_when_they_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-rate-limited", speed=20) as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(120, 40)):
            dashboard = app.screen
            dashboard._settler.hold = timedelta(seconds=1)  # type: ignore[attr-defined]

            def answers(node: str) -> list[Any]:
                return [e for e in recorded(app, "decision_answered") if e.details["node"] == node]

            await wait_until(lambda: answers("vendor-incident"), 90, 0.2, "the live answers")
            # before the 429s ramp up the root may first have settled on "no": a change is
            # recorded, and every recorded answer differs from the one before it
            root = answers("api-errors")
            assert [e.details["answer"] for e in root][-1] == "yes"
            assert all(a.details["answer"] != b.details["answer"] for a, b in pairwise(root))
            assert root[-1].details["how"] == "live" and root[-1].actor == "signals"
            assert "(live: " in root[-1].summary and "/min > " in root[-1].summary
            (vendor,) = answers("vendor-incident")
            assert vendor.details["answer"] == "no"
            # more polls, the same answers: nothing more is recorded
            counts = (len(root), 1)
            for _ in range(3):
                polled = dashboard.metrics["rate_limited"].fetched_at  # type: ignore[attr-defined]
                await wait_until(
                    lambda p=polled: dashboard.metrics["rate_limited"].fetched_at > p,  # type: ignore[attr-defined,misc]
                    30,
                    0.1,
                    "another poll",
                )
            assert (len(answers("api-errors")), len(answers("vendor-incident"))) == counts
            # the postmortem's decision path has them without anyone pressing y
            path = dashboard.incident.decision_path()  # type: ignore[attr-defined]
            assert [a.node for a in path.answers] == ["api-errors", "vendor-incident"]
            assert path.leaf is not None and path.leaf.id == "integration-issue"


async def test_decisions_checklists_and_notes_land_in_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-rate-limited", speed=20) as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(lambda: tree_node(app, "enable-queueing"), 60)
            tree = app.screen.query_one(DecisionTreeView)
            tree.focus()
            assert tree.top is not None
            tree.move_cursor(tree.top)
            await pilot.press("y")
            answered = await wait_until(lambda: recorded(app, "decision_answered"), 5)
            assert answered[-1].details["node"] == "api-errors"
            assert answered[-1].details["how"] == "live"
            assert answered[-1].details["signal"] is not None
            await pilot.press("n")

            def on_root() -> list[Any]:
                return [
                    e
                    for e in recorded(app, "decision_answered")
                    if e.details["node"] == "api-errors"
                ]

            await wait_until(lambda: len(on_root()) == 2, 5)
            override = on_root()[-1]
            assert override.details["answer"] == "no" and override.details["how"] == "override"

            checklist = app.screen.query_one(ChecklistView)
            checklist.focus()
            first = checklist.keys[0]
            checklist.move_cursor(checklist.node_for(first))
            await pilot.press("space")
            checked = await wait_until(lambda: recorded(app, "checklist_item_checked"), 5)
            assert checked[-1].details["key"] == first
            triage = next(k for k in checklist.keys if checklist.node_for(k).data.entry.item.triage)  # type: ignore[union-attr]
            checklist.move_cursor(checklist.node_for(triage))
            await pilot.press("enter")
            await wait_until(lambda: isinstance(app.screen, CommandScreen), 5)
            assert "curl" in static_text(app.screen.query_one("#command-text", Static))
            await pilot.press("c")
            await pilot.press("escape")
            await wait_until(lambda: app.screen.id == "dashboard", 5)

            app.screen.action_goto_pane("logs")  # type: ignore[attr-defined]
            await pilot.press("n")
            await wait_until(lambda: isinstance(app.screen, PromptScreen), 5)
            app.screen.query_one("#prompt-input", Input).value = "429s started after the deploy"
            await pilot.press("enter")
            notes = await wait_until(lambda: recorded(app, "note"), 5)
            assert notes[-1].details["text"] == "429s started after the deploy"


async def test_the_header_stops_counting_once_the_incident_is_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
    app = offline_app(tmp_path, monkeypatch, "clay", clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        incident = app.incident
        assert incident is not None
        dashboard = app.screen
        header = dashboard.query_one(IncidentHeader)
        clock.now += timedelta(minutes=10)
        dashboard.tick_at(clock.now)  # type: ignore[attr-defined]
        assert "respond in" in header.text()
        incident.resolve("queueing enabled")
        dashboard.tick_at(clock.now)  # type: ignore[attr-defined]
        frozen = header.text()
        assert "respond in" not in frozen and "to spare" in frozen, frozen
        assert "next update" not in frozen
        clock.now += timedelta(minutes=30)
        dashboard.tick_at(clock.now)  # type: ignore[attr-defined]
        assert header.text() == frozen


async def test_severity_status_resolve_and_escalation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
    app = offline_app(tmp_path, monkeypatch, "clerk", clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        incident = app.incident
        assert incident is not None

        async def choose(key: str, value: str) -> None:
            await pilot.press(key)
            await wait_until(lambda: isinstance(app.screen, ChoiceScreen), 5)
            options = app.screen.query_one("#choices")
            index = [v for v, _ in app.screen.choices].index(value)  # type: ignore[attr-defined]
            options.highlighted = index  # type: ignore[attr-defined]
            await pilot.press("enter")

        await choose("s", "P1")
        await wait_until(lambda: incident.severity == "P1", 5)
        await choose("S", "mitigated")
        await wait_until(lambda: incident.status == "mitigated", 5)
        await choose("S", "investigating")
        await wait_until(lambda: isinstance(app.screen, PromptScreen), 5)
        app.screen.query_one("#prompt-input", Input).value = "errors came back"
        await pilot.press("enter")
        await wait_until(lambda: incident.status == "investigating", 5)
        moved = recorded(app, "status_changed")[-1]
        assert moved.details["backwards"] and moved.details["reason"] == "errors came back"

        clock.now += timedelta(minutes=20)
        await pilot.press("E")
        await wait_until(lambda: isinstance(app.screen, EscalationScreen), 5)
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(app.screen.render_body())  # type: ignore[attr-defined]
        shown = console.export_text()
        assert "Engineering lead  ← due now" in shown
        assert "support@clerk.com" in shown
        await pilot.press("escape")

        await pilot.press("R")
        await wait_until(lambda: isinstance(app.screen, PromptScreen), 5)
        app.screen.query_one("#prompt-input", Input).value = "Bypass on, Clerk recovered"
        await pilot.press("enter")
        await wait_until(lambda: incident.status == "resolved", 5)
        assert recorded(app, "resolved")[-1].details["summary"] == "Bypass on, Clerk recovered"


def test_escalation_level_due_by_elapsed_time() -> None:
    escalation = CATALOG.get("clerk").escalation
    assert due_level(escalation, timedelta(minutes=5)).level == 1  # type: ignore[union-attr]
    assert due_level(escalation, timedelta(minutes=15)).level == 2  # type: ignore[union-attr]
    assert due_level(escalation, timedelta(hours=2)).level == 3  # type: ignore[union-attr]


async def test_export_writes_the_bundle_and_records_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-rate-limited", speed=20) as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(120, 40)) as pilot:
            app.screen.export_dir = tmp_path / "exports"  # type: ignore[attr-defined]
            app.screen.export_evidence_timeout = 15  # type: ignore[attr-defined]
            await pilot.press("x")
            await wait_until(lambda: isinstance(app.screen, ExportScreen), 5)
            exported = await wait_until(lambda: recorded(app, "export"), 60)
            folder = Path(exported[-1].details["out"])
            assert (folder / "postmortem.md").exists()
            assert folder.with_name(folder.name + ".tar.gz").exists()
            paths = static_text(app.screen.query_one("#export-paths", Static))
            assert "postmortem.md" in paths


async def test_guided_rollout_confirms_each_step_and_undo_rolls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-healthy", speed=20) as sb:
        app = cockpit(sb, tmp_path, monkeypatch, "clay-prod-checklist")
        async with app.run_test(size=(120, 40)) as pilot:
            fast(app)
            before = writes(sb)

            async def confirm(*, image: str | None = None, name: str | None = None) -> None:
                await wait_until(lambda: isinstance(app.screen, ConfirmScreen), 20)
                if image:
                    app.screen.query_one("#param-image", Input).value = image
                    await pilot.click("#preview")
                await wait_until(lambda: app.screen.preview is not None, 20)  # type: ignore[attr-defined]
                assert app.screen.preview.ok  # type: ignore[attr-defined]
                if name:
                    field = app.screen.query_one("#confirm-name", Input)
                    field.value = name
                    field.focus()
                    await pilot.press("enter")
                else:
                    await pilot.press("y")
                await wait_until(
                    lambda: isinstance(app.screen, RemediationScreen) and app.screen.done, 30
                )
                assert app.screen.ok  # type: ignore[attr-defined]
                await pilot.press("escape")

            def asking() -> bool:
                return isinstance(app.screen, RolloutGuideScreen) and app.screen.has_class(
                    "-asking"
                )

            app.screen.action_guided_rollout()  # type: ignore[attr-defined]
            await confirm()  # apply the manifest (by hand)
            await confirm(image="registry/clay-integration:1.5.0")
            await confirm()  # pause at the canary
            await wait_until(asking, 20)
            signals = app.screen.query_one("#guide-signals", Static)
            await wait_until(lambda: "API Down" in static_text(signals), 10)
            assert "left" in static_text(app.screen.query_one("#guide-countdown", Static))
            await pilot.click("#continue")
            await confirm()  # resume to 50%
            await confirm()  # pause at 50%
            await wait_until(asking, 20)
            await pilot.click("#undo")
            await confirm()  # resume first: a paused deployment does not roll back
            await confirm(name="clay-integration")
            await wait_until(lambda: isinstance(app.screen, RolloutGuideScreen), 5)
            assert "Rolled back" in static_text(app.screen.query_one("#guide-now", Static))
            image = await sb.kubectl(
                "get", DEPLOYMENT, "-o", "jsonpath={.spec.template.spec.containers[0].image}"
            )
            assert image.stdout.endswith(":1.4.2")
            assert writes(sb) > before
            assert len(recorded(app, "remediation_rolled_out")) == 7


async def test_a_result_that_comes_while_the_run_screen_mounts_is_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The apply task may finish (a 409 comes back fast) after the screen's ``on_mount`` ran
    but before Textual counts it as mounted: the result must still reach the screen."""
    from textual.app import App

    shown = RemediationScreen.on_mount

    def mounting(self: RemediationScreen) -> None:
        shown(self)
        assert not self.is_mounted  # still inside Textual's mount
        self.stage("Applying…")
        self.finish(
            False, "changed since the dry run", None, False, can_retry=True, stage="Refused: 409."
        )

    monkeypatch.setattr(RemediationScreen, "on_mount", mounting)
    app: App[None] = App()
    async with app.run_test(size=(80, 24)):
        screen = RemediationScreen("Enable fallback", DEPLOYMENT)
        app.push_screen(screen)
        stage = await wait_until(
            lambda: screen.query("#run-stage").first(Static) if screen.is_mounted else None, 10
        )
        await wait_until(lambda: "Refused: 409." in static_text(stage), 10, 0.05, "Refused")
        assert "changed since the dry run" in static_text(screen.query_one("#run-result", Static))
        assert screen.query_one("#retry", Button).display
        # an update that comes after the screen is closed is dropped, not raised
        screen.dismiss(None)
        await wait_until(lambda: app.screen is not screen, 10)
        screen.finish(True, "late", None, False)
        screen.stage("late")
