"""No data is never healthy: a signal whose query matches nothing is said to have no
data, since when, and why that may be, and `triage` cannot call the picture healthy."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import timedelta
from pathlib import Path

from sandbox_helpers import incident_tui_command, running_sandbox, wait_until

from runbooks import BUNDLED_DIR
from tui.runbook import discover_runbooks
from tui.runbook.queries import expand_query, query_problem
from tui.signals import MetricReading
from tui.sources.prometheus import PrometheusSource
from widgets.error_rates import reading_content

CLAY = discover_runbooks().get("clay")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*incident_tui_command(), *args], capture_output=True, text=True, timeout=120
    )


async def test_triage_with_a_mistyped_metric_is_no_data_not_healthy(tmp_path: Path) -> None:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    text = (BUNDLED_DIR / "clay.yaml").read_text()
    (folder / "clay.yaml").write_text(text.replace("clay_errors_total", "clay_eror_total"))
    async with running_sandbox("clay-healthy", speed=20) as sb:
        assert sb.sandbox is not None
        config = sb.sandbox.write_config(tmp_path / "config.toml")
        run = await asyncio.to_thread(
            _cli, "--config", str(config), "--runbooks", str(folder), "triage", "--runbook", "clay"
        )
    said = " ".join(run.stdout.split())
    assert run.returncode == 4, run.stdout + run.stderr
    assert "Healthy:" not in said
    assert "Unknown: nothing alerts, but Error Rate has no data" in said
    assert "matches no series (a metric name that does not exist" in said


async def test_a_healthy_sandbox_with_every_signal_answering_is_healthy(tmp_path: Path) -> None:
    async with running_sandbox("clay-healthy", speed=20) as sb:
        assert sb.sandbox is not None
        config = sb.sandbox.write_config(tmp_path / "config.toml")

        async def answered() -> subprocess.CompletedProcess[str] | None:
            # the first second of a fresh sandbox holds one sample: no rate() yet, no data
            run = await asyncio.to_thread(
                _cli, "--config", str(config), "triage", "--runbook", "clay"
            )
            return run if run.returncode != 4 else None

        run = await wait_until(answered, 60, 0.5, "every signal to have data")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Healthy: nothing alerts." in run.stdout


def test_the_rate_interval_is_four_scrape_intervals() -> None:
    query = 'sum(rate(clay_errors_total{code="429"}[$__rate_interval])) * 60'
    assert expand_query(query, timedelta(seconds=15)) == (
        'sum(rate(clay_errors_total{code="429"}[60s])) * 60'
    )
    assert "[240s]" in expand_query(query, timedelta(seconds=60))
    source = PrometheusSource(CLAY.signals, "http://127.0.0.1:9", scrape_interval="60s")
    sent = source.query_of(CLAY.signal("rate_limited"))
    assert "[240s]" in sent and "$__" not in sent


def test_validate_reports_a_promql_syntax_error_with_its_line(tmp_path: Path) -> None:
    text = (BUNDLED_DIR / "clay.yaml").read_text()
    broken = text.replace(
        'query: sum(rate(clay_errors_total{code="429"}[$__rate_interval])) * 60',
        'query: sum(rate(clay_errors_total{code="429"}[$__rate_interval]) * 60',
    )
    assert broken != text
    line = next(
        i for i, row in enumerate(broken.splitlines(), 1) if "]) * 60" in row and "429" in row
    )
    path = tmp_path / "clay.yaml"
    path.write_text(broken)
    run = _cli("runbooks", "validate", str(path))
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"{path}:{line}: signals[3].query: PromQL syntax error: unclosed left parenthesis"
    ]
    assert query_problem("rate(x[$__rate_intervl])") is not None
    assert "unknown placeholder $__rate_intervl" in (
        query_problem("rate(x[$__rate_intervl])") or ""
    )
    assert query_problem("rat(x[5m])") == "PromQL syntax error: unknown function with name 'rat'"


def test_the_pane_says_no_data_since_the_last_point() -> None:
    last = 1_700_000_000.0
    reading = MetricReading(
        "rate_limited",
        "Rate Limited",
        None,
        "/min",
        "unknown",
        5.0,
        ">",
        series=((last - 30, 1.0), (last, 2.0)),
    )
    assert reading.no_data.startswith("no data since ")
    row = " ".join(reading_content(reading).plain.split())
    assert reading.no_data in row and "unknown" not in row
    never = MetricReading("rate_limited", "Rate Limited", None, "/min", "unknown")
    assert never.no_data == "no data in range"
    assert never.evidence == "Rate Limited: no data in range"


def test_a_query_the_parser_panics_on_is_a_problem_not_a_crash() -> None:
    said = query_problem("rate(x[5m]) offset nan")
    assert said is not None and "PromQL" in said
