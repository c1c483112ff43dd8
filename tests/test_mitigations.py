"""Decisions know which remediations are in effect: a degradation our own fallback causes
is not an infrastructure fault, and once the vendor is operational the advice is to
revert the fallback, not to roll back."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from app_helpers import cockpit, open_confirm, press, preview
from sandbox_helpers import running_sandbox, wait_until

from tui.decision import Readings, suggest
from tui.record.incident import Incident
from tui.record.mitigations import in_effect, temporary_in_effect, undo_words
from tui.runbook import discover_runbooks
from tui.screens.modals import ChoiceScreen
from tui.screens.remediate import ConfirmScreen
from tui.signals import Health, MetricReading, VendorStatus
from widgets.decision_tree import DecisionTreeView

CATALOG = discover_runbooks()


def declared(runbook_id: str) -> Incident:
    return Incident.declare(
        CATALOG.get(runbook_id),
        incident_id=f"{runbook_id}-1",
        title="failing",
        severity="P2",
    )


def rolled_out(incident: Incident, remediation_id: str) -> None:
    for stage in ("planned", "dry_run", "applied", "rolled_out"):
        incident.record_remediation(remediation_id, stage)  # type: ignore[arg-type]


def test_in_effect_follows_reverts_and_the_remediation_that_undoes_another() -> None:
    incident = declared("clerk")
    rolled_out(incident, "scale-up")
    rolled_out(incident, "emergency-bypass")
    assert [m.run.remediation for m in temporary_in_effect(incident)] == [
        "scale-up",
        "emergency-bypass",
    ]
    incident.record_remediation("emergency-bypass", "reverted")
    rolled_out(incident, "scale-down")  # the revert the runbook names for scale-up
    assert [m.run.remediation for m in in_effect(incident)] == ["scale-down"]
    assert temporary_in_effect(incident) == []
    # a failed attempt changes nothing in the cluster
    incident.record_remediation("rollback", "planned")
    incident.record_remediation("rollback", "failed", error="forbidden")
    assert [m.run.remediation for m in in_effect(incident)] == ["scale-down"]


def test_undo_words_follow_the_runbook() -> None:
    clay, clerk = CATALOG.get("clay"), CATALOG.get("clerk")
    assert "CLAY_FALLBACK" in undo_words(clay, clay.remediation("enable-fallback"))
    assert undo_words(clerk, clerk.remediation("scale-up")) == 'run "Scale back to 2 replicas"'
    assert "kubectl rollout undo deployment/clay-integration -n production" in undo_words(
        clay, clay.remediation("rollback")
    )


FALLBACK = "Enable graceful degradation (fallback)"


def test_health_degraded_by_our_fallback_is_not_an_infrastructure_fault() -> None:
    clay = CATALOG.get("clay")
    health = Health("Clay", "degraded", False, last_error="fallback active")
    down = VendorStatus("Clay", "major", "Major outage")
    up = VendorStatus("Clay", "none", "All Systems Operational")

    quiet = {s.id: MetricReading(s.id, s.name, 0.0, s.unit, "ok", None, ">") for s in clay.signals}
    without = suggest(clay, Readings(quiet, up, health))
    assert without.path.leaf is not None and without.path.leaf.id == "infrastructure-issue"
    assert without.advice is None

    waiting = suggest(clay, Readings(quiet, down, health, (FALLBACK,)))
    assert waiting.path.leaf is not None and waiting.path.leaf.id != "infrastructure-issue"
    assert "rollback" not in waiting.first
    assert (
        waiting.advice
        == f"{FALLBACK} in effect: monitor, and wait for Clay to recover before reverting it."
    )
    healthy = next(a for a in waiting.path.answers if a.node == "service-healthy")
    assert "degraded by our own mitigation" in " ".join(healthy.evidence)

    back = suggest(clay, Readings(quiet, up, health, (FALLBACK,)))
    assert back.path.leaf is not None and back.path.leaf.id == "monitor"
    assert (
        back.advice
        == f"Clay reports operational again: revert {FALLBACK} (V) and watch the signals."
    )
    # our health down is a fault whatever is in effect
    broken = suggest(clay, Readings(quiet, up, Health("Clay", "down", False), (FALLBACK,)))
    assert broken.path.leaf is not None and broken.path.leaf.id == "infrastructure-issue"


async def test_after_the_fallback_the_cockpit_never_suggests_rolling_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-vendor-outage", speed=40) as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(120, 40)):
            app.screen.remediation_poll_interval = 0.1  # type: ignore[attr-defined]
            app.screen.remediation_watch = (timedelta(seconds=5), timedelta(seconds=20))  # type: ignore[attr-defined]
            confirm = await open_confirm(app, "enable-fallback")
            await preview(confirm)
            press(app, "y", "y")
            assert app.journal is not None
            await wait_until(
                lambda: [e for e in app.incident.events if e.kind == "remediation_rolled_out"],  # type: ignore[union-attr]
                90,
                0.2,
                "the fallback to roll out",
            )
            press(app, "escape")
            dashboard = next(s for s in app.screen_stack if s.id == "dashboard")
            tree = dashboard.query_one(DecisionTreeView)
            seen: list[str] = []

            def advice_says(words: str) -> bool:
                leaf = tree.path.leaf if tree.path is not None else None
                if leaf is not None:
                    seen.append(leaf.id)
                subtitle = str(dashboard.query_one("#pane-tree").border_subtitle or "")
                return words in subtitle

            # the fallback's own degradation: monitor and wait, then revert once Clay is back
            await wait_until(lambda: advice_says("wait for Clay to recover"), 60, 0.2)
            await wait_until(lambda: advice_says("Clay reports operational again"), 120, 0.2)
            assert "infrastructure-issue" not in seen, seen
            assert "rollback" not in dashboard.suggestion().first
            # V reverts it: the values from before the fallback, previewed and confirmed
            await wait_until(
                lambda: [
                    e
                    for e in app.incident.events  # type: ignore[union-attr]
                    if e.kind in ("remediation_effective", "remediation_not_effective")
                ],
                60,
                0.2,
                "the fallback's verdict",
            )
            await wait_until(lambda: not dashboard._remediation_busy, 10, 0.05)  # type: ignore[attr-defined]
            press(app, "V", "V")
            offer = await wait_until(
                lambda: app.screen if isinstance(app.screen, ChoiceScreen) else None, 10, 0.05
            )
            assert [value for value, _ in offer.choices] == ["enable-fallback"]
            press(app, "enter")
            revert = await wait_until(
                lambda: app.screen if isinstance(app.screen, ConfirmScreen) else None, 10, 0.05
            )
            await wait_until(lambda: revert.preview is not None, 30, 0.05, "the revert's dry run")
            press(app, "y", "y")
            await wait_until(
                lambda: [e for e in app.incident.events if e.kind == "remediation_reverted"],  # type: ignore[union-attr]
                90,
                0.2,
                "the revert",
            )
            got = await sb.kubectl(
                "get",
                "deployment/clay-integration",
                "-o",
                'jsonpath={.spec.template.spec.containers[0].env[?(@.name=="CLAY_FALLBACK")].value}',
            )
            assert got.stdout.strip() != "true"  # back to what it was before
            assert temporary_in_effect(app.incident) == []  # type: ignore[arg-type]


def test_the_postmortem_lists_reverting_what_is_still_in_effect() -> None:
    from tui.record.postmortem import render_postmortem

    incident = declared("clay")
    rolled_out(incident, "enable-queueing")
    incident.record_remediation("enable-queueing", "not_effective", result="still 429s")
    rolled_out(incident, "enable-fallback")
    text = render_postmortem(incident)
    items = text.split("## Action Items", 1)[1]
    assert (
        "- Revert **Enable graceful degradation (fallback)** (set CLAY_FALLBACK=true on "
        "production/clay-integration), in effect since " in items
    )
    assert "restore CLAY_FALLBACK to the value before it" in items
    assert "- Decide whether to keep **Enable request queuing**" in items
    incident.record_remediation("enable-fallback", "reverted")
    assert "Revert **Enable graceful degradation" not in render_postmortem(incident)
