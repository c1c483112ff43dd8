"""Start the headless cockpit against a running sandbox, read what its panes say, and act
through its confirmations with keys.

    app = cockpit(sb, tmp_path, monkeypatch)
    async with app.run_test(size=(120, 40)):
        await wait_until(lambda: "⚠" in pane_text(app, "status_page"), 10)
        confirm = await open_confirm(app, "enable-queueing")
        await preview(confirm)
        press(app, "y", "y")

The app polls every backend twice a second with a one-second timeout, keeps its journal
under ``tmp_path`` and records into it as the real app does. Keys go in with
:func:`press` and a bounded :func:`settle`: ``pilot.press`` waits for an idle screen,
which a live dashboard never is.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from sandbox_helpers import wait_until
from textual import events
from textual.widgets import Button, Input, Static

from tui.app import IncidentApp, Launch
from tui.record.event import Event, new_incident_id
from tui.record.incident import Incident
from tui.record.journal import Journal
from tui.runbook import discover_runbooks
from tui.screens.remediate import ConfirmScreen
from tui.settings import Settings, load_settings

__all__ = [
    "FAULT_SELECTORS",
    "cockpit",
    "dashboard_of",
    "events_of",
    "fast_settings",
    "open_confirm",
    "pane_text",
    "press",
    "preview",
    "screen_lines",
    "screen_text",
    "settle",
    "static_text",
]

POLL = 0.5
"""Seconds between polls of the status page, health and Prometheus in tests."""
TIMEOUT = 1.0
"""Seconds every backend call may take in tests."""

FAULT_SELECTORS: dict[str, tuple[str, ...]] = {
    "status_page": ("#status-fault",),
    "health": ("#health-fault",),
    "prometheus": ("#rates-fault",),
    "kubernetes": ("#pods-fault",),
    "logs": ("#log-fault",),
}
"""Where each backend's fault is said on the dashboard."""


def fast_settings(sb: Any, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings pointing at the sandbox, polling fast with short timeouts."""
    config = tmp_path / "config.toml"
    if sb.sandbox is not None:
        sb.sandbox.write_config(config)
    else:
        # the sandbox runs as its own process: its config from the endpoints it printed
        from tui.sandbox.server import render_config

        config.write_text(render_config(sb.endpoints), encoding="utf-8")
    sections: dict[str, dict[str, Any]] = {
        "status": {"poll_interval": POLL, "timeout": TIMEOUT},
        "prometheus": {"poll_interval": POLL, "timeout": TIMEOUT},
        "kubernetes": {"timeout": TIMEOUT},
    }
    for section, values in overrides.items():
        sections[section] = {**sections.get(section, {}), **values}
    return load_settings(config, **sections)


def cockpit(
    sb: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    runbook_id: str = "clay",
    *,
    severity: str = "P1",
    **overrides: Any,
) -> IncidentApp:
    """A cockpit with a freshly declared incident of ``runbook_id`` against the sandbox
    (P1 unless told: no alert is more severe, so none offers to raise it)."""
    monkeypatch.setenv("INCIDENT_TUI_STATE_DIR", str(tmp_path / "state"))
    settings = fast_settings(sb, tmp_path, **overrides)
    catalog = discover_runbooks()
    runbook = catalog.get(runbook_id)
    incident_id = new_incident_id(runbook.id)
    journal = Journal.create(incident_id)
    journal.save_runbook(runbook)
    incident = Incident.declare(
        runbook,
        incident_id=incident_id,
        title=f"{runbook.vendor.name} integration failing",
        severity=severity,
        commander=settings.responder,
        recorder=journal,
        actor=settings.responder,
    )
    launch = Launch(settings, catalog=catalog, incident=incident, journal=journal)
    return IncidentApp(launch)


def static_text(widget: Static) -> str:
    """The plain text a Static shows (empty when hidden)."""
    if not widget.display:
        return ""
    visual = widget.visual
    plain = getattr(visual, "plain", None)
    if isinstance(plain, str):
        return plain
    return str(widget.content)


def pane_text(app: IncidentApp, backend: str) -> str:
    """What the dashboard says about ``backend``'s fault right now ("" when nothing)."""
    texts = []
    for selector in FAULT_SELECTORS[backend]:
        widget = app.screen.query_one(selector, Static)
        if widget.has_class("-shown"):
            texts.append(static_text(widget))
    return "\n".join(texts)


_TAGS = re.compile(r"<[^>]+>")


def screen_text(app: IncidentApp) -> str:
    """The whole screen as text (a screenshot with the SVG markup stripped)."""
    import html

    svg = app.export_screenshot()
    return html.unescape(_TAGS.sub("", svg)).replace("\xa0", " ")


def events_of(journal: Journal, kind: str, backend: str | None = None) -> list[Event]:
    """The recorded events of a kind (and backend), read back from the journal file."""
    # a reader of its own, so the app's journal keeps its place in the file
    events = Journal(journal.directory).load().events
    return [
        e
        for e in events
        if e.kind == kind and (backend is None or e.details.get("backend") == backend)
    ]


# --------------------------------------------------------------------------- acting


def press(app: IncidentApp, key: str, character: str | None = None) -> None:
    """A key as the terminal sends it (pilot.press waits for an idle screen, which a live
    dashboard never is)."""
    app.post_message(events.Key(key, character))


async def close(
    app: IncidentApp, screen: object, key: str = "escape", character: str | None = None
) -> None:
    """Press ``key`` (Escape unless told) and wait until ``screen`` is gone from view."""
    press(app, key, character)
    await wait_until(lambda: app.screen is not screen, 10, 0.05, f"{key} to close {screen}")


async def settle(app: IncidentApp) -> None:
    """Let the app handle what was posted (a bounded wait for the queue to drain)."""
    marker: list[bool] = []
    app.call_later(lambda: marker.append(True))
    await wait_until(lambda: marker, 10, 0.02, "the app to handle its messages")
    # The key may close the screen it went to: a refresh callback on a screen that leaves
    # never runs, so ask again of the screen that replaced it.
    deadline = time.monotonic() + 10
    while True:
        marker.clear()
        screen = app.screen
        screen.call_after_refresh(lambda: marker.append(True))
        await wait_until(
            lambda s=screen: marker or app.screen is not s, 10, 0.02, "the screen to refresh"
        )
        if marker:
            return
        assert time.monotonic() < deadline, "timed out waiting for the screen to settle"


async def dashboard_of(app: IncidentApp) -> Any:
    def find() -> Any:
        return next((s for s in app.screen_stack if s.id == "dashboard"), None)

    return await wait_until(find, 15, 0.05, "the dashboard")


async def open_confirm(app: IncidentApp, remediation: str) -> ConfirmScreen:
    dashboard = await dashboard_of(app)
    assert dashboard.open_remediation(remediation)
    confirm = await wait_until(
        lambda: app.screen if isinstance(app.screen, ConfirmScreen) else None,
        15,
        0.05,
        "the confirmation",
    )
    assert isinstance(confirm, ConfirmScreen)
    # the screen is current before its widgets are mounted
    await wait_until(lambda: confirm.is_mounted and confirm.query("#apply"), 10, 0.02)
    await settle(app)
    return confirm


async def preview(confirm: ConfirmScreen, secret: str | None = None) -> None:
    if confirm.ask_inputs:
        if secret is not None:
            confirm.query_one("#secret-value", Input).value = secret
        confirm.query_one("#preview", Button).press()
    await wait_until(lambda: confirm.preview is not None, 30, 0.05, "the dry run")


def screen_lines(app: Any) -> list[str]:
    """Every row of the screen as the terminal is sent it, Textual's own cursor moves left
    out: what a person reads, control characters included if any got through."""
    update = app.screen._compositor.render_full_update()
    rows = []
    for line in update.strips:
        rows.append(
            "".join(segment.text for strip in line for segment in strip if not segment.control)
        )
    return rows


class Keys:
    """Presses keys as the terminal sends them and remembers them for the report."""

    def __init__(self, app: IncidentApp) -> None:
        self.app = app
        self.pressed: list[str] = []

    async def __call__(self, *names: str) -> None:
        for name in names:
            self.pressed.append(name)
            press(self.app, name, name if len(name) == 1 else None)
            await settle(self.app)

    async def type(self, text: str) -> None:
        for character in text:
            press(self.app, "space" if character == " " else character, character)
        self.pressed.append(f"<{len(text)} characters>")
        await settle(self.app)


async def keys(app: IncidentApp, *names: str) -> None:
    """Press keys one after the other, each handled before the next."""
    await Keys(app)(*names)
