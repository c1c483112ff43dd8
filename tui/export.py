"""The postmortem (markdown, following the runbook's template) and the evidence bundle.

:func:`export_incident` writes, into ``<out>/<incident id>/`` and ``<out>/<incident id>.tar.gz``:

- ``postmortem.md``: the runbook's postmortem template filled from the record; what only
  a person knows is left as a marked placeholder (``_[TODO: Root cause — …]_``), never made up;
- ``timeline.jsonl``: the journal as recorded;
- ``incident-logs.txt``: pod logs from an hour before declaration to the end;
- ``metrics.json``: a range query of every runbook signal over the same window;
- ``manifest.json``: each file's SHA-256 and size, the incident id, when it was made, and
  notes on anything that could not be collected.

Logs and metrics come from an :class:`EvidenceCollector` (the live sources plug in there);
without one, or when it fails, the bundle is still written and the manifest says why.
Secret values never reach an exported file: everything goes through a
:class:`~tui.timeline.Redactor`.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import AsyncIterator, Awaitable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TextIO, runtime_checkable

from tui import __version__
from tui.decision import Answer, evidence_text, ranked_remediations
from tui.errors import JournalError
from tui.incident import (
    Incident,
    RemediationRun,
    all_checklist_ids,
    checklist_entries,
)
from tui.runbook import DecisionNode, Postmortem, PostmortemSection, Runbook
from tui.timeline import (
    Event,
    Journal,
    JournalWarning,
    Redactor,
    find_journal,
    utcnow,
)

__all__ = [
    "LOG_LOOKBACK",
    "EvidenceCollector",
    "ExportResult",
    "error_type",
    "export_incident",
    "export_incident_async",
    "load_incident",
    "render_postmortem",
    "runbook_for",
    "snapshot_runbook",
]

LOG_LOOKBACK = timedelta(hours=1)
"""How long before the declaration the evidence window starts."""

BUNDLE_FILES = ("postmortem.md", "timeline.jsonl", "incident-logs.txt", "metrics.json")


@runtime_checkable
class EvidenceCollector(Protocol):
    """Where the bundle's logs and metrics come from (the live sources implement it).

    ``logs`` is an async generator of log lines, or a coroutine returning a list of them;
    ``metrics`` returns a JSON-ready dict, typically ``{signal id: range query result}``
    for every signal of the runbook, ``step`` being seconds between points.
    """

    def logs(
        self, start: datetime, end: datetime
    ) -> AsyncIterator[str] | Awaitable[Iterable[str]]: ...

    def metrics(self, start: datetime, end: datetime, step: float) -> Awaitable[dict[str, Any]]: ...


@dataclass
class ExportResult:
    """What an export wrote."""

    folder: Path
    archive: Path
    postmortem: Path
    manifest: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    """What could not be collected, one sentence each (also in the manifest)."""

    @property
    def files(self) -> list[Path]:
        return [self.folder / name for name in (*BUNDLE_FILES, "manifest.json")]


# --------------------------------------------------------------------------- loading


def _first_declared(journal: Journal) -> Event | None:
    for event in journal.iter_events():
        if event.kind == "declared":
            return event
    return None


def _aliased(data: Any) -> Any:
    # a snapshot dumped without by_alias spells the `not:` condition `not_`
    if isinstance(data, dict):
        return {("not" if k == "not_" else k): _aliased(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_aliased(v) for v in data]
    return data


def snapshot_runbook(journal: Journal) -> Runbook | None:
    """The runbook saved in the incident's folder at declaration, if it is there and valid."""
    from pydantic import ValidationError

    text = journal.runbook_snapshot()
    if text is None:
        return None
    try:
        return Runbook.model_validate_json(json.dumps(_aliased(json.loads(text))))
    except (ValueError, ValidationError):
        return None


def runbook_for(
    journal: Journal, runbook_id: str, runbook_dirs: Iterable[Path | str] = ()
) -> Runbook:
    """The runbook of a recorded incident: the catalog's runbook with that id, else the
    copy saved at declaration; :class:`~tui.errors.RunbookError` when neither exists."""
    from tui.runbook import discover_runbooks

    catalog = discover_runbooks(runbook_dirs)
    source = catalog.runbooks.get(runbook_id)
    if source is not None:
        return source.runbook
    snapshot = snapshot_runbook(journal)
    if snapshot is not None and snapshot.id == runbook_id:
        return snapshot
    return catalog.get(runbook_id)  # raises the catalog's RunbookError naming known ids


def load_incident(
    source: Journal | Path | str,
    *,
    runbook: Runbook | None = None,
    runbook_dirs: Iterable[Path | str] = (),
    warnings: list[JournalWarning] | None = None,
    actor: str | None = None,
    recorded_as: str = "cockpit",
) -> tuple[Incident, Journal]:
    """Rebuild an incident from a journal, a journal folder, or an incident id (or a
    unique prefix of one). The runbook is the one given, else the catalog's runbook with
    the declared id, else the copy saved at declaration. New events are recorded into the
    journal as ``actor`` (the login name by default) from ``recorded_as`` (the source)."""
    if isinstance(source, Journal):
        journal = source
    else:
        path = Path(source)
        journal = (
            Journal(path) if (path / "timeline.jsonl").is_file() else find_journal(str(source))
        )
    declared = _first_declared(journal)
    if declared is None:
        raise JournalError(f"{journal.path} has no `declared` event, so it holds no incident")
    if runbook is None:
        runbook = runbook_for(journal, str(declared.details.get("runbook", "")), runbook_dirs)
    sink = warnings if warnings is not None else []
    incident = Incident.from_events(
        runbook, journal.iter_events(sink), recorder=journal, actor=actor, source=recorded_as
    )
    return incident, journal


# --------------------------------------------------------------------------- markdown helpers

_ESCAPE = re.compile(r"([\\`*~])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|<(?=[A-Za-z/!?])")


def _md(text: str) -> str:
    """One line of plain text made safe inside markdown (no accidental emphasis or HTML)."""
    text = " ".join(str(text).split())
    return _ESCAPE.sub(lambda m: "\\" + m.group(0), text)


def _todo(text: str) -> str:
    cleaned = " ".join(text.replace("[", "").replace("]", "").split())
    return f"_[TODO: {cleaned}]_"


def _words(value: timedelta) -> str:
    """``1 hour 4 minutes``, ``45 minutes``, ``less than a minute``."""
    minutes = int(value.total_seconds()) // 60
    if minutes < 1:
        return "less than a minute"
    hours, minutes = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


class _Keep(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def error_type(incident: Incident) -> str | None:
    """``429 Rate Limited``: the error classes of the signals that alerted, in order."""
    names = []
    for signal_id in incident.alerted:
        try:
            signal = incident.runbook.signal(signal_id)
        except KeyError:
            names.append(signal_id)
            continue
        codes: list[str] = []
        for category in incident.runbook.categories:
            if category.id == signal.error_class or category.signal == signal.id:
                codes = category.codes
                break
        names.append(f"{'/'.join(codes)} {signal.name}" if codes else signal.name)
    unique = list(dict.fromkeys(names))
    return ", ".join(unique) if unique else None


_DEFAULT_TEMPLATE = Postmortem(
    title="Incident: {vendor} {error_type}",
    sections=[
        PostmortemSection(heading="Summary", fill="summary"),
        PostmortemSection(heading="Timeline", fill="timeline"),
        PostmortemSection(
            heading="Root Cause", fill="root_cause", placeholder="Technical explanation"
        ),
        PostmortemSection(heading="Impact", fill="impact"),
        PostmortemSection(heading="Resolution", fill="resolution"),
        PostmortemSection(heading="Action Items", fill="action_items"),
    ],
)

_TIMELINE_SKIP = ("pinned", "unpinned", "export")

_STAGE = {
    "planned": "planned",
    "dry_run": "dry run passed",
    "cancelled": "cancelled",
    "refused": "refused",
    "applied": "applied",
    "verified": "verified",
    "failed": "failed",
    "reverted": "reverted",
}

_STANDARD_DETAILS = {"remediation", "title", "kind", "action", "run", "result", "error"}


def _extra_details(details: dict[str, Any]) -> str:
    """The caller's own scalar details of a remediation step: ``pods_ready: 3``."""
    parts = [
        f"{key}: {value}"
        for key, value in details.items()
        if key not in _STANDARD_DETAILS
        and isinstance(value, str | int | float | bool)
        and value != ""
    ]
    return ", ".join(parts)


# --------------------------------------------------------------------------- the postmortem


class _Postmortem:
    """Renders one incident's postmortem into lines of markdown."""

    def __init__(
        self, incident: Incident, *, pinned_only: bool, now: datetime, redactor: Redactor
    ) -> None:
        self.incident = incident
        self.pinned_only = pinned_only
        self.now = now
        self.redactor = redactor
        self.template = incident.runbook.postmortem or _DEFAULT_TEMPLATE
        self.summary_shown = False
        """Whether the resolve summary is already on the page (so Resolution need not repeat it)."""

    def md(self, text: str) -> str:
        """Record text, secrets masked, made safe inside markdown."""
        return _md(self.redactor.text(str(text)))

    # fields ----------------------------------------------------------------

    def field_value(self, name: str) -> str:
        incident = self.incident
        assert incident.declared_at is not None
        if name == "date":
            return f"{incident.declared_at:%Y-%m-%d}"
        if name == "duration":
            if incident.resolved_at is not None:
                return _words(incident.resolved_at - incident.declared_at)
            return f"ongoing ({_words(self.now - incident.declared_at)} so far)"
        if name == "severity":
            if incident.initial_severity and incident.initial_severity != incident.severity:
                return f"{incident.severity} (declared {incident.initial_severity})"
            return incident.severity
        if name == "impact":
            return (
                self.md(incident.impact) if incident.impact else _todo("Number of affected users")
            )
        if name == "status":
            return incident.status
        return ""

    def title(self) -> str:
        incident = self.incident
        kind = error_type(incident)
        values = _Keep(
            vendor=self.md(incident.runbook.vendor.name),
            error_type=self.md(kind) if kind else _todo("Error type"),
            title=self.md(incident.title),
        )
        return "# " + self.template.title.format_map(values)

    # the whole document ----------------------------------------------------

    def render(self) -> Iterator[str]:
        incident = self.incident
        yield self.title()
        yield ""
        labels = {
            "date": "Date",
            "duration": "Duration",
            "severity": "Severity",
            "impact": "Impact",
            "status": "Status",
        }
        fields = [(labels[f], self.field_value(f)) for f in self.template.fields]
        if self.template.fields_style == "inline" and fields:
            yield " · ".join(f"**{label}:** {value}" for label, value in fields)
            yield ""
        about = [f"Incident `{incident.id}`", f"runbook `{incident.runbook.id}`"]
        about.append(f"commander {self.md(incident.commander or incident.declared_by)}")
        if incident.responders:
            about.append("responders " + ", ".join(self.md(r) for r in incident.responders))
        yield "_" + " · ".join(about) + "._"
        yield ""
        yield (
            "Generated from the incident record. Text marked _[TODO: …]_ is for a person "
            "to write." + (" Only pinned events are shown." if self.pinned_only else "")
        )
        sections = list(self.template.sections)
        field_section_done = self.template.fields_style != "section" or not fields
        if not field_section_done and not any(
            s.heading.strip().lower() == "summary" for s in sections
        ):
            yield ""
            yield "## Summary"
            yield ""
            yield from (f"- {label}: {value}" for label, value in fields)
            if incident.resolution:
                yield ""
                yield self.md(incident.resolution)
                self.summary_shown = True
            field_section_done = True
        used = {s.fill for s in sections if s.fill}
        for section in sections:
            yield ""
            yield f"## {self.md(section.heading)}"
            yield ""
            if not field_section_done and section.heading.strip().lower() == "summary":
                yield from (f"- {label}: {value}" for label, value in fields)
                field_section_done = True
                if section.fill is None and not section.items:
                    continue
                yield ""
            yield from self.section(section)
        extra = [
            (fill, heading)
            for fill, heading in (
                ("decision_path", "Decision Path"),
                ("remediations", "Remediations"),
                ("checklists", "Checklists"),
                ("comms", "Communications"),
            )
            if fill not in used and self.has(fill)
        ]
        if extra:
            yield ""
            yield "## From the Incident Record"
            for fill, heading in extra:
                yield ""
                yield f"### {heading}"
                yield ""
                yield from self.fill(fill, PostmortemSection(heading=heading, fill=fill))  # type: ignore[arg-type]
        yield ""

    def has(self, fill: str) -> bool:
        incident = self.incident
        if fill == "decision_path":
            return bool(incident.decisions)
        if fill == "remediations":
            return bool(incident.remediations)
        if fill == "checklists":
            return bool(incident.checked)
        if fill == "comms":
            return bool(incident.comms)
        return False

    def section(self, section: PostmortemSection) -> Iterator[str]:
        if section.fill is None:
            yield self.placeholder(section)
            yield from self.items(section)
        else:
            yield from self.fill(section.fill, section)

    def placeholder(self, section: PostmortemSection) -> str:
        if section.placeholder:
            return _todo(f"{section.heading} — {section.placeholder}")
        return _todo(section.heading)

    def items(self, section: PostmortemSection, *, lead: bool = True) -> Iterator[str]:
        if section.items and lead:
            yield ""
        for item in section.items:
            label, colon, rest = item.partition(":")
            if colon and rest.strip():
                yield f"- {self.md(label)}: {_todo(rest)}"
            else:
                yield f"- {_todo(item)}"

    def fill(self, fill: str, section: PostmortemSection) -> Iterator[str]:
        method = getattr(self, f"fill_{fill}")
        yield from method(section)

    # fills -----------------------------------------------------------------

    def fill_summary(self, section: PostmortemSection) -> Iterator[str]:
        if self.incident.resolution:
            yield self.md(self.incident.resolution)
            self.summary_shown = True
        else:
            yield (
                self.placeholder(section)
                if section.placeholder
                else _todo(f"{section.heading} — 1-2 sentence description")
            )
        yield from self.items(section)

    def fill_timeline(self, section: PostmortemSection) -> Iterator[str]:
        yield "All times are UTC."
        events = [e for e in self.incident.events if e.kind not in _TIMELINE_SKIP]
        if self.pinned_only:
            pinned = self.incident.pinned
            events = [e for e in events if e.id in pinned or e.kind in ("declared", "resolved")]
        events.sort(key=lambda e: e.time)
        day = None
        for event in events:
            date = f"{event.time:%Y-%m-%d}"
            if date != day:
                day = date
                yield ""
                yield f"**{date}**"
                yield ""
            who = "" if event.source == "signals" else f" — {self.md(event.actor)}"
            mark = (
                " _(pinned)_" if event.id in self.incident.pinned and not self.pinned_only else ""
            )
            yield f"- {event.time:%H:%M} - {self.md(event.summary)}{who}{mark}"
        if not events:
            yield ""
            yield "_No events were recorded._"

    def fill_root_cause(self, section: PostmortemSection) -> Iterator[str]:
        yield (
            self.placeholder(section)
            if section.placeholder
            else _todo(f"{section.heading} — technical explanation")
        )
        leaf = self.incident.decision_path().leaf
        if leaf is not None and leaf.conclusion:
            yield ""
            yield f"The decision tree concluded: {self.md(leaf.conclusion)}"
        yield from self.items(section)

    def fill_impact(self, section: PostmortemSection) -> Iterator[str]:
        if self.incident.impact:
            yield f"Impact stated at declaration: {self.md(self.incident.impact)}"
            yield from self.items(section)
        elif section.items:
            yield from self.items(section, lead=False)
        else:
            yield self.placeholder(section)

    def fill_resolution(self, section: PostmortemSection) -> Iterator[str]:
        runs = [
            r
            for r in self.incident.remediations
            if any(s.stage in ("applied", "verified", "reverted") for s in r.steps)
        ]
        wrote = False
        if self.incident.resolution and not (self.summary_shown and runs):
            yield self.md(self.incident.resolution)
            wrote = True
        if runs:
            if wrote:
                yield ""
            for run in runs:
                yield f"- {self.run_line(run)}"
            wrote = True
        if not wrote:
            yield (
                self.placeholder(section)
                if section.placeholder
                else _todo(f"{section.heading} — steps taken to resolve")
            )
        yield from self.items(section)

    def fill_decision_path(self, section: PostmortemSection) -> Iterator[str]:
        path = self.incident.decision_path()
        if not path.answered:
            yield "_The decision tree was not answered._"
            return
        lines = [self.answer_line(answer) for answer in path.answers]
        if path.leaf is not None:
            lines.append(self.conclusion_line(path.leaf))
        for number, line in enumerate(lines, start=1):
            yield f"{number}. {line}"
        yield from self.items(section)

    def conclusion_line(self, leaf: DecisionNode) -> str:
        line = f"**Conclusion:** {self.md(leaf.conclusion or '')}"
        offered = []
        alerted = self.incident.error_classes()
        groups = ranked_remediations(leaf, alerted)
        if any(category in alerted for category, _ in groups):
            # what the alerts pointed at, not every group the conclusion lists
            groups = [(c, ids) for c, ids in groups if c is None or c in alerted]
        for remediation_id in dict.fromkeys(r for _, ids in groups for r in ids):
            try:
                offered.append(self.md(self.incident.runbook.remediation(remediation_id).title))
            except KeyError:
                offered.append(f"`{remediation_id}`")
        if offered:
            line += " Remediations offered: " + ", ".join(offered) + "."
        return line

    def answer_line(self, answer: Answer) -> str:
        if answer.answer is None:
            return f"{self.md(answer.question)} _(not answered)_"
        word = "Yes" if answer.answer else "No"
        evidence = evidence_text(
            answer.signal,
            answer.value,
            answer.threshold,
            answer.op,
            self.incident.unit_of(answer.signal),
        )
        line = f"{self.md(answer.question)} **{word}**, {answer.how_words}"
        if evidence:
            line += f": {self.md(evidence)}"
        at = f", {answer.at:%H:%M}" if answer.at else ""
        return line + f" ({self.md(answer.actor or '')}{at})"

    def run_line(self, run: RemediationRun) -> str:
        """``**Title** (action): applied 14:07, verified 14:09 — result``."""
        action = f" ({self.md(run.action)})" if run.action else ""
        milestones = [
            s
            for s in run.steps
            if s.stage in ("refused", "applied", "verified", "failed", "reverted")
        ]
        shown = ", ".join(f"{_STAGE[s.stage]} {s.at:%H:%M}" for s in milestones or run.steps[-1:])
        text = f"**{self.md(run.title)}**{action}: {shown}"
        last = run.steps[-1]
        outcome = last.details.get("error") or last.details.get("result")
        if outcome:
            text += f" — {self.md(str(outcome))}"
        return text

    def fill_remediations(self, section: PostmortemSection) -> Iterator[str]:
        if not self.incident.remediations:
            yield "_No remediation was run._"
            return
        for run in self.incident.remediations:
            action = f" ({self.md(run.action)})" if run.action else ""
            yield f"- **{self.md(run.title)}**{action}: {_STAGE[run.stage]}"
            for step in run.steps:
                line = f"  - {step.at:%H:%M} {_STAGE[step.stage]}"
                outcome = step.details.get("error") or step.details.get("result")
                if outcome:
                    line += f": {self.md(str(outcome))}"
                extra = _extra_details(step.details)
                if extra:
                    line += f" ({self.md(extra)})"
                yield line
        yield from self.items(section)

    def fill_checklists(self, section: PostmortemSection) -> Iterator[str]:
        incident = self.incident
        touched = [
            list_id
            for list_id in all_checklist_ids(incident.runbook)
            if any(key.split("/", 1)[0] == list_id for key in incident.checked)
        ]
        if not touched:
            yield "_No checklist item was checked._"
            return
        first = True
        for list_id in touched:
            entries = checklist_entries(incident.runbook, list_id)
            done = sum(1 for e in entries if e.key in incident.checked)
            if not first:
                yield ""
            first = False
            yield f"**{self.md(entries[0].list_title)}**: {done} of {len(entries)} done"
            yield ""
            for entry in entries:
                box = "x" if entry.key in incident.checked else " "
                indent = "  " * (entry.depth - 1)
                yield f"{indent}- [{box}] {entry.label}. {self.md(entry.text)}"
        yield from self.items(section)

    def fill_comms(self, section: PostmortemSection) -> Iterator[str]:
        if not self.incident.comms:
            yield "_No communication was recorded._"
            return
        for sent in self.incident.comms:
            where = f" to {sent.destination}" if sent.destination else ""
            title = f": {self.md(sent.title)}" if sent.title else ""
            yield (
                f"- {sent.at:%H:%M} - {sent.channel.capitalize()} update {sent.action}{where}"
                f"{title} — {self.md(sent.actor)}"
            )
        yield from self.items(section)

    def _human(self, section: PostmortemSection) -> Iterator[str]:
        if section.items:
            yield from self.items(section, lead=False)
        elif section.fill in ("action_items", "prevention"):
            yield f"- {self.placeholder(section)}"
        else:
            yield self.placeholder(section)

    fill_action_items = _human
    fill_prevention = _human
    fill_lessons = _human


def render_postmortem(
    incident: Incident,
    *,
    pinned_only: bool = False,
    now: datetime | None = None,
    redactor: Redactor | None = None,
) -> str:
    """The postmortem of an incident as GitHub-flavoured markdown."""
    renderer = _Postmortem(
        incident, pinned_only=pinned_only, now=now or utcnow(), redactor=redactor or Redactor()
    )
    return "\n".join(renderer.render())


# --------------------------------------------------------------------------- evidence


def _sentence(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if isinstance(error, TimeoutError):
        text = "it did not answer in time"
    if not text:
        text = type(error).__name__
    return text[:200]


_REDACT_BLOCK = 1000


async def _write_logs(
    collector: EvidenceCollector | None,
    start: datetime,
    end: datetime,
    out: TextIO,
    redactor: Redactor,
    timeout: float,
) -> tuple[int, str | None]:
    if collector is None:
        note = "logs not collected: no log source was connected to this export"
        out.write(f"# {note}\n")
        return 0, note
    count = 0
    block: list[str] = []

    def flush() -> None:
        # one scan for anything secret-shaped per 1,000 lines; only a block that has some
        # is masked line by line (exactly as a single line would be)
        if block:
            text = "\n".join(block)
            if redactor.needs_masking(text):
                text = "\n".join(redactor.text(line) for line in block)
            out.write(text + "\n")
            block.clear()

    def take(line: object) -> None:
        nonlocal count
        block.append(str(line).rstrip("\r\n"))
        count += 1
        if len(block) >= _REDACT_BLOCK:
            flush()

    try:
        async with asyncio.timeout(timeout):
            result: Any = collector.logs(start, end)
            if hasattr(result, "__aiter__"):
                async for line in result:
                    take(line)
            else:
                lines = await result if inspect.isawaitable(result) else result
                for line in lines:
                    take(line)
        flush()
    except Exception as error:  # a failing source must not stop the export
        flush()
        reason = redactor.text(_sentence(error))
        if count:
            return count, f"logs incomplete after {count} lines: {reason}"
        out.write(f"# logs not collected: {reason}\n")
        return 0, f"logs not collected: {reason}"
    return count, None


async def _metrics(
    collector: EvidenceCollector | None,
    start: datetime,
    end: datetime,
    step: float,
    redactor: Redactor,
    timeout: float,
) -> tuple[Any, str | None]:
    if collector is None:
        return None, "metrics not collected: no metrics source was connected to this export"
    try:
        async with asyncio.timeout(timeout):
            result = await collector.metrics(start, end, step)
    except Exception as error:  # a failing source must not stop the export
        return None, f"metrics not collected: {redactor.text(_sentence(error))}"
    return redactor.data(result), None


def _step_for(window: timedelta) -> float:
    # Prometheus refuses more than 11,000 points per series; stay well under it
    return max(15.0, float(int(window.total_seconds() / 1000) + 1))


def _digest(path: Path) -> dict[str, Any]:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            sha.update(block)
    return {"sha256": sha.hexdigest(), "size": path.stat().st_size}


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


async def export_incident_async(
    source: Journal | Path | str | Incident,
    out_dir: Path | str,
    *,
    pinned_only: bool = False,
    evidence: EvidenceCollector | None = None,
    runbook: Runbook | None = None,
    runbook_dirs: Iterable[Path | str] = (),
    secrets: Iterable[str] = (),
    now: datetime | None = None,
    evidence_timeout: float = 120.0,
    journal: Journal | None = None,
) -> ExportResult:
    """Write the postmortem and the evidence bundle (folder and ``.tar.gz``) into
    ``out_dir``; for a running event loop (the cockpit). See :func:`export_incident`."""
    now = now or utcnow()
    redactor = Redactor(secrets)
    warnings: list[JournalWarning] = []
    if isinstance(source, Incident):
        incident = source
        if journal is None:
            recorder = source.recorder
            if not isinstance(recorder, Journal):
                raise JournalError("exporting an incident needs its journal (pass journal=...)")
            journal = recorder
    else:
        incident, journal = load_incident(
            source, runbook=runbook, runbook_dirs=runbook_dirs, warnings=warnings
        )
    for value in secrets:
        journal.redactor.register(value)
    assert incident.declared_at is not None

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{incident.id}.", dir=out))
    except OSError as exc:
        raise JournalError(f"cannot write the export into {out}: {exc.strerror}") from None
    notes: list[str] = [str(w) for w in warnings]
    try:
        start = incident.declared_at - LOG_LOOKBACK
        end = incident.resolved_at or now
        step = _step_for(end - start)

        postmortem = render_postmortem(
            incident, pinned_only=pinned_only, now=now, redactor=redactor
        )
        (staging / "postmortem.md").write_text(postmortem, encoding="utf-8")

        with open(staging / "timeline.jsonl", "w", encoding="utf-8") as handle:
            pinned = incident.pinned
            for line in journal.iter_lines():
                if pinned_only and not _keep_pinned(line, pinned):
                    continue
                handle.write(redactor.text(line))

        with open(staging / "incident-logs.txt", "w", encoding="utf-8") as handle:
            count, note = await _write_logs(
                evidence, start, end, handle, redactor, evidence_timeout
            )
        if note:
            notes.append(note)

        metrics, note = await _metrics(evidence, start, end, step, redactor, evidence_timeout)
        if note:
            notes.append(note)
        queries = {s.id: s.query for s in incident.runbook.signals}
        with open(staging / "metrics.json", "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "incident": incident.id,
                    "start": _iso(start),
                    "end": _iso(end),
                    "step_seconds": step,
                    "queries": queries,
                    "result": metrics,
                    "note": note,
                },
                handle,
                indent=1,
                default=str,
            )
            handle.write("\n")

        manifest: dict[str, Any] = {
            "incident_id": incident.id,
            "runbook": incident.runbook.id,
            "title": redactor.text(incident.title),
            "generated_at": _iso(now),
            "generated_by": f"incident-tui {__version__}",
            "window": {"start": _iso(start), "end": _iso(end)},
            "pinned_only": pinned_only,
            "log_lines": count,
            "files": {name: _digest(staging / name) for name in BUNDLE_FILES},
            "notes": notes,
        }
        with open(staging / "manifest.json", "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=2)
            handle.write("\n")

        folder = out / incident.id
        archive = out / f"{incident.id}.tar.gz"
        _replace_folder(staging, folder)
        partial = archive.with_name(archive.name + ".partial")
        # the fastest gzip level: logs still shrink several-fold, in a third of the time
        with tarfile.open(partial, "w:gz", compresslevel=1) as tar:
            for name in (*BUNDLE_FILES, "manifest.json"):
                tar.add(folder / name, arcname=f"{incident.id}/{name}")
        os.replace(partial, archive)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise JournalError(f"cannot write the export into {out}: {exc.strerror}") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(folder, archive, folder / "postmortem.md", manifest, notes)


def _keep_pinned(line: str, pinned: dict[str, Event]) -> bool:
    try:
        data = json.loads(line)
    except ValueError:
        return False
    return data.get("id") in pinned or data.get("kind") in ("declared", "resolved")


def _replace_folder(staging: Path, folder: Path) -> None:
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(folder, old)
        os.replace(staging, folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, folder)


def export_incident(
    source: Journal | Path | str | Incident,
    out_dir: Path | str,
    *,
    pinned_only: bool = False,
    evidence: EvidenceCollector | None = None,
    runbook: Runbook | None = None,
    runbook_dirs: Iterable[Path | str] = (),
    secrets: Iterable[str] = (),
    now: datetime | None = None,
    evidence_timeout: float = 120.0,
    journal: Journal | None = None,
) -> ExportResult:
    """Write ``<out_dir>/<incident id>/`` (postmortem.md, timeline.jsonl,
    incident-logs.txt, metrics.json, manifest.json) and ``<out_dir>/<incident id>.tar.gz``.

    ``source`` is an :class:`Incident` (with its journal as recorder), a
    :class:`Journal`, a journal folder or an incident id. ``pinned_only`` keeps only
    pinned events (and the declaration and resolution) in the timeline. ``secrets`` are
    values to mask besides those registered with :func:`tui.timeline.register_secret`.
    Runs its own event loop: inside a running loop, await :func:`export_incident_async`.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(
            "export_incident was called inside an event loop; await export_incident_async"
        )
    return asyncio.run(
        export_incident_async(
            source,
            out_dir,
            pinned_only=pinned_only,
            evidence=evidence,
            runbook=runbook,
            runbook_dirs=runbook_dirs,
            secrets=secrets,
            now=now,
            evidence_timeout=evidence_timeout,
            journal=journal,
        )
    )
