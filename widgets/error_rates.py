"""The error-rate pane: one row per runbook signal with its value, a sparkline of the last
30 minutes, the alert threshold and the alert level."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from tui.inert import inert
from tui.signals import MetricReading, SourceFault, format_value, holds
from widgets.fault import fault_text
from widgets.palette import GREEN, RED, YELLOW

__all__ = ["LEVEL_STYLES", "ErrorRatesPane", "SignalRow", "reading_content", "sparkline"]

BLOCKS = "▁▂▃▄▅▆▇█"

LEVEL_STYLES = {
    "P1": f"bold {RED}",
    "P2": RED,
    "P3": YELLOW,
    "P4": YELLOW,
    "ok": GREEN,
    "unknown": "dim",
}
"""Alert colours are fixed (red is red in every theme)."""

_NAME_WIDTH = 14
_VALUE_WIDTH = 9
_THRESHOLD_WIDTH = 10
_LEVEL_WIDTH = 7
_FIXED_WIDTH = _NAME_WIDTH + _VALUE_WIDTH + _THRESHOLD_WIDTH + _LEVEL_WIDTH + 4
"""Cells of a row besides the sparkline."""


def sparkline(values: Sequence[float], width: int = 30, top: float | None = None) -> str:
    """``▁▁▂▅█``: the values scaled so ``top`` (or their maximum) is a full block; longer
    series keep each bucket's maximum so a spike is never averaged away; shorter ones are
    padded on the left so time still runs to the right edge."""
    finite = [v for v in values if not math.isnan(v)]
    if len(values) > width:
        values = _bucket_max(values, width)
    scale = max([*finite, top or 0.0, 0.0])
    cells = []
    for value in values:
        if math.isnan(value):
            cells.append(" ")
        elif scale <= 0:
            cells.append(BLOCKS[0])
        else:
            level = round(max(0.0, value) / scale * (len(BLOCKS) - 1))
            cells.append(BLOCKS[min(level, len(BLOCKS) - 1)])
    return " " * (width - len(cells)) + "".join(cells)


def _threshold(reading: MetricReading) -> str:
    if reading.threshold is None or reading.op is None:
        return ""
    return f"{reading.op} {format_value(reading.threshold, reading.unit)}"


def reading_content(reading: MetricReading, spark_width: int = 30) -> Content:
    """One row: name, value, sparkline, threshold, level and "via backup"."""
    level_style = LEVEL_STYLES.get(reading.level, "dim")
    name = inert(reading.name)
    if len(name) > _NAME_WIDTH:
        name = name[: _NAME_WIDTH - 1] + "…"
    if reading.value is None:
        value = Content.styled("no data".rjust(_VALUE_WIDTH), "dim")
    else:
        shown = format_value(reading.value, inert(reading.unit)).rjust(_VALUE_WIDTH)
        value = Content.styled(shown, level_style if reading.alerting else "bold")
    values = [v for _, v in reading.series]
    spark = sparkline(values, spark_width, reading.threshold)
    sparkline_content = Content(spark)
    if reading.value is None:
        # no data now: since when takes the sparkline's place ("no data since 14:02")
        since = reading.no_data.removeprefix("no data ").replace("in range", "none in range")
        sparkline_content = Content.styled(since[:spark_width].ljust(spark_width), "dim")
    elif reading.threshold is not None and reading.op is not None:
        # the cells past the threshold take the alert colour, so a breach stands out
        offset = spark_width - min(len(values), spark_width)
        shown_values = values if len(values) <= spark_width else _bucket_max(values, spark_width)
        for index, point in enumerate(shown_values):
            if not math.isnan(point) and holds(point, reading.op, reading.threshold):
                style = level_style if reading.alerting else YELLOW
                sparkline_content = sparkline_content.stylize(
                    style, offset + index, offset + index + 1
                )
    parts: list[Content | str | tuple[str, str]] = [
        (name.ljust(_NAME_WIDTH), "bold"),
        " ",
        value,
        " ",
        sparkline_content if reading.value is None else sparkline_content.stylize_before("$accent"),
        " ",
        (_threshold(reading).ljust(_THRESHOLD_WIDTH), "$foreground-muted"),
        " ",
        (("—" if reading.value is None else reading.level).ljust(_LEVEL_WIDTH), level_style),
    ]
    if reading.via_backup:
        parts.append((" via backup", "italic $text-warning"))
    return Content.assemble(*parts).rstrip()


def _bucket_max(values: Sequence[float], width: int) -> list[float]:
    buckets = []
    for cell in range(width):
        chunk = values[cell * len(values) // width : (cell + 1) * len(values) // width]
        numbers = [v for v in chunk if not math.isnan(v)]
        buckets.append(max(numbers) if numbers else math.nan)
    return buckets


class SignalRow(Static):
    """One signal's row; its class says the alert level (``-p1`` … ``-ok``, ``-unknown``)."""

    DEFAULT_CSS = """
    SignalRow {
        height: 1;
        width: 1fr;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        &.-stale { opacity: 70%; }
    }
    """

    def __init__(self, signal_id: str) -> None:
        super().__init__()
        self.signal_id = signal_id
        self.reading: MetricReading | None = None
        self._key: tuple[str, tuple[object, ...]] | None = None

    def show(self, reading: MetricReading, spark_width: int) -> bool:
        """Repaint only when what the row says changed."""
        content = reading_content(reading, spark_width)
        key = (content.plain, tuple(content.spans))
        self.reading = reading
        if key == self._key:
            return False
        self._key = key
        for level in LEVEL_STYLES:
            self.set_class(reading.level == level, f"-{level.lower()}")
        self.set_class(reading.via_backup, "-via-backup")
        self.update(content)
        return True


class ErrorRatesPane(VerticalScroll, can_focus=True):
    """Every runbook signal's current reading; data comes in through :meth:`show`."""

    DEFAULT_CSS = """
    ErrorRatesPane {
        height: 1fr;
        background: $surface;
        padding: 0 1;
        &:focus { background-tint: $foreground 4%; }
        & > #rates-fault { height: auto; width: 1fr; display: none; margin-bottom: 1; }
        & > #rates-fault.-shown { display: block; }
        & > #rates-empty { color: $foreground-muted; }
    }
    """

    BINDINGS = [
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
    ]

    spark_width: reactive[int] = reactive(30, init=False)
    """Cells of each sparkline: 30, or fewer in a narrow pane."""

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._rows: dict[str, SignalRow] = {}
        self._fault_key: str | None = None
        self._readings: list[MetricReading] = []
        self._pending: tuple[list[MetricReading], SourceFault | None, datetime] | None = None
        """What :meth:`show` was given before the pane was mounted."""

    def compose(self) -> ComposeResult:
        yield Static(id="rates-fault")
        yield Static("Signals: waiting for the first answer…", id="rates-empty")

    def on_mount(self) -> None:
        if self._pending is not None:
            self.show(*self._pending)
            self._pending = None

    @property
    def rows(self) -> list[SignalRow]:
        """The rows in the order shown."""
        return list(self._rows.values())

    def show(self, readings: list[MetricReading], fault: SourceFault | None, now: datetime) -> bool:
        """Show the latest readings (or keep the last good ones under a fault). Returns
        whether anything on screen changed; the same data again repaints nothing."""
        if not self.children:
            # not composed yet: shown once mounted
            self._pending = (list(readings), fault, now)
            return True
        changed = self._show_fault(fault, now)
        if readings:
            self._readings = list(readings)
            changed = self._show_readings(readings) or changed
        for row in self._rows.values():
            row.set_class(fault is not None, "-stale")
        return changed

    def _show_fault(self, fault: SourceFault | None, now: datetime) -> bool:
        widget = self.query_one("#rates-fault", Static)
        widget.set_class(fault is not None, "-shown")
        if fault is None:
            changed = self._fault_key is not None
            self._fault_key = None
            return changed
        text = fault_text(fault, now)
        key = text.markup
        if key == self._fault_key:
            return False
        self._fault_key = key
        widget.update(Content.from_rich_text(text))
        return True

    def _show_readings(self, readings: list[MetricReading]) -> bool:
        readings = list({r.signal_id: r for r in readings}.values())
        ids = [r.signal_id for r in readings]
        changed = False
        if ids != list(self._rows):
            for row in self._rows.values():
                row.remove()
            self._rows = {signal_id: SignalRow(signal_id) for signal_id in ids}
            self.mount_all(self._rows.values())
            self.query_one("#rates-empty").display = False
            changed = True
        for reading in readings:
            changed = self._rows[reading.signal_id].show(reading, self.spark_width) or changed
        self._fit()
        return changed

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """Narrow the sparklines so a row fits the pane (30 cells when there is room)."""
        width = self.scrollable_content_region.width
        if not width:
            return
        backup = any(row.reading is not None and row.reading.via_backup for row in self.rows)
        room = width - _FIXED_WIDTH - (len(" via backup") if backup else 0)
        self.spark_width = max(8, min(30, room))

    def watch_spark_width(self) -> None:
        for row in self._rows.values():
            if row.reading is not None:
                row.show(row.reading, self.spark_width)
