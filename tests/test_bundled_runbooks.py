"""The bundled runbooks validate and carry every section of the documents they were made from."""

from __future__ import annotations

import re
import string
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from runbooks import BUNDLED_DIR
from tui.runbook import (
    BUILTIN_SIGNALS,
    COMMS_PLACEHOLDERS,
    AllOf,
    AnyOf,
    ChecklistItem,
    Condition,
    Not,
    Predicate,
    Runbook,
    discover_runbooks,
    load_runbook,
)

SEEDS_DIR = Path(__file__).resolve().parents[2] / "shared" / "seeds"
"""The source documents, next to the repository; the excerpts below are copied from them."""

SEED_FILES = {
    "clay": "000_e86a4deb982852c7.txt",
    "clay-short": "001_16ae6c26c3d1cd82.txt",
    "instantly": "002_5079fc481f4f8608.txt",
    "clay-prod-checklist": "003_d77943f4f7734739.txt",
    "clerk": "004_84ec023c5a113487.txt",
}

# --------------------------------------------------------------------------- seed excerpts
# English text copied verbatim from the seed documents (whose tables lost their cell
# separators in some copies, hence two spellings of the severity table).

CLAY_SEVERITY_TABLE = """\
| P1 | Complete outage | < 15 min | Clay API unreachable |
| P2 | Degraded service | < 1 hour | High latency, partial failures |
| P3 | Minor impact | < 4 hours | Webhook delays, non-critical errors |
| P4 | No user impact | Next business day | Monitoring gaps |"""

INSTANTLY_SEVERITY_ROWS = """\
P1Complete outage< 15 minInstantly API unreachable
P2Degraded service< 1 hourHigh latency, partial failures
P3Minor impact< 4 hoursWebhook delays, non-critical errors
P4No user impactNext business dayMonitoring gaps"""

ERROR_HANDLING_TABLE = """\
| Can't reach status page | Network issue | Use mobile or VPN |
| kubectl fails | Auth expired | Re-authenticate |
| Metrics unavailable | Prometheus down | Check backup metrics |
| Secret rotation fails | Permission denied | Escalate to admin |"""

PROD_ALERT_TABLE = """\
| API Down | 5xx errors > 10/min | P1 |
| High Latency | p99 > 5000ms | P2 |
| Rate Limited | 429 errors > 5/min | P2 |
| Auth Failures | 401/403 errors > 0 | P1 |"""

DECISION_TREE = """\
Clay API returning errors?
├─ YES: Is status.clay.com showing incident?
│   ├─ YES → Wait for Clay to resolve. Enable fallback.
│   └─ NO → Our integration issue. Check credentials, config.
└─ NO: Is our service healthy?
    ├─ YES → Likely resolved or intermittent. Monitor.
    └─ NO → Our infrastructure issue. Check pods, memory, network."""

INCIDENT_PREREQUISITES = """\
Access to Clay dashboard and status page
kubectl access to production cluster
Prometheus/Grafana access
Communication channels (Slack, PagerDuty)"""

INCIDENT_OUTPUTS = """\
Issue identified and categorized
Remediation applied
Stakeholders notified
Evidence collected for postmortem"""

INTERNAL_TEMPLATE = """\
🔴 P1 INCIDENT: Clay Integration
Status: INVESTIGATING
Impact: [Describe user impact]
Current action: [What you're doing]
Next update: [Time]
Incident commander: @[name]"""

EXTERNAL_TEMPLATE = """\
We're experiencing issues with our Clay integration.
Some users may experience [specific impact].
We're actively investigating and will provide updates.
Last updated: [timestamp]"""

PROD_STEPS = """\
Step 1: Pre-Deployment Configuration
- Production API keys in secure vault
- Environment variables set in deployment platform
- API key scopes are minimal (least privilege)
- Webhook endpoints configured with HTTPS
- Webhook secrets stored securely
Step 2: Code Quality Verification
- All tests passing ()
- No hardcoded credentials
- Error handling covers all Clay error types
- Rate limiting/backoff implemented
- Logging is production-appropriate
Step 3: Infrastructure Setup
- Health check endpoint includes Clay connectivity
- Monitoring/alerting configured
- Circuit breaker pattern implemented
- Graceful degradation configured
Step 4: Documentation Requirements
- Incident runbook created
- Key rotation procedure documented
- Rollback procedure documented
- On-call escalation path defined
Step 5: Deploy with Gradual Rollout"""

PROD_OUTPUTS = """\
- Deployed Clay integration
- Health checks passing
- Monitoring active
- Rollback procedure documented"""

CLERK_PROCEDURES = """\
Procedure 1: Auth Outage Response
1. [ ] Confirm outage (check status.clerk.com)
2. [ ] Check application logs for errors
3. [ ] Verify environment variables
4. [ ] If Clerk outage:
   a. [ ] Enable emergency bypass (if safe)
   b. [ ] Notify users via status page
   c. [ ] Monitor Clerk status
5. [ ] If application issue:
   a. [ ] Check recent deployments
   b. [ ] Rollback if necessary
   c. [ ] Check middleware configuration
6. [ ] Document timeline and actions
7. [ ] Conduct post-mortem
Procedure 2: Security Breach Response
1. [ ] Identify affected accounts
2. [ ] Revoke all sessions for affected users
3. [ ] Lock compromised accounts
4. [ ] Reset API keys if exposed
5. [ ] Enable additional verification
6. [ ] Notify affected users
7. [ ] Review access logs
8. [ ] Document and report
Procedure 3: Data Sync Recovery
1. [ ] Identify sync gap (check webhook logs)
2. [ ] Pause webhook processing
3. [ ] Export current database state
4. [ ] Run resync script
5. [ ] Verify data integrity
6. [ ] Resume webhook processing
7. [ ] Monitor for new issues"""

CLERK_CATEGORIES = """\
Category 1: Complete Auth Outage
Symptoms: All users unable to sign in, middleware returning errors
Category 2: Webhook Processing Failure
Symptoms: User data out of sync, missing user records
Category 3: Security Incident
Symptoms: Unauthorized access detected, suspicious sessions
Category 4: Performance Degradation
Symptoms: Slow sign-in, high latency, timeouts"""

CLERK_ESCALATION = """\
    - level: 1
      contact: "On-call engineer"
      time: "0-15 min"
    - level: 2
      contact: "Engineering lead"
      time: "15-30 min"
    - level: 3
      contact: "CTO"
      time: "30+ min\""""

CLERK_CONTACTS = """\
    - name: On-Call Engineer
      phone: "+1-xxx-xxx-xxxx"
      slack: "@oncall"
    - url: "https://clerk.com/support"
    - email: "support@clerk.com"
    - priority: "For enterprise: contact account manager\""""

CLERK_OUTPUTS = """\
- Incident response procedures
- Recovery scripts
- Emergency bypass capability
- Post-incident templates"""

EXCERPTS = [
    ("clay-short", CLAY_SEVERITY_TABLE),
    ("instantly", INSTANTLY_SEVERITY_ROWS),
    ("clay-short", ERROR_HANDLING_TABLE),
    ("clay-prod-checklist", PROD_ALERT_TABLE),
    ("clay", DECISION_TREE),
    ("clay", INCIDENT_PREREQUISITES),
    ("clay", INCIDENT_OUTPUTS),
    ("clay", INTERNAL_TEMPLATE),
    ("clay", EXTERNAL_TEMPLATE),
    ("clay-prod-checklist", PROD_STEPS),
    ("clay-prod-checklist", PROD_OUTPUTS),
    ("clerk", CLERK_PROCEDURES),
    ("clerk", CLERK_CATEGORIES),
    ("clerk", CLERK_ESCALATION),
    ("clerk", CLERK_CONTACTS),
    ("clerk", CLERK_OUTPUTS),
]

BUNDLED_IDS = {"clay", "instantly", "clerk", "clay-prod-checklist"}


def _vendorize(text: str, vendor: str) -> str:
    """Clay's text as the Instantly document words it."""
    return text.replace("Clay", vendor).replace("clay", vendor.lower())


def _pipe_rows(table: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()]


@pytest.fixture(scope="module")
def books() -> dict[str, Runbook]:
    return {path.stem: load_runbook(path) for path in sorted(BUNDLED_DIR.glob("*.yaml"))}


# --------------------------------------------------------------------------- validity


def test_every_bundled_runbook_validates_and_is_named_after_its_file(books):
    assert set(books) == BUNDLED_IDS
    for stem, book in books.items():
        assert book.id == stem


def test_discovery_finds_the_bundled_runbooks(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    catalog = discover_runbooks()
    assert catalog.problems == []
    assert set(catalog.runbooks) == BUNDLED_IDS
    assert {source.origin for source in catalog.runbooks.values()} == {"bundled"}


@pytest.mark.parametrize(("seed", "excerpt"), EXCERPTS)
def test_excerpts_here_are_copied_from_the_seed_documents(seed, excerpt):
    path = SEEDS_DIR / SEED_FILES[seed]
    if not path.exists():
        pytest.skip(f"the seed documents are not next to this checkout ({SEEDS_DIR})")
    text = path.read_text(encoding="utf-8")
    for line in excerpt.splitlines():
        assert line.strip() in text, line


# --------------------------------------------------------------------------- shared names

SERVICES = {
    "clay": ("clay-integration", "clay-secrets", "api-key", "clay"),
    "instantly": ("instantly-integration", "instantly-secrets", "api-key", "instantly"),
    "clerk": ("clerk-integration", "clerk-secrets", "secret-key", "clerk"),
    "clay-prod-checklist": ("clay-integration", "clay-secrets", "api-key", "clay"),
}


@pytest.mark.parametrize("runbook_id", sorted(BUNDLED_IDS))
def test_service_signals_and_health_use_the_shared_names(books, runbook_id):
    book = books[runbook_id]
    deployment, secret, key, vendor = SERVICES[runbook_id]
    assert book.service.namespace == "production"
    assert book.service.deployment == deployment
    assert book.service.selector == f"app={deployment}"
    assert book.service.container == "app"
    assert (book.service.secret, book.service.secret_key) == (secret, key)
    assert book.health is not None
    assert book.health.url == "https://api.yourapp.com/health"
    assert book.health.path == f".services.{vendor}"
    assert book.vendor.status_page == f"https://status.{vendor}.com"

    queries = {signal.id: (signal.query, signal.unit) for signal in book.signals}
    errors = f"{vendor}_errors_total"
    expected = {
        "error_rate": (f"sum(rate({errors}[$__rate_interval])) * 60", "/min"),
        "rate_limited": (f'sum(rate({errors}{{code="429"}}[$__rate_interval])) * 60', "/min"),
        "server_errors": (f'sum(rate({errors}{{code=~"5.."}}[$__rate_interval])) * 60', "/min"),
        "auth_failures": (f'sum(rate({errors}{{code=~"401|403"}}[$__rate_interval])) * 60', "/min"),
        "latency_p99": (
            "histogram_quantile(0.99, sum by (le) "
            f"(rate({vendor}_request_duration_seconds_bucket[$__rate_interval]))) * 1000",
            "ms",
        ),
    }
    if vendor == "clerk":
        expected["webhook_failures"] = (
            'sum(rate(clerk_webhook_deliveries_total{result="failed"}[$__rate_interval])) * 60',
            "/min",
        )
    assert queries == expected


# --------------------------------------------------------------------------- severity tables


def _response_time(words: str) -> tuple[timedelta, str | None]:
    if words == "Next business day":
        return timedelta(days=1), words
    match = re.fullmatch(r"< (\d+) (min|hour|hours)", words)
    assert match, words
    count, unit = int(match[1]), match[2]
    return (timedelta(minutes=count) if unit == "min" else timedelta(hours=count)), None


def _severity_rows(runbook_id: str) -> list[tuple[str, str, str, str]]:
    if runbook_id == "instantly":
        pattern = re.compile(r"^(P[1-4])(.+?)(< \d+ (?:min|hours?)|Next business day)(.+)$")
        return [pattern.match(line).groups() for line in INSTANTLY_SEVERITY_ROWS.splitlines()]  # type: ignore[union-attr]
    return [tuple(row) for row in _pipe_rows(CLAY_SEVERITY_TABLE)]  # type: ignore[misc]


@pytest.mark.parametrize("runbook_id", ["clay", "instantly", "clay-prod-checklist"])
def test_every_row_of_the_severity_table_is_there(books, runbook_id):
    book = books[runbook_id]
    rows = _severity_rows(runbook_id)
    assert [s.level for s in book.severities] == [row[0] for row in rows]
    for level, definition, response, example in rows:
        severity = book.severity(level)
        assert severity.definition == definition
        assert severity.example == example
        duration, label = _response_time(response)
        assert severity.response_time == duration
        assert severity.response_time_label == label


def test_clerk_severities_cover_the_levels_its_incident_report_names(books):
    levels = [s.level for s in books["clerk"].severities]
    assert levels[:3] == ["P1", "P2", "P3"]


# --------------------------------------------------------------------------- alerts


def _alert_rows() -> list[tuple[str, str, float, str]]:
    rows = []
    for name, condition, severity in _pipe_rows(PROD_ALERT_TABLE):
        match = re.search(r"> (\d+)", condition)
        assert match
        rows.append((name, condition, float(match[1]), severity))
    return rows


@pytest.mark.parametrize("runbook_id", sorted(BUNDLED_IDS))
def test_every_alert_threshold_is_a_signal_alert_rule(books, runbook_id):
    by_name = {signal.name: signal for signal in books[runbook_id].signals}
    for name, condition, value, severity in _alert_rows():
        signal = by_name[name]
        assert signal.alert is not None, name
        assert (signal.alert.op, signal.alert.value, signal.alert.severity) == (
            ">",
            value,
            severity,
        )
        if runbook_id == "clay-prod-checklist":
            assert signal.description == condition


def test_clerk_alerts_on_failed_webhook_deliveries(books):
    signal = books["clerk"].signal("webhook_failures")
    assert signal.alert is not None
    assert (signal.alert.op, signal.alert.value, signal.alert.severity) == (">", 0, "P2")


# --------------------------------------------------------------------------- decision trees


def _seed_tree(vendor: str) -> dict[str, Any]:
    text = _vendorize(DECISION_TREE, vendor).splitlines()
    questions = [re.sub(r"^[└├─ ]*(?:YES|NO): ", "", line) for line in text if "→" not in line]
    leaves = [line.split("→ ", 1)[1] for line in text if "→" in line]
    return {"questions": questions, "leaves": leaves}


@pytest.mark.parametrize(("runbook_id", "vendor"), [("clay", "Clay"), ("instantly", "Instantly")])
def test_decision_tree_has_the_seed_questions_and_four_leaves(books, runbook_id, vendor):
    book = books[runbook_id]
    tree = book.decision_tree
    assert tree is not None
    seed = _seed_tree(vendor)
    root = tree.node(tree.root)
    yes, no = tree.node(root.yes), tree.node(root.no)  # type: ignore[arg-type]
    assert [root.question, yes.question, no.question] == seed["questions"]
    leaves = [tree.node(n) for n in (yes.yes, yes.no, no.yes, no.no)]  # type: ignore[arg-type]
    assert [leaf.conclusion for leaf in leaves] == seed["leaves"]
    wait, integration, monitor, infrastructure = leaves

    fallback = book.remediation(wait.remediations[0])
    assert fallback.kind == "set_env"
    assert fallback.env == {f"{vendor.upper()}_FALLBACK": "true"}  # type: ignore[union-attr]
    groups = integration.by_category
    assert set(groups) == {"auth", "rate_limit", "server_errors"}
    assert [book.remediation(r).kind for r in groups["auth"]] == [
        "rotate_secret",
        "rollout_restart",
    ]
    queue = book.remediation(groups["rate_limit"][0])
    assert queue.env == {"RATE_LIMIT_MODE": "queue"}  # type: ignore[union-attr]
    assert groups["server_errors"] == wait.remediations
    assert monitor.remediations == []
    assert [book.remediation(r).kind for r in infrastructure.remediations] == [
        "rollout_undo",
        "rollout_restart",
    ]


def _holds(condition: Condition, readings: dict[str, Any]) -> bool:
    """A small reference reading of the predicate language, enough to walk the trees."""
    if isinstance(condition, AnyOf):
        return any(_holds(c, readings) for c in condition.any)
    if isinstance(condition, AllOf):
        return all(_holds(c, readings) for c in condition.all)
    if isinstance(condition, Not):
        return not _holds(condition.not_, readings)
    assert isinstance(condition, Predicate)
    value, target = readings.get(condition.signal, 0), condition.value
    return {
        ">": lambda: value > target,
        ">=": lambda: value >= target,
        "<": lambda: value < target,
        "<=": lambda: value <= target,
        "==": lambda: value == target,
        "!=": lambda: value != target,
        "in": lambda: value in target,
        "not_in": lambda: value not in target,
    }[condition.op]()


def _walk(book: Runbook, readings: dict[str, Any]) -> str:
    tree = book.decision_tree
    assert tree is not None
    node = tree.node(tree.root)
    while not node.is_leaf:
        assert node.when is not None, f"{node.id} needs the responder"
        node = tree.node(node.yes if _holds(node.when, readings) else node.no)  # type: ignore[arg-type]
    return node.id


QUIET = {"vendor.indicator": "none", "vendor.incidents": 0, "health.status": "healthy"}

SCENARIOS = [
    ("clay", "healthy", {}, "monitor", []),
    ("clay", "rate-limited", {"error_rate": 35, "rate_limited": 35}, "integration-issue", []),
    ("clay", "auth", {"error_rate": 20, "auth_failures": 20}, "integration-issue", []),
    (
        "clay",
        "vendor-outage",
        {"error_rate": 40, "server_errors": 40, "vendor.indicator": "major"},
        "wait-for-clay",
        ["enable-fallback"],
    ),
    ("clay", "infra", {"health.status": "down"}, "infrastructure-issue", ["rollback"]),
    (
        "instantly",
        "vendor-outage",
        {"error_rate": 40, "server_errors": 40, "vendor.indicator": "major"},
        "wait-for-instantly",
        ["enable-fallback"],
    ),
    (
        "clerk",
        "auth-outage",
        {"error_rate": 60, "server_errors": 60, "vendor.indicator": "major"},
        "clerk-outage",
        ["emergency-bypass"],
    ),
    ("clerk", "webhook-failure", {"webhook_failures": 12}, "webhook-failure", ["rollback"]),
    (
        "clerk",
        "performance",
        {"latency_p99": 7000, "vendor.indicator": "minor", "health.status": "degraded"},
        "performance-degradation",
        ["scale-up"],
    ),
    ("clay-prod-checklist", "canary ok", {}, "continue-rollout", ["resume-rollout"]),
    ("clay-prod-checklist", "canary 5xx", {"server_errors": 30}, "roll-back", ["rollback"]),
]


@pytest.mark.parametrize(
    ("runbook_id", "scenario", "readings", "leaf", "first"),
    SCENARIOS,
    ids=[f"{s[0]}-{s[1]}" for s in SCENARIOS],
)
def test_live_signals_lead_each_scenario_to_its_fix(
    books, runbook_id, scenario, readings, leaf, first
):
    book = books[runbook_id]
    assert _walk(book, {**QUIET, **readings}) == leaf
    node = book.decision_tree.node(leaf)  # type: ignore[union-attr]
    assert node.remediations[: len(first)] == first


def test_clerk_scale_up_reaches_four_replicas_and_undoes_to_two(books):
    book = books["clerk"]
    up = book.remediation("scale-up")
    assert up.replicas >= 4  # type: ignore[union-attr]
    assert up.revert is not None and up.revert.remediation == "scale-down"
    assert book.remediation("scale-down").replicas == 2  # type: ignore[union-attr]


def test_clerk_security_question_is_left_to_the_responder(books):
    tree = books["clerk"].decision_tree
    assert tree is not None
    node = tree.node("security-incident")
    assert node.when is None
    assert tree.node(node.yes).checklist == "security-breach-response"  # type: ignore[arg-type]


def test_predicates_name_only_known_signals(books):
    for book in books.values():
        known = {s.id for s in book.signals} | set(BUILTIN_SIGNALS)
        assert book.decision_tree is not None
        for node in book.decision_tree.nodes:
            stack = [node.when] if node.when is not None else []
            while stack:
                condition = stack.pop()
                if isinstance(condition, Predicate):
                    assert condition.signal in known
                elif isinstance(condition, AnyOf):
                    stack += condition.any
                elif isinstance(condition, AllOf):
                    stack += condition.all
                else:
                    stack.append(condition.not_)


# --------------------------------------------------------------------------- remediations


@pytest.mark.parametrize("runbook_id", sorted(BUNDLED_IDS))
def test_every_remediation_has_a_command_a_revert_and_the_right_danger(books, runbook_id):
    for remediation in books[runbook_id].remediations:
        assert remediation.command, remediation.id
        revert = remediation.revert.kind if remediation.revert else None
        if remediation.kind == "set_env":
            assert revert == "previous_env", remediation.id
        if remediation.kind == "rollout_restart":
            assert revert == "rollout_undo", remediation.id
        if remediation.kind in ("rollout_undo", "rotate_secret"):
            assert remediation.destructive, remediation.id
        if remediation.kind == "scale" and remediation.replicas == 0:
            assert remediation.destructive, remediation.id
        if remediation.kind == "http" and remediation.url.endswith("/ban"):
            assert remediation.destructive, remediation.id
        if remediation.kind == "set_env" and "CLERK_EMERGENCY_BYPASS" in remediation.env:
            assert remediation.destructive, remediation.id
        if remediation.kind in ("set_env", "rollout_restart", "rollout_undo", "scale"):
            assert books[runbook_id].service.deployment in remediation.command, remediation.id


@pytest.mark.parametrize(("runbook_id", "vendor"), [("clay", "Clay"), ("instantly", "Instantly")])
def test_immediate_actions_by_error_type(books, runbook_id, vendor):
    book = books[runbook_id]
    categories = {c.id: c for c in book.categories}
    assert [(c.title, c.codes) for c in book.categories] == [
        ("401/403 - Authentication", ["401", "403"]),
        ("429 - Rate Limited", ["429"]),
        (f"500/503 - {vendor} Errors", ["500", "503"]),
    ]
    actions = {cid: [item.text for item in c.actions] for cid, c in categories.items()}
    assert actions["auth"] == [
        "Verify API key is set",
        f"Check if key was rotated → Verify in {vendor} dashboard",
        "Remediation: Update secret and restart pods",
    ]
    assert actions["rate_limit"] == [
        "Check rate limit headers",
        "Enable request queuing",
        f"Long-term: Contact {vendor} for limit increase",
    ]
    assert actions["server_errors"] == [
        "Enable graceful degradation",
        "Notify users of degraded service",
        "Update status page",
        f"Monitor {vendor} status for resolution",
    ]
    rotate = book.remediation("rotate-api-key")
    secret = f"{runbook_id}-secrets"
    assert (rotate.secret, rotate.key, rotate.restart) == (secret, "api-key", True)  # type: ignore[union-attr]
    assert f"kubectl create secret generic {secret}" in (rotate.command or "")
    assert f"kubectl rollout restart deployment/{runbook_id}-integration" in (rotate.command or "")


def test_no_triage_command_prints_a_whole_secret(books):
    for book in books.values():
        for command in [*book.triage, *book.evidence]:
            if "get secret" in command.command:
                assert "| cut -c1-4" in command.command, command.id


# --------------------------------------------------------------------------- triage, evidence


@pytest.mark.parametrize("vendor", ["clay", "instantly"])
def test_quick_triage_and_evidence_commands(books, vendor):
    book = books[vendor]
    triage = [(t.title, t.command) for t in book.triage]
    assert triage[:4] == [
        (
            f"Check {vendor.capitalize()} status",
            f"curl -s https://status.{vendor}.com/api/v2/status.json | jq '.status'",
        ),
        (
            "Check our integration health",
            f"curl -s https://api.yourapp.com/health | jq '.services.{vendor}'",
        ),
        (
            "Check error rate (last 5 min)",
            f"curl -s 'localhost:9090/api/v1/query?query=rate({vendor}_errors_total[5m])'",
        ),
        (
            "Recent error logs",
            f"kubectl logs -n production -l app={vendor}-integration --since=5m"
            " | grep -i error | tail -20",
        ),
    ]
    evidence = {e.title: e.command for e in book.evidence}
    assert evidence["Generate debug bundle"] == f"./scripts/{vendor}-debug-bundle.sh"
    assert evidence["Export relevant logs"].endswith("--since=1h > incident-logs.txt")
    assert f"query={vendor}_errors_total" in evidence["Capture metrics"]
    assert evidence["Capture metrics"].endswith("> metrics.json")
    example = book.examples[0]
    assert example.title == "One-Line Health Check"
    assert example.command == (
        f"curl -sf https://api.yourapp.com/health | jq '.services.{vendor}.status'"
        ' || echo "UNHEALTHY"'
    )


# --------------------------------------------------------------------------- comms


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


@pytest.mark.parametrize(("runbook_id", "vendor"), [("clay", "Clay"), ("instantly", "Instantly")])
def test_comms_templates_follow_the_seed_with_placeholders(books, runbook_id, vendor):
    comms = books[runbook_id].comms
    assert comms is not None
    assert comms.internal.body == (
        f"🔴 {{severity}} INCIDENT: {vendor} Integration\n"
        "Status: {status}\n"
        "Impact: {impact}\n"
        "Current action: {current_action}\n"
        "Next update: {next_update}\n"
        "Incident commander: @{commander}"
    )
    # every line of the seed's message survives, with [brackets] turned into placeholders
    seed_lines = _vendorize(INTERNAL_TEMPLATE, vendor).splitlines()
    for seed_line, line in zip(seed_lines, comms.internal.body.splitlines(), strict=True):
        assert seed_line.split(":")[0].replace("P1", "{severity}") == line.split(":")[0]
    assert comms.external.title == f"{vendor} Integration Issue"
    external = [line for line in comms.external.body.splitlines() if line]
    seed_external = _vendorize(EXTERNAL_TEMPLATE, vendor).splitlines()
    assert external == [
        seed_external[0],
        "Some users may experience {impact}.",
        seed_external[2],
        "Last updated: {timestamp}",
    ]


def test_every_template_uses_only_known_placeholders(books):
    for book in books.values():
        if book.comms is None:
            continue
        for template in (book.comms.internal, book.comms.external):
            assert _placeholders(template.title + template.body) <= set(COMMS_PLACEHOLDERS)
        assert {"severity", "status", "impact", "current_action", "next_update", "commander"} <= (
            _placeholders(book.comms.internal.body)
        )


# --------------------------------------------------------------------------- postmortems


@pytest.mark.parametrize(("runbook_id", "vendor"), [("clay", "Clay"), ("instantly", "Instantly")])
def test_incident_postmortem_template(books, runbook_id, vendor):
    postmortem = books[runbook_id].postmortem
    assert postmortem is not None
    assert postmortem.title == f"Incident: {vendor} {{error_type}}"
    assert postmortem.fields == ["date", "duration", "severity"]
    assert postmortem.fields_style == "inline"
    sections = {s.heading: s for s in postmortem.sections}
    assert list(sections) == ["Summary", "Timeline", "Root Cause", "Impact", "Action Items"]
    assert sections["Summary"].placeholder == "1-2 sentence description"
    assert sections["Root Cause"].placeholder == "Technical explanation"
    assert sections["Impact"].items == ["Users affected: N", "Revenue impact: $X"]
    assert sections["Action Items"].placeholder == "[Preventive measure] - Owner - Due date"
    assert sections["Timeline"].fill == "timeline"


def test_clerk_incident_report_template(books):
    postmortem = books["clerk"].postmortem
    assert postmortem is not None
    assert postmortem.title == "Incident Report: {title}"
    assert postmortem.fields_style == "section"
    assert postmortem.fields == ["date", "duration", "severity", "impact"]
    headings = [s.heading for s in postmortem.sections]
    assert headings == ["Timeline", "Root Cause", "Resolution", "Prevention", "Lessons Learned"]
    timeline = postmortem.sections[0]
    assert timeline.items == [
        "HH:MM - Incident detected",
        "HH:MM - Initial response",
        "HH:MM - Mitigation applied",
        "HH:MM - Resolution confirmed",
    ]
    fills = {s.heading: s.fill for s in postmortem.sections}
    assert fills["Resolution"] == "resolution"
    assert fills["Prevention"] == "prevention"
    assert fills["Lessons Learned"] == "lessons"


# --------------------------------------------------------------------------- error handling

EXPECTED_ROUTING = [
    (["status_page", "health"], ["unreachable", "timeout"]),
    (["kubernetes", "logs"], ["auth_expired"]),
    (["prometheus"], ["any"]),
    (["remediation", "kubernetes", "logs"], ["forbidden"]),
]


@pytest.mark.parametrize("runbook_id", sorted(BUNDLED_IDS))
def test_error_handling_rows_and_where_a_fault_finds_them(books, runbook_id):
    book = books[runbook_id]
    rows = [(r.issue, r.cause, r.solution) for r in book.error_handling]
    assert rows == [tuple(row) for row in _pipe_rows(ERROR_HANDLING_TABLE)]
    assert [(r.backends, r.faults) for r in book.error_handling] == EXPECTED_ROUTING

    def solution(backend: str, fault: str) -> str | None:
        row = book.hint_for(backend, fault)
        return row.solution if row else None

    assert solution("status_page", "unreachable") == "Use mobile or VPN"
    assert solution("health", "timeout") == "Use mobile or VPN"
    assert solution("kubernetes", "auth_expired") == "Re-authenticate"
    assert solution("logs", "auth_expired") == "Re-authenticate"
    assert solution("prometheus", "timeout") == "Check backup metrics"
    assert solution("prometheus", "malformed") == "Check backup metrics"
    assert solution("remediation", "forbidden") == "Escalate to admin"
    assert solution("kubernetes", "forbidden") == "Escalate to admin"
    assert solution("kubernetes", "timeout") is None


# --------------------------------------------------------------------------- lists


@pytest.mark.parametrize(("runbook_id", "vendor"), [("clay", "Clay"), ("instantly", "Instantly")])
def test_prerequisites_outputs_and_instructions(books, runbook_id, vendor):
    book = books[runbook_id]
    assert book.overview == f"Rapid incident response procedures for {vendor}-related outages."
    assert book.prerequisites == _vendorize(INCIDENT_PREREQUISITES, vendor).splitlines()
    assert book.outputs == INCIDENT_OUTPUTS.splitlines()
    steps = book.checklists[0].steps
    assert [s.text.split(" - ")[0] for s in steps] == [
        "Step 1: Quick Triage",
        "Step 2: Follow Decision Tree",
        "Step 3: Execute Immediate Actions",
        "Step 4: Communicate Status",
    ]
    assert f"determine if the issue is {vendor}-side or internal." in steps[1].text
    assert [item.text.split(":")[0] for item in steps[2].items] == ["401/403", "429", "500/503"]
    links = [link.url for link in book.links]
    assert f"{runbook_id}-data-handling" in links


def test_prod_checklist_five_steps_with_every_item(books):
    book = books["clay-prod-checklist"]
    assert book.overview == "Complete checklist for deploying Clay integrations to production."
    assert book.outputs == [line.removeprefix("- ") for line in PROD_OUTPUTS.splitlines()]
    expected: list[tuple[str, list[str]]] = []
    for line in PROD_STEPS.splitlines():
        if line.startswith("Step"):
            expected.append((line, []))
        else:
            # the seed lost the command in "All tests passing ()"; the runbook names it
            expected[-1][1].append(line.removeprefix("- ").replace("()", "(npm test)"))
    steps = book.checklists[0].steps
    assert [s.text for s in steps] == [title for title, _ in expected]
    for step, (_, items) in zip(steps[:4], expected[:4], strict=True):
        assert [item.text for item in step.items] == items


def test_prod_checklist_gradual_rollout_pauses_and_waits(books):
    book = books["clay-prod-checklist"]
    rollout = book.checklists[0].steps[4].items

    def shape(item: ChecklistItem) -> str:
        if item.remediation:
            return book.remediation(item.remediation).kind
        if item.wait is not None:
            return f"wait {int(item.wait.total_seconds() // 60)}m {','.join(item.watch)}"
        if item.triage:
            return f"triage {item.triage}"
        return "triage " + ",".join(sub.triage or "" for sub in item.items)

    assert [shape(item) for item in rollout] == [
        "triage staging-health,clay-status",
        "manual",
        "set_image",
        "rollout_pause",
        "wait 10m server_errors,latency_p99",
        "rollout_resume",
        "rollout_pause",
        "wait 5m server_errors,latency_p99",
        "rollout_resume",
        "triage rollout-status",
    ]
    assert "10%" in rollout[2].text and "50%" in rollout[5].text and "100%" in rollout[8].text
    commands = {t.id: t.command for t in book.triage}
    assert commands["staging-health"] == "curl -f https://staging.example.com/health"
    assert commands["clay-status"] == "curl -s https://status.clay.com"
    assert book.remediation("set-image").command.startswith(  # type: ignore[union-attr]
        "kubectl set image deployment/clay-integration"
    )
    rollback = book.remediation("rollback")
    assert rollback.kind == "rollout_undo" and rollback.destructive
    assert "kubectl rollout undo deployment/clay-integration" in (rollback.command or "")
    assert any("clayClient.ping()" in s.code for s in book.snippets)


# --------------------------------------------------------------------------- clerk


def _seed_procedures() -> list[tuple[str, list[tuple[str, list[str]]]]]:
    procedures: list[tuple[str, list[tuple[str, list[str]]]]] = []
    for line in CLERK_PROCEDURES.splitlines():
        if line.startswith("Procedure"):
            procedures.append((line, []))
        elif re.match(r"^\d+\. \[ \] ", line):
            procedures[-1][1].append((line.split("[ ] ", 1)[1], []))
        else:
            procedures[-1][1][-1][1].append(line.split("[ ] ", 1)[1])
    return procedures


def test_clerk_procedures_are_checklists_with_seven_eight_and_seven_steps(books):
    checklists = books["clerk"].checklists
    seed = _seed_procedures()
    assert [len(steps) for _, steps in seed] == [7, 8, 7]
    assert [c.title for c in checklists] == [title for title, _ in seed]
    for checklist, (_, steps) in zip(checklists, seed, strict=True):
        assert [(s.text, [i.text for i in s.items]) for s in checklist.steps] == steps
    outage = checklists[0].steps
    assert [len(outage[3].items), len(outage[4].items)] == [3, 3]
    assert outage[3].items[0].remediation == "emergency-bypass"
    assert outage[4].items[1].remediation == "rollback"


def test_clerk_incident_categories(books):
    book = books["clerk"]
    lines = CLERK_CATEGORIES.splitlines()
    expected = [(lines[i], lines[i + 1].removeprefix("Symptoms: ")) for i in range(0, 8, 2)]
    assert [(c.title, c.symptoms) for c in book.categories] == expected
    for category in book.categories:
        assert category.actions, category.id


def test_clerk_emergency_bypass_and_user_lockout_remediations(books):
    book = books["clerk"]
    bypass = book.remediation("emergency-bypass")
    assert bypass.kind == "set_env"
    assert bypass.env == {"CLERK_EMERGENCY_BYPASS": "true"}  # type: ignore[union-attr]
    assert bypass.destructive
    assert bypass.revert is not None and bypass.revert.kind == "previous_env"

    for rid in ("revoke-sessions", "lockout-user"):
        call = book.remediation(rid)
        assert call.kind == "http"
        assert call.url.startswith("https://api.clerk.com/v1/")  # type: ignore[union-attr]
        assert call.auth_env == "CLERK_SECRET_KEY"  # type: ignore[union-attr]
        assert [p.name for p in call.params] == ["user_id"]
        assert "{user_id}" in call.url  # type: ignore[union-attr]
        assert call.destructive
    lockout = book.remediation("lockout-user")
    assert (lockout.method, lockout.url) == (  # type: ignore[union-attr]
        "POST",
        "https://api.clerk.com/v1/users/{user_id}/ban",
    )
    resync = book.remediation("resync-users")
    assert resync.kind == "manual" and resync.command == "npx tsx scripts/resync-users.ts"

    snippets = {s.id: s for s in book.snippets}
    assert (
        "process.env.CLERK_EMERGENCY_BYPASS === 'true'"
        in snippets["emergency-bypass-middleware"].code
    )
    assert "async function resyncAllUsers()" in snippets["resync-users"].code
    assert "client.sessions.revokeSession(session.id)" in snippets["emergency-session-revoke"].code
    assert "client.users.banUser(userId)" in snippets["emergency-lockout"].code
    assert "results.getUserList > 500" in snippets["diagnose-performance"].code
    assert all(s.language == "typescript" for k, s in snippets.items() if k != "incident-contacts")


def test_clerk_contacts_and_escalation_levels(books):
    escalation = books["clerk"].escalation
    on_call, support = escalation.contacts
    assert (on_call.name, on_call.phone, on_call.slack) == (
        "On-Call Engineer",
        "+1-xxx-xxx-xxxx",
        "@oncall",
    )
    assert (support.url, support.email) == ("https://clerk.com/support", "support@clerk.com")
    assert "For enterprise" in (support.note or "") and "account manager" in (support.note or "")

    seed_levels = re.findall(
        r'level: (\d)\n\s+contact: "([^"]+)"\n\s+time: "([^"]+)"', CLERK_ESCALATION
    )
    assert len(seed_levels) == 3
    for level, (number, contact, window) in zip(escalation.levels, seed_levels, strict=True):
        assert (level.level, level.contact) == (int(number), contact)
        start, end = re.fullmatch(r"(\d+)(?:-(\d+)|\+) min", window).groups()  # type: ignore[union-attr]
        assert level.after == timedelta(minutes=int(start))
        assert level.until == (timedelta(minutes=int(end)) if end else None)


def test_clerk_prerequisites_outputs_and_overview(books):
    book = books["clerk"]
    assert book.overview == "Procedures for responding to Clerk-related incidents in production."
    assert book.prerequisites == [
        "Access to Clerk dashboard",
        "Access to application logs",
        "Emergency contact list",
        "Rollback procedures documented",
    ]
    assert book.outputs == [line.removeprefix("- ") for line in CLERK_OUTPUTS.splitlines()]
    assert "clerk-data-handling" in [link.url for link in book.links]
