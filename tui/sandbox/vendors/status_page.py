"""The vendors' status pages in Statuspage v2 terms: components, the scenario's incident
with its updates as they are posted, and the page's indicator, at any scenario moment."""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tui.sandbox.scenarios import (
    IDENTIFIED_AT,
    MONITORING_AT,
    RESOLVED_AT,
    IncidentScript,
    Scenario,
    VendorProfile,
    iso_time,
)

__all__ = ["VendorPage", "page_ids", "status_page"]


@dataclass(frozen=True)
class VendorPage:
    """One vendor's status page at a moment, in Statuspage v2 terms."""

    page: dict[str, Any]
    components: list[dict[str, Any]]
    incidents: list[dict[str, Any]]
    """Every incident, newest first; unresolved ones have ``status`` != ``resolved``."""
    indicator: str
    description: str

    @property
    def unresolved(self) -> list[dict[str, Any]]:
        return [i for i in self.incidents if i["status"] != "resolved"]


_INDICATOR_ORDER = ("none", "minor", "major", "critical")
_COMPONENT_INDICATOR = {
    "operational": "none",
    "under_maintenance": "none",
    "degraded_performance": "minor",
    "partial_outage": "major",
    "major_outage": "major",
}
_DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}


def _short_id(rng: random.Random, length: int = 12) -> str:
    return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(length))


def page_ids(rng: random.Random, vendor: VendorProfile) -> dict[str, Any]:
    """The ids of one vendor's page, incident, updates and components, drawn once."""
    return {
        "page": _short_id(rng),
        "incident": _short_id(rng),
        "updates": [_short_id(rng) for _ in range(4)],
        "components": {c: _short_id(rng) for c in vendor.components},
        "shortlink": _short_id(rng, 5),
    }


def status_page(
    vendor: VendorProfile,
    scenario: Scenario,
    ids: dict[str, Any],
    t: float,
    wall: Callable[[float], float],
) -> VendorPage:
    """The vendor's status page at scenario second ``t`` (``wall`` turns scenario seconds
    into the clock's)."""
    statuses = dict.fromkeys(vendor.components, "operational")
    incidents: list[dict[str, Any]] = []
    script: IncidentScript | None = None
    if scenario.vendor == vendor.id:
        statuses.update(scenario.degraded_components)
        script = scenario.incident
    open_impact = "none"
    if script is not None:
        incident = _incident(vendor, script, t, ids, wall)
        incidents.append(incident)
        if incident["status"] in ("investigating", "identified"):
            statuses.update(script.component_status)
            open_impact = script.impact
    page_updated = max(
        [wall(0) - 3600.0]
        + [
            datetime.fromisoformat(i["updated_at"].replace("Z", "+00:00")).timestamp()
            for i in incidents
        ]
    )
    created = "2021-03-04T17:12:09.000Z"
    components = [
        {
            "id": ids["components"][name],
            "name": name,
            "status": status,
            "created_at": created,
            "updated_at": iso_time(page_updated),
            "position": position,
            "description": None,
            "showcase": True,
            "start_date": "2021-03-04",
            "group_id": None,
            "page_id": ids["page"],
            "group": False,
            "only_show_if_degraded": False,
        }
        for position, (name, status) in enumerate(statuses.items(), start=1)
    ]
    indicator = open_impact
    for status in statuses.values():
        candidate = _COMPONENT_INDICATOR[status]
        if _INDICATOR_ORDER.index(candidate) > _INDICATOR_ORDER.index(indicator):
            indicator = candidate
    description = _DESCRIPTIONS[indicator]
    if indicator == "minor" and set(statuses.values()) <= {
        "operational",
        "degraded_performance",
    }:
        description = "Partially Degraded Service"
    page = {
        "id": ids["page"],
        "name": vendor.name,
        "url": vendor.status_url,
        "time_zone": "Etc/UTC",
        "updated_at": iso_time(page_updated),
    }
    return VendorPage(page, components, incidents, indicator, description)


def _incident(
    vendor: VendorProfile,
    script: IncidentScript,
    t: float,
    ids: dict[str, Any],
    wall: Callable[[float], float],
) -> dict[str, Any]:
    steps = [
        (-90.0, "investigating", script.investigating),
        (IDENTIFIED_AT, "identified", script.identified),
        (MONITORING_AT, "monitoring", script.monitoring),
        (RESOLVED_AT, "resolved", script.resolved),
    ]
    posted = [(at, status, body) for at, status, body in steps if at <= t]
    incident_id = ids["incident"]
    open_statuses = dict(script.component_status)
    updates = []
    for index, (at, status, body) in enumerate(posted):
        stamp = iso_time(wall(at))
        affected = [
            {
                "code": ids["components"][name],
                "name": name,
                "old_status": "operational" if status == "investigating" else new,
                "new_status": new if status in ("investigating", "identified") else "operational",
            }
            for name, new in open_statuses.items()
            if status in ("investigating", "monitoring")
        ]
        updates.append(
            {
                "id": ids["updates"][index],
                "status": status,
                "body": body,
                "incident_id": incident_id,
                "created_at": stamp,
                "updated_at": stamp,
                "display_at": stamp,
                "affected_components": affected or None,
                "deliver_notifications": True,
                "custom_tweet": None,
                "tweet_id": None,
            }
        )
    status = posted[-1][1]
    first = iso_time(wall(posted[0][0]))
    last = iso_time(wall(posted[-1][0]))
    monitoring = next((u for u in updates if u["status"] == "monitoring"), None)
    resolved = next((u for u in updates if u["status"] == "resolved"), None)
    component_status = open_statuses if status in ("investigating", "identified") else {}
    return {
        "id": incident_id,
        "name": script.name,
        "status": status,
        "created_at": first,
        "updated_at": last,
        "monitoring_at": monitoring["created_at"] if monitoring else None,
        "resolved_at": resolved["created_at"] if resolved else None,
        "impact": script.impact,
        "shortlink": f"https://stspg.io/{ids['shortlink']}",
        "started_at": first,
        "page_id": ids["page"],
        "incident_updates": list(reversed(updates)),
        "components": [
            {
                "id": ids["components"][name],
                "name": name,
                "status": component_status.get(name, "operational"),
                "page_id": ids["page"],
            }
            for name in script.component_status
        ],
    }
