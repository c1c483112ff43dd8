"""The running sandbox as its clients meet it: endpoints and files, vendor status pages and
health over HTTP, every fault on every backend through the real clients, the control API,
and the `incident-tui sandbox` command itself."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import yaml
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from sandbox_helpers import (
    SandboxHandle,
    incident_tui_command,
    need_binary,
    running_sandbox,
    sandbox_process,
    sandbox_thread,
    wait_until,
)
from urllib3.util.retry import Retry

from tui.sandbox.scenarios import SCENARIOS

VENDORS = ("clay", "instantly", "clerk")


async def get_json(url: str) -> Any:
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.get(url)
        response.raise_for_status()
        return response.json()


# --------------------------------------------------------------------------- endpoints


async def test_endpoints_kubeconfig_and_config_point_at_the_sandbox(tmp_path: Path) -> None:
    async with running_sandbox("clay-rate-limited") as sb:
        endpoints = sb.endpoints.to_json()
        assert endpoints["context"] == "incident-sandbox"
        assert endpoints["namespace"] == "production"
        assert endpoints["scenario"] == "clay-rate-limited"
        assert endpoints["kubernetes"].startswith("https://127.0.0.1:")
        urls = [endpoints[k] for k in ("kubernetes", "health", "prometheus", "control")]
        urls += list(endpoints["status_pages"].values())
        assert all(u.startswith(("http://127.0.0.1:", "https://127.0.0.1:")) for u in urls)
        ports = {httpx.URL(u).port for u in urls}
        assert len(ports) == 5, "every backend has a port of its own"
        assert endpoints["metrics"] == endpoints["prometheus"] + "/metrics"

        path = Path(sb.kubeconfig)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        config = yaml.safe_load(path.read_text())
        assert config["current-context"] == "incident-sandbox"
        [context] = config["contexts"]
        assert context["context"]["namespace"] == "production"
        [user] = config["users"]
        assert len(user["user"]["token"]) >= 32
        [cluster] = config["clusters"]
        assert cluster["cluster"]["server"] == endpoints["kubernetes"]

        assert sb.sandbox is not None
        written = tomllib.loads(sb.sandbox.write_config(tmp_path / "c.toml").read_text())
        assert written["kubernetes"] == {"kubeconfig": str(path), "context": "incident-sandbox"}
        assert written["prometheus"] == {"url": endpoints["prometheus"]}
        assert set(written["runbooks"]) == {"clay", "instantly", "clerk", "clay-prod-checklist"}
        assert written["runbooks"]["clay-prod-checklist"] == {
            "status_page": endpoints["status_pages"]["clay"],
            "health": endpoints["health"],
        }
    assert not path.exists(), "a temporary kubeconfig is removed with the sandbox"


async def test_kubectl_reads_the_cluster_with_the_kubeconfig() -> None:
    need_binary("kubectl")
    async with running_sandbox("clay-healthy") as sb:
        pods = json.loads((await sb.kubectl("get", "pods", "-o", "json")).stdout)["items"]
        assert len([p for p in pods if p["metadata"]["labels"]["app"] == "clay-integration"]) == 4
        secret = json.loads(
            (await sb.kubectl("get", "secret", "clay-secrets", "-o", "json")).stdout
        )
        assert set(secret["data"]) == {"api-key"}


# --------------------------------------------------------------------------- status pages


async def test_status_pages_speak_statuspage_v2() -> None:
    async with running_sandbox("clay-vendor-outage", speed=5) as sb:
        for vendor in VENDORS:
            base = f"{sb.status_page(vendor)}/api/v2"
            status = await get_json(f"{base}/status.json")
            assert set(status) == {"page", "status"}
            assert {"id", "name", "url", "updated_at"} <= set(status["page"])
            summary = await get_json(f"{base}/summary.json")
            assert set(summary) == {
                "page",
                "components",
                "incidents",
                "scheduled_maintenances",
                "status",
            }
            for component in summary["components"]:
                assert component["status"] in (
                    "operational",
                    "degraded_performance",
                    "partial_outage",
                    "major_outage",
                )
                assert {"id", "name", "created_at", "updated_at", "position"} <= set(component)
            components = await get_json(f"{base}/components.json")
            assert components["components"] == summary["components"]
            unresolved = await get_json(f"{base}/incidents/unresolved.json")
            assert unresolved["incidents"] == summary["incidents"]
        clay = await get_json(f"{sb.status_page('clay')}/api/v2/summary.json")
        assert clay["status"]["indicator"] == "major"
        [incident] = clay["incidents"]
        assert incident["status"] in ("investigating", "identified", "monitoring")
        assert incident["impact"] == "major"
        assert incident["shortlink"].startswith("https://")
        update = incident["incident_updates"][0]
        assert {"id", "status", "body", "created_at", "updated_at", "display_at"} <= set(update)
        assert "503" in incident["incident_updates"][-1]["body"]
        major = [c["name"] for c in clay["components"] if c["status"] == "major_outage"]
        assert major == ["Clay API"]
        others = await get_json(f"{sb.status_page('clerk')}/api/v2/status.json")
        assert others["status"] == {"indicator": "none", "description": "All Systems Operational"}
        async with httpx.AsyncClient() as http:
            missing = await http.get(
                sb.endpoints.status_pages["clay"].replace("/clay", "/acme") + "/api/v2/status.json"
            )
        assert missing.status_code == 404


async def test_rate_limited_page_is_green_while_health_degrades_with_429s() -> None:
    async with running_sandbox("clay-rate-limited", speed=30) as sb:
        status = await get_json(f"{sb.status_page('clay')}/api/v2/status.json")
        assert status["status"]["indicator"] == "none"

        async def degraded() -> Any:
            health = await get_json(sb.endpoints.health)
            clay = health["services"]["clay"]
            return clay if clay["status"] == "degraded" else None

        clay = await wait_until(degraded, 30, 0.2, "clay health degraded")
        assert "429" in clay["last_error"]
        assert isinstance(clay["latency_ms"], int)
        health = await get_json(sb.endpoints.health)
        assert health["status"] == "degraded"
        assert health["services"]["instantly"] == {
            **health["services"]["instantly"],
            "status": "healthy",
            "last_error": None,
        }


async def test_infra_health_is_down_with_the_crash_loop_named() -> None:
    async with running_sandbox("clay-infra", speed=20) as sb:

        async def down() -> Any:
            clay = (await get_json(sb.endpoints.health))["services"]["clay"]
            return (
                clay
                if clay["status"] == "down" and "CrashLoopBackOff" in (clay["last_error"] or "")
                else None
            )

        clay = await wait_until(down, 20, 0.2, "clay health down")
        assert clay["ready_pods"] == 0


# --------------------------------------------------------------------------- faults


async def test_status_page_and_health_faults_reach_httpx_and_clear() -> None:
    async with running_sandbox("clay-healthy") as sb:
        for backend, url in (
            ("status_page", f"{sb.status_page('clay')}/api/v2/status.json"),
            ("health", sb.endpoints.health),
        ):
            async with httpx.AsyncClient(timeout=5) as http:
                assert (await http.get(url)).status_code == 200  # a kept-alive connection
                await sb.set_fault(backend, "down")
                with pytest.raises(httpx.TransportError):
                    await http.get(url)
            with pytest.raises(httpx.ConnectError):
                await get_json(url)
            await sb.clear_faults(backend)
            await get_json(url)

            await sb.set_fault(backend, "slow", delay=3)
            with pytest.raises(httpx.ReadTimeout):
                async with httpx.AsyncClient(timeout=0.5) as http:
                    await http.get(url)
            await sb.clear_faults(backend)

            for kind, code in (("5xx", 503), ("401", 401), ("403", 403)):
                await sb.set_fault(backend, kind)
                async with httpx.AsyncClient() as http:
                    response = await http.get(url)
                assert response.status_code == code, (backend, kind)
                assert "error" in response.json()
            await sb.set_fault(backend, "malformed")
            async with httpx.AsyncClient() as http:
                response = await http.get(url)
            assert response.status_code == 200
            with pytest.raises(json.JSONDecodeError):
                response.json()
            await sb.clear_faults()
            await get_json(url)


def _client(url: str, timeout: float | None = None) -> PrometheusConnect:
    return PrometheusConnect(url, disable_ssl=True, retry=Retry(0), timeout=timeout)


async def test_prometheus_faults_make_prometheus_api_client_raise_and_clear() -> None:
    async with running_sandbox("clay-healthy") as sb:
        url = sb.endpoints.prometheus
        query = "sum(rate(clay_errors_total[1m])) * 60"

        def ask(timeout: float | None = None) -> Any:
            return _client(url, timeout).custom_query(query)

        await asyncio.to_thread(ask)
        await sb.set_fault("prometheus", "down")
        with pytest.raises(requests.exceptions.ConnectionError):
            await asyncio.to_thread(ask)
        await sb.clear_faults("prometheus")
        await asyncio.to_thread(ask)
        await sb.set_fault("prometheus", "slow", delay=3)
        with pytest.raises(requests.exceptions.RequestException, match="timed out"):
            await asyncio.to_thread(ask, 0.5)
        for kind, code in (("5xx", "503"), ("401", "401"), ("403", "403")):
            await sb.set_fault("prometheus", kind)
            with pytest.raises(PrometheusApiClientException, match=f"HTTP Status Code {code}"):
                await asyncio.to_thread(ask)
        await sb.set_fault("prometheus", "malformed")
        with pytest.raises(ValueError):
            await asyncio.to_thread(ask)
        async with httpx.AsyncClient() as http:
            scraped = await http.get(sb.endpoints.metrics)
        assert b"\x00" in scraped.content
        await sb.clear_faults()
        await asyncio.to_thread(ask)


async def test_kubernetes_faults_reach_kubectl_and_clear() -> None:
    need_binary("kubectl")
    async with running_sandbox("clay-healthy") as sb:
        sb.kubectl_timeout = 30

        async def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
            return await sb.kubectl(*args, "--request-timeout=2s", check=False)

        await sb.set_fault("kubernetes", "401")
        result = await kubectl("get", "pods")
        assert result.returncode != 0
        assert "You must be logged in to the server" in result.stderr
        await sb.set_fault("kubernetes", "403", verb="patch", resource="deployments")
        assert (await kubectl("get", "pods")).returncode == 0
        result = await kubectl("set", "env", "deployment/clay-integration", "X=1")
        assert 'deployments.apps "clay-integration" is forbidden' in result.stderr
        await sb.set_fault("kubernetes", "5xx")
        result = await kubectl("get", "pods")
        assert "ServiceUnavailable" in result.stderr
        await sb.set_fault("kubernetes", "down")
        result = await kubectl("get", "pods")
        assert "refused" in result.stderr
        await sb.set_fault("kubernetes", "slow", delay=5)
        result = await kubectl("get", "pods")
        assert "exceeded" in result.stderr
        await sb.clear_faults()
        assert (await kubectl("get", "pods")).returncode == 0
        assert (await sb.state())["writes"] == []


# --------------------------------------------------------------------------- control


async def test_control_api_reports_and_refuses_clearly() -> None:
    async with running_sandbox("clay-rate-limited") as sb:
        state = await sb.state()
        assert state["scenario"] == "clay-rate-limited"
        assert state["phase"] in ("ramp-up", "incident")
        assert set(state["vendors"]) == set(VENDORS)
        assert state["faults"] == {}
        faults = await sb.set_fault("kubernetes", "403", verb="patch", resource="deployments")
        assert faults["faults"] == {
            "kubernetes": {
                "kind": "403",
                "delay": 30.0,
                "verb": "patch",
                "resource": "deployments",
                "after_lines": 20,
            }
        }
        await sb.set_fault("logs", "drop", after_lines=5)
        assert set((await sb.clear_faults("kubernetes"))["faults"]) == {"logs"}
        assert (await sb.clear_faults())["faults"] == {}
        async with httpx.AsyncClient(base_url=sb.endpoints.control) as http:
            for body in (
                {"backend": "nope", "kind": "down"},
                {"backend": "health", "kind": "melt"},
                {"backend": "health", "kind": "slow", "delay": "long"},
                {"backend": "health", "kind": "down", "color": "red"},
                [1, 2],
            ):
                refused = await http.post("/faults", json=body)
                assert refused.status_code == 400
                assert refused.json()["error"]
            assert (await http.post("/faults", content=b"{")).status_code == 400
            assert (
                await http.post("/flood", json={"lines_per_second_per_pod": -1})
            ).status_code == 400
        assert (await sb.set_flood(10))["flood"] == {
            "lines_per_second_per_pod": 10.0,
            "application_logs": True,
        }
        assert (await sb.control("GET", "/writes")) == {"writes": [], "total": 0}
        assert (await sb.control("GET", "/endpoints")) == sb.endpoints.to_json()


async def test_muted_application_logs_stop_the_lines_but_not_the_traffic() -> None:
    need_binary("kubectl")
    async with running_sandbox("clay-healthy") as sb:

        async def lines() -> int:
            out = await sb.kubectl("logs", "-l", "app=clay-integration", "--tail=-1")
            return len(out.stdout.splitlines())

        async def requests() -> float:
            async with httpx.AsyncClient() as http:
                text = (await http.get(sb.endpoints.metrics)).text
            return sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("clay_requests_total{")
            )

        async with httpx.AsyncClient(base_url=sb.endpoints.control) as http:
            refused = await http.post(
                "/flood", json={"lines_per_second_per_pod": 0, "application_logs": "no"}
            )
            assert refused.status_code == 400
            muted = await http.post(
                "/flood", json={"lines_per_second_per_pod": 0, "application_logs": False}
            )
        assert muted.json()["flood"] == {"lines_per_second_per_pod": 0.0, "application_logs": False}
        await asyncio.sleep(0.5)
        before_lines, before_requests = await lines(), await requests()
        await asyncio.sleep(2.0)
        assert await lines() == before_lines
        assert await requests() > before_requests


async def test_writes_are_counted_by_verb_and_resource() -> None:
    need_binary("kubectl")
    async with running_sandbox("clay-rate-limited") as sb:
        await sb.kubectl("set", "env", "deployment/clay-integration", "RATE_LIMIT_MODE=queue")
        await sb.kubectl(
            "scale", "deployment/clerk-integration", "--replicas=3", "--dry-run=server"
        )
        writes = await sb.control("GET", "/writes")
        assert writes == {
            "writes": [{"verb": "patch", "resource": "deployments", "count": 1}],
            "total": 1,
        }


def test_a_sandbox_in_a_thread_serves_plain_tests() -> None:
    with sandbox_thread("clerk-performance") as sb:
        assert sb.state()["vendors"]["clerk"]["status_indicator"] == "minor"
        sb.set_fault("health", "5xx")
        assert httpx.get(sb.endpoints.health).status_code == 503


# --------------------------------------------------------------------------- the command


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*incident_tui_command(), *args], capture_output=True, text=True, timeout=60
    )


def test_list_scenarios_names_every_scenario_and_its_fix() -> None:
    result = run_cli("sandbox", "--list-scenarios")
    assert result.returncode == 0
    listed = [line.split()[0] for line in result.stdout.splitlines() if not line.startswith(" ")]
    assert listed == list(SCENARIOS)
    assert "fix: Roll out RATE_LIMIT_MODE=queue on clay-integration." in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--scenario", "nope"],
            'incident-tui: unknown scenario "nope"; choose one of: clay-healthy',
        ),
        (["--fault", "disk=down"], 'incident-tui: --fault: "disk=down" is not BACKEND=KIND'),
        (["--port", "control=http"], 'incident-tui: --port "control=http" is not NAME=PORT'),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = run_cli("sandbox", *args)
    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_command_prints_endpoints_first_writes_the_config_and_exits_cleanly(
    tmp_path: Path, signum: signal.Signals
) -> None:
    config_path = tmp_path / "sandbox.toml"
    process = subprocess.Popen(
        [
            *incident_tui_command(),
            "sandbox",
            "--scenario",
            "clay-rate-limited",
            "--write-config",
            str(config_path),
            "--fault",
            "status_page=5xx",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        endpoints = json.loads(process.stdout.readline())
        assert set(endpoints) >= {
            "kubernetes",
            "kubeconfig",
            "context",
            "namespace",
            "status_pages",
            "health",
            "metrics",
            "prometheus",
            "control",
            "scenario",
        }
        config = tomllib.loads(config_path.read_text())
        assert config["kubernetes"]["kubeconfig"] == endpoints["kubeconfig"]
        assert config["runbooks"]["clay"]["status_page"] == endpoints["status_pages"]["clay"]
        assert Path(endpoints["kubeconfig"]).parent == tmp_path
        page = httpx.get(endpoints["status_pages"]["clay"] + "/api/v2/status.json")
        assert page.status_code == 503, "--fault applies from the start"
        assert httpx.get(endpoints["health"]).json()["services"]["clay"]["status"]
        process.send_signal(signum)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert "Traceback" not in err
    assert out == ""
    with pytest.raises(httpx.ConnectError):
        httpx.get(endpoints["health"])


async def test_the_command_as_a_subprocess_handle() -> None:
    async with running_sandbox("instantly-auth", subprocess_mode=True, speed=30) as sb:
        assert isinstance(sb, SandboxHandle) and sb.sandbox is None
        state = await sb.wait_for(
            lambda s: s["vendors"]["instantly"]["outcome"] == "auth_failed", 20
        )
        assert state["scenario"] == "instantly-auth"
        assert os.path.exists(sb.kubeconfig)


def test_a_fault_given_on_the_command_line_is_in_force_until_cleared() -> None:
    with sandbox_process("clay-healthy", "--fault", "health=down") as sb:
        with pytest.raises(httpx.ConnectError):
            httpx.get(sb.endpoints.health)
        assert sb.state()["faults"] == {
            "health": {"kind": "down", "delay": 30.0, "after_lines": 20}
        }
        sb.clear_faults("health")
        assert httpx.get(sb.endpoints.health).json()["services"]["clay"]["status"] == "healthy"
