"""The README's walkthrough of the clay-rate-limited demo, key by key, from declaration to
the exported postmortem."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from app_helpers import cockpit, events_of, keys, press, settle
from sandbox_helpers import running_sandbox, wait_until

from tui.screens.modals import ExportScreen, PromptScreen
from tui.screens.remediate import ConfirmScreen, RemediationScreen
from widgets.decision_tree import DecisionTreeView


async def test_the_readme_walkthrough_ends_in_a_postmortem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-rate-limited", speed=30) as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(120, 40)):
            app.screen.remediation_poll_interval = 0.1  # type: ignore[attr-defined]
            app.screen.remediation_watch = (timedelta(seconds=5), timedelta(minutes=3))  # type: ignore[attr-defined]
            app.screen.export_dir = tmp_path / "exports"  # type: ignore[attr-defined]
            # 1. the 429 alert fires and the tree suggests "Our integration issue"
            await wait_until(
                lambda: any(
                    e.details["signal"] == "rate_limited"
                    for e in events_of(app.journal, "signal_alert_raised")
                ),
                60,
                0.2,
                "the Rate Limited alert",
            )
            tree = app.screen.query_one(DecisionTreeView)
            await wait_until(
                lambda: (
                    tree.path is not None
                    and tree.path.leaf is not None
                    and tree.path.leaf.id == "integration-issue"
                ),
                60,
                0.2,
            )
            # 2. `3` goes to the tree; the cursor sits on the suggestion; `j` walks down
            #    to "Enable request queuing" under the 429 group
            await keys(app, "3")
            for _ in range(20):
                node = tree.cursor_node
                if (
                    node is not None
                    and getattr(node.data, "remediation_id", None) == "enable-queueing"
                ):
                    break
                await keys(app, "j")
            assert tree.cursor_node.data.remediation_id == "enable-queueing"  # type: ignore[union-attr]
            # 3. Enter opens the confirmation with the server's dry run; `y` applies
            await keys(app, "enter")
            await wait_until(
                lambda: isinstance(app.screen, ConfirmScreen) and app.screen.preview, 30, 0.1
            )
            await keys(app, "y")
            await wait_until(
                lambda: (
                    events_of(app.journal, "remediation_rolled_out")
                    or events_of(app.journal, "remediation_failed")
                ),
                120,
                0.2,
                "the remediation's result",
            )
            failed = events_of(app.journal, "remediation_failed")
            assert not failed, failed[0].summary
            assert isinstance(app.screen, RemediationScreen)
            press(app, "escape")
            await wait_until(lambda: app.screen.id == "dashboard", 10, 0.05, "the dashboard")
            # 4. the 429s stop: the alert clears by itself, and the watch of Rate Limited
            #    (going on with its screen closed) calls the fix effective
            await wait_until(
                lambda: any(
                    e.details["signal"] == "rate_limited"
                    for e in events_of(app.journal, "signal_alert_cleared")
                ),
                150,
                0.5,
                "the Rate Limited alert to clear",
            )
            await wait_until(
                lambda: (
                    events_of(app.journal, "remediation_effective")
                    or events_of(app.journal, "remediation_not_effective")
                ),
                150,
                0.5,
                "the verdict",
            )
            assert events_of(app.journal, "remediation_effective"), events_of(
                app.journal, "remediation_not_effective"
            )[0].summary
            # 5. resolve with a one-line summary, then export
            await keys(app, "R")
            await wait_until(lambda: isinstance(app.screen, PromptScreen), 10, 0.05)
            for character in "Queueing enabled; 429s stopped":
                press(app, "space" if character == " " else character, character)
            await settle(app)
            await keys(app, "enter")
            await wait_until(lambda: events_of(app.journal, "resolved"), 10, 0.1)
            await keys(app, "x")
            await wait_until(lambda: events_of(app.journal, "export"), 60, 0.2)
            assert isinstance(app.screen, ExportScreen)
            alive = (await sb.kubectl("get", "pods", "-o", "name")).stdout.split()

    # the fix replaced every pod that served the 429s: the bundle still has their lines
    logs = next((tmp_path / "exports").rglob("incident-logs.txt")).read_text().splitlines()
    failing = [line for line in logs if "429 Too Many Requests" in line]
    gone = [line for line in failing if f"pod/{line.split(' ')[1]}" not in alive]
    assert gone, (len(failing), alive)

    postmortems = list((tmp_path / "exports").rglob("postmortem.md"))
    assert len(postmortems) == 1
    text = postmortems[0].read_text()
    assert "RATE_LIMIT_MODE=queue" in text or "Enable request queuing" in text
    assert text.startswith("# Incident: Clay 429 Rate Limited"), text.splitlines()[0]
    assert "Alert cleared: Rate Limited" in text
    assert "Alert raised: Rate Limited" in text
    assert "Queueing enabled; 429s stopped" in text
    assert "Remediation effective: Enable request queuing: Rate Limited:" in text
