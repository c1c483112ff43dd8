"""The sandbox's vendors and scenarios: who is simulated, what goes wrong, and what fixes it;
the manifests of our deployments the world seeds, and the time format the vendors write.

Each scenario breaks one vendor integration in one way (the other services stay healthy)
and names the one remediation that fixes it; :mod:`tui.sandbox.world` makes the simulated
traffic, logs, status pages and health obey these rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "CONTAINER",
    "IDENTIFIED_AT",
    "MONITORING_AT",
    "RAMP_SECONDS",
    "RESOLVED_AT",
    "SCENARIOS",
    "VENDORS",
    "IncidentScript",
    "Scenario",
    "ScenarioKind",
    "VendorProfile",
    "deployment_manifest",
    "iso_time",
    "pod_template",
    "scenario_names",
]

RAMP_SECONDS = 45.0
"""Scenario seconds over which a fault ramps up to its full strength."""
IDENTIFIED_AT = 4 * 60.0
"""Scenario seconds at which a vendor's incident moves to ``identified``."""
MONITORING_AT = 15 * 60.0
"""Scenario seconds at which a vendor outage ends on its own (incident ``monitoring``)."""
RESOLVED_AT = 18 * 60.0
"""Scenario seconds at which the vendor marks its incident ``resolved``."""
CONTAINER = "app"
"""The container of each of our pods that runs the integration."""

GOOD_TAG = "1.4.2"
BAD_TAG = "1.5.0-rc1"
CLERK_GOOD_TAG = "2.2.1"
CLERK_BAD_TAG = "2.3.0"
REGISTRY = "registry.yourapp.com"


@dataclass(frozen=True)
class VendorProfile:
    """One vendor and the deployment of ours that calls it."""

    id: str
    name: str
    api_host: str
    status_url: str
    deployment: str
    secret: str
    secret_values: dict[str, str]
    """The Secret's keys and the values the sandbox starts with."""
    secret_env: dict[str, str]
    """Env var -> Secret key, read through ``secretKeyRef``."""
    api_key_env: str
    """The env var holding the credential the vendor checks."""
    plain_env: dict[str, str]
    replicas: int
    good_tag: str
    bad_tag: str
    components: tuple[str, ...]
    """The vendor status page's components; the first is the API our integration calls."""
    calls: tuple[tuple[str, str], ...]
    """(method, path) of the API calls our integration makes."""
    mode_env: str | None = None
    """The env var that switches to fallback / bypass during a vendor outage."""
    sidecar: str | None = None
    """A second container in each pod (an egress proxy), with an access log of its own."""

    @property
    def image(self) -> str:
        return f"{REGISTRY}/{self.deployment}"

    @property
    def selector(self) -> str:
        return f"app={self.deployment}"


VENDORS: dict[str, VendorProfile] = {
    profile.id: profile
    for profile in (
        VendorProfile(
            id="clay",
            name="Clay",
            api_host="api.clay.com",
            status_url="https://status.clay.com",
            deployment="clay-integration",
            secret="clay-secrets",
            secret_values={"api-key": "sk_live_sandbox_clay_0001"},
            secret_env={"CLAY_API_KEY": "api-key"},
            api_key_env="CLAY_API_KEY",
            plain_env={
                "CLAY_API_URL": "https://api.clay.com",
                "RATE_LIMIT_MODE": "direct",
                "CLAY_FALLBACK": "false",
                "LOG_LEVEL": "info",
            },
            replicas=4,
            good_tag=GOOD_TAG,
            bad_tag=BAD_TAG,
            components=("Clay API", "Enrichment", "Web App", "Integrations", "Webhooks"),
            calls=(
                ("POST", "/v3/people/enrich"),
                ("POST", "/v3/companies/enrich"),
                ("GET", "/v3/tables/t_8f2k/rows"),
                ("POST", "/v3/tables/t_8f2k/rows"),
            ),
            mode_env="CLAY_FALLBACK",
        ),
        VendorProfile(
            id="instantly",
            name="Instantly",
            api_host="api.instantly.ai",
            status_url="https://status.instantly.com",
            deployment="instantly-integration",
            secret="instantly-secrets",
            secret_values={"api-key": "sk_live_sandbox_instantly_0001"},
            secret_env={"INSTANTLY_API_KEY": "api-key"},
            api_key_env="INSTANTLY_API_KEY",
            plain_env={
                "INSTANTLY_API_URL": "https://api.instantly.ai",
                "RATE_LIMIT_MODE": "direct",
                "INSTANTLY_FALLBACK": "false",
                "LOG_LEVEL": "info",
            },
            replicas=3,
            good_tag=GOOD_TAG,
            bad_tag=BAD_TAG,
            components=("API", "Email Sending", "Warmup", "Web App", "Webhooks"),
            calls=(
                ("POST", "/api/v2/leads"),
                ("GET", "/api/v2/campaigns"),
                ("POST", "/api/v2/emails/send"),
                ("GET", "/api/v2/accounts/warmup-analytics"),
            ),
            mode_env="INSTANTLY_FALLBACK",
            sidecar="proxy",
        ),
        VendorProfile(
            id="clerk",
            name="Clerk",
            api_host="api.clerk.com",
            status_url="https://status.clerk.com",
            deployment="clerk-integration",
            secret="clerk-secrets",
            secret_values={
                "secret-key": "sk_live_sandbox_clerk_0001",
                "webhook-secret": "whsec_sandbox_clerk_0001",
            },
            secret_env={"CLERK_SECRET_KEY": "secret-key", "CLERK_WEBHOOK_SECRET": "webhook-secret"},
            api_key_env="CLERK_SECRET_KEY",
            plain_env={
                "CLERK_API_URL": "https://api.clerk.com",
                "CLERK_EMERGENCY_BYPASS": "false",
                "LOG_LEVEL": "info",
            },
            replicas=2,
            good_tag=CLERK_GOOD_TAG,
            bad_tag=CLERK_BAD_TAG,
            components=(
                "Frontend API",
                "Backend API",
                "Sign-in & Sign-up",
                "Dashboard",
                "Webhooks",
            ),
            calls=(
                ("GET", "/v1/sessions/verify"),
                ("POST", "/v1/sign_ins"),
                ("GET", "/v1/users"),
                ("GET", "/v1/jwks"),
            ),
            mode_env="CLERK_EMERGENCY_BYPASS",
        ),
    )
}

ScenarioKind = Literal[
    "healthy",
    "rate-limited",
    "auth",
    "vendor-outage",
    "infra",
    "auth-outage",
    "webhook-failure",
    "performance",
]


@dataclass(frozen=True)
class IncidentScript:
    """The vendor's own incident on its status page, update by update."""

    name: str
    impact: Literal["minor", "major", "critical"]
    component_status: dict[str, str]
    """Component -> status while the incident is open (before ``monitoring``)."""
    investigating: str
    identified: str
    monitoring: str
    resolved: str = "This incident has been resolved."


@dataclass(frozen=True)
class Scenario:
    name: str
    vendor: str
    kind: ScenarioKind
    summary: str
    fix: str
    incident: IncidentScript | None = None
    degraded_components: dict[str, str] = field(default_factory=dict)
    """Component -> status for the whole scenario (a vendor page that is degraded but
    posts no incident)."""


def _outage(vendor: VendorProfile) -> IncidentScript:
    api = vendor.components[0]
    return IncidentScript(
        name=f"Elevated error rates on the {vendor.name} API",
        impact="major",
        component_status={api: "major_outage", vendor.components[1]: "partial_outage"},
        investigating=(
            f"We are investigating elevated error rates on the {vendor.name} API. Requests may "
            "fail with 503 Service Unavailable."
        ),
        identified=(
            "The issue has been identified as a failed database failover in our primary "
            "region. We are restoring service and will post an update within 15 minutes."
        ),
        monitoring=(
            "A fix has been implemented and error rates have returned to normal. We are "
            "monitoring the results."
        ),
    )


_CLERK_OUTAGE = IncidentScript(
    name="Sign-ins failing for some applications",
    impact="major",
    component_status={
        "Frontend API": "major_outage",
        "Backend API": "partial_outage",
        "Sign-in & Sign-up": "major_outage",
    },
    investigating=(
        "We are investigating failed sign-ins and session verification errors. Requests to "
        "the Frontend and Backend APIs may fail with 503 Service Unavailable."
    ),
    identified=(
        "The issue has been identified: a degraded session store in one region. We are "
        "failing over and will post an update within 15 minutes."
    ),
    monitoring=("Sign-ins and session verification have recovered. We are monitoring the results."),
)


def _scenarios() -> dict[str, Scenario]:
    found: list[Scenario] = []
    for vendor_id in ("clay", "instantly"):
        vendor = VENDORS[vendor_id]
        name = vendor.name
        fallback = vendor.mode_env
        found += [
            Scenario(
                f"{vendor_id}-healthy",
                vendor_id,
                "healthy",
                f"Everything works: no {name} errors, status page operational, health healthy.",
                "Nothing to fix.",
            ),
            Scenario(
                f"{vendor_id}-rate-limited",
                vendor_id,
                "rate-limited",
                f"Our calls exceed {name}'s rate limit: 429s ramp up to ~35/min.",
                f"Roll out RATE_LIMIT_MODE=queue on {vendor.deployment}.",
            ),
            Scenario(
                f"{vendor_id}-auth",
                vendor_id,
                "auth",
                f"{name} revoked our API key: every call is 401 Unauthorized.",
                f"Put a new api-key in {vendor.secret}, then restart {vendor.deployment} "
                "(pods read the key when they start).",
            ),
            Scenario(
                f"{vendor_id}-vendor-outage",
                vendor_id,
                "vendor-outage",
                f"{name} is down: status page major with an open incident, calls fail with "
                "503; the vendor recovers on its own after ~15 minutes.",
                f"Roll out {fallback}=true on {vendor.deployment}.",
                incident=_outage(vendor),
            ),
            Scenario(
                f"{vendor_id}-infra",
                vendor_id,
                "infra",
                f"A bad rollout ({vendor.deployment}:{vendor.bad_tag}, revision 2 on top of "
                f"{vendor.good_tag}) crash-loops every pod; our health is down.",
                f"kubectl rollout undo deployment/{vendor.deployment}.",
            ),
        ]
    clerk = VENDORS["clerk"]
    found += [
        Scenario(
            "clerk-auth-outage",
            "clerk",
            "auth-outage",
            "Clerk is down: status page major, sign-ins fail with 503, our health is down; "
            "Clerk recovers on its own after ~15 minutes.",
            "Roll out CLERK_EMERGENCY_BYPASS=true on clerk-integration.",
            incident=_CLERK_OUTAGE,
        ),
        Scenario(
            "clerk-webhook-failure",
            "clerk",
            "webhook-failure",
            f"Our webhook handler answers 500 since a bad rollout (clerk-integration:"
            f"{clerk.bad_tag}, revision 2 on top of {clerk.good_tag}): Clerk's deliveries fail.",
            "kubectl rollout undo deployment/clerk-integration.",
        ),
        Scenario(
            "clerk-performance",
            "clerk",
            "performance",
            "Our 2 clerk-integration pods are saturated: p99 latency 6-8 s; Clerk's page "
            "shows minor degraded performance.",
            "Scale clerk-integration to 4 or more Ready replicas.",
            degraded_components={"Frontend API": "degraded_performance"},
        ),
    ]
    return {scenario.name: scenario for scenario in found}


SCENARIOS: dict[str, Scenario] = _scenarios()


def scenario_names() -> list[str]:
    return list(SCENARIOS)


def iso_time(seconds: float) -> str:
    """A moment as the vendors' APIs and our services' logs write it: UTC, milliseconds."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def pod_template(vendor: VendorProfile, tag: str) -> dict[str, Any]:
    """The pod template of a vendor's deployment, running image ``tag``."""
    env: list[dict[str, Any]] = [
        {"name": name, "valueFrom": {"secretKeyRef": {"name": vendor.secret, "key": key}}}
        for name, key in vendor.secret_env.items()
    ]
    env += [{"name": name, "value": value} for name, value in vendor.plain_env.items()]
    template: dict[str, Any] = {
        "metadata": {"labels": {"app": vendor.deployment, "vendor": vendor.id}},
        "spec": {
            "containers": [
                {
                    "name": CONTAINER,
                    "image": f"{vendor.image}:{tag}",
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                    "env": env,
                    "readinessProbe": {
                        "httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"},
                        "periodSeconds": 5,
                    },
                    "resources": {
                        "requests": {"cpu": "250m", "memory": "256Mi"},
                        "limits": {"memory": "512Mi"},
                    },
                }
            ]
        },
    }
    if vendor.sidecar is not None:
        # kubectl logs (without -c) reads the container this annotation names
        template["metadata"]["annotations"] = {"kubectl.kubernetes.io/default-container": CONTAINER}
        template["spec"]["containers"].append(
            {
                "name": vendor.sidecar,
                "image": "envoyproxy/envoy:v1.31.2",
                "ports": [{"name": "admin", "containerPort": 9901, "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
            }
        )
    return template


def deployment_manifest(vendor: VendorProfile, *, recreate: bool) -> dict[str, Any]:
    """The apps/v1 Deployment the world seeds for a vendor, on its good release."""
    # The infra scenarios' deployments roll with Recreate (a single consumer of the
    # vendor's job queue), which is why one bad image takes every pod down at once.
    strategy: dict[str, Any] = (
        {"type": "Recreate"}
        if recreate
        else {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
        }
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": vendor.deployment,
            "labels": {"app": vendor.deployment, "vendor": vendor.id},
            "annotations": {"kubernetes.io/change-cause": "initial deploy"},
        },
        "spec": {
            "replicas": vendor.replicas,
            "selector": {"matchLabels": {"app": vendor.deployment}},
            "strategy": strategy,
            "template": pod_template(vendor, vendor.good_tag),
        },
    }
