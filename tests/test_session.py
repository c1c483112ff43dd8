"""Every remediation kind runs through RemediationSession without Textual: plan, dry run,
apply, follow, revert, each step recorded on the incident as it happens (the cluster read
back with the real kubectl)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from sandbox_helpers import running_sandbox
from test_remediation import CHECKLIST, CLAY, CLERK, DEPLOYMENT, env_of, runner_for, writes

from tui.act.runner import RemediationRunner
from tui.act.session import RemediationSession
from tui.record.event import Event
from tui.record.incident import Incident
from tui.runbook import Runbook


class Headless:
    """An incident recorded in memory, and sessions on one runner."""

    def __init__(self, runner: RemediationRunner, runbook: Runbook) -> None:
        self.runner = runner
        self.events: list[Event] = []
        self.incident = Incident.declare(
            runbook,
            incident_id=f"{runbook.id}-test",
            title="Headless",
            severity=runbook.severities[0].level,
            recorder=self.events.append,
        )

    async def _open(self) -> RemediationRunner:
        return self.runner

    def session(self, remediation_id: str, **kw: Any) -> RemediationSession:
        remediation = self.incident.runbook.remediation(remediation_id)
        return RemediationSession(self.incident, remediation, self._open, **kw)

    def stages(self, remediation_id: str) -> list[str]:
        return [
            e.kind.removeprefix("remediation_")
            for e in self.events
            if e.kind.startswith("remediation_") and e.details["remediation"] == remediation_id
        ]

    async def through(
        self,
        remediation_id: str,
        params: dict[str, str] | None = None,
        secret: str | None = None,
        **kw: Any,
    ) -> tuple[RemediationSession, Any, Any]:
        session = self.session(remediation_id, **kw)
        preview = await session.prepare(params or {}, secret)
        assert preview.ok and preview.plan is not None, preview.error
        applied = await session.apply(preview.plan)
        assert applied.ok, applied.message
        verified = await session.verify(preview.plan, applied.applied)
        return session, preview, verified


async def test_set_env_and_its_revert_are_recorded_stage_by_stage(tmp_path: Path) -> None:
    async with running_sandbox("clay-rate-limited") as sb:
        runner = await runner_for(sb, tmp_path)
        try:
            world = Headless(runner, CLAY)
            initial = (await env_of(sb)).get("RATE_LIMIT_MODE")
            before = writes(sb)
            session, preview, verified = await world.through("enable-queueing")
            assert preview.dry_run.server_checked
            assert verified.ok and (await env_of(sb))["RATE_LIMIT_MODE"] == "queue"
            assert writes(sb) == before + 1  # the dry run wrote nothing
            assert world.stages("enable-queueing") == [
                "planned",
                "dry_run",
                "applied",
                "rolled_out",
            ]

            reverted = await session.revert(preview.plan, verified.applied)
            assert reverted.ok, reverted.message
            assert (await env_of(sb)).get("RATE_LIMIT_MODE") == initial
            assert world.stages("enable-queueing")[-1] == "reverted"
            # one run from plan to revert, and the one wording of what the revert does
            runs = {e.details["run"] for e in world.events if e.kind.startswith("remediation_")}
            assert len(runs) == 1
            undo = session.revert_of(preview.plan, verified.applied)
            assert undo.title == "Restore the variables Enable request queuing changed"
        finally:
            await runner.conn.close()


async def test_restart_undo_pause_resume_scale_and_set_image(tmp_path: Path) -> None:
    async with running_sandbox("clay-healthy") as sb:
        runner = await runner_for(sb, tmp_path)
        try:
            world = Headless(runner, CLAY)
            session, preview, verified = await world.through("restart-pods")
            assert verified.ok
            undo = session.revert_of(preview.plan, verified.applied)
            assert (
                undo.kind == "rollout_undo"
                and undo.title == "Roll back Restart the Clay integration pods"
            )
            assert (await session.revert(preview.plan, verified.applied)).ok
            assert world.stages("restart-pods")[-1] == "reverted"
            _, _, rolled = await world.through("rollback")
            assert rolled.ok

            checklist = await runner_for(sb, tmp_path, CHECKLIST)
            try:
                steps = Headless(checklist, CHECKLIST)
                _, _, paused = await steps.through("pause-rollout")
                assert paused.ok
                got = await sb.kubectl("get", DEPLOYMENT, "-o", "jsonpath={.spec.paused}")
                assert got.stdout == "true"
                _, _, resumed = await steps.through("resume-rollout")
                assert resumed.ok
                _, _, imaged = await steps.through("set-image", {"image": "clay-integration:9.9.9"})
                assert imaged.ok
                got = await sb.kubectl(
                    "get", DEPLOYMENT, "-o", "jsonpath={.spec.template.spec.containers[0].image}"
                )
                assert got.stdout == "clay-integration:9.9.9"
                for rid in ("pause-rollout", "resume-rollout", "set-image"):
                    assert steps.stages(rid) == ["planned", "dry_run", "applied", "rolled_out"]
            finally:
                await checklist.conn.close()
        finally:
            await runner.conn.close()


async def test_scale_rotate_secret_and_manual(tmp_path: Path) -> None:
    async with running_sandbox("clerk-webhook-failure") as sb:
        runner = await runner_for(sb, tmp_path, CLERK)
        try:
            world = Headless(runner, CLERK)
            _, _, scaled = await world.through("scale-up")
            assert scaled.ok
            before = writes(sb)
            _, preview, done = await world.through("resync-users")
            assert not preview.dry_run.server_checked and done.ok and writes(sb) == before
            assert world.stages("resync-users") == ["planned", "dry_run", "applied", "rolled_out"]
        finally:
            await runner.conn.close()
    async with running_sandbox("clay-auth") as sb:
        runner = await runner_for(sb, tmp_path)
        try:
            world = Headless(runner, CLAY)
            secret = "sk_live_rotated_value_9876"
            _, preview, rotated = await world.through("rotate-api-key", secret=secret)
            assert rotated.ok
            shown = " ".join(str(e.details) + e.summary for e in world.events)
            assert secret not in shown
            # the same value again: the dry run says so, and the record has the failure
            again = await world.session("rotate-api-key").prepare({}, secret)
            assert again.error and "same as the current one" in again.error
            assert world.stages("rotate-api-key")[-2:] == ["planned", "failed"]
        finally:
            await runner.conn.close()


async def test_a_vendor_call_and_a_refusal_and_a_cancel(tmp_path: Path) -> None:
    async def sessions(request: web.Request) -> web.Response:
        return web.json_response([{"id": "sess_1"}])

    async def revoke(request: web.Request) -> web.Response:
        return web.json_response({"status": "revoked"})

    app = web.Application()
    app.router.add_get("/v1/sessions", sessions)
    app.router.add_post("/v1/sessions/{id}/revoke", revoke)
    web_runner = web.AppRunner(app)
    await web_runner.setup()
    site = web.TCPSite(web_runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    local = f"http://127.0.0.1:{port}"
    book = CLERK.model_copy(
        update={
            "remediations": [
                r.model_copy(
                    update={
                        "url": r.url.replace("https://api.clerk.com", local),
                        "then": r.then.model_copy(
                            update={"url": r.then.url.replace("https://api.clerk.com", local)}
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
                world = Headless(runner, book)
                _, _, called = await world.through("revoke-sessions", {"user_id": "user_abc"})
                assert called.ok
                assert world.stages("revoke-sessions") == [
                    "planned",
                    "dry_run",
                    "applied",
                    "rolled_out",
                ]

                # a dry run turned down ends as cancelled, not as pending
                cancelled = world.session("emergency-bypass")
                assert (await cancelled.prepare({})).ok
                cancelled.cancel()
                assert world.stages("emergency-bypass") == ["planned", "dry_run", "cancelled"]

                # the deployment changed after the dry run: refused, nothing written
                stale = world.session("emergency-bypass")
                preview = await stale.prepare({})
                assert preview.plan is not None
                await sb.kubectl(
                    "set", "env", "deployment/clerk-integration", "CLERK_EMERGENCY_BYPASS=elsewhere"
                )
                before = writes(sb)
                refused = await stale.apply(preview.plan)
                assert refused.refused and not refused.ok and writes(sb) == before
                assert "changed from outside" in refused.message
                assert world.stages("emergency-bypass")[-1] == "refused"
            finally:
                await runner.conn.close()
    finally:
        await web_runner.cleanup()
