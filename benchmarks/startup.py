"""Start-up: from process start to the first complete frame of the dashboard (headless,
sandbox already running), against a bare Textual app with a Header and Footer, both as
fresh processes, median of several.

Also timed, the same way: the *floor*, the bare app after it has done what the command
line does before any screen opens (settings validated, the runbooks loaded and validated,
so a bad file is one sentence and exit code 2 instead of a broken screen). The dashboard
cannot start sooner than that; ``details`` has it as ``floor_ms`` and ``floor_ratio``."""

from __future__ import annotations

import compileall
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.harness import RUNBOOK, Result, bench_main, median, sandbox_process

TARGET = 1.5

_FRAME_HOOK = """
import sys, time

def report_first_frame(app, wanted):
    # App._display receives every frame the compositor renders (headless, nothing is
    # written); the first one that belongs to the wanted screen is the first frame
    display = app._display

    def hooked(screen, renderable):
        display(screen, renderable)
        shown = renderable is not None and not app._batch_count  # a batch holds frames back
        if shown and (wanted is None or screen.id == wanted):
            sys.stdout.write(f"FRAME {time.time()}\\n")
            sys.stdout.flush()
            app._display = display
            app.call_later(app.exit)

    app._display = hooked
"""

_BARE = (
    _FRAME_HOOK
    + """
from textual.app import App
from textual.widgets import Footer, Header
%s

class Bare(App[None]):
    def compose(self):
        yield Header()
        yield Footer()

app = Bare()
report_first_frame(app, None)
app.run(headless=True, size=(120, 40))
"""
)

_NOTHING_MORE = ""

_VALIDATED_INPUT = """
from pathlib import Path
from tui.runbook import discover_runbooks
from tui.settings import load_settings

load_settings(Path(sys.argv[1]))
discover_runbooks(()).get(sys.argv[2])
"""

_COCKPIT = (
    _FRAME_HOOK
    + """
from pathlib import Path
from benchmarks.harness import build_app, use_private_state_dir

use_private_state_dir()
app = build_app(Path(sys.argv[1]))
report_first_frame(app, "dashboard")
app.run(headless=True, size=(120, 40))
"""
)


def _time_once(code: str, *args: str) -> float:
    started = time.time()
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )
    for line in out.stdout.splitlines():
        if line.startswith("FRAME "):
            return float(line.split()[1]) - started
    raise RuntimeError(f"no frame: {out.stderr.strip()[-400:]}")


def compile_project() -> None:
    """Byte-compile the app, as pip does when it installs a wheel: an editable install is
    not compiled, and where ``PYTHONDONTWRITEBYTECODE`` is set Python never writes the
    bytecode, so every start would compile the app's source again (about 40 ms here)."""
    root = Path(__file__).resolve().parent.parent
    for package in ("tui", "widgets", "runbooks", "benchmarks"):
        compileall.compile_dir(root / package, quiet=1)


def run(quick: bool = False) -> Result:
    runs = 1 if quick else 7
    compile_project()
    with sandbox_process(flood=0, quiet_others=False) as sandbox:
        config = str(sandbox.config)
        bare_app, floor_app = _BARE % _NOTHING_MORE, _BARE % _VALIDATED_INPUT
        bare: list[float] = []
        floor: list[float] = []
        ours: list[float] = []
        for number in range(runs + 1):  # the first round warms the file cache for all three
            times = (
                _time_once(bare_app),
                _time_once(floor_app, config, RUNBOOK),
                _time_once(_COCKPIT, config),
            )
            if number:
                bare.append(times[0])
                floor.append(times[1])
                ours.append(times[2])
    value, baseline = median(ours), median(bare)
    ratio = value / baseline
    return Result(
        value=round(value * 1000, 1),
        unit="ms",
        baseline=round(baseline * 1000, 1),
        ratio=round(ratio, 3),
        target=f"ratio <= {TARGET}",
        met=ratio <= TARGET,
        details={
            "rounds": runs,
            "floor_ms": round(median(floor) * 1000, 1),
            "floor_ratio": round(median(floor) / baseline, 3),
        },
    )


if __name__ == "__main__":
    bench_main(run)
