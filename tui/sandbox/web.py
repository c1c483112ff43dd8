"""The sandbox's HTTP faces other than Kubernetes: vendor status pages (Statuspage v2),
our service's /health and the control endpoint that sets scenarios' faults and log floods."""

from __future__ import annotations

import json
from typing import Any, Protocol

from aiohttp import web

from tui.sandbox.faces import fault_middleware, json_response
from tui.sandbox.faults import BACKENDS, FAULT_KINDS, Fault, Faults
from tui.sandbox.scenarios import VENDORS
from tui.sandbox.world import VendorPage, World

__all__ = [
    "Controls",
    "build_control_app",
    "build_health_app",
    "build_status_app",
]


# --------------------------------------------------------------------------- status pages


def _page_error(status: int, message: str, request: web.Request) -> web.Response:
    response = json_response({"error": message}, status)
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
        middlewares=[fault_middleware(faults, "status_page", _page_error, _page_malformed)]
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
        return json_response({"page": page.page, "status": status_of(page)})

    async def summary(request: web.Request) -> web.Response:
        page = page_of(request)
        return json_response(
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
        return json_response({"page": page.page, "components": page.components})

    async def unresolved(request: web.Request) -> web.Response:
        page = page_of(request)
        return json_response({"page": page.page, "incidents": page.unresolved})

    async def incidents(request: web.Request) -> web.Response:
        page = page_of(request)
        return json_response({"page": page.page, "incidents": page.incidents})

    async def maintenances(request: web.Request) -> web.Response:
        page = page_of(request)
        return json_response({"page": page.page, "scheduled_maintenances": []})

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
    return json_response({"error": message}, status)


def _health_malformed(request: web.Request) -> web.Response:
    return web.Response(
        text='{"status":"healthy","services":{"clay":{"status":"heal',
        content_type="application/json",
    )


def build_health_app(world: World, faults: Faults) -> web.Application:
    """Our service's ``/health``: ``.services.VENDOR`` objects from recent traffic."""
    app = web.Application(
        middlewares=[fault_middleware(faults, "health", _health_error, _health_malformed)]
    )

    async def health(request: web.Request) -> web.Response:
        return json_response(world.health())

    app.router.add_get("/health", health)
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
    return json_response({"error": message}, status)


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
        return json_response(body)

    async def get_faults(request: web.Request) -> web.Response:
        return json_response(faults_json())

    async def post_fault(request: web.Request) -> web.Response:
        try:
            backend, fault = _fault_from(await body_of(request))
        except ValueError as error:
            return _control_error(str(error))
        await controls.set_fault(backend, fault)
        return json_response(faults_json())

    async def delete_faults(request: web.Request) -> web.Response:
        await controls.clear_faults()
        return json_response(faults_json())

    async def delete_fault(request: web.Request) -> web.Response:
        backend = request.match_info["backend"]
        if backend not in BACKENDS:
            return _control_error(f"backend must be one of: {', '.join(BACKENDS)}", 404)
        await controls.clear_faults(backend)
        return json_response(faults_json())

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
        return json_response({"flood": controls.world.flood_json()})

    async def writes(request: web.Request) -> web.Response:
        found = controls.writes()
        return json_response({"writes": _writes_json(found), "total": sum(found.values())})

    async def endpoints(request: web.Request) -> web.Response:
        return json_response(controls.endpoints_json())

    app.router.add_get("/state", state)
    app.router.add_get("/faults", get_faults)
    app.router.add_post("/faults", post_fault)
    app.router.add_delete("/faults", delete_faults)
    app.router.add_delete("/faults/{backend}", delete_fault)
    app.router.add_post("/flood", flood)
    app.router.add_get("/writes", writes)
    app.router.add_get("/endpoints", endpoints)
    return app
