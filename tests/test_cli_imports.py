"""`incident-tui --help` stays fast: the command line imports every command module, and
none of them imports a heavy library before its command runs."""

from __future__ import annotations

import subprocess
import sys

HEAVY = [
    "textual",
    "kubernetes",
    "httpx",
    "aiohttp",
    "prometheus_api_client",
    "pydantic",
    "yaml",
    "asyncio",
    "tui.app",
    "tui.sandbox",
    "tui.sources",
]


def test_the_command_line_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "import tui.cli\n"
        f"heavy = {HEAVY!r}\n"
        "bad = sorted(m for m in sys.modules if any(m == h or m.startswith(h + '.') for h in heavy))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"imported with tui.cli: {result.stdout}"
