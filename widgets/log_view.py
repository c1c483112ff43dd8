"""A live tail of many pods' logs that stays fast under a flood: bounded buffer, batched
writes, only visible rows rendered, regex filter, errors only, pause on scroll."""

from __future__ import annotations

import json
import re
import zlib
from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime
from time import monotonic

from rich.cells import cell_len, get_character_cell_size
from rich.highlighter import JSONHighlighter
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from tui.inert import inert
from tui.signals import LogLine

__all__ = ["LogView"]

_POD_COLOURS = (
    "#5fafff",
    "#87d787",
    "#d7af5f",
    "#d787d7",
    "#5fd7d7",
    "#ff875f",
    "#afafff",
    "#d7d75f",
)

_LEVEL_STYLES = {
    "fatal": Style(color="#ff5f5f", bold=True),
    "error": Style(color="#ff6e6e"),
    "warn": Style(color="#e5c07b"),
    "debug": Style(dim=True),
}
_MATCH = Style(bgcolor="#806000", color="#ffffff", bold=True)
_DIM = Style(dim=True)


class LogView(ScrollView, can_focus=True):
    """The log pane's body. Lines arrive in batches through :meth:`write_lines`."""

    DEFAULT_CSS = """
    LogView {
        background: $surface;
        overflow-x: auto;
        overflow-y: scroll;
        &:focus { background-tint: $foreground 4%; }
    }
    """

    BINDINGS = [
        Binding("slash", "open_filter", "Filter", tooltip="Filter lines by a regular expression"),
        Binding("e", "toggle_errors", "Errors only"),
        Binding("t", "toggle_timestamps", "Timestamps"),
        Binding("z", "toggle_utc", "UTC/local"),
        Binding("w", "toggle_wrap", "Wrap"),
        Binding("J", "toggle_json", "JSON"),
        Binding("C", "source('container', 1)", "Container", tooltip="Next container (or all)"),
        Binding("O", "source('pod', 1)", "One pod", tooltip="Next pod alone (or all pods)"),
        Binding("left_square_bracket", "source('since', -1)", "Since -", show=False),
        Binding("right_square_bracket", "source('since', 1)", "Since +", show=False),
        Binding("end", "resume", "Follow", show=False),
        Binding("G", "resume", "Follow", show=False),
        Binding("home", "top", "Top", show=False),
        Binding("g", "top", "Top", show=False),
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
        Binding("down", "scroll_down", "Down", show=False),
        Binding("up", "scroll_up", "Up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
    ]

    errors_only: reactive[bool] = reactive(False)
    """Show only lines the runbook's error pattern (or their level) marks as errors."""
    show_timestamps: reactive[bool] = reactive(False)
    """Prefix each line with the time the cluster received it (most apps log their own)."""
    utc: reactive[bool] = reactive(True)
    """Times in UTC (True) or the local zone (False)."""
    wrap: reactive[bool] = reactive(False)
    """Fold long lines onto several rows instead of scrolling sideways."""
    pretty_json: reactive[bool] = reactive(False)
    """Show JSON lines indented and coloured."""
    following: reactive[bool] = reactive(True)
    """Keep the newest line in view; scrolling up pauses this."""

    STATUS_INTERVAL = 0.25
    """Seconds between two count updates of the status line while lines stream in."""

    class StatusChanged(Message):
        """The counts or modes shown under the pane changed."""

        def __init__(self, view: LogView) -> None:
            super().__init__()
            self.view = view

        @property
        def control(self) -> LogView:
            return self.view

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LogView.StatusChanged) and message.view is self.view

    class SourceRequested(Message):
        """The responder asked for other lines: the next container (``container``), the
        next pod alone (``pod``), or from further back or closer (``since``, ±1)."""

        def __init__(self, view: LogView, what: str, step: int) -> None:
            super().__init__()
            self.view = view
            self.what = what
            self.step = step

        @property
        def control(self) -> LogView:
            return self.view

    class FilterRequested(Message):
        """The responder pressed ``/``: the pane should show its filter input."""

        def __init__(self, view: LogView) -> None:
            super().__init__()
            self.view = view

        @property
        def control(self) -> LogView:
            return self.view

    def __init__(
        self,
        max_lines: int = 10_000,
        strip_prefix: str = "",
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.max_lines = max_lines
        self.strip_prefix = strip_prefix
        self.show_containers = False
        """Label each line with its container too (several containers are followed)."""
        self._lines: list[LogLine] = []
        self._base = 0
        """Sequence number of ``_lines[0]``: lines are numbered from 0 as they arrive."""
        self._shown: list[int] | None = None
        """Sequence numbers of lines that pass the filter; None when nothing filters."""
        self._starts: list[int] | None = None
        """Cumulative first row of each shown line when lines take several rows."""
        self._filter: re.Pattern[str] | None = None
        self.filter_text = ""
        self.evicted = 0
        """Lines pushed out of the bounded buffer."""
        self.dropped = 0
        """Lines lost before reaching the pane (the source could not keep up)."""
        self.new_while_paused = 0
        self._width = 0
        self._cache: LRUCache[tuple[int, int], list[Strip]] = LRUCache(2048)
        self._json = JSONHighlighter()
        self._scrolling_to_end = False
        self._status_at = -self.STATUS_INTERVAL
        self._status_timer: Timer | None = None
        self._row_style: Style | None = None

    # ------------------------------------------------------------------ data in

    @property
    def total(self) -> int:
        """Lines held in the buffer."""
        return len(self._lines)

    @property
    def shown_count(self) -> int:
        return len(self._lines) if self._shown is None else len(self._shown)

    def _passes(self, line: LogLine) -> bool:
        if self.errors_only and not line.is_error:
            return False
        return self._filter is None or self._filter.search(line.text) is not None

    def write_lines(self, lines: Iterable[LogLine], dropped: int = 0) -> None:
        """Append a batch; the caller batches (one call per frame, not per line)."""
        batch = list(lines)
        self.dropped += dropped
        if not batch and not dropped:
            return
        first = self._base + len(self._lines)
        self._lines.extend(batch)
        added_shown = len(batch)
        if self._shown is not None:
            matches = [first + i for i, line in enumerate(batch) if self._passes(line)]
            self._shown.extend(matches)
            added_shown = len(matches)
        if self._starts is not None:
            self._extend_starts(len(self._starts) - 1)
        overflow = len(self._lines) - self.max_lines
        if overflow > max(64, self.max_lines // 10):
            self._evict(overflow)
        if added_shown:
            self._width = max(self._width, *(self._line_width(line) for line in batch[-200:]))
            if not self.following:
                self.new_while_paused += added_shown
        self._update_size()
        if self.following:
            self._scroll_to_end()
        self.refresh()
        self._counts_changed()

    def _counts_changed(self) -> None:
        """Say the counts changed, at most every ``STATUS_INTERVAL`` seconds: under a
        flood every batch changes them, and a status line redrawn ten times a second
        costs the screen more than it tells the responder."""
        now = monotonic()
        wait = self._status_at + self.STATUS_INTERVAL - now
        if wait <= 0:
            self._post_counts()
        elif self._status_timer is None:
            self._status_timer = self.set_timer(wait, self._post_counts)

    def _post_counts(self) -> None:
        if self._status_timer is not None:
            self._status_timer.stop()
            self._status_timer = None
        self._status_at = monotonic()
        self.post_message(self.StatusChanged(self))

    def _evict(self, count: int) -> None:
        del self._lines[:count]
        self._base += count
        self.evicted += count
        if self._shown is not None:
            cut = bisect_right(self._shown, self._base - 1)
            if cut:
                del self._shown[:cut]
        self._cache.clear()
        if self._starts is not None:
            self._rebuild_layout()
        elif not self.following:
            # keep the same lines under the responder's eyes
            self.scroll_to(y=max(0, self.scroll_y - count), animate=False, immediate=True)

    def clear(self) -> None:
        self._lines.clear()
        self._base = 0
        self._shown = [] if self._shown is not None else None
        self._cache.clear()
        self._width = 0
        self.new_while_paused = 0
        self._rebuild_layout()
        self.post_message(self.StatusChanged(self))

    # ------------------------------------------------------------------ filters

    def set_filter(self, pattern: str) -> None:
        """Show only lines matching a regular expression (case-insensitive unless it has
        capitals); raises ``re.error`` for a bad one, keeping the old filter."""
        if pattern:
            flags = 0 if any(c.isupper() for c in pattern) else re.IGNORECASE
            compiled: re.Pattern[str] | None = re.compile(pattern, flags)
        else:
            compiled = None
        self._filter = compiled
        self.filter_text = pattern
        self._refilter()

    def _refilter(self) -> None:
        if self._filter is None and not self.errors_only:
            self._shown = None
        else:
            base = self._base
            self._shown = [base + i for i, line in enumerate(self._lines) if self._passes(line)]
        self._cache.clear()
        self._rebuild_layout()
        self.following = True
        self._scroll_to_end()
        self.post_message(self.StatusChanged(self))

    def watch_errors_only(self) -> None:
        self._refilter()

    def _mode_changed(self) -> None:
        self._cache.clear()
        self._width = max((self._line_width(line) for line in self._lines[-2000:]), default=0)
        self._rebuild_layout()
        self.post_message(self.StatusChanged(self))

    def watch_show_timestamps(self) -> None:
        self._mode_changed()

    def watch_utc(self) -> None:
        self._mode_changed()

    def watch_wrap(self) -> None:
        self._mode_changed()

    def watch_pretty_json(self) -> None:
        self._mode_changed()

    def watch_following(self, following: bool) -> None:
        if following:
            self.new_while_paused = 0
            self._scroll_to_end()
        self.post_message(self.StatusChanged(self))

    # ------------------------------------------------------------------ layout

    @property
    def _variable_rows(self) -> bool:
        return self.wrap or self.pretty_json

    def _seq_at(self, index: int) -> int:
        return self._base + index if self._shown is None else self._shown[index]

    def _rows_of(self, line: LogLine) -> int:
        if self.pretty_json:
            pretty = _pretty(line.text)
            if pretty is not None:
                if not self.wrap:
                    return pretty.count("\n") + 1
                width = self._wrap_width
                prefix = self._prefix_plain(line)
                indent = " " * cell_len(prefix)
                return sum(
                    len(_wrap_cuts((indent if n else prefix) + inert(part), width))
                    for n, part in enumerate(pretty.split("\n"))
                )
        if self.wrap:
            return len(_wrap_cuts(self._prefix_plain(line) + inert(line.text), self._wrap_width))
        return 1

    @property
    def _wrap_width(self) -> int:
        """Columns a wrapped row may take: the pane less its scrollbar (``size`` counts
        the scrollbar's columns too, and a row cut there loses what is under it)."""
        return max(1, self.scrollable_content_region.width)

    def _rebuild_layout(self) -> None:
        if not self._variable_rows:
            self._starts = None
        else:
            self._starts = [0]
            self._extend_starts(0)
        self._update_size()
        if self.following:
            self._scroll_to_end()
        self.refresh()

    def _extend_starts(self, from_index: int) -> None:
        starts = self._starts
        assert starts is not None
        del starts[from_index + 1 :]
        total = starts[-1]
        for index in range(from_index, self.shown_count):
            total += self._rows_of(self._line(self._seq_at(index)))
            starts.append(total)

    def _line(self, seq: int) -> LogLine:
        return self._lines[seq - self._base]

    def _row_count(self) -> int:
        return self._starts[-1] if self._starts is not None else self.shown_count

    def _update_size(self) -> None:
        width = 0 if self.wrap else self._width
        size = Size(width, self._row_count())
        current = self.virtual_size
        if size == current:
            return
        if size.width != current.width or not self.is_mounted:
            self.virtual_size = size
            return
        # More rows of the same width: the scrollbar changes, the screen's layout does not.
        # Assigning the reactive would lay out the whole screen for every batch of a flood.
        self.set_reactive(LogView.virtual_size, size)
        self._scroll_update(size)
        self.refresh()

    def on_resize(self) -> None:
        if self.wrap:
            self._cache.clear()
            self._rebuild_layout()

    # ------------------------------------------------------------------ scrolling

    def _scroll_to_end(self) -> None:
        self._scrolling_to_end = True
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self._scrolling_to_end = False

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self._scrolling_to_end:
            return
        at_end = new >= self.max_scroll_y
        if new < old and not at_end and self.following:
            self.following = False
        elif at_end and not self.following and new > old:
            self.following = True

    def action_resume(self) -> None:
        self.following = True

    def action_top(self) -> None:
        self.following = False
        self.scroll_home(animate=False)

    def action_scroll_up(self) -> None:
        self.scroll_relative(y=-1, animate=False)

    def action_scroll_down(self) -> None:
        self.scroll_relative(y=1, animate=False)

    def action_page_up(self) -> None:
        self.scroll_relative(y=-max(1, self.size.height - 1), animate=False)

    def action_page_down(self) -> None:
        self.scroll_relative(y=max(1, self.size.height - 1), animate=False)

    def action_source(self, what: str, step: int) -> None:
        self.post_message(self.SourceRequested(self, what, step))

    def action_open_filter(self) -> None:
        self.post_message(self.FilterRequested(self))

    def action_toggle_errors(self) -> None:
        self.errors_only = not self.errors_only

    def action_toggle_timestamps(self) -> None:
        self.show_timestamps = not self.show_timestamps

    def action_toggle_utc(self) -> None:
        self.utc = not self.utc

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap

    def action_toggle_json(self) -> None:
        self.pretty_json = not self.pretty_json

    # ------------------------------------------------------------------ rendering

    def _pod_label(self, pod: str) -> str:
        """A deployment's pod by its own suffix (``x2k4q``); any other pod by full name."""
        if self.strip_prefix and pod.startswith(self.strip_prefix):
            return inert(pod[len(self.strip_prefix) :].rsplit("-", 1)[-1])
        return inert(pod)

    def _stamp(self, moment: datetime | None) -> str:
        if moment is None:
            return " " * 12
        if not self.utc:
            moment = moment.astimezone()
        return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"

    def _label(self, line: LogLine) -> str:
        """The pod's label (``/container`` after it while several containers are
        followed); ``↺`` after it marks a line of the previous container."""
        label = self._pod_label(line.pod)
        if self.show_containers and line.container:
            label += "/" + inert(line.container)
        return label + (" ↺" if line.previous else "")

    def _prefix_plain(self, line: LogLine) -> str:
        """The prefix's characters, as :meth:`_prefix` shows them."""
        label = self._label(line) + " "
        return self._stamp(line.timestamp) + " " + label if self.show_timestamps else label

    def _prefix_width(self, line: LogLine) -> int:
        return cell_len(self._label(line)) + 1 + (13 if self.show_timestamps else 0)

    def _line_width(self, line: LogLine) -> int:
        # measured as shown: a control character takes no cell raw, and one as its symbol
        return self._prefix_width(line) + cell_len(inert(line.text))

    def _prefix(self, line: LogLine) -> Text:
        label = self._label(line)
        colour = _POD_COLOURS[zlib.crc32(line.pod.encode()) % len(_POD_COLOURS)]
        text = Text()
        if self.show_timestamps:
            text.append(self._stamp(line.timestamp) + " ", _DIM)
        text.append(label + " ", Style(color=colour, bold=True))
        return text

    def _body(self, line: LogLine, content: str, json_lines: bool) -> Text:
        body = Text(inert(content), style=_LEVEL_STYLES.get(line.level or "", Style()))
        if line.is_error and line.level not in ("error", "fatal"):
            body.stylize(_LEVEL_STYLES["error"])
        if json_lines:
            self._json.highlight(body)
        if self._filter is not None:
            body.highlight_regex(self._filter, style=_MATCH)
        return body

    def _render_strips(self, seq: int, width: int) -> list[Strip]:
        key = (seq, width)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        line = self._line(seq)
        prefix = self._prefix(line)
        pretty = _pretty(line.text) if self.pretty_json else None
        contents = pretty.split("\n") if pretty is not None else [line.text]
        strips: list[Strip] = []
        console = self.app.console
        for number, content in enumerate(contents):
            text = prefix.copy() if number == 0 else Text(" " * prefix.cell_len)
            text.append_text(self._body(line, content, pretty is not None))
            text.no_wrap = True
            text.end = ""
            segments = list(text.render(console))
            strip = Strip(segments, text.cell_len)
            if self.wrap and width > 0 and strip.cell_length > width:
                strips.extend(strip.divide(_wrap_cuts(text.plain, width)))
            else:
                strips.append(strip)
        self._cache[key] = strips
        return strips

    def render_lines(self, crop: Region) -> list[Strip]:
        # the widget's style walks every ancestor: work it out once per frame, not per row
        self._row_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._row_style = None

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.size.width
        if row >= self._row_count() or row < 0:
            return Strip.blank(width, self._row_style or self.rich_style)
        if self._starts is None:
            seq, sub = self._seq_at(row), 0
        else:
            index = bisect_right(self._starts, row) - 1
            seq, sub = self._seq_at(index), row - self._starts[index]
        strips = self._render_strips(seq, self._wrap_width if self.wrap else 0)
        strip = strips[sub] if sub < len(strips) else Strip.blank(width)
        if not self.wrap:
            strip = strip.crop(scroll_x, scroll_x + width)
        style = self._row_style or self.rich_style
        return strip.extend_cell_length(width, style).apply_style(style)

    # ------------------------------------------------------------------ text for export/tests

    def visible_text(self) -> list[str]:
        """The plain text of the rows now on screen (what a responder reads)."""
        rows = []
        for y in range(self.size.height):
            strip = self.render_line(y)
            rows.append("".join(segment.text for segment in strip).rstrip())
        return rows

    def shown_lines(self) -> list[LogLine]:
        return [self._line(self._seq_at(i)) for i in range(self.shown_count)]


def _wrap_cuts(text: str, width: int) -> list[int]:
    """The cell offsets where a row of ``text`` is cut to fit ``width``, ending with its
    whole width: never inside a double-width character, which a cut would drop."""
    total = cell_len(text)
    if total <= width:
        return [total]
    if text.isascii():
        return [*range(width, total, width), total]
    cuts: list[int] = []
    row = position = 0
    for character in text:
        size = get_character_cell_size(character)
        if row and row + size > width:
            cuts.append(position)
            row = 0
        row += size
        position += size
    cuts.append(total)
    return cuts


def _pretty(text: str) -> str | None:
    start = text.find("{")
    if start < 0:
        return None
    try:
        data = json.loads(text[start:])
        if not isinstance(data, dict):
            return None
        body = json.dumps(data, indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        # not JSON, or nested deeper than Python parses: shown as the plain line it is
        return None
    head = text[:start].rstrip()
    return f"{head}\n{body}" if head else body
