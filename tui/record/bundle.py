"""The evidence bundle.

:func:`export_incident` writes, into ``<out>/<incident id>/`` and ``<out>/<incident id>.tar.gz``:

- ``postmortem.md``: the postmortem (:mod:`tui.record.postmortem`);
- ``timeline.jsonl``: the journal as recorded;
- ``incident-logs.txt``: pod logs from an hour before declaration to the end;
- ``metrics.json``: a range query of every runbook signal over the same window;
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
import inspect
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import AsyncIterator, Awaitable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TextIO, runtime_checkable

from tui import __version__
from tui.errors import JournalError
from tui.record.event import Event, format_time, utcnow
from tui.record.incident import Incident
from tui.record.journal import Journal, JournalWarning
from tui.record.postmortem import render_postmortem
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
                    "start": format_time(start),
                    "end": format_time(end),
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
            "generated_at": format_time(now),
            "generated_by": f"incident-tui {__version__}",
            "window": {"start": format_time(start), "end": format_time(end)},
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
