"""The sandbox's Prometheus face: /metrics in the text format a real Prometheus scrapes,
and a query API that answers the runbooks' queries as a real Prometheus does (checked
against /usr/bin/prometheus scraping the sandbox) and refuses what it cannot answer."""

from __future__ import annotations

import asyncio
import math
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from sandbox_helpers import (
    SandboxHandle,
    need_binary,
    running_prometheus,
    running_sandbox,
    wait_until,
)
from urllib3.util.retry import Retry

from tui.sandbox.metrics.engine import Engine, format_sample_value
from tui.sandbox.metrics.parser import QueryError
from tui.sandbox.metrics.registry import SeriesStore, label_set

RUNBOOK_QUERIES = {
    "error_rate": "sum(rate({v}_errors_total[1m])) * 60",
    "rate_limited": 'sum(rate({v}_errors_total{{code="429"}}[1m])) * 60',
    "server_errors": 'sum(rate({v}_errors_total{{code=~"5.."}}[1m])) * 60',
    "auth_failures": 'sum(rate({v}_errors_total{{code=~"401|403"}}[1m])) * 60',
    "latency_p99": (
        "histogram_quantile(0.99, sum by (le) (rate({v}_request_duration_seconds_bucket[1m]))) * 1000"
    ),
}
WEBHOOK_FAILURES = 'sum(rate(clerk_webhook_deliveries_total{result="failed"}[1m])) * 60'
RATE_LIMITED = RUNBOOK_QUERIES["rate_limited"].format(v="clay")


def client(url: str) -> PrometheusConnect:
    # No retries: a fault must surface at once, not after the client's backoff.
    return PrometheusConnect(url, disable_ssl=True, retry=Retry(0))


# --------------------------------------------------------------------------- the engine


def store_with(series: dict[str, list[tuple[float, float]]]) -> SeriesStore:
    """A store holding ``{'name{a="b"}': [(seconds, value), ...]}``."""
    store = SeriesStore()
    by_time: dict[int, list[Any]] = {}
    for spec, samples in series.items():
        name, _, rest = spec.partition("{")
        labels = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        key = label_set({"__name__": name, **labels})
        for at, value in samples:
            by_time.setdefault(round(at * 1000), []).append((key, value))
    for at in sorted(by_time):
        store.append(at, by_time[at])
    return store


def value_of(data: dict[str, Any]) -> float:
    if data["resultType"] == "scalar":
        return float(data["result"][1])
    [sample] = data["result"]
    return float(sample["value"][1])


def test_rate_extrapolates_like_prometheus() -> None:
    engine = Engine(
        store_with(
            {
                "full": [(5 + 10 * i, 10.0 * (i + 1)) for i in range(6)],
                "late": [(40, 100.0), (50, 110.0), (60, 120.0)],
                "reset": [(0, 10.0), (10, 20.0), (20, 5.0), (30, 15.0)],
            }
        )
    )
    assert value_of(engine.instant("rate(full[1m])", 60_000)) == pytest.approx(1.0)
    # Samples cover only the last 20 s of the minute: extrapolated by half an interval.
    assert value_of(engine.instant("rate(late[1m])", 60_000)) == pytest.approx(25 / 60)
    assert value_of(engine.instant("increase(late[1m])", 60_000)) == pytest.approx(25)
    assert value_of(engine.instant("rate(reset[30s])", 30_000)) == pytest.approx(25 / 30)
    assert value_of(engine.instant("irate(reset[30s])", 30_000)) == pytest.approx(1.0)
    assert engine.instant("rate(late[5s])", 60_000)["result"] == []


def test_histogram_quantile_interpolates_within_the_bucket() -> None:
    buckets = {"0.1": 0, "0.25": 50, "0.5": 90, "1": 99, "+Inf": 100}
    engine = Engine(
        store_with(
            {f'lat_bucket{{le="{le}"}}': [(0, 0.0), (60, float(n))] for le, n in buckets.items()}
        )
    )
    query = "histogram_quantile({q}, sum by (le) (rate(lat_bucket[1m])))"
    assert value_of(engine.instant(query.format(q=0.99), 60_000)) == pytest.approx(1.0)
    assert value_of(engine.instant(query.format(q=0.5), 60_000)) == pytest.approx(0.25)
    assert value_of(engine.instant(query.format(q=0.95), 60_000)) == pytest.approx(
        0.5 + 0.5 * 5 / 9
    )
    assert engine.instant(query.format(q=0.99) + " * 1000", 60_000)["result"][0]["metric"] == {}


def test_selectors_aggregations_and_arithmetic() -> None:
    engine = Engine(
        store_with(
            {
                'req{code="200"}': [(0, 10.0)],
                'req{code="429"}': [(0, 3.0)],
                'req{code="503"}': [(0, 2.0)],
                'other{code="429"}': [(0, 1.0)],
            }
        )
    )

    def values(query: str) -> dict[str, float]:
        data = engine.instant(query, 1_000)
        return {s["metric"].get("code", ""): float(s["value"][1]) for s in data["result"]}

    assert values('req{code=~"4..|5.."}') == {"429": 3.0, "503": 2.0}
    assert values('req{code!="200", code!~"5.."}') == {"429": 3.0}
    assert values("sum(req)") == {"": 15.0}
    assert values("sum by (code) (req) * 2") == {"200": 20.0, "429": 6.0, "503": 4.0}
    assert values("sum without (code) (req)") == {"": 15.0}
    assert values("avg(req)") == {"": 5.0}
    assert values("max(req) - min(req)") == {"": 8.0}
    assert values("count(req)") == {"": 3.0}
    assert values('req{code="429"} / other') == {"429": 3.0}
    assert values("sum(req) / sum(other)") == {"": 15.0}
    assert values("-(sum(req) + 1)") == {"": -16.0}
    assert value_of(engine.instant("(1 + 2) * 3 / 2", 1_000)) == 4.5
    selected = engine.instant('req{code="200"}', 1_000)["result"][0]["metric"]
    assert selected == {"__name__": "req", "code": "200"}
    # Past the 5 minute look-back a sample is no longer an instant value.
    assert engine.instant("req", 301_000)["result"] == []


@pytest.mark.parametrize(
    "query",
    [
        "topk(3, req)",
        "req > 5",
        "abs(req)",
        "req offset 5m",
        "rate(req[5m:1m])",
        "sum(",
        "rate(req)",
        '{code=""}',
        "req and other",
        'label_replace(req, "a", "b", "c", "d")',
        "req ^ 2",
        "sum by (le) (req[1m])",
    ],
)
def test_queries_outside_the_subset_are_refused(query: str) -> None:
    engine = Engine(store_with({'req{code="200"}': [(0, 1.0)]}))
    with pytest.raises(QueryError) as raised:
        engine.instant(query, 1_000)
    assert raised.value.error_type == "bad_data"


def test_sample_values_are_written_as_prometheus_writes_them() -> None:
    assert [format_sample_value(v) for v in (3.0, 0.25, 1e-7, math.nan, math.inf, -math.inf)] == [
        "3",
        "0.25",
        "0.0000001",
        "NaN",
        "+Inf",
        "-Inf",
    ]


# --------------------------------------------------------------------------- over HTTP


def sampled(sb: SandboxHandle) -> int:
    """How many samples the sandbox's own history holds per series so far."""
    assert sb.sandbox is not None
    series = sb.sandbox.store.series()
    return min((len(s.times) for s in series), default=0)


def parse_exposition(text: str) -> dict[str, dict[str, Any]]:
    """A strict reader of the text format: every sample belongs to a family announced by
    HELP and TYPE lines, histograms are cumulative and end with +Inf == _count."""
    families: dict[str, dict[str, Any]] = {}
    current: str | None = None
    sample = re.compile(
        r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_]\w*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$'
    )
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            families[name] = {"help": line.split(" ", 3)[3], "samples": []}
            current = name
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name == current, f"TYPE for {name} without its HELP"
            families[name]["type"] = kind
        else:
            match = sample.match(line)
            assert match, f"not a sample line: {line!r}"
            name = match.group(1)
            assert current is not None and name.startswith(current), line
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
            families[current]["samples"].append((name, labels, float(match.group(3))))
    for name, family in families.items():
        if family["type"] == "histogram":
            buckets = [(s[1]["le"], s[2]) for s in family["samples"] if s[0].endswith("_bucket")]
            counts = [count for _, count in buckets]
            assert counts == sorted(counts), name
            assert buckets[-1][0] == "+Inf"
            total = next(s[2] for s in family["samples"] if s[0] == f"{name}_count")
            assert buckets[-1][1] == total
    return families


async def test_metrics_are_valid_exposition_with_every_series_from_the_start() -> None:
    async with running_sandbox("clay-rate-limited", speed=50) as sb:
        async with httpx.AsyncClient() as http:
            response = await http.get(sb.endpoints.metrics)
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        families = parse_exposition(response.text)
        for vendor in ("clay", "instantly", "clerk"):
            assert families[f"{vendor}_requests_total"]["type"] == "counter"
            codes = {s[1]["code"] for s in families[f"{vendor}_errors_total"]["samples"]}
            assert codes == {"401", "403", "429", "500", "503"}
            histogram = families[f"{vendor}_request_duration_seconds"]
            assert histogram["type"] == "histogram"
            bounds = [s[1]["le"] for s in histogram["samples"] if s[0].endswith("_bucket")]
            assert bounds == ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
        results = {s[1]["result"] for s in families["clerk_webhook_deliveries_total"]["samples"]}
        assert results == {"success", "failed"}


async def test_query_api_speaks_the_prometheus_http_api() -> None:
    async with running_sandbox("clay-rate-limited", speed=50) as sb:
        base = sb.endpoints.prometheus
        await wait_until(lambda: sampled(sb) >= 1, 20)
        async with httpx.AsyncClient(base_url=base) as http:
            got = (
                await http.get("/api/v1/query", params={"query": "sum(clay_requests_total)"})
            ).json()
            assert got["status"] == "success"
            assert got["data"]["resultType"] == "vector"
            at, text = got["data"]["result"][0]["value"]
            assert isinstance(at, float) and isinstance(text, str)
            posted = (
                await http.post(
                    "/api/v1/query", data={"query": "1 + 1", "time": "2030-01-01T00:00:00Z"}
                )
            ).json()
            assert posted["data"] == {"resultType": "scalar", "result": [1893456000.0, "2"]}
            now = time.time()
            ranged = (
                await http.get(
                    "/api/v1/query_range",
                    params={
                        "query": "sum(clay_requests_total)",
                        "start": now - 10,
                        "end": now,
                        "step": "1s",
                    },
                )
            ).json()
            assert ranged["data"]["resultType"] == "matrix"
            assert len(ranged["data"]["result"][0]["values"]) >= 1
            for params, path in (
                ({"query": "topk(1, clay_requests_total)"}, "/api/v1/query"),
                ({}, "/api/v1/query"),
                (
                    {"query": "up", "start": now, "end": now - 10, "step": "1s"},
                    "/api/v1/query_range",
                ),
                ({"query": "up", "start": 0, "end": now, "step": "1s"}, "/api/v1/query_range"),
                (
                    {"query": "up", "start": now - 10, "end": now, "step": "0"},
                    "/api/v1/query_range",
                ),
                ({"query": "up", "time": "yesterday"}, "/api/v1/query"),
            ):
                refused = await http.get(path, params=params)
                assert refused.status_code == 400, params
                assert refused.json()["status"] == "error"
                assert refused.json()["errorType"] == "bad_data"
            info = (await http.get("/api/v1/status/buildinfo")).json()
            assert info["data"]["version"].startswith("2.")
            assert (await http.get("/-/healthy")).status_code == 200
            assert (await http.get("/-/ready")).status_code == 200
            names = (await http.get("/api/v1/label/__name__/values")).json()["data"]
            assert "clay_errors_total" in names


async def test_prometheus_api_client_reads_the_query_api_and_its_errors() -> None:
    async with running_sandbox("clay-rate-limited", speed=50) as sb:
        prometheus = client(sb.endpoints.prometheus)
        await wait_until(lambda: sampled(sb) >= 3, 20)
        result = await asyncio.to_thread(prometheus.custom_query, RATE_LIMITED)
        assert result[0]["metric"] == {}
        with pytest.raises(PrometheusApiClientException, match="bad_data"):
            await asyncio.to_thread(prometheus.custom_query, "topk(1, clay_errors_total)")


# --------------------------------------------------------------------------- real Prometheus


async def query_value(url: str, query: str, at: float) -> float | None:
    async with httpx.AsyncClient(timeout=10) as http:
        body = (await http.get(f"{url}/api/v1/query", params={"query": query, "time": at})).json()
    assert body["status"] == "success", body
    result = body["data"]["result"]
    if not result:
        return None
    return float(result[0]["value"][1])


async def range_values(url: str, query: str, start: float, end: float) -> list[list[Any]]:
    params = {"query": query, "start": start, "end": end, "step": "2s"}
    async with httpx.AsyncClient(timeout=10) as http:
        body = (await http.get(f"{url}/api/v1/query_range", params=params)).json()
    [series] = body["data"]["result"]
    return list(series["values"])


def close(ours: float | None, theirs: float | None, what: str) -> None:
    if ours is None or theirs is None:
        assert ours is None and theirs is None, f"{what}: ours {ours}, Prometheus {theirs}"
        return
    if math.isnan(theirs):
        assert math.isnan(ours), f"{what}: ours {ours}, Prometheus NaN"
        return
    # Both see the same counters, sampled at slightly different instants.
    assert ours == pytest.approx(theirs, rel=0.2, abs=3.0), (
        f"{what}: ours {ours}, Prometheus {theirs}"
    )


async def compare_runbook_queries(sb: SandboxHandle, prometheus: str) -> None:
    at = time.time() - 2
    queries = [q.format(v=v) for v in ("clay", "clerk") for q in RUNBOOK_QUERIES.values()]
    for query in [*queries, WEBHOOK_FAILURES]:
        ours = await query_value(sb.endpoints.prometheus, query, at)
        theirs = await query_value(prometheus, query, at)
        close(ours, theirs, query)


async def test_real_prometheus_sees_the_429s_fall_after_queue_mode(tmp_path: Path) -> None:
    need_binary("prometheus")
    need_binary("kubectl")
    async with (
        running_sandbox("clay-rate-limited", speed=10) as sb,
        running_prometheus([sb.endpoints.metrics], tmp_path) as url,
    ):
        prometheus = client(url)

        async def rate_limited() -> float:
            result = await asyncio.to_thread(prometheus.custom_query, RATE_LIMITED)
            return float(result[0]["value"][1]) if result else 0.0

        await wait_until(lambda: _above(rate_limited, 5), 60, 1.0, "429s above 5/min")
        # Let the window fill, so one 429 more or less is a small part of the value.
        await wait_until(lambda: _above(rate_limited, 8), 60, 1.0, "429s above 8/min")
        await compare_runbook_queries(sb, url)
        now = time.time()
        for query in (RATE_LIMITED, RUNBOOK_QUERIES["latency_p99"].format(v="clay")):
            ours = await range_values(sb.endpoints.prometheus, query, now - 20, now - 2)
            theirs = await range_values(url, query, now - 20, now - 2)
            for (_, mine), (_, real) in zip(ours[-3:], theirs[-3:], strict=True):
                close(float(mine), float(real), f"range {query}")

        await sb.kubectl("set", "env", "deployment/clay-integration", "RATE_LIMIT_MODE=queue")
        await sb.kubectl("rollout", "status", "deployment/clay-integration", "--timeout=60s")
        await wait_until(lambda: _below(rate_limited, 5), 120, 1.0, "429s below 5/min")
        await compare_runbook_queries(sb, url)


async def _above(read: Any, threshold: float) -> bool:
    return bool(await read() > threshold)


async def _below(read: Any, threshold: float) -> bool:
    return bool(await read() < threshold)
