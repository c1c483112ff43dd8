"""The log pane's parts of the dashboard: the lines the tail hands over (shown, and kept
next to the journal so the evidence outlives the pods), its status row, its fault row and
its regex filter."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.markup import escape
from textual.widgets import Input, Static

from tui.inert import inert
from tui.record.kept_logs import KeptLogs
from tui.screens.part import DashboardPart
from widgets.log_view import LogView

if TYPE_CHECKING:
    from tui.signals import LogLine, SourceFault

__all__ = ["LogPaneControls"]


class LogPaneControls(DashboardPart):
    """What the log pane does besides drawing lines."""

    if TYPE_CHECKING:
        logs_fault: SourceFault | None
        _last_error: LogLine | None

        def _observe_fault(self, backend: str, fault: SourceFault | None) -> None: ...

    _kept: KeptLogs | None = None
    _kept_warned = False

    def kept_logs(self) -> KeptLogs | None:
        """Where the lines go on disk: the incident's folder, unless this is a replay."""
        if self._kept is None and self.journal is not None and not self.read_only:
            self._kept = KeptLogs(self.journal.directory, self.journal.redactor)
        return self._kept

    def close_kept_logs(self) -> None:
        if self._kept is not None:
            self._kept.close()

    def _set_logs_fault(self, fault: SourceFault | None) -> None:
        self.logs_fault = fault
        self._observe_fault("logs", fault)
        self._update_log_status()

    def _on_log_lines(self, lines: list[LogLine], dropped: int) -> None:
        self._last_error = next((line for line in reversed(lines) if line.is_error), None) or (
            self._last_error
        )
        self.query_one("#logs", LogView).write_lines(lines, dropped)
        kept = self.kept_logs()
        if kept is not None:
            main = self.runbook.logs.container or self.runbook.service.container
            kept.append(
                (
                    line.timestamp,
                    # another container's line keeps its container: pod/container
                    line.pod if line.container in ("", main) else f"{line.pod}/{line.container}",
                    line.text,
                )
                for line in lines
            )
            if kept.error is not None and not self._kept_warned:
                self._kept_warned = True  # once: the pane goes on showing lines
                self.notify(kept.error, severity="warning", timeout=10)
            elif kept.error is None:
                self._kept_warned = False

    # handlers by name: a mixin's @on handlers are not collected (Textual gathers them only
    # from classes of its own metaclass)

    def on_log_view_status_changed(self) -> None:
        self._update_log_status()

    def _update_log_status(self) -> None:
        view = self.query_one("#logs", LogView)
        parts = [f"{view.shown_count:,}/{view.total:,} lines"]
        source = self.log_source_words()
        if source:
            parts.append(escape(inert(source)))
        if view.dropped:
            parts.append(f"[b red]{view.dropped:,} dropped[/]")
        if view.evicted:
            parts.append(f"{view.evicted:,} older lines out of the buffer")
        if view.filter_text:
            parts.append(f"filter /{escape(view.filter_text)}/")
        if view.errors_only:
            parts.append("errors only")
        if not view.following:
            parts.append(f"[b yellow]paused: {view.new_while_paused:,} new — End to follow[/]")
        parts.append("UTC" if view.utc else "local time")
        # one docked row: its size never changes, so the screen needs no new layout
        self.query_one("#log-status", Static).update(" · ".join(parts), layout=False)
        # the fault has rows of its own: on the status row it was cut off or pushed out
        fault = self.logs_fault
        row = self.query_one("#log-fault", Static)
        if fault is None:
            if row.has_class("-shown"):
                row.remove_class("-shown")
            return
        said = f"⚠ {fault.message} · since {fault.since:%H:%M:%S} UTC"
        if fault.hint:
            said += f" · {fault.hint}"
        row.update(inert(said))
        row.add_class("-shown")

    def on_log_view_source_requested(self, event: LogView.SourceRequested) -> None:
        """``C`` next container, ``O`` next pod alone, ``[``/``]`` since: the tail starts
        again from there and the pane shows only what it sends from then on."""
        tail = getattr(self, "_tail", None)
        if tail is None:
            self.notify("The log tail has not started yet.", severity="warning")
            return
        view = self.query_one("#logs", LogView)
        if event.what == "container":
            choices: list[str | None] = [None, *tail.containers()]
            tail.follow_container(_next(choices, tail.container, event.step))
        elif event.what == "pod":
            pods: list[str | None] = [None, *tail.pod_names()]
            tail.follow_pod(_next(pods, tail.only_pod, event.step))
        else:
            steps = list(tail.SINCE_STEPS)
            now = min(steps, key=lambda s: abs(s - tail.since_seconds))
            index = max(0, min(len(steps) - 1, steps.index(now) + event.step))
            tail.follow_since(steps[index])
        view.show_containers = tail.container is None and len(tail.containers()) > 1
        view.clear()
        self._update_log_status()

    def log_source_words(self) -> str:
        """What the pane follows: ``app · all pods · since 5m``."""
        tail = getattr(self, "_tail", None)
        if tail is None:
            return ""
        container = tail.container or "all containers"
        pod = tail.only_pod or "all pods"
        return f"{container} · {pod} · since {_duration(tail.since_seconds)}"

    def on_log_view_filter_requested(self) -> None:
        field = self.query_one("#log-filter", Input)
        field.add_class("-open")
        field.value = self.query_one("#logs", LogView).filter_text
        field.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "log-filter":
            return
        view = self.query_one("#logs", LogView)
        try:
            view.set_filter(event.value)
        except re.error as error:
            event.input.add_class("-error")
            event.input.border_title = f"not a regular expression: {error}"
            return
        event.input.remove_class("-error")
        event.input.border_title = None

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "log-filter":
            return
        self._close_filter(keep=True)

    def _close_filter(self, keep: bool) -> None:
        field = self.query_one("#log-filter", Input)
        view = self.query_one("#logs", LogView)
        if not keep:
            field.value = ""
            view.set_filter("")
        field.remove_class("-open")
        view.focus()

    def key_escape(self) -> None:
        field = self.query_one("#log-filter", Input)
        if field.has_class("-open"):
            self._close_filter(keep=False)


def _next(choices: list[str | None], current: str | None, step: int) -> str | None:
    index = choices.index(current) if current in choices else 0
    return choices[(index + step) % len(choices)]


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"
