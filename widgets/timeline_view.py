"""The timeline pane: every recorded event, newest last, following new ones unless the
responder scrolled up; pinned events starred."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui.inert import inert
from tui.record.event import Event
from widgets.palette import BLUE, CYAN, GREEN, MAGENTA, RED, YELLOW

__all__ = ["KIND_TAGS", "TimelineView", "event_tag"]

# kinds keep fixed colours, like alert colours, so red reads as trouble in every theme
KIND_TAGS: dict[str, tuple[str, str]] = {
    "declared": ("DECLARED", f"bold {MAGENTA}"),
    "status_changed": ("STATUS", "bold"),
    "signal_alert_raised": ("ALERT", f"bold {RED}"),
    "signal_alert_cleared": ("CLEARED", GREEN),
    "vendor_status_changed": ("VENDOR", MAGENTA),
    "pod_restarts_seen": ("RESTARTS", YELLOW),
    "source_fault": ("BACKEND", f"bold {RED}"),
    "source_recovered": ("BACKEND OK", GREEN),
    "decision_answered": ("DECISION", CYAN),
    "checklist_item_checked": ("CHECKED", GREEN),
    "checklist_item_unchecked": ("UNCHECKED", "dim"),
    "remediation_planned": ("PLANNED", BLUE),
    "remediation_dry_run": ("DRY RUN", BLUE),
    "remediation_cancelled": ("CANCELLED", "dim"),
    "remediation_refused": ("REFUSED", "yellow"),
    "remediation_applied": ("APPLIED", f"bold {BLUE}"),
    "remediation_verified": ("ROLLED OUT", BLUE),
    "remediation_rolled_out": ("ROLLED OUT", BLUE),
    "remediation_effective": ("EFFECTIVE", f"bold {GREEN}"),
    "remediation_not_effective": ("NOT EFFECTIVE", f"bold {RED}"),
    "remediation_failed": ("FAILED", f"bold {RED}"),
    "remediation_reverted": ("REVERTED", YELLOW),
    "comms_copied": ("COPIED", MAGENTA),
    "comms_posted": ("POSTED", MAGENTA),
    "note": ("NOTE", ""),
    "pinned": ("PINNED", YELLOW),
    "unpinned": ("UNPINNED", "dim"),
    "responder_joined": ("JOINED", ""),
    "commander_changed": ("IC", "bold"),
    "export": ("EXPORT", "dim"),
    "resolved": ("RESOLVED", f"bold {GREEN}"),
    "reopened": ("REOPENED", f"bold {YELLOW}"),
}
"""How each kind of event is tagged on its row: a short word and its colour."""

TAG_WIDTH = 9
ACTOR_WIDTH = 10
PIN = "★"


def event_tag(event: Event) -> tuple[str, str]:
    """The tag of an event's row; a severity change reads ``P2→P1`` (red when it rises)."""
    if event.kind == "severity_changed":
        before = str(event.details.get("from", "?"))
        after = str(event.details.get("to", "?"))
        rising = after < before  # P1 is the most severe, so a smaller number is worse
        return inert(f"{before}→{after}"), f"bold {RED}" if rising else YELLOW
    return KIND_TAGS.get(event.kind, (event.kind.upper()[:TAG_WIDTH], ""))


class TimelineView(OptionList):
    """The incident's events, one row each; fed by :meth:`add_events` and :meth:`set_events`."""

    DEFAULT_CSS = """
    TimelineView {
        height: 1fr;
        max-height: 100%;
        border: none;
        padding: 0;
        background: $surface;
        &:focus { border: none; background-tint: $foreground 4%; }
        & > .option-list--option { padding: 0; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("P", "toggle_pin", "Pin", tooltip="Pin or unpin the selected event"),
        Binding("z", "toggle_utc", "UTC/local"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("G", "last", "Follow", show=False),
        Binding("g", "first", "Top", show=False),
    ]

    utc: reactive[bool] = reactive(True, init=False)
    """Times in UTC (True) or the local zone (False)."""
    following: reactive[bool] = reactive(True, init=False)
    """Keep the newest event selected and in view; moving up pauses this."""

    class PinToggled(Message):
        """``P`` on an event: pin it if unpinned, unpin it if pinned."""

        def __init__(self, view: TimelineView, event_id: str, pinned: bool) -> None:
            super().__init__()
            self.view = view
            self.event_id = event_id
            self.pinned = pinned
            """Whether the event was pinned when ``P`` was pressed."""

        @property
        def control(self) -> TimelineView:
            return self.view

    class StatusChanged(Message):
        """Following, the zone, or the count of events arrived while paused changed."""

        def __init__(self, view: TimelineView) -> None:
            super().__init__()
            self.view = view

        @property
        def control(self) -> TimelineView:
            return self.view

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, TimelineView.StatusChanged) and message.view is self.view

    def __init__(
        self,
        events: Iterable[Event] = (),
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._events: list[Event] = []
        self._by_id: dict[str, Event] = {}
        self.pinned: set[str] = set()
        """Ids of the events pinned now (recorded pinned, or pinned later)."""
        self.new_while_paused = 0
        """Events added since the responder moved off the newest one."""
        self._moving = False
        self.add_events(list(events))

    # ------------------------------------------------------------------ data in

    @property
    def events(self) -> list[Event]:
        """The events shown, oldest first."""
        return list(self._events)

    @property
    def selected_event(self) -> Event | None:
        """The event under the cursor."""
        index = self.highlighted
        if index is None or not 0 <= index < len(self._events):
            return None
        return self._events[index]

    def add_events(self, events: list[Event]) -> None:
        """Append events (an event already shown is skipped)."""
        fresh = [e for e in events if e.id not in self._by_id]
        if not fresh:
            return
        touched = self._note_pins(fresh)
        for event in fresh:
            self._events.append(event)
            self._by_id[event.id] = event
        self.add_options([self._option(e) for e in fresh])
        for event_id in touched - {e.id for e in fresh}:
            self._repaint(event_id)
        if self.following:
            self._select_last()
        else:
            self.new_while_paused += len(fresh)
            self.post_message(self.StatusChanged(self))

    def set_events(self, events: list[Event]) -> None:
        """Replace every event shown (a reload, or a filter)."""
        unique = list({e.id: e for e in events}.values())
        self.pinned = set()
        self._note_pins(unique)
        self._events = unique
        self._by_id = {e.id: e for e in unique}
        self._moving = True
        try:
            self.set_options([self._option(e) for e in unique])
        finally:
            self._moving = False
        self.new_while_paused = 0
        self.following = True
        self._select_last()

    def _note_pins(self, events: list[Event]) -> set[str]:
        """Track pins; returns the ids whose star changed."""
        touched: set[str] = set()
        for event in events:
            if event.pinned:
                self.pinned.add(event.id)
                touched.add(event.id)
            target = event.details.get("event")
            if event.kind in ("pinned", "unpinned") and isinstance(target, str):
                if event.kind == "pinned":
                    self.pinned.add(target)
                else:
                    self.pinned.discard(target)
                touched.add(target)
        return touched

    def _repaint(self, event_id: str) -> None:
        event = self._by_id.get(event_id)
        if event is not None:
            self.replace_option_prompt(event_id, self.row(event))

    def _option(self, event: Event) -> Option:
        return Option(self.row(event), id=event.id)

    def _stamp(self, moment: datetime) -> str:
        return (moment if self.utc else moment.astimezone()).strftime("%H:%M:%S")

    def row(self, event: Event) -> Content:
        """``★ 13:02:11  P2→P1     alice       summary``: one event's row."""
        tag, style = event_tag(event)
        marker = PIN if event.id in self.pinned else " "
        actor = inert(event.actor)
        if len(actor) > ACTOR_WIDTH:
            actor = actor[: ACTOR_WIDTH - 1] + "…"
        return Content.assemble(
            (marker, "bold $text-warning"),
            " ",
            (self._stamp(event.time), "$foreground-muted"),
            "  ",
            (tag.ljust(TAG_WIDTH), style),
            "  ",
            (actor.ljust(ACTOR_WIDTH), "$text-secondary"),
            "  ",
            inert(event.summary),
        )

    # ------------------------------------------------------------------ following

    def _select_last(self) -> None:
        if not self._events:
            return
        self._moving = True
        try:
            self.highlighted = len(self._events) - 1
            if self.is_mounted:
                self.scroll_end(animate=False, immediate=True, x_axis=False)
        finally:
            self._moving = False

    def on_mount(self) -> None:
        if self.following:
            self.call_after_refresh(self._select_last)

    def watch_following(self, following: bool) -> None:
        if following:
            self.new_while_paused = 0
            self._select_last()
        self.post_message(self.StatusChanged(self))

    def _after_move(self) -> None:
        self.following = self.highlighted is None or self.highlighted >= len(self._events) - 1

    def action_cursor_up(self) -> None:
        super().action_cursor_up()
        self._after_move()

    def action_cursor_down(self) -> None:
        super().action_cursor_down()
        self._after_move()

    def action_page_up(self) -> None:
        super().action_page_up()  # type: ignore[no-untyped-call]
        self._after_move()

    def action_page_down(self) -> None:
        super().action_page_down()  # type: ignore[no-untyped-call]
        self._after_move()

    def action_first(self) -> None:
        super().action_first()
        self._after_move()

    def action_last(self) -> None:
        super().action_last()
        self.following = True

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if not self._moving and new < old and new < self.max_scroll_y:
            self.following = False

    # ------------------------------------------------------------------ keys

    def action_toggle_pin(self) -> None:
        event = self.selected_event
        if event is not None:
            self.post_message(self.PinToggled(self, event.id, event.id in self.pinned))

    def action_toggle_utc(self) -> None:
        self.utc = not self.utc

    def watch_utc(self) -> None:
        highlighted = self.highlighted
        scroll_y = self.scroll_y
        self._moving = True
        try:
            self.set_options([self._option(e) for e in self._events])
            self.highlighted = highlighted
            self.scroll_to(y=scroll_y, animate=False, immediate=True)
        finally:
            self._moving = False
        self.post_message(self.StatusChanged(self))
