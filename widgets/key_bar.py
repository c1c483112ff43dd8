"""The key bar at the bottom of a screen: the keys the focused pane answers, on one row.

It does what Textual's ``Footer`` does for this app (the active bindings with ``show=True``,
one entry per action, disabled ones dimmed, a click presses the key, the command palette
key at the right) but as one widget drawing one line of text. ``Footer`` builds a widget
per key and rebuilds them all whenever focus moves, which lays out the whole screen again:
under a log flood that was most of the time between Tab and the frame that shows it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content
from textual.widget import Widget

if TYPE_CHECKING:
    from textual.binding import Binding
    from textual.screen import Screen

__all__ = ["KeyBar"]

_KEY = "bold $footer-key-foreground on $footer-key-background"
_DESCRIPTION = "$footer-description-foreground on $footer-description-background"
_DISABLED_KEY = "bold $text-disabled on $footer-key-background"
_DISABLED = "$text-disabled on $footer-description-background"


class KeyBar(Widget):
    """One row of ``key description`` pairs for the screen's active bindings."""

    ALLOW_SELECT = False

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        width: 1fr;
        background: $footer-background;
        color: $footer-foreground;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        # a click presses the key, but the keys are not links: no underline, no link colour
        self.set_reactive(Widget.auto_links, False)

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if screen is self.screen:
            # the same single row: a repaint, never a new layout of the screen
            self.refresh()

    def entries(self) -> tuple[list[tuple[Binding, bool]], tuple[Binding, bool] | None]:
        """``(binding, enabled)`` per shown action in binding order, and the command
        palette's key (drawn at the right) if the app has one."""
        seen: set[str] = set()
        shown: list[tuple[Binding, bool]] = []
        palette: tuple[Binding, bool] | None = None
        for key, (_node, binding, enabled, _tooltip) in self.screen.active_bindings.items():
            if key == self.app.COMMAND_PALETTE_BINDING and self.app.ENABLE_COMMAND_PALETTE:
                palette = (binding, enabled)
            elif binding.show and binding.action not in seen:
                seen.add(binding.action)
                shown.append((binding, enabled))
        return shown, palette

    def _entry(self, binding: Binding, enabled: bool, *, edge: bool = False) -> Content:
        click = f" @click=app.simulate_key({binding.key!r})" if enabled else ""
        key_style = (_KEY if enabled else _DISABLED_KEY) + click
        text_style = (_DESCRIPTION if enabled else _DISABLED) + click
        key = self.app.get_key_display(binding)
        parts: list[tuple[str, str]] = [(f"{key} " if edge else f" {key} ", key_style)]
        if binding.description:
            parts.append((binding.description if edge else f"{binding.description} ", text_style))
        return Content.assemble(*parts)

    def render(self) -> Content:
        shown, palette = self.entries()
        left = Content(" ").join(self._entry(binding, enabled) for binding, enabled in shown)
        if palette is None:
            return left.truncate(self.size.width, ellipsis=True)
        right = Content.assemble(("▏", "$foreground 20%"), self._entry(*palette, edge=True))
        room = max(0, self.size.width - right.cell_length)
        return left.truncate(room, ellipsis=True, pad=True) + right
