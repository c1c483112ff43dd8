"""`?`: every key binding of the cockpit, grouped by where it works."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui.screens.dashboard import DashboardScreen
from tui.screens.dialog import Dialog
from widgets.checklist import ChecklistView
from widgets.decision_tree import DecisionTreeView
from widgets.log_view import LogView
from widgets.pods import PodTable
from widgets.timeline_view import TimelineView

__all__ = ["HelpScreen", "binding_groups"]


def _key(binding: Binding) -> str:
    if binding.key_display:
        return binding.key_display
    names = {"question_mark": "?", "slash": "/", "space": "space", "escape": "Esc"}
    return ", ".join(names.get(k.strip(), k.strip()) for k in binding.key.split(","))


def binding_groups(everywhere: type[App[Any]]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(group title, [(keys, what it does)]) for every screen and pane of the cockpit;
    ``everywhere`` is the app, whose bindings hold on every screen."""
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    for title, owner in (
        ("Everywhere", everywhere),
        ("Dashboard", DashboardScreen),
        ("Logs pane", LogView),
        ("Decision tree pane", DecisionTreeView),
        ("Checklist pane", ChecklistView),
        ("Pods pane", PodTable),
        ("Timeline pane", TimelineView),
    ):
        rows: dict[str, list[str]] = {}
        for binding in getattr(owner, "BINDINGS", []):
            if not isinstance(binding, Binding) or not binding.description:
                continue
            rows.setdefault(binding.description, []).append(_key(binding))
        if rows:
            groups.append((title, [(" / ".join(keys), what) for what, keys in rows.items()]))
    groups[0][1].append(("ctrl+p", "Command palette: every action by name"))
    groups[2][1].append(("↑/↓ PgUp/PgDn", "Scroll; scrolling up pauses the tail"))
    return groups


class HelpScreen(Dialog[None]):
    """Every binding, grouped."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90; max-width: 100%; height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys — Esc closes"
            for title, rows in binding_groups(type(self.app)):
                table = Table(box=None, show_header=False, pad_edge=False, expand=True)
                table.add_column(width=18, style="bold cyan")
                table.add_column()
                for keys, what in rows:
                    table.add_row(keys, what)
                yield Static(Text(title, style="bold underline"))
                yield Static(table)
