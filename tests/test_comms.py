"""Stakeholder updates: templates filled from the incident, edited, copied and posted to a
loopback Slack webhook; failures are one sentence that never shows the webhook's path."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from app_helpers import events_of, static_text
from sandbox_helpers import free_port, wait_until
from textual.widgets import Button, Static, TextArea

from tui.app import IncidentApp, Launch
from tui.comms import drafts, fill, post_to_slack, webhook_label
from tui.errors import CommsError
from tui.record.event import new_incident_id
from tui.record.incident import Incident
from tui.record.journal import Journal
from tui.runbook import discover_runbooks
from tui.screens.modals import CommsScreen
from tui.settings import load_settings

CATALOG = discover_runbooks()
START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@contextlib.asynccontextmanager
async def slack_server(status: int = 200) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback Slack incoming webhook recording every JSON body it is sent."""
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=status, text="ok" if status < 400 else "invalid_token")

    app = web.Application()
    app.router.add_post("/services/T000/B000/secretpath", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/services/T000/B000/secretpath", received
    finally:
        await runner.cleanup()


def offline_app(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    runbook_id: str = "clay",
    *,
    clock: Callable[[], datetime] | None = None,
    webhook: str | None = None,
) -> IncidentApp:
    """A cockpit with a declared incident and no backends (nothing polled)."""
    monkeypatch.setenv("INCIDENT_TUI_STATE_DIR", str(tmp_path / "state"))
    overrides: dict[str, Any] = {"responder": "alice"}
    if webhook:
        overrides["slack"] = {"webhook_url": webhook}
    settings = load_settings(None, **overrides)
    runbook = CATALOG.get(runbook_id)
    incident_id = new_incident_id(runbook.id)
    journal = Journal.create(incident_id)
    journal.save_runbook(runbook)
    incident = Incident.declare(
        runbook,
        incident_id=incident_id,
        title="Clay enrichment failing",
        severity="P2",
        impact="slow enrichment",
        commander="alice",
        recorder=journal,
        actor="alice",
        clock=clock or (lambda: START),
    )
    launch = Launch(settings, catalog=CATALOG, incident=incident, journal=journal, live=False)
    return IncidentApp(launch, clock=clock or (lambda: START))


def test_templates_are_filled_from_the_incident() -> None:
    incident = Incident.declare(
        CATALOG.get("clay"),
        incident_id="INC-1",
        title="Clay enrichment failing",
        severity="P1",
        impact="no enrichment",
        commander="bob",
        clock=lambda: START,
        actor="bob",
    )
    internal, external = drafts(incident, START + timedelta(minutes=5))
    assert internal.title == "🔴 P1 INCIDENT: Clay Integration"
    assert "Status: investigating" in internal.text
    assert "Impact: no enrichment" in internal.text
    assert "Current action: Investigating" in internal.text
    assert "Next update: 14:30 UTC" in internal.text
    assert "Incident commander: @bob" in internal.text
    assert external.destination == "status page"
    assert "Some users may experience no enrichment." in external.text
    assert "Last updated: 2026-03-02 14:05 UTC" in external.text
    assert fill("{severity} {unknown}", {"severity": "P3"}) == "P3 "


async def test_post_reaches_the_webhook_and_failures_are_one_sentence() -> None:
    async with slack_server() as (url, received):
        await post_to_slack(url, "hello")
    assert received == [{"text": "hello"}]

    async with slack_server(status=403) as (url, _):
        with pytest.raises(CommsError) as refused:
            await post_to_slack(url, "hello")
    assert "HTTP 403" in str(refused.value) and "secretpath" not in str(refused.value)

    closed = f"http://127.0.0.1:{free_port()}/services/T000/B000/secretpath"
    with pytest.raises(CommsError) as unreachable:
        await post_to_slack(closed, "hello", timeout=2)
    message = str(unreachable.value)
    assert "could not be reached" in message and "secretpath" not in message
    assert webhook_label(closed).endswith("/…")

    with pytest.raises(CommsError, match="No Slack webhook"):
        await post_to_slack(None, "hello")


async def test_edit_copy_and_post_from_the_comms_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with slack_server() as (url, received):
        app = offline_app(tmp_path, monkeypatch, webhook=url)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("c")
            await wait_until(lambda: isinstance(app.screen, CommsScreen), 5)
            screen = app.screen
            internal = screen.query_one("#comms-internal", TextArea)
            assert "🔴 P2 INCIDENT: Clay Integration" in internal.text
            assert "Impact: slow enrichment" in internal.text
            external = screen.query_one("#comms-external", TextArea)
            assert "Some users may experience slow enrichment." in external.text
            internal.focus()
            internal.move_cursor(internal.document.end)
            internal.insert(" Queue on.")
            await pilot.press("ctrl+y")
            await pilot.pause()
            copied = events_of(app.journal, "comms_copied")  # type: ignore[arg-type]
            assert copied and copied[-1].details["channel"] == "internal"
            assert copied[-1].details["text"].endswith("Queue on.")

            await pilot.click("#post-internal")
            await wait_until(lambda: received, 10, what="the Slack post")
            assert received[0]["text"].startswith("🔴 P2 INCIDENT: Clay Integration")
            assert received[0]["text"].endswith("Queue on.")
            await wait_until(lambda: events_of(app.journal, "comms_posted"), 5)  # type: ignore[arg-type]
            posted = events_of(app.journal, "comms_posted")[-1]  # type: ignore[arg-type]
            assert posted.details["destination"] == "Slack"
            assert "Posted to Slack" in static_text(screen.query_one("#comms-status", Static))

            await pilot.click("#copy-external")
            await pilot.pause()
            assert events_of(app.journal, "comms_copied")[-1].details["channel"] == "external"  # type: ignore[arg-type]
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen.id == "dashboard"


async def test_unreachable_slack_is_a_sentence_and_the_app_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/services/T000/B000/secretpath"
    app = offline_app(tmp_path, monkeypatch, webhook=closed)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await wait_until(lambda: isinstance(app.screen, CommsScreen), 5)
        app.screen.timeout = 2  # type: ignore[attr-defined]
        await pilot.click("#post-internal")
        status = app.screen.query_one("#comms-status", Static)
        await wait_until(lambda: "could not be reached" in static_text(status), 10)
        assert "secretpath" not in static_text(status)
        assert not events_of(app.journal, "comms_posted")  # type: ignore[arg-type]
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.id == "dashboard" and app.is_running


async def test_without_a_webhook_posting_is_disabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = offline_app(tmp_path, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await wait_until(lambda: isinstance(app.screen, CommsScreen), 5)
        assert app.screen.query_one("#post-internal", Button).disabled


async def test_a_due_update_is_notified_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(START)
    app = offline_app(tmp_path, monkeypatch, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        dashboard = app.screen

        def due_notes() -> list[Any]:
            return [n for n in app._notifications if "update is due" in n.message]

        dashboard.check_update_due()  # type: ignore[attr-defined]
        assert not due_notes()
        clock.now = START + timedelta(minutes=31)
        await wait_until(due_notes, 5, what="the update-due notification")
        await asyncio.sleep(1.2)
        dashboard.check_update_due()  # type: ignore[attr-defined]
        assert len(due_notes()) == 1
