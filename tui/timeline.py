"""The incident record: timeline events and the crash-safe, append-only journal they live in.

One folder per incident under ``<state dir>/incidents/<incident id>/`` holds
``timeline.jsonl``: one JSON event per line, appended under an advisory lock with one
``write`` per event and ``fsync``'d before :meth:`Journal.record` returns. Several processes
(the cockpit and the ``incident-tui note`` command, say) may append to the same journal; a
cockpit picks up what others appended with :meth:`Journal.read_new`.

Secret values never reach the journal: every string of an event goes through a
:class:`Redactor` (values registered with it, and common token shapes such as
``sk_live_…``, ``Bearer …``, ``xoxb-…``, ``ghp_…``, ``AKIA…``) before it is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import getpass
import json
import os
import re
import secrets as _random
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer, ValidationError

from tui.errors import JournalError

__all__ = [
    "EVENT_KINDS",
    "MASK",
    "SCHEMA_VERSION",
    "Event",
    "EventKind",
    "IncidentNotFound",
    "IncidentSummary",
    "Journal",
    "JournalLoad",
    "JournalWarning",
    "Redactor",
    "default_actor",
    "find_journal",
    "incidents_dir",
    "list_incidents",
    "mask",
    "new_event_id",
    "new_incident_id",
    "redact",
    "register_secret",
    "state_dir",
    "summarize",
    "utcnow",
]

SCHEMA_VERSION = 1
"""The version written into every event; readers accept this one and older."""

EventKind = Literal[
    "declared",
    "severity_changed",
    "status_changed",
    "signal_alert_raised",
    "signal_alert_cleared",
    "vendor_status_changed",
    "pod_restarts_seen",
    "source_fault",
    "source_recovered",
    "decision_answered",
    "checklist_item_checked",
    "checklist_item_unchecked",
    "remediation_planned",
    "remediation_dry_run",
    "remediation_cancelled",
    "remediation_refused",
    "remediation_applied",
    "remediation_verified",
    "remediation_failed",
    "remediation_reverted",
    "comms_copied",
    "comms_posted",
    "note",
    "pinned",
    "unpinned",
    "responder_joined",
    "commander_changed",
    "export",
    "resolved",
    "reopened",
]
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)

JOURNAL_FILE = "timeline.jsonl"
RUNBOOK_SNAPSHOT = "runbook.json"


def utcnow() -> datetime:
    """Now, in UTC, to the millisecond (the precision the journal keeps)."""
    return _to_utc_ms(datetime.now(UTC))


def _to_utc_ms(value: datetime) -> datetime:
    # a naive time is taken as UTC: the journal never holds local times
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _format_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


UtcTime = Annotated[
    datetime,
    AfterValidator(_to_utc_ms),
    PlainSerializer(_format_time, return_type=str),
]
"""A UTC time kept to the millisecond, written as ``2025-03-01T14:02:03.123Z``."""


# --------------------------------------------------------------------------- ids

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_id_lock = threading.Lock()
_last_id: tuple[int, int] = (0, 0)


def _base32(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 32)
        chars.append(_CROCKFORD[digit])
    return "".join(reversed(chars))


def new_event_id(at: datetime | None = None) -> str:
    """A ULID: 10 characters of milliseconds since the epoch, then 16 of randomness.

    Ids sort by time; within one process they also sort in the order they were made,
    even within one millisecond or when the given times go backwards.
    """
    global _last_id
    millis = int((at or datetime.now(UTC)).timestamp() * 1000)
    with _id_lock:
        last_millis, last_random = _last_id
        if millis <= last_millis:
            millis, random_part = last_millis, last_random + 1
        else:
            random_part = _random.randbits(80)
        _last_id = (millis, random_part)
    return _base32(millis, 10) + _base32(random_part % (1 << 80), 16)


_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def new_incident_id(runbook_id: str, at: datetime | None = None) -> str:
    """``clay-20250301-1402-7f3a``: runbook, UTC date and minute, and 4 random hex digits."""
    when = _to_utc_ms(at or datetime.now(UTC))
    return f"{runbook_id}-{when:%Y%m%d-%H%M}-{_random.token_hex(2)}"


def default_actor() -> str:
    """The login name of whoever runs the program (``alice``), or ``unknown``."""
    try:
        return getpass.getuser() or "unknown"
    except (KeyError, OSError):
        return "unknown"


# --------------------------------------------------------------------------- the event


class Event(BaseModel):
    """One thing that happened during an incident, as written to the journal."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: int = SCHEMA_VERSION
    id: str
    """Sortable and unique (a ULID, see :func:`new_event_id`)."""
    time: UtcTime
    kind: EventKind
    actor: str
    """Who did it: a login name, or ``signals`` for what the live signals saw."""
    source: str
    """Where it was recorded: ``cockpit``, ``cli``, ``signals``, ``import``."""
    summary: str
    """One sentence, as shown on the timeline."""
    details: dict[str, Any] = {}
    """Structured facts of the event; the keys per kind are documented in :mod:`tui.incident`."""
    pinned: bool = False
    """Pinned when recorded (``incident-tui note --pin``); later pins are ``pinned`` events."""

    @classmethod
    def new(
        cls,
        kind: EventKind,
        summary: str,
        *,
        actor: str,
        source: str,
        details: dict[str, Any] | None = None,
        pinned: bool = False,
        at: datetime | None = None,
    ) -> Event:
        """A fresh event with a new id, stamped ``at`` (now when omitted)."""
        when = _to_utc_ms(at) if at is not None else utcnow()
        return cls(
            id=new_event_id(when),
            time=when,
            kind=kind,
            actor=actor,
            source=source,
            summary=summary,
            details=details or {},
            pinned=pinned,
        )

    def to_line(self) -> str:
        """The event as one journal line, newline included."""
        return self.model_dump_json() + "\n"


# --------------------------------------------------------------------------- secrets

MASK = "••••"

_TOKEN_PATTERNS = [
    r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9_]{6,}",
    r"\bwhsec_[A-Za-z0-9+/=_]{8,}",
    r"\bxox[abposr]-[A-Za-z0-9-]{8,}",
    r"\bgh[pousr]_[A-Za-z0-9]{20,}",
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
]
# keep the scheme or key name readable, hide what follows it
_PREFIXED_PATTERNS = [
    r"(?i:\b(?:bearer|basic)\s+)",
    r"(?i:\b(?:api[_-]?key|apikey|access[_-]?token|auth[_-]?token|client[_-]?secret"
    r"|secret[_-]?key|password|passwd|token)[\"']?\s*[:=]\s*[\"']?)",
]
_SECRET_KEYS = re.compile(
    r"(?i)^(?:.*[_-])?(?:api[_-]?key|apikey|token|access[_-]?token|password|passwd"
    r"|secret[_-]?value|client[_-]?secret|authorization|new[_-]?value|old[_-]?value"
    r"|credentials?)$"
)
_global_secrets: set[str] = set()
_global_lock = threading.Lock()
_global_version = 0
_MIN_SECRET = 4
# every pattern above contains one of these (lowercased); a text with none of them and no
# known secret is returned as is, which keeps masking a long export cheap
_TRIGGERS = (
    "sk_",
    "rk_",
    "whsec_",
    "xox",
    "gh",
    "akia",
    "asia",
    "eyj",
    "bearer",
    "basic",
    "key",
    "token",
    "secret",
    "passw",
)
_TRIGGER = re.compile("|".join(re.escape(t) for t in _TRIGGERS))


def mask(value: str) -> str:
    """``••••0001``: at most the last 4 characters of a secret, and only of a long one."""
    return MASK + value[-4:] if len(value) >= 12 else MASK


def register_secret(value: str) -> None:
    """Mask this value in everything this process writes to a journal or an export."""
    global _global_version
    if value and len(value) >= _MIN_SECRET:
        with _global_lock:
            if value not in _global_secrets:
                _global_secrets.add(value)
                _global_version += 1


class Redactor:
    """Masks known secret values and common token shapes in text and nested data."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = {s for s in secrets if s and len(s) >= _MIN_SECRET}
        self._version = 0
        self._compiled_for: tuple[int, int] | None = None
        self._known: tuple[str, ...] = ()
        self._pattern: re.Pattern[str] | None = None

    def register(self, value: str) -> None:
        """Mask this value from now on."""
        if value and len(value) >= _MIN_SECRET and value not in self._secrets:
            self._secrets.add(value)
            self._version += 1

    def _regex(self) -> re.Pattern[str]:
        stamp = (self._version, _global_version)
        if self._pattern is None or stamp != self._compiled_for:
            with _global_lock:
                known = self._secrets | _global_secrets
            # longest first, so a secret containing another is masked whole
            self._known = tuple(sorted(known, key=len, reverse=True))
            literal = "|".join(re.escape(s) for s in self._known)
            parts = [f"(?P<lit>{literal})"] if literal else []
            parts += [
                f"(?P<pre{i}>{p})(?P<val{i}>[^\\s\"'&,;•]{{6,}})"
                for i, p in enumerate(_PREFIXED_PATTERNS)
            ]
            parts += [f"(?P<tok{i}>{p})" for i, p in enumerate(_TOKEN_PATTERNS)]
            self._pattern = re.compile("|".join(parts))
            self._compiled_for = stamp
        return self._pattern

    @staticmethod
    def _replace(match: re.Match[str]) -> str:
        for name, value in match.groupdict().items():
            if value is None:
                continue
            if name.startswith("pre"):
                return value + mask(match.group("val" + name[3:]))
            return mask(value)
        return match.group(0)

    def needs_masking(self, value: str) -> bool:
        """Whether the text might hold a secret (a known value, or a word that precedes or
        starts a credential); False means :meth:`text` would return it unchanged."""
        self._regex()  # brings the registered secrets up to date
        return _TRIGGER.search(value.lower()) is not None or (
            bool(self._known) and any(s in value for s in self._known)
        )

    def text(self, value: str) -> str:
        """The text with every secret in it masked."""
        if not self.needs_masking(value):
            return value
        return self._regex().sub(self._replace, value)

    def data(self, value: Any, key: str | None = None) -> Any:
        """Nested dicts, lists and strings with secrets masked; a string under a key that
        names a credential (``token``, ``password``, ``api_key``…) is masked whole."""
        if isinstance(value, str):
            if key is not None and _SECRET_KEYS.match(key) and value:
                return mask(value)
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value

    def event(self, event: Event) -> Event:
        """The event with its summary, actor and details masked."""
        return event.model_copy(
            update={
                "summary": self.text(event.summary),
                "actor": self.text(event.actor),
                "details": self.data(event.details),
            }
        )


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """Mask secrets in a string or nested data: ``secrets`` given here, values passed to
    :func:`register_secret`, and common token shapes."""
    return Redactor(secrets).data(value)


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


class IncidentNotFound(JournalError):
    """No incident with that id (or id prefix), or more than one."""


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
        if not _SAFE_ID.match(incident_id):
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
                return _to_utc_ms(datetime.fromisoformat(match.group(1).decode()))
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
    if not _SAFE_ID.match(incident_id):
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


@dataclass
class IncidentSummary:
    """What ``incident-tui incidents`` shows of one incident, folded from its journal."""

    id: str
    path: Path
    runbook: str = "?"
    title: str = ""
    severity: str = "?"
    status: str = "?"
    declared_at: datetime | None = None
    resolved_at: datetime | None = None
    last_event_at: datetime | None = None
    events: int = 0
    warnings: list[JournalWarning] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status != "resolved"

    def age(self, now: datetime | None = None) -> timedelta | None:
        """Time since declaration."""
        if self.declared_at is None:
            return None
        return (now or utcnow()) - self.declared_at


def summarize(
    events: Iterable[Event], *, incident_id: str = "", path: Path | None = None
) -> IncidentSummary:
    """Fold events into an :class:`IncidentSummary` without needing the runbook."""
    summary = IncidentSummary(id=incident_id, path=path or Path())
    for event in events:
        summary.events += 1
        summary.last_event_at = event.time
        details = event.details
        if event.kind == "declared":
            summary.runbook = str(details.get("runbook", summary.runbook))
            summary.title = str(details.get("title", ""))
            summary.severity = str(details.get("severity", summary.severity))
            summary.status = str(details.get("status", "investigating"))
            summary.declared_at = event.time
            summary.id = str(details.get("incident_id", summary.id)) or summary.id
        elif event.kind == "severity_changed":
            summary.severity = str(details.get("to", summary.severity))
        elif event.kind == "status_changed":
            summary.status = str(details.get("to", summary.status))
        elif event.kind == "resolved":
            summary.status = "resolved"
            summary.resolved_at = event.time
        elif event.kind == "reopened":
            summary.status = str(details.get("to", "investigating"))
            summary.resolved_at = None
    return summary


def list_incidents(*, root: Path | None = None) -> list[IncidentSummary]:
    """Every incident in the state dir, most recently declared first."""
    base = root or incidents_dir()
    if not base.is_dir():
        return []
    found = []
    for folder in base.iterdir():
        if not (folder / JOURNAL_FILE).is_file():
            continue
        journal = Journal(folder)
        warnings: list[JournalWarning] = []
        try:
            summary = summarize(journal.iter_events(warnings), incident_id=folder.name, path=folder)
        except JournalError:
            continue
        summary.id = folder.name
        summary.warnings = warnings
        found.append(summary)
    epoch = datetime.min.replace(tzinfo=UTC)
    found.sort(key=lambda s: (s.declared_at or epoch, s.id), reverse=True)
    return found
