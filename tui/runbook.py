"""The runbook schema (one YAML file per vendor) and its loader with clear errors."""

from __future__ import annotations

import os
import re
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from tui.errors import Problem, RunbookError

__all__ = [
    "BUILTIN_SIGNALS",
    "COMMS_PLACEHOLDERS",
    "Backend",
    "Catalog",
    "Category",
    "ChecklistItem",
    "Comparison",
    "DecisionNode",
    "Duration",
    "FaultKind",
    "Predicate",
    "Remediation",
    "Runbook",
    "RunbookSource",
    "Signal",
    "discover_runbooks",
    "format_duration",
    "load_runbook",
    "parse_duration",
]

# --------------------------------------------------------------------------- durations

_DURATION = re.compile(r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")


def parse_duration(value: object) -> timedelta:
    """Parse ``"15m"``, ``"1h30m"``, ``"4h"``, ``"1d"``, ``"90s"`` into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError('a duration is a string such as "15m", "1h", "1h30m", "1d" or "90s"')
    match = _DURATION.match(value)
    if not match or not any(match.groups()):
        raise ValueError(
            f'"{value}" is not a duration; write it like "15m", "1h", "1h30m", "1d" or "90s"'
        )
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The inverse of :func:`parse_duration`: ``timedelta(minutes=90)`` -> ``"1h30m"``."""
    total = int(value.total_seconds())
    if total == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]
"""A duration written in the runbook as ``15m``, ``1h``, ``1h30m``, ``1d`` or ``90s``."""

Identifier = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]
"""An id: lowercase letters, digits, ``_``, ``-`` and ``.``."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --------------------------------------------------------------------------- identity


class Link(_Strict):
    title: str
    url: str | None = None
    """Where it points; a related runbook or guide may be named by title alone."""


class Vendor(_Strict):
    name: str
    """The vendor's display name, e.g. ``Clay``."""
    status_page: str
    """Base URL of the vendor's Atlassian Statuspage (``/api/v2/status.json`` is appended)."""
    dashboard: str | None = None
    """The vendor's own dashboard, shown as a link."""


class Service(_Strict):
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


class Severity(_Strict):
    level: Level
    definition: str
    response_time: Duration
    response_time_label: str | None = None
    """How the response time is said in words when a duration alone misleads
    (``Next business day``)."""
    example: str


# --------------------------------------------------------------------------- signals

Comparison = Literal[">", ">=", "<", "<=", "==", "!="]


class AlertRule(_Strict):
    op: Comparison
    value: float
    severity: Level


class Signal(_Strict):
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


class Health(_Strict):
    url: str
    path: str = Field(pattern=r"^(\.[A-Za-z0-9_-]+)+$")
    """The jq-style path of our service's health object for this vendor, e.g. ``.services.clay``."""
    healthy: list[str] = ["healthy", "ok", "up"]
    """Values of the object's ``status`` that mean healthy; anything else is unhealthy."""


class Logs(_Strict):
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


class Predicate(_Strict):
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


class AnyOf(_Strict):
    any: list[Condition] = Field(min_length=1)


class AllOf(_Strict):
    all: list[Condition] = Field(min_length=1)


class Not(_Strict):
    not_: Condition = Field(alias="not")


Condition = Predicate | AnyOf | AllOf | Not
"""A predicate, or ``any:`` / ``all:`` of conditions, or ``not:`` one."""

AnyOf.model_rebuild()
AllOf.model_rebuild()
Not.model_rebuild()


class DecisionNode(_Strict):
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


class DecisionTree(_Strict):
    root: Identifier
    nodes: list[DecisionNode] = Field(min_length=1)

    def node(self, node_id: str) -> DecisionNode:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)


# --------------------------------------------------------------------------- remediations


class Revert(_Strict):
    """How a remediation is undone."""

    kind: Literal["previous_env", "rollout_undo", "remediation", "manual"]
    remediation: Identifier | None = None
    """With ``kind: remediation``: the remediation that undoes this one."""
    note: str | None = None

    @model_validator(mode="after")
    def _needs_target(self) -> Revert:
        if self.kind == "remediation" and self.remediation is None:
            raise ValueError("`kind: remediation` needs `remediation: <id>`")
        return self


class Param(_Strict):
    """A value the responder is asked for before the remediation runs (``{user_id}``)."""

    name: Identifier
    prompt: str
    secret: bool = False
    pattern: str | None = None


class _RemediationBase(_Strict):
    id: Identifier
    title: str
    description: str | None = None
    destructive: bool = False
    revert: Revert | None = None
    command: str | None = None
    """The equivalent shell command, shown for reference."""
    hint: str | None = None
    """What to do if it fails, beyond the error-handling table."""
    params: list[Param] = []


class SetEnv(_RemediationBase):
    kind: Literal["set_env"]
    env: dict[str, str | None] = Field(min_length=1)
    """Variables to set; ``null`` removes one."""
    container: str | None = None


class RolloutRestart(_RemediationBase):
    kind: Literal["rollout_restart"]


class RolloutUndo(_RemediationBase):
    kind: Literal["rollout_undo"]
    destructive: bool = True
    to_revision: int | None = None
    """The revision to roll back to; the previous one when unset."""


class RolloutPause(_RemediationBase):
    kind: Literal["rollout_pause"]


class RolloutResume(_RemediationBase):
    kind: Literal["rollout_resume"]


class Scale(_RemediationBase):
    kind: Literal["scale"]
    replicas: int = Field(ge=0)

    @model_validator(mode="after")
    def _zero_is_destructive(self) -> Scale:
        if self.replicas == 0 and not self.destructive:
            raise ValueError("scaling to 0 replicas must be marked `destructive: true`")
        return self


class SetImage(_RemediationBase):
    kind: Literal["set_image"]
    image: str | None = None
    """The new image; asked for when unset."""
    container: str | None = None


class RotateSecret(_RemediationBase):
    kind: Literal["rotate_secret"]
    destructive: bool = True
    secret: str | None = None
    """The Secret to change; the service's secret when unset."""
    key: str | None = None
    """The key to replace; the service's secret_key when unset."""
    restart: bool = True
    """Restart the deployment afterwards so the pods read the new value."""


class HttpCall(_RemediationBase):
    kind: Literal["http"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    url: str
    """May hold ``{param}`` placeholders filled from ``params``."""
    headers: dict[str, str] = {}
    body: dict[str, Any] | None = None
    auth_env: str | None = None
    """Name of the environment variable holding the bearer token (never shown in full)."""
    expect_status: list[int] = [200, 201, 202, 204]
    each: str | None = None
    """For list-then-act calls: a jq-style path in the first answer naming the items to act
    on (``.[].id``, ``.data[].id``); each item is sent with ``then``."""
    then: HttpStep | None = None
    """The request sent once per item of ``each``; its url may use ``{item}`` and params."""

    @model_validator(mode="after")
    def _each_needs_then(self) -> HttpCall:
        if (self.each is None) != (self.then is None):
            raise ValueError("`each` and `then` go together: list with the call, act with `then`")
        return self


class HttpStep(_Strict):
    """One request of a list-then-act remediation."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    url: str
    body: dict[str, Any] | None = None
    expect_status: list[int] = [200, 201, 202, 204]


class Manual(_RemediationBase):
    kind: Literal["manual"]
    steps: list[str] = []
    """What to do by hand; ``command`` holds the command to run, if any."""


HttpCall.model_rebuild()

Remediation = Annotated[
    SetEnv
    | RolloutRestart
    | RolloutUndo
    | RolloutPause
    | RolloutResume
    | Scale
    | SetImage
    | RotateSecret
    | HttpCall
    | Manual,
    Field(discriminator="kind"),
]


# --------------------------------------------------------------------------- checklists


class ChecklistItem(_Strict):
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


class Checklist(_Strict):
    id: Identifier
    title: str
    description: str | None = None
    steps: list[ChecklistItem] = Field(min_length=1)


class Category(_Strict):
    """A kind of incident: an error class (``401/403``) or a category (``Complete Auth Outage``)."""

    id: Identifier
    title: str
    codes: list[str] = []
    """HTTP status codes of this error class, as strings: ``["401", "403"]``."""
    signal: Identifier | None = None
    """The signal that measures this class; the largest reading marks the dominant class."""
    symptoms: str | None = None
    actions: list[ChecklistItem] = []


class TriageCommand(_Strict):
    id: Identifier
    title: str
    command: str
    description: str | None = None


class Snippet(_Strict):
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


class Template(_Strict):
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


class Comms(_Strict):
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


class PostmortemSection(_Strict):
    heading: str
    fill: Fill | None = None
    """What the record fills this section with; left to a human when unset."""
    placeholder: str | None = None
    """What the human writes here, shown as a marked placeholder."""
    items: list[str] = []
    """Bullet lines of the template (``Users affected: N``)."""


class Postmortem(_Strict):
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


class ErrorHandling(_Strict):
    issue: str
    cause: str
    solution: str
    backends: list[Backend] = []
    """The backends this row applies to, so a fault can show its hint."""
    faults: list[FaultKind] = ["any"]


class Contact(_Strict):
    group: str
    name: str | None = None
    role: str | None = None
    phone: str | None = None
    slack: str | None = None
    email: str | None = None
    url: str | None = None
    note: str | None = None


class EscalationLevel(_Strict):
    level: int = Field(ge=1)
    contact: str
    after: Duration
    """Elapsed time since declaration from which this level is due."""
    until: Duration | None = None


class Escalation(_Strict):
    contacts: list[Contact] = []
    levels: list[EscalationLevel] = []


class Example(_Strict):
    title: str
    description: str | None = None
    command: str | None = None


# --------------------------------------------------------------------------- the runbook


class Runbook(_Strict):
    schema_version: Literal[1] = 1
    id: Identifier
    title: str
    overview: str
    prerequisites: list[str] = []
    vendor: Vendor
    service: Service
    severities: list[Severity] = Field(min_length=1)
    signals: list[Signal] = []
    health: Health | None = None
    logs: Logs = Logs()
    decision_tree: DecisionTree | None = None
    categories: list[Category] = []
    remediations: list[Remediation] = []
    triage: list[TriageCommand] = []
    checklists: list[Checklist] = []
    comms: Comms | None = None
    evidence: list[TriageCommand] = []
    """Evidence collection commands, for reference next to the bundle the export writes."""
    postmortem: Postmortem | None = None
    error_handling: list[ErrorHandling] = []
    escalation: Escalation = Escalation()
    outputs: list[str] = []
    """What a finished response has produced."""
    examples: list[Example] = []
    snippets: list[Snippet] = []
    links: list[Link] = []

    @model_validator(mode="after")
    def _cross_references(self) -> Runbook:
        check_references(self)
        return self

    # lookups ---------------------------------------------------------------

    def remediation(self, remediation_id: str) -> Remediation:
        for remediation in self.remediations:
            if remediation.id == remediation_id:
                return remediation
        raise KeyError(remediation_id)

    def signal(self, signal_id: str) -> Signal:
        for signal in self.signals:
            if signal.id == signal_id:
                return signal
        raise KeyError(signal_id)

    def severity(self, level: str) -> Severity:
        for severity in self.severities:
            if severity.level == level:
                return severity
        raise KeyError(level)

    def hint_for(self, backend: str, fault: str) -> ErrorHandling | None:
        """The error-handling row for a fault of a backend: an exact fault match first."""
        rows = [row for row in self.error_handling if backend in row.backends]
        for row in rows:
            if fault in row.faults:
                return row
        for row in rows:
            if "any" in row.faults:
                return row
        return None


class _Refs:
    """Collects dangling-reference problems as (location, message) pairs."""

    def __init__(self) -> None:
        self.problems: list[tuple[tuple[str | int, ...], str]] = []

    def check(
        self, loc: tuple[str | int, ...], value: str | None, known: set[str], kind: str
    ) -> None:
        if value is not None and value not in known:
            self.problems.append((loc, f'names {kind} "{value}", which does not exist'))


def _walk_items(
    items: Iterable[ChecklistItem], loc: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], ChecklistItem]]:
    for index, item in enumerate(items):
        here = (*loc, index)
        yield here, item
        yield from _walk_items(item.items, (*here, "items"))


def _duplicates(
    values: Iterable[tuple[tuple[str | int, ...], str]], what: str
) -> list[tuple[tuple[str | int, ...], str]]:
    seen: dict[str, tuple[str | int, ...]] = {}
    found = []
    for loc, value in values:
        if value in seen:
            found.append((loc, f'duplicate {what} id "{value}"'))
        else:
            seen[value] = loc
    return found


class CrossReferenceError(ValueError):
    """Raised by :func:`check_references` with every dangling reference it found."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(message for _, message in problems))


def check_references(book: Runbook) -> None:
    """Every id a runbook names must exist, and ids of one kind must be unique."""
    refs = _Refs()
    for key, collection in (
        ("remediations", book.remediations),
        ("signals", book.signals),
        ("checklists", book.checklists),
        ("categories", book.categories),
        ("triage", book.triage),
    ):
        refs.problems += _duplicates(
            (((key, i, "id"), item.id) for i, item in enumerate(collection)), key.rstrip("s")
        )
    if len({s.level for s in book.severities}) != len(book.severities):
        refs.problems.append((("severities",), "each severity level may appear only once"))

    remediations = {r.id for r in book.remediations}
    signals = {s.id for s in book.signals} | set(BUILTIN_SIGNALS)
    triage = {t.id for t in book.triage} | {e.id for e in book.evidence}
    checklists = {c.id for c in book.checklists}
    categories = {c.id for c in book.categories}

    def check_items(items: Iterable[ChecklistItem], loc: tuple[str | int, ...]) -> None:
        for here, item in _walk_items(items, loc):
            refs.check((*here, "remediation"), item.remediation, remediations, "remediation")
            refs.check((*here, "triage"), item.triage, triage, "triage command")
            for i, watched in enumerate(item.watch):
                refs.check((*here, "watch", i), watched, signals, "signal")

    for i, checklist in enumerate(book.checklists):
        check_items(checklist.steps, ("checklists", i, "steps"))
    for i, category in enumerate(book.categories):
        refs.check(("categories", i, "signal"), category.signal, signals, "signal")
        check_items(category.actions, ("categories", i, "actions"))
    for i, signal in enumerate(book.signals):
        refs.check(("signals", i, "error_class"), signal.error_class, categories, "category")
    for i, remediation in enumerate(book.remediations):
        if remediation.revert and remediation.revert.kind == "remediation":
            refs.check(
                ("remediations", i, "revert", "remediation"),
                remediation.revert.remediation,
                remediations,
                "remediation",
            )
        if remediation.kind == "http":
            declared = {p.name for p in remediation.params}
            used = {f for _, f, _, _ in string.Formatter().parse(remediation.url) if f}
            if remediation.then is not None:
                used |= {f for _, f, _, _ in string.Formatter().parse(remediation.then.url) if f}
                used.discard("item")
            for name in sorted(used - declared):
                refs.problems.append(
                    (("remediations", i, "url"), f"uses {{{name}}} but no param of that name")
                )

    tree = book.decision_tree
    if tree is not None:
        ids = [n.id for n in tree.nodes]
        refs.problems += _duplicates(
            ((("decision_tree", "nodes", i, "id"), n) for i, n in enumerate(ids)), "node"
        )
        known_nodes = set(ids)
        refs.check(("decision_tree", "root"), tree.root, known_nodes, "node")
        for i, node in enumerate(tree.nodes):
            loc: tuple[str | int, ...] = ("decision_tree", "nodes", i)
            refs.check((*loc, "yes"), node.yes, known_nodes, "node")
            refs.check((*loc, "no"), node.no, known_nodes, "node")
            refs.check((*loc, "checklist"), node.checklist, checklists, "checklist")
            for j, rem in enumerate(node.remediations):
                refs.check((*loc, "remediations", j), rem, remediations, "remediation")
            for category_id, group in node.by_category.items():
                place = (*loc, "by_category", category_id)
                refs.check(place, category_id, categories, "category")
                for j, rem in enumerate(group):
                    refs.check((*place, j), rem, remediations, "remediation")
            if node.when is not None:
                for sub_loc, predicate in _predicates(node.when, (*loc, "when")):
                    refs.check((*sub_loc, "signal"), predicate.signal, signals, "signal")
        if not refs.problems:
            _check_acyclic(tree, refs)
    if refs.problems:
        raise CrossReferenceError(refs.problems)


def _predicates(
    condition: Condition, loc: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], Predicate]]:
    if isinstance(condition, Predicate):
        yield loc, condition
    elif isinstance(condition, AnyOf):
        for i, sub in enumerate(condition.any):
            yield from _predicates(sub, (*loc, "any", i))
    elif isinstance(condition, AllOf):
        for i, sub in enumerate(condition.all):
            yield from _predicates(sub, (*loc, "all", i))
    else:
        yield from _predicates(condition.not_, (*loc, "not"))


def _check_acyclic(tree: DecisionTree, refs: _Refs) -> None:
    index = {n.id: i for i, n in enumerate(tree.nodes)}

    def visit(node_id: str, path: tuple[str, ...]) -> None:
        if node_id in path:
            refs.problems.append(
                (
                    ("decision_tree", "nodes", index[node_id]),
                    f'the tree loops back to "{node_id}" ({" -> ".join((*path, node_id))})',
                )
            )
            return
        node = tree.node(node_id)
        for child in (node.yes, node.no):
            if child is not None:
                visit(child, (*path, node_id))

    visit(tree.root, ())


# --------------------------------------------------------------------------- loading


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe loader that refuses duplicate keys and reads only ``true``/``false`` as booleans
    (YAML 1.2), so ``yes:`` and ``no:`` stay the keys a decision tree needs."""


_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _construct_mapping(
    loader: _LineLoader, node: yaml.MappingNode, deep: bool = False
) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f'duplicate key "{key}" (first on line {seen[key] + 1})',
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=deep)
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


MAX_RUNBOOK_BYTES = 1024 * 1024
"""The largest runbook file read: the bundled ones are 10-30 KB, and a file many times
that is a mistake (a pasted log, a generated file) that would take seconds to validate."""

MAX_RUNBOOK_VALUES = 100_000
"""The most values a runbook may hold once its YAML aliases are expanded: the bundled
ones hold a few thousand, and a few nested aliases (a "billion laughs") can stand for
billions, which validating or indexing would try to build."""


def _check_expansion(node: yaml.Node, path: str) -> None:
    """Refuse a document whose aliases expand past :data:`MAX_RUNBOOK_VALUES`, or refer
    to themselves, naming the line of the anchored value that does it."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(current: yaml.Node) -> int:
        key = id(current)
        known = sizes.get(key)
        if known is not None:
            return known
        if key in open_nodes:
            raise RunbookError(
                Problem(
                    path,
                    current.start_mark.line + 1,
                    "",
                    "a YAML alias refers to the value that contains it (a recursive alias)",
                )
            )
        open_nodes.add(key)
        total = 1
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                total += size(key_node) + size(value_node)
        elif isinstance(current, yaml.SequenceNode):
            for item in current.value:
                total += size(item)
        open_nodes.discard(key)
        if total > MAX_RUNBOOK_VALUES:
            raise RunbookError(
                Problem(
                    path,
                    current.start_mark.line + 1,
                    "",
                    f"YAML aliases expand this value to over {MAX_RUNBOOK_VALUES:,} values "
                    "(an alias bomb); a runbook needs no more than a few thousand",
                )
            )
        sizes[key] = total
        return total

    size(node)


def _line_index(node: yaml.Node | None) -> dict[tuple[str | int, ...], int]:
    """Map every key path of a composed YAML document to its 1-based line."""
    lines: dict[tuple[str | int, ...], int] = {}

    def walk(current: yaml.Node, path: tuple[str | int, ...]) -> None:
        lines.setdefault(path, current.start_mark.line + 1)
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
                lines[(*path, key)] = key_node.start_mark.line + 1
                walk(value_node, (*path, key))
                lines[(*path, key)] = key_node.start_mark.line + 1
        elif isinstance(current, yaml.SequenceNode):
            for i, item in enumerate(current.value):
                walk(item, (*path, i))

    if node is not None:
        walk(node, ())
    return lines


def _data_path(data: Any, loc: Iterable[str | int]) -> tuple[str | int, ...]:
    """The part of a pydantic error location that names real keys of the document.

    Pydantic puts union tags (``set_env``, ``Predicate``) into locations; they are skipped.
    """
    path: list[str | int] = []
    current = data
    for part in loc:
        # two branches, not one `or`: each narrows `current` for its own index type
        if isinstance(current, dict) and part in current:  # noqa: SIM114
            current = current[part]
            path.append(part)
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
            path.append(part)
        elif isinstance(current, dict) and current.get("kind") == part:
            continue
        elif isinstance(current, dict) and part == "not_" and "not" in current:
            current = current["not"]
            path.append("not")
        elif isinstance(current, (dict, list)):
            # a tag or a missing key: keep a missing key (it is the field the user lacks)
            if isinstance(part, str) and not _looks_like_tag(part):
                path.append(part)
                break
        else:
            break
    return tuple(path)


def _looks_like_tag(part: str) -> bool:
    return (
        part[:1].isupper()
        or part.startswith(("function-", "json-or-python", "tagged-union", "union["))
        or "[" in part
    )


def _format_path(path: Iterable[str | int]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _line_for(lines: dict[tuple[str | int, ...], int], path: tuple[str | int, ...]) -> int | None:
    for cut in range(len(path), -1, -1):
        line = lines.get(path[:cut])
        if line is not None:
            return line
    return None


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "is not a field of this schema (unknown key)"
    if kind == "missing":
        return "is required but missing"
    if kind == "union_tag_invalid":
        expected = error.get("ctx", {}).get("expected_tags", "")
        return f"has an unknown kind; expected one of {expected}"
    if kind == "union_tag_not_found":
        return "is required but missing (it says which kind of entry this is)"
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def parse_runbook(text: str, path: str = "<runbook>") -> Runbook:
    """Parse and validate one runbook document; raise :class:`RunbookError` on any problem."""
    if len(text) > MAX_RUNBOOK_BYTES:
        raise RunbookError(Problem(path, None, "", _too_large(len(text))))
    try:
        loader = _LineLoader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _check_expansion(node, path)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        reason = exc.problem or exc.context or "invalid YAML"
        raise RunbookError(Problem(path, line, "", f"YAML syntax error: {reason}")) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(0, exc.position)) + 1
        character = (
            f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        )
        raise RunbookError(
            Problem(path, line, "", f"YAML syntax error: the character {character} is not allowed")
        ) from None
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        raise RunbookError(Problem(path, None, "", f"YAML syntax error: {reason}")) from None
    except RecursionError:
        raise RunbookError(Problem(path, None, "", "the YAML is nested too deeply")) from None
    except ValueError as exc:
        reason = " ".join(str(exc).split())
        raise RunbookError(Problem(path, None, "", f"a value cannot be read: {reason}")) from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise RunbookError(
            Problem(path, 1, "", f"a runbook is a YAML mapping of fields, but this file is {kind}")
        )
    try:
        lines = _line_index(node)
    except RecursionError:
        raise RunbookError(Problem(path, None, "", "the YAML is nested too deeply")) from None
    try:
        return Runbook.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            cross = _cross_reference_problems(error)
            if cross:
                for loc, message in cross:
                    problems.append(
                        Problem(path, _line_for(lines, loc), _format_path(loc), message)
                    )
                continue
            where = _data_path(data, error["loc"])
            if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
                where = (*where, "kind")
            problems.append(
                Problem(path, _line_for(lines, where), _format_path(where), _message(error))
            )
        raise RunbookError(_dedupe(problems)) from None


def _cross_reference_problems(
    error: ErrorDetails,
) -> list[tuple[tuple[str | int, ...], str]]:
    ctx = error.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, CrossReferenceError):
        return inner.problems
    return []


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, int | None, str, str]] = set()
    unique = []
    for problem in problems:
        key = (problem.path, problem.line, problem.field, problem.message)
        if key not in seen:
            seen.add(key)
            unique.append(problem)
    # a union error is reported once per member; keep the most specific member's messages
    return unique


def _too_large(size: int) -> str:
    return (
        f"is {size / 1024 / 1024:.1f} MiB; a runbook file may be at most "
        f"{MAX_RUNBOOK_BYTES // 1024 // 1024} MiB"
    )


def load_runbook(path: str | os.PathLike[str]) -> Runbook:
    """Load one runbook file; raise :class:`RunbookError` naming the file on any problem."""
    name = str(path)
    try:
        with Path(path).open("rb") as file:
            raw = file.read(MAX_RUNBOOK_BYTES + 1)
            if len(raw) > MAX_RUNBOOK_BYTES:
                size = os.fstat(file.fileno()).st_size
                raise RunbookError(Problem(name, None, "", _too_large(max(size, len(raw)))))
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise RunbookError(Problem(name, None, "", "no such file")) from None
    except UnicodeDecodeError as exc:
        raise RunbookError(
            Problem(name, None, "", f"is not UTF-8 text (byte {exc.start})")
        ) from None
    except OSError as exc:
        raise RunbookError(Problem(name, None, "", f"cannot be read: {exc.strerror}")) from None
    return parse_runbook(text, name)


# --------------------------------------------------------------------------- discovery


@dataclass(frozen=True)
class RunbookSource:
    """Where a runbook came from, and whether it replaces a bundled one."""

    runbook: Runbook
    path: Path
    origin: Literal["bundled", "user"]
    replaces: Path | None = None


def user_runbook_dir() -> Path:
    """``$XDG_CONFIG_HOME/incident-tui/runbooks`` (``~/.config/...`` when unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "incident-tui" / "runbooks"


def _yaml_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


@dataclass
class Catalog:
    """Every runbook found, by id, and the problems of the files that failed to load."""

    runbooks: dict[str, RunbookSource]
    problems: list[Problem]

    def get(self, runbook_id: str) -> Runbook:
        """The runbook with this id; :class:`RunbookError` naming the known ids otherwise."""
        source = self.runbooks.get(runbook_id)
        if source is None:
            for problem in self.problems:
                if Path(problem.path).stem == runbook_id:
                    raise RunbookError(self._problems_of(problem.path))
            known = ", ".join(sorted(self.runbooks)) or "none"
            raise RunbookError(
                Problem("runbooks", None, "", f'no runbook with id "{runbook_id}" (known: {known})')
            )
        return source.runbook

    def _problems_of(self, path: str) -> list[Problem]:
        return [p for p in self.problems if p.path == path]


def discover_runbooks(extra_dirs: Iterable[Path | str] = ()) -> Catalog:
    """Bundled runbooks, then the user dir, then each ``--runbooks DIR``; a later file with
    the same id replaces an earlier one. A file that fails to load is left out and its
    problems are kept in :attr:`Catalog.problems`."""
    from runbooks import BUNDLED_DIR

    found: dict[str, RunbookSource] = {}
    problems: list[Problem] = []
    folders: list[tuple[Path, Literal["bundled", "user"]]] = [(BUNDLED_DIR, "bundled")]
    folders += [(user_runbook_dir(), "user")]
    folders += [(Path(d), "user") for d in extra_dirs]
    for folder, origin in folders:
        if origin == "user" and folder != user_runbook_dir() and not folder.is_dir():
            problems.append(Problem(str(folder), None, "", "is not a folder of runbooks"))
            continue
        ids_here: dict[str, Path] = {}
        for file in _yaml_files(folder):
            try:
                book = load_runbook(file)
            except RunbookError as exc:
                problems += exc.problems
                continue
            if book.id in ids_here:
                problems.append(
                    Problem(
                        str(file),
                        None,
                        "id",
                        f'duplicate runbook id "{book.id}" (also in {ids_here[book.id]})',
                    )
                )
                continue
            ids_here[book.id] = file
            previous = found.get(book.id)
            found[book.id] = RunbookSource(
                book, file, origin, replaces=previous.path if previous else None
            )
    return Catalog(found, problems)
