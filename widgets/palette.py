"""What every pane shares: the alert colours and the short ways to say a time and an age.

Alert colours stay the same in every theme (red is trouble whatever the palette); every
other colour of the panes comes from the theme's variables. Text from a backend goes
through :func:`tui.inert.inert` before it reaches a pane."""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["BLUE", "CYAN", "GREEN", "MAGENTA", "ORANGE", "RED", "YELLOW", "ago", "clock"]

RED = "#ff5f5f"
ORANGE = "#ff8700"
YELLOW = "#ffd75f"
GREEN = "#5fd75f"
BLUE = "#5fafff"
CYAN = "#5fd7d7"
MAGENTA = "#d787d7"


def ago(delta: timedelta) -> str:
    """``12s``, ``4m``, ``2h5m``, ``3d4h``: a short age for "… ago"."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours else f"{days}d"


def clock(moment: datetime) -> str:
    """``13:02:11``: a time of day in the moment's own zone."""
    return moment.strftime("%H:%M:%S")
