"""What a remediation plans, previews and reports (plans, changes, dry runs, results,
rollout progress), and how a deployment's state reads for them; no I/O."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tui.runbook import Remediation

__all__ = [
    "ApplyResult",
    "Change",
    "DryRun",
    "Plan",
    "Progress",
    "VerifyResult",
    "diff_deployments",
    "mask",
    "rollout_progress",
]

RESTART_ANNOTATION = "kubectl.kubernetes.io/restartedAt"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


def mask(value: str | None) -> str:
    """A secret as the responder may see it: never the value, only that there is one.

    Stricter than :func:`tui.record.secrets.mask` (which keeps the last 4 characters of a long
    value to tell keys apart in logs they already appear in): the confirmation's diff shows
    the cluster's current key, which has never left it, and a new one the prompt promises
    is never shown, and the dry run's changes are recorded."""
    if not value:
        return "(empty)"
    return "•" * 8


@dataclass(frozen=True)
class Change:
    """One line of a diff: what field, from what, to what (secret values masked)."""

    field: str
    before: str | None
    after: str | None

    def __str__(self) -> str:
        if self.before is None:
            return f"+ {self.field} = {self.after}"
        if self.after is None:
            return f"- {self.field} (was {self.before})"
        return f"~ {self.field}: {self.before} → {self.after}"


@dataclass
class Plan:
    """What will change, where, and how to undo it, in words."""

    remediation: Remediation
    context: str
    namespace: str
    deployment: str
    summary: str
    destructive: bool
    revert: str | None
    command: str | None
    params: dict[str, str] = field(default_factory=dict)
    secret_value: str | None = field(default=None, repr=False)
    """For rotate_secret: the new value, given by the responder; never printed."""
    seen: dict[str, Any] = field(default_factory=dict, repr=False)
    """What the dry run saw (the deployment, the secret's version): the apply goes ahead
    only while the cluster still has it, so a confirmed preview stays true."""

    @property
    def target(self) -> str:
        return (
            f"deployment/{self.deployment} in namespace {self.namespace} (context {self.context})"
        )


@dataclass
class DryRun:
    changes: list[Change]
    warnings: list[str]
    server_checked: bool
    """True when the API server itself validated the change (``dryRun=All``)."""


@dataclass
class ApplyResult:
    ok: bool
    message: str
    before: dict[str, Any] = field(default_factory=dict)
    """What the revert needs: previous env values, the revision before, ..."""
    writes: int = 0


@dataclass(frozen=True)
class Progress:
    desired: int
    updated: int
    ready: int
    available: int
    old: int
    done: bool
    message: str


@dataclass
class VerifyResult:
    ok: bool
    message: str
    timed_out: bool = False
    last: Progress | None = None


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fill(template: str, params: Mapping[str, str]) -> str:
    names = [f for _, f, _, _ in string.Formatter().parse(template) if f]
    return template.format(**{n: params.get(n, "") for n in names})


def revision_of(rs: dict[str, Any]) -> int:
    value = (rs.get("metadata", {}).get("annotations") or {}).get(REVISION_ANNOTATION, "0")
    try:
        return int(value)
    except ValueError:
        return 0


def paused_observed(deployment: dict[str, Any]) -> bool:
    if not deployment["spec"].get("paused"):
        return False
    meta, status = deployment["metadata"], deployment.get("status") or {}
    return int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)


def rollout_progress(deployment: dict[str, Any]) -> Progress:
    """The rollout's state the way ``kubectl rollout status`` judges it."""
    spec, status, meta = deployment["spec"], deployment.get("status") or {}, deployment["metadata"]
    desired = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    ready = int(status.get("readyReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    total = int(status.get("replicas") or 0)
    old = max(0, total - updated)
    observed = int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)
    for condition in status.get("conditions") or []:
        if (
            condition.get("type") == "Progressing"
            and condition.get("reason") == "ProgressDeadlineExceeded"
        ):
            return Progress(
                desired, updated, ready, available, old, False, "progress deadline exceeded"
            )
    if not observed:
        message = "waiting for the controller to see the change"
    elif updated < desired:
        message = f"{updated} of {desired} updated replicas"
    elif old > 0:
        message = f"{old} old replicas pending termination"
    elif available < updated:
        message = f"{available} of {updated} updated replicas available"
    else:
        return Progress(
            desired, updated, ready, available, old, True, f"{available}/{desired} replicas ready"
        )
    return Progress(desired, updated, ready, available, old, False, message)


def env_of(deployment: dict[str, Any]) -> dict[str, str]:
    values: dict[str, str] = {}
    for container in deployment["spec"]["template"]["spec"].get("containers") or []:
        for env in container.get("env") or []:
            if "value" in env:
                shown = str(env["value"])
            elif "valueFrom" in env:
                ref = env["valueFrom"].get("secretKeyRef")
                shown = (
                    f"from secret {ref.get('name')}/{ref.get('key')}"
                    if ref
                    else "(from a reference)"
                )
            else:
                shown = ""
            values[f"{container['name']}.env.{env['name']}"] = shown
        values[f"{container['name']}.image"] = str(container.get("image"))
    return values


def with_version(body: Any, version: str) -> Any:
    """A patch that the API server applies only while the object is at ``version``."""
    if isinstance(body, list):  # a JSON patch
        return [{"op": "replace", "path": "/metadata/resourceVersion", "value": version}, *body]
    metadata = {**body.get("metadata", {}), "resourceVersion": version}
    return {**body, "metadata": metadata}


def intent(deployment: dict[str, Any]) -> Any:
    """What a person changes in a deployment (not what its controller writes back)."""
    meta = deployment.get("metadata", {})
    return {
        "spec": deployment.get("spec"),
        "labels": meta.get("labels"),
        "annotations": {
            k: v for k, v in (meta.get("annotations") or {}).items() if k != REVISION_ANNOTATION
        },
    }


def diff_deployments(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """The fields a responder cares about that differ: env, image, template annotations,
    replicas, paused."""
    changes: list[Change] = []
    old_env, new_env = env_of(before), env_of(after)
    for key in sorted(old_env.keys() | new_env.keys()):
        if old_env.get(key) != new_env.get(key):
            changes.append(Change(key, old_env.get(key), new_env.get(key)))
    old_ann = (before["spec"]["template"].get("metadata") or {}).get("annotations") or {}
    new_ann = (after["spec"]["template"].get("metadata") or {}).get("annotations") or {}
    for key in sorted(old_ann.keys() | new_ann.keys()):
        if old_ann.get(key) != new_ann.get(key):
            changes.append(
                Change(f"template.annotations.{key}", old_ann.get(key), new_ann.get(key))
            )
    for key in ("replicas", "paused"):
        if before["spec"].get(key) != after["spec"].get(key):
            changes.append(
                Change(f"spec.{key}", _text(before["spec"].get(key)), _text(after["spec"].get(key)))
            )
    return changes


def _text(value: Any) -> str | None:
    return None if value is None else str(value).lower() if isinstance(value, bool) else str(value)
