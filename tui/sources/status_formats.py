"""Status pages that are not Atlassian Statuspage, read into the same :class:`VendorStatus`
(Statuspage's words: indicator ``none``/``minor``/``major``/``critical``/``maintenance``;
components ``operational``, ``degraded_performance``, ``partial_outage``, ``major_outage``,
``under_maintenance``), each from its public JSON:

- instatus: ``/summary.json`` (``page.status`` ``UP``/``HASISSUES``/``UNDERMAINTENANCE``,
  ``activeIncidents``, ``activeMaintenances``) and ``/v2/components.json``;
- Better Stack: ``/index.json``, JSON:API (``data.attributes.aggregate_state``
  ``operational``/``degraded``/``downtime``/``maintenance``; ``included`` resources of type
  ``status_page_resource`` and ``status_report``);
- incident.io: ``/proxy/HOST`` (``summary.ongoing_incidents`` with ``current_worst_impact``
  ``degraded_performance``/``partial_outage``/``full_outage``, ``summary.affected_components``
  named through ``summary.structure``); the widget's top-level form is read as well;
- any other JSON, through the runbook's dotted paths (``status_page_json``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from tui.errors import SourceMalformed
from tui.runbook.sections import StatusJson
from tui.signals import Component, VendorIncident, VendorStatus, utcnow

__all__ = [
    "follow",
    "parse_betterstack",
    "parse_generic",
    "parse_incidentio",
    "parse_instatus",
    "parse_time",
]

_ORDER = ("none", "minor", "major", "critical")
_DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
    "maintenance": "Service Under Maintenance",
}


def _worst(indicators: Iterable[str]) -> str:
    found = [i for i in indicators if i in _ORDER]
    return max(found, key=_ORDER.index) if found else "none"


def _text(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time; one without a zone is read as UTC."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    # a time without a zone is read as UTC: the pane subtracts it from an aware "now"
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def follow(data: Any, path: str) -> Any:
    """The value at a dotted path (``status.overall``, ``items.0.name``); None if absent."""
    current = data
    for key in [k for k in path.strip(".").split(".") if k]:
        if isinstance(current, dict) and key in current:
            current = current[key]
        elif isinstance(current, list) and key.isdigit() and int(key) < len(current):
            current = current[int(key)]
        else:
            return None
    return current


def _status(vendor: str, url: str, indicator: str, **parts: Any) -> VendorStatus:
    description = parts.pop("description", None) or _DESCRIPTIONS.get(indicator, indicator)
    return VendorStatus(
        vendor=vendor,
        indicator=indicator,
        description=description,
        fetched_at=utcnow(),
        page_url=url,
        **parts,
    )


# --------------------------------------------------------------------------- instatus

_INSTATUS_COMPONENT = {
    "OPERATIONAL": "operational",
    "DEGRADEDPERFORMANCE": "degraded_performance",
    "PARTIALOUTAGE": "partial_outage",
    "MAJOROUTAGE": "major_outage",
    "UNDERMAINTENANCE": "under_maintenance",
}
_INSTATUS_IMPACT = {
    "DEGRADEDPERFORMANCE": "minor",
    "PARTIALOUTAGE": "major",
    "MAJOROUTAGE": "critical",
    "UNDERMAINTENANCE": "maintenance",
}


def parse_instatus(vendor: str, url: str, summary: Any, components: Any = None) -> VendorStatus:
    page = summary.get("page") if isinstance(summary, dict) else None
    state = page.get("status") if isinstance(page, dict) else None
    if not isinstance(state, str):
        raise SourceMalformed("status_page", f"{url} has no `page.status` (instatus)")
    assert isinstance(summary, dict)
    incidents = [
        VendorIncident(
            name=_text(item.get("name"), "(unnamed incident)"),
            status=_text(item.get("status"), "unknown").lower(),
            impact=_INSTATUS_IMPACT.get(_text(item.get("impact")), "unknown"),
            updated_at=parse_time(item.get("started")),
            latest_update=None,
            url=item.get("url") if isinstance(item.get("url"), str) else None,
        )
        for item in _dicts(summary.get("activeIncidents"))
    ]
    raw = components.get("components") if isinstance(components, dict) else components
    parts = tuple(
        Component(
            _text(item.get("name"), "(unnamed)"),
            _INSTATUS_COMPONENT.get(_text(item.get("status")), _text(item.get("status")).lower()),
        )
        for item in _dicts(raw)
    )
    if state == "UP":
        indicator = "none"
    elif state == "UNDERMAINTENANCE":
        indicator = "maintenance"
    else:  # HASISSUES
        impacts = [i.impact for i in incidents] + [
            {"degraded_performance": "minor", "partial_outage": "major"}.get(c.status, "critical")
            for c in parts
            if c.degraded and c.status != "under_maintenance"
        ]
        indicator = _worst(impacts) if impacts else "minor"
        if indicator == "none":
            indicator = "minor"
    return _status(vendor, url, indicator, components=parts, incidents=tuple(incidents))


# --------------------------------------------------------------------------- Better Stack

_BETTERSTACK_INDICATOR = {
    "operational": "none",
    "degraded": "minor",
    "downtime": "major",
    "maintenance": "maintenance",
}
_BETTERSTACK_COMPONENT = {
    "operational": "operational",
    "degraded": "degraded_performance",
    "downtime": "major_outage",
    "maintenance": "under_maintenance",
}


def parse_betterstack(vendor: str, url: str, document: Any) -> VendorStatus:
    data = document.get("data") if isinstance(document, dict) else None
    attributes = data.get("attributes") if isinstance(data, dict) else None
    state = attributes.get("aggregate_state") if isinstance(attributes, dict) else None
    if not isinstance(state, str):
        raise SourceMalformed(
            "status_page", f"{url} has no `data.attributes.aggregate_state` (Better Stack)"
        )
    assert isinstance(document, dict)
    included = _dicts(document.get("included"))
    components = []
    incidents = []
    for item in included:
        found = item.get("attributes")
        attrs: dict[str, Any] = found if isinstance(found, dict) else {}
        if item.get("type") == "status_page_resource":
            status = _text(attrs.get("status"), "unknown")
            components.append(
                Component(
                    _text(attrs.get("public_name"), "(unnamed)"),
                    _BETTERSTACK_COMPONENT.get(status, status),
                )
            )
        elif item.get("type") == "status_report" and attrs.get("ends_at") is None:
            state_of = _text(attrs.get("aggregate_state"), "unknown")
            incidents.append(
                VendorIncident(
                    name=_text(attrs.get("title"), "(unnamed report)"),
                    status="investigating",
                    impact=_BETTERSTACK_INDICATOR.get(state_of, state_of),
                    updated_at=parse_time(attrs.get("starts_at")),
                    latest_update=None,
                    url=None,
                )
            )
    indicator = _BETTERSTACK_INDICATOR.get(state, state)
    return _status(vendor, url, indicator, components=tuple(components), incidents=tuple(incidents))


# --------------------------------------------------------------------------- incident.io

_INCIDENTIO_IMPACT = {
    "degraded_performance": "minor",
    "partial_outage": "major",
    "full_outage": "critical",
}
_INCIDENTIO_COMPONENT = {
    "operational": "operational",
    "degraded_performance": "degraded_performance",
    "partial_outage": "partial_outage",
    "full_outage": "major_outage",
    "under_maintenance": "under_maintenance",
}


def _incidentio_names(summary: dict[str, Any]) -> dict[str, str]:
    names: dict[str, str] = {}
    structure = summary.get("structure")
    items = structure.get("items") if isinstance(structure, dict) else None
    for item in _dicts(items):
        component = item.get("component")
        group = item.get("group")
        for entry in [component] + (
            _dicts(group.get("components")) if isinstance(group, dict) else []
        ):
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                ident = entry.get("component_id") or entry.get("id")
                if isinstance(ident, str):
                    names[ident] = entry["name"]
    return names


def parse_incidentio(vendor: str, url: str, document: Any) -> VendorStatus:
    summary = document.get("summary", document) if isinstance(document, dict) else None
    if not isinstance(summary, dict) or not isinstance(summary.get("ongoing_incidents"), list):
        raise SourceMalformed("status_page", f"{url} has no `ongoing_incidents` (incident.io)")
    names = _incidentio_names(summary)
    statuses: dict[str, str] = {}
    incidents = []
    for item in _dicts(summary.get("ongoing_incidents")):
        impact = _INCIDENTIO_IMPACT.get(_text(item.get("current_worst_impact")), "minor")
        incidents.append(
            VendorIncident(
                name=_text(item.get("name"), "(unnamed incident)"),
                status=_text(item.get("status"), "unknown"),
                impact=impact,
                updated_at=parse_time(item.get("last_update_at")),
                latest_update=_text(item.get("last_update_message")) or None,
                url=item.get("url") if isinstance(item.get("url"), str) else None,
            )
        )
        for affected in _dicts(item.get("affected_components")):
            name = _text(affected.get("name")) or names.get(_text(affected.get("id")), "")
            if name:
                status = _text(affected.get("current_status"), "degraded_performance")
                statuses[name] = _INCIDENTIO_COMPONENT.get(status, status)
    for affected in _dicts(summary.get("affected_components")):
        ident = _text(affected.get("component_id")) or _text(affected.get("id"))
        name = names.get(ident) or _text(affected.get("name"))
        if name:
            status = _text(affected.get("status") or affected.get("current_status"))
            statuses.setdefault(name, _INCIDENTIO_COMPONENT.get(status, status or "unknown"))
    maintenance = bool(_dicts(summary.get("in_progress_maintenances")))
    if incidents:
        indicator = _worst(i.impact for i in incidents)
    else:
        indicator = "maintenance" if maintenance else "none"
    components = tuple(Component(name, status) for name, status in statuses.items())
    return _status(vendor, url, indicator, components=components, incidents=tuple(incidents))


# --------------------------------------------------------------------------- any JSON


def parse_generic(vendor: str, url: str, data: Any, spec: StatusJson) -> VendorStatus:
    state = follow(data, spec.indicator)
    if isinstance(state, bool | int | float):
        state = str(state).lower()
    if not isinstance(state, str):
        raise SourceMalformed("status_page", f"{url} has no state at {spec.indicator}")
    if state in spec.ok:
        indicator = "none"
    elif state in spec.maintenance:
        indicator = "maintenance"
    elif state in spec.major:
        indicator = "major"
    else:
        indicator = "minor"
    description = _text(follow(data, spec.description)) if spec.description else ""
    incidents = tuple(
        VendorIncident(
            name=_text(item.get("name") or item.get("title"), "(unnamed incident)"),
            status=_text(item.get("status"), "open"),
            impact=indicator,
            updated_at=parse_time(item.get("updated_at") or item.get("started_at")),
            latest_update=None,
            url=item.get("url") if isinstance(item.get("url"), str) else None,
        )
        for item in _dicts(follow(data, spec.incidents) if spec.incidents else None)
    )
    return _status(
        vendor,
        url,
        indicator,
        description=description or f"{_DESCRIPTIONS.get(indicator, indicator)} ({state})",
        incidents=incidents,
    )
