"""Remediations that call the vendor's API (``kind: http``): the request previewed, the
token taken from the environment, the calls sent and, for ``each``/``then``, fanned out."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import httpx

from tui.act.plan import ApplyResult, fill, mask
from tui.errors import RemediationError
from tui.runbook import HttpCall, Runbook
from tui.sources.base import hint_text

__all__ = ["VendorCalls", "select"]


class VendorCalls:
    """Sends one runbook's ``http`` remediations."""

    def __init__(
        self,
        runbook: Runbook,
        environ: Mapping[str, str],
        http: httpx.AsyncClient | None,
        timeout: float,
    ) -> None:
        self.runbook = runbook
        self.environ = environ
        self.http = http
        self.timeout = timeout

    def _token(self, rem: HttpCall) -> str | None:
        if rem.auth_env is None:
            return None
        token = self.environ.get(rem.auth_env)
        if not token:
            raise RemediationError(
                f'"{rem.title}" needs a token in the environment variable {rem.auth_env}, which is not set.'
            )
        return token

    def preview(self, rem: HttpCall, params: Mapping[str, str]) -> str:
        auth = (
            f" with Authorization: Bearer {mask('x')} (from ${rem.auth_env})"
            if rem.auth_env
            else ""
        )
        body = f" body {json.dumps(rem.body)}" if rem.body else ""
        return f"{rem.method} {fill(rem.url, params)}{auth}{body}"

    async def _send(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        headers: dict[str, str],
        body: Any,
        expect: list[int],
    ) -> httpx.Response:
        try:
            response = await client.request(
                method, url, headers=headers, json=body, timeout=self.timeout
            )
        except httpx.HTTPError as exc:
            raise RemediationError(f"{method} {url} failed: {type(exc).__name__}.") from None
        if response.status_code not in expect:
            kind = {401: "auth_expired", 403: "forbidden"}.get(response.status_code, "server_error")
            raise RemediationError(
                f"{method} {url} answered {response.status_code}.",
                hint=hint_text(self.runbook, "remediation", kind),
            )
        return response

    async def call(self, rem: HttpCall, params: Mapping[str, str]) -> ApplyResult:
        client = self.http or httpx.AsyncClient()
        headers = dict(rem.headers)
        token = self._token(rem)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = fill(rem.url, params)
        try:
            response = await self._send(
                client, rem.method, url, headers, rem.body, rem.expect_status
            )
            if rem.each is None or rem.then is None:
                return ApplyResult(True, f"{rem.method} {url} answered {response.status_code}.")
            try:
                items = select(response.json(), rem.each)
            except ValueError:
                raise RemediationError(
                    f"{rem.method} {url} answered with a body that is not JSON."
                ) from None
            done = []
            for item in items:
                step_url = fill(rem.then.url, {**params, "item": str(item)})
                await self._send(
                    client,
                    rem.then.method,
                    step_url,
                    headers,
                    rem.then.body,
                    rem.then.expect_status,
                )
                done.append(str(item))
            return ApplyResult(
                True,
                f"{rem.then.method} sent for {len(done)} item{'s' if len(done) != 1 else ''}"
                + (f": {', '.join(done)}." if done else " (the list was empty)."),
                {"items": done},
                len(done),
            )
        finally:
            if self.http is None:
                await client.aclose()


def select(data: Any, path: str) -> list[Any]:
    """The values a jq-style path names: ``.[].id``, ``.data[].id``, ``.items``."""
    values = [data]
    for part in re.findall(r"\.?([A-Za-z0-9_-]+)|(\[\])", path):
        key, every = part
        next_values: list[Any] = []
        for value in values:
            if every:
                if isinstance(value, list):
                    next_values.extend(value)
            elif isinstance(value, dict) and key in value:
                next_values.append(value[key])
        values = next_values
    return values
