"""`incident-tui triage`: the quick triage as one command, its exit code and its JSON."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sandbox_helpers import incident_tui_command, running_sandbox, wait_until

from tui.runbook import discover_runbooks
from tui.settings import load_settings
from tui.sources.prometheus import PrometheusSource

CLAY = discover_runbooks().get("clay")


async def triage(config: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *incident_tui_command(),
        "--config",
        str(config),
        "triage",
        "--runbook",
        "clay",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_rate_limited_exits_1_and_names_the_429_signal(tmp_path: Path) -> None:
    async with running_sandbox("clay-rate-limited", speed=30) as sb:
        config = sb.sandbox.write_config(tmp_path / "config.toml")
        source = PrometheusSource(CLAY.signals, load_settings(config).prometheus.url)

        async def alerting() -> bool:
            return any(r.signal_id == "rate_limited" and r.alerting for r in await source.fetch())

        await wait_until(alerting, 60, 0.5, "the 429s to alert")
        code, out, err = await triage(config, "--json")
        assert code == 1, err
        data = json.loads(out)
        assert not data["healthy"]
        assert any("Rate Limited" in reason for reason in data["reasons"])
        rate = next(s for s in data["signals"] if s["id"] == "rate_limited")
        assert rate["level"] == "P2" and rate["value"] > 5
        assert data["decision_path"]["conclusion"].startswith("Our integration issue")
        assert any("429" in line["text"] for line in data["error_lines"])
        assert len(data["error_lines"]) <= 20

        code, out, _ = await triage(config)
        assert code == 1
        assert "Rate Limited" in out and "Not healthy" in out and "Decision tree" in out


async def test_healthy_exits_0(tmp_path: Path) -> None:
    async with running_sandbox("clay-healthy") as sb:
        config = sb.sandbox.write_config(tmp_path / "config.toml")

        async def answered() -> tuple[int, str, str] | None:
            # a fresh sandbox's first samples give rate() nothing yet: no data, exit 4
            result = await triage(config)
            return result if result[0] != 4 else None

        code, out, err = await wait_until(answered, 60, 0.5, "every signal to have data")
        assert code == 0, out + err
        assert "Healthy" in out


async def test_a_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[prometheus]\nurl = 3\n")
    code, _, err = await triage(config)
    assert code == 2
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert f"{config}:2: prometheus.url" in err
