"""The cluster configurations real teams have, each checked against kubectl on the same
files: exec credential plugins whose tokens expire, kubeconfigs split across files, and a
pod's in-cluster service account."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from app_helpers import cockpit, fast_settings
from sandbox_helpers import (
    SandboxHandle,
    incident_tui_command,
    need_binary,
    running_sandbox,
    wait_until,
)

from tui.errors import ConfigError, SourceAuthExpired
from tui.runbook import discover_runbooks
from tui.sandbox.tls import sandbox_certificate
from tui.settings import KubernetesSettings
from tui.sources.kube.connection import KubeConnection
from widgets.incident_header import IncidentHeader

CLAY = discover_runbooks().get("clay")


async def _pod_names(conn: KubeConnection) -> list[str]:
    data = await conn.get_json(
        "kubernetes",
        "list pods",
        conn.api.list_namespaced_pod_without_preload_content(conn.namespace),
    )
    return sorted(item["metadata"]["name"] for item in data["items"])


async def _kubectl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """kubectl with exactly this environment (no --kubeconfig of the sandbox's)."""
    process = await asyncio.create_subprocess_exec(
        need_binary("kubectl"),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return subprocess.CompletedProcess(args, process.returncode or 0, out.decode(), err.decode())


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "INCIDENT_TUI"))}
    return {**env, "HOME": str(home), **extra}


def _settings(sb: SandboxHandle, tmp_path: Path, **kubernetes: Any) -> KubernetesSettings:
    """The sandbox's settings, without its kubeconfig unless told."""
    settings = fast_settings(sb, tmp_path).kubernetes
    return settings.model_copy(update={"kubeconfig": None, "context": None, **kubernetes})


def _config(sb: SandboxHandle, user: dict[str, Any] | None = None) -> dict[str, Any]:
    assert sb.sandbox is not None
    config: dict[str, Any] = yaml.safe_load(sb.sandbox.kubeconfig_text(user))
    return config


# --------------------------------------------------------------------------- exec plugins


async def test_an_exec_plugin_whose_token_expires_is_run_again_on_the_401_like_kubectl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox() as sb:
        assert sb.sandbox is not None
        tokens = sb.sandbox.tokens
        # the plugin says its token lasts an hour; the API server expires it after 2 s
        path = tmp_path / "eks.yaml"
        path.write_text(yaml.safe_dump(_config(sb, sb.sandbox.exec_user(2, claim=3600))))
        kubectl = await _kubectl(
            _env(tmp_path, KUBECONFIG=str(path)), "get", "pods", "-n", "production"
        )
        assert kubectl.returncode == 0, kubectl.stderr
        conn = await KubeConnection.open(_settings(sb, tmp_path, kubeconfig=path), CLAY)
        try:
            assert await _pod_names(conn)
            issued = tokens.issued
            await wait_until(tokens.latest_expired, 20, 0.1, "the token to expire")
            assert await _pod_names(conn)  # the 401, the plugin again, the same request again
            assert tokens.issued == issued + 1
            assert tokens.refused >= 1
        finally:
            await conn.close()


async def test_requests_refused_together_renew_the_token_once_and_all_go_through(
    tmp_path: Path,
) -> None:
    """The pod watch, each log stream and the rollout calls meet an expired token at
    once: the first 401 renews it, and the others retry with the new one."""
    async with running_sandbox() as sb:
        assert sb.sandbox is not None
        tokens = sb.sandbox.tokens
        path = tmp_path / "eks.yaml"
        path.write_text(yaml.safe_dump(_config(sb, sb.sandbox.exec_user(2, claim=3600))))
        conn = await KubeConnection.open(_settings(sb, tmp_path, kubeconfig=path), CLAY)
        try:
            assert await _pod_names(conn)
            issued = tokens.issued
            await wait_until(tokens.latest_expired, 20, 0.1, "the token to expire")
            results = await asyncio.gather(*(_pod_names(conn) for _ in range(5)))
            assert all(results)
            assert tokens.issued == issued + 1
        finally:
            await conn.close()


async def test_a_token_is_renewed_before_its_expiration_timestamp(tmp_path: Path) -> None:
    async with running_sandbox() as sb:
        assert sb.sandbox is not None
        tokens = sb.sandbox.tokens
        path = tmp_path / "gke.yaml"
        path.write_text(yaml.safe_dump(_config(sb, sb.sandbox.exec_user(3))))
        conn = await KubeConnection.open(_settings(sb, tmp_path, kubeconfig=path), CLAY)
        try:
            assert await _pod_names(conn)
            issued = tokens.issued
            await wait_until(tokens.latest_expired, 20, 0.1, "the token to expire")
            assert await _pod_names(conn)
            assert tokens.issued == issued + 1
            assert tokens.refused == 0  # never sent after its expirationTimestamp
        finally:
            await conn.close()


async def test_a_plugin_whose_fresh_token_is_refused_too_is_reported_after_one_retry(
    tmp_path: Path,
) -> None:
    async with running_sandbox() as sb:
        assert sb.sandbox is not None
        tokens = sb.sandbox.tokens
        path = tmp_path / "aks.yaml"
        # every token is refused: valid for a millisecond, said to last an hour
        path.write_text(yaml.safe_dump(_config(sb, sb.sandbox.exec_user(0.001, claim=3600))))
        conn = await KubeConnection.open(_settings(sb, tmp_path, kubeconfig=path), CLAY)
        try:
            with pytest.raises(SourceAuthExpired, match="401"):
                await _pod_names(conn)
            assert tokens.issued == 2  # the first, and once more on the 401
            with pytest.raises(SourceAuthExpired, match="401"):
                await _pod_names(conn)
            assert tokens.issued == 2  # not a loop of plugin runs
        finally:
            await conn.close()


async def test_a_failing_plugin_is_named_in_one_sentence(tmp_path: Path) -> None:
    async with running_sandbox() as sb:
        script = (
            'printf "%s\\n" "$KUBERNETES_EXEC_INFO" >&2; read -r line && echo got-stdin >&2; '
            "echo 'token has expired: run aws sso login' >&2; exit 1"
        )
        user = {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": "sh",
                "args": ["-c", script],
                "interactiveMode": "Never",
            }
        }
        path = tmp_path / "sso.yaml"
        path.write_text(yaml.safe_dump(_config(sb, user)))
        with pytest.raises(ConfigError) as caught:
            await KubeConnection.open(_settings(sb, tmp_path, kubeconfig=path), CLAY)
        said = str(caught.value)
        assert "credential plugin sh failed" in said
        assert "run aws sso login" in said and "b'" not in said and "\\n" not in said
        # never interactive: the screen owns the terminal
        assert '"interactive": false' in said and "got-stdin" not in said
        assert "Traceback" not in said


def test_a_broken_kubeconfig_is_one_sentence_and_keeps_its_keys_secret(tmp_path: Path) -> None:
    """The library names a kubeconfig entry by its whole content in its errors: a key
    must never reach the screen that way."""
    secret = "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQ-secret-key"
    base = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    cases = {
        "env without value": {
            "users": [
                {
                    "name": "u",
                    "user": {
                        "client-key-data": secret,
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1",
                            "command": "true",
                            "env": [{"name": "AWS_PROFILE"}],
                        },
                    },
                }
            ]
        },
        "CA not base64": {
            "clusters": [
                {
                    "name": "c",
                    "cluster": {
                        "server": "https://127.0.0.1:1",
                        "certificate-authority-data": "!!notb64",
                    },
                }
            ],
            "users": [{"name": "u", "user": {"token": secret}}],
        },
        "context without a name": {
            "contexts": [
                {"name": "x", "context": {"cluster": "c", "user": "u"}},
                {"context": {"cluster": "c"}},
            ],
            "users": [{"name": "u", "user": {"token": secret}}],
        },
    }
    for case, changes in cases.items():
        path = tmp_path / f"{case.replace(' ', '-')}.yaml"
        path.write_text(yaml.safe_dump({**base, **changes}))
        settings = KubernetesSettings(kubeconfig=path)
        with pytest.raises(ConfigError) as caught:
            asyncio.run(KubeConnection.open(settings, CLAY))
        said = str(caught.value)
        assert secret not in said and "Traceback" not in said, case
        assert str(path) in said, case


# --------------------------------------------------------------------------- KUBECONFIG=a:b


def _split(sb: SandboxHandle, tmp_path: Path) -> tuple[Path, Path]:
    """Clusters and users (and a context "other" that is current) in one file, the
    sandbox's context in the other."""
    config = _config(sb)
    a = tmp_path / "kc-a.yaml"
    b = tmp_path / "kc-b.yaml"
    other = {"name": "other", "context": {"cluster": "nowhere", "user": "sandbox-responder"}}
    a.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    *config["clusters"],
                    {"name": "nowhere", "cluster": {"server": "https://127.0.0.1:1"}},
                ],
                "users": config["users"],
                "contexts": [other],
                "current-context": "other",
            }
        )
    )
    b.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "contexts": config["contexts"],
                "current-context": config["current-context"],
            }
        )
    )
    return a, b


async def test_kubeconfig_files_are_merged_like_kubectl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox() as sb:
        a, b = _split(sb, tmp_path)
        paths = os.pathsep.join([str(a), str(tmp_path / "missing.yaml"), str(b)])
        env = _env(tmp_path, KUBECONFIG=paths)
        monkeypatch.setenv("KUBECONFIG", paths)
        monkeypatch.setenv("HOME", str(tmp_path))
        # the first file to set current-context wins: "other", for kubectl and for us
        current = await _kubectl(env, "config", "current-context")
        assert current.stdout.strip() == "other"
        conn = await KubeConnection.open(_settings(sb, tmp_path), CLAY)
        assert conn.context == "other"
        assert conn.origin == "kc-a.yaml +1"
        await conn.close()
        # a context of the second file, with the cluster and user of the first
        kubectl = await _kubectl(
            env, "--context", "incident-sandbox", "get", "pods", "-n", "production"
        )
        assert kubectl.returncode == 0, kubectl.stderr
        conn = await KubeConnection.open(_settings(sb, tmp_path, context="incident-sandbox"), CLAY)
        try:
            names = await _pod_names(conn)
            assert names == sorted(line.split()[0] for line in kubectl.stdout.splitlines()[1:])
        finally:
            await conn.close()


async def test_an_unknown_context_lists_the_contexts_of_every_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox() as sb:
        a, b = _split(sb, tmp_path)
        monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(a), str(b)]))
        with pytest.raises(ConfigError) as caught:
            await KubeConnection.open(_settings(sb, tmp_path, context="prod"), CLAY)
        assert 'no context "prod" (contexts: other, incident-sandbox)' in str(caught.value)


# --------------------------------------------------------------------------- in-cluster


def _service_account(sb: SandboxHandle, folder: Path) -> None:
    assert sb.sandbox is not None
    folder.mkdir(parents=True)
    (folder / "token").write_text(sb.sandbox.token)
    (folder / "ca.crt").write_text(sandbox_certificate().cert_pem)
    (folder / "namespace").write_text("production")


async def test_in_a_pod_the_service_account_is_used_like_kubectl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox() as sb:
        folder = tmp_path / "serviceaccount"
        _service_account(sb, folder)
        host, port = sb.endpoints.kubernetes.removeprefix("https://").rsplit(":", 1)
        for name in ("KUBECONFIG",):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", host)
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", port)
        conn = await KubeConnection.open(_settings(sb, tmp_path, service_account_dir=folder), CLAY)
        try:
            assert conn.context == "in-cluster"
            assert conn.origin == "in-cluster"
            names = await _pod_names(conn)
        finally:
            await conn.close()
        kubectl = await _in_cluster_kubectl(
            folder, _env(tmp_path, KUBERNETES_SERVICE_HOST=host, KUBERNETES_SERVICE_PORT=port)
        )
        assert kubectl.returncode == 0, kubectl.stderr
        assert names == sorted(line.split()[0] for line in kubectl.stdout.splitlines()[1:]), kubectl


async def _in_cluster_kubectl(
    folder: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """kubectl as a pod runs it: no kubeconfig, the service account at its fixed path
    (mounted there in a private mount namespace where the system allows one; else the
    same files named by flags, which is what kubectl's in-cluster loader does)."""
    kubectl = need_binary("kubectl")
    mount = shutil.which("unshare")
    fixed = "/var/run/secrets/kubernetes.io/serviceaccount"
    if mount is not None and os.geteuid() == 0:
        script = (
            # a private /run first, so that nothing is made on the machine's own
            f"mount -t tmpfs tmpfs /var/run && mkdir -p {fixed} && "
            f"mount --bind {folder} {fixed} && exec {kubectl} get pods -n production"
        )
        tried = await _run(["unshare", "-m", "--propagation", "private", "sh", "-c", script], env)
        if tried.returncode == 0 or (
            "permission denied" not in tried.stderr.lower() and ("mount" not in tried.stderr)
        ):
            return tried
    token = (folder / "token").read_text()
    server = f"https://{env['KUBERNETES_SERVICE_HOST']}:{env['KUBERNETES_SERVICE_PORT']}"
    return await _run(
        [
            kubectl,
            "--server",
            server,
            "--certificate-authority",
            str(folder / "ca.crt"),
            "--token",
            token,
            "get",
            "pods",
            "-n",
            (folder / "namespace").read_text(),
        ],
        env,
    )


async def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    process = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return subprocess.CompletedProcess(args, process.returncode or 0, out.decode(), err.decode())


async def test_with_no_kubeconfig_and_no_cluster_the_sentence_says_what_was_tried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox() as sb:
        monkeypatch.delenv("KUBECONFIG", raising=False)
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        monkeypatch.setenv("HOME", str(tmp_path))
        with pytest.raises(ConfigError) as caught:
            await KubeConnection.open(_settings(sb, tmp_path), CLAY)
        said = str(caught.value)
        assert "~/.kube/config" in said and "KUBERNETES_SERVICE_HOST unset" in said


# --------------------------------------------------------------------------- flags, header


async def test_cluster_flags_work_after_the_command_as_before_it(tmp_path: Path) -> None:
    async with running_sandbox() as sb:
        config = tmp_path / "config.toml"
        assert sb.sandbox is not None
        sb.sandbox.write_config(config)
        base = [*incident_tui_command(), "--config", str(config)]
        after = await _run(
            [
                *incident_tui_command(),
                "triage",
                "--runbook",
                "clay",
                "--config",
                str(config),
                "--kubeconfig",
                sb.kubeconfig,
                "--context",
                "incident-sandbox",
                "-n",
                "production",
                "--json",
            ],
            _env(tmp_path),
        )
        before = await _run(
            [
                *base,
                "--kubeconfig",
                sb.kubeconfig,
                "--context",
                "incident-sandbox",
                "--namespace",
                "production",
                "triage",
                "--runbook",
                "clay",
                "--json",
            ],
            _env(tmp_path),
        )
        assert "No such option" not in after.stderr
        # healthy, or no data yet in a sandbox seconds old: either way the cluster answered
        assert after.returncode in (0, 4) and before.returncode in (0, 4), after.stderr
        assert json.loads(after.stdout)["pods"] == json.loads(before.stdout)["pods"]
        wrong = await _run(
            [*base, "triage", "--runbook", "clay", "--context", "prod"], _env(tmp_path)
        )
        # triage reports a cluster it cannot reach, and cannot say healthy (exit 3)
        assert wrong.returncode == 3, wrong
        assert 'no context "prod"' in " ".join(wrong.stdout.split())
        assert "Traceback" not in wrong.stdout + wrong.stderr


async def test_the_header_names_the_context_and_namespace_in_one_short_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox() as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(80, 24)):
            header = app.screen.query_one(IncidentHeader)
            await wait_until(lambda: "incident-sandbox/production" in header.text(), 30)
            assert header.size.height <= 2


async def test_a_401_is_answered_for_the_token_the_request_carried() -> None:
    """Two requests sent with the same token: the first 401 renews it; the second 401,
    arriving after that, must be judged by the token it carried, not the new one."""
    from types import SimpleNamespace

    from tui.sources.kube.calls import KubeCalls

    configuration = SimpleNamespace(api_key={"BearerToken": "Bearer new"})
    answers = [401, 200]

    class Response:
        def __init__(self, status: int) -> None:
            self.status = status
            self.request_info = SimpleNamespace(headers={"Authorization": "Bearer old"})

        def release(self) -> None:
            pass

    class Client:
        def __init__(self) -> None:
            self.configuration = configuration

        async def param_serialize(self, **_: Any) -> tuple[Any, ...]:
            return ()

        async def call_api(self, *_: Any, **__: Any) -> Any:
            return SimpleNamespace(response=Response(answers.pop(0)))

    class Credentials:
        refused: list[str | None] = []

        async def renew(self, config: Any, refused: str | None) -> bool:
            self.refused.append(refused)
            return config.api_key["BearerToken"] != refused

        def accepted(self) -> None:
            pass

    credentials = Credentials()
    calls = KubeCalls(Client(), credentials)  # type: ignore[arg-type]
    response = await calls._call("GET", "/api/v1/pods", {}, {})
    assert credentials.refused == ["Bearer old"]
    assert response.status == 200
