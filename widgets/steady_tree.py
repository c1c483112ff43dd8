"""A Textual ``Tree`` that repaints, rather than lays out the whole screen again, when its
style changes."""

from __future__ import annotations

from typing import TypeVar

from textual.widget import Widget
from textual.widgets import Tree

__all__ = ["SteadyTree"]

T = TypeVar("T")


class SteadyTree(Tree[T]):
    """``Tree`` answers every style change (gaining or losing focus, a class on a parent
    pane) with a layout of the whole screen and so a full repaint of every pane. The rows
    of these trees keep their size when their style changes, so clearing the line cache
    and repainting the tree itself is enough; content changes still lay out as before."""

    def notify_style_update(self) -> None:
        Widget.notify_style_update(self)
        self._clear_line_cache()
        self._updates += 1
        self.root._reset()
        self.refresh()
