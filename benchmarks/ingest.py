"""Log ingest: lines per second from the sandbox's flood into the log pane, against
`kubectl logs -f` of the same pods to /dev/null, one after the other in one run."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time

from benchmarks.harness import (
    SELECTOR,
    Result,
    SandboxProcess,
    bench_main,
    cockpit,
    kubectl_binary,
    log_view,
    sandbox_process,
    wait_for,
)

FLOOD_PER_POD = 5000.0
"""Lines per second per pod; with the 4 clay pods, 20,000 lines/s offered."""
TARGET = 0.8


def kubectl_rate(sandbox: SandboxProcess, warmup: float, window: float) -> float:
    """Lines per second `kubectl logs -f` reads once it has settled."""
    binary = kubectl_binary()
    assert binary is not None
    process = subprocess.Popen(
        [
            binary,
            "--kubeconfig",
            sandbox.kubeconfig,
            "-n",
            "production",
            "logs",
            "-f",
            "-l",
            SELECTOR,
            "--max-log-requests",
            "10",
            "--since=5m",  # as the runbook's log source starts, so both read the backlog
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    counted = [0]

    def count() -> None:
        assert process.stdout is not None
        read = process.stdout.read1
        while chunk := read(1 << 16):
            counted[0] += chunk.count(b"\n")

    reader = threading.Thread(target=count, daemon=True)
    reader.start()
    try:
        time.sleep(warmup)
        first, started = counted[0], time.perf_counter()
        time.sleep(window)
        last, ended = counted[0], time.perf_counter()
    finally:
        process.terminate()
        process.wait(10)
        reader.join(10)
    return (last - first) / (ended - started)


async def app_rate(sandbox: SandboxProcess, warmup: float, window: float) -> tuple[float, int]:
    """Lines per second the headless cockpit's log pane takes in, and lines dropped."""
    async with cockpit(sandbox.config) as pilot:
        view = log_view(pilot.app)
        await wait_for(lambda: view.total > 0, 60)
        await asyncio.sleep(warmup)
        first, started = view.total + view.evicted, time.perf_counter()
        await asyncio.sleep(window)
        last, ended = view.total + view.evicted, time.perf_counter()
        dropped = view.dropped
    return (last - first) / (ended - started), dropped


def run(quick: bool = False) -> Result:
    flood = 200.0 if quick else FLOOD_PER_POD
    warmup, window = (1.0, 1.0) if quick else (4.0, 10.0)
    with sandbox_process(flood=flood) as sandbox:
        baseline = kubectl_rate(sandbox, warmup, window) if kubectl_binary() else None
        value, dropped = asyncio.run(app_rate(sandbox, warmup, window))
    ratio = value / baseline if baseline else None
    return Result(
        value=round(value, 1),
        unit="lines/s",
        baseline=round(baseline, 1) if baseline is not None else None,
        ratio=round(ratio, 3) if ratio is not None else None,
        target=f"ratio >= {TARGET}",
        met=ratio is not None and ratio >= TARGET,
        details={"offered_lines_per_s": flood * 4, "window_s": window, "dropped": dropped},
    )


if __name__ == "__main__":
    bench_main(run)
