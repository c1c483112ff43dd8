"""A readable rich rendering of one runbook, for `incident-tui runbooks show ID`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any, TypeVar, cast

from pydantic import BaseModel
from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.rule import Rule
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from tui.inert import inert_block
from tui.runbook import (
    AllOf,
    AnyOf,
    ChecklistItem,
    Condition,
    DecisionTree,
    HttpCall,
    Manual,
    Not,
    Predicate,
    Remediation,
    RolloutUndo,
    RotateSecret,
    Runbook,
    Scale,
    SetEnv,
    SetImage,
    Severity,
    TriageCommand,
    format_duration,
)

__all__ = ["describe_condition", "render_runbook", "say_duration"]

# Runbook text is data, never rich markup: "[Preventive measure]" must print as written.
# Everything below is built from Text objects for that reason.

_LEVEL_STYLE = {"P1": "bold red", "P2": "bold yellow", "P3": "bold cyan", "P4": "bold green"}


def render_runbook(book: Runbook) -> RenderableType:
    """Every part of ``book`` as one rich renderable, in the order a responder reads it."""
    book = _inert_copy(book)
    parts: list[RenderableType] = [_header(book)]
    sections: list[tuple[str, RenderableType | None]] = [
        ("Prerequisites", _bullets(book.prerequisites)),
        ("Severity levels", _severities(book.severities)),
        ("Signals", _signals(book)),
        ("Quick triage", _commands(book.triage)),
        ("Decision tree", _tree(book, book.decision_tree) if book.decision_tree else None),
        ("Immediate actions by error type", _categories(book)),
        ("Remediations", _remediations(book)),
        ("Checklists", _checklists(book)),
        ("Communication templates", _comms(book)),
        ("Evidence collection", _commands(book.evidence)),
        ("Postmortem template", _postmortem(book)),
        ("Error handling", _error_handling(book)),
        ("Escalation", _escalation(book)),
        ("Output", _bullets(book.outputs)),
        ("Examples", _examples(book)),
        ("Snippets", _snippets(book)),
        ("Links", _links(book)),
    ]
    for title, body in sections:
        if body is None:
            continue
        parts.append(Rule(Text(title, style="bold"), align="left", style="dim"))
        parts.append(Padding(body, (0, 0, 1, 2)))
    return Group(*parts)


_T = TypeVar("_T")


def _inert_copy(value: _T) -> _T:
    """``value`` with every string in it made inert, before Rich measures or prints it
    (Rich drops a bell and keeps an escape; either would skew the layout or reach the
    terminal)."""
    copied: Any
    if isinstance(value, str):
        copied = inert_block(value)
    elif isinstance(value, BaseModel):
        fields = type(value).model_fields
        copied = value.model_copy(
            update={name: _inert_copy(getattr(value, name)) for name in fields}
        )
    elif isinstance(value, list | tuple):
        copied = type(value)(_inert_copy(item) for item in value)
    elif isinstance(value, dict):
        copied = {_inert_copy(key): _inert_copy(item) for key, item in value.items()}
    else:
        copied = value
    return cast(_T, copied)


# --------------------------------------------------------------------------- words


def say_duration(value: timedelta) -> str:
    """A duration as people say it: ``15 min``, ``1 hour``, ``4 hours``, ``1 day``, ``1h30m``."""
    seconds = int(value.total_seconds())
    for size, one, many in ((86400, "day", "days"), (3600, "hour", "hours"), (60, "min", "min")):
        if seconds and seconds % size == 0:
            count = seconds // size
            return f"{count} {one if count == 1 else many}"
    return format_duration(value)


def _response_time(severity: Severity) -> str:
    if severity.response_time_label:
        return severity.response_time_label
    return f"< {say_duration(severity.response_time)}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def describe_condition(condition: Condition, book: Runbook | None = None) -> str:
    """A condition in words: ``error_rate > 1 /min or auth_failures > 0 /min``."""
    if isinstance(condition, Predicate):
        value = condition.value
        if isinstance(value, list):
            shown = "[" + ", ".join(value) + "]"
        elif isinstance(value, int | float):
            shown = _number(value)
            unit = _unit_of(book, condition.signal)
            if unit:
                shown += f" {unit}"
        else:
            shown = str(value)
        op = condition.op.replace("not_in", "not in")
        return f"{condition.signal} {op} {shown}"
    if isinstance(condition, AnyOf):
        return " or ".join(_grouped(c, book) for c in condition.any)
    if isinstance(condition, AllOf):
        return " and ".join(_grouped(c, book) for c in condition.all)
    if isinstance(condition, Not):
        return f"not {_grouped(condition.not_, book)}"
    raise TypeError(f"not a condition: {condition!r}")


def _grouped(condition: Condition, book: Runbook | None) -> str:
    text = describe_condition(condition, book)
    return f"({text})" if isinstance(condition, AnyOf | AllOf) else text


def _unit_of(book: Runbook | None, signal_id: str) -> str | None:
    if book is None:
        return None
    if signal_id == "health.latency_ms":
        return "ms"
    try:
        return book.signal(signal_id).unit
    except KeyError:
        return None


# --------------------------------------------------------------------------- blocks


def _header(book: Runbook) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    grid.add_row("id", Text(book.id))
    vendor = Text(book.vendor.name, style="bold")
    vendor.append(f"  status page {book.vendor.status_page}", style="")
    if book.vendor.dashboard:
        vendor.append(f"  dashboard {book.vendor.dashboard}")
    grid.add_row("vendor", vendor)
    service = book.service
    text = Text(f"deployment/{service.deployment} in namespace {service.namespace}")
    text.append(f"  pods {service.selector}")
    if service.container:
        text.append(f"  container {service.container}")
    grid.add_row("service", text)
    if service.secret:
        grid.add_row("secret", Text(f"{service.secret} (key {service.secret_key})"))
    if book.health:
        grid.add_row("health", Text(f"{book.health.url}  {book.health.path}"))
    logs = book.logs
    grid.add_row(
        "logs",
        Text(
            f"{logs.selector or service.selector}, last {say_duration(logs.since)}, "
            f"errors match {logs.error_pattern}"
        ),
    )
    body = Group(Text(book.overview), Text(""), grid)
    return Panel(body, title=Text(book.title, style="bold"), title_align="left", box=box.ROUNDED)


def _bullets(lines: Iterable[str]) -> RenderableType | None:
    lines = list(lines)
    if not lines:
        return None
    return Group(*(Text.assemble("• ", line) for line in lines))


def _severities(severities: list[Severity]) -> RenderableType:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("Level", "Definition", "Response Time", "Examples"):
        table.add_column(column, overflow="fold")
    for severity in severities:
        table.add_row(
            Text(severity.level, style=_LEVEL_STYLE.get(severity.level, "")),
            Text(severity.definition),
            Text(_response_time(severity)),
            Text(severity.example),
        )
    return table


def _signals(book: Runbook) -> RenderableType | None:
    if not book.signals:
        return None
    # One block per signal rather than a table: PromQL queries are long and must stay whole.
    blocks: list[RenderableType] = []
    for signal in book.signals:
        head = Text.assemble((signal.id, "bold"), f"  {signal.name}")
        if signal.alert:
            head.append("  alert when ")
            head.append(f"{signal.alert.op} {_number(signal.alert.value)} {signal.unit}")
            head.append(" → ")
            head.append(signal.alert.severity, style=_LEVEL_STYLE.get(signal.alert.severity, ""))
        else:
            head.append(f"  in {signal.unit}, no alert", style="dim")
        if signal.error_class:
            head.append(f"  (error class {signal.error_class})", style="dim")
        blocks.append(head)
        if signal.description:
            blocks.append(Padding(Text(signal.description, style="italic"), (0, 0, 0, 2)))
        blocks.append(Padding(Text(signal.query, style="cyan"), (0, 0, 0, 2)))
    return Group(*blocks)


def _node_label(book: Runbook, tree: DecisionTree, node_id: str, answer: str | None) -> Text:
    node = tree.node(node_id)
    label = Text()
    if answer:
        label.append(f"{answer}: ", style="bold green" if answer == "YES" else "bold red")
    if node.is_leaf:
        label.append("→ ")
        label.append(node.conclusion or "", style="bold")
    else:
        label.append(node.question or "", style="bold")
        if node.when is not None:
            label.append(f"   when {describe_condition(node.when, book)}", style="dim")
        else:
            label.append("   (the responder answers)", style="dim")
    return label


def _tree(book: Runbook, tree: DecisionTree) -> RenderableType:
    root = Tree(_node_label(book, tree, tree.root, None), guide_style="dim")

    def grow(branch: Tree, node_id: str) -> None:
        node = tree.node(node_id)
        if node.is_leaf:
            if node.remediations:
                branch.add(Text("remediations: " + ", ".join(node.remediations), style="magenta"))
            for category, group in node.by_category.items():
                branch.add(Text(f"if {category}: " + ", ".join(group), style="magenta"))
            if node.checklist:
                branch.add(Text(f"checklist: {node.checklist}", style="magenta"))
            return
        for answer, child in (("YES", node.yes), ("NO", node.no)):
            if child is not None:
                grow(branch.add(_node_label(book, tree, child, answer)), child)

    grow(root, tree.root)
    return root


def _item_label(item: ChecklistItem, numbered: str) -> Text:
    label = Text(f"{numbered} ☐ ")
    label.append(item.text)
    notes = []
    if item.remediation:
        notes.append(f"runs {item.remediation}")
    if item.triage:
        notes.append(f"shows {item.triage}")
    if item.wait is not None:
        watched = f" watching {', '.join(item.watch)}" if item.watch else ""
        notes.append(f"wait {say_duration(item.wait)}{watched}")
    if notes:
        label.append(f"  [{'; '.join(notes)}]", style="magenta")
    return label


def _number_item(index: int, depth: int) -> str:
    """``1.`` for steps, ``a.`` for their items (as the procedures write them), ``i.`` below."""
    if depth == 0:
        return f"{index + 1}."
    if depth == 1:
        return f"{chr(ord('a') + index % 26)}."
    romans = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x")
    return f"{romans[index]}." if index < len(romans) else f"{index + 1}."


def _add_items(branch: Tree, items: list[ChecklistItem], depth: int) -> None:
    for index, item in enumerate(items):
        numbered = _number_item(index, depth)
        child = branch.add(_item_label(item, numbered))
        _add_items(child, item.items, depth + 1)


def _categories(book: Runbook) -> RenderableType | None:
    if not book.categories:
        return None
    blocks: list[RenderableType] = []
    for category in book.categories:
        label = Text(category.title, style="bold")
        details = []
        if category.codes:
            details.append("codes " + "/".join(category.codes))
        if category.signal:
            details.append(f"measured by {category.signal}")
        if details:
            label.append(f"  ({', '.join(details)})", style="dim")
        tree = Tree(label, guide_style="dim")
        if category.symptoms:
            tree.add(Text.assemble(("Symptoms: ", "italic"), category.symptoms))
        _add_items(tree, category.actions, 0)
        blocks.append(tree)
    return Group(*blocks)


def _commands(commands: list[TriageCommand]) -> RenderableType | None:
    if not commands:
        return None
    blocks: list[RenderableType] = []
    for command in commands:
        blocks.append(Text.assemble((command.title, "bold"), (f"  ({command.id})", "dim")))
        if command.description:
            blocks.append(Padding(Text(command.description, style="italic"), (0, 0, 0, 2)))
        blocks.append(Padding(Text(command.command, style="cyan"), (0, 0, 0, 2)))
    return Group(*blocks)


def _kind_details(book: Runbook, remediation: Remediation) -> list[Text]:
    lines: list[Text] = []
    if isinstance(remediation, SetEnv):
        for name, value in remediation.env.items():
            lines.append(Text(f"set {name}={value}" if value is not None else f"unset {name}"))
    elif isinstance(remediation, Scale):
        lines.append(Text(f"scale to {remediation.replicas} replicas"))
    elif isinstance(remediation, SetImage):
        container = remediation.container or book.service.container or "the first container"
        lines.append(Text(f"image of {container}: {remediation.image or '(asked when run)'}"))
    elif isinstance(remediation, RotateSecret):
        secret = remediation.secret or book.service.secret or "(the service's secret)"
        key = remediation.key or book.service.secret_key
        restart = ", then restart the pods" if remediation.restart else ""
        lines.append(Text(f"replace {secret}/{key} (asked when run){restart}"))
    elif isinstance(remediation, RolloutUndo) and remediation.to_revision is not None:
        lines.append(Text(f"to revision {remediation.to_revision}"))
    elif isinstance(remediation, HttpCall):
        lines.append(Text(f"{remediation.method} {remediation.url}"))
        if remediation.auth_env:
            lines.append(Text(f"bearer token from ${remediation.auth_env}"))
        if remediation.each:
            lines.append(Text(f"for each {remediation.each} of the answer"))
    elif isinstance(remediation, Manual):
        lines.extend(Text(f"• {step}") for step in remediation.steps)
    for param in remediation.params:
        lines.append(Text(f"asks {{{param.name}}}: {param.prompt}"))
    return lines


def _remediations(book: Runbook) -> RenderableType | None:
    if not book.remediations:
        return None
    blocks: list[RenderableType] = []
    for remediation in book.remediations:
        head = Text.assemble((remediation.title, "bold"), (f"  {remediation.id}", "dim"))
        head.append(f"  {remediation.kind}", style="blue")
        if remediation.destructive:
            head.append("  destructive", style="bold red")
        body: list[RenderableType] = []
        if remediation.description:
            body.append(Text(remediation.description, style="italic"))
        body.extend(_kind_details(book, remediation))
        if remediation.command:
            body.append(Text.assemble(("$ ", "dim"), (remediation.command, "cyan")))
        if remediation.revert:
            revert = remediation.revert
            what = {
                "previous_env": "restore the previous environment",
                "rollout_undo": "rollout undo",
                "remediation": f"run {revert.remediation}",
                "manual": "by hand",
            }[revert.kind]
            line = Text(f"revert: {what}", style="green")
            if revert.note:
                line.append(f" ({revert.note})", style="dim")
            body.append(line)
        if remediation.hint:
            body.append(Text(f"if it fails: {remediation.hint}", style="yellow"))
        blocks.append(head)
        blocks.append(Padding(Group(*body), (0, 0, 0, 2)))
    return Group(*blocks)


def _checklists(book: Runbook) -> RenderableType | None:
    if not book.checklists:
        return None
    blocks: list[RenderableType] = []
    for checklist in book.checklists:
        tree = Tree(
            Text.assemble((checklist.title, "bold"), (f"  {checklist.id}", "dim")),
            guide_style="dim",
        )
        if checklist.description:
            tree.add(Text(checklist.description, style="italic"))
        _add_items(tree, checklist.steps, 0)
        blocks.append(tree)
    return Group(*blocks)


def _comms(book: Runbook) -> RenderableType | None:
    if book.comms is None:
        return None
    panels = []
    for name, template in (
        ("Internal (Slack)", book.comms.internal),
        ("External (Status Page)", book.comms.external),
    ):
        # A Slack message often repeats its headline as its first line; show it once.
        if template.body.startswith(template.title):
            body: RenderableType = Text(template.body)
        else:
            body = Group(Text(template.title, style="bold"), Text(""), Text(template.body))
        panels.append(Panel(body, title=Text(name), title_align="left", box=box.ROUNDED))
    every = Text(f"Update stakeholders every {say_duration(book.comms.update_every)}.", "dim")
    return Group(*panels, every)


def _postmortem(book: Runbook) -> RenderableType | None:
    postmortem = book.postmortem
    if postmortem is None:
        return None
    lines: list[RenderableType] = [Text(postmortem.title, style="bold")]
    fields = ", ".join(postmortem.fields)
    where = "under the title" if postmortem.fields_style == "inline" else "in a Summary section"
    lines.append(Text(f"Fields {where}: {fields}", style="dim"))
    for section in postmortem.sections:
        head = Text(f"## {section.heading}", style="bold")
        if section.fill:
            head.append(f"  (filled from the record: {section.fill})", style="dim")
        lines.append(head)
        if section.placeholder:
            lines.append(Text(f"  ✎ {section.placeholder}", style="italic"))
        lines.extend(Text(f"  - {item}") for item in section.items)
    return Group(*lines)


def _error_handling(book: Runbook) -> RenderableType | None:
    if not book.error_handling:
        return None
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("Issue", "Cause", "Solution", "Backends", "Faults"):
        table.add_column(column, overflow="fold")
    for row in book.error_handling:
        table.add_row(
            Text(row.issue),
            Text(row.cause),
            Text(row.solution),
            Text(", ".join(row.backends), style="dim"),
            Text(", ".join(row.faults), style="dim"),
        )
    return table


def _escalation(book: Runbook) -> RenderableType | None:
    escalation = book.escalation
    if not escalation.contacts and not escalation.levels:
        return None
    parts: list[RenderableType] = []
    if escalation.contacts:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for column in ("Group", "Contact", "How to reach"):
            table.add_column(column, overflow="fold")
        for contact in escalation.contacts:
            who = ", ".join(x for x in (contact.name, contact.role) if x)
            reach = [
                f"{label} {value}"
                for label, value in (
                    ("phone", contact.phone),
                    ("slack", contact.slack),
                    ("email", contact.email),
                    ("url", contact.url),
                )
                if value
            ]
            if contact.note:
                reach.append(contact.note)
            table.add_row(Text(contact.group), Text(who), Text("; ".join(reach)))
        parts.append(table)
    if escalation.levels:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for column in ("Level", "Contact", "Time"):
            table.add_column(column, overflow="fold")
        for level in escalation.levels:
            table.add_row(
                Text(str(level.level)), Text(level.contact), Text(_window(level.after, level.until))
            )
        parts.append(table)
    return Group(*parts)


def _window(after: timedelta, until: timedelta | None) -> str:
    """An escalation window as the contact list writes it: ``0-15 min``, ``30+ min``."""
    start = say_duration(after) if after else "0"
    start_count, _, start_unit = start.partition(" ")
    if until is None:
        return f"{start_count}+ {start_unit}" if start_unit else f"{start}+"
    end = say_duration(until)
    end_count, _, end_unit = end.partition(" ")
    if end_unit and start_unit in (end_unit, ""):
        return f"{start_count}-{end_count} {end_unit}"
    return f"{start}-{end}"


def _examples(book: Runbook) -> RenderableType | None:
    if not book.examples:
        return None
    blocks: list[RenderableType] = []
    for example in book.examples:
        blocks.append(Text(example.title, style="bold"))
        if example.description:
            blocks.append(Padding(Text(example.description, style="italic"), (0, 0, 0, 2)))
        if example.command:
            blocks.append(Padding(Text(example.command, style="cyan"), (0, 0, 0, 2)))
    return Group(*blocks)


def _snippets(book: Runbook) -> RenderableType | None:
    if not book.snippets:
        return None
    blocks: list[RenderableType] = []
    for snippet in book.snippets:
        blocks.append(Text.assemble((snippet.title, "bold"), (f"  {snippet.id}", "dim")))
        blocks.append(Syntax(snippet.code, snippet.language, theme="ansi_dark", word_wrap=True))
    return Group(*blocks)


def _links(book: Runbook) -> RenderableType | None:
    if not book.links:
        return None
    lines = []
    for link in book.links:
        line = Text.assemble("• ", (link.title, "bold"))
        if link.url and link.url not in link.title:
            line.append(f"  {link.url}")
        lines.append(line)
    return Group(*lines)
