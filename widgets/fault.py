"""How every pane says that its backend failed: what, since when, the last good value's age,
and the runbook's hint."""

from __future__ import annotations

from datetime import datetime

from rich.style import Style
from rich.text import Text

from tui.inert import inert
from tui.signals import SourceFault
from widgets.palette import YELLOW, ago, clock

__all__ = ["BACKEND_NAMES", "backend_name", "fault_text"]

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
