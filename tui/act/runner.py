"""Remediations run against the runbook's deployment: plan -> server-side dry run -> apply
-> follow the rollout.

Every change is made through the Kubernetes API exactly as kubectl would make it, previewed
first with ``dryRun=All`` so the responder sees the server's own answer before confirming.
``kind: http`` remediations go to :class:`tui.act.vendor.VendorCalls`. What is recorded,
and reverting, is :class:`tui.act.session.RemediationSession`'s.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from tui.act.plan import (
    RESTART_ANNOTATION,
    REVISION_ANNOTATION,
    ApplyResult,
    Change,
    DryRun,
    Plan,
    Progress,
    VerifyResult,
    diff_deployments,
    fill,
    intent,
    mask,
    now_rfc3339,
    paused_observed,
    revision_of,
    rollout_progress,
    with_version,
)
from tui.act.vendor import VendorCalls
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
from tui.sources.kube.connection import KubeConnection

__all__ = ["RemediationRunner"]


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
        self.vendor = VendorCalls(runbook, self.environ, http, conn.timeout)

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
        return sorted(owned, key=revision_of, reverse=True)

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
                return f"{remediation.method} {fill(remediation.url, params)}"
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
            return await send(with_version(body, checked["metadata"]["resourceVersion"]))
        except RemediationConflict:
            now = await self.read_deployment()
            if intent(now) != intent(checked):
                raise
            return await send(with_version(body, now["metadata"]["resourceVersion"]))

    async def _patch_secret(
        self, name: str, body: Any, dry_run: bool, version: str | None = None
    ) -> dict[str, Any]:
        if version is not None and not dry_run:
            body = with_version(body, version)
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
            matches = [rs for rs in sets if revision_of(rs) == to_revision]
            if not matches:
                known = ", ".join(str(revision_of(rs)) for rs in sets)
                raise RemediationError(
                    f"deployment/{self.deployment} has no revision {to_revision} (known: {known})."
                )
            chosen = matches[0]
        template = copy.deepcopy(chosen["spec"]["template"])
        template.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
        return template, str(revision_of(chosen))

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
                            "metadata": {"annotations": {RESTART_ANNOTATION: now_rfc3339()}}
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
                                "metadata": {"annotations": {RESTART_ANNOTATION: now_rfc3339()}}
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
        if seen is None or intent(seen) == intent(now):
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
                [Change("request", None, self.vendor.preview(rem, plan.params))],
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
            return await self.vendor.call(rem, plan.params)
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
                if paused_observed(deployment):
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
