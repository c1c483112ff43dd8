"""Each Kubernetes API call the cockpit makes, by name, over the `kubernetes.aio` ApiClient."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiohttp

    from tui.sources.kube.kubeconfig import ExecCredentials

__all__ = ["KubeCalls"]


class KubeCalls:
    """The Kubernetes API calls the cockpit makes, named and shaped like the generated
    ``CoreV1Api``/``AppsV1Api`` methods of the same name and sent through the
    ``kubernetes.aio`` ApiClient (kubeconfig auth, TLS, query serialisation). The generated
    classes are not loaded: importing them builds hundreds of pydantic models and costs
    more than a second of CPU, while every answer here is read as raw JSON anyway."""

    _ACCEPT = "application/json"

    def __init__(self, api_client: Any, credentials: ExecCredentials | None = None) -> None:
        self.api_client = api_client
        self.credentials = credentials
        """An exec plugin's token: asked for a new one once when the API answers 401."""

    async def _call(
        self,
        method: str,
        path: str,
        path_params: dict[str, str],
        query: dict[str, Any],
        *,
        body: Any = None,
        content_type: str | None = None,
        request_timeout: float | None = None,
    ) -> aiohttp.ClientResponse:
        response = await self._send(
            method, path, path_params, query, body, content_type, request_timeout
        )
        credentials = self.credentials
        if credentials is None:
            return response
        if response.status != 401:
            credentials.accepted()
            return response
        configuration = self.api_client.configuration
        # the token this request carried: another request may have renewed it meanwhile
        refused = response.request_info.headers.get("Authorization")
        if not await credentials.renew(configuration, refused):
            return response
        response.release()
        return await self._send(
            method, path, path_params, query, body, content_type, request_timeout
        )

    async def _send(
        self,
        method: str,
        path: str,
        path_params: dict[str, str],
        query: dict[str, Any],
        body: Any,
        content_type: str | None,
        request_timeout: float | None,
    ) -> aiohttp.ClientResponse:
        headers = {"Accept": self._ACCEPT}
        if content_type is not None:
            headers["Content-Type"] = content_type
        serialized = await self.api_client.param_serialize(
            method=method,
            resource_path=path,
            path_params=path_params,
            query_params=[(key, value) for key, value in query.items() if value is not None],
            header_params=headers,
            body=body,
            post_params=[],
            files={},
            auth_settings=["BearerToken"],
            collection_formats={},
        )
        answer = await self.api_client.call_api(
            *serialized, _preload_content=False, _request_timeout=request_timeout
        )
        response: aiohttp.ClientResponse = answer.response
        return response

    async def list_namespaced_pod_without_preload_content(
        self,
        namespace: str,
        *,
        label_selector: str | None = None,
        watch: bool | None = None,
        resource_version: str | None = None,
        timeout_seconds: int | None = None,
        allow_watch_bookmarks: bool | None = None,
        _request_timeout: float | None = None,
    ) -> aiohttp.ClientResponse:
        return await self._call(
            "GET",
            "/api/v1/namespaces/{namespace}/pods",
            {"namespace": namespace},
            {
                "allowWatchBookmarks": allow_watch_bookmarks,
                "labelSelector": label_selector,
                "resourceVersion": resource_version,
                "timeoutSeconds": timeout_seconds,
                "watch": watch,
            },
            request_timeout=_request_timeout,
        )

    async def read_namespaced_pod_log_without_preload_content(
        self,
        name: str,
        namespace: str,
        *,
        container: str | None = None,
        follow: bool | None = None,
        timestamps: bool | None = None,
        since_seconds: int | None = None,
        previous: bool | None = None,
        tail_lines: int | None = None,
        _request_timeout: float | None = None,
    ) -> aiohttp.ClientResponse:
        return await self._call(
            "GET",
            "/api/v1/namespaces/{namespace}/pods/{name}/log",
            {"name": name, "namespace": namespace},
            {
                "container": container,
                "follow": follow,
                "previous": previous,
                "sinceSeconds": since_seconds,
                "tailLines": tail_lines,
                "timestamps": timestamps,
            },
            request_timeout=_request_timeout,
        )

    async def list_namespaced_replica_set_without_preload_content(
        self, namespace: str, *, label_selector: str | None = None
    ) -> aiohttp.ClientResponse:
        return await self._call(
            "GET",
            "/apis/apps/v1/namespaces/{namespace}/replicasets",
            {"namespace": namespace},
            {"labelSelector": label_selector},
        )

    async def read_namespaced_deployment_without_preload_content(
        self, name: str, namespace: str
    ) -> aiohttp.ClientResponse:
        return await self._call(
            "GET",
            "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
            {"name": name, "namespace": namespace},
            {},
        )

    async def read_namespaced_secret_without_preload_content(
        self, name: str, namespace: str
    ) -> aiohttp.ClientResponse:
        return await self._call(
            "GET",
            "/api/v1/namespaces/{namespace}/secrets/{name}",
            {"name": name, "namespace": namespace},
            {},
        )

    async def patch_namespaced_deployment_without_preload_content(
        self,
        name: str,
        namespace: str,
        body: Any,
        *,
        dry_run: str | None = None,
        _content_type: str = "application/strategic-merge-patch+json",
    ) -> aiohttp.ClientResponse:
        return await self._call(
            "PATCH",
            "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
            {"name": name, "namespace": namespace},
            {"dryRun": dry_run},
            body=body,
            content_type=_content_type,
        )

    async def patch_namespaced_secret_without_preload_content(
        self,
        name: str,
        namespace: str,
        body: Any,
        *,
        dry_run: str | None = None,
        _content_type: str = "application/merge-patch+json",
    ) -> aiohttp.ClientResponse:
        return await self._call(
            "PATCH",
            "/api/v1/namespaces/{namespace}/secrets/{name}",
            {"name": name, "namespace": namespace},
            {"dryRun": dry_run},
            body=body,
            content_type=_content_type,
        )
