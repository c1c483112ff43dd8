"""What every source shares: turning failures into typed errors and faults with the hint."""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

import httpx

from tui.errors import (
    SourceAuthExpired,
    SourceConflict,
    SourceError,
    SourceForbidden,
    SourceMalformed,
    SourceServerError,
    SourceTimeout,
    SourceUnreachable,
)
from tui.inert import inert
from tui.runbook import Runbook
from tui.signals import SourceFault, utcnow

__all__ = ["FaultTracker", "Outcome", "error_for_status", "guard", "hint_text", "http_error"]

T = TypeVar("T")


_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*(>|$)")


def quoted(body: str, limit: int = 160) -> str:
    """A server's body as it may appear in a message: an HTML page's text without its
    markup, whitespace folded, control characters inert, at most ``limit`` characters."""
    text = body
    if "<" in text and ">" in text:
        text = _SCRIPT.sub(" ", text)
        text = _TAG.sub(" ", text)
        text = html.unescape(text)
    text = " ".join(inert(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def error_for_status(backend: str, status: int, what: str, body: str = "") -> SourceError:
    """The typed error for an HTTP status that is not success."""
    said = quoted(body)
    detail = f" ({said})" if said else ""
    if status == 401:
        return SourceAuthExpired(backend, f"{what} answered 401 Unauthorized{detail}")
    if status == 403:
        return SourceForbidden(backend, f"{what} answered 403 Forbidden{detail}")
    if status == 409:
        return SourceConflict(backend, f"{what} answered 409 Conflict{detail}")
    if status >= 500:
        return SourceServerError(backend, f"{what} answered {status}{detail}")
    return SourceError(backend, f"{what} answered {status}{detail}")


def http_error(backend: str, url: str, exc: Exception) -> SourceError:
    """The typed error for an httpx failure."""
    if isinstance(exc, httpx.TimeoutException):
        return SourceTimeout(backend, f"{url} did not answer in time")
    if isinstance(exc, httpx.ConnectError):
        return SourceUnreachable(backend, f"cannot connect to {url}")
    if isinstance(exc, httpx.HTTPError):
        return SourceUnreachable(backend, f"{url}: {type(exc).__name__}: {exc}".rstrip(": "))
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError | ValueError):
        return SourceMalformed(backend, f"{url} sent a body that is not valid JSON")
    return SourceError(backend, f"{url}: {exc}")


async def guard(backend: str, timeout: float, call: Awaitable[T]) -> T:
    """Await ``call`` with a timeout; anything unexpected becomes a :class:`SourceError`."""
    try:
        return await asyncio.wait_for(call, timeout)
    except SourceError:
        raise
    except TimeoutError:
        raise SourceTimeout(backend, f"no answer within {timeout:g} s") from None


def hint_text(runbook: Runbook | None, backend: str, kind: str) -> str | None:
    """The runbook's error-handling row for this fault, as ``Issue: cause → solution``."""
    if runbook is None:
        return None
    row = runbook.hint_for(backend, kind)
    if row is None:
        return None
    return f"{row.issue}: {row.cause} → {row.solution}"


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """One poll's result: a value, or a fault (never both)."""

    value: T | None = None
    fault: SourceFault | None = None


class FaultTracker:
    """Remembers since when a backend has been failing and when it last gave a good value,
    so a fault reads "since 03:12, last good value 2 min ago" rather than "just now"."""

    def __init__(
        self, backend: str, runbook: Runbook | None, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.backend = backend
        self.runbook = runbook
        self.clock = clock
        self.failing_since: datetime | None = None
        self.failing_kind: str | None = None
        self.last_good_at: datetime | None = None

    def ok(self, value: T) -> Outcome[T]:
        self.failing_since = None
        self.failing_kind = None
        self.last_good_at = self.clock()
        return Outcome(value=value)

    def failed(self, error: SourceError, target: str = "") -> Outcome[T]:
        now = self.clock()
        # "since" is when the backend stopped answering well, whatever ways it fails after
        if self.failing_since is None:
            self.failing_since = now
        self.failing_kind = error.kind
        fault = SourceFault(
            backend=self.backend,
            kind=error.kind,  # type: ignore[arg-type]
            message=error.detail,
            since=self.failing_since,
            last_good_at=self.last_good_at,
            hint=hint_text(self.runbook, self.backend, error.kind),
            target=target,
        )
        return Outcome(fault=fault)

    async def run(self, call: Awaitable[T], target: str = "") -> Outcome[T]:
        """Await one fetch and record how it went."""
        try:
            return self.ok(await call)
        except SourceError as error:
            return self.failed(error, target)
