"""The Kubernetes API's wire conventions as the sandbox's server speaks them: ``Status``
bodies and JSON answers, query parameters, the resource a URL names and the verb RBAC
checks for it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tui.sandbox.kube.store import RESOURCES, ApiError, ResourceInfo

__all__ = [
    "JSON_TYPE",
    "MAX_REQUEST_BYTES",
    "SANDBOX_USER",
    "Target",
    "compact_json",
    "dry_run_param",
    "error_response",
    "forbidden",
    "int_param",
    "json_response",
    "method_not_allowed",
    "not_found_path",
    "parse_target",
    "query_flag",
    "rbac_verb",
    "status_body",
    "too_large",
]

SANDBOX_USER = "sandbox-responder"
"""The user the sandbox's token authenticates as (named in Forbidden messages)."""

MAX_REQUEST_BYTES = 3 * 1024 * 1024
"""The largest request body accepted, as a real API server's default (3 MiB); a larger one
is answered 413 RequestEntityTooLarge with a Status body."""

JSON_TYPE = "application/json"


@dataclass(frozen=True)
class Target:
    """What a resource URL names."""

    info: ResourceInfo
    namespace: str | None
    name: str | None
    sub: str | None

    @property
    def rbac_resource(self) -> str:
        return f"{self.info.name}/{self.sub}" if self.sub else self.info.name


def status_body(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        status["details"] = details
    return status


def too_large() -> ApiError:
    return ApiError(
        413,
        "RequestEntityTooLarge",
        f"Request entity too large: limit is {MAX_REQUEST_BYTES}",
    )


def compact_json(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def json_response(obj: Any, status: int = 200) -> web.Response:
    return web.Response(text=compact_json(obj), status=status, content_type=JSON_TYPE)


def error_response(error: ApiError) -> web.Response:
    return json_response(
        status_body(error.code, error.reason, error.message, error.details), error.code
    )


def query_flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1")


def int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError.bad_request(f'{name}: Invalid value: "{raw}": must be an integer') from None


def dry_run_param(request: web.Request, body: Any = None) -> bool:
    values = request.query.getall("dryRun", [])
    if isinstance(body, dict) and body.get("kind") == "DeleteOptions":
        values = [*values, *(body.get("dryRun") or [])]
    for value in values:
        if value != "All":
            raise ApiError.bad_request(
                f'dryRun: Unsupported value: "{value}": supported values: "All"'
            )
    return bool(values)


_GROUP_PREFIXES = {("api", "v1"): "", ("apis", "apps", "v1"): "apps"}


def parse_target(path: str) -> Target | None:
    """The resource a URL names, or None for discovery and other non-resource paths."""
    parts = [part for part in path.split("/") if part]
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif parts[:3] == ["apis", "apps", "v1"]:
        group, rest = "apps", parts[3:]
    else:
        return None
    if not rest:
        return None
    namespace: str | None = None
    if rest[0] == "namespaces":
        if len(rest) <= 2:
            # /api/v1/namespaces and /api/v1/namespaces/NAME name the namespaces themselves.
            if group:
                raise not_found_path()
            return Target(RESOURCES["namespaces"], None, rest[1] if len(rest) > 1 else None, None)
        namespace, rest = rest[1], rest[2:]
    info = RESOURCES.get(rest[0])
    if info is None or info.group != group:
        raise not_found_path()
    if info.name == "namespaces":
        raise not_found_path()
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if len(rest) > 3:
        raise not_found_path()
    return Target(info, namespace, name, sub)


def not_found_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def method_not_allowed(method: str, target: Target) -> ApiError:
    return ApiError(
        405,
        "MethodNotAllowed",
        f"the server does not allow this method on the requested resource ({method} "
        f"{target.rbac_resource})",
    )


def rbac_verb(request: web.Request, target: Target) -> str:
    method = request.method
    if method == "GET":
        if target.name:
            return "get"
        return "watch" if query_flag(request, "watch") else "list"
    return {
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if target.name else "deletecollection",
    }.get(method, method.lower())


def forbidden(verb: str, target: Target) -> dict[str, Any]:
    where = (
        f' in the namespace "{target.namespace}"' if target.namespace else " at the cluster scope"
    )
    subject = f'{target.info.qualified} "{target.name}"' if target.name else target.info.qualified
    message = (
        f'{subject} is forbidden: User "{SANDBOX_USER}" cannot {verb} resource '
        f'"{target.rbac_resource}" in API group "{target.info.group}"{where}'
    )
    details: dict[str, Any] = {"group": target.info.group, "kind": target.info.name}
    if target.name:
        details["name"] = target.name
    return status_body(403, "Forbidden", message, details)
