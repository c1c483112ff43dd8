"""The recording commands, run from the shell as a responder would: declare, note,
severity, status, resolve, export, replay and incidents."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tui.record.journal import Journal, find_journal
from tui.record.store import open_incident

BIN = Path(sys.executable).parent / "incident-tui"
TIMELINE_LINE = re.compile(r"^- \d\d:\d\d:\d\d - .+")


@pytest.fixture
def shell(tmp_path, monkeypatch):
    """Runs ``incident-tui ARGS`` with its own state dir, as the user ``alice``."""
    env = {
        **os.environ,
        "INCIDENT_TUI_STATE_DIR": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "LOGNAME": "alice",
        "USER": "alice",
        "COLUMNS": "200",
    }
    monkeypatch.setenv("INCIDENT_TUI_STATE_DIR", str(tmp_path / "state"))

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(BIN), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    return run


def declare(shell, *extra: str) -> str:
    result = shell(
        "declare",
        "--runbook",
        "clay",
        "--severity",
        "P2",
        "--title",
        "Clay 429s on enrichment",
        *extra,
    )
    return result.stdout.strip().split("\n")[-1]


def test_declare_note_resolve_export_from_the_shell(shell, tmp_path):
    result = shell(
        "declare",
        "--runbook",
        "clay",
        "--severity",
        "p2",
        "--title",
        "Clay 429s on enrichment",
        "--impact",
        "Enrichment delayed",
        "--commander",
        "bob",
    )
    incident_id = result.stdout.strip().split("\n")[-1]
    assert re.fullmatch(r"clay-\d{8}-\d{4}-[0-9a-f]{4}", incident_id)
    assert "Response due by" in result.stdout

    shell("note", incident_id, "Rate limit headers show X-RateLimit-Remaining: 0")
    shell("note", incident_id, "Queueing", "rolled", "out", "--pin")
    shell("resolve", incident_id, "--summary", "Queueing stopped the 429s.")
    exported = shell("export", incident_id, "--out", str(tmp_path / "out"))

    folder = tmp_path / "out" / incident_id
    assert f"postmortem: {folder / 'postmortem.md'}" in exported.stdout
    assert str(tmp_path / "out" / f"{incident_id}.tar.gz") in exported.stdout
    assert "logs not collected" in exported.stderr

    postmortem = (folder / "postmortem.md").read_text()
    timeline = [line for line in postmortem.split("\n") if TIMELINE_LINE.match(line)]
    assert any(
        line.endswith("- Rate limit headers show X-RateLimit-Remaining: 0 — alice")
        for line in timeline
    ), timeline
    assert any("Queueing rolled out — alice _(pinned)_" in line for line in timeline)
    assert "Queueing stopped the 429s." in postmortem

    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["incident_id"] == incident_id
    for name, facts in manifest["files"].items():
        data = (folder / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == facts["sha256"]
        assert len(data) == facts["size"]

    # the export itself is on the record
    kinds = [e.kind for e in find_journal(incident_id).load().events]
    assert kinds == ["declared", "note", "note", "resolved", "export"]


def test_declare_keeps_a_copy_of_the_runbook(shell):
    incident_id = declare(shell)
    journal = find_journal(incident_id)
    assert (journal.directory / "runbook.json").is_file()
    incident, _ = open_incident(journal)
    assert incident.runbook.id == "clay"


def test_severity_and_status_changes(shell):
    incident_id = declare(shell)
    result = shell("severity", incident_id, "p1", "--reason", "every customer sees it")
    assert "severity P2 -> P1" in result.stdout
    assert shell("severity", incident_id, "P1").stdout.strip().endswith("is already P1.")
    assert "investigating -> mitigated" in shell("status", incident_id, "mitigated").stdout
    shell("status", incident_id, "investigating", "--reason", "429s came back")

    incident, _ = open_incident(find_journal(incident_id))
    assert (incident.severity, incident.status) == ("P1", "investigating")
    assert incident.events[-1].source == "cli"
    assert incident.events[-1].actor == "alice"


ERRORS = [
    (("note", "clay-19990101-0000-beef", "hello"), 'no incident "clay-19990101-0000-beef"'),
    (("severity", "{id}", "P9"), '"P9" is not a severity of runbook clay'),
    (("status", "{id}", "investigating"), "needs a reason"),
    (("status", "{id}", "fixed"), '"fixed" is not a status'),
    (("replay", "nope"), 'no incident "nope"'),
]


def test_errors_are_one_line_and_exit_2(shell):
    incident_id = declare(shell)
    shell("status", incident_id, "mitigated")
    for args, message in ERRORS:
        result = shell(*(a.format(id=incident_id) for a in args), ok=False)
        assert result.returncode == 2, args
        lines = result.stderr.strip().split("\n")
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("incident-tui: ")
        assert message in lines[0]
        assert "Traceback" not in result.stderr


def test_declaring_with_an_unknown_runbook_or_severity_creates_nothing(shell, tmp_path):
    result = shell("declare", "--runbook", "nope", "--severity", "P2", "--title", "x", ok=False)
    assert result.returncode == 2
    assert 'no runbook with id "nope"' in result.stderr
    result = shell("declare", "--runbook", "clay", "--severity", "P0", "--title", "x", ok=False)
    assert result.returncode == 2
    assert not (tmp_path / "state" / "incidents").exists() or not any(
        (tmp_path / "state" / "incidents").iterdir()
    )


def test_a_resolved_incident_changes_only_when_reopened(shell):
    incident_id = declare(shell)
    shell("resolve", incident_id, "--summary", "done")
    result = shell("status", incident_id, "monitoring", ok=False)
    assert result.returncode == 2
    assert "reopen" in result.stderr


def test_replay_prints_each_event_with_the_time_since_declaration(shell):
    incident_id = declare(shell)
    shell("note", incident_id, "Rate limit headers show remaining 0")
    shell("status", incident_id, "identified")
    lines = shell("replay", incident_id).stdout.rstrip("\n").split("\n")
    assert len(lines) == 3
    assert re.match(r"^\+00:00:00  declared\s+alice  Incident declared: Clay 429s", lines[0])
    assert re.match(
        r"^\+\d\d:\d\d:\d\d  note\s+alice  Rate limit headers show remaining 0$", lines[1]
    )
    assert re.match(r"^\+\d\d:\d\d:\d\d  status_changed\s+alice  Status changed", lines[2])


def test_incidents_lists_newest_first_and_filters_open_ones(shell):
    first = declare(shell)
    second = (
        shell("declare", "--runbook", "clerk", "--severity", "P1", "--title", "Sign-ins failing")
        .stdout.strip()
        .split("\n")[-1]
    )
    shell("resolve", first, "--summary", "done")

    lines = shell("incidents").stdout.rstrip("\n").split("\n")
    assert lines[0].split() == ["ID", "STATUS", "SEVERITY", "RUNBOOK", "TITLE", "AGE"]
    assert lines[1].split()[:4] == [second, "investigating", "P1", "clerk"]
    assert "Sign-ins failing" in lines[1]
    assert lines[2].split()[:4] == [first, "resolved", "P2", "clay"]

    open_lines = shell("incidents", "--open").stdout.rstrip("\n").split("\n")
    assert [line.split()[0] for line in open_lines[1:]] == [second]


def test_export_without_an_id_takes_the_latest_incident(shell, tmp_path):
    declare(shell)
    latest = declare(shell)
    result = shell("export", "--out", str(tmp_path / "out"))
    assert latest in result.stdout
    assert (tmp_path / "out" / latest / "postmortem.md").is_file()


def test_a_note_from_the_shell_reaches_a_running_cockpit(shell):
    incident_id = declare(shell)
    journal = find_journal(incident_id)
    cockpit, _ = open_incident(journal)
    reader = Journal(journal.directory)
    reader.seek_end()

    shell("note", incident_id, "seen from the cockpit")
    shell("severity", incident_id, "P1")

    new = cockpit.apply_new(reader.read_new())
    assert [e.kind for e in new] == ["note", "severity_changed"]
    assert cockpit.notes[-1].text == "seen from the cockpit"
    assert cockpit.severity == "P1"
