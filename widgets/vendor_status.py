"""The vendor pane: the vendor's status page and our own health endpoint, side by side in
time; a failed fetch shows the fault over the last good value, marked stale."""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from tui.inert import inert
from tui.signals import Health, SourceFault, VendorStatus
from widgets.fault import fault_text
from widgets.palette import GREEN, MAGENTA, RED, YELLOW, ago, clock

__all__ = ["VendorStatusPane", "health_content", "indicator_style", "vendor_content"]

_INDICATOR_STYLES = {
    "none": f"bold {GREEN}",
    "minor": f"bold {YELLOW}",
    "major": f"bold {RED}",
    "critical": f"bold {RED}",
    "maintenance": "bold $text-primary",
}
_UNKNOWN_INDICATOR = f"bold {MAGENTA}"
_HEALTH_STYLES = {"degraded": f"bold {YELLOW}"}
_COMPONENT_STYLES = {
    "degraded_performance": YELLOW,
    "partial_outage": RED,
    "major_outage": f"bold {RED}",
    "under_maintenance": "$text-primary",
}


def indicator_style(indicator: str) -> str:
    """The style of a status page indicator: green, yellow, red, or magenta when unknown."""
    return _INDICATOR_STYLES.get(indicator, _UNKNOWN_INDICATOR)


def vendor_content(status: VendorStatus, now: datetime) -> Content:
    """Indicator and description, degraded components, open incidents with their latest
    update and its age."""
    name = inert(status.vendor) or "Vendor"
    parts: list[Content] = [
        Content.assemble(
            (f"{name} status ", "bold"),
            ("● " + inert(status.indicator), indicator_style(status.indicator)),
            " — ",
            inert(status.description),
        )
    ]
    degraded = status.degraded_components
    if degraded:
        line = Content.styled("Degraded: ", "bold")
        for index, component in enumerate(degraded):
            if index:
                line = line.append(", ")
            line = line.append(
                Content.assemble(
                    inert(component.name),
                    " (",
                    (
                        inert(component.status.replace("_", " ")),
                        _COMPONENT_STYLES.get(component.status, YELLOW),
                    ),
                    ")",
                )
            )
        parts.append(line)
    elif status.components:
        parts.append(Content.styled(f"All {len(status.components)} components operational", GREEN))
    if status.incidents:
        parts.append(Content.styled(f"Open incidents ({len(status.incidents)}):", "bold"))
        for incident in status.incidents:
            updated = (
                f" · updated {ago(now - incident.updated_at)} ago"
                if incident.updated_at is not None
                else ""
            )
            parts.append(
                Content.assemble(
                    "  ▸ ",
                    (inert(incident.name), "bold"),
                    " [",
                    inert(incident.status),
                    ", impact ",
                    (inert(incident.impact), indicator_style(incident.impact)),
                    "]",
                    (updated, "$foreground-muted"),
                )
            )
            if incident.latest_update:
                parts.append(Content.styled("    " + inert(incident.latest_update), "italic"))
    else:
        parts.append(Content.styled("No open vendor incidents", "$foreground-muted"))
    return Content("\n").join(parts)


def health_content(health: Health, now: datetime) -> Content:
    """Our health object for the vendor: status, latency, last error."""
    style = f"bold {GREEN}" if health.healthy else _HEALTH_STYLES.get(health.status, f"bold {RED}")
    line = Content.assemble(
        ("Our health ", "bold"),
        ("● " + inert(health.status), style),
    )
    if health.latency_ms is not None:
        line = line.append(f" · {health.latency_ms:.0f} ms")
    parts = [line]
    if health.last_error:
        parts.append(Content.assemble(("Last error: ", "bold"), (inert(health.last_error), RED)))
    return Content("\n").join(parts)


def _stale(content: Content, since: datetime | None, now: datetime) -> Content:
    when = f" from {clock(since)} ({ago(now - since)} ago)" if since else ""
    label = Content.styled(f"stale — last good value{when}:", "bold $foreground-muted")
    return Content("\n").join([label, content.stylize("dim")])


class VendorStatusPane(VerticalScroll, can_focus=True):
    """The vendor's status page and our health endpoint; data comes in through :meth:`show`."""

    DEFAULT_CSS = """
    VendorStatusPane {
        height: 1fr;
        background: $surface;
        padding: 0 1;
        &:focus { background-tint: $foreground 4%; }
        & > .part { height: auto; width: 1fr; }
        & > #vendor-status { margin-bottom: 1; }
        /* both faults first and a few rows each: the second never hides below the first */
        & > .fault { height: auto; max-height: 5; width: 1fr; display: none; }
        & > .fault.-shown { display: block; }
        & > #health-fault.-shown { margin-bottom: 1; }
    }
    """

    BINDINGS = [
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
    ]

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._status: VendorStatus | None = None
        self._health: Health | None = None
        self._rendered: dict[str, Content] = {}
        self._pending: (
            tuple[
                VendorStatus | None, SourceFault | None, Health | None, SourceFault | None, datetime
            ]
            | None
        ) = None
        """What :meth:`show` was given before the pane was mounted."""

    def compose(self) -> ComposeResult:
        yield Static(id="status-fault", classes="fault")
        yield Static(id="health-fault", classes="fault")
        yield Static(_waiting("Status page"), id="vendor-status", classes="part")
        yield Static(_waiting("Health"), id="vendor-health", classes="part")

    def on_mount(self) -> None:
        if self._pending is not None:
            self.show(*self._pending)
            self._pending = None

    @property
    def last_status(self) -> VendorStatus | None:
        """The last good status page answer (shown stale while the page fails)."""
        return self._status

    @property
    def last_health(self) -> Health | None:
        """The last good health answer (shown stale while the endpoint fails)."""
        return self._health

    def show(
        self,
        status: VendorStatus | None,
        status_fault: SourceFault | None,
        health: Health | None,
        health_fault: SourceFault | None,
        now: datetime,
    ) -> bool:
        """Show the latest answers; a fault replaces the part it affects and keeps the last
        good value visible, marked stale. Returns whether anything on screen changed."""
        if not self.children:
            # not composed yet: shown once mounted
            self._pending = (status, status_fault, health, health_fault, now)
            return True
        if status is not None:
            self._status = status
        if health is not None:
            self._health = health
        vendor = None if self._status is None else vendor_content(self._status, now)
        ours = None if self._health is None else health_content(self._health, now)
        status_at = self._status.fetched_at if self._status else None
        health_at = self._health.fetched_at if self._health else None
        changed = self._show_part("status", "vendor-status", vendor, status_at, status_fault, now)
        ours_changed = self._show_part(
            "health", "vendor-health", ours, health_at, health_fault, now
        )
        return changed or ours_changed

    def _show_part(
        self,
        name: str,
        part_id: str,
        content: Content | None,
        good_at: datetime | None,
        fault: SourceFault | None,
        now: datetime,
    ) -> bool:
        what = "Status page" if name == "status" else "Health"
        if fault is None:
            shown = content if content is not None else _waiting(what)
            warning = None
        else:
            warning = Content.from_rich_text(fault_text(fault, now))
            if content is None:
                shown = Content.styled(f"{what}: no good value yet", "$foreground-muted")
            else:
                shown = _stale(content, good_at or fault.last_good_at, now)
        changed = self._update(f"#{part_id}", shown)
        changed = self._update(f"#{name}-fault", warning) or changed
        self.query_one(f"#{part_id}").set_class(fault is not None, "-stale")
        return changed

    def _update(self, selector: str, content: Content | None) -> bool:
        """Repaint one part only when what it says changed."""
        widget = self.query_one(selector, Static)
        widget.set_class(content is not None, "-shown")
        previous = self._rendered.get(selector)
        if content is None:
            return self._rendered.pop(selector, None) is not None
        if previous is not None and _same(previous, content):
            return False
        self._rendered[selector] = content
        widget.update(content)
        return True


def _waiting(what: str) -> Content:
    return Content.styled(f"{what}: waiting for the first answer…", "$foreground-muted")


def _same(a: Content, b: Content) -> bool:
    return a.plain == b.plain and list(a.spans) == list(b.spans)
