"""The sandbox's Kubernetes API server in the wire format kubectl and the kubernetes package speak.

It serves a :class:`~tui.sandbox.kube.cluster.Cluster` with the faults in force: discovery, lists
(as Tables for ``kubectl get``), watches, the three patch kinds, server-side dry runs, pod
logs, and a ``Status`` object for every refusal.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tui.sandbox.faults import Fault, Faults
from tui.sandbox.kube.cluster import Cluster
from tui.sandbox.kube.kubelet import LogRecord
from tui.sandbox.kube.selectors import LabelSelector
from tui.sandbox.kube.store import RESOURCES, ApiError, ResourceInfo
from tui.signals import human_duration

__all__ = [
    "SANDBOX_USER",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_strategic_merge_patch",
    "build_kube_app",
]

SANDBOX_USER = "sandbox-responder"
"""The user the sandbox's token authenticates as (named in Forbidden messages)."""

KUBERNETES_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}

MAX_REQUEST_BYTES = 3 * 1024 * 1024
"""The largest request body accepted, as a real API server's default (3 MiB); a larger one
is answered 413 RequestEntityTooLarge with a Status body."""

_JSON = "application/json"
_BOOKMARK_EVERY = 30.0  # seconds between BOOKMARK events on watches that asked for them
_POLL = 1.0  # how often an idle stream checks that its client is still there
_log = logging.getLogger(__name__)


def build_kube_app(cluster: Cluster, faults: Faults, token: str) -> web.Application:
    """An aiohttp application serving the Kubernetes REST API for ``cluster``.

    Every request needs ``Authorization: Bearer <token>``. Faults come from
    ``faults.get("kubernetes")`` (``faults.get("logs")`` for ``pods/log``)."""
    api = _KubeApi(cluster, faults, token)
    # room for a body over the limit to be read and refused in the API's own words
    app = web.Application(client_max_size=MAX_REQUEST_BYTES + 1)
    app.router.add_route("*", "/{path:.*}", api.handle)
    return app


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class _Target:
    """What a resource URL names."""

    info: ResourceInfo
    namespace: str | None
    name: str | None
    sub: str | None

    @property
    def rbac_resource(self) -> str:
        return f"{self.info.name}/{self.sub}" if self.sub else self.info.name


class _Abort(Exception):
    """Close the connection without an answer (a backend that drops the client)."""


def _status(
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


def _too_large() -> ApiError:
    return ApiError(
        413,
        "RequestEntityTooLarge",
        f"Request entity too large: limit is {MAX_REQUEST_BYTES}",
    )


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(text=_dumps(obj), status=status, content_type=_JSON)


def _error(error: ApiError) -> web.Response:
    return _json(_status(error.code, error.reason, error.message, error.details), error.code)


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1")


def _int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError.bad_request(f'{name}: Invalid value: "{raw}": must be an integer') from None


def _dry_run(request: web.Request, body: Any = None) -> bool:
    values = request.query.getall("dryRun", [])
    if isinstance(body, dict) and body.get("kind") == "DeleteOptions":
        values = [*values, *(body.get("dryRun") or [])]
    for value in values:
        if value != "All":
            raise ApiError.bad_request(
                f'dryRun: Unsupported value: "{value}": supported values: "All"'
            )
    return bool(values)


class _KubeApi:
    def __init__(self, cluster: Cluster, faults: Faults, token: str) -> None:
        self.cluster = cluster
        self.faults = faults
        self.token = token

    # -- entry point

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            target = _parse_target(request.path)
        except ApiError:
            target = None
        is_log = target is not None and target.sub == "log"
        fault = self.faults.get("logs" if is_log else "kubernetes")
        try:
            if fault is not None and fault.kind == "down" and is_log:
                raise _Abort
            if fault is not None and fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            if not self._authenticated(request):
                return _json(_status(401, "Unauthorized", "Unauthorized"), 401)
            if fault is not None:
                refusal = self._fault_answer(fault, request, target)
                if refusal is not None:
                    return refusal
            return await self._dispatch(request, target, fault)
        except ApiError as error:
            return _error(error)
        except _Abort:
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPException() from None  # nothing is written to an aborted transport
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception:
            _log.exception("sandbox kube api failed on %s %s", request.method, request.path)
            return _json(
                _status(500, "InternalError", "an error on the server prevented the request"),
                500,
            )

    def _authenticated(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            presented.strip().encode(), self.token.encode()
        )

    def _fault_answer(
        self, fault: Fault, request: web.Request, target: _Target | None
    ) -> web.Response | None:
        if fault.kind == "5xx":
            return _json(
                _status(
                    503,
                    "ServiceUnavailable",
                    "the server is currently unable to handle the request",
                ),
                503,
            )
        if fault.kind == "401":
            return _json(_status(401, "Unauthorized", "Unauthorized: token has expired"), 401)
        if fault.kind == "malformed":
            return web.Response(
                text='{"kind":"Status","apiVersion":"v1","metadata":{"resourceVersion":"',
                content_type=_JSON,
            )
        if fault.kind == "403" and target is not None:
            verb = _verb(request, target)
            if fault.matches(verb, target.rbac_resource):
                return _json(_forbidden(verb, target), 403)
        return None

    # -- routing

    async def _dispatch(
        self, request: web.Request, target: _Target | None, fault: Fault | None
    ) -> web.StreamResponse:
        if target is None:
            return self._discovery(request)
        method = request.method
        resource = target.info.name
        if target.sub == "log":
            if method != "GET" or resource != "pods" or not target.name:
                raise _method_not_allowed(method, target)
            return await self._logs(request, target, fault)
        if target.sub == "scale":
            if resource != "deployments" or not target.name:
                raise _not_found_path()
            return await self._scale(request, target)
        if target.sub == "status":
            if method != "GET" or not target.name:
                raise _method_not_allowed(method, target)
            return self._get(request, target)
        if target.sub is not None:
            raise _not_found_path()
        if method == "GET":
            if target.name:
                return self._get(request, target)
            if _flag(request, "watch"):
                return await self._watch(request, target)
            return self._list(request, target)
        verb = _verb(request, target)
        if verb not in target.info.verbs:
            raise _method_not_allowed(method, target)
        if method == "POST":
            return await self._create(request, target)
        if method == "PUT":
            return await self._replace(request, target)
        if method == "PATCH":
            return await self._patch(request, target)
        if method == "DELETE" and target.name:
            return await self._delete(request, target)
        raise _method_not_allowed(method, target)

    def _discovery(self, request: web.Request) -> web.Response:
        path = request.path.rstrip("/") or "/"
        host = request.host
        if path == "/version":
            return _json(KUBERNETES_VERSION)
        if path == "/api":
            return _json(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": host}
                    ],
                }
            )
        if path == "/api/v1":
            return _json(_resource_list("v1"))
        if path == "/apis":
            # Aggregated discovery is asked for first; the classic form with a plain JSON
            # content type makes clients fall back to it, as against an older server.
            return _json({"kind": "APIGroupList", "apiVersion": "v1", "groups": [_APPS_GROUP]})
        if path == "/apis/apps":
            return _json({"kind": "APIGroup", "apiVersion": "v1", **_APPS_GROUP})
        if path == "/apis/apps/v1":
            return _json(_resource_list("apps/v1"))
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok")
        if path == "/":
            return _json(
                {"paths": ["/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/version"]}
            )
        raise _not_found_path()

    # -- reads

    def _get(self, request: web.Request, target: _Target) -> web.Response:
        assert target.name is not None
        obj = self.cluster.get_object(target.info.name, target.namespace, target.name)
        if _wants_table(request):
            return _json(
                _table(
                    target.info,
                    [obj],
                    self.cluster,
                    request,
                    str(obj["metadata"]["resourceVersion"]),
                )
            )
        return _json(obj)

    def _list(self, request: web.Request, target: _Target) -> web.Response:
        items, rv = self.cluster.list_objects(
            target.info.name,
            target.namespace,
            request.query.get("labelSelector"),
            request.query.get("fieldSelector"),
        )
        metadata: dict[str, Any] = {"resourceVersion": str(rv)}
        limit = _int_param(request, "limit")
        start = 0
        token = request.query.get("continue")
        if token:
            try:
                start = int(json.loads(base64.urlsafe_b64decode(token.encode()))["start"])
            except (ValueError, KeyError, TypeError, binascii.Error):
                raise ApiError.bad_request("continue key is not valid") from None
        if limit and limit > 0:
            page = items[start : start + limit]
            if start + limit < len(items):
                metadata["continue"] = base64.urlsafe_b64encode(
                    _dumps({"rv": rv, "start": start + limit}).encode()
                ).decode()
                metadata["remainingItemCount"] = len(items) - start - limit
        else:
            page = items[start:]
        if _wants_table(request):
            table = _table(target.info, page, self.cluster, request, str(rv))
            table["metadata"].update({k: v for k, v in metadata.items() if k != "resourceVersion"})
            return _json(table)
        for item in page:
            # A list's items carry no kind or apiVersion of their own on the wire.
            item.pop("kind", None)
            item.pop("apiVersion", None)
        return _json(
            {
                "kind": f"{target.info.kind}List",
                "apiVersion": target.info.api_version,
                "metadata": metadata,
                "items": page,
            }
        )

    async def _watch(self, request: web.Request, target: _Target) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": _JSON})
        response.enable_chunked_encoding()
        timeout = _int_param(request, "timeoutSeconds")
        bookmarks = _flag(request, "allowWatchBookmarks")
        initial = _flag(request, "sendInitialEvents")
        table = _wants_table(request)
        try:
            watch = self.cluster.watch(
                target.info.name,
                target.namespace,
                None if initial else request.query.get("resourceVersion"),
                request.query.get("labelSelector"),
                request.query.get("fieldSelector"),
            )
        except ApiError as error:
            if error.code != 410:
                raise
            await response.prepare(request)
            await response.write(
                (
                    _dumps(
                        {
                            "type": "ERROR",
                            "object": _status(error.code, error.reason, error.message),
                        }
                    )
                    + "\n"
                ).encode()
            )
            await response.write_eof()
            return response
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        deadline = None if not timeout or timeout <= 0 else loop.time() + timeout
        next_bookmark = loop.time() + _BOOKMARK_EVERY
        pending_initial_end = initial
        try:
            while True:
                now = loop.time()
                if deadline is not None and now >= deadline:
                    break
                if request.transport is None or request.transport.is_closing():
                    break
                wait = _POLL
                if deadline is not None:
                    wait = min(wait, deadline - now)
                if pending_initial_end and watch.pending == 0:
                    # Every existing object has been sent: say so, as sendInitialEvents asks.
                    pending_initial_end = False
                    await response.write(self._bookmark(target, initial_end=True))
                    continue
                event = await watch.next(timeout=wait)
                if event is None:
                    if watch.closed:
                        break
                    if bookmarks and loop.time() >= next_bookmark:
                        next_bookmark = loop.time() + _BOOKMARK_EVERY
                        await response.write(self._bookmark(target))
                    continue
                kind, obj = event
                if table:
                    obj = _table(
                        target.info,
                        [obj],
                        self.cluster,
                        request,
                        obj["metadata"]["resourceVersion"],
                    )
                await response.write((_dumps({"type": kind, "object": obj}) + "\n").encode())
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            watch.close()
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write_eof()
        return response

    def _bookmark(self, target: _Target, *, initial_end: bool = False) -> bytes:
        metadata: dict[str, Any] = {"resourceVersion": str(self.cluster.resource_version)}
        if initial_end:
            metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {
            "kind": target.info.kind,
            "apiVersion": target.info.api_version,
            "metadata": metadata,
        }
        return (_dumps({"type": "BOOKMARK", "object": obj}) + "\n").encode()

    # -- writes

    async def _body(self, request: web.Request) -> Any:
        if (request.content_length or 0) > MAX_REQUEST_BYTES:
            raise _too_large()
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise _too_large() from None
        if len(raw) > MAX_REQUEST_BYTES:
            raise _too_large()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            try:
                import yaml

                return yaml.safe_load(raw)
            except Exception:
                raise ApiError.bad_request(
                    "the body of the request was in an unknown format - accepted media types "
                    "include: application/json, application/yaml"
                ) from None

    def _counted(self, verb: str, target: _Target, dry_run: bool) -> None:
        if not dry_run:
            self.cluster.record_write(verb, target.rbac_resource)

    async def _create(self, request: web.Request, target: _Target) -> web.Response:
        body = await self._body(request)
        if not isinstance(body, dict):
            raise ApiError.bad_request("the request body must be an object")
        dry_run = _dry_run(request)
        created = self.cluster.create_object(
            target.info.name, target.namespace, body, dry_run=dry_run
        )
        self._counted("create", target, dry_run)
        return _json(created, 201)

    async def _replace(self, request: web.Request, target: _Target) -> web.Response:
        assert target.name is not None
        body = await self._body(request)
        if not isinstance(body, dict):
            raise ApiError.bad_request("the request body must be an object")
        dry_run = _dry_run(request)
        updated = self.cluster.update_object(
            target.info.name, target.namespace, target.name, body, dry_run=dry_run
        )
        self._counted("update", target, dry_run)
        return _json(updated)

    async def _patch(self, request: web.Request, target: _Target) -> web.Response:
        assert target.name is not None
        current = self.cluster.get_object(target.info.name, target.namespace, target.name)
        patched = _apply_patch(request, current, await self._body(request))
        dry_run = _dry_run(request)
        updated = self.cluster.update_object(
            target.info.name, target.namespace, target.name, patched, dry_run=dry_run
        )
        self._counted("patch", target, dry_run)
        return _json(updated)

    async def _delete(self, request: web.Request, target: _Target) -> web.Response:
        assert target.name is not None
        body = await self._body(request)
        dry_run = _dry_run(request, body)
        grace = _int_param(request, "gracePeriodSeconds")
        if isinstance(body, dict) and body.get("gracePeriodSeconds") is not None:
            grace = int(body["gracePeriodSeconds"])
        preconditions = (body or {}).get("preconditions") if isinstance(body, dict) else None
        if preconditions:
            current = self.cluster.get_object(target.info.name, target.namespace, target.name)
            for field, value in preconditions.items():
                if value and current["metadata"].get(field) != value:
                    raise ApiError.conflict(target.info.name, target.name)
        deleted = self.cluster.delete_object(
            target.info.name, target.namespace, target.name, dry_run=dry_run, grace_period=grace
        )
        self._counted("delete", target, dry_run)
        if target.info.name == "pods":
            return _json(deleted)
        return _json(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {
                    "name": target.name,
                    "group": target.info.group,
                    "kind": target.info.name,
                    "uid": deleted["metadata"].get("uid", ""),
                },
            }
        )

    async def _scale(self, request: web.Request, target: _Target) -> web.Response:
        assert target.name is not None and target.namespace is not None
        method = request.method
        if method == "GET":
            return _json(self.cluster.scale(target.namespace, target.name))
        if method not in ("PUT", "PATCH"):
            raise _method_not_allowed(method, target)
        body = await self._body(request)
        if method == "PATCH":
            body = _apply_patch(request, self.cluster.scale(target.namespace, target.name), body)
        if not isinstance(body, dict):
            raise ApiError.bad_request("the request body must be an object")
        dry_run = _dry_run(request)
        scaled = self.cluster.update_scale(target.namespace, target.name, body, dry_run=dry_run)
        self._counted("update" if method == "PUT" else "patch", target, dry_run)
        return _json(scaled)

    # -- logs

    async def _logs(
        self, request: web.Request, target: _Target, fault: Fault | None
    ) -> web.StreamResponse:
        assert target.name is not None and target.namespace is not None
        since: datetime | None = None
        since_seconds = _int_param(request, "sinceSeconds")
        since_time = request.query.get("sinceTime")
        if since_seconds is not None and since_time:
            raise ApiError.bad_request("at most one of sinceTime or sinceSeconds may be specified")
        if since_seconds is not None:
            if since_seconds < 1:
                raise ApiError.bad_request("sinceSeconds: Invalid value: must be greater than 0")
            since = datetime.fromtimestamp(self.cluster.clock(), UTC) - timedelta(
                seconds=since_seconds
            )
        elif since_time:
            try:
                since = datetime.fromisoformat(since_time.replace("Z", "+00:00"))
            except ValueError:
                raise ApiError.bad_request(
                    f'sinceTime: Invalid value: "{since_time}": not an RFC 3339 time'
                ) from None
        tail = _int_param(request, "tailLines")
        limit = _int_param(request, "limitBytes")
        if limit is not None and limit < 1:
            raise ApiError.bad_request("limitBytes: Invalid value: must be greater than 0")
        follow = _flag(request, "follow")
        timestamps = _flag(request, "timestamps")
        cursor = self.cluster.open_log(
            target.namespace,
            target.name,
            request.query.get("container") or None,
            previous=_flag(request, "previous"),
            since=since,
            tail_lines=tail if tail is not None and tail >= 0 else None,
        )
        drop_after = fault.after_lines if fault is not None and fault.kind == "drop" else None
        response = web.StreamResponse(
            status=200, headers={"Content-Type": "text/plain; charset=utf-8"}
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        sent_lines = 0
        sent_bytes = 0

        async def send(records: list[LogRecord]) -> bool:
            """Write lines; False once the stream must end (limit reached or cut)."""
            nonlocal sent_lines, sent_bytes
            if drop_after is not None and sent_lines + len(records) >= drop_after:
                records = records[: max(drop_after - sent_lines, 0)]
                data = _render_lines(records, timestamps)
                if data:
                    await response.write(data)
                raise _Abort
            data = _render_lines(records, timestamps)
            if limit is not None and sent_bytes + len(data) >= limit:
                await response.write(data[: limit - sent_bytes])
                return False
            if data:
                await response.write(data)
            sent_lines += len(records)
            sent_bytes += len(data)
            return True

        initial, met = fault, fault
        try:
            going = await send(cursor.initial)
            while going and follow:
                if request.transport is None or request.transport.is_closing():
                    break
                # a fault set while the stream is open reaches it too, as a real server's
                # trouble reaches the streams it is serving
                live = self.faults.get("logs")
                if live is not None and live is not initial:
                    if live is not met:
                        met = live
                        if live.kind in ("down", "5xx", "401", "403"):
                            raise _Abort
                        if live.kind == "drop":
                            drop_after = sent_lines + live.after_lines
                        if live.kind == "malformed":
                            await response.write(b"\x00\x00 not a log line\n")
                    if live.kind == "slow":
                        await asyncio.sleep(live.delay)
                batch = await cursor.next_batch(timeout=_POLL)
                if batch:
                    going = await send(batch)
                elif cursor.ended:
                    break
        except (ConnectionResetError, ConnectionError):
            return response
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write_eof()
        return response


# --------------------------------------------------------------------------- URL parsing


_GROUP_PREFIXES = {("api", "v1"): "", ("apis", "apps", "v1"): "apps"}


def _parse_target(path: str) -> _Target | None:
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
                raise _not_found_path()
            return _Target(RESOURCES["namespaces"], None, rest[1] if len(rest) > 1 else None, None)
        namespace, rest = rest[1], rest[2:]
    info = RESOURCES.get(rest[0])
    if info is None or info.group != group:
        raise _not_found_path()
    if info.name == "namespaces":
        raise _not_found_path()
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if len(rest) > 3:
        raise _not_found_path()
    return _Target(info, namespace, name, sub)


def _not_found_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def _method_not_allowed(method: str, target: _Target) -> ApiError:
    return ApiError(
        405,
        "MethodNotAllowed",
        f"the server does not allow this method on the requested resource ({method} "
        f"{target.rbac_resource})",
    )


def _verb(request: web.Request, target: _Target) -> str:
    method = request.method
    if method == "GET":
        if target.name:
            return "get"
        return "watch" if _flag(request, "watch") else "list"
    return {
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if target.name else "deletecollection",
    }.get(method, method.lower())


def _forbidden(verb: str, target: _Target) -> dict[str, Any]:
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
    return _status(403, "Forbidden", message, details)


# --------------------------------------------------------------------------- discovery

_APPS_GROUP = {
    "name": "apps",
    "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
    "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
}


def _resource_list(group_version: str) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for info in RESOURCES.values():
        if info.api_version != group_version:
            continue
        entry: dict[str, Any] = {
            "name": info.name,
            "singularName": info.kind.lower(),
            "namespaced": info.namespaced,
            "kind": info.kind,
            "verbs": sorted(info.verbs),
        }
        if info.short_names:
            entry["shortNames"] = list(info.short_names)
        if info.name in ("pods", "deployments", "replicasets"):
            entry["categories"] = ["all"]
        resources.append(entry)
        if info.name == "pods":
            resources.append(
                {
                    "name": "pods/log",
                    "singularName": "",
                    "namespaced": True,
                    "kind": "Pod",
                    "verbs": ["get"],
                }
            )
        if info.name == "deployments":
            resources.append(
                {
                    "name": "deployments/scale",
                    "singularName": "",
                    "namespaced": True,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }
            )
            resources.append(
                {
                    "name": "deployments/status",
                    "singularName": "",
                    "namespaced": True,
                    "kind": "Deployment",
                    "verbs": ["get"],
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


# --------------------------------------------------------------------------- tables


def _wants_table(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return any(
        "as=Table" in part and "g=meta.k8s.io" in part and "application/json" in part
        for part in accept.split(",")
    )


def _age(obj: dict[str, Any], now: float) -> str:
    stamp = obj.get("metadata", {}).get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    created = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    return human_duration(now - created)


def _column(
    name: str, kind: str, description: str, priority: int = 0, fmt: str = ""
) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "format": fmt,
        "description": description,
        "priority": priority,
    }


_NAME = _column("Name", "string", "Name must be unique within a namespace.", fmt="name")
_AGE = _column(
    "Age",
    "string",
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
)


def _pod_status_text(pod: dict[str, Any]) -> str:
    status = pod.get("status", {})
    reason = status.get("reason") or status.get("phase", "Unknown")
    for container in status.get("containerStatuses", []):
        state = container.get("state", {})
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            reason = state["terminated"].get("reason") or "Error"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return str(reason)


def _pod_restarts(pod: dict[str, Any], now: float) -> str:
    statuses = pod.get("status", {}).get("containerStatuses", [])
    restarts = sum(c.get("restartCount", 0) for c in statuses)
    finished = [
        c["lastState"]["terminated"].get("finishedAt")
        for c in statuses
        if c.get("lastState", {}).get("terminated", {}).get("finishedAt")
    ]
    if restarts and finished:
        last = datetime.strptime(max(finished), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        return f"{restarts} ({human_duration(now - last.timestamp())} ago)"
    return str(restarts)


def _images(obj: dict[str, Any]) -> tuple[str, str]:
    containers = obj["spec"]["template"]["spec"].get("containers", [])
    return (
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
    )


def _table_spec(
    resource: str,
) -> tuple[list[dict[str, Any]], Callable[[dict[str, Any], float], list[Any]]]:
    if resource == "pods":

        def pod_row(pod: dict[str, Any], now: float) -> list[Any]:
            statuses = pod.get("status", {}).get("containerStatuses", [])
            ready = sum(1 for c in statuses if c.get("ready"))
            total = len(pod["spec"].get("containers", []))
            return [
                pod["metadata"]["name"],
                f"{ready}/{total}",
                _pod_status_text(pod),
                _pod_restarts(pod, now),
                _age(pod, now),
                pod.get("status", {}).get("podIP") or "<none>",
                pod["spec"].get("nodeName") or "<none>",
                "<none>",
                "<none>",
            ]

        return [
            _NAME,
            _column(
                "Ready",
                "string",
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            _column("Status", "string", "The aggregate status of the containers in this pod."),
            _column(
                "Restarts",
                "string",
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            _AGE,
            _column("IP", "string", "IP address allocated to the pod.", 1),
            _column("Node", "string", "Name of the node the pod is assigned to.", 1),
            _column("Nominated Node", "string", "Name of the node the pod is nominated to.", 1),
            _column("Readiness Gates", "string", "The readiness gates of the pod.", 1),
        ], pod_row
    if resource == "deployments":

        def deployment_row(dep: dict[str, Any], now: float) -> list[Any]:
            status = dep.get("status", {})
            names, images = _images(dep)
            return [
                dep["metadata"]["name"],
                f"{status.get('readyReplicas', 0)}/{dep['spec'].get('replicas', 1)}",
                status.get("updatedReplicas", 0),
                status.get("availableReplicas", 0),
                _age(dep, now),
                names,
                images,
                str(LabelSelector.from_spec(dep["spec"].get("selector"))),
            ]

        return [
            _NAME,
            _column("Ready", "string", "Number of the pod with ready state"),
            _column(
                "Up-to-date",
                "integer",
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            _column(
                "Available",
                "integer",
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            _AGE,
            _column("Containers", "string", "Names of each container in the template.", 1),
            _column("Images", "string", "Images referenced by each container in the template.", 1),
            _column("Selector", "string", "Label selector for pods.", 1),
        ], deployment_row
    if resource == "replicasets":

        def replicaset_row(rs: dict[str, Any], now: float) -> list[Any]:
            status = rs.get("status", {})
            names, images = _images(rs)
            return [
                rs["metadata"]["name"],
                rs["spec"].get("replicas", 0),
                status.get("replicas", 0),
                status.get("readyReplicas", 0),
                _age(rs, now),
                names,
                images,
                str(LabelSelector.from_spec(rs["spec"].get("selector"))),
            ]

        return [
            _NAME,
            _column("Desired", "integer", "Replicas is the number of desired replicas."),
            _column(
                "Current", "integer", "Replicas is the most recently observed number of replicas."
            ),
            _column("Ready", "integer", "The number of ready replicas for this replica set."),
            _AGE,
            _column("Containers", "string", "Names of each container in the template.", 1),
            _column("Images", "string", "Images referenced by each container in the template.", 1),
            _column("Selector", "string", "Label selector for pods.", 1),
        ], replicaset_row
    if resource == "secrets":
        return [
            _NAME,
            _column("Type", "string", "Used to facilitate programmatic handling of secret data."),
            _column("Data", "string", "The number of keys in the secret."),
            _AGE,
        ], lambda s, now: [
            s["metadata"]["name"],
            s.get("type", "Opaque"),
            len(s.get("data", {})),
            _age(s, now),
        ]
    if resource == "namespaces":
        return [
            _NAME,
            _column("Status", "string", "The status of the namespace"),
            _AGE,
        ], lambda ns, now: [
            ns["metadata"]["name"],
            ns.get("status", {}).get("phase", "Active"),
            _age(ns, now),
        ]

    def event_row(event: dict[str, Any], now: float) -> list[Any]:
        involved = event.get("involvedObject", {})
        last = event.get("lastTimestamp") or event["metadata"].get("creationTimestamp")
        first = event.get("firstTimestamp") or last
        return [
            human_duration(now - _epoch(last)) if last else "<unknown>",
            event.get("type", ""),
            event.get("reason", ""),
            f"{involved.get('kind', '').lower()}/{involved.get('name', '')}",
            involved.get("fieldPath", ""),
            event.get("source", {}).get("component", ""),
            event.get("message", ""),
            human_duration(now - _epoch(first)) if first else "<unknown>",
            event.get("count", 1),
            event["metadata"]["name"],
        ]

    return [
        _column("Last Seen", "string", "Time when last event occurred"),
        _column(
            "Type",
            "string",
            "Type of this event (Normal, Warning), new types could be added in the future.",
        ),
        _column(
            "Reason",
            "string",
            "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
        ),
        _column("Object", "string", "The object that this event is about"),
        _column("Subobject", "string", "The subobject of the involved object", 1),
        _column("Source", "string", "The component reporting this event.", 1),
        _column(
            "Message", "string", "A human-readable description of the status of this operation."
        ),
        _column("First Seen", "string", "The time at which the event was first recorded.", 1),
        _column("Count", "string", "The number of times this event has occurred.", 1),
        _column("Name", "string", "Name must be unique within a namespace.", 1),
    ], event_row


def _epoch(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def _table(
    info: ResourceInfo,
    objects: list[dict[str, Any]],
    cluster: Cluster,
    request: web.Request,
    resource_version: str,
) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table: the columns ``kubectl get`` prints, computed by the server."""
    columns, row = _table_spec(info.name)
    include = request.query.get("includeObject", "Metadata")
    now = cluster.clock()
    rows = []
    for obj in objects:
        entry: dict[str, Any] = {"cells": row(obj, now)}
        if include == "Object":
            full = copy.deepcopy(obj)
            full["kind"], full["apiVersion"] = info.kind, info.api_version
            entry["object"] = full
        elif include != "None":
            entry["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(entry)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns,
        "rows": rows,
    }


# --------------------------------------------------------------------------- logs


def _timestamp(moment: datetime) -> str:
    """RFC 3339 with nanoseconds and trailing zeros trimmed, as the kubelet writes them."""
    moment = moment.astimezone(UTC)
    fraction = f"{moment.microsecond * 1000:09d}".rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def _render_lines(records: list[LogRecord], timestamps: bool) -> bytes:
    if timestamps:
        text = "".join(f"{_timestamp(r.time)} {r.text}\n" for r in records)
    else:
        text = "".join(f"{r.text}\n" for r in records)
    return text.encode("utf-8", "replace")


# --------------------------------------------------------------------------- patches

# Lists whose items merge by a key under a strategic merge patch (the patchMergeKey tags of
# the Kubernetes types this server serves); other lists are replaced whole.
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
}
_PRIMITIVE_SETS = {"finalizers"}


def _apply_patch(request: web.Request, current: dict[str, Any], body: Any) -> dict[str, Any]:
    kind = request.content_type
    if body is None:
        raise ApiError.bad_request("the body of the patch is empty")
    if kind == "application/strategic-merge-patch+json":
        if not isinstance(body, dict):
            raise ApiError.bad_request("the strategic merge patch must be an object")
        return apply_strategic_merge_patch(current, body)
    if kind == "application/merge-patch+json":
        result = apply_merge_patch(current, body)
        if not isinstance(result, dict):
            raise ApiError.bad_request("the merge patch must be an object")
        return result
    if kind == "application/json-patch+json":
        if not isinstance(body, list):
            raise ApiError.bad_request("the JSON patch must be a list of operations")
        return apply_json_patch(current, body)
    raise ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"application/json-patch+json, application/merge-patch+json, "
        f'application/strategic-merge-patch+json (got "{kind}")',
    )


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def apply_strategic_merge_patch(original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Kubernetes' strategic merge patch: lists of containers, env, volumes... merge by their
    key, with the ``$patch``, ``$setElementOrder``, ``$retainKeys`` and
    ``$deleteFromPrimitiveList`` directives kubectl sends."""
    merged = _merge_map(copy.deepcopy(original), patch)
    return merged if merged is not None else {}


def _merge_map(original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any] | None:
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        replaced: dict[str, Any] = _strip_directives(patch)
        return replaced
    result = original
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            base = result.get(key)
            merged = _merge_map(base if isinstance(base, dict) else {}, value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            base = result.get(key)
            result[key] = _merge_list(key, base if isinstance(base, list) else [], value)
        else:
            result[key] = value
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [item for item in result[field] if item not in value]
        elif key.startswith("$setElementOrder/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = _ordered(field, result[field], value)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(field: str, original: list[Any], patch: list[Any]) -> list[Any]:
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [
            _strip_directives(item)
            for item in patch
            if not (isinstance(item, dict) and item.get("$patch") == "replace")
        ]
    key = _MERGE_KEYS.get(field)
    if key is None:
        if field in _PRIMITIVE_SETS:
            return original + [item for item in patch if item not in original]
        return [_strip_directives(item) for item in patch]
    result = copy.deepcopy(original)
    for item in patch:
        if not isinstance(item, dict):
            continue
        wanted = item.get(key)
        index = next(
            (
                i
                for i, existing in enumerate(result)
                if isinstance(existing, dict) and existing.get(key) == wanted
            ),
            None,
        )
        if item.get("$patch") == "delete":
            result = [e for e in result if not (isinstance(e, dict) and e.get(key) == wanted)]
            continue
        if index is None:
            result.append(_strip_directives(item))
        else:
            merged = _merge_map(result[index], item)
            if merged is None:
                result.pop(index)
            else:
                result[index] = merged
    return result


def _ordered(field: str, items: list[Any], order: list[Any]) -> list[Any]:
    key = _MERGE_KEYS.get(field)
    if key is None:
        same = {json.dumps(v, sort_keys=True): i for i, v in enumerate(order)}
        return sorted(items, key=lambda item: same.get(json.dumps(item, sort_keys=True), len(same)))
    rank: dict[Any, int] = {
        entry.get(key): i for i, entry in enumerate(order) if isinstance(entry, dict)
    }
    return sorted(
        items,
        key=lambda item: rank.get(item.get(key) if isinstance(item, dict) else None, len(rank)),
    )


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def apply_json_patch(document: dict[str, Any], operations: list[Any]) -> dict[str, Any]:
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test)."""
    doc: Any = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise ApiError.bad_request("each JSON patch operation needs an op and a path")
        op, path = operation["op"], operation["path"]
        if op == "add":
            doc = _pointer_add(doc, path, copy.deepcopy(operation.get("value")))
        elif op == "remove":
            doc = _pointer_remove(doc, path)
        elif op == "replace":
            _pointer_get(doc, path)
            doc = _pointer_remove(doc, path)
            doc = _pointer_add(doc, path, copy.deepcopy(operation.get("value")))
        elif op in ("move", "copy"):
            value = copy.deepcopy(_pointer_get(doc, operation.get("from", "")))
            if op == "move":
                doc = _pointer_remove(doc, operation["from"])
            doc = _pointer_add(doc, path, value)
        elif op == "test":
            if _pointer_get(doc, path) != operation.get("value"):
                raise ApiError(422, "Invalid", f"testing value {path} failed")
        else:
            raise ApiError.bad_request(f'Unexpected kind: "{op}"')
    if not isinstance(doc, dict):
        raise ApiError.bad_request("the patched object is not an object")
    return doc


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError.bad_request(f'JSON pointer "{path}" does not start with "/"')
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _missing(path: str) -> ApiError:
    return ApiError(
        422,
        "Invalid",
        f'the JSON patch does not apply: doc is missing path: "{path}": missing value',
    )


def _pointer_get(doc: Any, path: str) -> Any:
    node = doc
    for token in _tokens(path):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise _missing(path)
    return node


def _pointer_parent(doc: Any, path: str) -> tuple[Any, str]:
    tokens = _tokens(path)
    if not tokens:
        raise ApiError.bad_request("a JSON patch cannot replace the whole object")
    parent = _pointer_get(
        doc, "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens[:-1])
    )
    return parent, tokens[-1]


def _pointer_add(doc: Any, path: str, value: Any) -> Any:
    if path == "":
        return value
    parent, token = _pointer_parent(doc, path)
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        if token == "-":
            parent.append(value)
        elif token.isdigit() and int(token) <= len(parent):
            parent.insert(int(token), value)
        else:
            raise _missing(path)
    else:
        raise _missing(path)
    return doc


def _pointer_remove(doc: Any, path: str) -> Any:
    parent, token = _pointer_parent(doc, path)
    if isinstance(parent, dict) and token in parent:
        del parent[token]
    elif isinstance(parent, list) and token.isdigit() and int(token) < len(parent):
        del parent[int(token)]
    else:
        raise _missing(path)
    return doc
