"""Timeline events: what one event holds, its kinds, its ids (sortable by time), and who
records it."""

from __future__ import annotations

import getpass
import re
import secrets as _random
import threading
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer

__all__ = [
    "EVENT_KINDS",
    "JOURNAL_FILE",
    "RUNBOOK_SNAPSHOT",
    "SCHEMA_VERSION",
    "Event",
    "EventKind",
    "UtcTime",
    "default_actor",
    "format_time",
    "new_event_id",
    "new_incident_id",
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
    "remediation_rolled_out",
    "remediation_effective",
    "remediation_not_effective",
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
    return to_utc_ms(datetime.now(UTC))


def to_utc_ms(value: datetime) -> datetime:
    # a naive time is taken as UTC: the journal never holds local times
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def format_time(value: datetime) -> str:
    """A time as the journal writes it: ISO 8601 in UTC, to the millisecond, ``Z``."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


UtcTime = Annotated[
    datetime,
    AfterValidator(to_utc_ms),
    PlainSerializer(format_time, return_type=str),
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


SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def new_incident_id(runbook_id: str, at: datetime | None = None) -> str:
    """``clay-20250301-1402-7f3a``: runbook, UTC date and minute, and 4 random hex digits."""
    when = to_utc_ms(at or datetime.now(UTC))
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
    """Structured facts of the event; the keys per kind are documented in :mod:`tui.record.state`."""
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
        when = to_utc_ms(at) if at is not None else utcnow()
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
