"""A live log tail across the runbook's pods that survives rollouts and dropped streams."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tui.errors import SourceError, SourceMalformed, SourceTimeout
from tui.runbook import Runbook
from tui.signals import LogLine, PodState, SourceFault, detect_level
from tui.sources.base import FaultTracker
from tui.sources.kube.connection import KubeConnection
from tui.sources.kube.objects import parse_timestamp

if TYPE_CHECKING:
    import aiohttp

__all__ = ["LogTail"]


_SLICE = 256
"""Lines taken between two chances for the screen to draw."""
_ERROR_LEVELS = ("error", "fatal")


class _Timestamps:
    """:func:`parse_timestamp` for a stream of lines: the lines of one second share their
    whole-second part, so it is parsed once."""

    def __init__(self) -> None:
        self._seconds: dict[str, tuple[datetime, int] | None] = {}

    def parse(self, text: str) -> tuple[datetime, int] | None:
        base, dot, rest = text.partition(".")
        if not dot or not rest.endswith("Z"):
            return parse_timestamp(text)
        digits = rest[:-1]
        if not digits.isascii() or not digits.isdigit() or len(digits) > 9:
            return None
        if base in self._seconds:
            known = self._seconds[base]
        else:
            if len(self._seconds) > 256:
                self._seconds.clear()
            whole = parse_timestamp(base + "Z")
            known = None if whole is None else (whole[0], whole[1])
            self._seconds[base] = known
        if known is None:
            return None
        moment, seconds_ns = known
        nanos = int(digits[:9].ljust(9, "0"))
        return moment.replace(microsecond=nanos // 1000), seconds_ns + nanos


class _PodStream:
    """One pod's log stream, resumable after a drop without repeating a line."""

    def __init__(self, pod: str, container: str | None) -> None:
        self.pod = pod
        self.container = container
        self.last_ns = 0
        self.seen_at_last: set[str] = set()
        self.task: asyncio.Task[None] | None = None
        self.finished = False
        self.key = pod
        """Where the tail keeps it: ``pod/container``."""
        self.restarts = 0
        """The pod's restart count, as the pod watcher last said."""
        self.previous_for = 0
        """The restart count whose previous container's lines were shown already."""

    def accept(self, ns: int, text: str) -> bool:
        """Whether a line is new (not already shown before a reconnect)."""
        if ns < self.last_ns:
            return False
        if ns == self.last_ns:
            if text in self.seen_at_last:
                return False
            self.seen_at_last.add(text)
            return True
        self.last_ns = ns
        self.seen_at_last = {text}
        return True


def _key(pod: str, container: str | None) -> str:
    """Where the tail keeps a stream: ``pod/container`` (``pod/`` for the API's default)."""
    return f"{pod}/{container or ''}"


class _Backoff:
    """Capped exponential backoff with jitter: ``first``, about twice that, … ``cap``."""

    def __init__(self, first: float, cap: float) -> None:
        self.first = first
        self.cap = max(cap, first)
        self.delay = first

    def next(self) -> float:
        delay = self.delay
        self.delay = min(self.delay * 2, self.cap)
        return min(self.cap, delay * random.uniform(0.8, 1.2))

    def reset(self) -> None:
        self.delay = self.first


class LogTail:
    """Follows the logs of every running pod of the runbook, starting at the runbook's
    ``since``, and hands lines to ``sink`` in batches every ``flush_interval`` seconds.

    A new pod is picked up as soon as the pod watcher reports it running; a deleted pod's
    tail ends; a dropped stream reconnects and resumes after the last line it showed."""

    backend = "logs"

    def __init__(
        self,
        conn: KubeConnection,
        runbook: Runbook,
        sink: Callable[[list[LogLine], int], None],
        on_fault: Callable[[SourceFault | None], None],
        *,
        flush_interval: float = 0.2,
        max_pending: int = 50_000,
        retry_interval: float = 1.0,
        max_backoff: float = 30.0,
        previous_lines: int = 50,
        max_line_length: int = 16_384,
    ) -> None:
        self.conn = conn
        self.runbook = runbook
        self.container: str | None = runbook.logs.container or runbook.service.container
        """The container followed; None follows every container of each pod."""
        self.only_pod: str | None = None
        """One pod followed alone; None follows every pod of the runbook's selector."""
        self._pods: list[PodState] = []
        self.since_seconds = max(1, int(runbook.logs.since.total_seconds()))
        self.error_pattern = re.compile(runbook.logs.error_pattern)
        self.sink = sink
        self.on_fault = on_fault
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.retry_interval = retry_interval
        self.max_backoff = max_backoff
        """Seconds at most between tries to open a stream that keeps failing (a container
        in CrashLoopBackOff waits up to five minutes to start again)."""
        self.previous_lines = previous_lines
        self.max_line_length = max_line_length
        self.tracker = FaultTracker(self.backend, runbook)
        self.streams: dict[str, _PodStream] = {}
        self._pending: list[LogLine] = []
        self._dropped = 0
        self._started_at = datetime.now(UTC)
        self._faulted = False
        self._known_pods: set[str] = set()
        self._seen_once = False
        self._broken_streams: set[str] = set()
        """Pods whose stream sent lines without timestamps and no good line since."""
        self._stamps = _Timestamps()
        self._api_down = False

    # pods -------------------------------------------------------------------------

    SINCE_STEPS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 24 * 3600)
    """What ``[`` and ``]`` step ``since`` through, in seconds."""

    def containers(self) -> list[str]:
        """The containers the followed pods have, in their order (for the pane to cycle)."""
        found: list[str] = []
        for pod in self._pods:
            for name in pod.containers:
                if name not in found:
                    found.append(name)
        return found

    def pod_names(self) -> list[str]:
        return [p.name for p in self._pods]

    def follow_container(self, container: str | None) -> None:
        """Follow another container (None: every container of each pod, as stern does)."""
        self.container = container
        self._restart()

    def follow_pod(self, pod: str | None) -> None:
        """Follow one pod alone (None: every pod of the runbook's selector)."""
        self.only_pod = pod
        self._restart()

    def follow_since(self, seconds: int) -> None:
        """Start every stream again from ``seconds`` back."""
        self.since_seconds = max(1, seconds)
        self._restart()

    def _restart(self) -> None:
        for stream in self.streams.values():
            if stream.task is not None:
                stream.task.cancel()
        self.streams.clear()
        self._broken_streams.clear()
        self._pending.clear()
        self._seen_once = False
        self.update_pods(self._pods)

    def update_pods(self, pods: list[PodState]) -> None:
        """Start tails for running pods not yet followed; forget pods that are gone."""
        self._pods = list(pods)
        if self.only_pod is not None:
            pods = [p for p in pods if p.name == self.only_pod]
        names = {_key(p.name, c) for p in pods for c in self._containers_of(p)}
        for pod in pods:
            for container in self._containers_of(pod):
                self._start(pod, container)
            self._known_pods.add(pod.name)
        self._seen_once = True
        for name in list(self.streams):
            if name not in names:
                self._broken_streams.discard(self.streams[name].pod)
                stream = self.streams.pop(name)
                if stream.task is not None:
                    stream.task.cancel()

    def _containers_of(self, pod: PodState) -> list[str | None]:
        """The containers of a pod to follow: the chosen one, or each (``None`` when the
        pod's containers are not known: the API's default)."""
        if self.container is not None:
            return [self.container]
        return list(pod.containers) or [None]

    def _start(self, pod: PodState, container: str | None) -> None:
        key = _key(pod.name, container)
        stream = self.streams.get(key)
        runnable = pod.phase in ("Running", "Terminating", "Succeeded", "Failed")
        if stream is None and runnable:
            # a pod that appeared after the tail started is read from its beginning
            fresh = self._seen_once and pod.name not in self._known_pods
            since = None if fresh else self.since_seconds
            stream = _PodStream(pod.name, container)
            stream.key = key
            stream.restarts = pod.restarts
            self.streams[key] = stream
            stream.task = asyncio.create_task(self._follow(stream, since))
        elif stream is not None:
            stream.restarts = pod.restarts

    # streaming ----------------------------------------------------------------------

    async def _log(self, stream: _PodStream, what: str, **params: Any) -> aiohttp.ClientResponse:
        """One request for a stream's container log, with timestamps (``params``: follow,
        since, previous, tail)."""
        return await self.conn.request(
            self.backend,
            f"{what} of {stream.pod}",
            self.conn.api.read_namespaced_pod_log_without_preload_content(
                stream.pod,
                self.conn.namespace,
                container=stream.container,
                timestamps=True,
                **params,
            ),
        )

    async def _open(self, stream: _PodStream, since: int | None) -> aiohttp.ClientResponse:
        # the client takes one total timeout: a stream is cut after an hour and resumes
        # from its last line
        return await self._log(
            stream, "logs", follow=True, since_seconds=since, _request_timeout=3600.0
        )

    async def _follow(self, stream: _PodStream, since: int | None) -> None:
        import aiohttp

        waiting = _Backoff(self.retry_interval / 2, self.max_backoff)
        failing = _Backoff(self.retry_interval, self.max_backoff)
        while stream.key in self.streams:
            if stream.restarts > stream.previous_for:
                await self._show_previous(stream)
            try:
                response = await self._open(stream, since)
            except SourceError as error:
                if error.kind == "error" and "answered 400" in error.detail:
                    # the container has not started (again) yet: try later, less often
                    await asyncio.sleep(waiting.next())
                    continue
                if "answered 404" in error.detail:
                    return
                self._fault(error)
                await asyncio.sleep(failing.next())
                continue
            waiting.reset()
            failing.reset()
            if self.tracker.failing_kind != "malformed":
                self._healed()
            try:
                await self._read(stream, response)
            except (aiohttp.ClientError, asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                response.release()
            # the stream ended: the pod is gone, or the connection dropped
            if stream.key not in self.streams:
                return
            await asyncio.sleep(self.retry_interval / 4)
            elapsed = (datetime.now(UTC).timestamp() * 1e9 - stream.last_ns) / 1e9
            since = max(1, int(elapsed) + 2) if stream.last_ns else since

    async def _show_previous(self, stream: _PodStream) -> None:
        """The last lines of the container that ran before the latest restart, once per
        restart, marked as previous (what a responder reads while the new one backs off)."""
        stream.previous_for = stream.restarts
        try:
            response = await self._log(
                stream, "previous logs", previous=True, tail_lines=self.previous_lines
            )
        except SourceError:
            return  # no previous container (any more): nothing to show
        import aiohttp

        try:
            body = await asyncio.wait_for(response.read(), self.conn.timeout)
        except (TimeoutError, OSError, aiohttp.ClientError):
            return
        finally:
            response.release()
        texts = body.decode("utf-8", "replace").splitlines()
        self._take_text(stream, texts, previous=True)

    async def _read(self, stream: _PodStream, response: aiohttp.ClientResponse) -> None:
        buffer = b""
        async for chunk in response.content.iter_any():
            if buffer:
                chunk = buffer + chunk
            end = chunk.rfind(b"\n")
            if end < 0:
                buffer = chunk
                continue
            buffer = chunk[end + 1 :]
            lines = chunk[:end].decode("utf-8", "replace").split("\n")
            # under a flood a chunk holds thousands of lines: take them in slices and let
            # the screen draw (and keys be answered) between slices
            for start in range(0, len(lines), _SLICE):
                if start:
                    await asyncio.sleep(0)
                self._take_text(stream, lines[start : start + _SLICE])
            await asyncio.sleep(0)
        if buffer:
            self._take(stream, [buffer])

    def _take(self, stream: _PodStream, raw_lines: list[bytes]) -> None:
        self._take_text(stream, [raw.decode("utf-8", "replace") for raw in raw_lines])

    def _take_text(self, stream: _PodStream, texts: list[str], previous: bool = False) -> None:
        pending = self._pending
        container = stream.container or ""
        pod = stream.pod
        error_search = self.error_pattern.search
        stamps = self._stamps
        accept = stream.accept
        limit = self.max_line_length
        for text in texts:
            if text.endswith("\r"):
                text = text[:-1]
            stamp, _, rest = text.partition(" ")
            parsed = stamps.parse(stamp)
            if parsed is None:
                # the API was asked for timestamps: a line without one is not a log line
                # the kubelet sent; keep it visible but say the stream is broken
                moment, ns, rest = None, stream.last_ns, text
                self._broken_streams.add(pod)
                if self.tracker.failing_kind != "malformed":
                    self._fault(
                        SourceMalformed(
                            self.backend,
                            f"the log stream of {pod} sent lines without timestamps",
                        )
                    )
            else:
                moment, ns = parsed
                if pod in self._broken_streams:
                    self._broken_streams.discard(pod)
                    # healed only when no pod's stream is still sending broken lines
                    if not self._broken_streams and self.tracker.failing_kind == "malformed":
                        self._healed()
            if len(rest) > limit:
                rest = rest[:limit] + " …[truncated]"
            if not accept(ns, rest):
                continue
            # LogLine.parse, spelled out: this loop runs for every line of a flood
            level = detect_level(rest)
            is_error = level in _ERROR_LEVELS or error_search(rest) is not None
            pending.append(LogLine(pod, container, moment, rest, level, is_error, previous))
        if len(pending) > self.max_pending:
            cut = len(pending) - self.max_pending
            del pending[:cut]
            self._dropped += cut

    # faults ---------------------------------------------------------------------------

    def api_fault(self, fault: SourceFault | None) -> None:
        """What the pod watcher found of the API server. A hung or unreachable one holds
        every log stream too, which cannot tell by itself (a quiet pod sends nothing
        either): the pane says no new lines can arrive until the API answers again."""
        if fault is not None and fault.kind in ("timeout", "unreachable"):
            self._api_down = True
            self._fault(SourceTimeout(self.backend, f"no new lines can arrive: {fault.message}"))
        elif fault is None and self._api_down:
            self._api_down = False
            self._healed()

    def _fault(self, error: SourceError) -> None:
        failing = self.tracker.failing_kind
        if error.kind == "timeout" and failing not in (None, "timeout"):
            # one of many streams timing out while the others get the failure itself (a
            # 503 from every log request): the same outage, not a new one to record
            return
        self._faulted = True
        self.on_fault(self.tracker.failed(error, self.conn.server).fault)

    def _healed(self) -> None:
        self.tracker.ok(None)
        if self._faulted:
            self._faulted = False
            self.on_fault(None)

    # the flusher ----------------------------------------------------------------------

    def flush(self) -> None:
        if self._pending or self._dropped:
            lines, dropped = self._pending, self._dropped
            self._pending, self._dropped = [], 0
            self.sink(lines, dropped)

    async def run(self) -> None:
        """Flush batches until cancelled; cancelling stops every pod's tail."""
        try:
            while True:
                await asyncio.sleep(self.flush_interval)
                self.flush()
        finally:
            for stream in self.streams.values():
                if stream.task is not None:
                    stream.task.cancel()
            self.streams.clear()
