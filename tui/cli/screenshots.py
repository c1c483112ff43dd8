"""`make screenshots` (`python -m tui.cli.screenshots [FOLDER [FILE...]]`): SVG screenshots
of the real cockpit against the sandbox (demo mode)."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

__all__ = ["main"]

Scene = tuple[str, str, tuple[int, int], list[str]]
"""(file name, sandbox scenario, terminal size, keys to press before the shot); a key
``remediation:ID`` opens that remediation's confirmation (with its server dry run)."""

SCENES: list[Scene] = [
    ("dashboard-clay-rate-limited.svg", "clay-rate-limited", (120, 40), []),
    ("dashboard-clay-rate-limited-80x24.svg", "clay-rate-limited", (80, 24), []),
    ("dashboard-instantly-vendor-outage.svg", "instantly-vendor-outage", (120, 40), []),
    ("dashboard-instantly-vendor-outage-80x24.svg", "instantly-vendor-outage", (80, 24), []),
    ("decision-tree.svg", "clay-rate-limited", (80, 24), ["3"]),
    ("logs-filtered.svg", "clay-rate-limited", (120, 40), ["5", "slash", *"429", "enter"]),
    ("help.svg", "clay-rate-limited", (120, 40), ["question_mark"]),
    ("confirm.svg", "clay-rate-limited", (120, 40), ["remediation:enable-queueing"]),
    ("confirm-destructive.svg", "clay-infra", (120, 40), ["remediation:rollback"]),
    ("comms.svg", "clay-rate-limited", (120, 40), ["c"]),
]


async def _wait(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.2)


async def shoot(
    folder: Path,
    scene: Scene,
    extra: Callable[[object, object], Awaitable[None]] | None = None,
) -> Path:
    """Run the cockpit on a fresh sandbox, wait for live values, press keys, save."""
    from tui.app import IncidentApp, Launch
    from tui.decision import evaluate
    from tui.record.event import new_incident_id
    from tui.record.incident import Incident
    from tui.record.journal import Journal
    from tui.runbook import discover_runbooks
    from tui.sandbox.server import Sandbox
    from tui.screens.dashboard import DashboardScreen
    from tui.settings import load_settings

    name, scenario, size, keys = scene
    catalog = discover_runbooks()
    runbook = catalog.get(scenario.split("-", 1)[0])
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["INCIDENT_TUI_STATE_DIR"] = tmp
        async with Sandbox(
            scenario, speed=40, pod_start_delay=0.3, rollout_step_delay=0.1
        ) as sandbox:
            config = sandbox.write_config(Path(tmp) / "config.toml")
            settings = load_settings(
                config,
                status={"poll_interval": 1.0},
                prometheus={"poll_interval": 1.0},
                responder="alice",
            )
            incident_id = new_incident_id(runbook.id)
            journal = Journal.create(incident_id)
            incident = Incident.declare(
                runbook,
                incident_id=incident_id,
                title=f"{runbook.vendor.name} integration failing",
                severity="P2",
                impact="Enrichment delayed for all workspaces",
                commander="alice",
                recorder=journal,
                actor="alice",
            )
            app = IncidentApp(
                Launch(settings=settings, catalog=catalog, incident=incident, journal=journal)
            )
            async with app.run_test(size=size) as pilot:
                screen = app.screen
                assert isinstance(screen, DashboardScreen)

                def settled() -> bool:
                    path = evaluate(runbook, screen.readings())
                    troubled = any(m.alerting for m in screen.metrics.values()) or (
                        screen.health is not None and not screen.health.healthy
                    )
                    return bool(screen.pods) and troubled and path.leaf is not None

                await _wait(settled, 90)
                await asyncio.sleep(2)
                for key in keys:
                    if key.startswith("remediation:"):
                        screen.open_remediation(key.split(":", 1)[1])
                        await asyncio.sleep(4)  # the server's dry run comes back
                    else:
                        await pilot.press(key)
                await pilot.pause()
                if extra is not None:
                    await extra(app, pilot)
                await pilot.pause(0.5)
                target = folder / name
                app.save_screenshot(str(target))
            journal.close()
    return target


async def run(folder: Path, only: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for scene in SCENES:
        if only and scene[0] not in only:
            continue
        path = await shoot(folder, scene)
        print(f"wrote {path}")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0] if args else "screenshots")
    asyncio.run(run(folder, args[1:]))


if __name__ == "__main__":
    main()
