"""The journal: events on disk survive crashes, concurrent writers and cut-off lines, and
never hold a secret in full."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tui.errors import IncidentNotFound, JournalError
from tui.record.event import Event, new_event_id, new_incident_id
from tui.record.journal import Journal, find_journal, incidents_dir, state_dir
from tui.record.listing import list_incidents
from tui.record.secrets import Redactor, mask, redact, register_secret

WRITER = Path(__file__).with_name("journal_writer.py")


def _note(text: str, **extra: object) -> Event:
    return Event.new("note", text, actor="alice", source="cli", details={"text": text, **extra})


def _wait_for(condition, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


# --------------------------------------------------------------------------- the event


def test_event_time_is_utc_to_the_millisecond_with_a_z():
    event = Event.new(
        "note", "x", actor="a", source="cli", at=datetime(2025, 3, 1, 14, 2, 3, 123456, tzinfo=UTC)
    )
    line = json.loads(event.to_line())
    assert line["time"] == "2025-03-01T14:02:03.123Z"
    assert line["schema_version"] == 1
    assert Event.model_validate_json(event.to_line()) == event


def test_a_naive_time_is_taken_as_utc():
    event = Event.new("note", "x", actor="a", source="cli", at=datetime(2025, 3, 1, 14, 0))
    assert event.time == datetime(2025, 3, 1, 14, 0, tzinfo=UTC)


def test_event_ids_are_unique_and_sort_in_creation_order():
    same_moment = datetime(2025, 3, 1, tzinfo=UTC)
    ids = [new_event_id(same_moment) for _ in range(2000)]
    assert len(set(ids)) == 2000
    assert ids == sorted(ids)
    later = new_event_id(same_moment + timedelta(seconds=1))
    assert later > ids[-1]


def test_incident_ids_name_the_runbook_and_minute():
    incident_id = new_incident_id("clay", datetime(2025, 3, 1, 14, 2, tzinfo=UTC))
    assert incident_id.startswith("clay-20250301-1402-")


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        Event(id="x", time=datetime.now(UTC), kind="exploded", actor="a", source="s", summary="")


# --------------------------------------------------------------------------- writing and reading


def test_recorded_events_load_back_in_order(tmp_path):
    journal = Journal.create("inc-1", root=tmp_path)
    written = [journal.record(_note(f"note {i}")) for i in range(5)]
    loaded = journal.load()
    assert loaded.warnings == []
    assert [e.id for e in loaded.events] == [e.id for e in written]
    assert journal.path.read_text().count("\n") == 5


def test_creating_an_existing_incident_is_an_error(tmp_path):
    Journal.create("inc-1", root=tmp_path)
    with pytest.raises(JournalError, match="already exists"):
        Journal.create("inc-1", root=tmp_path)


def test_a_cut_off_last_line_keeps_every_complete_event_and_warns(tmp_path):
    journal = Journal.create("inc-1", root=tmp_path)
    for i in range(5):
        journal.record(_note(f"note {i}"))
    line = _note("the one being written").to_line().encode()
    with open(journal.path, "ab") as handle:
        handle.write(line[: len(line) // 2])

    loaded = journal.load()

    assert [e.summary for e in loaded.events] == [f"note {i}" for i in range(5)]
    assert len(loaded.warnings) == 1
    warning = loaded.warnings[0]
    assert warning.partial and warning.line == 6
    assert "cut off" in str(warning)


def test_recording_after_a_cut_off_line_keeps_the_new_event_whole(tmp_path):
    journal = Journal.create("inc-1", root=tmp_path)
    journal.record(_note("before"))
    with open(journal.path, "ab") as handle:
        handle.write(b'{"schema_version":1,"id":"01J')
    journal.record(_note("after"))

    loaded = journal.load()

    assert [e.summary for e in loaded.events] == ["before", "after"]
    assert [(w.line, w.partial) for w in loaded.warnings] == [(2, False)]


def test_a_corrupt_line_in_the_middle_is_reported_with_its_number(tmp_path):
    journal = Journal.create("inc-1", root=tmp_path)
    journal.record(_note("one"))
    with open(journal.path, "a") as handle:
        handle.write("this is not json\n")
        handle.write('{"kind": "note"}\n')
    journal.record(_note("two"))

    loaded = journal.load()

    assert [e.summary for e in loaded.events] == ["one", "two"]
    assert [w.line for w in loaded.warnings] == [2, 3]
    assert "line 2 is not valid JSON" in str(loaded.warnings[0])
    assert "line 3 is not an event" in str(loaded.warnings[1])


def test_read_new_returns_what_another_writer_appended(tmp_path):
    writer = Journal.create("inc-1", root=tmp_path)
    reader = Journal(writer.directory)
    first = [writer.record(_note(f"n{i}")) for i in range(3)]
    assert [e.id for e in reader.read_new()] == [e.id for e in first]
    assert reader.read_new() == []

    line = _note("half written").to_line().encode()
    with open(writer.path, "ab") as handle:
        handle.write(line[:20])
    assert reader.read_new() == []  # a line still being written waits for the next call
    with open(writer.path, "ab") as handle:
        handle.write(line[20:])
    assert [e.summary for e in reader.read_new()] == ["half written"]


def test_read_new_reads_in_bounded_chunks(tmp_path):
    journal = Journal.create("inc-1", root=tmp_path)
    for i in range(50):
        journal.record(_note(f"n{i}"))
    reader = Journal(journal.directory)
    batches = []
    while batch := reader.read_new(max_bytes=2000):
        batches.append(batch)
    assert len(batches) > 1
    assert [e.summary for b in batches for e in b] == [f"n{i}" for i in range(50)]


def test_seek_end_skips_what_is_already_there(tmp_path):
    journal = Journal.create("inc-1", root=tmp_path)
    journal.record(_note("old"))
    reader = Journal(journal.directory)
    reader.seek_end()
    journal.record(_note("new"))
    assert [e.summary for e in reader.read_new()] == ["new"]


def test_tail_returns_the_last_events_in_order(tmp_path):
    journal = Journal.create("inc-1", root=tmp_path)
    for i in range(200):
        journal.record(_note(f"n{i}"))
    assert [e.summary for e in journal.tail(3)] == ["n197", "n198", "n199"]
    assert len(journal.tail(1000)) == 200


async def test_follow_yields_events_appended_while_it_runs(tmp_path):
    journal = Journal.create("inc-1", root=tmp_path)
    journal.record(_note("before"))
    follower = Journal(journal.directory).follow(interval=0.01)
    first = await asyncio.wait_for(follower.__anext__(), timeout=10)
    assert [e.summary for e in first] == ["before"]
    threading.Thread(target=lambda: journal.record(_note("later"))).start()
    second = await asyncio.wait_for(follower.__anext__(), timeout=10)
    assert [e.summary for e in second] == ["later"]
    await follower.aclose()


def test_the_lock_is_reentrant_within_one_journal(tmp_path):
    journal = Journal.create("inc-1", root=tmp_path)
    with journal.locked(), journal.locked():
        journal.record(_note("inside"))
    journal.record(_note("outside"))
    assert len(journal.load().events) == 2


# --------------------------------------------------------------------------- many writers, crashes


@pytest.mark.parametrize(("processes", "each"), [(2, 1000), (4, 500)])
def test_processes_appending_at_once_leave_every_line_whole(tmp_path, processes, each):
    journal = Journal.create("inc-1", root=tmp_path)
    go = tmp_path / "go"
    tags = [f"writer{n}" for n in range(processes)]
    outputs = {tag: tmp_path / f"{tag}.out" for tag in tags}
    writers = []
    for tag, out_path in outputs.items():
        with open(out_path, "w") as out:
            writers.append(
                subprocess.Popen(
                    [sys.executable, str(WRITER), str(journal.directory), str(each), tag, str(go)],
                    stdout=out,
                )
            )
    _wait_for(
        lambda: all(p.read_text().startswith("ready") for p in outputs.values()),
        what="both writers to start",
    )
    go.touch()
    for writer in writers:
        assert writer.wait(timeout=120) == 0

    total = processes * each
    lines = journal.path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert len(lines) - 1 == total
    loaded = journal.load()
    assert loaded.warnings == []
    assert len({e.id for e in loaded.events}) == total
    for tag in tags:
        numbers = [int(e.summary.split()[-1]) for e in loaded.events if e.actor == tag]
        assert numbers == list(range(1, each + 1))
    actors = [e.actor for e in loaded.events]
    switches = sum(1 for a, b in itertools.pairwise(actors) if a != b)
    print(f"the {processes} writers took turns {switches} times")
    # each time was taken before its writer got the lock: still, file order is time order
    inversions = sum(1 for a, b in itertools.pairwise(loaded.events) if b.time < a.time)
    assert inversions == 0


def test_sigkill_at_random_moments_never_loses_an_event_record_returned(tmp_path):
    journal = Journal.create("crash", root=tmp_path)
    seed = random.randrange(1 << 30)
    print(f"random seed {seed}")
    rng = random.Random(seed)
    printed: list[str] = []
    for round_number in range(20):
        out_path = tmp_path / f"printed-{round_number}.txt"
        with open(out_path, "w") as out:
            writer = subprocess.Popen(
                [sys.executable, str(WRITER), str(journal.directory)], stdout=out
            )
        try:
            target = rng.randint(1, 300)

            def written(path: Path = out_path, want: int = target) -> bool:
                return path.read_text().count("\n") > want

            _wait_for(written, what=f"{target} events from the writer")
            time.sleep(rng.uniform(0, 0.01))
            writer.send_signal(signal.SIGKILL)
        finally:
            writer.kill()
            writer.wait(timeout=30)
        assert writer.returncode == -signal.SIGKILL
        lines = out_path.read_text().split("\n")
        # the last printed line may itself be cut off by the kill; whole ids only
        printed += [line for line in lines[1:-1] if len(line) == 26]

        loaded = journal.load()
        recorded = {e.id for e in loaded.events}
        missing = [i for i in printed if i not in recorded]
        assert not missing, f"round {round_number}: {len(missing)} printed ids not in journal"
    assert len(printed) > 20


# --------------------------------------------------------------------------- secrets


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("key sk_live_sandbox_clay_0001 used", "sk_live_sandbox_clay_0001"),
        ("stripe sk_test_51Habcdefghijkl", "sk_test_51Habcdefghijkl"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9abcdef", "eyJhbGciOiJIUzI1NiJ9abcdef"),
        ("slack xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij"),
        ("gh ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
        ("aws AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"),
        ("clerk whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ("config api_key=abcdef123456 set", "abcdef123456"),
        ('{"password": "hunter2hunter2"}', "hunter2hunter2"),
    ],
)
def test_common_token_shapes_are_masked(text, secret):
    masked = redact(text)
    assert secret not in masked
    assert "••••" in masked
    # at most four characters of the secret remain visible
    assert all(secret[i : i + 5] not in masked for i in range(len(secret) - 4))


def test_registered_secret_values_are_masked_everywhere():
    redactor = Redactor(["plain-value-without-shape"])
    data = {"env": {"KEY": "plain-value-without-shape"}, "list": ["x plain-value-without-shape y"]}
    masked = redactor.data(data)
    assert "plain-value-without-shape" not in json.dumps(masked)
    assert masked["env"]["KEY"] == "••••hape"
    assert masked["list"] == ["x ••••hape y"]


def test_a_process_wide_secret_is_masked_by_every_journal(tmp_path):
    register_secret("process-wide-secret-7731")
    journal = Journal.create("inc-1", root=tmp_path)
    journal.record(_note("value is process-wide-secret-7731"))
    assert "process-wide-secret-7731" not in journal.path.read_text()


def test_values_under_credential_keys_are_masked_whole():
    masked = redact({"token": "abc", "api_key": "short1", "name": "clay-secrets"})
    assert masked == {"token": "••••", "api_key": "••••", "name": "clay-secrets"}


def test_a_short_secret_shows_nothing_of_itself():
    assert mask("abcdefgh") == "••••"
    assert mask("abcdefghijkl") == "••••ijkl"


def test_masking_twice_changes_nothing():
    once = redact("Bearer abcdefghijklmnop and sk_live_abcdefgh1234")
    assert redact(once) == once


def test_secrets_never_reach_the_journal_file(tmp_path):
    journal = Journal.create("inc-1", root=tmp_path)
    journal.register_secret("rotated-key-value-9911")
    shown = journal.record(
        Event.new(
            "remediation_applied",
            "Rotated to rotated-key-value-9911",
            actor="alice",
            source="cockpit",
            details={"new": "rotated-key-value-9911", "header": "Bearer abcdefghijklmnopqrs"},
        )
    )
    text = journal.path.read_text()
    assert "rotated-key-value-9911" not in text
    assert "abcdefghijklmnopqrs" not in text
    assert "rotated-key-value-9911" not in shown.summary


# --------------------------------------------------------------------------- incidents on disk


def test_the_state_dir_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("INCIDENT_TUI_STATE_DIR", str(tmp_path))
    assert state_dir() == tmp_path
    assert incidents_dir() == tmp_path / "incidents"
    journal = Journal.create("inc-1")
    assert journal.directory == tmp_path / "incidents" / "inc-1"


def _declared(incident_id: str, at: datetime, severity: str = "P2") -> Event:
    return Event.new(
        "declared",
        "Incident declared",
        actor="alice",
        source="cli",
        at=at,
        details={
            "incident_id": incident_id,
            "runbook": "clay",
            "title": f"title of {incident_id}",
            "severity": severity,
            "status": "investigating",
        },
    )


def test_list_incidents_shows_status_severity_runbook_title_and_age(tmp_path):
    now = datetime.now(UTC)
    old = Journal.create("clay-old", root=tmp_path)
    old.record(_declared("clay-old", now - timedelta(hours=3)))
    old.record(Event.new("severity_changed", "s", actor="a", source="cli", details={"to": "P1"}))
    old.record(Event.new("resolved", "r", actor="a", source="cli", details={"summary": "done"}))
    new = Journal.create("clay-new", root=tmp_path)
    new.record(_declared("clay-new", now - timedelta(minutes=5)))
    new.record(
        Event.new("status_changed", "s", actor="a", source="cli", details={"to": "mitigated"})
    )

    found = list_incidents(root=tmp_path)

    assert [s.id for s in found] == ["clay-new", "clay-old"]
    assert (found[0].status, found[0].severity, found[0].is_open) == ("mitigated", "P2", True)
    assert (found[1].status, found[1].severity, found[1].is_open) == ("resolved", "P1", False)
    assert found[0].runbook == "clay"
    assert found[0].title == "title of clay-new"
    assert timedelta(minutes=4) < found[0].age() < timedelta(minutes=10)


def test_find_journal_takes_a_unique_prefix(tmp_path):
    for name in ("clay-20250301-1400-aaaa", "clay-20250301-1400-bbbb"):
        Journal.create(name, root=tmp_path)
    assert find_journal("clay-20250301-1400-a", root=tmp_path).incident_id.endswith("aaaa")
    with pytest.raises(IncidentNotFound, match="matches 2 incidents"):
        find_journal("clay-2025", root=tmp_path)
    with pytest.raises(IncidentNotFound, match="no incident"):
        find_journal("instantly", root=tmp_path)
    with pytest.raises(IncidentNotFound):
        find_journal("../etc", root=tmp_path)


def test_a_journal_file_is_private_to_its_owner(tmp_path):
    journal = Journal.create("inc-1", root=tmp_path)
    journal.record(_note("x"))
    assert os.stat(journal.path).st_mode & 0o077 == 0
