"""The sandbox's HTTP faces other than Kubernetes: vendor status pages (Statuspage v2),
our service's /health, the Prometheus face (/metrics and the query API) and the control
endpoint that sets scenarios' faults and log floods."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web
from aiohttp.typedefs import Middleware

from tui.sandbox.faults import BACKENDS, FAULT_KINDS, Fault, Faults
from tui.sandbox.metrics import EXPOSITION_CONTENT_TYPE, Registry, SeriesStore
from tui.sandbox.promql import (
    Engine,
    QueryError,
    parse_step,
    parse_timestamp,
)
from tui.sandbox.scenarios import VENDORS
from tui.sandbox.world import VendorPage, World

__all__ = [
    "Controls",
    "build_control_app",
    "build_health_app",
    "build_prometheus_app",
    "build_status_app",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorBody = Callable[[int, str, web.Request], web.Response]


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")),
        status=status,
        content_type="application/json",
    )


def _fault_middleware(
    faults: Faults, backend: str, error: ErrorBody, malformed: Callable[[web.Request], web.Response]
) -> Middleware:
    """Answer as the fault in force on ``backend`` says; ``down`` closes the port instead
    (the server does that), so a request that still arrives is served normally."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        fault = faults.get(backend)
        if fault is not None:
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            elif fault.kind == "5xx":
                return error(503, "Service Unavailable", request)
            elif fault.kind == "401":
                return error(401, "Unauthorized: token has expired", request)
            elif fault.kind == "403":
                return error(403, "Forbidden: this token may not read this resource", request)
            elif fault.kind == "malformed":
                return malformed(request)
        return await handler(request)

    return middleware


# --------------------------------------------------------------------------- status pages


def _page_error(status: int, message: str, request: web.Request) -> web.Response:
    response = _json({"error": message}, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="statuspage"'
    return response


def _page_malformed(request: web.Request) -> web.Response:
    return web.Response(
        text='{"page":{"id":"x","name":"status"},"status":{"indicator":"none","desc',
        content_type="application/json",
    )


def build_status_app(world: World, faults: Faults) -> web.Application:
    """Every vendor's Statuspage v2 API under ``/VENDOR/api/v2/...``."""
    app = web.Application(
        middlewares=[_fault_middleware(faults, "status_page", _page_error, _page_malformed)]
    )

    def page_of(request: web.Request) -> VendorPage:
        vendor = request.match_info["vendor"]
        if vendor not in VENDORS:
            raise web.HTTPNotFound(
                text=json.dumps({"error": f"no status page named {vendor!r}"}),
                content_type="application/json",
            )
        return world.vendor_page(vendor)

    def status_of(page: VendorPage) -> dict[str, str]:
        return {"indicator": page.indicator, "description": page.description}

    async def status(request: web.Request) -> web.Response:
        page = page_of(request)
        return _json({"page": page.page, "status": status_of(page)})

    async def summary(request: web.Request) -> web.Response:
        page = page_of(request)
        return _json(
            {
                "page": page.page,
                "components": page.components,
                "incidents": page.unresolved,
                "scheduled_maintenances": [],
                "status": status_of(page),
            }
        )

    async def components(request: web.Request) -> web.Response:
        page = page_of(request)
        return _json({"page": page.page, "components": page.components})

    async def unresolved(request: web.Request) -> web.Response:
        page = page_of(request)
        return _json({"page": page.page, "incidents": page.unresolved})

    async def incidents(request: web.Request) -> web.Response:
        page = page_of(request)
        return _json({"page": page.page, "incidents": page.incidents})

    async def maintenances(request: web.Request) -> web.Response:
        page = page_of(request)
        return _json({"page": page.page, "scheduled_maintenances": []})

    base = "/{vendor}/api/v2"
    app.router.add_get(f"{base}/status.json", status)
    app.router.add_get(f"{base}/summary.json", summary)
    app.router.add_get(f"{base}/components.json", components)
    app.router.add_get(f"{base}/incidents/unresolved.json", unresolved)
    app.router.add_get(f"{base}/incidents.json", incidents)
    for name in ("", "/upcoming", "/active"):
        app.router.add_get(f"{base}/scheduled-maintenances{name}.json", maintenances)
    return app


# --------------------------------------------------------------------------- health


def _health_error(status: int, message: str, request: web.Request) -> web.Response:
    return _json({"error": message}, status)


def _health_malformed(request: web.Request) -> web.Response:
    return web.Response(
        text='{"status":"healthy","services":{"clay":{"status":"heal',
        content_type="application/json",
    )


def build_health_app(world: World, faults: Faults) -> web.Application:
    """Our service's ``/health``: ``.services.VENDOR`` objects from recent traffic."""
    app = web.Application(
        middlewares=[_fault_middleware(faults, "health", _health_error, _health_malformed)]
    )

    async def health(request: web.Request) -> web.Response:
        return _json(world.health())

    app.router.add_get("/health", health)
    return app


# --------------------------------------------------------------------------- prometheus


def _prometheus_error(status: int, message: str, request: web.Request) -> web.Response:
    if request.path.startswith("/api/"):
        kind = {503: "unavailable", 401: "unauthorized", 403: "forbidden"}.get(status, "internal")
        return _json({"status": "error", "errorType": kind, "error": message}, status)
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
    return _json({"status": "error", "errorType": error_type, "error": message}, status)


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
            _fault_middleware(faults, "prometheus", _prometheus_error, _prometheus_malformed)
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
        return _json({"status": "success", "data": data})

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
        return _json({"status": "success", "data": data})

    async def buildinfo(request: web.Request) -> web.Response:
        return _json(
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
        return _json({"status": "success", "data": found})

    async def label_values(request: web.Request) -> web.Response:
        label = request.match_info["name"]
        if label == "__name__":
            return _json({"status": "success", "data": names()})
        found = sorted({dict(s.labels)[label] for s in store.series() if label in dict(s.labels)})
        return _json({"status": "success", "data": found})

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
        return _json({"status": "success", "data": list(found.values())})

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


# --------------------------------------------------------------------------- control


class Controls(Protocol):
    """What the control endpoint drives (the running sandbox)."""

    faults: Faults
    world: World

    async def set_fault(self, backend: str, fault: Fault) -> None: ...

    async def clear_faults(self, backend: str | None = None) -> None: ...

    def writes(self) -> dict[tuple[str, str], int]: ...

    def endpoints_json(self) -> dict[str, Any]: ...


def _control_error(message: str, status: int = 400) -> web.Response:
    return _json({"error": message}, status)


def _fault_from(body: Any) -> tuple[str, Fault]:
    """A fault from the control endpoint's JSON, or ValueError with the reason."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    backend = body.get("backend")
    kind = body.get("kind")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of: {', '.join(BACKENDS)}")
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind must be one of: {', '.join(FAULT_KINDS)}")
    unknown = set(body) - {"backend", "kind", "delay", "verb", "resource", "after_lines"}
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
    options: dict[str, Any] = {}
    if "delay" in body:
        delay = body["delay"]
        if not isinstance(delay, int | float) or isinstance(delay, bool) or delay < 0:
            raise ValueError("delay must be a number of seconds, 0 or more")
        options["delay"] = float(delay)
    for name in ("verb", "resource"):
        if body.get(name) is not None:
            if not isinstance(body[name], str):
                raise ValueError(f"{name} must be a string")
            options[name] = body[name]
    if "after_lines" in body:
        after = body["after_lines"]
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            raise ValueError("after_lines must be a whole number, 0 or more")
        options["after_lines"] = after
    return backend, Fault(kind, **options)


def _writes_json(writes: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
    return [
        {"verb": verb, "resource": resource, "count": count}
        for (verb, resource), count in sorted(writes.items())
    ]


def build_control_app(controls: Controls) -> web.Application:
    """``/state``, ``/faults``, ``/flood``, ``/writes`` and ``/endpoints``."""
    app = web.Application()

    async def body_of(request: web.Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            raise web.HTTPBadRequest(
                text=json.dumps({"error": "the body is not valid JSON"}),
                content_type="application/json",
            ) from None

    def faults_json() -> dict[str, Any]:
        return {"faults": controls.faults.to_json()}

    async def state(request: web.Request) -> web.Response:
        body = controls.world.state()
        body["faults"] = controls.faults.to_json()
        body["writes"] = _writes_json(controls.writes())
        return _json(body)

    async def get_faults(request: web.Request) -> web.Response:
        return _json(faults_json())

    async def post_fault(request: web.Request) -> web.Response:
        try:
            backend, fault = _fault_from(await body_of(request))
        except ValueError as error:
            return _control_error(str(error))
        await controls.set_fault(backend, fault)
        return _json(faults_json())

    async def delete_faults(request: web.Request) -> web.Response:
        await controls.clear_faults()
        return _json(faults_json())

    async def delete_fault(request: web.Request) -> web.Response:
        backend = request.match_info["backend"]
        if backend not in BACKENDS:
            return _control_error(f"backend must be one of: {', '.join(BACKENDS)}", 404)
        await controls.clear_faults(backend)
        return _json(faults_json())

    async def flood(request: web.Request) -> web.Response:
        body = await body_of(request)
        rate = body.get("lines_per_second_per_pod") if isinstance(body, dict) else None
        if not isinstance(rate, int | float) or isinstance(rate, bool) or rate < 0:
            return _control_error("lines_per_second_per_pod must be a number, 0 or more")
        logs = body.get("application_logs", controls.world.application_logs)
        if not isinstance(logs, bool):
            return _control_error("application_logs must be true or false")
        controls.world.flood = float(rate)
        controls.world.application_logs = logs
        return _json({"flood": controls.world.flood_json()})

    async def writes(request: web.Request) -> web.Response:
        found = controls.writes()
        return _json({"writes": _writes_json(found), "total": sum(found.values())})

    async def endpoints(request: web.Request) -> web.Response:
        return _json(controls.endpoints_json())

    app.router.add_get("/state", state)
    app.router.add_get("/faults", get_faults)
    app.router.add_post("/faults", post_fault)
    app.router.add_delete("/faults", delete_faults)
    app.router.add_delete("/faults/{backend}", delete_fault)
    app.router.add_post("/flood", flood)
    app.router.add_get("/writes", writes)
    app.router.add_get("/endpoints", endpoints)
    return app
