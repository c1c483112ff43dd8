"""The crash-safe, append-only journal an incident's events live in.

One folder per incident under ``<state dir>/incidents/<incident id>/`` holds
``timeline.jsonl``: one JSON event per line, appended under an advisory lock with one
``write`` per event and ``fsync``'d before :meth:`Journal.record` returns. Several processes
(the cockpit and the ``incident-tui note`` command, say) may append to the same journal; a
cockpit picks up what others appended with :meth:`Journal.read_new`.

Secret values never reach the journal: every string of an event goes through a
:class:`~tui.record.secrets.Redactor` (values registered with it, and common token shapes
such as ``sk_live_…``, ``Bearer …``, ``xoxb-…``, ``ghp_…``, ``AKIA…``) before it is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import os
import re
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tui.errors import IncidentNotFound, JournalError
from tui.record.event import (
    JOURNAL_FILE,
    RUNBOOK_SNAPSHOT,
    SAFE_ID,
    SCHEMA_VERSION,
    Event,
    to_utc_ms,
    utcnow,
)
from tui.record.secrets import Redactor

__all__ = [
    "IncidentNotFound",
    "Journal",
    "JournalLoad",
    "JournalWarning",
    "find_journal",
    "incidents_dir",
    "state_dir",
]


# --------------------------------------------------------------------------- locations


def state_dir() -> Path:
    """``$INCIDENT_TUI_STATE_DIR``, else the platform's state dir for ``incident-tui``
    (``~/.local/state/incident-tui`` on Linux)."""
    override = os.environ.get("INCIDENT_TUI_STATE_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_state_dir("incident-tui"))


def incidents_dir() -> Path:
    """The folder holding one folder per incident."""
    return state_dir() / "incidents"


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class JournalWarning:
    """A line of a journal that could not be read; the events around it were kept."""

    path: str
    line: int
    message: str
    partial: bool = False
    """True for a last line cut off by a crash mid-write."""

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class JournalLoad:
    """Every complete event of a journal, and what could not be read."""

    events: list[Event]
    warnings: list[JournalWarning] = field(default_factory=list)


def _parse_line(raw: bytes, path: str, number: int) -> Event | JournalWarning:
    try:
        event = Event.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        reason = (
            "is not valid JSON"
            if first["type"] == "json_invalid"
            else (f"is not an event ({where}: {first['msg']})" if where else "is not an event")
        )
        return JournalWarning(path, number, f"line {number} {reason}; it was skipped")
    if event.schema_version > SCHEMA_VERSION:
        return JournalWarning(
            path,
            number,
            f"line {number} was written by a newer incident-tui (schema "
            f"{event.schema_version}); it was skipped",
        )
    return event


def _salvage(raw: bytes) -> Event | None:
    """The event a damaged line still holds, when the damage is at its edges (a lost
    opening brace, bytes before it or after its end), else None."""
    text = raw.strip()
    start, end = text.find(b'"'), text.rfind(b"}")
    candidates = [text[text.find(b"{") :], b"{" + text[start:]] if start >= 0 else []
    if end >= 0:
        candidates += [c[: c.rfind(b"}") + 1] for c in list(candidates)]
    for candidate in candidates:
        try:
            return Event.model_validate_json(candidate)
        except ValidationError:
            continue
    return None


def _partial_warning(path: str, number: int, size: int) -> JournalWarning:
    return JournalWarning(
        path,
        number,
        f"the last line (line {number}, {size} bytes) was cut off, probably by a crash "
        "while it was written; every complete event before it was kept",
        partial=True,
    )


# --------------------------------------------------------------------------- the journal


class Journal:
    """The append-only event file of one incident, safe against crashes and shared by
    several processes.

    ``record`` writes one line per event with one ``write`` under ``flock`` and returns only
    after ``fsync``; ``load``/``iter_events`` read it back, skipping (and reporting) a line
    cut off by a crash; ``read_new`` returns what was appended since the last call.
    """

    def __init__(self, directory: str | os.PathLike[str], *, redactor: Redactor | None = None):
        self.directory = Path(directory)
        self.path = self.directory / JOURNAL_FILE
        self.redactor = redactor or Redactor()
        self._fd: int | None = None
        self._lock_depth = 0
        self._mutex = threading.RLock()
        self._offset = 0
        self._line_number = 0
        self.warnings: list[JournalWarning] = []
        """Problems met by :meth:`read_new` so far."""
        self.held: list[Event] = []
        """Events :meth:`record_or_hold` could not write yet, oldest first (secrets masked)."""
        self.held_since: datetime | None = None
        """When the first held event could not be written."""
        self.held_error: str | None = None
        """Why the last attempt to write failed (one sentence)."""

    # opening -------------------------------------------------------------------

    @property
    def incident_id(self) -> str:
        return self.directory.name

    @classmethod
    def create(cls, incident_id: str, *, root: Path | None = None) -> Journal:
        """Make the folder and empty journal of a new incident."""
        if not SAFE_ID.match(incident_id):
            raise JournalError(f'"{incident_id}" cannot be an incident id (letters, digits, -_.)')
        directory = (root or incidents_dir()) / incident_id
        try:
            directory.parent.mkdir(parents=True, exist_ok=True)
            directory.mkdir()
            fd = os.open(directory / JOURNAL_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.fsync(fd)
            os.close(fd)
            _fsync_dir(directory)
            _fsync_dir(directory.parent)
        except FileExistsError:
            raise JournalError(
                f"an incident {incident_id} already exists in {directory.parent}"
            ) from None
        except OSError as exc:
            raise JournalError(
                f"cannot create the journal in {directory}: {exc.strerror}"
            ) from None
        return cls(directory)

    @classmethod
    def open(cls, incident_id: str, *, root: Path | None = None) -> Journal:
        """The journal of an existing incident; ``incident_id`` may be a unique prefix."""
        return find_journal(incident_id, root=root)

    def _writer(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            except OSError as exc:
                raise JournalError(f"cannot open {self.path} for writing: {exc.strerror}") from None
        return self._fd

    def close(self) -> None:
        """Release the file; the journal can still be read, and reopens itself to record."""
        with self._mutex:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # writing -------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[Journal]:
        """Hold the journal's lock across a read-check-record sequence, so no other process
        appends between them (``record`` inside reuses the lock)."""
        with self._mutex:
            fd = self._writer()
            if self._lock_depth == 0:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except OSError as exc:  # ENOLCK on some network file systems
                    raise JournalError(f"cannot lock {self.path}: {exc.strerror}") from None
            self._lock_depth += 1
            try:
                yield self
            finally:
                self._lock_depth -= 1
                if self._lock_depth == 0:
                    fcntl.flock(fd, fcntl.LOCK_UN)

    def register_secret(self, value: str) -> None:
        """Mask this value in every event recorded from now on."""
        self.redactor.register(value)

    def record(self, event: Event) -> Event:
        """Append the event (secrets masked) and return it as written, once it is on disk."""
        batch = [self.redactor.event(event)]
        with self._mutex:
            self._append(batch)
        return batch[0]

    def record_or_hold(self, event: Event) -> Event:
        """Like :meth:`record`, but when the journal cannot be written the event is held in
        memory instead of raising (with every event after it, in order) and written with
        the next event or :meth:`flush_held` that succeeds. For the cockpit: recording
        must never stop its panes from showing what the backends say."""
        written = self.redactor.event(event)
        with self._mutex:
            self.held.append(written)
            self.flush_held()
        return written

    def flush_held(self) -> int:
        """Write the held events, in order, if the journal accepts writes again; returns
        how many were written (0 when none were held or it still fails)."""
        with self._mutex:
            if not self.held:
                return 0
            try:
                self._append(self.held)
            except JournalError as error:
                if self.held_since is None:
                    self.held_since = utcnow()
                self.held_error = str(error)
                return 0
            count = len(self.held)
            self.held, self.held_since, self.held_error = [], None, None
            return count

    def _append(self, events: list[Event]) -> None:
        """One write of these events' lines under the lock, then fsync. A write that fails
        part-way (a full disk) is cut back off, so no half line is left behind."""
        with self.locked():
            fd = self._writer()
            size: int | None = None
            try:
                size = os.fstat(fd).st_size
                # times are taken before the lock: one taken a moment earlier than the line
                # another writer got in first is moved up to it, so file order is time
                # order. Events held through an outage keep the time they happened.
                floor = _last_time(fd, size)
                if floor is not None:
                    events[:] = [
                        e.model_copy(update={"time": floor})
                        if timedelta(0) < floor - e.time <= _LOCK_WAIT
                        else e
                        for e in events
                    ]
                data = b"".join(event.to_line().encode("utf-8") for event in events)
                # a writer killed mid-line left no newline: end that line first so this
                # event stays whole (the cut line is then reported on load)
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data
                _write_all(fd, data)
                os.fsync(fd)
            except OSError as exc:
                if size is not None:
                    with contextlib.suppress(OSError):
                        os.ftruncate(fd, size)
                reason = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror
                raise JournalError(f"cannot write to {self.path}: {reason}") from None

    def __call__(self, event: Event) -> Event:
        """A journal is a recorder: ``Incident(recorder=journal)``."""
        return self.record(event)

    def save_runbook(self, runbook: Any) -> None:
        """Keep the runbook an incident was declared with (a ``Runbook`` or its JSON), so
        the record still reads right if the runbook file changes or is gone later."""
        text = runbook if isinstance(runbook, str) else runbook.model_dump_json(by_alias=True)
        target = self.directory / RUNBOOK_SNAPSHOT
        temporary = target.with_suffix(".tmp")
        try:
            temporary.write_text(text, encoding="utf-8")
            with open(temporary, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except OSError as exc:
            raise JournalError(f"cannot write {target}: {exc.strerror}") from None

    def runbook_snapshot(self) -> str | None:
        """The runbook JSON saved at declaration, if any."""
        try:
            return (self.directory / RUNBOOK_SNAPSHOT).read_text(encoding="utf-8")
        except OSError:
            return None

    # reading -------------------------------------------------------------------

    def iter_events(self, warnings: list[JournalWarning] | None = None) -> Iterator[Event]:
        """Stream the journal's events in file order; unreadable lines are appended to
        ``warnings`` (when given) instead of raising."""
        sink = warnings if warnings is not None else []
        name = str(self.path)
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - closed in the finally below
        except FileNotFoundError:
            raise IncidentNotFound(f"no journal at {self.path}") from None
        except OSError as exc:
            raise JournalError(f"cannot read {self.path}: {exc.strerror}") from None
        try:
            number = 0
            first = True
            for raw in handle:
                number += 1
                if not raw.endswith(b"\n"):
                    if raw.strip():
                        sink.append(_partial_warning(name, number, len(raw)))
                    break
                if not raw.strip():
                    continue
                parsed = _parse_line(raw, name, number)
                if isinstance(parsed, JournalWarning):
                    # only a line that is not JSON is damaged; one from a newer version
                    # is whole and stays skipped
                    salvaged = _salvage(raw) if "not valid JSON" in parsed.message else None
                    if salvaged is None or salvaged.schema_version > SCHEMA_VERSION:
                        sink.append(parsed)
                        continue
                    sink.append(
                        JournalWarning(
                            name,
                            number,
                            f"line {number} is damaged; its {salvaged.kind} event was read "
                            "from what is left of it",
                        )
                    )
                    parsed = salvaged
                if first:
                    first = False
                    if parsed.kind != "declared":
                        rebuilt = self._rebuilt_declaration(parsed)
                        if rebuilt is not None:
                            sink.append(rebuilt[1])
                            yield rebuilt[0]
                yield parsed
        finally:
            handle.close()

    def _rebuilt_declaration(self, first: Event) -> tuple[Event, JournalWarning] | None:
        """A stand-in for a ``declared`` event that cannot be read (a damaged first line),
        made from the runbook saved beside the journal, so the rest of the record stays an
        incident; None without that runbook."""
        text = self.runbook_snapshot()
        if text is None:
            return None
        try:
            runbook = json.loads(text)
            runbook_id = str(runbook["id"])
            vendor = str(runbook.get("vendor", {}).get("name", ""))
            levels = [str(s["level"]) for s in runbook.get("severities", [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        severity = None
        for event in self._events_quietly():
            if event.kind == "severity_changed":
                severity = str(event.details.get("from", "")) or None
                break
        guessed = severity is None
        if severity is None:
            severity = levels[-1] if levels else "P4"
        event = Event(
            # the same id on every read, sorting just before the first event it stands before
            id=first.id[:10] + "0" * 16,
            time=first.time,
            kind="declared",
            actor=first.actor,
            source=first.source,
            summary="Incident declared (rebuilt: the declaration in the journal is damaged)",
            details={
                "incident_id": self.incident_id,
                "runbook": runbook_id,
                "vendor": vendor,
                "title": f"{self.incident_id} (title lost: the declaration is damaged)",
                "severity": severity,
                "status": "investigating",
                "impact": None,
                "commander": None,
                "rebuilt": True,
            },
        )
        said = f"severity {severity}" + (" (assumed: none is on record)" if guessed else "")
        warning = JournalWarning(
            str(self.path),
            1,
            f"the journal has no readable `declared` event; it was rebuilt from "
            f"{RUNBOOK_SNAPSHOT} (runbook {runbook_id}, {said}; title lost)",
        )
        return event, warning

    def _events_quietly(self) -> Iterator[Event]:
        with contextlib.suppress(OSError), open(self.path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                parsed = _parse_line(raw, "", number)
                if isinstance(parsed, Event):
                    yield parsed

    def load(self) -> JournalLoad:
        """Every complete event, plus warnings for a cut-off last line or a corrupt line."""
        warnings: list[JournalWarning] = []
        events = list(self.iter_events(warnings))
        return JournalLoad(events, warnings)

    def iter_lines(self) -> Iterator[str]:
        """The journal's complete lines (newline included), as text."""
        with open(self.path, "rb") as handle:
            for raw in handle:
                if raw.endswith(b"\n"):
                    yield raw.decode("utf-8", errors="replace")

    def read_new(self, max_bytes: int = 1 << 20) -> list[Event]:
        """Events appended since the last call (by anyone), reading at most ``max_bytes``
        so one call stays short; call again to get the rest. The first call reads from the
        start. A line still being written is left for the next call."""
        with self._mutex:
            try:
                with open(self.path, "rb") as handle:
                    # a writer holds the lock from its write to its fsync, or to cutting a
                    # failed write back: lines are read only once they are there to stay
                    try:
                        if self._lock_depth == 0:  # holding it ourselves, nobody writes
                            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
                    except BlockingIOError:
                        return []  # being written now: the next call reads it
                    size = os.fstat(handle.fileno()).st_size
                    if size < self._offset:
                        # cut back below what was read (by hand, or by a restore): go on
                        # from the new end rather than from the middle of a line
                        self._offset = size
                    handle.seek(self._offset)
                    chunk = handle.read(max_bytes)
            except FileNotFoundError:
                return []
            except OSError as exc:
                raise JournalError(f"cannot read {self.path}: {exc.strerror}") from None
            end = chunk.rfind(b"\n")
            if end < 0:
                if len(chunk) >= max_bytes:
                    # one line longer than the budget: skip it rather than stall forever
                    self._offset += len(chunk)
                    self.warnings.append(
                        JournalWarning(
                            str(self.path), self._line_number + 1, "an over-long line was skipped"
                        )
                    )
                return []
            self._offset += end + 1
            events: list[Event] = []
            for raw in chunk[: end + 1].split(b"\n")[:-1]:
                self._line_number += 1
                if not raw.strip():
                    continue
                parsed = _parse_line(raw, str(self.path), self._line_number)
                if isinstance(parsed, JournalWarning):
                    self.warnings.append(parsed)
                else:
                    events.append(parsed)
            return events

    def seek_end(self) -> None:
        """Make :meth:`read_new` return only events appended from now on."""
        with self._mutex:
            lines = 0
            size = 0
            with contextlib.suppress(FileNotFoundError), open(self.path, "rb") as handle:
                for raw in handle:
                    if not raw.endswith(b"\n"):
                        break
                    lines += 1
                    size += len(raw)
            self._offset, self._line_number = size, lines

    def tail(self, count: int, max_bytes: int = 4 << 20) -> list[Event]:
        """The last ``count`` complete events, reading at most ``max_bytes`` from the end."""
        if count <= 0:
            return []
        try:
            with open(self.path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                block = 64 * 1024
                data = b""
                position = size
                while position > 0 and data.count(b"\n") <= count and size - position < max_bytes:
                    step = min(block, position)
                    position -= step
                    handle.seek(position)
                    data = handle.read(step) + data
        except FileNotFoundError:
            return []
        lines = data.split(b"\n")
        complete = lines[:-1]  # what follows the last newline is still being written
        if position > 0:
            complete = complete[1:]  # the first piece may be the end of an earlier line
        events: list[Event] = []
        for raw in complete[-count:]:
            if raw.strip():
                parsed = _parse_line(raw, str(self.path), 0)
                if isinstance(parsed, Event):
                    events.append(parsed)
        return events

    async def follow(self, interval: float = 0.25) -> AsyncIterator[list[Event]]:
        """Yield each non-empty batch of newly appended events, polling every ``interval``
        seconds; reading happens in a thread so the event loop never waits on the disk."""
        while True:
            batch = await asyncio.to_thread(self.read_new)
            if batch:
                yield batch
            else:
                await asyncio.sleep(interval)


def _last_time(fd: int, size: int) -> datetime | None:
    """The time of the journal's last complete event (read from its end), if any."""
    if not size:
        return None
    start = max(0, size - 65536)
    tail = os.pread(fd, size - start, start)
    for line in reversed(tail.split(b"\n")):
        if line.strip():
            match = _TIME_FIELD.search(line)
            if match is None:
                return None
            try:
                return to_utc_ms(datetime.fromisoformat(match.group(1).decode()))
            except ValueError:
                return None
    return None


_TIME_FIELD = re.compile(rb'"time":"([^"]+)"')
_LOCK_WAIT = timedelta(seconds=2)
"""How much older than the journal's last line an event may be and still be a writer that
waited for the lock (it is then recorded at that line's time)."""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------- finding incidents


def find_journal(incident_id: str, *, root: Path | None = None) -> Journal:
    """The journal of the incident with this id, or the only one whose id starts so."""
    base = root or incidents_dir()
    if not SAFE_ID.match(incident_id):
        raise IncidentNotFound(f'"{incident_id}" is not an incident id')
    exact = base / incident_id
    if (exact / JOURNAL_FILE).is_file():
        return Journal(exact)
    matches = (
        sorted(
            p
            for p in base.iterdir()
            if p.name.startswith(incident_id) and (p / JOURNAL_FILE).is_file()
        )
        if base.is_dir()
        else []
    )
    if len(matches) == 1:
        return Journal(matches[0])
    if matches:
        shown = ", ".join(p.name for p in matches[:5])
        raise IncidentNotFound(
            f'"{incident_id}" matches {len(matches)} incidents ({shown}); give more of the id'
        )
    raise IncidentNotFound(
        f'no incident "{incident_id}" in {base} (`incident-tui incidents` lists them)'
    )
