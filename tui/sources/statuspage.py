"""The vendor's status page (Atlassian Statuspage v2 JSON, or another format's) and our
own health endpoint."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from tui.errors import SourceError, SourceMalformed
from tui.signals import Component, Health, VendorIncident, VendorStatus, utcnow
from tui.sources import status_formats as formats
from tui.sources.base import error_for_status, http_error
from tui.sources.status_formats import parse_time as _parse_time

if TYPE_CHECKING:
    from tui.runbook.sections import StatusJson

__all__ = ["HealthSource", "StatusPageSource", "parse_health", "parse_summary"]


def _text(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _list(value: Any, url: str, name: str) -> list[Any]:
    """A list the page may leave out (or null); anything else is a malformed page."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise SourceMalformed("status_page", f"{url} has a `{name}` that is not a list")
    return value


def _latency(raw: Any) -> float | None:
    # JSON true is an int to Python, and a huge integer overflows a float
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    try:
        value = float(raw)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def parse_summary(vendor: str, page_url: str, data: Any) -> VendorStatus:
    """A Statuspage ``summary.json`` (or ``status.json`` plus incidents) as a VendorStatus.

    An unknown indicator is kept as it came; anything structurally wrong is
    :class:`SourceMalformed`.
    """
    if not isinstance(data, dict) or not isinstance(data.get("status"), dict):
        raise SourceMalformed("status_page", f"{page_url} has no `status` object")
    status = data["status"]
    indicator = status.get("indicator")
    if not isinstance(indicator, str) or not indicator:
        raise SourceMalformed("status_page", f"{page_url} has no `status.indicator`")
    components = []
    for item in _list(data.get("components"), page_url, "components"):
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            if item.get("group") is True:
                continue
            components.append(Component(item["name"], _text(item.get("status"), "unknown")))
    incidents = []
    for item in _list(data.get("incidents"), page_url, "incidents"):
        if not isinstance(item, dict):
            continue
        raw_updates = item.get("incident_updates")
        updates = [
            u for u in (raw_updates if isinstance(raw_updates, list) else []) if isinstance(u, dict)
        ]
        updates.sort(key=lambda u: _text(u.get("created_at")), reverse=True)
        latest = updates[0] if updates else None
        incidents.append(
            VendorIncident(
                name=_text(item.get("name"), "(unnamed incident)"),
                status=_text(item.get("status"), "unknown"),
                impact=_text(item.get("impact"), "unknown"),
                updated_at=_parse_time(item.get("updated_at")),
                latest_update=_text(latest.get("body")) if latest else None,
                url=item.get("shortlink") if isinstance(item.get("shortlink"), str) else None,
            )
        )
    return VendorStatus(
        vendor=vendor,
        indicator=indicator,
        description=_text(status.get("description")),
        components=tuple(components),
        incidents=tuple(incidents),
        fetched_at=utcnow(),
        page_url=page_url,
    )


def _follow(data: Any, path: str) -> Any:
    current = data
    for key in path.strip(".").split("."):
        if not isinstance(current, dict) or key not in current:
            return None
        current = current[key]
    return current


def parse_health(vendor: str, url: str, path: str, healthy_values: list[str], data: Any) -> Health:
    """Our health document's object at ``path`` (``.services.clay``) as a Health."""
    entry = _follow(data, path)
    if entry is None:
        raise SourceMalformed("health", f"{url} has nothing at {path}")
    if isinstance(entry, str):
        status, latency, last_error = entry, None, None
    elif isinstance(entry, dict):
        raw_status = entry.get("status")
        if raw_status is None and isinstance(entry.get("connected"), bool):
            raw_status = "healthy" if entry["connected"] else "down"
        if not isinstance(raw_status, str):
            raise SourceMalformed("health", f"{url} has no `status` at {path}")
        status = raw_status
        latency = _latency(entry.get("latency_ms", entry.get("latencyMs")))
        error_raw = entry.get("last_error")
        last_error = error_raw if isinstance(error_raw, str) and error_raw else None
    else:
        raise SourceMalformed("health", f"{url} has no object at {path}")
    return Health(
        vendor=vendor,
        status=status,
        healthy=status.lower() in {v.lower() for v in healthy_values},
        latency_ms=latency,
        last_error=last_error,
        fetched_at=utcnow(),
        url=url,
    )


async def _get_json(
    client: httpx.AsyncClient, backend: str, url: str, timeout: float, accept_5xx: bool = False
) -> tuple[int, Any]:
    try:
        response = await client.get(url, timeout=timeout, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise http_error(backend, url, exc) from None
    if response.status_code >= 400 and not (accept_5xx and response.status_code in (500, 503)):
        raise error_for_status(backend, response.status_code, url, response.text[:20_000])
    try:
        return response.status_code, json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        if response.status_code >= 500:
            raise error_for_status(backend, response.status_code, url) from None
        raise SourceMalformed(backend, f"{url} sent a body that is not valid JSON") from None


class StatusPageSource:
    """Reads the vendor's status page in its format (see :mod:`tui.sources.status_formats`).

    Statuspage is read from ``/api/v2/summary.json``; a page without it is read through
    ``status.json`` and ``incidents/unresolved.json``."""

    backend = "status_page"

    def __init__(
        self,
        vendor: str,
        base_url: str,
        client: httpx.AsyncClient,
        timeout: float = 5.0,
        *,
        page_format: str = "statuspage",
        api_url: str | None = None,
        spec: StatusJson | None = None,
    ) -> None:
        self.vendor = vendor
        self.base_url = base_url.rstrip("/")
        self.client = client
        self.timeout = timeout
        self.format = page_format
        self.api_url = api_url
        self.spec = spec

    @property
    def target(self) -> str:
        return self.base_url

    async def _get(self, url: str) -> Any:
        _, data = await _get_json(self.client, self.backend, url, self.timeout)
        return data

    async def fetch(self) -> VendorStatus:
        base, api = self.base_url, self.api_url
        if self.format == "instatus":
            summary = await self._get(api or f"{base}/summary.json")
            try:
                components = await self._get(f"{base}/v2/components.json")
            except SourceError as error:
                if "answered 404" not in error.detail:
                    raise
                components = None
            return formats.parse_instatus(self.vendor, base, summary, components)
        if self.format == "betterstack":
            return formats.parse_betterstack(
                self.vendor, base, await self._get(api or f"{base}/index.json")
            )
        if self.format == "incidentio":
            host = urlsplit(base).netloc
            return formats.parse_incidentio(
                self.vendor, base, await self._get(api or f"{base}/proxy/{host}")
            )
        if self.format == "json":
            assert self.spec is not None
            data = await self._get(api or f"{base}{self.spec.path}")
            return formats.parse_generic(self.vendor, base, data, self.spec)
        return await self._statuspage(api)

    async def _statuspage(self, api: str | None) -> VendorStatus:
        summary_url = api or f"{self.base_url}/api/v2/summary.json"
        try:
            data = await self._get(summary_url)
        except SourceError as error:
            if "answered 404" not in error.detail or api is not None:
                raise
            status = await self._get(f"{self.base_url}/api/v2/status.json")
            incidents = await self._get(f"{self.base_url}/api/v2/incidents/unresolved.json")
            data = {
                "status": status.get("status") if isinstance(status, dict) else None,
                "incidents": incidents.get("incidents") if isinstance(incidents, dict) else [],
            }
        return parse_summary(self.vendor, self.base_url, data)


class HealthSource:
    """Reads our ``/health`` and picks the vendor's object by the runbook's JSON path.

    A 503 whose body is a health document is a reading (unhealthy), not a fault."""

    backend = "health"

    def __init__(
        self,
        vendor: str,
        url: str,
        path: str,
        healthy_values: list[str],
        client: httpx.AsyncClient,
        timeout: float = 5.0,
    ) -> None:
        self.vendor = vendor
        self.url = url
        self.path = path
        self.healthy_values = healthy_values
        self.client = client
        self.timeout = timeout

    @property
    def target(self) -> str:
        return self.url

    async def fetch(self) -> Health:
        code, data = await _get_json(
            self.client, self.backend, self.url, self.timeout, accept_5xx=True
        )
        try:
            return parse_health(self.vendor, self.url, self.path, self.healthy_values, data)
        except SourceMalformed:
            if code >= 500:
                raise error_for_status(self.backend, code, self.url) from None
            raise
