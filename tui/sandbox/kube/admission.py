"""Admission: the defaults the API server fills in and the validation it refuses with
(422 Invalid), for the Deployments and Secrets that clients write."""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
from typing import Any

from tui.sandbox.kube.selectors import LabelSelector, SelectorError
from tui.sandbox.kube.store import ApiError, canonical

__all__ = ["admit_deployment", "admit_secret"]

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def admit_deployment(current: dict[str, Any] | None, obj: dict[str, Any]) -> None:
    meta = obj["metadata"]
    name = meta.get("name", "")
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxSurge", "25%")
        rolling.setdefault("maxUnavailable", "25%")
    template = spec.setdefault("template", {})
    pod_spec = template.setdefault("spec", {})
    _default_pod_spec(pod_spec)
    problems: list[tuple[str, str]] = []
    if not _DNS_LABEL.match(name) or len(name) > 63:
        problems.append(
            (
                "metadata.name",
                f"Invalid value: \"{name}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'",
            )
        )
    replicas = spec.get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        problems.append(
            ("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")
        )
    try:
        selector = LabelSelector.from_spec(spec.get("selector"))
    except (SelectorError, KeyError, TypeError):
        selector = LabelSelector()
        problems.append(("spec.selector", "Invalid value: the selector does not parse"))
    if selector.empty:
        problems.append(("spec.selector", "Required value"))
    elif not selector.matches(template.get("metadata", {}).get("labels")):
        problems.append(
            (
                "spec.template.metadata.labels",
                f"Invalid value: {json.dumps(template.get('metadata', {}).get('labels', {}))}: "
                "`selector` does not match template `labels`",
            )
        )
    if current is not None and canonical(current["spec"].get("selector")) != canonical(
        spec.get("selector")
    ):
        problems.append(("spec.selector", "Invalid value: field is immutable"))
    for strategy_field in ("maxSurge", "maxUnavailable"):
        value = strategy.get("rollingUpdate", {}).get(strategy_field)
        if value is not None and not (
            (isinstance(value, int) and value >= 0)
            or (isinstance(value, str) and re.fullmatch(r"\d+%", value))
        ):
            problems.append(
                (
                    f"spec.strategy.rollingUpdate.{strategy_field}",
                    f"Invalid value: {value!r}: must be an integer or percentage (e.g '5%')",
                )
            )
    problems.extend(_validate_pod_spec(pod_spec, "spec.template.spec"))
    if problems:
        raise ApiError.invalid("deployments", name, problems)
    if current is None:
        meta["generation"] = 1
    else:
        meta["generation"] = current["metadata"].get("generation", 1)
        if canonical(current["spec"]) != canonical(spec):
            meta["generation"] += 1
        obj["status"] = copy.deepcopy(current.get("status", {}))


def admit_secret(current: dict[str, Any] | None, obj: dict[str, Any]) -> None:
    name = obj["metadata"].get("name", "")
    obj.setdefault("type", "Opaque")
    data = dict(obj.get("data") or {})
    problems: list[tuple[str, str]] = []
    for key, value in data.items():
        if not _SECRET_KEY.match(key):
            problems.append(
                (
                    f"data[{key}]",
                    f"Invalid value: \"{key}\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                )
            )
        try:
            base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            problems.append((f"data[{key}]", "Invalid value: illegal base64 data"))
    for key, value in (obj.pop("stringData", None) or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    if data:
        obj["data"] = data
    else:
        obj.pop("data", None)
    if current is not None and current.get("type", "Opaque") != obj["type"]:
        problems.append(("type", "Invalid value: field is immutable"))
    if current is not None and current.get("immutable") and current.get("data") != obj.get("data"):
        problems.append(("data", "Forbidden: field is immutable when `immutable` is set"))
    if problems:
        raise ApiError.invalid("secrets", name, problems)


def _default_pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for container in spec.get("containers") or []:
        if not isinstance(container, dict):
            continue
        image = str(container.get("image", ""))
        latest = ":" not in image.split("/")[-1] or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        for port in container.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
        for env in container.get("env") or []:
            field_ref = isinstance(env, dict) and (env.get("valueFrom") or {}).get("fieldRef")
            if isinstance(field_ref, dict):
                field_ref.setdefault("apiVersion", "v1")


def _validate_pod_spec(spec: dict[str, Any], path: str) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return [(f"{path}.containers", "Required value")]
    seen: set[str] = set()
    for index, container in enumerate(containers):
        where = f"{path}.containers[{index}]"
        if not isinstance(container, dict):
            problems.append((where, "Invalid value: must be an object"))
            continue
        name = container.get("name")
        if not isinstance(name, str) or not _DNS_LABEL.match(name):
            problems.append(
                (
                    f"{where}.name",
                    f"Invalid value: {name!r}: a lowercase RFC 1123 label is required",
                )
            )
        elif name in seen:
            problems.append((f"{where}.name", f'Duplicate value: "{name}"'))
        seen.add(str(name))
        if not container.get("image"):
            problems.append((f"{where}.image", "Required value"))
        env_names: set[str] = set()
        for env_index, env in enumerate(container.get("env") or []):
            env_where = f"{where}.env[{env_index}]"
            if not isinstance(env, dict) or not isinstance(env.get("name"), str):
                problems.append((f"{env_where}.name", "Required value"))
                continue
            if not _ENV_NAME.match(env["name"]):
                problems.append(
                    (
                        f"{env_where}.name",
                        f"Invalid value: \"{env['name']}\": a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit",
                    )
                )
            if "value" in env and "valueFrom" in env:
                problems.append(
                    (
                        f"{env_where}.valueFrom",
                        "Invalid value: may not be specified when `value` is not empty",
                    )
                )
            env_names.add(env["name"])
    return problems
