"""The sandbox's cluster and its API as the kubernetes package (sync and asyncio) sees them."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import kubernetes
import kubernetes.aio.client
import kubernetes.aio.config
import kubernetes.aio.watch
import pytest
from kube_helpers import (
    DEPLOYMENT,
    NAMESPACE,
    SECRET,
    SELECTOR,
    KubeSandbox,
    container_env,
    fast_cluster,
    ready_names,
    rolled_out,
    running_sandbox,
    seed,
    wait_for,
)

from tui.sandbox.faults import Fault
from tui.sandbox.kube.cluster import Cluster
from tui.sandbox.kube.kubelet import LogRecord
from tui.sandbox.kube.patches import (
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
)
from tui.sandbox.kube.selectors import FieldSelector, LabelSelector, SelectorError
from tui.sandbox.kube.store import ApiError
from tui.sandbox.tls import sandbox_certificate


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[KubeSandbox]:
    async with running_sandbox(tmp_path) as running:
        yield running


# ---------------------------------------------------------------------------- selectors


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ("app=x", {"app": "x"}, True),
        ("app==x", {"app": "y"}, False),
        ("app!=x", {}, True),
        ("app!=x", {"app": "x"}, False),
        ("env in (prod, staging)", {"env": "staging"}, True),
        ("env in (prod,staging)", {}, False),
        ("env notin (prod)", {}, True),
        ("env notin (prod)", {"env": "prod"}, False),
        ("canary", {"canary": ""}, True),
        ("!canary", {"canary": "1"}, False),
        ("app=x,!canary,tier in (web)", {"app": "x", "tier": "web"}, True),
        ("", {"anything": "1"}, True),
    ],
)
def test_label_selectors_match_like_the_api(
    selector: str, labels: dict[str, str], matches: bool
) -> None:
    assert LabelSelector.parse(selector).matches(labels) is matches


def test_bad_selector_is_refused() -> None:
    with pytest.raises(SelectorError):
        LabelSelector.parse("app in (x")
    with pytest.raises(SelectorError):
        FieldSelector.parse("metadata.name")


def test_field_selector_reads_dotted_paths() -> None:
    pod = {"metadata": {"name": "a", "namespace": "n"}, "status": {"phase": "Running"}}
    assert FieldSelector.parse("metadata.name=a,status.phase!=Pending").matches(pod)
    assert not FieldSelector.parse("status.phase=Pending").matches(pod)


# ---------------------------------------------------------------------------- patches


def test_strategic_merge_patch_merges_containers_and_env_by_name() -> None:
    deployment = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "app", "image": "a:1", "env": [{"name": "A", "value": "1"}]},
                        {"name": "sidecar", "image": "s:1"},
                    ]
                }
            }
        }
    }
    added = apply_strategic_merge_patch(
        deployment,
        {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                        "containers": [
                            {
                                "$setElementOrder/env": [{"name": "A"}, {"name": "B"}],
                                "env": [{"name": "B", "value": "2"}],
                                "name": "app",
                            }
                        ],
                    }
                }
            }
        },
    )
    containers = added["spec"]["template"]["spec"]["containers"]
    assert containers[0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert containers[1] == {"name": "sidecar", "image": "s:1"}
    removed = apply_strategic_merge_patch(
        added,
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [{"name": "app", "env": [{"$patch": "delete", "name": "A"}]}]
                    }
                }
            }
        },
    )
    assert removed["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "B", "value": "2"}
    ]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "A", "value": "1"}
    ]


def test_merge_and_json_patches() -> None:
    doc = {"metadata": {"annotations": {"a": "1", "b": "2"}}, "spec": {"replicas": 3}}
    assert apply_merge_patch(doc, {"metadata": {"annotations": {"a": None}}}) == {
        "metadata": {"annotations": {"b": "2"}},
        "spec": {"replicas": 3},
    }
    patched = apply_json_patch(
        doc,
        [
            {"op": "replace", "path": "/spec/replicas", "value": 5},
            {"op": "add", "path": "/metadata/annotations/c~1d", "value": "3"},
            {"op": "remove", "path": "/metadata/annotations/a"},
        ],
    )
    assert patched == {"metadata": {"annotations": {"b": "2", "c/d": "3"}}, "spec": {"replicas": 5}}
    with pytest.raises(ApiError) as refused:
        apply_json_patch(doc, [{"op": "replace", "path": "/spec/missing", "value": 1}])
    assert refused.value.code == 422


# ---------------------------------------------------------------------------- the cluster


async def _run(cluster: Cluster) -> asyncio.Task[None]:
    return asyncio.create_task(cluster.run())


async def test_revisions_follow_the_real_controller_on_undo() -> None:
    cluster = fast_cluster()
    seed(cluster)
    task = await _run(cluster)
    try:
        original = cluster.deployment(NAMESPACE, DEPLOYMENT)["spec"]["template"]
        changed = json.loads(json.dumps(original))
        changed["spec"]["containers"][0]["image"] = "registry.example.com/clay-integration:2"
        cluster.update_deployment_template(NAMESPACE, DEPLOYMENT, changed, cause="bump")
        await wait_for(lambda: rolled_out(cluster), what="revision 2")
        sets, _ = cluster.list_objects("replicasets", NAMESPACE, SELECTOR)
        revisions = {
            rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs for rs in sets
        }
        assert set(revisions) == {"1", "2"}
        assert revisions["2"]["metadata"]["annotations"]["kubernetes.io/change-cause"] == "bump"
        assert (
            revisions["2"]["metadata"]["labels"]["pod-template-hash"]
            in (revisions["2"]["metadata"]["name"])
        )

        cluster.update_deployment_template(NAMESPACE, DEPLOYMENT, original)
        await wait_for(lambda: rolled_out(cluster), what="the undo")
        sets, _ = cluster.list_objects("replicasets", NAMESPACE, SELECTOR)
        by_name = {rs["metadata"]["name"]: rs["metadata"]["annotations"] for rs in sets}
        first = by_name[revisions["1"]["metadata"]["name"]]
        assert first["deployment.kubernetes.io/revision"] == "3"
        assert first["deployment.kubernetes.io/revision-history"] == "1"
        assert len(sets) == 2
        dep = cluster.deployment(NAMESPACE, DEPLOYMENT)
        assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
        assert dep["status"]["conditions"][1]["reason"] == "NewReplicaSetAvailable"
    finally:
        task.cancel()


async def test_crash_loop_restarts_and_keeps_previous_logs() -> None:
    cluster = fast_cluster(pod_behaviour=lambda pod: "crash")
    seed(cluster)
    task = await _run(cluster)
    try:

        def restarts() -> int:
            pods = cluster.pods(NAMESPACE, SELECTOR)
            return min(p["status"]["containerStatuses"][0]["restartCount"] for p in pods)

        await wait_for(lambda: restarts() >= 2, what="two restarts of every pod")
        pods = cluster.pods(NAMESPACE, SELECTOR)
        assert all(p["status"]["phase"] == "Running" for p in pods)
        assert not cluster.ready_pods(NAMESPACE, SELECTOR)
        states = {next(iter(p["status"]["containerStatuses"][0]["state"])) for p in pods}
        assert states <= {"running", "waiting"}
        last = pods[0]["status"]["containerStatuses"][0]["lastState"]["terminated"]
        assert last["exitCode"] == 1
        cursor = cluster.open_log(NAMESPACE, pods[0]["metadata"]["name"], previous=True)
        assert cursor.initial[-1].text.startswith("FATAL")
        dep = cluster.deployment(NAMESPACE, DEPLOYMENT)
        assert dep["status"]["conditions"][0]["status"] == "False"
    finally:
        task.cancel()


async def test_watch_replays_from_a_version_and_refuses_one_too_old() -> None:
    cluster = fast_cluster(watch_history=5)
    seed(cluster)
    start = cluster.resource_version
    cluster.create_secret(NAMESPACE, {"metadata": {"name": "a"}, "stringData": {"k": "v"}})
    secret = cluster.secret(NAMESPACE, "a")
    secret["stringData"] = {"k": "w"}
    cluster.update_object("secrets", NAMESPACE, "a", secret)
    cluster.delete_object("secrets", NAMESPACE, "a")
    watch = cluster.watch("secrets", NAMESPACE, str(start))
    events = [await watch.next(timeout=1) for _ in range(3)]
    assert [e[0] for e in events if e] == ["ADDED", "MODIFIED", "DELETED"]
    assert await watch.next(timeout=0.05) is None
    watch.close()
    for index in range(6):
        cluster.create_secret(NAMESPACE, {"metadata": {"name": f"s{index}"}})
    with pytest.raises(ApiError) as gone:
        cluster.watch("secrets", NAMESPACE, str(start))
    assert gone.value.code == 410


def test_update_with_a_stale_resource_version_conflicts() -> None:
    cluster = fast_cluster()
    seed(cluster)
    stale = cluster.secret(NAMESPACE, SECRET)
    fresh = cluster.secret(NAMESPACE, SECRET)
    fresh["metadata"]["labels"] = {"rotated": "yes"}
    cluster.update_object("secrets", NAMESPACE, SECRET, fresh)
    stale["metadata"]["labels"] = {"rotated": "no"}
    with pytest.raises(ApiError) as conflict:
        cluster.update_object("secrets", NAMESPACE, SECRET, stale)
    assert conflict.value.code == 409


async def test_a_follower_ends_when_its_pod_is_deleted() -> None:
    cluster = fast_cluster()
    seed(cluster)
    task = await _run(cluster)
    try:
        await wait_for(lambda: len(ready_names(cluster)) == 3, what="ready pods")
        name = sorted(ready_names(cluster))[0]
        cursor = cluster.open_log(NAMESPACE, name)
        cluster.append_logs(NAMESPACE, name, "app", [LogRecord(datetime.now(UTC), "hello")])
        assert [r.text for r in await cursor.next_batch(timeout=1)] == ["hello"]
        cluster.delete_object("pods", NAMESPACE, name)
        await wait_for(lambda: cursor.ended, what="the stream to end")
        await wait_for(lambda: len(ready_names(cluster)) == 3, what="a replacement")
        assert name not in ready_names(cluster)
    finally:
        task.cancel()


# ---------------------------------------------------------------------------- sync client


def _sync_api(sandbox: KubeSandbox) -> kubernetes.client.ApiClient:
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(
        config_file=str(sandbox.kubeconfig), client_configuration=configuration
    )
    return kubernetes.client.ApiClient(configuration)


async def test_sync_client_lists_pods_and_patches_a_deployment(sandbox: KubeSandbox) -> None:
    def work() -> tuple[list[str], Any]:
        with _sync_api(sandbox) as api:
            core = kubernetes.client.CoreV1Api(api)
            apps = kubernetes.client.AppsV1Api(api)
            pods = core.list_namespaced_pod(NAMESPACE, label_selector=SELECTOR)
            patched = apps.patch_namespaced_deployment(
                DEPLOYMENT,
                NAMESPACE,
                {
                    "spec": {
                        "template": {
                            "spec": {
                                "containers": [
                                    {
                                        "name": "app",
                                        "env": [{"name": "CLAY_FALLBACK", "value": "true"}],
                                    }
                                ]
                            }
                        }
                    }
                },
            )
            return [p.metadata.name for p in pods.items], patched

    names, patched = await asyncio.to_thread(work)
    assert set(names) == ready_names(sandbox.cluster)
    env = {e.name: e for e in patched.spec.template.spec.containers[0].env}
    assert env["CLAY_FALLBACK"].value == "true"
    assert env["CLAY_API_KEY"].value_from.secret_key_ref.name == SECRET
    assert sandbox.cluster.writes[("patch", "deployments")] == 1
    await wait_for(lambda: rolled_out(sandbox.cluster), what="the patch to roll out")
    assert all(
        container_env(p).get("CLAY_FALLBACK") == "true"
        for p in sandbox.cluster.ready_pods(NAMESPACE, SELECTOR)
    )


async def test_sync_client_sees_status_errors(sandbox: KubeSandbox) -> None:
    def fetch(name: str) -> int:
        with _sync_api(sandbox) as api:
            try:
                kubernetes.client.CoreV1Api(api).read_namespaced_secret(name, NAMESPACE)
            except kubernetes.client.ApiException as error:
                body = json.loads(error.body)
                assert body["kind"] == "Status" and body["status"] == "Failure"
                return int(error.status)
            return 200

    assert await asyncio.to_thread(fetch, SECRET) == 200
    assert await asyncio.to_thread(fetch, "no-such-secret") == 404
    sandbox.faults.set("kubernetes", Fault("403", verb="get", resource="secrets"))
    assert await asyncio.to_thread(fetch, SECRET) == 403
    sandbox.faults.set("kubernetes", Fault("401"))
    assert await asyncio.to_thread(fetch, SECRET) == 401


# ---------------------------------------------------------------------------- asyncio client


@pytest.fixture
async def aio_api(sandbox: KubeSandbox) -> AsyncIterator[kubernetes.aio.client.ApiClient]:
    configuration = kubernetes.aio.client.Configuration()
    await kubernetes.aio.config.load_kube_config(
        config_file=str(sandbox.kubeconfig), client_configuration=configuration
    )
    async with kubernetes.aio.client.ApiClient(configuration) as api:
        yield api


async def test_aio_client_lists_pods(
    sandbox: KubeSandbox, aio_api: kubernetes.aio.client.ApiClient
) -> None:
    core = kubernetes.aio.client.CoreV1Api(aio_api)
    pods = await core.list_namespaced_pod(NAMESPACE, label_selector=SELECTOR)
    assert {p.metadata.name for p in pods.items} == ready_names(sandbox.cluster)
    pod = pods.items[0]
    assert pod.spec.node_name == "sandbox-node-1"
    assert pod.status.pod_ip.startswith("10.244.")
    status = pod.status.container_statuses[0]
    assert status.ready and status.started and status.restart_count == 0
    assert status.image_id.endswith(status.image_id.rsplit(":", 1)[-1])
    assert status.state.running.started_at is not None
    only_running = await core.list_namespaced_pod(
        NAMESPACE, field_selector="status.phase=Running", limit=2
    )
    assert len(only_running.items) == 2 and only_running.metadata._continue


async def test_aio_client_follows_logs_as_a_stream(
    sandbox: KubeSandbox, aio_api: kubernetes.aio.client.ApiClient
) -> None:
    core = kubernetes.aio.client.CoreV1Api(aio_api)
    name = sorted(ready_names(sandbox.cluster))[0]
    response = await core.read_namespaced_pod_log_without_preload_content(
        name, NAMESPACE, container="app", follow=True, tail_lines=1, timestamps=True
    )
    try:
        stream = response.content
        numbers = []
        while len(numbers) < 4:
            line = (await asyncio.wait_for(stream.readline(), 10)).decode()
            stamp, _, text = line.partition(" ")
            assert stamp.endswith("Z") and text.endswith(name + "\n")
            numbers.append(int(text.split()[1]))
        assert numbers == sorted(numbers)
    finally:
        response.release()


async def test_aio_watch_streams_pod_changes(
    sandbox: KubeSandbox, aio_api: kubernetes.aio.client.ApiClient
) -> None:
    core = kubernetes.aio.client.CoreV1Api(aio_api)
    listed = await core.list_namespaced_pod(NAMESPACE, label_selector=SELECTOR)
    victim = sorted(ready_names(sandbox.cluster))[0]
    seen: list[tuple[str, str]] = []
    watch = kubernetes.aio.watch.Watch()

    async def follow() -> None:
        async for event in watch.stream(
            core.list_namespaced_pod,
            NAMESPACE,
            label_selector=SELECTOR,
            resource_version=listed.metadata.resource_version,
            timeout_seconds=30,
        ):
            seen.append((event["type"], event["object"].metadata.name))
            if event["type"] == "DELETED" and event["object"].metadata.name == victim:
                watch.stop()
                return

    follower = asyncio.create_task(follow())
    await asyncio.sleep(0.2)
    sandbox.cluster.delete_object("pods", NAMESPACE, victim)
    await asyncio.wait_for(follower, 20)
    await watch.close()
    assert ("MODIFIED", victim) in seen and seen[-1] == ("DELETED", victim)
    assert any(kind == "ADDED" and name != victim for kind, name in seen)


async def test_aio_client_patches_a_deployment_with_each_patch_kind(
    sandbox: KubeSandbox, aio_api: kubernetes.aio.client.ApiClient
) -> None:
    apps = kubernetes.aio.client.AppsV1Api(aio_api)
    patched = await apps.patch_namespaced_deployment(
        DEPLOYMENT,
        NAMESPACE,
        [{"op": "add", "path": "/metadata/annotations/owner", "value": "payments"}],
    )
    assert patched.metadata.annotations["owner"] == "payments"
    patched = await apps.patch_namespaced_deployment(
        DEPLOYMENT,
        NAMESPACE,
        {"spec": {"replicas": 4}},
        dry_run="All",
    )
    assert patched.spec.replicas == 4
    assert sandbox.cluster.deployment(NAMESPACE, DEPLOYMENT)["spec"]["replicas"] == 3
    assert sum(sandbox.cluster.writes.values()) == 1
    scale = await apps.read_namespaced_deployment_scale(DEPLOYMENT, NAMESPACE)
    assert scale.spec.replicas == 3 and scale.status.selector == SELECTOR
    await apps.patch_namespaced_deployment_scale(DEPLOYMENT, NAMESPACE, {"spec": {"replicas": 4}})
    await wait_for(lambda: len(ready_names(sandbox.cluster)) == 4, what="a fourth pod")
    sets = await apps.list_namespaced_replica_set(NAMESPACE, label_selector=SELECTOR)
    assert [rs.spec.replicas for rs in sets.items] == [4]


def _trusting() -> ssl.SSLContext:
    return ssl.create_default_context(cadata=sandbox_certificate().cert_pem)


async def test_requests_without_the_token_are_refused(sandbox: KubeSandbox) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{sandbox.server}/api/v1/namespaces/{NAMESPACE}/pods", ssl=_trusting()
        ) as response,
    ):
        body = await response.json()
    assert response.status == 401
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


class _Raw:
    """Plain HTTPS requests with the token, to check the wire format itself."""

    def __init__(self, sandbox: KubeSandbox, session: aiohttp.ClientSession) -> None:
        self.sandbox = sandbox
        self.session = session

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        lines: bool = False,
    ) -> tuple[int, Any]:
        """The status and the decoded body (its text when ``lines``, as for a watch)."""
        headers = {"Authorization": f"Bearer {self.sandbox.token}", "Accept": accept}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = content_type
        async with self.session.request(
            method, self.sandbox.server + path, data=data, headers=headers, ssl=_trusting()
        ) as response:
            text = await response.text()
            kind = response.headers.get("Content-Type", "")
            decode = kind.startswith("application/json") and not lines
            return response.status, json.loads(text) if decode else text


@pytest.fixture
async def raw(sandbox: KubeSandbox) -> AsyncIterator[_Raw]:
    async with aiohttp.ClientSession() as session:
        yield _Raw(sandbox, session)


async def test_discovery_and_unknown_resources(raw: _Raw) -> None:
    code, groups = await raw.call(
        "GET",
        "/apis",
        accept="application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
        "application/json",
    )
    assert code == 200 and groups["kind"] == "APIGroupList"
    code, apps = await raw.call("GET", "/apis/apps/v1")
    names = {r["name"] for r in apps["resources"]}
    assert {"deployments", "deployments/scale", "replicasets"} <= names
    code, missing = await raw.call(
        "GET", f"/apis/apps/v1/namespaces/{NAMESPACE}/controllerrevisions"
    )
    assert code == 404 and missing["reason"] == "NotFound"
    code, version = await raw.call("GET", "/version")
    assert version["major"] == "1"


async def test_tables_for_kubectl_get(raw: _Raw) -> None:
    code, table = await raw.call(
        "GET",
        f"/api/v1/namespaces/{NAMESPACE}/pods",
        accept="application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
    )
    assert code == 200 and table["kind"] == "Table"
    columns = [c["name"] for c in table["columnDefinitions"]]
    assert columns[:5] == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert all(row["cells"][1:3] == ["1/1", "Running"] for row in table["rows"])
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


async def test_pod_log_parameters(sandbox: KubeSandbox, raw: _Raw) -> None:
    await wait_for(lambda: sandbox.lines_written[0] > 60, what="log lines")
    pod = sorted(ready_names(sandbox.cluster))[0]
    base = f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}/log"
    code, text = await raw.call("GET", base + "?tailLines=3")
    assert code == 200 and len(text.splitlines()) == 3
    code, text = await raw.call("GET", base + "?limitBytes=10")
    assert len(text.encode()) == 10
    code, text = await raw.call("GET", base + "?sinceTime=2000-01-01T00:00:00Z&tailLines=1")
    assert len(text.splitlines()) == 1
    code, text = await raw.call("GET", base + "?sinceTime=2999-01-01T00:00:00Z")
    assert code == 200 and text == ""
    code, status = await raw.call("GET", base + "?previous=true")
    assert code == 400 and "previous terminated container" in status["message"]
    code, status = await raw.call("GET", base + "?container=nope")
    assert code == 400 and status["kind"] == "Status"
    code, status = await raw.call("GET", base + "?sinceSeconds=5&sinceTime=2000-01-01T00:00:00Z")
    assert code == 400


async def test_put_checks_the_resource_version(sandbox: KubeSandbox, raw: _Raw) -> None:
    path = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{DEPLOYMENT}"
    code, current = await raw.call("GET", path)
    stale = json.loads(json.dumps(current))
    current["spec"]["replicas"] = 4
    code, updated = await raw.call("PUT", path, current)
    assert code == 200 and updated["metadata"]["generation"] == 2
    stale["spec"]["replicas"] = 2
    code, status = await raw.call("PUT", path, stale)
    assert code == 409 and status["reason"] == "Conflict"
    assert sandbox.cluster.deployment(NAMESPACE, DEPLOYMENT)["spec"]["replicas"] == 4
    code, status = await raw.call(
        "PATCH", path, {"spec": {"replicas": -1}}, "application/merge-patch+json"
    )
    assert code == 422 and status["reason"] == "Invalid"


async def test_secret_create_replace_delete_and_dry_run(sandbox: KubeSandbox, raw: _Raw) -> None:
    path = f"/api/v1/namespaces/{NAMESPACE}/secrets"
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "extra"},
        "stringData": {"token": "abc"},
    }
    code, dry = await raw.call("POST", path + "?dryRun=All", manifest)
    assert code == 201 and dry["data"] == {"token": "YWJj"}
    assert sandbox.cluster.secret_value(NAMESPACE, "extra", "token") is None
    code, created = await raw.call("POST", path, manifest)
    assert code == 201
    code, status = await raw.call("POST", path, manifest)
    assert code == 409 and status["reason"] == "AlreadyExists"
    created["data"] = {"token": "ZGVm"}
    code, _ = await raw.call("PUT", f"{path}/extra", created)
    assert code == 200
    assert sandbox.cluster.secret_value(NAMESPACE, "extra", "token") == "def"
    code, _ = await raw.call("DELETE", f"{path}/extra")
    assert code == 200
    assert sandbox.cluster.writes == {
        ("create", "secrets"): 1,
        ("update", "secrets"): 1,
        ("delete", "secrets"): 1,
    }


async def test_watch_initial_events_and_expired_versions(sandbox: KubeSandbox, raw: _Raw) -> None:
    pods = f"/api/v1/namespaces/{NAMESPACE}/pods?watch=true&timeoutSeconds=1"
    code, text = await raw.call(
        "GET",
        pods + "&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan",
        lines=True,
    )
    assert code == 200
    events = [json.loads(line) for line in text.splitlines()]
    kinds = [event["type"] for event in events]
    assert kinds[:4] == ["ADDED", "ADDED", "ADDED", "BOOKMARK"]
    annotations = events[3]["object"]["metadata"]["annotations"]
    assert annotations == {"k8s.io/initial-events-end": "true"}

    sandbox.cluster.watch_history = 3
    sandbox.cluster.delete_object("pods", NAMESPACE, sorted(ready_names(sandbox.cluster))[0])
    code, text = await raw.call("GET", pods + "&resourceVersion=1", lines=True)
    assert code == 200
    (event,) = [json.loads(line) for line in text.splitlines()]
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"
    assert event["object"]["message"].startswith("too old resource version: 1")
