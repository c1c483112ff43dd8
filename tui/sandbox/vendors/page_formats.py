"""One vendor's status page, as each other status-page service would publish it: the
same moment of the scenario in instatus's, Better Stack's and incident.io's public JSON,
and in a plain JSON of its own for the runbooks' generic ``json`` format."""

from __future__ import annotations

from typing import Any

from tui.sandbox.vendors.status_page import VendorPage

__all__ = [
    "betterstack_index",
    "generic_status",
    "incidentio_summary",
    "instatus_components",
    "instatus_summary",
]

_INSTATUS = {
    "operational": "OPERATIONAL",
    "degraded_performance": "DEGRADEDPERFORMANCE",
    "partial_outage": "PARTIALOUTAGE",
    "major_outage": "MAJOROUTAGE",
    "under_maintenance": "UNDERMAINTENANCE",
}
_INSTATUS_IMPACT = {
    "minor": "DEGRADEDPERFORMANCE",
    "major": "PARTIALOUTAGE",
    "critical": "MAJOROUTAGE",
}
_BETTERSTACK = {
    "operational": "operational",
    "degraded_performance": "degraded",
    "partial_outage": "downtime",
    "major_outage": "downtime",
    "under_maintenance": "maintenance",
}
_BETTERSTACK_PAGE = {
    "none": "operational",
    "minor": "degraded",
    "major": "downtime",
    "critical": "downtime",
}
_INCIDENTIO = {
    "operational": "operational",
    "degraded_performance": "degraded_performance",
    "partial_outage": "partial_outage",
    "major_outage": "full_outage",
    "under_maintenance": "under_maintenance",
}
_INCIDENTIO_IMPACT = {
    "minor": "degraded_performance",
    "major": "partial_outage",
    "critical": "full_outage",
}


def _latest(incident: dict[str, Any]) -> dict[str, Any] | None:
    updates = sorted(incident.get("incident_updates", []), key=lambda u: u["created_at"])
    return updates[-1] if updates else None


def instatus_summary(page: VendorPage) -> dict[str, Any]:
    state = "UP" if page.indicator == "none" else "HASISSUES"
    return {
        "page": {"name": page.page["name"], "url": page.page["url"], "status": state},
        "activeIncidents": [
            {
                "id": incident["id"],
                "name": incident["name"],
                "started": incident["created_at"],
                "status": incident["status"].upper(),
                "impact": _INSTATUS_IMPACT.get(incident["impact"], "DEGRADEDPERFORMANCE"),
                "url": incident["shortlink"],
            }
            for incident in page.unresolved
        ],
        "activeMaintenances": [],
    }


def instatus_components(page: VendorPage) -> dict[str, Any]:
    return {
        "components": [
            {"id": c["id"], "name": c["name"], "status": _INSTATUS[c["status"]]}
            for c in page.components
        ]
    }


def betterstack_index(page: VendorPage) -> dict[str, Any]:
    included: list[dict[str, Any]] = [
        {
            "id": c["id"],
            "type": "status_page_resource",
            "attributes": {"public_name": c["name"], "status": _BETTERSTACK[c["status"]]},
        }
        for c in page.components
    ]
    included += [
        {
            "id": incident["id"],
            "type": "status_report",
            "attributes": {
                "title": incident["name"],
                "report_type": "manual",
                "starts_at": incident["created_at"],
                "ends_at": None,
                "aggregate_state": _BETTERSTACK_PAGE.get(incident["impact"], "degraded"),
            },
        }
        for incident in page.unresolved
    ]
    return {
        "data": {
            "id": page.page["id"],
            "type": "status_page",
            "attributes": {
                "company_name": page.page["name"],
                "aggregate_state": _BETTERSTACK_PAGE.get(page.indicator, "degraded"),
            },
        },
        "included": included,
    }


def incidentio_summary(page: VendorPage) -> dict[str, Any]:
    degraded = [c for c in page.components if c["status"] != "operational"]
    return {
        "summary": {
            "id": page.page["id"],
            "name": page.page["name"],
            "structure": {
                "items": [
                    {"component": {"component_id": c["id"], "name": c["name"], "hidden": False}}
                    for c in page.components
                ]
            },
            "affected_components": [
                {"component_id": c["id"], "status": _INCIDENTIO[c["status"]]} for c in degraded
            ],
            "ongoing_incidents": [
                {
                    "id": incident["id"],
                    "name": incident["name"],
                    "status": incident["status"],
                    "current_worst_impact": _INCIDENTIO_IMPACT.get(
                        incident["impact"], "degraded_performance"
                    ),
                    "last_update_at": incident["updated_at"],
                    "last_update_message": (_latest(incident) or {}).get("body", ""),
                    "url": incident["shortlink"],
                }
                for incident in page.unresolved
            ],
            "in_progress_maintenances": [],
            "scheduled_maintenances": [],
        }
    }


def generic_status(page: VendorPage) -> dict[str, Any]:
    """``{"overall": {"state": "ok" | "degraded" | "down", ...}, "open_issues": [...]}``."""
    state = {"none": "ok", "minor": "degraded"}.get(page.indicator, "down")
    return {
        "overall": {"state": state, "message": page.description},
        "open_issues": [
            {"title": incident["name"], "status": incident["status"]}
            for incident in page.unresolved
        ],
    }
