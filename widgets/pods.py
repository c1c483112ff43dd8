"""The pods pane: the service's pods as k9s shows them, updated in place so the cursor and
the screen stay still while ages tick."""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.widgets.data_table import CellDoesNotExist

from tui.inert import inert
from tui.signals import PodState, SourceFault, human_duration
from widgets.fault import fault_text
from widgets.palette import GREEN, MAGENTA, RED, YELLOW

__all__ = ["COLUMNS", "PodGrid", "PodTable", "k8s_age", "pod_status", "status_style"]

COLUMNS = ("NAME", "READY", "STATUS", "RESTARTS", "AGE", "REVISION")

# k9s colours: alert colours, fixed across themes
_RUNNING = Style(color=GREEN)
_PENDING = Style(color=YELLOW)
_FAILING = Style(color=RED, bold=True)
_GONE = Style(dim=True)
_OTHER = Style(color=MAGENTA)
_RED = Style(color=RED, bold=True)

_PENDING_REASONS = (
    "ContainerCreating",
    "PodInitializing",
    "Pending",
    "Init:",
    "Waiting",
    "NotReady",
)
_FAILING_WORDS = ("BackOff", "Err", "Error", "OOM", "Crash", "Failed", "Evicted", "Invalid")


def k8s_age(age: timedelta | None) -> str:
    """``45s``, ``3m12s``, ``42m``, ``125m``, ``4h5m``, ``20h``, ``3d4h``, ``30d``: an age
    exactly as ``kubectl get pods`` prints it, so the two can be read side by side."""
    if age is None:
        return "?"
    return human_duration(age.total_seconds())


def pod_status(pod: PodState) -> str:
    """What the STATUS column says: the reason when there is one, else the phase."""
    if pod.phase == "Terminating":
        return "Terminating"
    return pod.reason or pod.phase


def status_style(pod: PodState) -> Style:
    """Running green, pending yellow, crash or error red, terminating dim (as k9s)."""
    status = pod_status(pod)
    if status == "Terminating" or status in ("Succeeded", "Completed"):
        return _GONE
    if pod.phase == "Failed" or any(word in status for word in _FAILING_WORDS):
        return _FAILING
    if pod.phase == "Pending" or status.startswith(_PENDING_REASONS):
        return _PENDING
    if pod.phase == "Running":
        return _RUNNING if pod.ready else _PENDING
    return _OTHER


def _ready(pod: PodState) -> Text:
    total = len(pod.containers) or 1
    if pod.ready:
        return Text(f"{total}/{total}")
    # PodState carries readiness as a whole; with several containers the count is unknown
    return Text(f"0/{total}" if total == 1 else f"-/{total}", style=_PENDING)


def _cells(pod: PodState, now: datetime, strip_prefix: str = "") -> tuple[Text, ...]:
    gone = pod_status(pod) == "Terminating"
    shown = pod.name.removeprefix(strip_prefix) if strip_prefix else pod.name
    name = Text(inert(shown), style=_GONE if gone else Style())
    restarts = Text(str(pod.restarts), style=_RED if pod.restarts > 0 else Style())
    return (
        name,
        _ready(pod),
        Text(inert(pod_status(pod)), style=status_style(pod)),
        restarts,
        Text(k8s_age(pod.age(now))),
        Text(inert(pod.revision or "")),
    )


def _same(a: Text, b: Text) -> bool:
    return a.plain == b.plain and a.style == b.style and a.spans == b.spans


class PodGrid(DataTable[Text]):
    """The table inside :class:`PodTable`; rows are keyed by pod name."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    DEFAULT_CSS = """
    PodGrid {
        height: 1fr;
        background: $surface;
        &.-stale { opacity: 70%; }
    }
    """


class PodTable(Vertical):
    """The service's pods: NAME, READY, STATUS, RESTARTS, AGE, REVISION; data comes in
    through :meth:`show`. The cursor stays on the same pod across updates."""

    DEFAULT_CSS = """
    PodTable {
        height: 1fr;
        & > #pods-fault { height: auto; display: none; padding: 0 1; }
        & > #pods-fault.-shown { display: block; }
    }
    """

    class PodSelected(Message):
        """Enter on a pod row (for the app to, say, filter the logs to that pod)."""

        def __init__(self, table: PodTable, pod: str) -> None:
            super().__init__()
            self.table = table
            self.pod = pod

        @property
        def control(self) -> PodTable:
            return self.table

    def __init__(
        self,
        strip_prefix: str = "",
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.strip_prefix = strip_prefix
        """A prefix every pod name shares (``clay-integration-``), left out to save room."""
        self._cells: dict[str, tuple[Text, ...]] = {}
        self._pods: dict[str, PodState] = {}
        self._fault_key: str | None = None
        self._pending: tuple[list[PodState], SourceFault | None, datetime] | None = None
        """What :meth:`show` was given before the table was mounted."""

    def compose(self) -> ComposeResult:
        yield Static(id="pods-fault")
        grid = PodGrid(cursor_type="row", zebra_stripes=True)
        for column in COLUMNS:
            grid.add_column(column, key=column.lower())
        yield grid

    def on_mount(self) -> None:
        if self._pending is not None:
            self.show(*self._pending)
            self._pending = None

    @property
    def grid(self) -> PodGrid:
        return self.query_one(PodGrid)

    @property
    def pods(self) -> list[PodState]:
        """The pods shown, in the order shown."""
        grid = self.grid
        return [self._pods[str(row.key.value)] for row in grid.ordered_rows]

    @property
    def selected_pod(self) -> str | None:
        """The name of the pod under the cursor."""
        grid = self.grid
        if not grid.row_count:
            return None
        try:
            key = grid.coordinate_to_cell_key(grid.cursor_coordinate).row_key
        except CellDoesNotExist:
            return None
        return None if key.value is None else str(key.value)

    def focus(self, scroll_visible: bool = True) -> PodTable:
        self.grid.focus(scroll_visible)
        return self

    def show(self, pods: list[PodState], fault: SourceFault | None, now: datetime) -> bool:
        """Show the pods (sorted by name), changing only the cells that changed; under a
        fault the last pods stay, with the fault above them. Returns whether anything
        on screen changed."""
        if not self.children:
            # not composed yet: shown once mounted
            self._pending = (list(pods), fault, now)
            return True
        changed = self._show_fault(fault, now)
        self.grid.set_class(fault is not None, "-stale")
        if fault is not None and not pods:
            return changed
        grid = self.grid
        selected = self.selected_pod
        row_before = grid.cursor_row
        wanted = {pod.name: pod for pod in sorted(pods, key=lambda p: p.name)}
        for name in [n for n in self._cells if n not in wanted]:
            grid.remove_row(name)
            del self._cells[name]
            del self._pods[name]
            changed = True
        added = False
        for name, pod in wanted.items():
            cells = _cells(pod, now, self.strip_prefix)
            self._pods[name] = pod
            old = self._cells.get(name)
            if old is None:
                grid.add_row(*cells, key=name)
                added = True
            else:
                for column, new_cell, old_cell in zip(COLUMNS, cells, old, strict=True):
                    if not _same(new_cell, old_cell):
                        grid.update_cell(name, column.lower(), new_cell, update_width=True)
                        changed = True
            self._cells[name] = cells
        if added:
            grid.sort("name", key=lambda cell: cell.plain)
            changed = True
        if selected is not None and selected in self._cells:
            target = grid.get_row_index(selected)
        else:
            # the pod went away: stay at the same height, as k9s does
            target = min(row_before, max(0, grid.row_count - 1))
        if selected is not None and target != grid.cursor_row:
            grid.move_cursor(row=target)
        return changed

    def _show_fault(self, fault: SourceFault | None, now: datetime) -> bool:
        widget = self.query_one("#pods-fault", Static)
        widget.set_class(fault is not None, "-shown")
        if fault is None:
            changed = self._fault_key is not None
            self._fault_key = None
            return changed
        text = fault_text(fault, now)
        if text.markup == self._fault_key:
            return False
        self._fault_key = text.markup
        widget.update(Content.from_rich_text(text))
        return True

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.PodSelected(self, str(event.row_key.value)))
