"""One kubeconfig context and namespace: loaded like kubectl does, with requests over it
whose every failure is a typed :class:`SourceError`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from tui.errors import ConfigError, Problem, SourceMalformed, SourceTimeout, SourceUnreachable
from tui.runbook import Runbook
from tui.settings import KubernetesSettings
from tui.sources.base import error_for_status
from tui.sources.kube.calls import KubeCalls

if TYPE_CHECKING:
    import aiohttp

__all__ = ["KubeConnection"]


def _status_message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:200]
    if isinstance(data, dict) and data.get("kind") == "Status":
        return str(data.get("message") or data.get("reason") or "")
    return ""


def _import_client() -> None:
    import aiohttp  # noqa: F401
    import kubernetes.aio.client.api_client
    import kubernetes.aio.config  # noqa: F401


class KubeConnection:
    """An API client for one kubeconfig context and namespace, and typed calls over it."""

    def __init__(self, api_client: Any, namespace: str, context: str, timeout: float) -> None:
        self.api_client = api_client
        self.api = KubeCalls(api_client)
        self.namespace = namespace
        self.context = context
        self.timeout = timeout

    @classmethod
    async def open(cls, settings: KubernetesSettings, runbook: Runbook) -> KubeConnection:
        """Load the kubeconfig like kubectl does; a missing file or unknown context is a
        :class:`ConfigError` naming it."""
        # the client library takes a third of a second of imports: they run in a thread so
        # that the screen keeps drawing and answering keys meanwhile
        await asyncio.to_thread(_import_client)
        from kubernetes.aio import config
        from kubernetes.aio.config.config_exception import ConfigException

        # the loader is untyped; these are the shapes it returns
        list_contexts = cast(
            Callable[[str], tuple[list[dict[str, Any]], dict[str, Any] | None]],
            config.list_kube_config_contexts,
        )
        new_client = cast(Callable[..., Awaitable[Any]], config.new_client_from_config)

        path = settings.kubeconfig_path()
        if not path.exists():
            raise ConfigError(
                Problem(str(path), None, "kubernetes.kubeconfig", "no kubeconfig at this path")
            )
        try:
            contexts, current = list_contexts(str(path))
            context = settings.context or (current or {}).get("name")
            names = [c["name"] for c in contexts]
            if context not in names:
                raise ConfigError(
                    Problem(
                        str(path),
                        None,
                        "kubernetes.context",
                        f'no context "{context}" (contexts: {", ".join(names) or "none"})',
                    )
                )
            api_client = await new_client(
                config_file=str(path), context=context, persist_config=False
            )
        except ConfigException as exc:
            raise ConfigError(Problem(str(path), None, "kubernetes", str(exc))) from None
        namespace = settings.namespace or runbook.service.namespace
        return cls(api_client, namespace, str(context), settings.timeout)

    @property
    def server(self) -> str:
        return str(self.api_client.configuration.host)

    async def close(self) -> None:
        await self.api_client.close()

    async def request(
        self, backend: str, what: str, call: Any, timeout: float | None = None
    ) -> aiohttp.ClientResponse:
        """Send one request (a ``*_without_preload_content`` coroutine) and turn every
        failure into a typed :class:`SourceError`."""
        # aiohttp is imported here, not at the top: it costs start-up a large share of
        # a second, and the first frame does not need it
        import aiohttp

        try:
            response: aiohttp.ClientResponse = await asyncio.wait_for(call, timeout or self.timeout)
        except TimeoutError:
            raise SourceTimeout(
                backend,
                f"{what}: no answer from {self.server} within {timeout or self.timeout:g} s",
            ) from None
        except (aiohttp.ClientConnectionError, OSError) as exc:
            raise SourceUnreachable(
                backend, f"{what}: cannot connect to {self.server} ({exc})"
            ) from None
        if response.status >= 400:
            body = await response.read()
            response.release()
            message = _status_message(body)
            raise error_for_status(backend, response.status, what, message)
        return response

    async def get_json(self, backend: str, what: str, call: Any) -> dict[str, Any]:
        import aiohttp

        response = await self.request(backend, what, call)
        try:
            body = await asyncio.wait_for(response.read(), self.timeout)
            data = json.loads(body)
        except TimeoutError:
            raise SourceTimeout(backend, f"{what}: the answer did not finish in time") from None
        except (ValueError, UnicodeDecodeError, RecursionError, aiohttp.ClientError):
            raise SourceMalformed(backend, f"{what}: the answer is not valid JSON") from None
        finally:
            response.release()
        if not isinstance(data, dict):
            raise SourceMalformed(backend, f"{what}: the answer is not a JSON object")
        return data
