"""The postmortem and the evidence bundle: golden postmortems of recorded incidents on the
bundled runbooks, well-formed markdown, hashes that match, and no secret in any file.

Regenerate the golden files after a deliberate change with ``UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import tarfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tui.record.bundle import export_incident, export_incident_async
from tui.record.event import Event
from tui.record.incident import Incident
from tui.record.journal import Journal
from tui.record.postmortem import render_postmortem
from tui.runbook import Runbook, discover_runbooks, load_runbook

GOLDEN = Path(__file__).parent / "golden"
ACME = load_runbook(GOLDEN / "runbooks" / "acme.yaml")
SECRET = "sk_live_sandbox_clay_0001"
TIMELINE_LINE = re.compile(r"^- \d\d:\d\d:\d\d - .+")


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def at(self, hhmmss: str) -> None:
        hours, minutes, seconds = (int(p) for p in hhmmss.split(":"))
        self.now = self.now.replace(hour=hours, minute=minutes, second=seconds)


def bundled(runbook_id: str) -> Runbook:
    return discover_runbooks().get(runbook_id)


# --------------------------------------------------------------------------- a tiny markdown checker


def markdown_problems(text: str) -> list[str]:
    """What makes a postmortem malformed: one H1 first, headings that never skip a level
    and stand between blank lines, timeline items as ``- HH:MM:SS - …`` (to the second), closed code fences,
    well-formed placeholders, no trailing spaces."""
    problems = []
    lines = text.split("\n")
    if not lines[0].startswith("# "):
        problems.append("the first line is not an H1 title")
    if not text.endswith("\n") or text.endswith("\n\n"):
        problems.append("the file does not end with exactly one newline")
    level = 0
    section = ""
    fence = False
    h1 = 0
    for number, line in enumerate(lines, start=1):
        if line.startswith("```"):
            fence = not fence
        if fence:
            continue
        if line != line.rstrip():
            problems.append(f"line {number}: trailing whitespace")
        heading = re.match(r"^(#{1,6}) (\S.*)$", line)
        if line.startswith("#") and not heading:
            problems.append(f"line {number}: malformed heading {line!r}")
        if heading:
            depth = len(heading.group(1))
            h1 += depth == 1
            if depth > level + 1:
                problems.append(f"line {number}: heading jumps from H{level} to H{depth}")
            level = depth
            if depth == 2:
                section = heading.group(2)
            if number > 1 and lines[number - 2] != "":
                problems.append(f"line {number}: no blank line before the heading")
            if number < len(lines) and lines[number] != "":
                problems.append(f"line {number}: no blank line after the heading")
        if section == "Timeline" and line.startswith("- ") and not TIMELINE_LINE.match(line):
            problems.append(f"line {number}: timeline item is not '- HH:MM:SS - event': {line!r}")
        for todo in re.findall(r"\[TODO[^\]]*\]", line):
            if f"_{todo}_" not in line:
                problems.append(f"line {number}: placeholder {todo} is not marked _[TODO: …]_")
    if fence:
        problems.append("a code fence is never closed")
    if h1 != 1:
        problems.append(f"{h1} H1 headings instead of one")
    return problems


def test_the_checker_catches_what_it_should():
    bad = "## No title\n#Bad\n\n## Timeline\n\n- 9:00 x\n```\n"
    problems = markdown_problems(bad)
    assert any("H1 title" in p for p in problems)
    assert any("malformed heading" in p for p in problems)
    assert any("timeline item" in p for p in problems)
    assert any("never closed" in p for p in problems)


# --------------------------------------------------------------------------- recorded incidents


def clay_rate_limited(recorder: object | None = None) -> Incident:
    """A Clay 429 incident, recorded at fixed times."""
    runbook = bundled("clay")
    clock = Clock(datetime(2025, 3, 1, 14, 0, 0, tzinfo=UTC))
    incident = Incident.declare(
        runbook,
        incident_id="clay-20250301-1400-gold",
        title="Clay enrichment rate limited",
        severity="P2",
        impact="Enrichment jobs delayed for every workspace",
        recorder=recorder,  # type: ignore[arg-type]
        clock=clock,
        actor="alice",
    )
    clock.at("14:01:30")
    incident.observe_vendor_status("none", description="All Systems Operational")
    incident.observe_alert("rate_limited", "P2", 37.0, 5.0)
    clock.at("14:02:10")
    incident.answer(
        "api-errors", True, live=True, signal="rate_limited", value=37.0, threshold=5.0, op=">"
    )
    incident.answer(
        "vendor-incident",
        False,
        live=True,
        signal="vendor.indicator",
        value="none",
        threshold=["minor", "major", "critical"],
        op="in",
    )
    clock.at("14:03:00")
    incident.add_responder("bob")
    clock.at("14:04:00")
    incident.note("429s started right after the nightly enrichment batch kicked off")
    incident.check("response/1")
    clock.at("14:05:00")
    incident.set_status("identified")
    clock.at("14:06:00")
    incident.record_remediation("enable-queueing", "planned")
    clock.at("14:06:20")
    incident.record_remediation("enable-queueing", "dry_run", result="accepted by the API server")
    clock.at("14:07:00")
    incident.record_remediation(
        "enable-queueing", "applied", result="deployment/clay-integration updated"
    )
    clock.at("14:09:30")
    incident.record_remediation(
        "enable-queueing",
        "rolled_out",
        result="3/3 pods Ready with RATE_LIMIT_MODE=queue; watching Rate Limited for 2m",
    )
    clock.at("14:11:30")
    incident.record_remediation(
        "enable-queueing", "effective", result="Rate Limited: 0/min <= 5/min for 2m"
    )
    clock.at("14:10:00")
    incident.set_status("mitigated")
    clock.at("14:12:00")
    incident.observe_alert("rate_limited", None, 0.4, 5.0)
    clock.at("14:15:00")
    incident.comms_posted("internal", destination="Slack", title="🔴 P2 INCIDENT: Clay Integration")
    clock.at("14:20:00")
    incident.set_status("monitoring")
    clock.at("14:45:00")
    incident.resolve(
        "Clay rate-limited our enrichment calls (429s up to 37/min); request queueing "
        "(RATE_LIMIT_MODE=queue) brought them to zero."
    )
    return incident


def clerk_auth_outage(recorder: object | None = None) -> Incident:
    """A Clerk auth outage, recorded at fixed times, crossing midnight UTC."""
    runbook = bundled("clerk")
    clock = Clock(datetime(2025, 6, 9, 23, 50, 0, tzinfo=UTC))
    incident = Incident.declare(
        runbook,
        incident_id="clerk-20250609-2350-gold",
        title="Sign-ins failing: Clerk auth outage",
        severity="P1",
        impact="All users unable to sign in",
        commander="carol",
        recorder=recorder,  # type: ignore[arg-type]
        clock=clock,
        actor="dave",
    )
    clock.at("23:50:40")
    incident.observe_vendor_status("major", description="Partial System Outage", incidents=1)
    clock.at("23:51:00")
    incident.observe_alert("server_errors", "P1", 48.0, 10.0)
    clock.at("23:52:00")
    incident.answer(
        "auth-failing", True, live=True, signal="server_errors", value=48.0, threshold=10.0, op=">"
    )
    incident.answer(
        "clerk-incident",
        True,
        live=True,
        signal="vendor.indicator",
        value="major",
        threshold=["minor", "major", "critical"],
        op="in",
    )
    clock.at("23:53:00")
    for key in ("auth-outage-response/1", "auth-outage-response/2", "auth-outage-response/3"):
        incident.check(key)
    clock.at("23:55:00")
    incident.record_remediation("emergency-bypass", "planned")
    clock.at("23:55:30")
    incident.record_remediation("emergency-bypass", "dry_run")
    clock.at("23:56:00")
    incident.record_remediation("emergency-bypass", "applied")
    incident.check("auth-outage-response/4/a")
    clock.at("23:58:00")
    incident.record_remediation(
        "emergency-bypass", "rolled_out", result="sign-ins succeed through the bypass"
    )
    clock.at("23:59:00")
    incident.comms_posted("external", destination="status page", title="Sign-in issues")
    incident.check("auth-outage-response/4/b")
    clock.now += timedelta(days=1)
    clock.at("00:00:30")
    incident.set_status("mitigated")
    clock.at("00:30:00")
    incident.observe_vendor_status("none", description="All Systems Operational")
    clock.at("00:31:00")
    incident.observe_alert("server_errors", None, 0.0, 10.0)
    clock.at("00:40:00")
    incident.note("Clerk marked their incident resolved on status.clerk.com", pin=True)
    clock.at("00:55:00")
    incident.record_remediation(
        "emergency-bypass", "reverted", result="CLERK_EMERGENCY_BYPASS removed; auth enforced again"
    )
    incident.check("auth-outage-response/4/c")
    clock.at("01:00:00")
    incident.resolve(
        "Clerk's outage broke sign-in; the emergency bypass kept users in until Clerk recovered."
    )
    return incident


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1" or not path.exists():
        path.write_text(text, encoding="utf-8")
        if os.environ.get("CI") == "true" and os.environ.get("UPDATE_GOLDEN") != "1":
            pytest.fail(f"{path} was missing; it has been written, check it in")
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} differs from the golden file; if the change is intended, run "
        "UPDATE_GOLDEN=1 pytest tests/test_export.py"
    )


@pytest.mark.parametrize(
    ("story", "golden"),
    [(clay_rate_limited, "clay-rate-limited.md"), (clerk_auth_outage, "clerk-auth-outage.md")],
)
def test_postmortem_matches_the_golden_file(story, golden):
    incident = story()
    text = render_postmortem(incident, now=incident.resolved_at)
    assert markdown_problems(text) == []
    assert_golden(golden, text)


def test_clay_postmortem_follows_its_template():
    text = render_postmortem(clay_rate_limited())
    assert text.startswith("# Incident: Clay 429 Rate Limited\n")
    assert "**Date:** 2025-03-01 · **Duration:** 45 minutes · **Severity:** P2" in text
    headings = re.findall(r"^## (.+)$", text, flags=re.M)
    assert headings[:5] == ["Summary", "Timeline", "Root Cause", "Impact", "Action Items"]
    assert "All times are UTC." in text
    assert "- 14:01:30 - Alert raised: Rate Limited (P2): 37/min > 5/min" in text
    assert (
        "- 14:04:00 - 429s started right after the nightly enrichment batch kicked off — alice"
        in text
    )
    assert "_[TODO: Root Cause — Technical explanation]_" in text
    assert "- Users affected: _[TODO: N]_" in text
    runbook = bundled("clay")
    leaf = runbook.decision_tree.node("integration-issue")
    # the hint names the 429's error class, not the leaf's "check credentials"
    assert leaf.conclusion == "Our integration issue. Check credentials, config."
    assert "- The decision tree concluded: Our integration issue.\n" in text
    assert "- The alerts' error class: **429 - Rate Limited**." in text
    assert "- The fix that worked: **Enable request queuing** (effective 14:11:30)." in text
    assert "- **Rate Limited** (P2): 14:01:30 to 14:12:00 (10 min 30 s); peak 37/min" in text
    assert "- Long-term: Contact Clay for limit increase (429 - Rate Limited) — " in text
    queueing = runbook.remediation("enable-queueing").title
    assert f"Remediations offered: {queueing}." in text
    assert (
        f"- **{queueing}** (set RATE_LIMIT_MODE=queue on production/clay-integration): effective"
        in text
    )


def test_a_cancelled_remediation_is_listed_as_cancelled():
    incident = clay_rate_limited()
    restart = incident.runbook.remediation("restart-pods").title
    incident.record_remediation("restart-pods", "planned")
    incident.record_remediation("restart-pods", "dry_run", result="1 change")
    incident.record_remediation("restart-pods", "cancelled", result="nothing applied")
    text = render_postmortem(incident)
    assert markdown_problems(text) == []
    record = text.split("### Remediations", 1)[1]
    assert f"- **{restart}** (restart production/clay-integration): cancelled" in record
    assert re.search(r"^  - \d\d:\d\d:\d\d cancelled: nothing applied$", record, flags=re.M)
    assert f"Remediation cancelled: {restart}: nothing applied" in text  # on the timeline


def test_times_are_to_the_second_and_a_lone_tilde_is_not_escaped():
    incident = clay_rate_limited()
    incident.note("about ~1,280 429 lines in the pane")
    incident.note("~~struck~~ stays literal")
    text = render_postmortem(incident)
    assert markdown_problems(text) == []
    assert "about ~1,280 429 lines in the pane" in text
    assert "\\~1,280" not in text
    assert "\\~\\~struck\\~\\~ stays literal" in text
    # four steps in one minute read apart
    record = text.split("### Remediations", 1)[1]
    times = re.findall(r"^  - (\d\d:\d\d:\d\d) ", record, flags=re.M)
    assert times and len(set(times)) == len(times), times


def test_the_decision_path_says_whether_a_person_confirmed_or_overrode_the_signals():
    incident = clay_rate_limited()
    evidence = {"signal": "rate_limited", "value": 37.0, "threshold": 5.0, "op": ">"}
    incident.answer("api-errors", True, **evidence)  # the live answer was also yes
    incident.answer("vendor-incident", True)  # the live answer was no
    path = render_postmortem(incident).split("### Decision Path", 1)[1]
    assert re.search(r"\*\*Yes\*\*, confirming the live answer: rate_limited", path)
    assert "**Yes**, overriding the live answer (" in path


def test_clerk_postmortem_lists_its_fields_in_a_summary_section():
    text = render_postmortem(clerk_auth_outage())
    assert text.startswith("# Incident Report: Sign-ins failing: Clerk auth outage\n")
    summary = text.split("## Summary\n\n", 1)[1].split("\n\n", 1)[0]
    assert summary.split("\n") == [
        "- Date: 2025-06-09",
        "- Duration: 1 hour 10 minutes",
        "- Severity: P1",
        "- Impact: All users unable to sign in",
    ]
    # grouped by UTC date across midnight
    assert "**2025-06-09**" in text and "**2025-06-10**" in text
    assert "- [x] 4.a. Enable emergency bypass (if safe)" in text
    assert "- 23:59:00 - External update posted to status page: Sign-in issues — dave" in text


def test_an_open_incident_says_it_is_ongoing_and_leaves_the_summary_to_a_person():
    incident = Incident.declare(
        ACME,
        incident_id="acme-open",
        title="Acme slow",
        severity="P3",
        actor="alice",
        clock=lambda: datetime(2025, 3, 1, 9, 0, tzinfo=UTC),
    )
    text = render_postmortem(incident, now=datetime(2025, 3, 1, 11, 30, tzinfo=UTC))
    assert "**Duration:** ongoing (2 hours 30 minutes so far)" in text
    assert "_[TODO: Summary — 1-2 sentence description]_" in text
    assert "# Incident: Acme _[TODO: Error type]_" in text
    assert markdown_problems(text) == []


def test_markup_in_notes_cannot_break_the_document():
    incident = Incident.declare(ACME, incident_id="acme-md", title="t", severity="P3", actor="a")
    incident.note("# not a heading\n- not an item <script>alert(1)</script> `tick` *star*")
    text = render_postmortem(incident)
    line = next(line for line in text.split("\n") if "not a heading" in line)
    assert TIMELINE_LINE.match(line)
    assert re.search(r"(?<!\\)<script", text) is None  # shown as text, never as HTML
    assert "\\*star\\*" in text
    assert markdown_problems(text) == []


# --------------------------------------------------------------------------- the bundle


class Collector:
    """Log lines and metrics as the live sources would give them."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.windows: list[tuple[datetime, datetime, float]] = []

    async def logs(self, start: datetime, end: datetime) -> AsyncIterator[str]:
        self.windows.append((start, end, 0))
        for line in self.lines:
            yield line

    async def metrics(self, start: datetime, end: datetime, step: float) -> dict:
        self.windows.append((start, end, step))
        return {
            "rate_limited": {
                "resultType": "matrix",
                "result": [
                    {"metric": {}, "values": [[start.timestamp(), "37"], [end.timestamp(), "0"]]}
                ],
            }
        }


def recorded(tmp_path: Path, story=clay_rate_limited) -> Journal:
    journal = Journal.create("recorded", root=tmp_path / "state")
    incident = story(recorder=journal)
    # the remediation engine notes what it did, secret and all; the journal masks it
    incident.record_remediation(
        "rotate-api-key", "applied", details={"new_key": SECRET, "note": f"rotated to {SECRET}"}
    )
    return journal


def test_bundle_has_every_file_with_matching_hashes_and_no_secret(tmp_path):
    journal = recorded(tmp_path)
    collector = Collector(
        [
            "2025-03-01T13:30:00Z INFO enrichment batch started",
            f"2025-03-01T14:01:00Z ERROR clay 429 Too Many Requests key={SECRET}",
            f"2025-03-01T14:01:01Z ERROR Authorization: Bearer {SECRET}",
            "2025-03-01T14:02:00Z ERROR token plain-registered-secret-77 rejected",
        ]
    )

    result = export_incident(
        journal,
        tmp_path / "out",
        evidence=collector,
        runbook=bundled("clay"),
        secrets=["plain-registered-secret-77"],
        now=datetime(2025, 3, 1, 15, 0, tzinfo=UTC),
    )

    folder = result.folder
    assert folder == tmp_path / "out" / "clay-20250301-1400-gold"
    assert result.archive == tmp_path / "out" / "clay-20250301-1400-gold.tar.gz"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(
        ["postmortem.md", "timeline.jsonl", "incident-logs.txt", "metrics.json", "manifest.json"]
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["incident_id"] == "clay-20250301-1400-gold"
    assert manifest["notes"] == []
    assert manifest["log_lines"] == 4
    for name, facts in manifest["files"].items():
        data = (folder / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == facts["sha256"], name
        assert len(data) == facts["size"], name

    # the window runs from an hour before the declaration to the resolution
    start, end, _ = collector.windows[0]
    assert start == datetime(2025, 3, 1, 13, 0, tzinfo=UTC)
    assert end == datetime(2025, 3, 1, 14, 45, tzinfo=UTC)
    assert collector.windows[1][2] >= 15

    with tarfile.open(result.archive) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    assert set(members) == {f"clay-20250301-1400-gold/{n}" for n in names}
    for member, data in members.items():
        assert data == (folder / Path(member).name).read_bytes()

    for name in names:
        text = (folder / name).read_text()
        assert SECRET not in text, name
        assert "plain-registered-secret-77" not in text, name
    assert SECRET not in journal.path.read_text()
    assert "429 Too Many Requests key=••••0001" in (folder / "incident-logs.txt").read_text()
    assert "rate_limited" in json.loads((folder / "metrics.json").read_text())["result"]


def test_a_long_log_window_masks_every_secret_and_leaves_every_other_line_as_it_was(tmp_path):
    journal = recorded(tmp_path)
    plain = [
        f"2025-03-01T14:{n // 60 % 60:02d}:{n % 60:02d}Z INFO batch {n} ok" for n in range(5000)
    ]
    lines = list(plain)
    lines[1234] = f"2025-03-01T14:20:34Z ERROR clay 429 key={SECRET}"
    lines[4999] = f"2025-03-01T14:23:19Z ERROR retry with {SECRET}"
    # a credential word at the end of a line says nothing about the next line
    lines[2000] = "2025-03-01T14:33:20Z WARN auth scheme: basic"
    result = export_incident(
        journal,
        tmp_path / "out",
        evidence=Collector(lines),
        runbook=bundled("clay"),
        now=datetime(2025, 3, 1, 15, 0, tzinfo=UTC),
    )
    written = (result.folder / "incident-logs.txt").read_text().splitlines()
    assert result.manifest["log_lines"] == len(written) == 5000
    assert SECRET not in "\n".join(written)
    assert written[1234] == "2025-03-01T14:20:34Z ERROR clay 429 key=••••0001"
    assert written[4999] == "2025-03-01T14:23:19Z ERROR retry with ••••0001"
    assert written[2000] == lines[2000] and written[2001] == lines[2001]
    unchanged = [n for n in range(5000) if n not in (1234, 4999)]
    assert all(written[n] == lines[n] for n in unchanged)


def test_bundle_completes_without_a_collector_and_says_why(tmp_path):
    journal = recorded(tmp_path)
    result = export_incident(journal, tmp_path / "out", runbook=bundled("clay"))
    notes = result.manifest["notes"]
    assert notes == [
        "logs not collected: no log source was connected to this export",
        "metrics not collected: no metrics source was connected to this export",
    ]
    assert all((result.folder / name).exists() for name in result.manifest["files"])
    # the numbers the cockpit saw are still there with the metrics backend gone
    on_record = json.loads((result.folder / "metrics.json").read_text())["on_record"]
    assert [r["level"] for r in on_record["rate_limited"]][-1] == "ok"
    assert on_record["rate_limited"][0]["value"] > on_record["rate_limited"][0]["threshold"]


class Broken:
    async def logs(self, start: datetime, end: datetime) -> list[str]:
        raise ConnectionRefusedError("connection refused by 127.0.0.1:6443")

    async def metrics(self, start: datetime, end: datetime, step: float) -> dict:
        await asyncio.sleep(30)
        return {}


def test_a_failing_or_silent_collector_still_gives_a_bundle(tmp_path):
    journal = recorded(tmp_path)
    result = export_incident(
        journal, tmp_path / "out", runbook=bundled("clay"), evidence=Broken(), evidence_timeout=0.2
    )
    assert result.manifest["notes"] == [
        "logs not collected: connection refused by 127.0.0.1:6443",
        "metrics not collected: it did not answer in time",
    ]
    manifest = json.loads((result.folder / "manifest.json").read_text())
    assert manifest["notes"] == result.manifest["notes"]


class ListLogs:
    async def logs(self, start: datetime, end: datetime) -> list[str]:
        return ["one\n", "two"]

    async def metrics(self, start: datetime, end: datetime, step: float) -> dict:
        return {}


async def test_the_async_export_takes_a_collector_returning_a_list(tmp_path):
    journal = recorded(tmp_path)
    result = await export_incident_async(
        journal, tmp_path / "out", runbook=bundled("clay"), evidence=ListLogs()
    )
    assert (result.folder / "incident-logs.txt").read_text() == "one\ntwo\n"


def test_exporting_again_replaces_the_bundle(tmp_path):
    journal = recorded(tmp_path)
    first = export_incident(journal, tmp_path / "out", runbook=bundled("clay"))
    second = export_incident(journal, tmp_path / "out", runbook=bundled("clay"))
    assert first.folder == second.folder
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "clay-20250301-1400-gold",
        "clay-20250301-1400-gold.tar.gz",
    ]


def test_pinned_only_keeps_the_pinned_events_and_the_bookends(tmp_path):
    journal = Journal.create("pins", root=tmp_path / "state")
    incident = clerk_auth_outage(recorder=journal)
    result = export_incident(journal, tmp_path / "out", runbook=bundled("clerk"), pinned_only=True)
    text = result.postmortem.read_text()
    section = text.split("## Timeline\n", 1)[1].split("\n## ", 1)[0]
    timeline = [line for line in section.split("\n") if TIMELINE_LINE.match(line)]
    assert len(timeline) == 3
    assert "Clerk marked their incident resolved" in timeline[1]
    kinds = [json.loads(line)["kind"] for line in (result.folder / "timeline.jsonl").open()]
    assert kinds == ["declared", "note", "resolved"]
    assert incident.id in text


def test_exporting_an_incident_object_uses_its_journal(tmp_path):
    journal = Journal.create("obj", root=tmp_path / "state")
    incident = clay_rate_limited(recorder=journal)
    result = export_incident(incident, tmp_path / "out")
    assert result.postmortem.read_text().startswith("# Incident: Clay 429 Rate Limited")


def test_a_ten_thousand_event_journal_exports_quickly(tmp_path):
    journal = Journal.create("big", root=tmp_path / "state")
    incident = Incident.declare(
        ACME,
        incident_id="acme-big",
        title="Acme flood",
        severity="P2",
        recorder=journal,
        actor="alice",
        clock=lambda: datetime(2025, 3, 1, 8, 0, tzinfo=UTC),
    )
    start = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    lines = [
        Event.new(
            "note",
            f"observation {i}: 429s at {i % 50}/min",
            actor="alice",
            source="cockpit",
            details={"text": f"observation {i}"},
            at=start + timedelta(seconds=3 * i),
        ).to_line()
        for i in range(9_999)
    ]
    with open(journal.path, "a", encoding="utf-8") as handle:
        handle.write("".join(lines))
    assert incident.id == "acme-big"

    began = time.perf_counter()
    result = export_incident(journal, tmp_path / "out", runbook=ACME)
    took = time.perf_counter() - began

    print(f"\nexport of a 10,000-event journal took {took:.3f} s")
    text = result.postmortem.read_text()
    assert sum(1 for line in text.split("\n") if TIMELINE_LINE.match(line)) == 10_000
    assert markdown_problems(text) == []
