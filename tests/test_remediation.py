"""Every remediation kind: server-side dry run (nothing stored), apply, verify, revert —
each change read back with the real kubectl."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sandbox_helpers import running_sandbox, wait_until

from tui.act.plan import Plan
from tui.act.runner import RemediationRunner
from tui.act.session import RemediationSession
from tui.errors import RemediationError
from tui.record.incident import Incident
from tui.runbook import Runbook, discover_runbooks
from tui.settings import load_settings
from tui.sources.kube.connection import KubeConnection

RUNBOOKS = discover_runbooks()
CLAY: Runbook = RUNBOOKS.get("clay")
CHECKLIST: Runbook = RUNBOOKS.get("clay-prod-checklist")
CLERK: Runbook = RUNBOOKS.get("clerk")
DEPLOYMENT = "deployment/clay-integration"


async def runner_for(
    sb: Any, tmp_path: Path, runbook: Runbook = CLAY, **kw: Any
) -> RemediationRunner:
    config = sb.sandbox.write_config(tmp_path / "config.toml")
    settings = load_settings(config, kubernetes={"timeout": 5.0})
    conn = await KubeConnection.open(settings.kubernetes, runbook)
    return RemediationRunner(conn, runbook, verify_timeout=60, poll_interval=0.2, **kw)


def session_of(runner: RemediationRunner, plan: Plan) -> RemediationSession:
    """A session on an incident recorded in memory, for the revert."""
    incident = Incident.declare(
        runner.runbook,
        incident_id=f"{runner.runbook.id}-revert",
        title="Revert",
        severity=runner.runbook.severities[0].level,
        recorder=lambda event: event,
    )

    async def open_runner() -> RemediationRunner:
        return runner

    return RemediationSession(incident, plan.remediation, open_runner)


async def env_of(sb: Any) -> dict[str, str]:
    result = await sb.kubectl(
        "get", DEPLOYMENT, "-o", "jsonpath={.spec.template.spec.containers[0].env}"
    )
    return {e["name"]: e.get("value", "<ref>") for e in json.loads(result.stdout)}


def writes(sb: Any) -> int:
    return sum(sb.sandbox.writes().values())


async def test_set_env_dry_run_stores_nothing_then_applies_verifies_and_reverts(
    tmp_path: Path,
) -> None:
    async with running_sandbox("clay-rate-limited") as sb:
        runner = await runner_for(sb, tmp_path)
        try:
            plan = runner.plan(CLAY.remediation("enable-queueing"))
            assert "RATE_LIMIT_MODE=queue" in plan.summary
            assert plan.namespace == "production" and plan.deployment == "clay-integration"
            assert plan.context == "incident-sandbox" and not plan.destructive
            before = writes(sb)
            initial = (await env_of(sb)).get("RATE_LIMIT_MODE")
            assert initial != "queue"
            dry = await runner.dry_run(plan)
            assert dry.server_checked
            assert any("RATE_LIMIT_MODE" in c.field and c.after == "queue" for c in dry.changes)
            assert writes(sb) == before, "a dry run wrote to the cluster"
            assert (await env_of(sb)).get("RATE_LIMIT_MODE") == initial

            applied = await runner.apply(plan)
            assert applied.ok and writes(sb) == before + 1
            progress: list[Any] = []
            verified = await runner.verify(plan, progress.append)
            assert verified.ok, verified.message
            assert progress and progress[-1].done
            assert (await env_of(sb))["RATE_LIMIT_MODE"] == "queue"

            reverted = await session_of(runner, plan).revert(plan, applied)
            assert reverted.ok, reverted.message
            assert (await env_of(sb)).get("RATE_LIMIT_MODE") == initial
        finally:
            await runner.conn.close()


async def test_restart_undo_pause_resume_scale_and_set_image(tmp_path: Path) -> None:
    async with running_sandbox("clay-healthy") as sb:
        runner = await runner_for(sb, tmp_path)
        try:
            pods_before = {
                p["metadata"]["name"]
                for p in sb.sandbox.cluster.pods("production", "app=clay-integration")
            }
            restart = runner.plan(CLAY.remediation("restart-pods"))
            dry = await runner.dry_run(restart)
            assert any("restartedAt" in c.field for c in dry.changes)
            applied = await runner.apply(restart)
            assert (await runner.verify(restart)).ok

            async def old_pods_gone() -> bool:
                # a stopped pod leaves the list a moment after the rollout counts it gone
                listed = await sb.kubectl("get", "pods", "-l", "app=clay-integration", "-o", "name")
                return not pods_before & {n.removeprefix("pod/") for n in listed.stdout.split()}

            await wait_until(old_pods_gone, 10, 0.1, "the old pods to leave the list")
            history = await sb.kubectl("rollout", "history", DEPLOYMENT)
            assert "2" in history.stdout

            # revert of a restart is an undo to the revision before it
            undone = await session_of(runner, restart).revert(restart, applied)
            assert undone.ok, undone.message
            annotations = await sb.kubectl(
                "get", DEPLOYMENT, "-o", "jsonpath={.spec.template.metadata.annotations}"
            )
            assert "restartedAt" not in annotations.stdout

            checklist = await runner_for(sb, tmp_path, CHECKLIST)
            try:
                pause = checklist.plan(CHECKLIST.remediation("pause-rollout"))
                await checklist.apply(pause)
                assert (await checklist.verify(pause)).ok
                paused = await sb.kubectl("get", DEPLOYMENT, "-o", "jsonpath={.spec.paused}")
                assert paused.stdout == "true"
                resume = checklist.plan(CHECKLIST.remediation("resume-rollout"))
                dry = await checklist.dry_run(resume)
                assert any(c.field == "spec.paused" for c in dry.changes)
                await checklist.apply(resume)
                paused = await sb.kubectl("get", DEPLOYMENT, "-o", "jsonpath={.spec.paused}")
                assert paused.stdout in ("", "false")

                image = checklist.plan(
                    CHECKLIST.remediation("set-image"), {"image": "clay-integration:9.9.9"}
                )
                await checklist.apply(image)
                assert (await checklist.verify(image)).ok
                got = await sb.kubectl(
                    "get", DEPLOYMENT, "-o", "jsonpath={.spec.template.spec.containers[0].image}"
                )
                assert got.stdout == "clay-integration:9.9.9"
                rollback = checklist.plan(CHECKLIST.remediation("rollback"))
                assert rollback.destructive
                await checklist.apply(rollback)
                assert (await checklist.verify(rollback)).ok
                got = await sb.kubectl(
                    "get", DEPLOYMENT, "-o", "jsonpath={.spec.template.spec.containers[0].image}"
                )
                assert got.stdout != "clay-integration:9.9.9"
            finally:
                await checklist.conn.close()
        finally:
            await runner.conn.close()


async def test_scale_is_read_back(tmp_path: Path) -> None:
    async with running_sandbox("clerk-performance") as sb:
        runner = await runner_for(sb, tmp_path, CLERK)
        try:
            plan = runner.plan(CLERK.remediation("scale-up"))
            await runner.apply(plan)
            assert (await runner.verify(plan)).ok
            got = await sb.kubectl(
                "get", "deployment/clerk-integration", "-o", "jsonpath={.spec.replicas}"
            )
            assert int(got.stdout) >= 4
        finally:
            await runner.conn.close()


async def test_rotate_secret_changes_the_key_restarts_and_masks(tmp_path: Path) -> None:
    async with running_sandbox("clay-auth") as sb:
        runner = await runner_for(sb, tmp_path)
        try:
            old = (
                await sb.kubectl("get", "secret", "clay-secrets", "-o", "jsonpath={.data.api-key}")
            ).stdout
            plan = runner.plan(CLAY.remediation("rotate-api-key"))
            assert plan.destructive
            plan.secret_value = "sk_live_rotated_value_9876"
            dry = await runner.dry_run(plan)
            shown = " ".join(str(c) for c in dry.changes)
            assert "sk_live_rotated_value_9876" not in shown
            assert base64.b64decode(old).decode() not in shown
            assert "secret/clay-secrets" in shown
            unchanged = (
                await sb.kubectl("get", "secret", "clay-secrets", "-o", "jsonpath={.data.api-key}")
            ).stdout
            assert unchanged == old, "the dry run changed the secret"
            applied = await runner.apply(plan)
            assert "sk_live_rotated_value_9876" not in applied.message
            assert (await runner.verify(plan)).ok
            new = (
                await sb.kubectl("get", "secret", "clay-secrets", "-o", "jsonpath={.data.api-key}")
            ).stdout
            assert base64.b64decode(new).decode() == "sk_live_rotated_value_9876"
            plan.secret_value = "sk_live_rotated_value_9876"
            with pytest.raises(RemediationError, match="same as the current one"):
                await runner.dry_run(plan)
        finally:
            await runner.conn.close()


async def test_a_forbidden_patch_fails_with_the_escalation_hint(tmp_path: Path) -> None:
    async with running_sandbox("clay-rate-limited") as sb:
        runner = await runner_for(sb, tmp_path)
        try:
            await sb.set_fault("kubernetes", "403", verb="patch", resource="deployments")
            plan = runner.plan(CLAY.remediation("enable-queueing"))
            before = writes(sb)
            with pytest.raises(RemediationError) as caught:
                await runner.apply(plan)
            assert caught.value.hint and "Escalate to admin" in caught.value.hint
            assert "forbidden" in str(caught.value).lower()
            assert writes(sb) == before
        finally:
            await runner.conn.close()


async def test_a_rollout_in_progress_is_said_before_applying(tmp_path: Path) -> None:
    async with running_sandbox("clay-infra") as sb:
        runner = await runner_for(sb, tmp_path)
        try:
            plan = runner.plan(CLAY.remediation("restart-pods"))
            dry = await runner.dry_run(plan)
            assert any("rollout is already in progress" in w for w in dry.warnings), dry.warnings
        finally:
            await runner.conn.close()


async def test_vendor_calls_list_then_act_with_a_masked_token(tmp_path: Path) -> None:
    seen: list[tuple[str, str, str]] = []

    async def sessions(request: web.Request) -> web.Response:
        seen.append((request.method, request.path_qs, request.headers.get("Authorization", "")))
        return web.json_response([{"id": "sess_1"}, {"id": "sess_2"}])

    async def revoke(request: web.Request) -> web.Response:
        seen.append((request.method, request.path, request.headers.get("Authorization", "")))
        return web.json_response({"status": "revoked"})

    app = web.Application()
    app.router.add_get("/v1/sessions", sessions)
    app.router.add_post("/v1/sessions/{id}/revoke", revoke)
    runner_web = web.AppRunner(app)
    await runner_web.setup()
    site = web.TCPSite(runner_web, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    book = CLERK.model_copy(
        update={
            "remediations": [
                r.model_copy(
                    update={
                        "url": r.url.replace("https://api.clerk.com", f"http://127.0.0.1:{port}"),
                        "then": r.then.model_copy(
                            update={
                                "url": r.then.url.replace(
                                    "https://api.clerk.com", f"http://127.0.0.1:{port}"
                                )
                            }
                        ),
                    }
                )
                if r.id == "revoke-sessions"
                else r
                for r in CLERK.remediations
            ]
        }
    )
    try:
        async with running_sandbox("clerk-auth-outage") as sb:
            runner = await runner_for(
                sb, tmp_path, book, environ={"CLERK_SECRET_KEY": "sk_test_clerk_secret_1234"}
            )
            try:
                plan = runner.plan(book.remediation("revoke-sessions"), {"user_id": "user_abc"})
                dry = await runner.dry_run(plan)
                preview = " ".join(str(c) for c in dry.changes)
                assert "user_abc" in preview and "sk_test_clerk_secret_1234" not in preview
                result = await runner.apply(plan)
                assert result.ok and "2 items" in result.message
                assert [s[0] for s in seen] == ["GET", "POST", "POST"]
                assert seen[1][1] == "/v1/sessions/sess_1/revoke"
                assert all(s[2] == "Bearer sk_test_clerk_secret_1234" for s in seen)
            finally:
                await runner.conn.close()
    finally:
        await runner_web.cleanup()


async def test_manual_steps_call_nothing(tmp_path: Path) -> None:
    async with running_sandbox("clerk-webhook-failure") as sb:
        runner = await runner_for(sb, tmp_path, CLERK)
        try:
            plan = runner.plan(CLERK.remediation("resync-users"))
            before = writes(sb)
            dry = await runner.dry_run(plan)
            assert not dry.server_checked and dry.warnings
            result = await runner.apply(plan)
            assert result.ok and writes(sb) == before
        finally:
            await runner.conn.close()
