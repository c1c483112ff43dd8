"""How every pane says that its backend failed: what, since when, the last good value's age,
and the runbook's hint."""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.style import Style
from rich.text import Text

from tui.inert import inert
from tui.signals import SourceFault

__all__ = [
    "BACKEND_NAMES",
    "BLUE",
    "CYAN",
    "GREEN",
    "MAGENTA",
    "ORANGE",
    "RED",
    "YELLOW",
    "ago",
    "backend_name",
    "clock",
    "fault_text",
]

# Alert colours stay the same in every theme (red is trouble whatever the palette); every
# other colour of the panes comes from the theme's variables.
RED = "#ff5f5f"
ORANGE = "#ff8700"
YELLOW = "#ffd75f"
GREEN = "#5fd75f"
BLUE = "#5fafff"
CYAN = "#5fd7d7"
MAGENTA = "#d787d7"

BACKEND_NAMES = {
    "status_page": "Status page",
    "health": "Health endpoint",
    "prometheus": "Prometheus",
    "kubernetes": "Kubernetes API",
    "logs": "Pod logs",
    "remediation": "Remediation",
}
"""How a backend is named on screen."""

_WARNING = Style(color=YELLOW, bold=True)
_HINT = Style(italic=True)
_MUTED = Style(dim=True)


def backend_name(backend: str) -> str:
    """``Kubernetes API`` for ``kubernetes``; an unknown backend is shown as it came."""
    return BACKEND_NAMES.get(backend, inert(backend.replace("_", " ")).capitalize())


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


def fault_text(fault: SourceFault, now: datetime) -> Text:
    """``⚠ Kubernetes API: auth expired — 401 Unauthorized · since 13:02:11 (4m ago) ·
    last good 5m ago``, and the runbook's hint on its own line."""
    text = Text(no_wrap=False, end="")
    text.append(f"⚠ {backend_name(fault.backend)}: ", _WARNING)
    text.append(fault.kind.replace("_", " "), _WARNING)
    if fault.message:
        text.append(" — " + inert(fault.message))
    text.append(f" · since {clock(fault.since)} ({ago(now - fault.since)} ago)", _MUTED)
    last_good = fault.last_good_age(now)
    if last_good is None:
        text.append(" · no good value yet", _MUTED)
    else:
        text.append(f" · last good {ago(last_good)} ago", _MUTED)
    if fault.hint:
        text.append("\nHint: " + inert(fault.hint), _HINT)
    return text
