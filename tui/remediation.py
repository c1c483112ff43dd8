"""Remediations run as plan -> server-side dry run -> apply -> verify -> (revert).

Every change is made through the Kubernetes API exactly as kubectl would make it, previewed
first with ``dryRun=All`` so the responder sees the server's own answer before confirming.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import os
import re
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from tui.errors import RemediationConflict, RemediationError, SourceConflict, SourceError
from tui.runbook import (
    HttpCall,
    Manual,
    Remediation,
    RolloutPause,
    RolloutRestart,
    RolloutResume,
    RolloutUndo,
    RotateSecret,
    Runbook,
    Scale,
    SetEnv,
    SetImage,
)
from tui.sources.base import hint_text
from tui.sources.kube import KubeConnection

__all__ = [
    "ApplyResult",
    "Change",
    "DryRun",
    "Plan",
    "Progress",
    "RemediationRunner",
    "VerifyResult",
    "mask",
]

RESTART_ANNOTATION = "kubectl.kubernetes.io/restartedAt"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


def mask(value: str | None) -> str:
    """A secret as the responder may see it: never the value, only that there is one.

    Stricter than :func:`tui.timeline.mask` (which keeps the last 4 characters of a long
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


def _now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fill(template: str, params: Mapping[str, str]) -> str:
    names = [f for _, f, _, _ in string.Formatter().parse(template) if f]
    return template.format(**{n: params.get(n, "") for n in names})


class RemediationRunner:
    """Runs one runbook's remediations against its deployment."""

    def __init__(
        self,
        conn: KubeConnection,
        runbook: Runbook,
        http: httpx.AsyncClient | None = None,
        environ: Mapping[str, str] | None = None,
        verify_timeout: float = 180.0,
        poll_interval: float = 0.5,
    ) -> None:
        self.conn = conn
        self.runbook = runbook
        self.http = http
        self.environ = environ if environ is not None else os.environ
        self.verify_timeout = verify_timeout
        self.poll_interval = poll_interval
        self.deployment = runbook.service.deployment

    # reading -------------------------------------------------------------------------

    async def _get(self, what: str, call: Any) -> dict[str, Any]:
        try:
            return await self.conn.get_json("remediation", what, call)
        except SourceConflict:
            raise RemediationConflict(
                f"{what.removeprefix('patch ')} changed between the check and the write "
                "(409 Conflict): nothing was applied. Run a new dry run."
            ) from None
        except SourceError as error:
            raise self._refused(error) from None

    def _refused(self, error: SourceError) -> RemediationError:
        hint = hint_text(self.runbook, "remediation", error.kind) or hint_text(
            self.runbook, "kubernetes", error.kind
        )
        return RemediationError(f"{error.detail}.", hint=hint)

    async def read_deployment(self) -> dict[str, Any]:
        return await self._get(
            f"read deployment/{self.deployment}",
            self.conn.api.read_namespaced_deployment_without_preload_content(
                self.deployment, self.conn.namespace
            ),
        )

    async def _read_secret(self, name: str) -> dict[str, Any]:
        return await self._get(
            f"read secret/{name}",
            self.conn.api.read_namespaced_secret_without_preload_content(name, self.conn.namespace),
        )

    async def replica_sets(self) -> list[dict[str, Any]]:
        """The deployment's ReplicaSets, newest revision first."""
        deployment = await self.read_deployment()
        uid = deployment["metadata"].get("uid")
        data = await self._get(
            "list replicasets",
            self.conn.api.list_namespaced_replica_set_without_preload_content(
                self.conn.namespace, label_selector=self.runbook.service.selector
            ),
        )
        owned = [
            rs
            for rs in data.get("items") or []
            if any(ref.get("uid") == uid for ref in rs["metadata"].get("ownerReferences") or [])
        ]
        return sorted(owned, key=_revision, reverse=True)

    # plan ------------------------------------------------------------------------------

    def plan(self, remediation: Remediation, params: Mapping[str, str] | None = None) -> Plan:
        """Say in words what will change, where, and how it is undone."""
        params = dict(params or {})
        for param in remediation.params:
            if param.name not in params:
                raise RemediationError(f'"{remediation.title}" needs a value for {param.prompt}.')
        summary = self._describe(remediation, params)
        revert = None
        if remediation.revert is not None:
            revert = {
                "previous_env": "set the variables back to their previous values",
                "rollout_undo": "roll back to the revision before this change",
                "remediation": f"run {remediation.revert.remediation}",
                "manual": "by hand",
            }[remediation.revert.kind]
            if remediation.revert.note:
                revert += f" ({remediation.revert.note})"
        return Plan(
            remediation=remediation,
            context=self.conn.context,
            namespace=self.conn.namespace,
            deployment=self.deployment,
            summary=summary,
            destructive=remediation.destructive,
            revert=revert,
            command=remediation.command,
            params=params,
        )

    def _describe(self, remediation: Remediation, params: Mapping[str, str]) -> str:
        target = f"deployment/{self.deployment}"
        match remediation:
            case SetEnv():
                parts = [
                    f"{k}={v}" if v is not None else f"remove {k}"
                    for k, v in remediation.env.items()
                ]
                return f"Set {', '.join(parts)} on {target} and roll its pods."
            case RolloutRestart():
                return f"Restart every pod of {target} (a rolling restart)."
            case RolloutUndo():
                to = (
                    f"revision {remediation.to_revision}"
                    if remediation.to_revision
                    else "the previous revision"
                )
                return f"Roll {target} back to {to}."
            case RolloutPause():
                return f"Pause the rollout of {target}."
            case RolloutResume():
                return f"Resume the rollout of {target}."
            case Scale():
                return f"Scale {target} to {remediation.replicas} replicas."
            case SetImage():
                image = remediation.image or params.get("image", "?")
                return f"Set the image of {target} to {image}."
            case RotateSecret():
                secret, key = self._secret_ref(remediation)
                then = f" then restart {target}" if remediation.restart else ""
                return f"Replace key {key} of secret/{secret} with a new value{then}."
            case HttpCall():
                return f"{remediation.method} {_fill(remediation.url, params)}"
            case Manual():
                return remediation.command or "; ".join(remediation.steps) or remediation.title
        raise AssertionError(remediation)

    def _secret_ref(self, remediation: RotateSecret) -> tuple[str, str]:
        secret = remediation.secret or self.runbook.service.secret
        if secret is None:
            raise RemediationError(
                f'"{remediation.title}" names no secret, and the runbook service has none.'
            )
        return secret, remediation.key or self.runbook.service.secret_key

    # patches ---------------------------------------------------------------------------

    def _container(self, deployment: dict[str, Any], name: str | None) -> dict[str, Any]:
        containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
        wanted = name or self.runbook.service.container
        for container in containers:
            if wanted is None or container["name"] == wanted:
                return container
        raise RemediationError(f"deployment/{self.deployment} has no container {wanted}.")

    async def _patch_deployment(
        self,
        body: Any,
        content_type: str,
        dry_run: bool,
        checked: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Patch the deployment. With ``checked`` (the deployment as the apply found it)
        the write carries its resourceVersion, so a change in between is a 409; a 409
        caused by status alone (the controllers write it all the time) is tried once more
        on the new version, and one caused by another change of intent is a conflict."""

        async def send(patch: Any) -> dict[str, Any]:
            return await self._get(
                f"patch deployment/{self.deployment}",
                self.conn.api.patch_namespaced_deployment_without_preload_content(
                    self.deployment,
                    self.conn.namespace,
                    patch,
                    dry_run="All" if dry_run else None,
                    _content_type=content_type,
                ),
            )

        if checked is None or dry_run:
            return await send(body)
        try:
            return await send(_with_version(body, checked["metadata"]["resourceVersion"]))
        except RemediationConflict:
            now = await self.read_deployment()
            if _intent(now) != _intent(checked):
                raise
            return await send(_with_version(body, now["metadata"]["resourceVersion"]))

    async def _patch_secret(
        self, name: str, body: Any, dry_run: bool, version: str | None = None
    ) -> dict[str, Any]:
        if version is not None and not dry_run:
            body = _with_version(body, version)
        return await self._get(
            f"patch secret/{name}",
            self.conn.api.patch_namespaced_secret_without_preload_content(
                name,
                self.conn.namespace,
                body,
                dry_run="All" if dry_run else None,
                _content_type="application/merge-patch+json",
            ),
        )

    async def _undo_template(self, to_revision: int | None) -> tuple[dict[str, Any], str]:
        sets = await self.replica_sets()
        if len(sets) < 2 and to_revision is None:
            raise RemediationError(
                f"deployment/{self.deployment} has no previous revision to roll back to."
            )
        if to_revision is None:
            chosen = sets[1]
        else:
            matches = [rs for rs in sets if _revision(rs) == to_revision]
            if not matches:
                known = ", ".join(str(_revision(rs)) for rs in sets)
                raise RemediationError(
                    f"deployment/{self.deployment} has no revision {to_revision} (known: {known})."
                )
            chosen = matches[0]
        template = copy.deepcopy(chosen["spec"]["template"])
        template.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
        return template, str(_revision(chosen))

    async def _change(
        self, plan: Plan, dry_run: bool
    ) -> tuple[dict[str, Any] | None, dict[str, Any], list[Change]]:
        """Send the remediation's change (dry-run or for real); return the deployment after,
        what the revert needs, and the diff against the deployment before."""
        rem = plan.remediation
        before = await self.read_deployment()
        if dry_run:
            plan.seen["deployment"] = copy.deepcopy(before)
        else:
            self._still_as_seen(plan, before)
        # the write carries the version just checked: a change in between is a 409
        checked = None if dry_run else before
        undo: dict[str, Any] = {
            "revision": before["metadata"].get("annotations", {}).get(REVISION_ANNOTATION)
        }
        after: dict[str, Any] | None
        body: dict[str, Any]
        changes: list[Change] = []
        strategic = "application/strategic-merge-patch+json"
        merge = "application/merge-patch+json"
        match rem:
            case SetEnv():
                container = self._container(before, rem.container)
                current = {e["name"]: e.get("value") for e in container.get("env") or []}
                undo["env"] = {k: current.get(k) for k in rem.env}
                env_patch: list[dict[str, Any]] = []
                for key, value in rem.env.items():
                    if value is None:
                        env_patch.append({"name": key, "$patch": "delete"})
                    else:
                        env_patch.append({"name": key, "value": value})
                body = {
                    "spec": {
                        "template": {
                            "spec": {"containers": [{"name": container["name"], "env": env_patch}]}
                        }
                    }
                }
                after = await self._patch_deployment(body, strategic, dry_run, checked)
            case RolloutRestart():
                body = {
                    "spec": {
                        "template": {
                            "metadata": {"annotations": {RESTART_ANNOTATION: _now_rfc3339()}}
                        }
                    }
                }
                after = await self._patch_deployment(body, strategic, dry_run, checked)
            case RolloutUndo():
                template, revision = await self._undo_template(rem.to_revision)
                undo["to_revision"] = revision
                ops = [{"op": "replace", "path": "/spec/template", "value": template}]
                after = await self._patch_deployment(
                    ops, "application/json-patch+json", dry_run, checked
                )
            case RolloutPause() | RolloutResume():
                paused = isinstance(rem, RolloutPause)
                undo["paused"] = bool(before["spec"].get("paused"))
                after = await self._patch_deployment(
                    {"spec": {"paused": paused}}, merge, dry_run, checked
                )
            case Scale():
                undo["replicas"] = before["spec"].get("replicas")
                after = await self._patch_deployment(
                    {"spec": {"replicas": rem.replicas}}, merge, dry_run, checked
                )
            case SetImage():
                container = self._container(before, rem.container)
                image = rem.image or plan.params.get("image")
                if not image:
                    raise RemediationError(f'"{rem.title}" needs an image.')
                undo["image"] = container.get("image")
                body = {
                    "spec": {
                        "template": {
                            "spec": {"containers": [{"name": container["name"], "image": image}]}
                        }
                    }
                }
                after = await self._patch_deployment(body, strategic, dry_run, checked)
            case RotateSecret():
                name, key = self._secret_ref(rem)
                if not plan.secret_value:
                    raise RemediationError("A new secret value is needed; none was given.")
                secret = await self._read_secret(name)
                old_b64 = (secret.get("data") or {}).get(key)
                secret_version = secret.get("metadata", {}).get("resourceVersion")
                if dry_run:
                    plan.seen["secret"] = old_b64
                elif "secret" in plan.seen and plan.seen["secret"] != old_b64:
                    raise RemediationConflict(
                        f"secret/{name} {key} changed since the dry run: nothing was applied. "
                        "Run a new dry run.",
                        changes=[f"secret/{name} data.{key}"],
                    )
                old = base64.b64decode(old_b64).decode("utf-8", "replace") if old_b64 else None
                if old == plan.secret_value:
                    raise RemediationError(
                        f"The new value for {key} of secret/{name} is the same as the current one."
                    )
                encoded = base64.b64encode(plan.secret_value.encode()).decode()
                await self._patch_secret(
                    name, {"data": {key: encoded}}, dry_run, None if dry_run else secret_version
                )
                changes.append(
                    Change(
                        f"secret/{name} data.{key}",
                        mask(old) if old else None,
                        mask(plan.secret_value) + " (new)",
                    )
                )
                after = before
                if rem.restart:
                    body = {
                        "spec": {
                            "template": {
                                "metadata": {"annotations": {RESTART_ANNOTATION: _now_rfc3339()}}
                            }
                        }
                    }
                    # the secret is written by now: a refused restart must not read as
                    # "nothing applied", so it goes without a precondition
                    try:
                        after = await self._patch_deployment(body, strategic, dry_run)
                    except RemediationError as error:
                        raise RemediationError(
                            f"secret/{name} {key} was written, but the restart of "
                            f"deployment/{self.deployment} failed: {error} Restart it with "
                            f"kubectl rollout restart deployment/{self.deployment}.",
                            hint=error.hint,
                        ) from None
            case HttpCall() | Manual():
                return None, undo, changes
            case _:
                raise AssertionError(rem)
        changes = diff_deployments(before, after) + changes if after is not None else changes
        return after, undo, changes

    def _still_as_seen(self, plan: Plan, now: dict[str, Any]) -> None:
        """Refuse to apply a plan whose dry run saw another deployment than the one there
        now (a second responder changed it meanwhile): the confirmed preview is stale.
        Status written back by the controllers is not a change of intent."""
        seen = plan.seen.get("deployment")
        if seen is None or _intent(seen) == _intent(now):
            return
        # the fields only: their values were set by someone else and may be secrets
        changes = [c.field for c in diff_deployments(seen, now)] or ["its spec"]
        raise RemediationConflict(
            f"deployment/{self.deployment} changed since the dry run ({'; '.join(changes)}): "
            "nothing was applied. Run a new dry run.",
            changes=changes,
        )

    # the stages --------------------------------------------------------------------------

    async def dry_run(self, plan: Plan) -> DryRun:
        """Ask the API server to validate the change without storing it, and show the diff."""
        rem = plan.remediation
        if isinstance(rem, Manual):
            steps = [Change("step", None, s) for s in rem.steps]
            return DryRun(
                steps, ["Nothing is called: you do this by hand and mark it done."], False
            )
        if isinstance(rem, HttpCall):
            return DryRun(
                [Change("request", None, self._http_preview(rem, plan.params))],
                ["Vendor APIs have no dry run: this shows the request that will be sent."],
                False,
            )
        warnings = await self._warnings()
        _, _, changes = await self._change(plan, dry_run=True)
        if not changes:
            warnings.append("The server reports no change: the deployment already looks like this.")
        return DryRun(changes, warnings, True)

    async def _warnings(self) -> list[str]:
        deployment = await self.read_deployment()
        progress = rollout_progress(deployment)
        warnings = []
        if deployment["spec"].get("paused"):
            warnings.append(
                f"deployment/{self.deployment} is paused: its pods will not roll until resumed."
            )
        if not progress.done:
            warnings.append(f"A rollout is already in progress: {progress.message}.")
        return warnings

    async def apply(self, plan: Plan) -> ApplyResult:
        """Make the change for real; a refusal raises :class:`RemediationError` with the
        runbook's hint."""
        rem = plan.remediation
        if isinstance(rem, Manual):
            return ApplyResult(True, f"Marked done by hand: {rem.title}.")
        if isinstance(rem, HttpCall):
            return await self._call_vendor(rem, plan.params)
        _, undo, changes = await self._change(plan, dry_run=False)
        described = "; ".join(str(c) for c in changes) or "no change"
        return ApplyResult(True, f"{plan.summary} Applied: {described}.", undo, 1)

    async def verify(
        self,
        plan: Plan,
        on_progress: Callable[[Progress], None] | None = None,
        timeout: float | None = None,
    ) -> VerifyResult:
        """Follow the rollout until it completes or the time runs out."""
        rem = plan.remediation
        if isinstance(rem, Manual | HttpCall):
            return VerifyResult(True, "Nothing to follow in the cluster.")
        deadline = time.monotonic() + (timeout or self.verify_timeout)
        last: Progress | None = None
        while True:
            deployment = await self.read_deployment()
            progress = rollout_progress(deployment)
            if progress != last and on_progress is not None:
                on_progress(progress)
            last = progress
            if isinstance(rem, RolloutPause):
                if _paused_observed(deployment):
                    return VerifyResult(
                        True, f"deployment/{self.deployment} is paused.", last=progress
                    )
            elif progress.done:
                return VerifyResult(True, f"Rollout complete: {progress.message}.", last=progress)
            if time.monotonic() >= deadline:
                return VerifyResult(
                    False,
                    f"The rollout did not complete within {timeout or self.verify_timeout:g} s "
                    f"({progress.message}); the change is applied, follow it with kubectl rollout status.",
                    timed_out=True,
                    last=progress,
                )
            await asyncio.sleep(self.poll_interval)

    async def revert(self, plan: Plan, applied: ApplyResult) -> ApplyResult:
        """Undo an applied remediation the way its runbook entry says."""
        rem = plan.remediation
        spec = rem.revert
        if spec is None:
            raise RemediationError(f'"{rem.title}" has no revert in the runbook.')
        if spec.kind == "manual":
            return ApplyResult(True, f"Revert by hand: {spec.note or rem.title}.")
        if spec.kind == "remediation":
            assert spec.remediation is not None
            other = self.runbook.remediation(spec.remediation)
            other_plan = self.plan(other, plan.params)
            return await self.apply(other_plan)
        if spec.kind == "rollout_undo":
            revision = applied.before.get("revision")
            undo = RolloutUndo(
                id=f"{rem.id}-revert",
                title=f"Revert {rem.title}",
                kind="rollout_undo",
                to_revision=int(revision) if revision and str(revision).isdigit() else None,
            )
            return await self.apply(self.plan(undo))
        # previous_env
        previous = applied.before.get("env")
        if not isinstance(previous, dict) or not isinstance(rem, SetEnv):
            raise RemediationError(f'"{rem.title}" has no previous values to restore.')
        restore = SetEnv(
            id=f"{rem.id}-revert",
            title=f"Revert {rem.title}",
            kind="set_env",
            env=previous,
            container=rem.container,
        )
        return await self.apply(self.plan(restore))

    # vendor calls ----------------------------------------------------------------------

    def _token(self, rem: HttpCall) -> str | None:
        if rem.auth_env is None:
            return None
        token = self.environ.get(rem.auth_env)
        if not token:
            raise RemediationError(
                f'"{rem.title}" needs a token in the environment variable {rem.auth_env}, which is not set.'
            )
        return token

    def _http_preview(self, rem: HttpCall, params: Mapping[str, str]) -> str:
        auth = (
            f" with Authorization: Bearer {mask('x')} (from ${rem.auth_env})"
            if rem.auth_env
            else ""
        )
        body = f" body {json.dumps(rem.body)}" if rem.body else ""
        return f"{rem.method} {_fill(rem.url, params)}{auth}{body}"

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
                method, url, headers=headers, json=body, timeout=self.conn.timeout
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

    async def _call_vendor(self, rem: HttpCall, params: Mapping[str, str]) -> ApplyResult:
        client = self.http or httpx.AsyncClient()
        headers = dict(rem.headers)
        token = self._token(rem)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = _fill(rem.url, params)
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
                step_url = _fill(rem.then.url, {**params, "item": str(item)})
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


def _revision(rs: dict[str, Any]) -> int:
    value = (rs.get("metadata", {}).get("annotations") or {}).get(REVISION_ANNOTATION, "0")
    try:
        return int(value)
    except ValueError:
        return 0


def _paused_observed(deployment: dict[str, Any]) -> bool:
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


def _env_of(deployment: dict[str, Any]) -> dict[str, str]:
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


def _with_version(body: Any, version: str) -> Any:
    """A patch that the API server applies only while the object is at ``version``."""
    if isinstance(body, list):  # a JSON patch
        return [{"op": "replace", "path": "/metadata/resourceVersion", "value": version}, *body]
    metadata = {**body.get("metadata", {}), "resourceVersion": version}
    return {**body, "metadata": metadata}


def _intent(deployment: dict[str, Any]) -> Any:
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
    old_env, new_env = _env_of(before), _env_of(after)
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
