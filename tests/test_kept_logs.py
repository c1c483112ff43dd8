"""The log lines the cockpit saw outlive the pods: kept next to the journal, masked,
bounded, crash-safe, and in the evidence bundle after a fix replaced every pod."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sandbox_helpers import running_sandbox, wait_until

from tui.record.bundle import export_incident
from tui.record.journal import Journal
from tui.record.kept_logs import KEPT_LOGS, KEPT_LOGS_OLDER, KeptLogs, read_kept_logs
from tui.record.secrets import Redactor
from tui.runbook import discover_runbooks
from tui.sources.hub import Evidence

T0 = datetime(2025, 3, 1, 14, 0, tzinfo=UTC)
SECRET = "sk_live_51HxAbCdEfGhIjKlMnOpQr0001"


def test_kept_lines_are_masked_one_per_line_and_read_back_within_a_window(tmp_path: Path) -> None:
    kept = KeptLogs(tmp_path, Redactor([SECRET]))
    kept.append(
        [
            (T0, "clay-a", "INFO started"),
            (T0 + timedelta(minutes=1), "clay-a", f"ERROR 429 key={SECRET}"),
            (T0 + timedelta(minutes=2), "clay-b", "ERROR two\nlines\rin one"),
        ]
    )
    kept.close()
    text = (tmp_path / KEPT_LOGS).read_text()
    assert SECRET not in text
    assert text.splitlines() == [
        "2025-03-01T14:00:00.000000Z clay-a INFO started",
        "2025-03-01T14:01:00.000000Z clay-a ERROR 429 key=••••0001",
        "2025-03-01T14:02:00.000000Z clay-b ERROR two lines in one",
    ]
    window = list(read_kept_logs(tmp_path, T0 + timedelta(seconds=30), T0 + timedelta(minutes=5)))
    assert [line.split(" ", 2)[1] for line in window] == ["clay-a", "clay-b"]


def test_kept_logs_stay_within_their_bound_and_keep_the_newest(tmp_path: Path) -> None:
    kept = KeptLogs(tmp_path, max_bytes=20_000)
    for n in range(2_000):
        kept.append([(T0 + timedelta(seconds=n), "clay-a", f"INFO line {n:05d} " + "x" * 40)])
    kept.close()
    sizes = sum((tmp_path / name).stat().st_size for name in (KEPT_LOGS, KEPT_LOGS_OLDER))
    assert sizes <= 20_000
    lines = list(read_kept_logs(tmp_path))
    assert lines[-1].split(" ")[4] == "01999"
    stamps = [line.split(" ")[0] for line in lines]
    assert stamps == sorted(stamps)  # the older file first


def test_a_line_cut_off_by_a_crash_is_left_out_and_the_rest_survives(tmp_path: Path) -> None:
    # a real process writes and dies without closing anything
    script = (
        "import os, sys; from datetime import datetime, UTC\n"
        "from tui.record.kept_logs import KeptLogs\n"
        "k = KeptLogs(sys.argv[1])\n"
        "k.append([(datetime(2025, 3, 1, 14, 0, tzinfo=UTC), 'clay-a', 'ERROR before the crash')])\n"
        "open(sys.argv[1] + '/logs.txt', 'a').write('2025-03-01T14:00:01.000000Z clay-a half')\n"
        "os._exit(9)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=False)
    assert done.returncode == 9
    assert list(read_kept_logs(tmp_path)) == [
        "2025-03-01T14:00:00.000000Z clay-a ERROR before the crash"
    ]


def test_the_disk_sync_runs_off_the_caller_s_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cockpit appends on its event loop: a slow fsync (a network disk) must not
    stall the screen, so it runs in a thread of its own."""
    synced_on: list[str] = []
    real = os.fsync

    def recording(fd: int) -> None:
        synced_on.append(threading.current_thread().name)
        real(fd)

    monkeypatch.setattr(os, "fsync", recording)
    kept = KeptLogs(tmp_path, sync_interval=0)
    kept.append([(None, "clay-x", "one line")])
    kept.close()  # waits for the pending sync, then syncs what is left
    assert synced_on, "the lines reached the disk"
    assert synced_on[0] != threading.current_thread().name
    assert (tmp_path / "logs.txt").read_text().endswith("one line\n")


def test_a_folder_that_cannot_be_written_costs_the_batch_not_the_caller(tmp_path: Path) -> None:
    kept = KeptLogs(tmp_path / "gone")
    assert kept.append([(T0, "clay-a", "INFO x")]) == 0
    assert kept.error is not None and "could not be kept" in kept.error
    (tmp_path / "gone").mkdir()
    assert kept.append([(T0, "clay-a", "INFO x")]) == 1 and kept.error is None


def _journal(tmp_path: Path) -> Journal:
    from test_export import clay_rate_limited

    journal = Journal.create("kept", root=tmp_path / "state")
    clay_rate_limited(recorder=journal)
    return journal


class Cluster:
    """What the cluster still has at export time: the new pods' lines, and one line the
    cockpit kept too (with nanoseconds, as the kubelet writes it)."""

    async def logs(self, start: datetime, end: datetime) -> list[str]:
        return [
            "2025-03-01T14:05:00.000000123Z clay-old-1 ERROR 429 Too Many Requests",
            "2025-03-01T14:40:00.5Z clay-new-1 INFO queue drained",
        ]

    async def metrics(self, start: datetime, end: datetime, step: float) -> dict[str, object]:
        return {}


def test_the_bundle_has_the_kept_lines_of_pods_that_are_gone_each_line_once(
    tmp_path: Path,
) -> None:
    journal = _journal(tmp_path)
    kept = KeptLogs(journal.directory, journal.redactor)
    kept.append(
        [
            (T0 + timedelta(minutes=5), "clay-old-1", "ERROR 429 Too Many Requests"),
            (T0 + timedelta(minutes=6), "clay-old-2", f"ERROR 429 key={SECRET}"),
        ]
    )
    kept.close()
    result = export_incident(
        journal,
        tmp_path / "out",
        evidence=Cluster(),
        runbook=discover_runbooks([]).get("clay"),
        secrets=[SECRET],
        now=datetime(2025, 3, 1, 15, 0, tzinfo=UTC),
    )
    lines = (result.folder / "incident-logs.txt").read_text().splitlines()
    assert lines == [
        "2025-03-01T14:05:00.000000Z clay-old-1 ERROR 429 Too Many Requests",
        "2025-03-01T14:06:00.000000Z clay-old-2 ERROR 429 key=••••0001",
        "2025-03-01T14:40:00.5Z clay-new-1 INFO queue drained",
    ]
    assert result.manifest["log_lines"] == 3 and result.manifest["log_lines_kept"] == 2


async def test_the_cockpit_keeps_what_its_pane_shows_next_to_the_journal(
    tmp_path: Path, monkeypatch: object
) -> None:
    from app_helpers import cockpit

    async with running_sandbox("clay-rate-limited", speed=30) as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(120, 40)):
            assert app.journal is not None
            folder = app.journal.directory

            def kept_429s() -> list[str]:
                return [
                    line
                    for line in read_kept_logs(folder)
                    if "429 Too Many Requests" in line and "clay-" in line
                ]

            await wait_until(kept_429s, 60, 0.2, "429 lines kept next to the journal")
    assert oct(os.stat(folder / KEPT_LOGS).st_mode & 0o777) == "0o600"


async def test_the_previous_container_of_a_restarted_pod_gives_its_crash_to_the_bundle(
    tmp_path: Path,
) -> None:
    from app_helpers import fast_settings

    async with running_sandbox("clay-infra", speed=30) as sb:
        runbook = discover_runbooks([]).get("clay")
        settings = fast_settings(sb, tmp_path)

        await sb.wait_for_restart(runbook.service.selector)
        start = datetime.now(UTC) - timedelta(hours=1)
        lines = await Evidence(settings, runbook).logs(start, datetime.now(UTC) + timedelta(1))
        assert any("KeyError: 'UPSTREAM_POOL_SIZE'" in line for line in lines), lines[-20:]
