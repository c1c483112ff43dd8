"""The log lines the cockpit has seen, kept next to the incident's journal.

Every fix replaces the pods, and the pods take their logs with them: the lines that showed
the failure are gone from the cluster by the time the postmortem is written. The cockpit
hands every line its log tail receives to :class:`KeptLogs`, which appends them to
``logs.txt`` in the incident's folder:

- one line each, ``<RFC 3339 time> <pod> <text>`` (the evidence bundle's own format);
- secrets masked before they reach the disk (the journal's :class:`Redactor`);
- flushed to the kernel with every batch and synced at most once a second, so a crash of
  the cockpit loses nothing and a crash of the machine at most the last second;
- bounded: past half of ``max_bytes`` the file becomes ``logs.1.txt`` (replacing the
  previous one) and a new one starts, so the two never hold more than ``max_bytes``.

:func:`read_kept_logs` reads both back, oldest first, within a window.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from tui.record.secrets import Redactor

__all__ = [
    "KEPT_LOGS",
    "KEPT_LOGS_OLDER",
    "KeptLogs",
    "line_time",
    "read_kept_logs",
    "stamp",
]

KEPT_LOGS = "logs.txt"
KEPT_LOGS_OLDER = "logs.1.txt"
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


def stamp(moment: datetime) -> str:
    """``2026-12-03T15:00:00.123456Z``: the time as a kubelet would write it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def line_time(line: str) -> datetime | None:
    """The time a kept or exported log line starts with, if it starts with one."""
    head, _, _ = line.partition(" ")
    try:
        moment = datetime.fromisoformat(head)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


class KeptLogs:
    """Appends log lines to ``<folder>/logs.txt`` (see the module's description)."""

    def __init__(
        self,
        folder: Path,
        redactor: Redactor | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        sync_interval: float = 1.0,
    ) -> None:
        self.folder = Path(folder)
        self.path = self.folder / KEPT_LOGS
        self.redactor = redactor or Redactor()
        self.max_bytes = max(2048, max_bytes)
        self.sync_interval = sync_interval
        self.error: str | None = None
        """Why the last write failed (one sentence), until one succeeds."""
        self._handle: TextIO | None = None
        self._size = 0
        self._synced_at = 0.0
        self._syncing: Future[None] | None = None

    def _open(self) -> TextIO:
        if self._handle is None:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._handle = os.fdopen(fd, "a", encoding="utf-8", errors="replace")
            self._size = os.fstat(fd).st_size
        return self._handle

    def _rotate(self) -> None:
        self.close()
        os.replace(self.path, self.folder / KEPT_LOGS_OLDER)

    def append(self, lines: Iterable[tuple[datetime | None, str, str]]) -> int:
        """Write ``(time, pod, text)`` lines; a line without a time gets the present.
        Returns how many were written; a full disk or a removed folder costs the batch
        (said in :attr:`error`), never the caller."""
        now = datetime.now(UTC)
        rows = [
            f"{stamp(moment or now)} {_one_line(pod)} {_one_line(text)}\n"
            for moment, pod, text in lines
        ]
        if not rows:
            return 0
        block = "".join(rows)
        if self.redactor.needs_masking(block):
            block = "".join(self.redactor.text(row) for row in rows)
        try:
            handle = self._open()
            if self._size and self._size + len(block) > self.max_bytes // 2:
                self._rotate()
                handle = self._open()
            handle.write(block)
            handle.flush()
            self._size += len(block.encode("utf-8", "replace"))
            if time.monotonic() - self._synced_at >= self.sync_interval:
                self._sync_soon(handle.fileno())
        except OSError as exc:
            self.error = f"log lines could not be kept in {self.folder}: {exc.strerror}"
            self.close()
            return 0
        self.error = None
        return len(rows)

    def _sync_soon(self, fd: int) -> None:
        """fsync in the syncing thread: on a slow or network disk it takes long enough to
        stall the screen, which calls :meth:`append` on its event loop."""
        if self._syncing is not None and not self._syncing.done():
            return  # one at a time; the next append asks again
        self._synced_at = time.monotonic()
        self._syncing = _syncer().submit(_quiet_fsync, fd)

    def close(self) -> None:
        if self._syncing is not None:
            with contextlib.suppress(Exception):
                self._syncing.result(timeout=10)
            self._syncing = None
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.flush()
                os.fsync(self._handle.fileno())
            with contextlib.suppress(OSError):
                self._handle.close()
            self._handle = None


_SYNCER: ThreadPoolExecutor | None = None


def _syncer() -> ThreadPoolExecutor:
    global _SYNCER
    if _SYNCER is None:
        _SYNCER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kept-logs-sync")
    return _SYNCER


def _quiet_fsync(fd: int) -> None:
    with contextlib.suppress(OSError):  # a full disk shows on the next write instead
        os.fsync(fd)


def read_kept_logs(
    folder: Path, start: datetime | None = None, end: datetime | None = None
) -> Iterator[str]:
    """The kept lines of an incident folder (older file first), without their newline,
    whose time falls in ``[start, end]``; a line cut off by a crash ends its file."""
    for name in (KEPT_LOGS_OLDER, KEPT_LOGS):
        path = Path(folder) / name
        if not path.is_file():
            continue
        with contextlib.suppress(OSError), open(path, encoding="utf-8", errors="replace") as handle:
            for raw in handle:
                if not raw.endswith("\n"):
                    break
                line = raw[:-1]
                moment = line_time(line)
                if moment is None:
                    continue
                if (start is not None and moment < start) or (end is not None and moment > end):
                    continue
                yield line
