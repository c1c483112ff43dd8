"""The evidence bundle.

:func:`export_incident` writes, into ``<out>/<incident id>/`` and ``<out>/<incident id>.tar.gz``:

- ``postmortem.md``: the postmortem (:mod:`tui.record.postmortem`);
- ``timeline.jsonl``: the journal as recorded;
- ``incident-logs.txt``: pod logs from an hour before declaration to the end: the lines the
  cockpit kept as it showed them (:mod:`tui.record.kept_logs`, which outlive the pods a fix
  replaced) and what the cluster still has, each line once, in time order;
- ``metrics.json``: a range query of every runbook signal over the same window, and the
  readings on record (each alert raised and cleared), which outlive the metrics backend;
- ``manifest.json``: each file's SHA-256 and size, the incident id, when it was made, and
  notes on anything that could not be collected.

Logs and metrics come from an :class:`EvidenceCollector` (the live sources plug in there);
without one, or when it fails, the bundle is still written and the manifest says why.
Secret values never reach an exported file: everything goes through a
:class:`~tui.record.secrets.Redactor`.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import inspect
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import AsyncIterator, Awaitable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TextIO, runtime_checkable

from tui import __version__
from tui.errors import JournalError
from tui.record.event import Event, format_time, utcnow
from tui.record.incident import Incident
from tui.record.journal import Journal, JournalWarning
from tui.record.kept_logs import line_time, read_kept_logs
from tui.record.postmortem import render_postmortem
from tui.record.readings import readings_on_record
from tui.record.secrets import Redactor
from tui.record.store import open_incident
from tui.runbook import Runbook

__all__ = [
    "BUNDLE_FILES",
    "LOG_LOOKBACK",
    "EvidenceCollector",
    "ExportResult",
    "export_incident",
    "export_incident_async",
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


# --------------------------------------------------------------------------- evidence


def _sentence(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if isinstance(error, TimeoutError):
        text = "it did not answer in time"
    if not text:
        text = type(error).__name__
    return text[:200]


def _timed(lines: Iterable[str], redactor: Redactor) -> list[tuple[datetime, str]]:
    # a line without a time of its own keeps its place after the line before it
    rows: list[tuple[datetime, str]] = []
    last = datetime.min.replace(tzinfo=UTC)
    for line in lines:
        line = line.rstrip("\r\n")
        if redactor.needs_masking(line):
            line = redactor.text(line)
        last = line_time(line) or last
        rows.append((last, line))
    return rows


def _merged(kept: Iterable[str], fetched: Iterable[str], redactor: Redactor) -> list[str]:
    """Both sources' lines, each once (a line the cockpit kept that the cluster still has
    is the same time, pod and text), interleaved by time, each source in its own order."""
    seen: set[tuple[datetime, str]] = set()
    merged: list[str] = []
    for moment, line in heapq.merge(
        _timed(kept, redactor), _timed(fetched, redactor), key=lambda row: row[0]
    ):
        if moment.year > 1:
            key = (moment, line.partition(" ")[2])
            if key in seen:
                continue
            seen.add(key)
        merged.append(line)
    return merged


async def _write_logs(
    collector: EvidenceCollector | None,
    kept: list[str],
    start: datetime,
    end: datetime,
    out: TextIO,
    redactor: Redactor,
    timeout: float,
) -> tuple[int, str | None]:
    fetched: list[str] = []
    note: str | None = None
    if collector is None:
        note = "no log source was connected to this export"
    else:
        try:
            async with asyncio.timeout(timeout):
                result: Any = collector.logs(start, end)
                if hasattr(result, "__aiter__"):
                    async for line in result:
                        fetched.append(str(line))
                else:
                    lines = await result if inspect.isawaitable(result) else result
                    fetched.extend(str(line) for line in lines)
        except Exception as error:  # a failing source must not stop the export
            note = redactor.text(_sentence(error))
    lines = _merged(kept, fetched, redactor)
    if note is not None:
        if fetched:
            note = f"logs incomplete after {len(fetched)} lines from the cluster: {note}"
        elif kept:
            note = f"only the {len(kept)} lines the cockpit kept; the cluster's: {note}"
        else:
            note = f"logs not collected: {note}"
            out.write(f"# {note}\n")
    for first in range(0, len(lines), 1000):
        out.write("\n".join(lines[first : first + 1000]) + "\n")
    return len(lines), note


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
        incident, journal = open_incident(
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
            kept = list(read_kept_logs(journal.directory, start, end))
            count, note = await _write_logs(
                evidence, kept, start, end, handle, redactor, evidence_timeout
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
                    "start": format_time(start),
                    "end": format_time(end),
                    "step_seconds": step,
                    "queries": queries,
                    "result": metrics,
                    "note": note,
                    "on_record": readings_on_record(incident),
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
            "generated_at": format_time(now),
            "generated_by": f"incident-tui {__version__}",
            "window": {"start": format_time(start), "end": format_time(end)},
            "pinned_only": pinned_only,
            "log_lines": count,
            "log_lines_kept": len(kept),
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
    values to mask besides those registered with :func:`tui.record.secrets.register_secret`.
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
