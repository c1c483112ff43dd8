"""A rotated secret never shows: through the whole rotate-the-key flow in the cockpit,
neither the old nor the new value is on any screen, in the journal, the postmortem, the
evidence bundle, any file the app wrote, or its output."""

from __future__ import annotations

import base64
import secrets
import tarfile
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
)
from sandbox_helpers import running_sandbox, wait_until
from textual.widgets import Input

from tui.screens.remediate import RemediationScreen

DEPLOYMENT = "clay-integration"


async def secret_value(sb: Any) -> str:
    data = await sb.kubectl("get", "secret", "clay-secrets", "-o", "jsonpath={.data.api-key}")
    return base64.b64decode(data.stdout).decode()


def forms(value: str) -> list[str]:
    """The value and the ways it could leak encoded (as the API stores it, in a diff)."""
    encoded = base64.b64encode(value.encode()).decode()
    return [value, encoded, encoded.rstrip("=")]


def files_under(root: Path) -> dict[str, str]:
    """Every file's text under ``root``, archives opened."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        if path.name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(path) as archive:
                for member in archive.getmembers():
                    handle = archive.extractfile(member)
                    if handle is not None:
                        found[f"{path}!{member.name}"] = handle.read().decode("utf-8", "replace")
            continue
        found[str(path)] = path.read_bytes().decode("utf-8", "replace")
    return found


async def test_rotating_the_key_leaves_no_trace_of_either_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    async with running_sandbox("clay-auth") as sb:
        old = await secret_value(sb)
        assert len(old) >= 8, "the sandbox seeds a real-looking key"
        new = f"sk_live_rotated_{secrets.token_hex(12)}"
        app = cockpit(sb, tmp_path, monkeypatch)
        shots: dict[str, str] = {}

        def shoot(step: str) -> None:
            shots[step] = app.export_screenshot()

        async with app.run_test(size=(120, 40)):
            dashboard = await dashboard_of(app)
            dashboard.export_dir = tmp_path / "export"
            await wait_until(lambda: dashboard.pods, 20, 0.1, "the pods")
            shoot("dashboard")
            confirm = await open_confirm(app, "rotate-api-key")
            shoot("confirm")
            confirm.query_one("#secret-value", Input).value = new
            await settle(app)
            shoot("secret typed")
            await preview(confirm)
            assert confirm.preview is not None and confirm.preview.ok, confirm.preview
            await settle(app)
            shoot("dry run")
            name = confirm.query_one("#confirm-name", Input)
            name.focus()
            name.value = DEPLOYMENT
            await settle(app)
            shoot("name typed")
            press(app, "enter", "\r")
            run = await wait_until(
                lambda: app.screen if isinstance(app.screen, RemediationScreen) else None,
                15,
                0.05,
                "the run",
            )
            shoot("applying")
            assert app.journal is not None
            journal = app.journal
            await wait_until(
                lambda: (
                    events_of(journal, "remediation_rolled_out")
                    or events_of(journal, "remediation_failed")
                ),
                60,
                0.1,
                "the rollout to finish",
            )
            await settle(app)
            shoot("result")
            assert events_of(journal, "remediation_rolled_out"), events_of(
                journal, "remediation_failed"
            )
            await close(app, run)
            dashboard.action_goto_pane("timeline")
            await settle(app)
            shoot("timeline")
            dashboard.run_worker(dashboard.action_export(), exit_on_error=False)
            await wait_until(lambda: events_of(journal, "export"), 90, 0.2, "the export")
            await settle(app)
            shoot("exported")
            assert await secret_value(sb) == new, "the flow did not rotate the key"

        captured = capfd.readouterr()
        places: dict[str, str] = {f"screen: {step}": svg for step, svg in shots.items()}
        places.update(files_under(tmp_path))
        places["stdout"] = captured.out
        places["stderr"] = captured.err
        assert any("postmortem" in where or where.endswith(".md") for where in places), list(places)
        assert any("!" in where for where in places), "the evidence bundle was not written"
        leaks = [
            f"{where} holds the {label} value"
            for where, text in places.items()
            for label, value in (("old", old), ("new", new))
            if any(form in text for form in forms(value))
        ]
        assert not leaks, "\n".join(leaks)
        print("scanned:", *sorted(places), sep="\n  ")
