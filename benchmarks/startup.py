"""Start-up: from process start to the first complete frame of the dashboard (headless,
sandbox already running), against a bare Textual app with a Header and Footer, both as
fresh processes, median of several."""

from __future__ import annotations

import subprocess
import sys
import time

from benchmarks.harness import Result, bench_main, median, sandbox_process

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

class Bare(App[None]):
    def compose(self):
        yield Header()
        yield Footer()

app = Bare()
report_first_frame(app, None)
app.run(headless=True, size=(120, 40))
"""
)

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


def run(quick: bool = False) -> Result:
    runs = 1 if quick else 7
    with sandbox_process(flood=0, quiet_others=False) as sandbox:
        _time_once(_BARE)  # warm the file cache for both
        _time_once(_COCKPIT, str(sandbox.config))
        bare, ours = [], []
        for _ in range(runs):
            bare.append(_time_once(_BARE))
            ours.append(_time_once(_COCKPIT, str(sandbox.config)))
    value, baseline = median(ours), median(bare)
    ratio = value / baseline
    return Result(
        value=round(value * 1000, 1),
        unit="ms",
        baseline=round(baseline * 1000, 1),
        ratio=round(ratio, 3),
        target=f"ratio <= {TARGET}",
        met=ratio <= TARGET,
        details={"runs": runs},
    )


if __name__ == "__main__":
    bench_main(run)
