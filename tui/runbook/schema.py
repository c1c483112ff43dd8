"""The runbook document and the cross-reference rules it must keep (every id it names
exists, the decision tree has no cycle)."""

from __future__ import annotations

import string
from collections.abc import Iterable, Iterator
from typing import Literal

from pydantic import (
    Field,
    model_validator,
)

from tui.runbook.fields import Identifier, Strict
from tui.runbook.remediations import Remediation
from tui.runbook.sections import (
    BUILTIN_SIGNALS,
    AllOf,
    AnyOf,
    Category,
    Checklist,
    ChecklistItem,
    Comms,
    Condition,
    DecisionTree,
    ErrorHandling,
    Escalation,
    Example,
    Health,
    Link,
    Logs,
    Postmortem,
    Predicate,
    Service,
    Severity,
    Signal,
    Snippet,
    TriageCommand,
    Vendor,
)

# --------------------------------------------------------------------------- the runbook


class Runbook(Strict):
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
    related: list[Identifier] = []
    """Runbooks for the same service whose checklists (and the remediations, commands and
    signals they use) this one carries during an incident: the Clay runbook names the
    production checklist, so its gradual rollout is at hand."""

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
        judged = {"health.status", "vendor.indicator"} | {
            s.id for s in book.signals if s.alert is not None
        }
        for j, signal_id in enumerate(remediation.verify.signals):
            if signal_id in signals and signal_id not in judged:
                refs.problems.append(
                    (
                        ("remediations", i, "verify", "signals", j),
                        f'names signal "{signal_id}", which has no alert threshold to judge by',
                    )
                )
            else:
                refs.check(
                    ("remediations", i, "verify", "signals", j), signal_id, signals, "signal"
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
