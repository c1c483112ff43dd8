"""The sandbox's Kubernetes API server in the wire format kubectl and the kubernetes package speak.

It serves a :class:`~tui.sandbox.kube.cluster.Cluster` with the faults in force:
authentication, routing, gets and lists, watches, writes with server-side dry runs, scale,
and pod logs. Discovery, Tables, patches and the wire conventions have modules of their own.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tui.sandbox.faults import Fault, Faults
from tui.sandbox.kube.cluster import Cluster
from tui.sandbox.kube.discovery import discovery
from tui.sandbox.kube.kubelet import LogRecord
from tui.sandbox.kube.patches import (
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
)
from tui.sandbox.kube.store import ApiError
from tui.sandbox.kube.tables import as_table, wants_table
from tui.sandbox.kube.tokens import Tokens
from tui.sandbox.kube.wire import (
    JSON_TYPE,
    MAX_REQUEST_BYTES,
    Target,
    compact_json,
    dry_run_param,
    error_response,
    forbidden,
    int_param,
    json_response,
    method_not_allowed,
    not_found_path,
    parse_target,
    query_flag,
    rbac_verb,
    status_body,
    too_large,
)

__all__ = ["build_kube_app"]

_BOOKMARK_EVERY = 30.0  # seconds between BOOKMARK events on watches that asked for them
_POLL = 1.0  # how often an idle stream checks that its client is still there
_log = logging.getLogger(__name__)


def build_kube_app(cluster: Cluster, faults: Faults, tokens: Tokens) -> web.Application:
    """An aiohttp application serving the Kubernetes REST API for ``cluster``.

    Every request needs ``Authorization: Bearer <token>``. Faults come from
    ``faults.get("kubernetes")`` (``faults.get("logs")`` for ``pods/log``)."""
    api = _KubeApi(cluster, faults, tokens)
    # room for a body over the limit to be read and refused in the API's own words
    app = web.Application(client_max_size=MAX_REQUEST_BYTES + 1)
    app.router.add_route("*", "/{path:.*}", api.handle)
    return app


class _Abort(Exception):
    """Close the connection without an answer (a backend that drops the client)."""


class _KubeApi:
    def __init__(self, cluster: Cluster, faults: Faults, tokens: Tokens) -> None:
        self.cluster = cluster
        self.faults = faults
        self.tokens = tokens

    # -- entry point

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            target = parse_target(request.path)
        except ApiError:
            target = None
        is_log = target is not None and target.sub == "log"
        fault = self.faults.get("logs" if is_log else "kubernetes")
        try:
            if fault is not None and fault.kind == "down" and is_log:
                raise _Abort
            if fault is not None and fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            who = self._authenticated(request)
            if who != "ok":
                said = "Unauthorized: token has expired" if who == "expired" else "Unauthorized"
                return json_response(status_body(401, "Unauthorized", said), 401)
            if fault is not None:
                refusal = self._fault_answer(fault, request, target)
                if refusal is not None:
                    return refusal
            return await self._dispatch(request, target, fault)
        except ApiError as error:
            return error_response(error)
        except _Abort:
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPException() from None  # nothing is written to an aborted transport
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception:
            _log.exception("sandbox kube api failed on %s %s", request.method, request.path)
            return json_response(
                status_body(500, "InternalError", "an error on the server prevented the request"),
                500,
            )

    def _authenticated(self, request: web.Request) -> str:
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer":
            return "unknown"
        return self.tokens.check(presented.strip())

    def _fault_answer(
        self, fault: Fault, request: web.Request, target: Target | None
    ) -> web.Response | None:
        if fault.kind == "5xx":
            return json_response(
                status_body(
                    503,
                    "ServiceUnavailable",
                    "the server is currently unable to handle the request",
                ),
                503,
            )
        if fault.kind == "401":
            return json_response(
                status_body(401, "Unauthorized", "Unauthorized: token has expired"), 401
            )
        if fault.kind == "malformed":
            return web.Response(
                text='{"kind":"Status","apiVersion":"v1","metadata":{"resourceVersion":"',
                content_type=JSON_TYPE,
            )
        if fault.kind == "403" and target is not None:
            verb = rbac_verb(request, target)
            if fault.matches(verb, target.rbac_resource):
                return json_response(forbidden(verb, target), 403)
        return None

    # -- routing

    async def _dispatch(
        self, request: web.Request, target: Target | None, fault: Fault | None
    ) -> web.StreamResponse:
        if target is None:
            return discovery(request)
        method = request.method
        resource = target.info.name
        if target.sub == "log":
            if method != "GET" or resource != "pods" or not target.name:
                raise method_not_allowed(method, target)
            return await self._logs(request, target, fault)
        if target.sub == "scale":
            if resource != "deployments" or not target.name:
                raise not_found_path()
            return await self._scale(request, target)
        if target.sub == "status":
            if method != "GET" or not target.name:
                raise method_not_allowed(method, target)
            return self._get(request, target)
        if target.sub is not None:
            raise not_found_path()
        if method == "GET":
            if target.name:
                return self._get(request, target)
            if query_flag(request, "watch"):
                return await self._watch(request, target)
            return self._list(request, target)
        verb = rbac_verb(request, target)
        if verb not in target.info.verbs:
            raise method_not_allowed(method, target)
        if method == "POST":
            return await self._create(request, target)
        if method == "PUT":
            return await self._replace(request, target)
        if method == "PATCH":
            return await self._patch(request, target)
        if method == "DELETE" and target.name:
            return await self._delete(request, target)
        raise method_not_allowed(method, target)

    # -- reads

    def _get(self, request: web.Request, target: Target) -> web.Response:
        assert target.name is not None
        obj = self.cluster.get_object(target.info.name, target.namespace, target.name)
        if wants_table(request):
            return json_response(
                as_table(
                    target.info,
                    [obj],
                    self.cluster,
                    request,
                    str(obj["metadata"]["resourceVersion"]),
                )
            )
        return json_response(obj)

    def _list(self, request: web.Request, target: Target) -> web.Response:
        items, rv = self.cluster.list_objects(
            target.info.name,
            target.namespace,
            request.query.get("labelSelector"),
            request.query.get("fieldSelector"),
        )
        metadata: dict[str, Any] = {"resourceVersion": str(rv)}
        limit = int_param(request, "limit")
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
                    compact_json({"rv": rv, "start": start + limit}).encode()
                ).decode()
                metadata["remainingItemCount"] = len(items) - start - limit
        else:
            page = items[start:]
        if wants_table(request):
            table = as_table(target.info, page, self.cluster, request, str(rv))
            table["metadata"].update({k: v for k, v in metadata.items() if k != "resourceVersion"})
            return json_response(table)
        for item in page:
            # A list's items carry no kind or apiVersion of their own on the wire.
            item.pop("kind", None)
            item.pop("apiVersion", None)
        return json_response(
            {
                "kind": f"{target.info.kind}List",
                "apiVersion": target.info.api_version,
                "metadata": metadata,
                "items": page,
            }
        )

    async def _watch(self, request: web.Request, target: Target) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": JSON_TYPE})
        response.enable_chunked_encoding()
        timeout = int_param(request, "timeoutSeconds")
        bookmarks = query_flag(request, "allowWatchBookmarks")
        initial = query_flag(request, "sendInitialEvents")
        table = wants_table(request)
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
                    compact_json(
                        {
                            "type": "ERROR",
                            "object": status_body(error.code, error.reason, error.message),
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
                    obj = as_table(
                        target.info,
                        [obj],
                        self.cluster,
                        request,
                        obj["metadata"]["resourceVersion"],
                    )
                await response.write((compact_json({"type": kind, "object": obj}) + "\n").encode())
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            watch.close()
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write_eof()
        return response

    def _bookmark(self, target: Target, *, initial_end: bool = False) -> bytes:
        metadata: dict[str, Any] = {"resourceVersion": str(self.cluster.resource_version)}
        if initial_end:
            metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {
            "kind": target.info.kind,
            "apiVersion": target.info.api_version,
            "metadata": metadata,
        }
        return (compact_json({"type": "BOOKMARK", "object": obj}) + "\n").encode()

    # -- writes

    async def _body(self, request: web.Request) -> Any:
        if (request.content_length or 0) > MAX_REQUEST_BYTES:
            raise too_large()
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise too_large() from None
        if len(raw) > MAX_REQUEST_BYTES:
            raise too_large()
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

    def _counted(self, verb: str, target: Target, dry_run: bool) -> None:
        if not dry_run:
            self.cluster.record_write(verb, target.rbac_resource)

    async def _create(self, request: web.Request, target: Target) -> web.Response:
        body = await self._body(request)
        if not isinstance(body, dict):
            raise ApiError.bad_request("the request body must be an object")
        dry_run = dry_run_param(request)
        created = self.cluster.create_object(
            target.info.name, target.namespace, body, dry_run=dry_run
        )
        self._counted("create", target, dry_run)
        return json_response(created, 201)

    async def _replace(self, request: web.Request, target: Target) -> web.Response:
        assert target.name is not None
        body = await self._body(request)
        if not isinstance(body, dict):
            raise ApiError.bad_request("the request body must be an object")
        dry_run = dry_run_param(request)
        updated = self.cluster.update_object(
            target.info.name, target.namespace, target.name, body, dry_run=dry_run
        )
        self._counted("update", target, dry_run)
        return json_response(updated)

    async def _patch(self, request: web.Request, target: Target) -> web.Response:
        assert target.name is not None
        current = self.cluster.get_object(target.info.name, target.namespace, target.name)
        patched = _apply_patch(request, current, await self._body(request))
        dry_run = dry_run_param(request)
        updated = self.cluster.update_object(
            target.info.name, target.namespace, target.name, patched, dry_run=dry_run
        )
        self._counted("patch", target, dry_run)
        return json_response(updated)

    async def _delete(self, request: web.Request, target: Target) -> web.Response:
        assert target.name is not None
        body = await self._body(request)
        dry_run = dry_run_param(request, body)
        grace = int_param(request, "gracePeriodSeconds")
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
            return json_response(deleted)
        return json_response(
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

    async def _scale(self, request: web.Request, target: Target) -> web.Response:
        assert target.name is not None and target.namespace is not None
        method = request.method
        if method == "GET":
            return json_response(self.cluster.scale(target.namespace, target.name))
        if method not in ("PUT", "PATCH"):
            raise method_not_allowed(method, target)
        body = await self._body(request)
        if method == "PATCH":
            body = _apply_patch(request, self.cluster.scale(target.namespace, target.name), body)
        if not isinstance(body, dict):
            raise ApiError.bad_request("the request body must be an object")
        dry_run = dry_run_param(request)
        scaled = self.cluster.update_scale(target.namespace, target.name, body, dry_run=dry_run)
        self._counted("update" if method == "PUT" else "patch", target, dry_run)
        return json_response(scaled)

    # -- logs

    async def _logs(
        self, request: web.Request, target: Target, fault: Fault | None
    ) -> web.StreamResponse:
        assert target.name is not None and target.namespace is not None
        since: datetime | None = None
        since_seconds = int_param(request, "sinceSeconds")
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
        tail = int_param(request, "tailLines")
        limit = int_param(request, "limitBytes")
        if limit is not None and limit < 1:
            raise ApiError.bad_request("limitBytes: Invalid value: must be greater than 0")
        follow = query_flag(request, "follow")
        timestamps = query_flag(request, "timestamps")
        cursor = self.cluster.open_log(
            target.namespace,
            target.name,
            request.query.get("container") or None,
            previous=query_flag(request, "previous"),
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
