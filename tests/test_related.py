"""A runbook names related runbooks for the same service: the Clay runbook carries the
production checklist, so its gradual rollout is at hand during a Clay incident."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_helpers import cockpit, press
from sandbox_helpers import running_sandbox, wait_until

from tui.act.guide import first_guide
from tui.runbook import discover_runbooks
from tui.screens.remediate import ConfirmScreen, RolloutGuideScreen
from widgets.checklist import ChecklistView


def test_the_clay_runbook_carries_the_production_checklist_and_what_it_uses() -> None:
    catalog = discover_runbooks()
    clay, checklist = catalog.get("clay"), catalog.get("clay-prod-checklist")
    assert clay.related == ["clay-prod-checklist"]
    titles = [c.title for c in clay.checklists]
    assert "Clay Production Checklist: Instructions" in titles
    # the checklist's own rollback differs from the incident runbook's: both stay, and the
    # checklist's items point at theirs
    assert clay.remediation("rollback") != checklist.remediation("rollback")
    assert clay.remediation("clay-prod-checklist.rollback").title == "Immediate Rollback"
    steps = first_guide(clay)
    assert [s.remediation_id for s in steps if s.kind == "remediation"][:3] == [
        "apply-manifest",
        "set-image",
        "pause-rollout",
    ]
    assert any(s.kind == "wait" and "server_errors" in s.watch for s in steps)
    for step in steps:
        if step.remediation_id:
            clay.remediation(step.remediation_id)  # every one resolves
    assert catalog.problems == []


def _user_runbook(tmp_path: Path, related: str, deployment: str = "clay-integration") -> Path:
    folder = tmp_path / "runbooks"
    folder.mkdir(exist_ok=True)
    text = Path("runbooks/clay.yaml").read_text()
    text = text.replace("\nid: clay\n", "\nid: clay-copy\n")
    text = text.replace("related: [clay-prod-checklist]", f"related: [{related}]")
    text = text.replace("clay-integration", deployment)
    (folder / "clay-copy.yaml").write_text(text)
    return folder


@pytest.mark.parametrize(
    ("related", "deployment", "said"),
    [
        ("no-such-runbook", "clay-integration", "which is not in the catalog"),
        ("clay-prod-checklist", "other-app", "its remediations would change another service"),
    ],
)
def test_a_related_runbook_that_cannot_be_carried_is_one_problem_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, related: str, deployment: str, said: str
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    catalog = discover_runbooks([_user_runbook(tmp_path, related, deployment)])
    (problem,) = catalog.problems
    assert problem.path.endswith("clay-copy.yaml") and said in problem.message
    assert catalog.get("clay-copy").checklists == catalog.get("clay").checklists[:2]


async def test_u_in_a_clay_incident_starts_the_production_checklists_gradual_rollout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-rate-limited", speed=20) as sb:
        app = cockpit(sb, tmp_path, monkeypatch, "clay")
        async with app.run_test(size=(120, 40)):
            view = app.screen.query_one(ChecklistView)
            lists = [str(node.label) for node in view.root.children]
            assert "Clay Production Checklist: Instructions" in lists
            press(app, "u", "u")
            guide = await wait_until(
                lambda: next(
                    (s for s in app.screen_stack if isinstance(s, RolloutGuideScreen)), None
                ),
                10,
                0.05,
                "the rollout guide",
            )
            confirm = await wait_until(
                lambda: app.screen if isinstance(app.screen, ConfirmScreen) else None, 20, 0.05
            )
            assert confirm.remediation.id == "apply-manifest"
            await wait_until(lambda: confirm.preview is not None, 20, 0.05, "the preview")
            assert guide is not None
