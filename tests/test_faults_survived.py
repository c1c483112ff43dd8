"""Faults the cockpit survives: a journal that cannot be written, a disk that fills, a
damaged journal line. Each test plays the fault and checks what the responder sees and
what the record keeps."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from app_helpers import (
    close,
    cockpit,
    events_of,
    fast_settings,
    open_confirm,
    pane_text,
    press,
    preview,
    screen_lines,
    screen_text,
    static_text,
)
from sandbox_helpers import CI, incident_tui_command, need_binary, running_sandbox, wait_until
from test_comms import offline_app
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Button, Static

from tui.act.runner import RemediationRunner
from tui.app import IncidentApp, Launch
from tui.errors import SourceAuthExpired, SourceServerError, SourceUnreachable
from tui.record.event import Event
from tui.record.incident import Incident
from tui.record.journal import Journal
from tui.record.store import open_incident
from tui.runbook import discover_runbooks
from tui.screens.dialog import while_shown
from tui.screens.remediate import ConfirmScreen, RemediationScreen
from tui.settings import load_settings
from tui.signals import SourceFault
from tui.sources.base import FaultTracker
from tui.sources.kube.connection import KubeConnection
from widgets.log_view import LogView


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """``chattr +i``: not even root may write the file while the block runs."""
    chattr = need_binary("chattr")
    subprocess.run([chattr, "+i", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def _kinds(journal: Journal) -> list[str]:
    return [e.kind for e in Journal(journal.directory).load().events]


async def test_an_unwritable_journal_never_freezes_a_pane_and_nothing_is_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-healthy") as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(120, 40)):
            journal = app.journal
            assert journal is not None
            await wait_until(lambda: "Operational" in screen_text(app), 20, 0.1, "the status page")
            before = _kinds(journal)
            with immutable(journal.path):
                await sb.set_fault("status_page", "5xx")
                # the pane says so as fast as a cockpit whose journal is fine would
                await wait_until(lambda: pane_text(app, "status_page"), 10, 0.1, "the fault")
                banner = app.screen.query_one("#journal-banner", Static)
                said = await wait_until(
                    lambda: banner.has_class("-shown") and static_text(banner), 10, 0.1
                )
                assert "The journal cannot be written since" in said
                assert "held in memory" in said
                assert _kinds(journal) == before  # nothing reached the file meanwhile
                held = [e.kind for e in journal.held]
                assert "source_fault" in held
                await sb.clear_faults("status_page")
                await wait_until(
                    lambda: not pane_text(app, "status_page"), 10, 0.1, "the pane to recover"
                )
            # writable again: what was held is written, in order, and the banner goes
            await wait_until(lambda: not banner.has_class("-shown"), 10, 0.1, "the flush")
            after = _kinds(journal)
            assert after[: len(before)] == before
            written = after[len(before) :]
            assert written[: len(held)] == held
            assert "source_recovered" in written
            assert not journal.held
            events = Journal(journal.directory).load()
            assert not events.warnings


# --------------------------------------------------------------------------- damaged journal


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*incident_tui_command(), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


def _declared_with_a_note(title: str = "Clay enrichment failing") -> tuple[str, Path]:
    declared = _cli("declare", "--runbook", "clay", "--severity", "P2", "--title", title)
    assert declared.returncode == 0, declared.stderr
    incident_id = declared.stdout.strip().splitlines()[-1]
    assert _cli("note", incident_id, "429s since 14:02").returncode == 0
    assert _cli("severity", incident_id, "P1").returncode == 0
    path = Path(os.environ["INCIDENT_TUI_STATE_DIR"]) / "incidents" / incident_id
    return incident_id, path / "timeline.jsonl"


@pytest.fixture
def state(isolated_state: Path) -> Path:
    return isolated_state


def test_a_lost_opening_brace_on_line_1_is_read_back_and_said(state: Path) -> None:
    incident_id, journal = _declared_with_a_note()
    data = journal.read_bytes()
    journal.write_bytes(b"X" + data[1:])
    listed = _cli("incidents")
    assert incident_id in listed.stdout and "Clay enrichment failing" in listed.stdout
    note = _cli("note", incident_id, "still failing")
    assert note.returncode == 0, note.stderr
    assert "line 1 is damaged; its declared event was read from what is left" in note.stderr
    exported = _cli("export", incident_id, "--out", str(state / "out"))
    assert exported.returncode == 0, exported.stderr
    postmortem = (state / "out" / incident_id / "postmortem.md").read_text(encoding="utf-8")
    assert "Clay enrichment failing" in postmortem and "still failing" in postmortem


def test_an_unreadable_declaration_is_rebuilt_from_the_saved_runbook(state: Path) -> None:
    incident_id, journal = _declared_with_a_note()
    lines = journal.read_bytes().split(b"\n")
    lines[0] = b"\x00" * len(lines[0])
    journal.write_bytes(b"\n".join(lines))
    listed = _cli("incidents")
    row = next(line for line in listed.stdout.splitlines() if line.startswith(incident_id))
    assert " clay " in row and " P1 " in row and "investigating" in row
    for args in (
        ("note", incident_id, "after the damage"),
        ("severity", incident_id, "P3"),
        ("status", incident_id, "mitigated"),
    ):
        run = _cli(*args)
        assert run.returncode == 0, run.stderr
        assert "it was rebuilt from runbook.json (runbook clay, severity P2; title lost)" in (
            run.stderr
        ), run.stderr
        assert "line 1 is not valid JSON; it was skipped" in run.stderr
    exported = _cli("export", incident_id, "--out", str(state / "out"))
    assert exported.returncode == 0, exported.stderr
    postmortem = (state / "out" / incident_id / "postmortem.md").read_text(encoding="utf-8")
    assert "429s since 14:02" in postmortem and "after the damage" in postmortem
    assert "it was rebuilt from runbook.json" in exported.stderr


async def test_the_cockpit_says_which_journal_line_it_skipped(state: Path) -> None:
    incident_id, journal = _declared_with_a_note()
    lines = journal.read_bytes().split(b"\n")
    lines[1] = b"not an event"
    journal.write_bytes(b"\n".join(lines))
    catalog = discover_runbooks()
    settings = load_settings(None)
    incident, opened = open_incident(incident_id, catalog=catalog, actor=settings.responder)
    app = IncidentApp(
        Launch(settings=settings, catalog=catalog, incident=incident, journal=opened, live=False)
    )
    async with app.run_test(size=(120, 40)):
        said = await wait_until(
            lambda: [n.message for n in app._notifications if "line 2" in n.message], 10, 0.05
        )
        assert said == [f"{journal}:2: line 2 is not valid JSON; it was skipped"]


# --------------------------------------------------------------------------- a full disk


@contextlib.contextmanager
def small_disk(where: Path, size_kib: int = 512) -> Iterator[Path]:
    """A tmpfs of ``size_kib`` mounted at ``where`` (root only)."""
    mount = need_binary("mount")
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        if CI:
            pytest.fail(f"mounting a tmpfs is required (CI=true): {done.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run([need_binary("umount"), "-l", str(where)], check=False)


def _fill(disk: Path) -> Path:
    """Take every free byte of the disk."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * chunk)
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_gives_one_sentence_and_leaves_no_half_incident(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with small_disk(tmp_path / "disk") as disk:
        monkeypatch.setenv("INCIDENT_TUI_STATE_DIR", str(disk / "state"))
        incident_id, journal = _declared_with_a_note()
        filler = _fill(disk)

        failed = _cli("declare", "--runbook", "clay", "--severity", "P2", "--title", "second")
        assert failed.returncode == 2
        assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr
        assert "the disk is full" in failed.stderr or "No space left" in failed.stderr
        listed = _cli("incidents")
        assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == [incident_id]
        assert "? " not in listed.stdout

        size = journal.stat().st_size
        # more than a page: a tmpfs gives a file its space a page at a time
        note = _cli("note", incident_id, "words " * 1500)
        assert note.returncode == 2
        assert note.stderr.strip() == f"incident-tui: cannot write to {journal}: the disk is full"
        assert journal.stat().st_size == size  # no half line left behind

        # the export goes elsewhere; only recording it fails, and that is said, not fatal
        out = tmp_path / "out"
        with immutable(journal):
            exported = _cli("export", incident_id, "--out", str(out))
        assert exported.returncode == 0, exported.stderr
        assert f"postmortem: {out / incident_id / 'postmortem.md'}" in exported.stdout
        assert "warning: the export is complete, but cannot open" in exported.stderr

        filler.unlink()
        later = _cli("note", incident_id, "space again")
        assert later.returncode == 0, later.stderr
        assert later.stderr == ""  # no cut-off line to warn about for ever


# --------------------------------------------------------------------------- two responders


class _Shown(Screen[None]):
    def compose(self) -> ComposeResult:
        yield Static("", id="shown")

    shown: tuple[str, ...] = ()

    @while_shown
    def show(self, text: str) -> None:
        self.query_one("#shown", Static).update(text)
        self.shown = (*self.shown, text)


async def test_updates_sent_to_a_mounting_screen_are_shown_in_the_order_they_were_sent() -> None:
    """The refused-apply screen once stayed on "Applying…": that update came while the
    screen was mounting and was shown after the "Refused" that came next."""
    app: App[None] = App()
    async with app.run_test() as pilot:
        screen = _Shown()
        app.push_screen(screen)
        screen.show("Applying…")  # not mounted yet: waits
        await wait_until(lambda: screen.is_mounted, 10, 0.0, "the screen mounted")
        screen.show("Refused: 409.")  # mounted, while the first still waits in the queue
        await wait_until(lambda: len(screen.shown) == 2, 10, 0.01, "both updates")
        await pilot.pause()
        assert screen.shown == ("Applying…", "Refused: 409.")
        assert static_text(screen.query_one("#shown", Static)) == "Refused: 409."


async def test_a_second_responder_applying_against_a_stale_dry_run_is_refused_with_409(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-vendor-outage") as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        assert app.journal is not None and app.incident is not None
        # the other responder: the same incident from its own journal reader, acting
        # through the same engine a second cockpit runs
        settings = fast_settings(sb, tmp_path)
        other_journal = Journal(app.journal.directory)
        other = Incident.from_events(
            app.incident.runbook,
            other_journal.load().events,
            recorder=other_journal,
            actor="bob",
        )
        conn = await KubeConnection.open(settings.kubernetes, other.runbook)
        runner = RemediationRunner(conn, other.runbook, verify_timeout=60, poll_interval=0.2)
        remediation = other.runbook.remediation("enable-fallback")
        async with app.run_test(size=(120, 40)):
            theirs = runner.plan(remediation, {})
            other.record_remediation("enable-fallback", "planned")
            await runner.dry_run(theirs)
            other.record_remediation("enable-fallback", "dry_run", result="1 change")

            confirm = await open_confirm(app, "enable-fallback")
            await preview(confirm)
            assert confirm.preview is not None and confirm.preview.dry_run is not None
            said = " ".join(confirm.preview.dry_run.warnings)
            assert "In progress elsewhere: Enable graceful degradation (fallback)" in said
            assert "by bob" in said

            # bob applies first; then alice, on the preview bob's change made stale
            await runner.apply(theirs)
            other.record_remediation("enable-fallback", "applied", result="CLAY_FALLBACK=true")
            before = sum(sb.sandbox.writes().values())
            press(app, "y", "y")
            refused = await wait_until(
                lambda: events_of(app.journal, "remediation_refused"), 30, 0.1, "the refusal"
            )
            assert sum(sb.sandbox.writes().values()) == before  # nothing written
            summary = refused[-1].summary
            assert "changed since the dry run (app.env.CLAY_FALLBACK)" in summary
            assert "true" not in summary.split("Recorded meanwhile")[0]
            assert "Recorded meanwhile: Remediation applied: Enable graceful degradation" in summary
            assert "(bob, " in summary
            screen = await wait_until(
                lambda: app.screen if isinstance(app.screen, RemediationScreen) else None, 10
            )
            stage = screen.query_one("#run-stage", Static)
            await wait_until(lambda: "Refused" in static_text(stage), 10, 0.05, "Refused")
            # New dry run: a fresh confirmation, which now says nothing would change
            screen.query_one("#retry", Button).press()
            fresh = await wait_until(
                lambda: (
                    app.screen
                    if isinstance(app.screen, ConfirmScreen) and app.screen.preview
                    else None
                ),
                30,
                0.05,
                "the new dry run",
            )
            assert fresh.preview.dry_run is not None and not fresh.preview.dry_run.changes
        await conn.close()


async def test_an_apply_carries_the_version_it_checked_and_a_status_change_is_no_conflict(
    tmp_path: Path,
) -> None:
    async with running_sandbox("clay-vendor-outage") as sb:
        settings = fast_settings(sb, tmp_path)
        runbook = discover_runbooks().get("clay")
        conn = await KubeConnection.open(settings.kubernetes, runbook)
        runner = RemediationRunner(conn, runbook, verify_timeout=60, poll_interval=0.2)
        try:
            plan = runner.plan(runbook.remediation("enable-fallback"), {})
            await runner.dry_run(plan)
            seen = plan.seen["deployment"]["metadata"]["resourceVersion"]
            # the controllers write status back (a pod goes): not a change of intent
            pods = await sb.kubectl("get", "pods", "-o", "name")
            await sb.kubectl("delete", pods.stdout.split()[0], "--wait=false")

            async def status_written() -> bool:
                deployment = await runner.read_deployment()
                return bool(deployment["metadata"]["resourceVersion"] != seen)

            await wait_until(status_written, 10, 0.05, "the controller to write status")
            result = await runner.apply(plan)
            assert result.ok
            now = (await runner.read_deployment())["metadata"]["resourceVersion"]
            assert now != seen

            # a patch sent with a version that is no longer current is a 409, for kubectl too
            stale = await sb.kubectl(
                "patch",
                "deployment/clay-integration",
                "--type",
                "merge",
                "-p",
                f'{{"metadata":{{"resourceVersion":"{seen}"}},"spec":{{"replicas":4}}}}',
                check=False,
            )
            assert stale.returncode != 0
            assert "the object has been modified" in stale.stderr, stale.stderr
        finally:
            await conn.close()


# --------------------------------------------------------------------------- a hung API server


async def test_a_stopped_api_server_is_a_fault_within_10s_and_the_panes_recover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-healthy", subprocess_mode=True, speed=5) as sb:
        assert sb.process is not None
        app = cockpit(sb, tmp_path, monkeypatch, kubernetes={"poll_interval": 5})
        async with app.run_test(size=(120, 40)):
            screen: Any = await wait_until(
                lambda: app.screen if getattr(app.screen, "pods", None) else None, 60
            )
            await wait_until(lambda: len([p for p in screen.pods if p.ready]) == 4, 60)
            old = {p.name for p in screen.pods}
            view = screen.query_one("#logs", LogView)
            await wait_until(lambda: view.total > 0, 60, 0.1, "the first log lines")

            os.kill(sb.process.pid, signal.SIGSTOP)
            try:
                stopped = time.monotonic()
                await wait_until(lambda: pane_text(app, "kubernetes"), 10, 0.1, "pods fault")
                await wait_until(
                    lambda: "no new lines can arrive" in pane_text(app, "logs"), 10, 0.1
                )
                assert time.monotonic() - stopped <= 10.5
            finally:
                os.kill(sb.process.pid, signal.SIGCONT)
            answering = time.monotonic()
            await wait_until(lambda: not pane_text(app, "kubernetes"), 10, 0.1, "recovery")
            await wait_until(
                lambda: "no new lines" not in pane_text(app, "logs"), 10, 0.1, "logs recover"
            )
            assert time.monotonic() - answering <= 10.5
            faults = events_of(app.journal, "source_fault", "kubernetes")
            assert faults and faults[-1].details.get("fault") == "timeout"

            # what the responder did next in the report: restart; the panes follow it
            await sb.kubectl("rollout", "restart", "deployment/clay-integration")

            def replaced() -> bool:
                names = {p.name for p in screen.pods}
                return bool(names) and not names & old and len(names) == 4

            await wait_until(replaced, 60, 0.2, "the new pods in the pane")
            new = {p.name for p in screen.pods}
            await wait_until(
                lambda: any(line.pod in new for line in view.shown_lines()[-200:]),
                60,
                0.2,
                "a new pod's lines in the log pane",
            )

            # and a cockpit that lived through the stop still notices the API going away
            os.kill(sb.process.pid, signal.SIGKILL)
            await wait_until(lambda: pane_text(app, "kubernetes"), 10, 0.1, "kill -9 noticed")


# --------------------------------------------------------------------------- outage length


def test_an_outage_that_changes_kind_is_one_outage_from_its_first_fault() -> None:
    start = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    now = [start]
    incident = Incident.declare(
        discover_runbooks().get("clay"),
        incident_id="clay-x",
        title="t",
        severity="P2",
        clock=lambda: now[0],
    )
    tracker = FaultTracker("status_page", incident.runbook, clock=lambda: now[0])
    for seconds, error in [
        (0, SourceServerError("status_page", "503")),
        (20, SourceAuthExpired("status_page", "401")),
        (35, SourceUnreachable("status_page", "refused")),
    ]:
        now[0] = start + timedelta(seconds=seconds)
        fault = tracker.failed(error).fault
        assert fault is not None and fault.since == start
        incident.observe_source("status_page", fault.kind, message=fault.message)
    now[0] = start + timedelta(seconds=51)
    recovered = incident.observe_source("status_page", None)
    assert recovered is not None
    assert recovered.summary == "Vendor status page answers again after 51 s"
    assert [e.kind for e in incident.events].count("source_fault") == 3


# --------------------------------------------------------------------------- the log pane's fault


async def test_the_log_panes_fault_has_its_own_rows_and_says_since_when(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = offline_app(tmp_path, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        screen: Any = app.screen
        view = screen.query_one("#logs", LogView)
        # a full buffer's note on the status row used to push a fault out of sight
        view.evicted = 123_456
        since = datetime(2026, 3, 2, 14, 7, 9, tzinfo=UTC)
        screen._set_logs_fault(
            SourceFault(
                "logs",
                "timeout",
                "logs of clay-integration-7d9f8c6b5-x2k4q: no answer from "
                "https://127.0.0.1:6443 within 1 s",
                since=since,
                hint="kubectl fails: Timeout → Check the cluster's API server",
            )
        )
        await pilot.pause()
        shown = screen_text(app)
        assert "older lines out of the buffer" in shown
        assert "no answer from" in shown and "within 1 s" in shown
        assert "since 14:07:09 UTC" in shown
        assert "Check the cluster's API server" in shown
        screen._set_logs_fault(None)
        await pilot.pause()
        assert "since 14:07:09" not in screen_text(app)


@pytest.mark.parametrize("fault", ["5xx", "401"])
async def test_a_log_stream_that_breaks_mid_way_is_a_fault_and_heals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    async with running_sandbox("clay-healthy", speed=10) as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(120, 40)):
            screen: Any = await wait_until(
                lambda: app.screen if getattr(app.screen, "pods", None) else None, 30
            )
            view = screen.query_one("#logs", LogView)
            await wait_until(lambda: view.total > 0, 30, 0.1, "lines on open streams")
            # no pod restarts: only the streams already open can carry the fault
            await sb.set_fault("logs", fault)
            said = await wait_until(lambda: pane_text(app, "logs"), 10, 0.1, "the fault")
            assert {"5xx": "503", "401": "401"}[fault] in said
            await sb.clear_faults("logs")
            await wait_until(lambda: not pane_text(app, "logs"), 10, 0.1, "the streams back")
            count = view.total
            await wait_until(lambda: view.total > count, 30, 0.1, "new lines after healing")


async def test_both_vendor_pane_faults_are_in_view_at_120x40(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = offline_app(tmp_path, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        screen: Any = app.screen
        since = datetime(2026, 3, 2, 14, 7, 9, tzinfo=UTC)
        long = "https://status.clay.com/api/v2/summary.json answered 503 Service Unavailable"
        screen.present(
            vendor_fault=SourceFault(
                "status_page", "server_error", long, since=since, hint="Retry; check the vendor"
            ),
            health_fault=SourceFault(
                "health", "unreachable", "cannot connect to http://api:8080/health", since=since
            ),
        )
        await pilot.pause()
        pane = screen.query_one("#pane-vendor")
        rows = screen_lines(app)[pane.region.y : pane.region.bottom]
        shown = "\n".join(row[pane.region.x : pane.region.right] for row in rows)
        assert "⚠ Status page: server" in shown, shown
        assert "⚠ Health" in shown, shown


def test_a_line_from_a_newer_version_stays_skipped_not_salvaged(tmp_path: Path) -> None:
    journal = Journal.create("clay-newer", root=tmp_path)
    journal.save_runbook(discover_runbooks().get("clay"))
    Incident.declare(
        discover_runbooks().get("clay"),
        incident_id="clay-newer",
        title="t",
        severity="P2",
        recorder=journal,
    )
    newer = json.loads(journal.path.read_text(encoding="utf-8").splitlines()[0])
    newer.update(schema_version=99, id="01NEWER0000000000000000000", kind="note")
    with open(journal.path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(newer) + "\n")
    loaded = Journal(journal.directory).load()
    assert [e.kind for e in loaded.events] == ["declared"]
    assert [w.message for w in loaded.warnings] == [
        "line 2 was written by a newer incident-tui (schema 99); it was skipped"
    ]


def test_a_reader_never_takes_lines_a_writer_may_still_cut_back(tmp_path: Path) -> None:
    journal = Journal.create("clay-reader", root=tmp_path)
    reader = Journal(journal.directory)
    with journal.locked():
        # as a write that fails part-way does: lines on disk, the lock still held
        with open(journal.path, "ab") as handle:
            handle.write(b'{"half": "written"}\n')
        assert reader.read_new() == []
        os.truncate(journal.path, 0)
    journal.record(Event.new("note", "after", actor="alice", source="cli"))
    assert [e.summary for e in reader.read_new()] == ["after"]
    assert reader.warnings == []


async def test_each_cockpit_records_its_own_run_when_two_plan_the_same_remediation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-vendor-outage") as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        assert app.journal is not None and app.incident is not None
        bob_journal = Journal(app.journal.directory)
        async with app.run_test(size=(120, 40)):
            confirm = await open_confirm(app, "enable-fallback")
            await preview(confirm)
            alice_run = events_of(app.journal, "remediation_planned")[-1].details["run"]

            # bob reads the journal, then plans the same remediation: a run of his own
            bob = Incident.from_events(
                app.incident.runbook, bob_journal.load().events, recorder=bob_journal, actor="bob"
            )
            bob.record_remediation("enable-fallback", "planned")
            bob_run = events_of(app.journal, "remediation_planned")[-1].details["run"]
            assert bob_run != alice_run
            # alice's cockpit has seen bob's run before she closes her confirmation
            await wait_until(
                lambda: any(r.run == bob_run for r in app.incident.remediations), 10, 0.05
            )
            await close(app, confirm)
            cancelled = await wait_until(
                lambda: events_of(app.journal, "remediation_cancelled"), 10, 0.05
            )
            assert [e.details["run"] for e in cancelled] == [alice_run]
            state = Incident.from_events(app.incident.runbook, bob_journal.load().events)
            runs = {r.run: r.stage for r in state.remediations}
            assert runs == {alice_run: "cancelled", bob_run: "planned"}


def test_quitting_with_events_the_journal_never_took_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tui.cli.cockpit import _say_held

    journal = Journal.create("clay-held", root=tmp_path)
    with immutable(journal.path):
        journal.record_or_hold(Event.new("note", "held", actor="alice", source="cockpit"))
        assert len(journal.held) == 1
        with pytest.raises(SystemExit) as stopped:
            _say_held(journal)
    assert stopped.value.code == 2
    said = capsys.readouterr().err
    assert "1 event of incident clay-held could not be written to" in said
    # writable again: the last try writes it, and nothing is said
    _say_held(journal)
    assert [e.summary for e in Journal(journal.directory).load().events] == ["held"]
