"""The checklist pane: the runbook's checklists and each category's actions, numbered as in
the runbook, ticked with space, with progress counts per list and per step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from tui.inert import inert
from tui.runbook import Runbook, format_duration
from tui.runbook.checklists import ChecklistEntry, all_checklist_ids, checklist_entries
from widgets.steady_tree import SteadyTree

__all__ = ["ChecklistView", "Line"]

UNCHECKED = "☐"
CHECKED = "☑"


@dataclass
class Line:
    """What one line of the checklist tree stands for (a tree node's ``data``)."""

    kind: Literal["list", "item"]
    list_id: str
    title: str
    entry: ChecklistEntry | None = None
    """The item, with the key :class:`tui.record.incident.Incident` checks it by."""
    keys: tuple[str, ...] = ()
    """The keys counted in this line's progress: every item of a list, or the sub-items
    of a step."""


class ChecklistView(SteadyTree[Line]):
    """Every checklist of a runbook; :meth:`show` ticks the checked items."""

    DEFAULT_CSS = """
    ChecklistView {
        height: 1fr;
        & > .checklist--title { text-style: bold; color: $text-secondary; }
        & > .checklist--done { color: $text-success; }
        & > .checklist--checked { color: $text-muted; }
        & > .checklist--progress { color: $text-muted; }
        & > .checklist--complete { color: $text-success; text-style: bold; }
        & > .checklist--action { color: $text-accent; }
        & > .checklist--wait { color: $text-warning; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *Tree.COMPONENT_CLASSES,
        "checklist--title",
        "checklist--done",
        "checklist--checked",
        "checklist--progress",
        "checklist--complete",
        "checklist--action",
        "checklist--wait",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_item", "Check", tooltip="Tick or untick the item"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    class ItemToggled(Message):
        """The responder pressed space on an item: tick it if unticked, untick it if ticked."""

        def __init__(self, view: ChecklistView, key: str, checked: bool) -> None:
            super().__init__()
            self.view = view
            self.key = key
            """The item's key, as :meth:`tui.record.incident.Incident.check` takes it."""
            self.checked = checked
            """Whether the item was ticked when space was pressed."""

        @property
        def control(self) -> ChecklistView:
            return self.view

    class RemediationChosen(Message):
        """Enter on an item that runs a remediation."""

        def __init__(self, view: ChecklistView, remediation_id: str, key: str) -> None:
            super().__init__()
            self.view = view
            self.remediation_id = remediation_id
            self.key = key

        @property
        def control(self) -> ChecklistView:
            return self.view

    class TriageRequested(Message):
        """Enter on an item that shows a triage (or evidence) command."""

        def __init__(self, view: ChecklistView, triage_id: str, key: str) -> None:
            super().__init__()
            self.view = view
            self.triage_id = triage_id
            self.key = key

        @property
        def control(self) -> ChecklistView:
            return self.view

    def __init__(
        self,
        runbook: Runbook,
        *,
        list_ids: list[str] | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """``list_ids`` picks and orders the lists (``response``, ``category:auth``); all
        of them by default."""
        super().__init__(Text(inert(runbook.title)), name=name, id=id, classes=classes)
        self.runbook = runbook
        self.set_reactive(Tree.show_root, False)
        self.set_reactive(Tree.auto_expand, False)
        self.set_reactive(Tree.guide_depth, 3)
        self.checked: frozenset[str] = frozenset()
        self._remediations = {r.id: r.title for r in runbook.remediations}
        self._commands = {t.id: t.title for t in (*runbook.triage, *runbook.evidence)}
        self._items: dict[str, TreeNode[Line]] = {}
        self._build_lists(list_ids if list_ids is not None else all_checklist_ids(runbook))

    def _build_lists(self, list_ids: list[str]) -> None:
        for list_id in list_ids:
            entries = checklist_entries(self.runbook, list_id)
            if not entries:
                continue
            title = entries[0].list_title
            if list_id.startswith("category:"):
                title = f"{title} — actions"
            keys = tuple(e.key for e in entries)
            top = self.root.add(Text(inert(title)), Line("list", list_id, title, keys=keys))
            carried = any(c.id == list_id and c.origin for c in self.runbook.checklists)
            if not carried:  # a related runbook's list opens when asked (Enter)
                top.expand()
            stack: list[TreeNode[Line]] = [top]
            for index, entry in enumerate(entries):
                del stack[entry.depth :]
                below = []
                for later in entries[index + 1 :]:
                    if later.depth <= entry.depth:
                        break
                    below.append(later.key)
                node = stack[-1].add(
                    Text(inert(entry.text)),
                    Line("item", list_id, title, entry, tuple(below)),
                    expand=True,
                    allow_expand=bool(below),
                )
                self._items[entry.key] = node
                stack.append(node)

    @property
    def keys(self) -> list[str]:
        """Every item key, in the order shown."""
        return list(self._items)

    def node_for(self, key: str) -> TreeNode[Line]:
        """The tree node of an item, by key."""
        return self._items[key]

    def show(self, checked: set[str] | frozenset[str]) -> bool:
        """Tick the checked items (keys as :meth:`tui.record.incident.Incident.check` takes them);
        keys of other runbooks are ignored. Returns whether anything changed."""
        mine = frozenset(key for key in checked if key in self._items)
        if mine == self.checked:
            return False
        self.checked = mine
        if self.is_mounted:
            self._invalidate()
        return True

    def progress(self, keys: tuple[str, ...]) -> tuple[int, int]:
        """``(checked, total)`` of these keys."""
        return sum(1 for key in keys if key in self.checked), len(keys)

    # ------------------------------------------------------------------ keys

    def _item_under_cursor(self) -> ChecklistEntry | None:
        node = self.cursor_node
        if node is None or node.data is None:
            return None
        return node.data.entry

    def action_toggle_item(self) -> None:
        entry = self._item_under_cursor()
        if entry is None:
            self.action_toggle_node()
            return
        self.post_message(self.ItemToggled(self, entry.key, entry.key in self.checked))

    def action_select_cursor(self) -> None:
        entry = self._item_under_cursor()
        if entry is not None and entry.item.remediation is not None:
            self.post_message(self.RemediationChosen(self, entry.item.remediation, entry.key))
        elif entry is not None and entry.item.triage is not None:
            self.post_message(self.TriageRequested(self, entry.item.triage, entry.key))
        else:
            self.action_toggle_node()

    # ------------------------------------------------------------------ rendering

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"checklist--{name}", partial=True, default=Style())

    def _progress(self, keys: tuple[str, ...]) -> Text:
        done, total = self.progress(keys)
        style = self._style("complete" if done == total else "progress")
        return Text(f"  {done}/{total}", style)

    def _label(self, line: Line) -> Text:
        if line.kind == "list" or line.entry is None:
            text = Text(inert(line.title), self._style("title"), no_wrap=True, end="")
            text.append_text(self._progress(line.keys))
            return text
        entry = line.entry
        ticked = entry.key in self.checked
        text = Text(no_wrap=True, end="")
        text.append(
            f"{CHECKED if ticked else UNCHECKED} ", self._style("done" if ticked else "title")
        )
        text.append(f"{entry.label}. " if entry.depth == 1 else f"{entry.label} ")
        text.append(inert(entry.text), self._style("checked") if ticked else Style())
        if line.keys:
            text.append_text(self._progress(line.keys))
        item = entry.item
        if item.remediation is not None:
            title = self._remediations.get(item.remediation, item.remediation)
            text.append(f"  ⏎ fix: {inert(title)}", self._style("action"))
        elif item.triage is not None:
            title = self._commands.get(item.triage, item.triage)
            text.append(f"  ⏎ run: {inert(title)}", self._style("action"))
        if item.wait is not None:
            watch = f", watch: {', '.join(item.watch)}" if item.watch else ""
            text.append(f"  wait {format_duration(item.wait)}{watch}", self._style("wait"))
        elif item.watch:
            text.append(f"  watch: {', '.join(item.watch)}", self._style("wait"))
        return text

    def render_label(self, node: TreeNode[Line], base_style: Style, style: Style) -> Text:
        line = node.data
        if line is None:
            return super().render_label(node, base_style, style)
        label = self._label(line)
        if node.allow_expand:
            icon = self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE
            label = Text.assemble((icon, base_style), label, no_wrap=True, end="")
        label.stylize(style)
        return label
