"""A loopback HTTPS gateway in front of a Prometheus API, as teams run Mimir, Cortex or
Thanos behind one: TLS from a private CA, a client certificate when asked for, a bearer
token, and a tenant header (``X-Scope-OrgID``) without which a query is refused the way
Mimir refuses it (401 ``no org id``). It forwards to the real Prometheus or to the
sandbox's own query API."""

from __future__ import annotations

import hmac
import ssl

import aiohttp
from aiohttp import web

HOST = "127.0.0.1"

__all__ = ["TenantGateway"]

TENANT_HEADER = "X-Scope-OrgID"


class TenantGateway:
    """``await start()`` returns its ``https://`` URL; ``seen`` holds each request's
    tenant and whether its token matched."""

    def __init__(
        self,
        upstream: str,
        tls: ssl.SSLContext,
        *,
        tenant: str | None = "team-a",
        token: str | None = None,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.tls = tls
        self.tenant = tenant
        self.token = token
        self.seen: list[tuple[str | None, bool]] = []
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self.url = ""

    def _refusal(self, request: web.Request) -> web.Response | None:
        tenant = request.headers.get(TENANT_HEADER)
        presented = request.headers.get("Authorization", "")
        token_ok = self.token is None or hmac.compare_digest(
            presented.encode(), f"Bearer {self.token}".encode()
        )
        self.seen.append((tenant, token_ok))
        if not token_ok:
            return web.Response(status=401, text="authentication required\n")
        if self.tenant is not None and tenant != self.tenant:
            return web.Response(status=401, text="no org id\n")
        return None

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        assert self._client is not None
        async with self._client.request(
            request.method,
            self.upstream + request.rel_url.path,
            params=request.rel_url.query,
            data=await request.read() if request.can_read_body else None,
            headers={"Content-Type": request.headers.get("Content-Type", "")}
            if request.can_read_body
            else None,
        ) as answer:
            body = await answer.read()
            return web.Response(
                status=answer.status,
                body=body,
                content_type=answer.content_type,
            )

    async def start(self) -> str:
        self._client = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0, ssl_context=self.tls)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"https://{HOST}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()
