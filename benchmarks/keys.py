"""Key latency under load: while 10,000 lines/s stream into the log pane, the time from a
key that changes the screen (Tab to the next pane, `e` for errors only) to the frame that
shows the change.

Method: the key goes in as the terminal driver sends it (``driver.send_message(Key)``,
the same call a real terminal's input thread makes). ``App._display`` is wrapped: it is
what the screen calls with every compositor update, so each call is one frame; the wrapper
renders the update to terminal bytes (as a real terminal driver would, so that cost is
counted) and stamps the time. The latency of a key is the stamp of the first frame
rendered after the key's change is in the widget tree."""

from __future__ import annotations

import asyncio
import time
import unicodedata
from typing import Any

from benchmarks.harness import (
    Result,
    SandboxProcess,
    bench_main,
    cockpit,
    log_view,
    median,
    sandbox_process,
    wait_for,
)

FLOOD_PER_POD = 2500.0
"""With the 4 clay pods, 10,000 lines/s."""
TARGET_MS = 100.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


class FrameClock:
    """Stamps every frame the screen hands to the app for display."""

    def __init__(self, app: Any) -> None:
        from textual._compositor import CompositorUpdate

        self.app = app
        self.frames = 0
        self.unanswered = 0
        self.waiting: tuple[Any, asyncio.Future[float]] | None = None
        original = app._display
        console = app.console

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(console)
            self.frames += 1
            if self.waiting is not None:
                condition, future = self.waiting
                if condition() and not future.done():
                    future.set_result(time.perf_counter())
                    self.waiting = None

        app._display = display

    async def press(self, key: str, shown: Any, timeout: float = 2.0) -> float:
        """Seconds from sending ``key`` to the first frame for which ``shown()`` holds."""
        from textual import events

        try:
            char: str | None = unicodedata.lookup(key.upper()) if len(key) > 1 else key
        except KeyError:
            char = None
        if key == "tab":
            char = "\t"
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting = (shown, future)
        started = time.perf_counter()
        event = events.Key(key, char)
        event.set_sender(self.app)
        self.app._driver.send_message(event)
        try:
            shown_at = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            # never shown: counted as the whole timeout, so the percentiles say so
            self.waiting = None
            self.unanswered += 1
            return timeout
        return shown_at - started


async def measure(
    sandbox: SandboxProcess, flood: float, presses: int
) -> tuple[list[float], float, int]:
    """Latencies in seconds of Tab, `5`, `e`, `e` presses in turn, and the lines per
    second the log pane took in meanwhile."""
    async with cockpit(sandbox.config) as pilot:
        app = pilot.app
        screen = app.screen
        view = log_view(app)
        await wait_for(lambda: view.total > 0, 60)
        # the flood starts once the pane follows the pods, so no backlog is replayed
        await asyncio.to_thread(sandbox.set_flood, flood)
        await asyncio.sleep(3.0)
        clock = FrameClock(app)
        latencies: list[float] = []
        start_lines, started = view.total + view.evicted, time.perf_counter()
        for number in range(presses):
            if number % 4 in (0, 1):
                # Tab away from the log pane, then `5` back to it (Tab goes on through 7 panes)
                key = "tab" if number % 4 == 0 else "5"
                target = "checklist" if key == "tab" else "logs"
                latencies.append(await clock.press(key, lambda t=target: screen._active_pane == t))
            else:
                wanted = not view.errors_only
                latencies.append(await clock.press("e", lambda w=wanted: view.errors_only == w))
            # a responder does not press keys back to back at machine speed
            await asyncio.sleep(0.15)
        lines = view.total + view.evicted - start_lines
        rate = lines / (time.perf_counter() - started)
    return latencies, rate, clock.unanswered


def run(quick: bool = False) -> Result:
    flood = 250.0 if quick else FLOOD_PER_POD
    presses = 8 if quick else 80
    with sandbox_process(flood=0) as sandbox:
        latencies, rate, unanswered = asyncio.run(measure(sandbox, flood, presses))
    millis = [value * 1000 for value in latencies]
    p99 = percentile(millis, 0.99)
    return Result(
        value=round(p99, 1),
        unit="ms (p99)",
        baseline=None,
        ratio=None,
        target=f"p99 < {TARGET_MS:g} ms",
        met=p99 < TARGET_MS,
        details={
            "p50_ms": round(median(millis), 1),
            "p99_ms": round(p99, 1),
            "max_ms": round(max(millis), 1),
            "presses": len(millis),
            "unanswered_within_2s": unanswered,
            "offered_lines_per_s": flood * 4,
            "lines_per_s_during_presses": round(rate, 1),
        },
    )


if __name__ == "__main__":
    bench_main(run)
