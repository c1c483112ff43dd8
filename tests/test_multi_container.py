"""Pods with more than one container, as real deployments have (an egress proxy beside
the application): the runbook names the container the pane follows, and the responder
switches container, pod and ``since`` from the keyboard, as with stern and k9s."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_helpers import cockpit, press, settle, static_text
from sandbox_helpers import running_sandbox, wait_until
from textual.widgets import Static

from widgets.log_view import LogView


def _lines(view: LogView, container: str | None = None) -> list[str]:
    return [line.text for line in view._lines if container is None or line.container == container]


async def test_the_log_pane_switches_container_pod_and_since(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("instantly-healthy") as sb:
        app = cockpit(sb, tmp_path, monkeypatch, "instantly", severity="P3")
        async with app.run_test(size=(120, 40)):
            view = app.screen.query_one("#logs", LogView)
            status = app.screen.query_one("#log-status", Static)
            press(app, "5")
            await settle(app)
            # the runbook names the container: the application's lines only
            await wait_until(lambda: _lines(view, "app"), 30, 0.1, "the app container's lines")
            assert not _lines(view, "proxy")
            await wait_until(
                lambda: "app · all pods · since 5m" in static_text(status), 10, 0.1, "status"
            )

            press(app, "C", "C")  # the next container: the proxy's access log
            await settle(app)
            await wait_until(lambda: _lines(view, "proxy"), 30, 0.1, "the proxy's lines")
            assert not _lines(view, "app")
            assert all("outbound|443||api.instantly.ai" in text for text in _lines(view))
            # what the pane showed is kept with its container, for the evidence bundle
            assert app.journal is not None
            kept = app.journal.directory / "logs.txt"
            await wait_until(
                lambda: kept.exists() and "/proxy [" in kept.read_text(), 10, 0.1, "kept lines"
            )
            pods = await sb.kubectl(
                "get",
                "pods",
                "-n",
                "production",
                "-l",
                "app=instantly-integration",
                "-o",
                "name",
            )
            first = pods.stdout.split()[0].removeprefix("pod/")
            said = await sb.kubectl("logs", "-n", "production", first, "-c", "proxy")
            assert said.stdout.strip(), "kubectl sees the proxy's log too"

            press(app, "C", "C")  # every container, each line labelled with its own
            await settle(app)
            await wait_until(
                lambda: _lines(view, "app") and _lines(view, "proxy"), 30, 0.1, "both containers"
            )
            assert view.show_containers
            await wait_until(lambda: "all containers" in static_text(status), 10, 0.1, "status")

            press(app, "O", "O")  # one pod alone
            await settle(app)
            await wait_until(lambda: len(view._lines) > 3, 30, 0.1, "one pod's lines")
            assert len({line.pod for line in view._lines}) == 1
            alone = view._lines[0].pod
            await wait_until(lambda: alone in static_text(status), 10, 0.1, "the pod named")

            press(app, "right_square_bracket", "]")  # from further back
            await settle(app)
            await wait_until(lambda: "since 15m" in static_text(status), 10, 0.1, "since 15m")
            press(app, "left_square_bracket", "[")
            press(app, "left_square_bracket", "[")
            await settle(app)
            await wait_until(lambda: "since 1m" in static_text(status), 10, 0.1, "since 1m")
