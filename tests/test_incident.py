"""Incident state: the status lifecycle, the response clock, debounced signal events,
decisions, checklists, remediations, comms and pins, and rebuilding it all from the record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tui.decision import ranked_remediations
from tui.errors import IllegalStatusChange, IncidentError, UnknownReference, UnknownSeverity
from tui.record.event import Event
from tui.record.incident import Incident
from tui.record.journal import Journal
from tui.runbook import load_runbook
from tui.runbook.checklists import checklist_entries, find_checklist_entry

RUNBOOK = load_runbook(Path(__file__).parent / "golden" / "runbooks" / "acme.yaml")
START = datetime(2025, 3, 1, 14, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class Recorder:
    """Keeps what the incident recorded, as a journal would."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> Event:
        self.events.append(event)
        return event

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def incident(clock: Clock, recorder: Recorder) -> Incident:
    return Incident.declare(
        RUNBOOK,
        incident_id="acme-20250301-1400-test",
        title="Acme rate limited",
        severity="P2",
        impact="Enrichment delayed",
        recorder=recorder,
        clock=clock,
        actor="alice",
        source="cockpit",
    )


# --------------------------------------------------------------------------- declaration


def test_declaring_records_one_event_with_the_facts(incident, recorder):
    assert recorder.kinds() == ["declared"]
    details = recorder.events[0].details
    assert details["runbook"] == "acme"
    assert details["severity"] == "P2"
    assert incident.status == "investigating"
    assert incident.commander == "alice"
    assert incident.responders == ["alice"]


def test_declaring_with_an_unknown_severity_is_refused(clock, recorder):
    with pytest.raises(UnknownSeverity, match="use one of P1, P2, P3, P4"):
        Incident.declare(RUNBOOK, incident_id="x", title="t", severity="P7", recorder=recorder)
    assert recorder.events == []


def test_changes_before_declaration_are_refused():
    with pytest.raises(IncidentError, match="not been declared"):
        Incident(RUNBOOK, actor="alice").note("hello")


# --------------------------------------------------------------------------- lifecycle


def test_moving_forward_is_free_even_skipping_steps(incident, recorder):
    incident.set_status("identified")
    incident.set_status("monitoring")
    assert incident.status == "monitoring"
    assert recorder.kinds()[-2:] == ["status_changed", "status_changed"]
    assert recorder.events[-1].details == {
        "from": "identified",
        "to": "monitoring",
        "reason": None,
        "backwards": False,
    }


def test_moving_back_needs_a_reason_which_is_recorded(incident, recorder):
    incident.set_status("mitigated")
    with pytest.raises(IllegalStatusChange, match="needs a reason"):
        incident.set_status("investigating")
    assert incident.status == "mitigated"
    incident.set_status("investigating", reason="429s came back")
    assert incident.status == "investigating"
    assert recorder.events[-1].details["backwards"] is True
    assert recorder.events[-1].details["reason"] == "429s came back"
    assert "429s came back" in recorder.events[-1].summary


def test_resolved_is_final_until_reopened_with_a_reason(incident, clock):
    clock.advance(minutes=30)
    incident.resolve("Queueing enabled")
    assert incident.resolved_at == clock.now
    assert incident.resolution == "Queueing enabled"
    with pytest.raises(IllegalStatusChange, match="reopen"):
        incident.set_status("monitoring")
    with pytest.raises(IllegalStatusChange, match="already resolved"):
        incident.resolve("again")
    with pytest.raises(IllegalStatusChange, match="needs a reason"):
        incident.reopen("  ")
    incident.reopen("errors are back")
    assert incident.status == "investigating"
    assert incident.resolved_at is None
    assert incident.is_open


def test_reopening_an_open_incident_is_refused(incident):
    with pytest.raises(IllegalStatusChange, match="not resolved"):
        incident.reopen("why not")


def test_status_resolved_resolves(incident, recorder):
    incident.set_status("resolved", reason="fixed by queueing")
    assert recorder.kinds()[-1] == "resolved"
    assert incident.resolution == "fixed by queueing"


def test_an_unknown_status_is_refused(incident):
    with pytest.raises(IllegalStatusChange, match="is not a status"):
        incident.set_status("fixed")


def test_the_same_status_or_severity_again_records_nothing(incident, recorder):
    assert incident.set_status("investigating") is None
    assert incident.set_severity("p2") is None
    assert recorder.kinds() == ["declared"]


# --------------------------------------------------------------------------- response clock


def test_the_response_deadline_follows_the_current_severity(incident, clock):
    assert incident.response_due() == START + timedelta(hours=1)
    clock.advance(minutes=5)
    incident.set_severity("p1", reason="all customers")
    assert incident.severity == "P1"
    assert incident.response_due() == START + timedelta(minutes=15)
    assert incident.response_remaining(START + timedelta(minutes=10)) == timedelta(minutes=5)


def test_the_response_is_breached_only_if_unmitigated_past_the_deadline(incident, clock):
    assert not incident.response_breached(START + timedelta(minutes=59))
    assert incident.response_breached(START + timedelta(minutes=61))
    clock.advance(minutes=20)
    incident.set_status("mitigated")
    assert not incident.response_breached(START + timedelta(hours=5))


def test_the_response_clock_restarts_when_the_impact_returns(incident, clock):
    clock.advance(minutes=20)
    incident.set_status("mitigated")
    clock.advance(minutes=10)
    incident.set_status("investigating", reason="errors again")
    assert incident.response_breached(START + timedelta(minutes=61))


def test_severity_unknown_to_the_runbook_is_refused(incident):
    with pytest.raises(UnknownSeverity):
        incident.set_severity("SEV1")


# --------------------------------------------------------------------------- debounce


def test_an_alert_is_recorded_once_per_crossing_not_once_per_poll(incident, recorder, clock):
    for value in (37, 38, 40, 41):
        clock.advance(seconds=15)
        incident.observe_alert("rate_limited", "P2", value, 5)
    for value in (2, 1, 0):
        clock.advance(seconds=15)
        incident.observe_alert("rate_limited", None, value, 5)
    clock.advance(seconds=15)
    incident.observe_alert("rate_limited", "P2", 12, 5)

    assert recorder.kinds()[1:] == [
        "signal_alert_raised",
        "signal_alert_cleared",
        "signal_alert_raised",
    ]
    raised = recorder.events[1]
    assert raised.summary == "Alert raised: Rate Limited (P2): 37/min > 5/min"
    assert raised.actor == "signals" and raised.source == "signals"
    assert raised.details["unit"] == "/min"
    assert incident.alerted == ["rate_limited"]


def test_a_new_alert_level_is_a_new_crossing(incident, recorder):
    incident.observe_alert("rate_limited", "P2", 37, 5)
    incident.observe_alert("rate_limited", "P1", 370, 5)
    assert recorder.kinds()[1:] == ["signal_alert_raised", "signal_alert_raised"]
    assert recorder.events[-1].details["previous_level"] == "P2"


def test_no_data_changes_nothing_and_ok_clears(incident, recorder):
    incident.observe_alert("rate_limited", "P2", 37, 5)
    incident.observe_alert("rate_limited", "unknown", None, 5)
    assert "rate_limited" in incident.alerts
    incident.observe_alert("rate_limited", "ok", 0, 5)
    incident.observe_alert("rate_limited", "ok", 0, 5)
    assert recorder.kinds()[1:] == ["signal_alert_raised", "signal_alert_cleared"]
    assert incident.alerts == {}


def test_vendor_status_is_recorded_when_the_indicator_changes(incident, recorder):
    incident.observe_vendor_status("none", description="All Systems Operational")
    incident.observe_vendor_status("none")
    incident.observe_vendor_status("major", description="Partial System Outage", incidents=1)
    incident.observe_vendor_status("major", description="Partial System Outage", incidents=1)
    incident.observe_vendor_status("none", description="All Systems Operational")
    assert recorder.kinds()[1:] == ["vendor_status_changed", "vendor_status_changed"]
    assert recorder.events[1].summary == (
        "Acme status page: major (Partial System Outage), 1 open incident"
    )
    assert recorder.events[2].details["previous"] == "major"


def test_pod_restarts_are_recorded_when_the_count_goes_up(incident, recorder, clock):
    incident.observe_pod_restarts("acme-1", 0)
    incident.observe_pod_restarts("acme-1", 0)
    incident.observe_pod_restarts("acme-1", 2, reason="CrashLoopBackOff")
    incident.observe_pod_restarts("acme-1", 2, reason="CrashLoopBackOff")
    clock.advance(seconds=301)
    incident.observe_pod_restarts("acme-1", 3, reason="CrashLoopBackOff")
    incident.observe_pod_restarts("acme-2", 5)
    assert recorder.kinds()[1:] == ["pod_restarts_seen"] * 3
    assert recorder.events[1].summary == "Pod acme-1 restarted (2 restarts, CrashLoopBackOff)"
    assert recorder.events[2].details["previous"] == 2


def test_a_crash_loop_folds_into_one_event_per_pod_until_it_has_been_quiet(
    incident, recorder, clock
):
    # ten minutes of a restart every 10 s: one event, not one a minute
    for restarts in range(1, 61):
        incident.observe_pod_restarts("acme-1", restarts, reason="CrashLoopBackOff")
        clock.advance(seconds=10)
    assert recorder.kinds()[1:] == ["pod_restarts_seen"]
    # five quiet minutes, then a restart: a new episode
    clock.advance(minutes=5)
    incident.observe_pod_restarts("acme-1", 61, reason="CrashLoopBackOff")
    assert recorder.kinds()[1:] == ["pod_restarts_seen"] * 2
    assert recorder.events[2].details["previous"] == 60


def test_a_backend_fault_is_recorded_once_and_its_recovery_once(incident, recorder, clock):
    for _ in range(5):
        incident.observe_source("kubernetes", "auth_expired", message="401", hint="Re-authenticate")
        clock.advance(seconds=5)
    incident.observe_source("kubernetes", "forbidden", message="403")
    for _ in range(3):
        incident.observe_source("kubernetes", None)
    assert recorder.kinds()[1:] == ["source_fault", "source_fault", "source_recovered"]
    assert recorder.events[1].details["hint"] == "Re-authenticate"
    # one outage of two kinds: it lasted from the first fault, 25 s before it answered
    assert recorder.events[3].details["down_for"] == 25
    rebuilt = Incident.from_events(RUNBOOK, recorder.events)
    assert rebuilt.source_faults == {}


# --------------------------------------------------------------------------- decisions


def test_live_answers_carry_their_evidence_and_are_not_repeated(incident, recorder):
    for _ in range(3):
        incident.answer(
            "rate_limited_q", True, live=True, signal="rate_limited", value=37, threshold=5, op=">"
        )
    assert recorder.kinds()[1:] == ["decision_answered"]
    event = recorder.events[1]
    assert event.details["how"] == "live"
    assert event.details["answer"] == "yes"
    assert (
        event.summary
        == "Decision: Are we being rate limited? Yes (live: rate_limited 37/min > 5/min)"
    )


def test_a_person_overrides_the_live_answer_and_the_signals_do_not_undo_it(incident, recorder):
    incident.answer(
        "vendor_down",
        False,
        live=True,
        signal="vendor.indicator",
        value="none",
        threshold=["major", "critical"],
        op="in",
    )
    incident.answer("vendor_down", True)
    incident.answer(
        "vendor_down",
        False,
        live=True,
        signal="vendor.indicator",
        value="none",
        threshold=["major", "critical"],
        op="in",
    )
    assert recorder.kinds()[1:] == ["decision_answered", "decision_answered"]
    assert recorder.events[2].details["how"] == "override"
    assert recorder.events[2].details["previous"] == "no"
    assert recorder.events[2].details["live_answer"] == "no"
    assert "(overriding the live answer)" in recorder.events[2].summary
    assert incident.decisions["vendor_down"].answer is True
    assert incident.decisions["vendor_down"].live_answer is False


def test_a_person_agreeing_with_the_live_answer_is_not_said_to_override_it(incident, recorder):
    evidence = {"signal": "vendor.indicator", "value": "none", "threshold": ["major", "critical"]}
    incident.answer("vendor_down", False, live=True, op="in", **evidence)
    # y/n on a question the signals answered pins the answer as the person's
    incident.answer("vendor_down", False, op="in", **evidence)
    confirmed = recorder.events[-1]
    assert confirmed.details["how"] == "override"
    assert confirmed.details["live_answer"] == "no"
    assert "confirming the live answer; vendor.indicator" in confirmed.summary
    assert "overriding" not in confirmed.summary
    # with no live answer on record there is nothing to confirm or override
    incident.answer("rate_limited_q", True)
    assert recorder.events[-1].details["live_answer"] is None
    assert recorder.events[-1].summary.endswith("Yes (by hand)")
    rebuilt = Incident.from_events(incident.runbook, recorder.events)
    assert rebuilt.decisions["vendor_down"].live_answer is False
    assert rebuilt.decisions["vendor_down"].how == "override"


def test_the_live_answer_is_remembered_across_a_persons_answers(incident, recorder):
    evidence = {"signal": "vendor.indicator", "value": "none", "threshold": ["major", "critical"]}
    incident.answer("vendor_down", False, live=True, op="in", **evidence)
    words = []
    for answer in (True, False, True):
        incident.answer("vendor_down", answer, op="in", **evidence)
        words.append(recorder.events[-1].summary.split(" (", 1)[1].split(";", 1)[0])
    assert words == [
        "overriding the live answer",
        "confirming the live answer",
        "overriding the live answer",
    ]
    assert [e.details["live_answer"] for e in recorder.events[-3:]] == ["no"] * 3


def test_a_record_from_before_live_answer_was_kept_reads_it_from_the_answers_before(
    incident, recorder
):
    incident.answer("vendor_down", False, live=True)
    incident.answer("vendor_down", False)
    incident.answer("vendor_down", True)
    older = []
    for event in recorder.events:
        details = {k: v for k, v in event.details.items() if k != "live_answer"}
        older.append(event.model_copy(update={"details": details}))
    rebuilt = Incident.from_events(incident.runbook, older)
    assert rebuilt.decisions["vendor_down"].how == "override"
    assert rebuilt.decisions["vendor_down"].live_answer is False


def test_the_decision_path_follows_the_answers_to_a_conclusion(incident):
    assert incident.decision_path().node_ids == ("vendor_down",)
    assert incident.decision_path().answers[0].answer is None  # not answered yet
    incident.answer("vendor_down", False)
    incident.answer("rate_limited_q", True)
    path = incident.decision_path()
    assert path.node_ids == ("vendor_down", "rate_limited_q", "queue_leaf")
    assert path.leaf is not None and path.leaf.id == "queue_leaf"
    groups = ranked_remediations(path.leaf, incident.error_classes())
    assert [r for _, ids in groups for r in ids] == ["enable_queue"]


def test_answering_a_conclusion_or_an_unknown_node_is_refused(incident):
    with pytest.raises(UnknownReference, match="is a conclusion"):
        incident.answer("queue_leaf", True)
    with pytest.raises(UnknownReference, match="no node"):
        incident.answer("nope", True)


# --------------------------------------------------------------------------- checklists


def test_checklist_keys_number_steps_and_letter_nested_items():
    keys = [(e.key, e.label) for e in checklist_entries(RUNBOOK, "outage")]
    assert keys == [
        ("outage/1", "1"),
        ("outage/2", "2"),
        ("outage/3", "3"),
        ("outage/3/a", "3.a"),
        ("outage/3/b", "3.b"),
        ("outage/4", "4"),
    ]
    assert find_checklist_entry(RUNBOOK, "outage/3/a").text == "Enable the fallback"
    assert find_checklist_entry(RUNBOOK, "category:rate_limit/2").text == "Enable queueing"


def test_checking_an_item_records_it_once(incident, recorder):
    incident.check("outage/3/a")
    incident.check("outage/3/a")
    assert recorder.kinds()[1:] == ["checklist_item_checked"]
    assert recorder.events[-1].summary == "Outage response: checked 3.a. Enable the fallback"
    assert incident.checklist_progress("outage") == (1, 6)
    incident.toggle("outage/3/a")
    assert recorder.kinds()[-1] == "checklist_item_unchecked"
    assert incident.checklist_progress("outage") == (0, 6)


def test_an_unknown_checklist_item_is_refused(incident):
    with pytest.raises(UnknownReference, match='no item "outage/9"'):
        incident.check("outage/9")
    with pytest.raises(UnknownReference, match="no checklist"):
        incident.check("missing/1")


# --------------------------------------------------------------------------- remediations


def test_a_remediation_run_collects_its_stages(incident, recorder):
    for stage in ("planned", "dry_run", "applied"):
        incident.record_remediation("enable_queue", stage)
    incident.record_remediation("enable_queue", "rolled_out", result="3/3 pods Ready")
    run = incident.remediation_run("enable_queue")
    assert run is not None
    assert [s.stage for s in run.steps] == ["planned", "dry_run", "applied", "rolled_out"]
    assert run.action == "set RATE_LIMIT_MODE=queue on production/acme-integration"
    assert recorder.kinds()[1:] == [
        "remediation_planned",
        "remediation_dry_run",
        "remediation_applied",
        "remediation_rolled_out",
    ]
    assert (
        recorder.events[-1].summary
        == "Remediation rolled out: Enable request queueing: 3/3 pods Ready"
    )


def test_planning_again_starts_a_new_run_and_failures_say_why(incident):
    incident.record_remediation("undo", "planned")
    incident.record_remediation("undo", "failed", error="403 Forbidden: cannot patch deployments")
    incident.record_remediation("undo", "planned")
    runs = incident.remediations
    assert [(r.run, r.stage) for r in runs] == [(1, "failed"), (2, "planned")]
    assert runs[0].steps[-1].details["error"] == "403 Forbidden: cannot patch deployments"


def test_a_cancelled_run_ends_there_and_is_not_the_current_action(incident, recorder):
    for stage in ("planned", "dry_run", "applied", "rolled_out"):
        incident.record_remediation("enable_queue", stage)
    incident.record_remediation("undo", "planned")
    incident.record_remediation("undo", "dry_run")
    incident.record_remediation("undo", "cancelled", result="nothing applied")
    assert [(r.remediation, r.stage) for r in incident.remediations] == [
        ("enable_queue", "rolled_out"),
        ("undo", "cancelled"),
    ]
    assert recorder.kinds()[-1] == "remediation_cancelled"
    assert recorder.events[-1].summary.startswith("Remediation cancelled: ")
    assert recorder.events[-1].summary.endswith(": nothing applied")
    # the status update says what is being done: the queueing, not the one turned down
    values = incident.comms_values(START)
    assert values["current_action"].startswith("Remediation rolled out: Enable request queueing")
    # and the record rebuilds the same runs
    rebuilt = Incident.from_events(incident.runbook, recorder.events)
    assert [r.stage for r in rebuilt.remediations] == ["rolled_out", "cancelled"]


def test_an_unknown_remediation_stage_is_refused(incident):
    with pytest.raises(IncidentError, match="not a remediation stage"):
        incident.record_remediation("undo", "exploded")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- comms, notes, pins


def test_the_next_update_is_due_after_the_last_one_sent(incident, clock):
    assert incident.next_update_due() == START + timedelta(minutes=30)
    clock.advance(minutes=12)
    incident.comms_posted("internal", destination="Slack", title="[P2] Acme incident")
    assert incident.next_update_due() == START + timedelta(minutes=42)
    clock.advance(minutes=3)
    incident.comms_copied("external", title="Acme degraded")
    assert incident.next_update_due() == START + timedelta(minutes=45)
    incident.resolve("done")
    assert incident.next_update_due() is None


def test_comms_values_fill_every_template_placeholder(incident, clock):
    from tui.runbook import COMMS_PLACEHOLDERS

    values = incident.comms_values(clock.advance(minutes=75))
    assert set(values) == set(COMMS_PLACEHOLDERS)
    assert values["elapsed"] == "1h15m"
    assert values["severity"] == "P2"


def test_notes_and_pins(incident, recorder):
    first = incident.note("headers say\n  remaining: 0", pin=True)
    assert first.summary == "headers say remaining: 0"
    assert first.id in incident.pinned
    other = incident.note("second")
    incident.pin(other.id)
    assert incident.pin(other.id) is None
    incident.unpin(first.id)
    assert list(incident.pinned) == [other.id]
    with pytest.raises(UnknownReference):
        incident.pin("01NOPE")
    with pytest.raises(IncidentError, match="needs some text"):
        incident.note("   ")


def test_people_join_and_command_changes_hands(incident, recorder):
    incident.add_responder("bob", role="scribe")
    assert incident.add_responder("bob") is None
    incident.set_commander("bob")
    assert incident.commander == "bob"
    assert incident.responders == ["alice", "bob"]
    assert recorder.kinds()[1:] == ["responder_joined", "commander_changed"]


# --------------------------------------------------------------------------- the record rebuilds the state


def _full_story(incident: Incident, clock: Clock) -> None:
    steps = [
        lambda: incident.observe_vendor_status("none"),
        lambda: incident.observe_alert("rate_limited", "P2", 37, 5),
        lambda: incident.answer(
            "vendor_down",
            False,
            live=True,
            signal="vendor.indicator",
            value="none",
            threshold=["major", "critical"],
            op="in",
        ),
        lambda: incident.answer("rate_limited_q", True),
        lambda: incident.add_responder("bob"),
        lambda: incident.note("looking at the headers", pin=True),
        lambda: incident.set_status("identified"),
        lambda: incident.record_remediation("enable_queue", "planned"),
        lambda: incident.record_remediation("enable_queue", "dry_run"),
        lambda: incident.record_remediation("enable_queue", "applied"),
        lambda: incident.record_remediation("enable_queue", "rolled_out", result="3/3 Ready"),
        lambda: incident.check("outage/1"),
        lambda: incident.check("outage/3/b"),
        lambda: incident.observe_alert("rate_limited", None, 0.4, 5),
        lambda: incident.set_status("mitigated"),
        lambda: incident.comms_posted("internal", destination="Slack", title="update"),
        lambda: incident.set_severity("P3", reason="contained"),
        lambda: incident.observe_pod_restarts("acme-1", 2),
        lambda: incident.set_commander("bob"),
        lambda: incident.resolve("Queueing fixed it."),
    ]
    for step in steps:
        clock.advance(minutes=1)
        step()


def _state(incident: Incident) -> dict[str, object]:
    return {
        "id": incident.id,
        "title": incident.title,
        "impact": incident.impact,
        "severity": incident.severity,
        "status": incident.status,
        "declared_at": incident.declared_at,
        "resolved_at": incident.resolved_at,
        "mitigated_at": incident.mitigated_at,
        "resolution": incident.resolution,
        "commander": incident.commander,
        "responders": incident.responders,
        "checked": sorted(incident.checked),
        "decisions": {k: (v.answer, v.how) for k, v in incident.decisions.items()},
        "remediations": [
            (r.remediation, [s.stage for s in r.steps]) for r in incident.remediations
        ],
        "comms": incident.comms,
        "notes": incident.notes,
        "pinned": sorted(incident.pinned),
        "alerts": incident.alerts,
        "alerted": incident.alerted,
        "pods": incident.pod_restarts,
        "events": [e.id for e in incident.events],
    }


def test_every_change_records_exactly_one_event(incident, recorder, clock):
    _full_story(incident, clock)
    # 20 steps, of which the first (an all-clear baseline) changes nothing
    assert len(recorder.events) == 1 + 19
    assert [e.id for e in incident.events] == [e.id for e in recorder.events]


def test_the_journal_rebuilds_the_same_state(tmp_path, clock):
    journal = Journal.create("acme-replay", root=tmp_path)
    live = Incident.declare(
        RUNBOOK,
        incident_id="acme-replay",
        title="Acme rate limited",
        severity="P2",
        recorder=journal,
        clock=clock,
        actor="alice",
    )
    _full_story(live, clock)

    rebuilt = Incident.from_events(RUNBOOK, journal.load().events)

    assert _state(rebuilt) == _state(live)


def test_events_from_another_process_are_applied_once(tmp_path, clock):
    journal = Journal.create("acme-shared", root=tmp_path)
    cockpit = Incident.declare(
        RUNBOOK,
        incident_id="acme-shared",
        title="t",
        severity="P2",
        recorder=journal,
        clock=clock,
        actor="alice",
    )
    reader = Journal(journal.directory)
    assert len(cockpit.apply_new(reader.read_new())) == 0  # its own declaration

    other = Incident.from_events(
        RUNBOOK,
        journal.load().events,
        recorder=Journal(journal.directory),
        clock=clock,
        actor="bob",
        source="cli",
    )
    other.set_severity("P1")
    other.note("from the shell")

    new = cockpit.apply_new(reader.read_new())
    assert [e.kind for e in new] == ["severity_changed", "note"]
    assert cockpit.severity == "P1"
    assert cockpit.notes[-1].actor == "bob"
    assert cockpit.apply_new(journal.load().events) == []


def test_a_journal_without_a_declaration_holds_no_incident():
    with pytest.raises(IncidentError, match="no `declared` event"):
        Incident.from_events(RUNBOOK, [])


def test_an_alert_keeps_its_peak_between_polls_and_the_postmortem_says_it(incident, clock):
    from tui.record.postmortem import render_postmortem
    from tui.record.readings import alert_episodes

    for value in (37.0, 842.0, 300.0):
        incident.observe_alert("rate_limited", "P2", value)
        clock.now += timedelta(seconds=30)
    cleared = incident.observe_alert("rate_limited", "ok", 0.4)
    assert cleared is not None
    assert cleared.details["peak"] == 842.0
    assert cleared.summary == "Alert cleared: Rate Limited at 0.4/min (peak 842/min)"
    # rebuilt from the record, the episode has the same numbers
    again = Incident.from_events(incident.runbook, list(incident.events))
    (episode,) = alert_episodes(again)
    assert (episode.peak, episode.first, episode.last) == (842.0, 37.0, 0.4)
    assert episode.lasted(clock.now) == timedelta(seconds=90)
    text = render_postmortem(again, now=clock.now)
    assert "; peak 842/min (alert > 5/min)" in text and "(1 min 30 s)" in text
