"""Idle: CPU the cockpit uses over 60 s, headless against a running sandbox with no log
traffic (the simulated requests go on, so the metrics and health move, but their log
lines are muted), every poller at its default interval."""

from __future__ import annotations

import asyncio
import time

from benchmarks.harness import (
    Result,
    SandboxProcess,
    bench_main,
    cockpit,
    log_view,
    sandbox_process,
    wait_for,
)

TARGET_PERCENT = 3.0


async def measure(sandbox: SandboxProcess, seconds: float) -> float:
    """Share of one core (percent) this process used while the cockpit idled."""
    async with cockpit(sandbox.config) as pilot:
        view = log_view(pilot.app)
        await wait_for(lambda: view.total > 0, 60)
        await asyncio.sleep(2.0)  # the first reading of every backend is start-up work
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        used = time.process_time() - cpu
        elapsed = time.perf_counter() - wall
    return 100 * used / elapsed


def run(quick: bool = False) -> Result:
    seconds = 3.0 if quick else 60.0
    with sandbox_process(flood=0, quiet_others=False) as sandbox:
        # the pods have logged since the sandbox started: the pane has lines to show
        time.sleep(1.0)
        sandbox.set_flood(0, application_logs=False)
        value = asyncio.run(measure(sandbox, seconds))
    return Result(
        value=round(value, 2),
        unit="% of one core",
        baseline=None,
        ratio=None,
        target=f"< {TARGET_PERCENT:g}%",
        met=value < TARGET_PERCENT,
        details={"seconds": seconds},
    )


if __name__ == "__main__":
    bench_main(run)
