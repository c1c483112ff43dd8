"""Configuration: a TOML file, then ``INCIDENT_TUI_*`` environment variables, then flags."""

from __future__ import annotations

import getpass
import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from tui.errors import ConfigError, Problem

__all__ = [
    "KubernetesSettings",
    "PrometheusSettings",
    "RunbookEndpoints",
    "Settings",
    "SlackSettings",
    "default_config_path",
    "load_settings",
]


def _http_url(value: str) -> str:
    """An http(s) URL with a host; said without the value, which may carry a password."""
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise ValueError(
            "is not an http:// or https:// URL with a host "
            "(for example http://prometheus.monitoring:9090)"
        )
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
"""A URL the app will call over HTTP, checked when the settings load."""


class _Section(BaseModel):
    # an endless timeout would let one backend call wait forever
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class KubernetesSettings(_Section):
    kubeconfig: Path | None = None
    """The kubeconfig file; like kubectl when unset: every file of ``$KUBECONFIG`` merged,
    else ``~/.kube/config``, else the pod's service account (in-cluster)."""
    context: str | None = None
    """The context to use; the kubeconfig's current context when unset."""
    namespace: str | None = None
    """The namespace; the runbook's service namespace when unset."""
    timeout: float = Field(10.0, gt=0)
    """Seconds any one Kubernetes API call may take."""
    poll_interval: float = Field(5.0, gt=0)
    """Seconds between pod list refreshes when a watch cannot be kept open."""
    service_account_dir: Path = Path("/var/run/secrets/kubernetes.io/serviceaccount")
    """In a pod (``KUBERNETES_SERVICE_HOST`` set, no kubeconfig): where its service
    account's ``token``, ``ca.crt`` and ``namespace`` are."""


class PrometheusSettings(_Section):
    """Prometheus, or anything that answers its HTTP API (Thanos, Mimir, Cortex,
    VictoriaMetrics); the connection settings follow Prometheus's own ``http_config`` and
    apply to the main and the backup URL alike."""

    url: HttpUrl = "http://localhost:9090"
    backup_url: HttpUrl | None = None
    """Used, and said to be used, when the primary does not answer."""
    bearer_token: SecretStr | None = None
    bearer_token_file: Path | None = None
    """A file holding the bearer token, read again on every query (rotated tokens work)."""
    username: str | None = None
    password: SecretStr | None = None
    headers: dict[str, SecretStr] = {}
    """Extra headers on every query, such as ``X-Scope-OrgID`` for a Mimir/Cortex tenant."""
    ca_file: Path | None = None
    """A PEM file of the CA(s) that signed the server's certificate (a private CA)."""
    cert_file: Path | None = None
    """A client certificate (PEM) for servers that ask for one (mTLS); with ``key_file``."""
    key_file: Path | None = None
    insecure_skip_verify: bool = False
    """Do not check the server's certificate at all (as Prometheus's ``tls_config``)."""
    verify_tls: bool = True
    """The older name of ``insecure_skip_verify = true`` (false skips verification)."""
    timeout: float = Field(5.0, gt=0)
    poll_interval: float = Field(15.0, gt=0)
    range: str = "30m"
    """How far back the sparkline series reaches."""
    scrape_interval: str = Field("15s", pattern=r"^[1-9][0-9]*(s|m)$")
    """The Prometheus scrape interval of the signals' metrics: a runbook's
    ``$__rate_interval`` is four of it (``1m`` at the default 15 s)."""

    @model_validator(mode="after")
    def _files_exist(self) -> PrometheusSettings:
        for name in ("bearer_token_file", "ca_file", "cert_file", "key_file"):
            path = getattr(self, name)
            if path is not None and not path.expanduser().is_file():
                raise ValueError(f"{name}: no file at {path}")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError(
                "cert_file and key_file go together (a client certificate and its key)"
            )
        if self.bearer_token is not None and self.bearer_token_file is not None:
            raise ValueError("bearer_token and bearer_token_file: set one of them")
        return self


class RunbookEndpoints(_Section):
    """Per-runbook overrides of the URLs a runbook names."""

    status_page: HttpUrl | None = None
    health: HttpUrl | None = None


class SlackSettings(_Section):
    webhook_url: SecretStr | None = None


class StatusSettings(_Section):
    timeout: float = Field(5.0, gt=0)
    poll_interval: float = Field(15.0, gt=0)
    verify_tls: bool = True


class LogSettings(_Section):
    buffer_lines: int = Field(10_000, ge=100)
    """Lines kept in the log pane; older lines are dropped and counted."""
    max_line_length: int = Field(16_384, ge=80)


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "responder"


_FILE_DATA: ContextVar[dict[str, Any] | None] = ContextVar("_FILE_DATA", default=None)


class _TomlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class Settings(BaseSettings):
    """Everything the app connects to; secrets are :class:`SecretStr` and never printed."""

    model_config = SettingsConfigDict(
        env_prefix="INCIDENT_TUI_", env_nested_delimiter="__", extra="forbid"
    )

    responder: str = Field(default_factory=_login_name)
    """Who is at the keyboard; recorded as the actor of every event."""
    kubernetes: KubernetesSettings = KubernetesSettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    status: StatusSettings = StatusSettings()
    logs: LogSettings = LogSettings()
    slack: SlackSettings = SlackSettings()
    runbooks: dict[str, RunbookEndpoints] = {}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # flags (init) beat the environment, which beats the file
        return init_settings, env_settings, _TomlSource(settings_cls, _FILE_DATA.get() or {})

    def endpoints(self, runbook_id: str) -> RunbookEndpoints:
        return self.runbooks.get(runbook_id, RunbookEndpoints())


def default_config_path() -> Path:
    """``$XDG_CONFIG_HOME/incident-tui/config.toml`` (``~/.config/...`` when unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "incident-tui" / "config.toml"


def _line_of(text: str, loc: tuple[str | int, ...]) -> int | None:
    """Best-effort line of a dotted key in a TOML text: the section header, then the key."""
    lines = text.splitlines()
    keys = [str(part) for part in loc]
    for cut in range(len(keys) - 1, -1, -1):
        section, key = keys[:cut], keys[cut] if cut < len(keys) else None
        header = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(map(_toml_key, section)) + r"\s*\]")
        start = 0
        if section:
            found = next((i for i, line in enumerate(lines) if header.match(line)), None)
            if found is None:
                continue
            start = found
            if key is None:
                return found + 1
        if key is not None:
            pattern = re.compile(r"^\s*" + _toml_key(key) + r"\s*=")
            for i in range(start + (1 if section else 0), len(lines)):
                if section and lines[i].lstrip().startswith("[") and i != start:
                    break
                if not section and lines[i].lstrip().startswith("["):
                    break
                if pattern.match(lines[i]):
                    return i + 1
            if section:
                return start + 1
    return None


def _toml_key(key: str) -> str:
    return r"(?:" + re.escape(key) + r'|"' + re.escape(key) + r'")'


def load_settings(config_path: Path | None = None, **flags: Any) -> Settings:
    """Read the config file (the default one only if it exists), the environment, and flags.

    ``flags`` are nested dicts of the values given on the command line (``None`` = not given).
    Any problem raises :class:`ConfigError` naming the file, line and field.
    """
    path = config_path or default_config_path()
    text = ""
    data: dict[str, Any] = {}
    if config_path is not None or path.exists():
        name = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(Problem(name, None, "", "no such config file")) from None
        except UnicodeDecodeError as exc:
            raise ConfigError(
                Problem(name, None, "", f"is not UTF-8 text (byte {exc.start})")
            ) from None
        except OSError as exc:
            raise ConfigError(Problem(name, None, "", f"cannot be read: {exc.strerror}")) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
            reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
            raise ConfigError(
                Problem(
                    name, int(match.group(1)) if match else None, "", f"TOML syntax error: {reason}"
                )
            ) from None
        except RecursionError:
            raise ConfigError(Problem(name, None, "", "the TOML is nested too deeply")) from None
        except ValueError as exc:
            reason = " ".join(str(exc).split())
            raise ConfigError(
                Problem(name, None, "", f"a value cannot be read: {reason}")
            ) from None
    clean_flags = _drop_none(flags)
    token = _FILE_DATA.set(data)
    try:
        return Settings(**clean_flags)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            field = ".".join(str(p) for p in loc)
            message = _message(error)
            in_file = _has_path(data, loc)
            where = str(path) if in_file else "environment or flags"
            problems.append(
                Problem(where, _line_of(text, loc) if in_file else None, field, message)
            )
        raise ConfigError(problems) from None
    finally:
        _FILE_DATA.reset(token)


def _has_path(data: Any, loc: tuple[Any, ...]) -> bool:
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return bool(loc) and isinstance(data, dict) and loc[0] in data
    return True


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        cleaned = {k: _drop_none(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in cleaned.items() if v != {}}
    return value


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "is not a setting (unknown key)"
    if error["type"] == "missing":
        return "is required but missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    return message[:1].lower() + message[1:]
