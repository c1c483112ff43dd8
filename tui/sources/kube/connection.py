"""One kubeconfig context and namespace: loaded like kubectl does, with requests over it
whose every failure is a typed :class:`SourceError`."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from tui.errors import SourceMalformed, SourceTimeout, SourceUnreachable
from tui.runbook import Runbook
from tui.settings import KubernetesSettings
from tui.sources.base import error_for_status
from tui.sources.kube.calls import KubeCalls

if TYPE_CHECKING:
    import aiohttp

    from tui.sources.kube.kubeconfig import ExecCredentials

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

    import tui.sources.kube.kubeconfig  # noqa: F401


class KubeConnection:
    """An API client for one kubeconfig context and namespace, and typed calls over it."""

    def __init__(
        self,
        api_client: Any,
        namespace: str,
        context: str,
        timeout: float,
        credentials: ExecCredentials | None = None,
    ) -> None:
        self.api_client = api_client
        self.api = KubeCalls(api_client, credentials)
        self.origin = ""
        """Where the configuration came from, short (``config``, ``in-cluster``)."""
        self.namespace = namespace
        self.context = context
        self.timeout = timeout

    @classmethod
    async def open(cls, settings: KubernetesSettings, runbook: Runbook) -> KubeConnection:
        """Load the configuration like kubectl does (see :mod:`tui.sources.kube.kubeconfig`);
        a missing file or unknown context is a :class:`ConfigError` naming it."""
        # the client library takes a third of a second of imports: they run in a thread so
        # that the screen keeps drawing and answering keys meanwhile
        await asyncio.to_thread(_import_client)
        from tui.sources.kube.kubeconfig import load

        loaded = await load(settings)
        namespace = settings.namespace or runbook.service.namespace
        connection = cls(
            loaded.api_client, namespace, loaded.context, settings.timeout, loaded.credentials
        )
        connection.origin = loaded.origin.short
        return connection

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
