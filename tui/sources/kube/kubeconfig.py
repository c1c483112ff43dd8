"""Where the cluster's address and credentials come from, in client-go's order: the
explicit ``--kubeconfig`` file, else every file of ``$KUBECONFIG`` merged, else
``~/.kube/config``, else the pod's own service account (in-cluster). Exec credential
plugins (EKS, GKE, AKS) are run again before their token expires and once on a 401.

Merging follows kubectl: for clusters, users and contexts the first file to name one
wins; ``current-context`` comes from the first file that sets it; a path inside a file is
read relative to that file. Files of ``$KUBECONFIG`` that do not exist are skipped."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import kubernetes.aio.config.incluster_config
import kubernetes.aio.config.kube_config
import yaml
from kubernetes.aio.client import ApiClient, Configuration
from kubernetes.aio.config.config_exception import ConfigException

from tui.errors import ConfigError, Problem, SourceAuthExpired
from tui.inert import inert
from tui.settings import KubernetesSettings

__all__ = ["ExecCredentials", "Loaded", "Origin", "load", "locate"]

IN_CLUSTER = "in-cluster"

# the library's config loader is untyped: its classes are used as what they are
_lib: Any = kubernetes.aio.config.kube_config
_ConfigNode: Any = _lib.ConfigNode
_InClusterConfigLoader: Any = kubernetes.aio.config.incluster_config.InClusterConfigLoader


@dataclass(frozen=True)
class Origin:
    """Where the configuration was found: kubeconfig files, or the service account."""

    files: tuple[Path, ...] = ()
    service_account: Path | None = None

    @property
    def where(self) -> str:
        """The files (or the service account folder), for messages."""
        if self.service_account is not None:
            return f"in-cluster service account {self.service_account}"
        return ", ".join(_home(p) for p in self.files)

    @property
    def short(self) -> str:
        """For the header: ``in-cluster``, or the first file's name (and how many more)."""
        if self.service_account is not None:
            return IN_CLUSTER
        more = f" +{len(self.files) - 1}" if len(self.files) > 1 else ""
        return (self.files[0].name if self.files else "") + more


def _home(path: Path) -> str:
    text = str(path)
    home = str(Path.home())
    return "~" + text[len(home) :] if text.startswith(home + os.sep) else text


def _in_cluster_env() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and bool(
        os.environ.get("KUBERNETES_SERVICE_PORT")
    )


def locate(settings: KubernetesSettings) -> Origin:
    """The configuration kubectl would use; a :class:`ConfigError` naming what was tried
    when there is none."""
    if settings.kubeconfig is not None:
        path = settings.kubeconfig.expanduser()
        if not path.is_file():
            raise ConfigError(
                Problem(str(path), None, "kubernetes.kubeconfig", "no kubeconfig at this path")
            )
        return Origin((path,))
    env = os.environ.get("KUBECONFIG")
    if env:
        named = [Path(part).expanduser() for part in env.split(os.pathsep) if part]
        found: list[Path] = []
        for path in named:
            if path.is_file() and path not in found:
                found.append(path)
        if found:
            return Origin(tuple(found))
        tried = f"$KUBECONFIG ({', '.join(_home(p) for p in named)})"
    else:
        default = Path.home() / ".kube" / "config"
        if default.is_file():
            return Origin((default,))
        tried = _home(default)
    if _in_cluster_env():
        return Origin(service_account=settings.service_account_dir)
    raise ConfigError(
        Problem(
            tried,
            None,
            "kubernetes.kubeconfig",
            "no kubeconfig at this path, and not in a cluster (KUBERNETES_SERVICE_HOST unset)",
        )
    )


class _Merger(_lib.KubeConfigMerger):  # type: ignore[misc]
    """The library's merge, with kubectl's rule for ``current-context`` (the first file
    that sets it wins, not the last) and empty files skipped."""

    config_merged: Any

    def _merge(self, item: str, add_cfg: Any, path: str) -> None:
        """Add the entries no earlier file named. Each node is named by its file, its list
        and its name: the library names it by the whole entry, keys and tokens included,
        and that name ends up in error messages."""
        if not isinstance(add_cfg, list):
            raise ConfigException(f"{path}: `{item}` is not a list")
        merged = self.config_merged.value[item]
        for entry in add_cfg:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise ConfigException(f"{path}: an entry of `{item}` has no name")
            if any(existing["name"] == entry["name"] for existing in merged):
                continue
            merged.append(_ConfigNode(f"{path}: {item} {entry['name']}", entry, path))

    def load_config(self, path: str) -> None:
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
        if config is None:
            self.config_files[path] = {}
            return
        if not isinstance(config, dict):
            raise ConfigException(f"{path}: a kubeconfig is a mapping of clusters, users, contexts")
        if self.config_merged is None:
            merged = {k: v for k, v in config.items() if k not in ("clusters", "contexts", "users")}
            for item in ("clusters", "contexts", "users"):
                merged[item] = []
            self.config_merged = _ConfigNode(path, merged, path)
        for item in ("clusters", "contexts", "users"):
            self._merge(item, config.get(item) or [], path)
        if config.get("current-context") and not self.config_merged.value.get("current-context"):
            self.config_merged.value["current-context"] = config["current-context"]
        self.config_files[path] = config


class _Plugin:
    """Runs an exec credential plugin as client-go does, not as the library does: never
    interactive (the screen owns the terminal: stdin is closed and ``interactive`` is
    false), killed when the request waiting for it gives up, its stderr decoded."""

    def __init__(self, exec_config: Any, base: str | None = None) -> None:
        for key in ("command", "apiVersion"):
            if key not in exec_config:
                raise ConfigException(f"exec: malformed request. missing key '{key}'")
        self.api_version = str(exec_config["apiVersion"])
        command = str(exec_config["command"])
        if base and "/" in command and not os.path.isabs(command):
            # as client-go: a relative path with a slash is the kubeconfig's folder's
            command = os.path.join(base, command)
        self.args = [command] + [str(a) for a in (exec_config.safe_get("args") or [])]
        self.env = dict(os.environ)
        for item in exec_config.safe_get("env") or []:
            self.env[str(item["name"])] = str(item["value"])

    async def run(self) -> dict[str, Any]:
        info = {
            "apiVersion": self.api_version,
            "kind": "ExecCredential",
            "spec": {"interactive": False},
        }
        env = {**self.env, "KUBERNETES_EXEC_INFO": json.dumps(info)}
        process = await asyncio.create_subprocess_exec(
            *self.args,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await process.communicate()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            raise
        if process.returncode != 0:
            said = err.decode("utf-8", "replace").strip()
            raise ConfigException(
                f"exec: process returned {process.returncode}" + (f". {said}" if said else "")
            )
        try:
            data = json.loads(out)
        except ValueError as error:
            raise ConfigException(f"exec: failed to decode process output: {error}") from None
        if not isinstance(data, dict) or not isinstance(data.get("status"), dict):
            raise ConfigException("exec: malformed response. missing key 'status'")
        if data.get("apiVersion") != self.api_version:
            raise ConfigException(
                f"exec: plugin api version {data.get('apiVersion')} does not match "
                f"{self.api_version}"
            )
        status: dict[str, Any] = data["status"]
        return status


class ExecCredentials:
    """An exec credential plugin's token: run again shortly before it expires (the
    ``refresh_api_key_hook`` of the client's configuration) and once when the API answers
    401 to it; a plugin whose fresh token is refused again is a fault, not a loop."""

    RETRY_AFTER_REFUSAL = 30.0
    """Seconds before a token refused right after a refresh is refreshed on a 401 again."""

    def __init__(
        self, exec_config: Any, clock: Callable[[], float] = time.time, base: str | None = None
    ) -> None:
        self._provider = _Plugin(exec_config, base)
        self.command = Path(str(exec_config["command"])).name
        self.clock = clock
        self.token: str | None = None
        self.expiry: float | None = None
        self.obtained = 0.0
        self.runs = 0
        self._refused_until = 0.0
        self._lock = asyncio.Lock()

    async def run(self) -> dict[str, Any]:
        """Run the plugin; its ``status``. A failure is :class:`SourceAuthExpired`."""
        try:
            status = await self._provider.run()
        except ConfigException as error:
            said = inert(str(error)).removeprefix("exec: ")
            raise SourceAuthExpired(
                "kubernetes", f"the credential plugin {self.command} failed: {said}"
            ) from None
        except OSError as error:
            raise SourceAuthExpired(
                "kubernetes", f"the credential plugin {self.command} cannot run: {error}"
            ) from None
        self.runs += 1
        self.obtained = self.clock()
        token = status.get("token")
        self.token = f"Bearer {token}" if token else None
        self.expiry = _expiry(status.get("expirationTimestamp"))
        return status

    def stale(self) -> bool:
        """Close enough to its expiry to fetch a new one (a tenth of its life, at most a
        minute, before)."""
        if self.expiry is None:
            return False
        margin = min(60.0, max(0.0, (self.expiry - self.obtained) / 10))
        return self.clock() >= self.expiry - margin

    async def refresh_hook(self, configuration: Configuration) -> None:
        """Before each request: a new token when this one is about to expire."""
        if not self.stale():
            return
        async with self._lock:
            if self.stale():
                await self._refresh(configuration)

    async def renew(self, configuration: Configuration, refused: str | None) -> bool:
        """After a 401 to ``refused``: whether a new token is there to try once more."""
        async with self._lock:
            if bool(configuration.api_key.get("BearerToken") != refused):
                return True  # another request renewed it meanwhile
            if self.clock() < self._refused_until:
                return False
            await self._refresh(configuration)
            self._refused_until = self.clock() + self.RETRY_AFTER_REFUSAL
            return True

    def accepted(self) -> None:
        """The API took the token: a later 401 may be answered by a refresh at once."""
        self._refused_until = 0.0

    async def _refresh(self, configuration: Configuration) -> None:
        await self.run()
        if self.token is not None:
            configuration.api_key["BearerToken"] = self.token


def _expiry(stamp: Any) -> float | None:
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class _Loader(_lib.KubeConfigLoader):  # type: ignore[misc]
    """The library's loader, with the exec plugin run by :class:`ExecCredentials`."""

    credentials: ExecCredentials | None = None

    async def load_from_exec_plugin(self) -> bool | None:
        path = getattr(self._user, "path", None)
        base = os.path.dirname(os.path.abspath(path)) if isinstance(path, str) else None
        credentials = ExecCredentials(self._user["exec"], base=base)
        await credentials.run()
        if credentials.token is None:
            # a client certificate instead of a token: the library writes it to files
            return bool(await super().load_from_exec_plugin()) or None
        self.token = credentials.token
        self.credentials = credentials
        return True


@dataclass
class Loaded:
    """A client for one context, ready for requests."""

    api_client: ApiClient
    context: str
    origin: Origin
    credentials: ExecCredentials | None


async def load(settings: KubernetesSettings) -> Loaded:
    """The API client kubectl's loading rules give; a :class:`ConfigError` naming the file
    and the key for a configuration that cannot be used."""
    origin = locate(settings)
    configuration = Configuration()
    if origin.service_account is not None:
        return _in_cluster(origin, configuration, settings)
    where = origin.where
    try:
        merger = _Merger(os.pathsep.join(str(p) for p in origin.files))
    except (OSError, yaml.YAMLError, ConfigException, ValueError, KeyError, TypeError) as error:
        raise ConfigError(Problem(where, None, "kubernetes", _said(error))) from None
    if merger.config is None:
        raise ConfigError(Problem(where, None, "kubernetes", "the kubeconfig is empty"))
    value = merger.config.value
    entries = [getattr(c, "value", c) for c in value.get("contexts") or []]
    names = [str(c.get("name")) for c in entries if isinstance(c, dict)]
    context = settings.context or value.get("current-context")
    listed = ", ".join(names) or "none"
    if not context:
        raise ConfigError(
            Problem(
                where,
                None,
                "kubernetes.context",
                f"no current-context: name one with --context (contexts: {listed})",
            )
        )
    if context not in names:
        raise ConfigError(
            Problem(
                where, None, "kubernetes.context", f'no context "{context}" (contexts: {listed})'
            )
        )
    try:
        loader = _Loader(config_dict=merger.config, config_base_path=None, active_context=context)
        await loader.load_and_set(configuration)
    except (ConfigException, ValueError, KeyError, TypeError, OSError) as error:
        # a key that is not base64, an id-token that is not a JWT, a missing field
        raise ConfigError(Problem(where, None, "kubernetes", _said(error))) from None
    except SourceAuthExpired as error:
        raise ConfigError(Problem(where, None, "kubernetes.user.exec", error.detail)) from None
    credentials = loader.credentials
    if credentials is not None:
        configuration.refresh_api_key_hook = credentials.refresh_hook  # type: ignore[assignment]
    return Loaded(
        ApiClient(configuration=configuration),
        str(context),
        origin,
        credentials,
    )


def _in_cluster(
    origin: Origin, configuration: Configuration, settings: KubernetesSettings
) -> Loaded:
    folder = settings.service_account_dir
    loader = _InClusterConfigLoader(
        token_filename=str(folder / "token"), cert_filename=str(folder / "ca.crt")
    )
    try:
        loader.load_and_set(configuration)
    except (ConfigException, OSError) as error:
        raise ConfigError(Problem(str(folder), None, "kubernetes", _said(error))) from None
    return Loaded(ApiClient(configuration=configuration), IN_CLUSTER, origin, None)


def _said(error: BaseException) -> str:
    text = inert(str(error)).strip() or type(error).__name__
    return text.removeprefix("Invalid kube-config file. ")
