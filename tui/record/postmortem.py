"""The postmortem: the runbook's template filled from the record as markdown; what only a
person knows is left as a marked placeholder (``_[TODO: Root cause — …]_``), never made up."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from tui.decision import Answer, evidence_text, ranked_remediations
from tui.record.event import utcnow
from tui.record.incident import Incident
from tui.record.mitigations import in_effect, undo_words
from tui.record.readings import alert_episodes
from tui.record.secrets import Redactor
from tui.record.state import STAGE_WORDS, RemediationRun
from tui.runbook import DecisionNode, Postmortem, PostmortemSection
from tui.runbook.checklists import all_checklist_ids, checklist_entries
from tui.signals import format_value

__all__ = ["error_type", "render_postmortem"]


# --------------------------------------------------------------------------- markdown helpers

_ESCAPE = re.compile(r"([\\`*~])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|<(?=[A-Za-z/!?])")
_ESCAPE_BUT_TILDE = re.compile(r"([\\`*])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|<(?=[A-Za-z/!?])")


def _md(text: str) -> str:
    """One line of plain text made safe inside markdown (no accidental emphasis or HTML).
    A lone ``~`` (``~1,280 lines``) cannot strike anything through and stays as written;
    tildes are escaped only where two could pair up."""
    text = " ".join(str(text).split())
    pattern = _ESCAPE if text.count("~") > 1 else _ESCAPE_BUT_TILDE
    return pattern.sub(lambda m: "\\" + m.group(0), text)


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


def _seconds(value: timedelta) -> str:
    """``8 min 25 s``, ``45 s``, ``1 h 4 min``."""
    total = max(0, int(value.total_seconds()))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    return f"{seconds} s"


class _Keep(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def error_type(incident: Incident) -> str | None:
    """``429 Rate Limited``: the error classes of the signals that alerted, in order."""
    names = []
    # the runbook's own signals first (the error classes), then what no signal measures
    signals = {s.id for s in incident.runbook.signals}
    ordered = sorted(incident.alerted, key=lambda signal_id: signal_id not in signals)
    for signal_id in ordered:
        try:
            signal = incident.runbook.signal(signal_id)
        except KeyError:
            names.append(incident.alert_names.get(signal_id, signal_id))
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
                ("measured", "Impact in Numbers"),
                ("decision_path", "Decision Path"),
                ("remediations", "Remediations"),
                ("checklists", "Checklists"),
                ("comms", "Communications"),
            )
            if fill not in used and self.has(fill) and (fill != "measured" or "impact" not in used)
        ]
        if extra:
            yield ""
            yield "## From the Incident Record"
            for fill, heading in extra:
                yield ""
                yield f"### {heading}"
                yield ""
                if fill == "measured":  # the template has no Impact section for them
                    yield from self.measured()
                    continue
                yield from self.fill(fill, PostmortemSection(heading=heading, fill=fill))  # type: ignore[arg-type]
        yield ""

    def has(self, fill: str) -> bool:
        incident = self.incident
        if fill == "measured":
            return bool(alert_episodes(incident))
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
            yield f"- {event.time:%H:%M:%S} - {self.md(event.summary)}{who}{mark}"
        if not events:
            yield ""
            yield "_No events were recorded._"

    def fill_root_cause(self, section: PostmortemSection) -> Iterator[str]:
        yield (
            self.placeholder(section)
            if section.placeholder
            else _todo(f"{section.heading} — technical explanation")
        )
        hints = list(self.cause_hints())
        if hints:
            yield ""
            yield "What the record points at:"
            yield ""
            yield from (f"- {hint}" for hint in hints)
        yield from self.items(section)

    def cause_hints(self) -> Iterator[str]:
        """The error classes that alerted (a leaf's generic words are not said for them),
        the conditions with their evidence, the conclusion, and the fix that worked."""
        incident = self.incident
        classes = [c for c in incident.runbook.categories if c.id in incident.error_classes()]
        if classes:
            yield (
                "The alerts' error class: "
                + ", ".join(f"**{self.md(c.title)}**" for c in classes)
                + "."
            )
        for event in incident.events:
            evidence = event.details.get("evidence")
            if event.kind == "signal_alert_raised" and isinstance(evidence, str) and evidence:
                yield f"{self.md(str(event.details.get('name')))}: {self.md(evidence)}"
        leaf = incident.decision_path().leaf
        if leaf is not None and leaf.conclusion:
            conclusion = leaf.conclusion
            if classes and leaf.by_category:
                # "Our integration issue. Check credentials, config." says nothing of a 429
                conclusion = conclusion.split(". ")[0].rstrip(".") + "."
            yield f"The decision tree concluded: {self.md(conclusion)}"
        for run in incident.remediations:
            effective = next((s for s in run.steps if s.stage == "effective"), None)
            if effective is not None:
                yield (
                    f"The fix that worked: **{self.md(run.title)}** (effective "
                    f"{effective.at:%H:%M:%S})."
                )

    def fill_impact(self, section: PostmortemSection) -> Iterator[str]:
        measured = list(self.measured())
        wrote = False
        if self.incident.impact:
            yield f"Impact stated at declaration: {self.md(self.incident.impact)}"
            wrote = True
        if measured:
            if wrote:
                yield ""
            yield "Measured (from the record):"
            yield ""
            yield from measured
            wrote = True
        if wrote:
            yield from self.items(section)
        elif section.items:
            yield from self.items(section, lead=False)
        else:
            yield self.placeholder(section)

    def measured(self) -> Iterator[str]:
        """Each alert: when, how long, how bad at its worst."""
        for episode in alert_episodes(self.incident):
            unit = episode.unit
            span = f"{episode.raised_at:%H:%M:%S}"
            if episode.cleared_at is not None:
                span += f" to {episode.cleared_at:%H:%M:%S} ({_seconds(episode.lasted(self.now))})"
            else:
                span += f" on, still alerting ({_seconds(episode.lasted(self.now))} so far)"
            line = f"- **{self.md(episode.name)}** ({self.md(episode.level)}): {span}"
            if episode.peak is not None:
                line += f"; peak {self.md(format_value(episode.peak, unit))}"
                if episode.threshold is not None:
                    line += (
                        f" (alert {self.md(episode.op)} "
                        f"{self.md(format_value(episode.threshold, unit))})"
                    )
            yield line

    def fill_resolution(self, section: PostmortemSection) -> Iterator[str]:
        runs = [
            r
            for r in self.incident.remediations
            if any(s.stage in ("applied", "rolled_out", "reverted") for s in r.steps)
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
        at = f", {answer.at:%H:%M:%S}" if answer.at else ""
        return line + f" ({self.md(answer.actor or '')}{at})"

    def run_line(self, run: RemediationRun) -> str:
        """``**Title** (action): applied 14:07, rolled out 14:09, effective 14:11 — result``."""
        action = f" ({self.md(run.action)})" if run.action else ""
        milestones = [
            s
            for s in run.steps
            if s.stage
            in (
                "refused",
                "applied",
                "rolled_out",
                "effective",
                "not_effective",
                "failed",
                "reverted",
            )
        ]
        shown = ", ".join(
            f"{STAGE_WORDS[s.stage]} {s.at:%H:%M:%S}" for s in milestones or run.steps[-1:]
        )
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
            yield f"- **{self.md(run.title)}**{action}: {STAGE_WORDS[run.stage]}"
            for step in run.steps:
                line = f"  - {step.at:%H:%M:%S} {STAGE_WORDS[step.stage]}"
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
                f"- {sent.at:%H:%M:%S} - {sent.channel.capitalize()} update {sent.action}{where}"
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

    def fill_action_items(self, section: PostmortemSection) -> Iterator[str]:
        """What the record leaves to do (mitigations still in effect, a fix that did not
        work left in place, the runbook's long-term steps for the error class), then the
        template's own."""
        owner = _todo("Owner - Due date")
        runbook = self.incident.runbook
        for mitigation in in_effect(self.incident):
            rem, run = mitigation.remediation, mitigation.run
            action = f" ({self.md(run.action)})" if run.action else ""
            how = self.md(undo_words(runbook, rem))
            if rem.temporary:
                yield (
                    f"- Revert **{self.md(rem.title)}**{action}, in effect since "
                    f"{run.started_at:%H:%M:%S}: {how} — {owner}"
                )
            elif run.stage == "not_effective":
                yield (
                    f"- Decide whether to keep **{self.md(rem.title)}**{action}: it was not "
                    f"effective and is still in effect; to undo it, {how} — {owner}"
                )
        for category in runbook.categories:
            if category.id not in self.incident.error_classes():
                continue
            for item in category.actions:
                if (
                    item.remediation is None
                    and item.triage is None
                    and "long-term" in (item.text.lower())
                ):
                    yield f"- {self.md(item.text)} ({self.md(category.title)}) — {owner}"
        yield from self._human(section)

    fill_prevention = fill_action_items
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
