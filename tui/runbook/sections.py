"""The sections of a runbook: the vendor and service, signals, the decision tree,
categories, checklists, comms, the postmortem, error handling and escalation."""

from __future__ import annotations

import re
import string
from datetime import timedelta
from typing import Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from tui.runbook.fields import Duration, Identifier, Strict

# --------------------------------------------------------------------------- identity


class Link(Strict):
    title: str
    url: str | None = None
    """Where it points; a related runbook or guide may be named by title alone."""


StatusPageFormat = Literal["statuspage", "instatus", "betterstack", "incidentio", "json"]
"""Whose public JSON the status page serves; each is read from its own path (see
:mod:`tui.sources.status_formats`)."""


class StatusJson(Strict):
    """Where a status page of another kind keeps its state (``status_page_format: json``):
    dotted paths into its JSON (``status.overall``; ``items.0.name`` for list items)."""

    path: str = ""
    """Appended to ``status_page`` to get the JSON (``/api/status``)."""
    indicator: str
    """The path to the overall state (a string)."""
    ok: list[str] = Field(min_length=1)
    """The state's values that mean operational."""
    major: list[str] = []
    """The values that mean a major outage; any other value than ``ok`` is minor."""
    maintenance: list[str] = []
    description: str | None = None
    """The path to a sentence describing the state."""
    incidents: str | None = None
    """The path to a list of open incidents; each an object with ``name`` (or ``title``)."""


class Vendor(Strict):
    name: str
    """The vendor's display name, e.g. ``Clay``."""
    status_page: str
    """Base URL of the vendor's status page (for Statuspage, ``/api/v2/summary.json`` is
    appended)."""
    status_page_format: StatusPageFormat = "statuspage"
    """``statuspage`` (Atlassian, the default), ``instatus``, ``betterstack``,
    ``incidentio`` or ``json`` (with ``status_page_json``)."""
    status_page_api: str | None = None
    """The JSON's URL when it is not where the format keeps it under ``status_page``."""
    status_page_json: StatusJson | None = None

    @model_validator(mode="after")
    def _json_needs_paths(self) -> Vendor:
        if self.status_page_format == "json" and self.status_page_json is None:
            raise ValueError('status_page_format "json" needs status_page_json (the paths)')
        return self

    dashboard: str | None = None
    """The vendor's own dashboard, shown as a link."""


class Service(Strict):
    namespace: str
    deployment: str
    selector: str
    """Label selector of the pods, as kubectl takes it: ``app=clay-integration``."""
    container: str | None = None
    """The container whose env and logs matter; the first one when unset."""
    secret: str | None = None
    """Name of the Secret holding the vendor credentials."""
    secret_key: str = "api-key"
    """Key inside that Secret that holds the API key."""


Level = Literal["P1", "P2", "P3", "P4"]


class Severity(Strict):
    level: Level
    definition: str
    response_time: Duration
    response_time_label: str | None = None
    """How the response time is said in words when a duration alone misleads
    (``Next business day``)."""
    example: str


# --------------------------------------------------------------------------- signals

Comparison = Literal[">", ">=", "<", "<=", "==", "!="]


class AlertRule(Strict):
    op: Comparison
    value: float
    severity: Level


class Signal(Strict):
    id: Identifier
    name: str
    """What the alert is called (``Rate Limited``)."""
    query: str
    """A PromQL instant-vector expression; its single value is the reading."""
    unit: str
    """How the value is shown after the number: ``/min``, ``ms``, ``%``."""
    alert: AlertRule | None = None
    error_class: str | None = None
    """The id of the category (error class) this signal measures, for ranking remediations."""
    description: str | None = None


class Health(Strict):
    url: str
    path: str = Field(pattern=r"^(\.[A-Za-z0-9_-]+)+$")
    """The jq-style path of our service's health object for this vendor, e.g. ``.services.clay``."""
    healthy: list[str] = ["healthy", "ok", "up"]
    """Values of the object's ``status`` that mean healthy; anything else is unhealthy."""


class Logs(Strict):
    selector: str | None = None
    """Label selector of the pods to tail; the service's selector when unset."""
    container: str | None = None
    since: Duration = timedelta(minutes=5)
    error_pattern: str = r"(?i)\berror\b"
    """A Python regular expression; a line that matches it is an error line."""

    @field_validator("error_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"is not a valid regular expression: {exc}") from None
        return value


# --------------------------------------------------------------------------- decision tree

BUILTIN_SIGNALS = ("vendor.indicator", "vendor.incidents", "health.status", "health.latency_ms")
"""Signal ids a predicate may use besides the runbook's own signals:
the status page indicator (``none|minor|major|critical``), the count of open vendor incidents,
our health object's ``status`` and its ``latency_ms``."""


class Predicate(Strict):
    """``{signal: rate_limited, op: ">", value: 5}``: true when the reading compares so."""

    signal: str
    op: Literal[">", ">=", "<", "<=", "==", "!=", "in", "not_in"]
    value: float | str | list[str]

    @model_validator(mode="after")
    def _value_fits_op(self) -> Predicate:
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise ValueError(f'op "{self.op}" needs a list value')
        if self.op in (">", ">=", "<", "<=") and not isinstance(self.value, int | float):
            raise ValueError(f'op "{self.op}" needs a number value')
        return self


class AnyOf(Strict):
    any: list[Condition] = Field(min_length=1)


class AllOf(Strict):
    all: list[Condition] = Field(min_length=1)


class Not(Strict):
    not_: Condition = Field(alias="not")


Condition = Predicate | AnyOf | AllOf | Not
"""A predicate, or ``any:`` / ``all:`` of conditions, or ``not:`` one."""

AnyOf.model_rebuild()
AllOf.model_rebuild()
Not.model_rebuild()


class DecisionNode(Strict):
    """A question (``question``, ``yes``, ``no``) or a leaf (``conclusion``)."""

    id: Identifier
    question: str | None = None
    when: Condition | None = None
    """Answers the question from live signals; without it the responder answers."""
    yes: Identifier | None = None
    no: Identifier | None = None
    conclusion: str | None = None
    remediations: list[Identifier] = []
    by_category: dict[Identifier, list[Identifier]] = {}
    """Remediations grouped by error class (category id): the group of the dominant class
    is offered first."""
    checklist: Identifier | None = None
    """A checklist to open from this leaf."""

    @model_validator(mode="after")
    def _question_or_leaf(self) -> DecisionNode:
        if self.question is not None:
            if self.yes is None or self.no is None:
                raise ValueError("a question needs both `yes` and `no`")
            if self.conclusion is not None or self.remediations or self.by_category:
                raise ValueError("a node is a question or a leaf (`conclusion`), not both")
        elif self.conclusion is None:
            raise ValueError("a node needs a `question` (with yes/no) or a `conclusion`")
        elif self.yes is not None or self.no is not None or self.when is not None:
            raise ValueError("a leaf (`conclusion`) has no `yes`, `no` or `when`")
        return self

    @property
    def is_leaf(self) -> bool:
        return self.conclusion is not None


class DecisionTree(Strict):
    root: Identifier
    nodes: list[DecisionNode] = Field(min_length=1)

    def node(self, node_id: str) -> DecisionNode:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)


# --------------------------------------------------------------------------- checklists


class ChecklistItem(Strict):
    text: str
    items: list[ChecklistItem] = []
    remediation: Identifier | None = None
    """A remediation this item runs."""
    triage: Identifier | None = None
    """A triage command this item shows, ready to copy."""
    wait: Duration | None = None
    """Watch the signals for this long before going on (a canary pause)."""
    watch: list[Identifier] = []
    """Signals to watch during ``wait``."""


class Checklist(Strict):
    id: Identifier
    title: str
    description: str | None = None
    steps: list[ChecklistItem] = Field(min_length=1)
    origin: Identifier | None = None
    """The related runbook this checklist was carried from (set when it is carried, see
    ``related``; a runbook's own checklists leave it unset)."""


class Category(Strict):
    """A kind of incident: an error class (``401/403``) or a category (``Complete Auth Outage``)."""

    id: Identifier
    title: str
    codes: list[str] = []
    """HTTP status codes of this error class, as strings: ``["401", "403"]``."""
    signal: Identifier | None = None
    """The signal that measures this class; the largest reading marks the dominant class."""
    symptoms: str | None = None
    actions: list[ChecklistItem] = []


class TriageCommand(Strict):
    id: Identifier
    title: str
    command: str
    description: str | None = None


class Snippet(Strict):
    """Reference code from the runbook (a middleware, a recovery script)."""

    id: Identifier
    title: str
    language: str
    code: str


# --------------------------------------------------------------------------- communication

COMMS_PLACEHOLDERS = (
    "severity",
    "status",
    "title",
    "vendor",
    "impact",
    "current_action",
    "next_update",
    "commander",
    "timestamp",
    "elapsed",
)
"""The names a communication template may use as ``{name}``."""


class Template(Strict):
    title: str
    body: str

    @field_validator("title", "body")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        try:
            names = [field for _, field, _, _ in string.Formatter().parse(value) if field]
        except ValueError as exc:
            raise ValueError(f"has a broken placeholder: {exc}") from None
        unknown = sorted(set(names) - set(COMMS_PLACEHOLDERS))
        if unknown:
            raise ValueError(
                f"uses unknown placeholder {{{unknown[0]}}}; known: {', '.join(COMMS_PLACEHOLDERS)}"
            )
        return value


class Comms(Strict):
    internal: Template
    """The internal message (Slack)."""
    external: Template
    """The public status-page update."""
    update_every: Duration = timedelta(minutes=30)
    """How often stakeholders expect an update."""


Fill = Literal[
    "summary",
    "timeline",
    "root_cause",
    "impact",
    "resolution",
    "decision_path",
    "remediations",
    "checklists",
    "comms",
    "action_items",
    "prevention",
    "lessons",
]


class PostmortemSection(Strict):
    heading: str
    fill: Fill | None = None
    """What the record fills this section with; left to a human when unset."""
    placeholder: str | None = None
    """What the human writes here, shown as a marked placeholder."""
    items: list[str] = []
    """Bullet lines of the template (``Users affected: N``)."""


class Postmortem(Strict):
    title: str
    """The heading; may use ``{vendor}``, ``{error_type}`` and ``{title}``."""
    fields: list[Literal["date", "duration", "severity", "impact", "status"]] = [
        "date",
        "duration",
        "severity",
    ]
    fields_style: Literal["inline", "section"] = "inline"
    """``inline``: ``Date: … Duration: … Severity: …`` under the title;
    ``section``: a ``Summary`` section listing them."""
    sections: list[PostmortemSection] = Field(min_length=1)


# --------------------------------------------------------------------------- error handling

Backend = Literal["status_page", "health", "prometheus", "kubernetes", "logs", "remediation"]
FaultKind = Literal[
    "unreachable", "timeout", "server_error", "malformed", "auth_expired", "forbidden", "any"
]


class ErrorHandling(Strict):
    issue: str
    cause: str
    solution: str
    backends: list[Backend] = []
    """The backends this row applies to, so a fault can show its hint."""
    faults: list[FaultKind] = ["any"]


class Contact(Strict):
    group: str
    name: str | None = None
    role: str | None = None
    phone: str | None = None
    slack: str | None = None
    email: str | None = None
    url: str | None = None
    note: str | None = None


class EscalationLevel(Strict):
    level: int = Field(ge=1)
    contact: str
    after: Duration
    """Elapsed time since declaration from which this level is due."""
    until: Duration | None = None


class Escalation(Strict):
    contacts: list[Contact] = []
    levels: list[EscalationLevel] = []


class Example(Strict):
    title: str
    description: str | None = None
    command: str | None = None
