"""Memory: resident size of the cockpit after 1,000,000 log lines have streamed through
the log pane, against its size after 10,000 (the pane's buffer is bounded, so it should
barely grow)."""

from __future__ import annotations

import asyncio
import gc

from benchmarks.harness import (
    Result,
    SandboxProcess,
    bench_main,
    cockpit,
    log_view,
    rss_kib,
    sandbox_process,
    wait_for,
)

FLOOD_PER_POD = 5000.0
TARGET = 1.2


async def measure(sandbox: SandboxProcess, flood: float, early: int, late: int) -> tuple[int, int]:
    """RSS in KiB once ``early`` and once ``late`` lines have reached the pane."""
    async with cockpit(sandbox.config) as pilot:
        view = log_view(pilot.app)
        await wait_for(lambda: view.total > 0, 60)
        await asyncio.to_thread(sandbox.set_flood, flood)

        def taken() -> int:
            return int(view.total + view.evicted + view.dropped)

        await wait_for(lambda: taken() >= early, 600, 0.01)
        gc.collect()
        first = rss_kib()
        await wait_for(lambda: taken() >= late, 1800, 0.2)
        gc.collect()
        second = rss_kib()
    return first, second


def run(quick: bool = False) -> Result:
    flood = 500.0 if quick else FLOOD_PER_POD
    early, late = (1_000, 5_000) if quick else (10_000, 1_000_000)
    with sandbox_process(flood=0) as sandbox:
        first, second = asyncio.run(measure(sandbox, flood, early, late))
    ratio = second / first
    return Result(
        value=round(second / 1024, 1),
        unit="MiB",
        baseline=round(first / 1024, 1),
        ratio=round(ratio, 3),
        target=f"ratio <= {TARGET}",
        met=ratio <= TARGET,
        details={"early_lines": early, "late_lines": late},
    )


if __name__ == "__main__":
    bench_main(run)
