"""Decisions have one home: one comparison, one tree walk for the live signals and for the
record, one answer type, one ranking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tui.decision import (
    Answer,
    Readings,
    Settler,
    answer_live,
    evaluate,
    evidence_text,
    ranked_remediations,
)
from tui.record.event import Event
from tui.record.incident import Incident
from tui.runbook import DecisionNode, Predicate, load_runbook
from tui.signals import NEGATED, MetricReading, VendorStatus, holds

RUNBOOK = load_runbook(Path(__file__).parent / "golden" / "runbooks" / "acme.yaml")
NOW = datetime(2025, 3, 1, 14, 0, tzinfo=UTC)


def readings(rate: float | None, indicator: str = "none") -> Readings:
    metric = MetricReading("rate_limited", "Rate Limited", rate, "/min", "ok", 5, ">")
    return Readings({"rate_limited": metric}, VendorStatus("Acme", indicator, "", fetched_at=NOW))


@given(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([">", ">=", "<", "<=", "==", "!="]),
    st.floats(allow_nan=False, allow_infinity=False),
)
def test_every_operator_and_its_negation_never_both_hold(value, op, threshold):
    assert holds(value, op, threshold) is not holds(value, NEGATED[op], threshold)


def test_numbers_compare_as_numbers_and_text_only_with_equality():
    assert holds(5.0, "==", 5) is True  # not "5.0" against "5"
    assert holds("down", "!=", "healthy") is True
    assert holds("major", "in", ["minor", "major"]) is True
    assert holds("none", "not_in", ["minor", "major"]) is True
    assert holds("down", ">", 5) is None  # cannot be compared: no answer, not "no"
    assert evidence_text("rate_limited", 3.0, 5, ">", "/min") == "rate_limited 3/min <= 5/min"
    assert evidence_text("vendor.indicator", "none", ["major"], "in") == (
        "vendor.indicator none not in major"
    )


def test_a_live_answer_says_the_reading_it_rests_on():
    tree = RUNBOOK.decision_tree
    assert tree is not None
    answer = answer_live(tree.node("rate_limited_q"), readings(37))
    assert (answer.answer, answer.how, answer.live_answer) == (True, "live", True)
    assert (answer.signal, answer.value, answer.threshold, answer.op) == (
        "rate_limited",
        37,
        5,
        ">",
    )
    assert answer.evidence == ("Rate Limited: 37/min > 5/min",)
    # a person's answer wins and keeps what the signals say
    overridden = answer_live(tree.node("rate_limited_q"), readings(37), False)
    assert (overridden.answer, overridden.how, overridden.live_answer) == (False, "override", True)
    # no data: no answer, and the walk stops there
    unknown = answer_live(tree.node("rate_limited_q"), readings(None))
    assert (unknown.answer, unknown.how) == (None, "unknown")
    path = evaluate(RUNBOOK, readings(None))
    assert path.leaf is None and path.node_ids == ("vendor_down", "rate_limited_q")


def test_any_of_rests_on_the_predicate_that_decided_it():
    node = DecisionNode.model_validate(
        {
            "id": "q",
            "question": "Either?",
            "when": {
                "any": [
                    {"signal": "vendor.indicator", "op": "in", "value": ["major"]},
                    {"signal": "rate_limited", "op": ">", "value": 5},
                ]
            },
            "yes": "a",
            "no": "b",
        }
    )
    answer = answer_live(node, readings(37, "none"))
    assert answer.answer is True
    assert answer.signal == "rate_limited" and answer.value == 37


def test_the_record_and_the_signals_walk_the_tree_the_same_way():
    events: list[Event] = []
    incident = Incident.declare(
        RUNBOOK, incident_id="acme-1", title="t", severity="P2", recorder=events.append
    )
    live = evaluate(RUNBOOK, readings(37))
    for answer in live.answers:
        assert isinstance(answer.answer, bool)
        incident.answer(answer.node, answer.answer, live=True, signal=answer.signal)
    recorded = incident.decision_path()
    assert recorded.node_ids == live.node_ids == ("vendor_down", "rate_limited_q", "queue_leaf")
    assert [a.answer for a in recorded.answers] == [a.answer for a in live.answers]
    assert all(a.actor and a.at and a.event_id for a in recorded.answers)


def test_one_ranking_puts_the_leading_error_classes_first():
    leaf = DecisionNode.model_validate(
        {
            "id": "leaf",
            "conclusion": "Ours.",
            "remediations": ["restart"],
            "by_category": {"auth": ["rotate"], "rate_limit": ["queue"]},
        }
    )
    assert ranked_remediations(leaf) == [
        (None, ["restart"]),
        ("auth", ["rotate"]),
        ("rate_limit", ["queue"]),
    ]
    assert ranked_remediations(leaf, ["rate_limit", None, "missing"]) == [
        ("rate_limit", ["queue"]),
        (None, ["restart"]),
        ("auth", ["rotate"]),
    ]


def test_a_predicate_is_judged_in_one_place():
    # the runbook's predicate type, the live answer and the recorded evidence agree
    predicate = Predicate(signal="rate_limited", op=">", value=5)
    node = DecisionNode(id="q", question="?", when=predicate, yes="a", no="b")
    answer = answer_live(node, readings(3))
    assert answer.answer is False
    said = evidence_text(answer.signal, answer.value, answer.threshold, answer.op, "/min")
    assert said == "rate_limited 3/min <= 5/min"
    assert answer.evidence == ("Rate Limited: 3/min <= 5/min",)


def test_a_live_answer_is_given_once_it_has_held_and_again_only_when_it_changes() -> None:
    def said(answer: bool) -> Answer:
        return Answer("api-errors", "Errors?", answer, "live")

    settler = Settler(timedelta(seconds=10))
    t0 = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
    at = [t0 + timedelta(seconds=s) for s in range(0, 60, 5)]
    assert settler.settled([said(True)], at[0]) == []
    assert settler.settled([said(False)], at[1]) == []  # a flicker: the clock starts again
    assert settler.settled([said(True)], at[2]) == []
    assert settler.settled([said(True)], at[3]) == []
    assert [a.answer for a in settler.settled([said(True)], at[4])] == [True]
    assert settler.settled([said(True)], at[5]) == []  # given once
    assert settler.settled([said(False)], at[6]) == []
    assert [a.answer for a in settler.settled([said(False)], at[8])] == [False]
    # a person's answer, and no answer, are never the signals' to record
    person = Answer("api-errors", "Errors?", True, "override")
    assert settler.settled([person], at[11]) == []
