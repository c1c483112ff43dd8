"""The simulated vendors' HTTP faces: every vendor's Statuspage v2 API and our service's
``/health``, each answering as the fault in force on it says."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tui.sandbox.faces import fault_middleware, json_response
from tui.sandbox.faults import Faults
from tui.sandbox.scenarios import VENDORS
from tui.sandbox.vendors import page_formats as formats
from tui.sandbox.vendors.status_page import VendorPage
from tui.sandbox.world import World

__all__ = ["build_health_app", "build_status_app"]

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
    """Every vendor's Statuspage v2 API under ``/VENDOR/api/v2/...``, and the same page in
    the other formats (:mod:`tui.sandbox.vendors.page_formats`)."""
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

    def shaped(render: Callable[[VendorPage], dict[str, Any]]) -> Any:
        async def handler(request: web.Request) -> web.Response:
            return json_response(render(page_of(request)))

        return handler

    base = "/{vendor}/api/v2"
    # the same page as instatus, Better Stack, incident.io and a plain JSON publish it
    app.router.add_get("/{vendor}/summary.json", shaped(formats.instatus_summary))
    app.router.add_get("/{vendor}/v2/components.json", shaped(formats.instatus_components))
    app.router.add_get("/{vendor}/index.json", shaped(formats.betterstack_index))
    app.router.add_get("/{vendor}/proxy/{host}", shaped(formats.incidentio_summary))
    app.router.add_get("/{vendor}/api/status", shaped(formats.generic_status))
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
