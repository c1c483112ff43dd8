"""The incident header: title, severity badge, status, elapsed time, the response clock,
the commander and when the next stakeholder update is due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from textual.content import Content
from textual.geometry import Size
from textual.widget import Widget

from tui.inert import inert
from widgets.palette import ORANGE, RED

__all__ = ["SEVERITY_STYLES", "HeaderState", "IncidentHeader", "hms", "mmss"]

SEVERITY_STYLES = {
    "P1": "bold #ffffff on #d70000",
    "P2": f"bold #000000 on {ORANGE}",
    "P3": "bold #000000 on #ffd700",
    "P4": "bold #ffffff on #005fd7",
}
"""Severity badges keep fixed alert colours: P1 red, P2 orange, P3 yellow, P4 blue."""

_ALARM = f"bold {RED}"
_SEPARATOR = ("  ·  ", "$foreground-muted")


def hms(delta: timedelta) -> str:
    """``01:23:45``; days add to the hours (``26:00:00``)."""
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}"


def mmss(delta: timedelta) -> str:
    """``12:03`` under an hour, ``1:02:03`` from an hour on; never negative."""
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


@dataclass(frozen=True)
class HeaderState:
    """Everything the header shows."""

    title: str
    severity: str
    status: str
    elapsed: timedelta
    response_remaining: timedelta
    breached: bool
    commander: str | None
    next_update_in: timedelta | None
    now: datetime
    mitigated: bool = False
    """The impact is mitigated (or the incident resolved): the response clock has stopped."""
    where: str | None = None
    """The cluster in use, short: ``context/namespace``."""


class IncidentHeader(Widget):
    """One line when it fits, two otherwise; data comes in through :meth:`show`."""

    DEFAULT_CSS = """
    IncidentHeader {
        height: auto;
        width: 1fr;
        background: $panel;
        color: $foreground;
        padding: 0 1;
        &.-breached { background-tint: #ff0000 10%; }
    }
    """

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.state: HeaderState | None = None
        self._parts: tuple[Content, Content] = (Content("No incident declared"), Content(""))

    def show(
        self,
        title: str,
        severity: str,
        status: str,
        elapsed: timedelta,
        response_remaining: timedelta,
        breached: bool,
        commander: str | None,
        next_update_in: timedelta | None,
        now: datetime,
        mitigated: bool = False,
        where: str | None = None,
    ) -> bool:
        """Show the incident's state; returns whether the header changed. Once
        ``mitigated``, the response clock shows where it stopped instead of counting."""
        state = HeaderState(
            title,
            severity,
            status,
            elapsed,
            response_remaining,
            breached,
            commander,
            next_update_in,
            now,
            mitigated,
            where,
        )
        parts = (self._identity(state), self._clocks(state))
        if self.state is not None and _same(parts, self._parts):
            self.state = state
            return False
        self.state = state
        self._parts = parts
        self.set_class(breached, "-breached")
        overdue = next_update_in is not None and next_update_in <= timedelta(0)
        self.set_class(overdue, "-update-overdue")
        self.refresh(layout=True)
        return True

    def _identity(self, state: HeaderState) -> Content:
        badge = (f" {inert(state.severity)} ", SEVERITY_STYLES.get(state.severity, "reverse"))
        return Content.assemble(
            badge,
            " ",
            (inert(state.title), "bold"),
            _SEPARATOR,
            (inert(state.status).upper(), "bold $text-accent"),
            _SEPARATOR,
            ("elapsed ", "$foreground-muted"),
            hms(state.elapsed),
        )

    def _clocks(self, state: HeaderState) -> Content:
        if state.breached:
            over = -state.response_remaining
            response = Content.styled(f"BREACHED +{mmss(over)}", _ALARM)
        elif state.mitigated:
            response = Content.assemble(
                ("mitigated with ", "$foreground-muted"),
                mmss(state.response_remaining),
                (" to spare", "$foreground-muted"),
            )
        else:
            response = Content.assemble(
                ("respond in ", "$foreground-muted"), mmss(state.response_remaining)
            )
        commander = (
            Content.assemble(("IC ", "$foreground-muted"), (f"@{inert(state.commander)}", "bold"))
            if state.commander
            else Content.styled("IC unassigned", "$text-warning")
        )
        parts: list[Content | str | tuple[str, str]] = [response, _SEPARATOR, commander]
        if state.next_update_in is not None:
            parts.append(_SEPARATOR)
            if state.next_update_in <= timedelta(0):
                late = -state.next_update_in
                parts.append((f"update overdue +{mmss(late)}", _ALARM))
            else:
                parts += [("next update in ", "$foreground-muted"), mmss(state.next_update_in)]
        if state.where:
            parts += [_SEPARATOR, ("⎈ ", "$foreground-muted"), inert(state.where)]
        return Content.assemble(*parts)

    def _lines(self, width: int) -> list[Content]:
        first, second = self._parts
        if not second.plain:
            return [first]
        if first.cell_length + 5 + second.cell_length <= width:
            return [Content.assemble(first, _SEPARATOR, second)]
        return [first, second]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines(width))

    def render(self) -> Content:
        lines = self._lines(self.content_size.width)
        return Content("\n").join(
            line.truncate(self.content_size.width, ellipsis=True) for line in lines
        )

    def text(self) -> str:
        """The header as plain text (both parts on one line)."""
        return " · ".join(part.plain for part in self._parts if part.plain)


def _same(a: tuple[Content, Content], b: tuple[Content, Content]) -> bool:
    return all(
        x.plain == y.plain and list(x.spans) == list(y.spans) for x, y in zip(a, b, strict=True)
    )
