"""The engine (sources, signals, remediation, record) imports without Textual."""

from __future__ import annotations

import subprocess
import sys

ENGINE = [
    "tui.sources",
    "tui.sources.base",
    "tui.sources.statuspage",
    "tui.sources.prometheus",
    "tui.sources.kube",
    "tui.sources.kube.calls",
    "tui.sources.kube.connection",
    "tui.sources.kube.objects",
    "tui.sources.kube.pods",
    "tui.sources.kube.logs",
    "tui.sources.hub",
    "tui.signals",
    "tui.act.plan",
    "tui.act.runner",
    "tui.act.session",
    "tui.act.guide",
    "tui.decision",
    "tui.settings",
    "tui.runbook",
    "tui.record.event",
    "tui.record.secrets",
    "tui.record.journal",
    "tui.record.listing",
    "tui.record.checklists",
    "tui.record.state",
    "tui.record.incident",
    "tui.record.postmortem",
    "tui.record.bundle",
    "tui.record.store",
]


def test_engine_modules_do_not_import_textual() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in ENGINE)
        + "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        + "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"textual was imported: {result.stdout}"
