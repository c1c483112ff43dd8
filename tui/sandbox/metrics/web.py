"""The sandbox's Prometheus face: ``/metrics`` in the exposition format and the parts of
the Prometheus HTTP API the cockpit reads (queries, series, labels, build info)."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web

from tui.sandbox.faces import fault_middleware, json_response
from tui.sandbox.faults import Faults
from tui.sandbox.metrics.engine import Engine
from tui.sandbox.metrics.parser import QueryError, parse_step, parse_timestamp
from tui.sandbox.metrics.registry import EXPOSITION_CONTENT_TYPE, Registry, SeriesStore

__all__ = ["build_prometheus_app"]


def _prometheus_error(status: int, message: str, request: web.Request) -> web.Response:
    if request.path.startswith("/api/"):
        kind = {503: "unavailable", 401: "unauthorized", 403: "forbidden"}.get(status, "internal")
        return json_response({"status": "error", "errorType": kind, "error": message}, status)
    return web.Response(text=f"{message}\n", status=status)


def _prometheus_malformed(request: web.Request) -> web.Response:
    if request.path.startswith("/api/"):
        return web.Response(
            text='{"status":"success","data":{"resultType":"vector","result":[{"metric":{"',
            content_type="application/json",
        )
    return web.Response(
        body=b'clay_requests_total{code="200" 12 x\n# TYPE\n\x00\xff garbage\n',
        headers={"Content-Type": EXPOSITION_CONTENT_TYPE},
    )


def _bad_data(message: str, status: int = 400, error_type: str = "bad_data") -> web.Response:
    return json_response({"status": "error", "errorType": error_type, "error": message}, status)


def build_prometheus_app(
    registry: Registry,
    store: SeriesStore,
    faults: Faults,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """``/metrics`` and the parts of the Prometheus HTTP API the cockpit reads."""
    engine = Engine(store)
    app = web.Application(
        middlewares=[
            fault_middleware(faults, "prometheus", _prometheus_error, _prometheus_malformed)
        ]
    )

    async def params(request: web.Request) -> dict[str, str]:
        values = dict(request.query)
        if request.method == "POST":
            values.update({k: str(v) for k, v in (await request.post()).items()})
        return values

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            text=registry.exposition(),
            headers={"Content-Type": EXPOSITION_CONTENT_TYPE},
        )

    async def query(request: web.Request) -> web.Response:
        values = await params(request)
        try:
            if not values.get("query"):
                raise QueryError(
                    'invalid parameter "query": unknown position: parse error: '
                    "no expression found in input"
                )
            at = (
                parse_timestamp(values["time"], "time")
                if values.get("time")
                else round(clock() * 1000)
            )
            data = engine.instant(values["query"], at)
        except QueryError as error:
            return _bad_data(str(error), error.status, error.error_type)
        return json_response({"status": "success", "data": data})

    async def query_range(request: web.Request) -> web.Response:
        values = await params(request)
        try:
            start = parse_timestamp(values.get("start", ""), "start")
            end = parse_timestamp(values.get("end", ""), "end")
            step = parse_step(values.get("step", ""))
            if not values.get("query"):
                raise QueryError(
                    'invalid parameter "query": unknown position: parse error: '
                    "no expression found in input"
                )
            data = engine.range(values["query"], start, end, step)
        except QueryError as error:
            return _bad_data(str(error), error.status, error.error_type)
        return json_response({"status": "success", "data": data})

    async def buildinfo(request: web.Request) -> web.Response:
        return json_response(
            {
                "status": "success",
                "data": {
                    "version": "2.42.0",
                    "revision": "incident-tui-sandbox",
                    "branch": "HEAD",
                    "buildUser": "incident-tui",
                    "buildDate": "20230201-00:00:00",
                    "goVersion": "go1.19.5",
                },
            }
        )

    def names() -> list[str]:
        return sorted({dict(s.labels)["__name__"] for s in store.series()})

    async def labels(request: web.Request) -> web.Response:
        found = sorted({name for s in store.series() for name, _ in s.labels})
        return json_response({"status": "success", "data": found})

    async def label_values(request: web.Request) -> web.Response:
        label = request.match_info["name"]
        if label == "__name__":
            return json_response({"status": "success", "data": names()})
        found = sorted({dict(s.labels)[label] for s in store.series() if label in dict(s.labels)})
        return json_response({"status": "success", "data": found})

    async def series(request: web.Request) -> web.Response:
        selectors = request.query.getall("match[]", [])
        if request.method == "POST":
            selectors += [str(v) for v in (await request.post()).getall("match[]", [])]
        if not selectors:
            return _bad_data("no match[] parameter provided")
        found: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
        at = round(clock() * 1000)
        for selector in selectors:
            try:
                data = engine.instant(selector, at)
            except QueryError as error:
                return _bad_data(str(error), error.status, error.error_type)
            if data["resultType"] != "vector":
                return _bad_data("match[] must be a series selector")
            for item in data["result"]:
                found[tuple(sorted(item["metric"].items()))] = item["metric"]
        return json_response({"status": "success", "data": list(found.values())})

    async def healthy(request: web.Request) -> web.Response:
        return web.Response(text="Prometheus Server is Healthy.\n")

    async def ready(request: web.Request) -> web.Response:
        return web.Response(text="Prometheus Server is Ready.\n")

    async def root(request: web.Request) -> web.Response:
        return web.Response(
            text="incident-tui sandbox: Prometheus HTTP API at /api/v1, metrics at /metrics\n"
        )

    app.router.add_get("/metrics", metrics)
    for path, handler in (
        ("/api/v1/query", query),
        ("/api/v1/query_range", query_range),
        ("/api/v1/series", series),
    ):
        app.router.add_get(path, handler)
        app.router.add_post(path, handler)
    app.router.add_get("/api/v1/status/buildinfo", buildinfo)
    app.router.add_get("/api/v1/labels", labels)
    app.router.add_post("/api/v1/labels", labels)
    app.router.add_get("/api/v1/label/{name}/values", label_values)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", ready)
    app.router.add_get("/", root)
    return app
