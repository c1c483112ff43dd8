"""Discovery: the version, API groups and resource lists kubectl and the kubernetes
package ask for before anything else, and the other paths that are not resources."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tui.sandbox.kube.store import RESOURCES
from tui.sandbox.kube.wire import json_response, not_found_path

__all__ = ["KUBERNETES_VERSION", "discovery"]

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


APPS_GROUP = {
    "name": "apps",
    "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
    "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
}


def resource_list(group_version: str) -> dict[str, Any]:
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


def discovery(request: web.Request) -> web.Response:
    """The answer to a path that names no resource (``/version``, ``/apis``...)."""
    path = request.path.rstrip("/") or "/"
    host = request.host
    if path == "/version":
        return json_response(KUBERNETES_VERSION)
    if path == "/api":
        return json_response(
            {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
            }
        )
    if path == "/api/v1":
        return json_response(resource_list("v1"))
    if path == "/apis":
        # Aggregated discovery is asked for first; the classic form with a plain JSON
        # content type makes clients fall back to it, as against an older server.
        return json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": [APPS_GROUP]})
    if path == "/apis/apps":
        return json_response({"kind": "APIGroup", "apiVersion": "v1", **APPS_GROUP})
    if path == "/apis/apps/v1":
        return json_response(resource_list("apps/v1"))
    if path in ("/healthz", "/livez", "/readyz"):
        return web.Response(text="ok")
    if path == "/":
        return json_response(
            {"paths": ["/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/version"]}
        )
    raise not_found_path()
