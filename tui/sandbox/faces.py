"""What the sandbox's HTTP faces other than Kubernetes share: compact JSON answers and the
middleware that answers as the fault in force on a backend says."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from tui.sandbox.faults import Faults

__all__ = ["ErrorBody", "Handler", "fault_middleware", "json_response"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorBody = Callable[[int, str, web.Request], web.Response]


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")),
        status=status,
        content_type="application/json",
    )


def fault_middleware(
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
