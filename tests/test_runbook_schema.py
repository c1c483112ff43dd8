"""The runbook schema: what validates, and the one clear message every broken file gets."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.errors import RunbookError
from tui.runbook import (
    discover_runbooks,
    format_duration,
    load_runbook,
    parse_duration,
    parse_runbook,
)

BASE: dict[str, Any] = {
    "id": "acme",
    "title": "Acme Mail Incident Runbook",
    "overview": "Rapid response for Acme Mail outages.",
    "vendor": {"name": "Acme Mail", "status_page": "https://status.acme.test"},
    "service": {
        "namespace": "production",
        "deployment": "acme-integration",
        "selector": "app=acme-integration",
        "secret": "acme-secrets",
    },
    "severities": [
        {"level": "P1", "definition": "Complete outage", "response_time": "15m", "example": "x"},
        {"level": "P2", "definition": "Degraded", "response_time": "1h", "example": "y"},
    ],
    "signals": [
        {
            "id": "rate_limited",
            "name": "Rate Limited",
            "query": 'sum(rate(acme_errors_total{code="429"}[1m])) * 60',
            "unit": "/min",
            "alert": {"op": ">", "value": 5, "severity": "P2"},
            "error_class": "rate_limit",
        },
    ],
    "categories": [
        {
            "id": "rate_limit",
            "title": "429 - Rate Limited",
            "codes": ["429"],
            "signal": "rate_limited",
            "actions": [{"text": "Enable request queuing", "remediation": "queue"}],
        }
    ],
    "decision_tree": {
        "root": "errors",
        "nodes": [
            {
                "id": "errors",
                "question": "Acme API returning errors?",
                "when": {"signal": "rate_limited", "op": ">", "value": 5},
                "yes": "fix",
                "no": "ok",
            },
            {"id": "fix", "conclusion": "Enable queueing.", "remediations": ["queue"]},
            {"id": "ok", "conclusion": "Monitor."},
        ],
    },
    "remediations": [
        {
            "id": "queue",
            "title": "Enable request queuing",
            "kind": "set_env",
            "env": {"RATE_LIMIT_MODE": "queue"},
            "revert": {"kind": "previous_env"},
        },
        {"id": "restart", "title": "Restart", "kind": "rollout_restart"},
    ],
    "checklists": [
        {
            "id": "respond",
            "title": "Respond",
            "steps": [
                {"text": "Triage", "items": [{"text": "Check status"}]},
                {"text": "Queue", "remediation": "queue"},
            ],
        }
    ],
}

REQUIRED = [
    ("id",),
    ("title",),
    ("overview",),
    ("vendor",),
    ("vendor", "name"),
    ("vendor", "status_page"),
    ("service", "namespace"),
    ("service", "deployment"),
    ("service", "selector"),
    ("severities", 0, "level"),
    ("severities", 1, "response_time"),
    ("signals", 0, "query"),
    ("signals", 0, "unit"),
    ("remediations", 0, "kind"),
    ("remediations", 1, "title"),
    ("decision_tree", "root"),
    ("checklists", 0, "steps"),
    ("categories", 0, "title"),
]

REFERENCES = [
    (("decision_tree", "nodes", 1, "remediations", 0), "remediation"),
    (("checklists", 0, "steps", 1, "remediation"), "remediation"),
    (("categories", 0, "actions", 0, "remediation"), "remediation"),
    (("decision_tree", "nodes", 0, "yes"), "node"),
    (("decision_tree", "root"), "node"),
    (("decision_tree", "nodes", 0, "when", "signal"), "signal"),
    (("categories", 0, "signal"), "signal"),
    (("signals", 0, "error_class"), "category"),
]

DUPLICATES = [("remediations", 1), ("decision_tree", "nodes", 2), ("severities", 1)]


def _dump(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _field(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _line_of(text: str, path: tuple[Any, ...]) -> int:
    """The 1-based line of the key (or item) at path, found with PyYAML's own marks."""
    node = yaml.compose(text)
    line = node.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    line, node = key.start_mark.line + 1, value
                    break
        else:
            node = node.value[part]
            line = node.start_mark.line + 1
    return line


def _leaves(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(doc, dict):
        return [leaf for key, value in doc.items() for leaf in _leaves(value, (*path, key))]
    if isinstance(doc, list):
        return [leaf for i, value in enumerate(doc) for leaf in _leaves(value, (*path, i))]
    return [path] if isinstance(doc, str) else []


def _mappings(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if isinstance(doc, dict) else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _mappings(value, (*path, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            found += _mappings(value, (*path, i))
    return found


STRING_LEAVES = [p for p in _leaves(BASE) if p[-1] not in ("kind",)]
MAPPINGS = [p for p in _mappings(BASE) if not (p and p[-1] in ("env",))]


def test_base_document_is_valid() -> None:
    book = parse_runbook(_dump(BASE), "acme.yaml")
    assert book.severity("P1").response_time == timedelta(minutes=15)
    assert book.remediation("queue").kind == "set_env"
    assert book.decision_tree is not None
    assert book.decision_tree.node("errors").yes == "fix"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("15m", timedelta(minutes=15)), ("1h30m", timedelta(minutes=90)), ("1d", timedelta(days=1))],
)
def test_durations_round_trip(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert format_duration(expected) == text


def test_yes_and_no_stay_keys_not_booleans() -> None:
    text = _dump(BASE).replace("'yes'", "yes").replace("'no'", "no")
    assert "\n    yes: fix" in text or "yes: fix" in text
    book = parse_runbook(text, "acme.yaml")
    assert book.decision_tree is not None and book.decision_tree.node("errors").no == "ok"


def _assert_one_clear_problem(
    text: str, field: str | None, line: int | None, contains: str = ""
) -> RunbookError:
    with pytest.raises(RunbookError) as caught:
        parse_runbook(text, "runbooks/acme.yaml")
    error = caught.value
    sentence = str(error)
    assert "\n" not in sentence and "Traceback" not in sentence
    assert sentence.startswith("runbooks/acme.yaml:")
    matching = [p for p in error.problems if field is None or p.field == field]
    assert matching, f"no problem names {field!r}: {[str(p) for p in error.problems]}"
    problem = matching[0]
    assert problem.line is not None
    if line is not None:
        assert problem.line == line, str(problem)
    assert contains in problem.message, str(problem)
    return error


MUTATIONS = st.one_of(
    st.tuples(
        st.just("unknown_key"),
        st.sampled_from(MAPPINGS),
        st.from_regex(r"[a-z]{3,8}_x", fullmatch=True),
    ),
    st.tuples(
        st.just("wrong_type"),
        st.sampled_from(STRING_LEAVES),
        st.sampled_from([[["a"]], {"n": [1]}]),
    ),
    st.tuples(st.just("missing"), st.sampled_from(REQUIRED), st.none()),
    st.tuples(
        st.just("dangling"),
        st.sampled_from(REFERENCES),
        st.from_regex(r"ghost[a-z]{1,5}", fullmatch=True),
    ),
    st.tuples(st.just("duplicate"), st.sampled_from(DUPLICATES), st.none()),
    st.tuples(
        st.just("syntax"),
        st.integers(min_value=0, max_value=200),
        st.sampled_from(["  - : [", "\t", "key: 'open", "]", "{x: 1"]),
    ),
)


def _check_mutation(mutation: tuple[str, Any, Any]) -> None:
    kind, where, extra = mutation
    doc = copy.deepcopy(BASE)
    if kind == "unknown_key":
        _get(doc, where)[extra] = "surprise"
        text = _dump(doc)
        _assert_one_clear_problem(
            text, _field((*where, extra)), _line_of(text, (*where, extra)), "unknown key"
        )
    elif kind == "wrong_type":
        parent, last = _get(doc, where[:-1]), where[-1]
        parent[last] = extra
        text = _dump(doc)
        with pytest.raises(RunbookError) as caught:
            parse_runbook(text, "runbooks/acme.yaml")
        fields = [p.field for p in caught.value.problems]
        assert any(f.startswith(_field(where)) for f in fields), (where, fields)
        assert all(p.line for p in caught.value.problems)
    elif kind == "missing":
        del _get(doc, where[:-1])[where[-1]]
        text = _dump(doc)
        _assert_one_clear_problem(text, _field(where), None, "required")
    elif kind == "dangling":
        path, noun = where
        parent = _get(doc, path[:-1])
        parent[path[-1]] = extra
        text = _dump(doc)
        error = _assert_one_clear_problem(text, _field(path), _line_of(text, path), extra)
        assert noun in str(error.problems[0]) or any(noun in str(p) for p in error.problems)
    elif kind == "duplicate":
        collection = _get(doc, where[:-1])
        collection.append(copy.deepcopy(collection[where[-1]]))
        text = _dump(doc)
        with pytest.raises(RunbookError) as caught:
            parse_runbook(text, "runbooks/acme.yaml")
        assert any(
            "duplicate" in p.message or "only once" in p.message for p in caught.value.problems
        )
        assert all(p.line for p in caught.value.problems)
    else:
        lines = _dump(doc).splitlines()
        at = where % (len(lines) + 1)
        lines.insert(at, extra)
        text = "\n".join(lines) + "\n"
        try:
            parse_runbook(text, "runbooks/acme.yaml")
        except RunbookError as error:
            assert str(error).startswith("runbooks/acme.yaml:")
            assert "\n" not in str(error)
            assert all(p.line for p in error.problems), [str(p) for p in error.problems]
        # some insertions (a tab in a comment-free scalar) stay valid YAML and a valid runbook


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MUTATIONS)
def test_every_broken_document_gets_one_clear_message(mutation: tuple[str, Any, Any]) -> None:
    _check_mutation(mutation)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MUTATIONS)
def test_every_broken_document_gets_one_clear_message_long(mutation: tuple[str, Any, Any]) -> None:
    _check_mutation(mutation)


def test_duplicate_yaml_key_names_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(_dump(BASE) + "title: again\n")
    with pytest.raises(RunbookError) as caught:
        load_runbook(path)
    assert 'duplicate key "title"' in str(caught.value)
    assert str(caught.value).startswith(f"{path}:")


def test_not_a_mapping_and_not_utf8(tmp_path: Path) -> None:
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(RunbookError, match="a YAML mapping"):
        load_runbook(listing)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"id: \xff\xfe\n")
    with pytest.raises(RunbookError, match="not UTF-8"):
        load_runbook(binary)
    with pytest.raises(RunbookError, match="no such file"):
        load_runbook(tmp_path / "missing.yaml")


def test_a_loop_in_the_tree_is_named(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE)
    doc["decision_tree"]["nodes"][1] = {
        "id": "fix",
        "question": "Again?",
        "yes": "errors",
        "no": "ok",
    }
    with pytest.raises(RunbookError, match="loops back"):
        parse_runbook(_dump(doc), "acme.yaml")


def test_placeholders_in_templates_are_checked() -> None:
    doc = copy.deepcopy(BASE)
    doc["comms"] = {
        "internal": {"title": "{severity} incident", "body": "Owner: {owner}"},
        "external": {"title": "Issue", "body": "We are on it."},
    }
    with pytest.raises(RunbookError, match=r"unknown placeholder \{owner\}"):
        parse_runbook(_dump(doc), "acme.yaml")


def test_user_runbook_replaces_bundled_and_bad_file_is_reported(tmp_path: Path) -> None:
    good = tmp_path / "acme.yaml"
    good.write_text(_dump(BASE))
    bad = tmp_path / "broken.yaml"
    bad.write_text("id: broken\ntitle: [\n")
    catalog = discover_runbooks([tmp_path])
    assert catalog.runbooks["acme"].origin == "user"
    assert [p.path for p in catalog.problems] == [str(bad)]
    with pytest.raises(RunbookError, match="no runbook with id"):
        catalog.get("nope")
