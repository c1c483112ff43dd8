"""The sandbox's control endpoint: the world's state, the faults in force, log floods and
the API writes counted so far; tests and ``incident-tui demo`` drive the sandbox through it."""

from __future__ import annotations

import json
from typing import Any, Protocol

from aiohttp import web

from tui.sandbox.faces import json_response
from tui.sandbox.faults import BACKENDS, FAULT_KINDS, Fault, Faults
from tui.sandbox.kube.tokens import Tokens
from tui.sandbox.world import World

__all__ = ["Controls", "build_control_app"]


class Controls(Protocol):
    """What the control endpoint drives (the running sandbox)."""

    faults: Faults
    world: World
    tokens: Tokens

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
    """``/state``, ``/faults``, ``/flood``, ``/writes``, ``/endpoints`` and
    ``/credentials`` (a short-lived API token, for the exec credential plugin)."""
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

    async def credentials(request: web.Request) -> web.Response:
        body = await body_of(request)
        ttl = body.get("ttl") if isinstance(body, dict) else None
        if not isinstance(ttl, int | float) or isinstance(ttl, bool) or ttl <= 0:
            return _control_error("ttl must be a number of seconds above 0")
        token, expires = controls.tokens.issue(float(ttl))
        return json_response({"token": token, "expirationTimestamp": expires})

    app.router.add_get("/endpoints", endpoints)
    app.router.add_post("/credentials", credentials)
    return app
