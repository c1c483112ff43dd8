"""The errors a user can cause or meet, each carrying the sentence they are shown.

Hierarchy::

    IncidentTuiError            anything the CLI turns into one line and exit code 2
    ├── RunbookError            a runbook file is missing, unreadable or invalid
    ├── ConfigError             a config file or flag is invalid
    ├── JournalError            an incident journal cannot be read or written
    ├── RemediationError        a remediation was refused or failed
    │   └── RemediationConflict the object changed since the dry run: nothing applied
    └── SourceError             a backend could not give us a value
        ├── SourceUnreachable   connection refused, DNS failure
        ├── SourceTimeout       no answer within the timeout
        ├── SourceServerError   the backend answered 5xx
        ├── SourceMalformed     the answer could not be parsed
        ├── SourceAuthExpired   401: credentials missing or expired
        ├── SourceForbidden     403: credentials lack the permission
        └── SourceConflict      409: the object changed since it was read

Every error's ``str()`` is one complete sentence that says what went wrong and where.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "IncidentTuiError",
    "JournalError",
    "Problem",
    "RemediationConflict",
    "RemediationError",
    "RunbookError",
    "SourceAuthExpired",
    "SourceConflict",
    "SourceError",
    "SourceForbidden",
    "SourceMalformed",
    "SourceServerError",
    "SourceTimeout",
    "SourceUnreachable",
]


class IncidentTuiError(Exception):
    """Base of every error the user is shown as one line."""

    exit_code: int = 2


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file: where it is and what is wrong."""

    path: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        if self.field:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


class _FileProblems(IncidentTuiError):
    """An error made of one or more problems found in files."""

    noun = "file"

    def __init__(self, problems: list[Problem] | Problem) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__(self._sentence())

    def _sentence(self) -> str:
        first = str(self.problems[0])
        more = len(self.problems) - 1
        if more:
            first += f" (and {more} more problem{'s' if more > 1 else ''} in this {self.noun})"
        return first


class RunbookError(_FileProblems):
    """A runbook file is missing, unreadable, not YAML, or does not match the schema."""

    noun = "runbook"


class ConfigError(_FileProblems):
    """A config file, environment variable or flag is invalid."""

    noun = "config"


class JournalError(IncidentTuiError):
    """An incident journal cannot be read or written."""


class RemediationError(IncidentTuiError):
    """A remediation was refused by the cluster or the vendor, or could not be verified."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.hint = hint
        super().__init__(message if not hint else f"{message} Hint: {hint}")


class RemediationConflict(RemediationError):
    """The object changed between the dry run and the apply, so nothing was applied: the
    preview the responder confirmed no longer says what would happen."""

    def __init__(self, message: str, *, changes: list[str] | None = None) -> None:
        self.changes = list(changes or [])
        super().__init__(message)


class SourceError(IncidentTuiError):
    """A backend (status page, health, Prometheus, Kubernetes, logs) gave no usable value."""

    kind = "error"

    def __init__(self, backend: str, message: str) -> None:
        self.backend = backend
        self.detail = message
        super().__init__(f"{backend}: {message}")


class SourceUnreachable(SourceError):
    kind = "unreachable"


class SourceTimeout(SourceError):
    kind = "timeout"


class SourceServerError(SourceError):
    kind = "server_error"


class SourceMalformed(SourceError):
    kind = "malformed"


class SourceAuthExpired(SourceError):
    kind = "auth_expired"


class SourceForbidden(SourceError):
    kind = "forbidden"


class SourceConflict(SourceError):
    kind = "conflict"


class IncidentError(IncidentTuiError):
    """A change the incident's current state does not allow."""


class IllegalStatusChange(IncidentError):
    """A status move the lifecycle forbids (backwards without a reason, out of resolved)."""


class UnknownSeverity(IncidentError):
    """A severity level the runbook's severity table does not have."""


class UnknownReference(IncidentError):
    """A checklist key, decision node, event or remediation that does not exist."""


class IncidentNotFound(JournalError):
    """No incident with that id (or id prefix), or more than one."""


class CommsError(IncidentTuiError):
    """An update could not be sent (no webhook, Slack unreachable or refusing)."""
