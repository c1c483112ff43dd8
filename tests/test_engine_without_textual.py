"""The engine (sources, signals, remediation, record) imports without Textual."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tui/act", "tui/record", "tui/runbook", "tui/sources")
MODULES = ("tui.conditions", "tui.decision", "tui.settings", "tui.signals")


def engine_modules() -> list[str]:
    """Every module of the engine's packages, and its loose modules."""
    found = list(MODULES)
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found.append(".".join(parts))
    return found


ENGINE = engine_modules()


def test_engine_modules_do_not_import_textual() -> None:
    assert "tui.record.store" in ENGINE and "tui.runbook.loader" in ENGINE, ENGINE
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
