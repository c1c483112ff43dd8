"""The three patch kinds the API server accepts: JSON merge patch (RFC 7386), Kubernetes'
strategic merge patch, and JSON patch (RFC 6902)."""

from __future__ import annotations

import copy
import json
from typing import Any

from tui.sandbox.kube.store import ApiError

__all__ = ["apply_json_patch", "apply_merge_patch", "apply_strategic_merge_patch"]


# Lists whose items merge by a key under a strategic merge patch (the patchMergeKey tags of
# the Kubernetes types this server serves); other lists are replaced whole.
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
}
_PRIMITIVE_SETS = {"finalizers"}


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def apply_strategic_merge_patch(original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Kubernetes' strategic merge patch: lists of containers, env, volumes... merge by their
    key, with the ``$patch``, ``$setElementOrder``, ``$retainKeys`` and
    ``$deleteFromPrimitiveList`` directives kubectl sends."""
    merged = _merge_map(copy.deepcopy(original), patch)
    return merged if merged is not None else {}


def _merge_map(original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any] | None:
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        replaced: dict[str, Any] = _strip_directives(patch)
        return replaced
    result = original
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            base = result.get(key)
            merged = _merge_map(base if isinstance(base, dict) else {}, value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            base = result.get(key)
            result[key] = _merge_list(key, base if isinstance(base, list) else [], value)
        else:
            result[key] = value
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [item for item in result[field] if item not in value]
        elif key.startswith("$setElementOrder/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = _ordered(field, result[field], value)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(field: str, original: list[Any], patch: list[Any]) -> list[Any]:
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [
            _strip_directives(item)
            for item in patch
            if not (isinstance(item, dict) and item.get("$patch") == "replace")
        ]
    key = _MERGE_KEYS.get(field)
    if key is None:
        if field in _PRIMITIVE_SETS:
            return original + [item for item in patch if item not in original]
        return [_strip_directives(item) for item in patch]
    result = copy.deepcopy(original)
    for item in patch:
        if not isinstance(item, dict):
            continue
        wanted = item.get(key)
        index = next(
            (
                i
                for i, existing in enumerate(result)
                if isinstance(existing, dict) and existing.get(key) == wanted
            ),
            None,
        )
        if item.get("$patch") == "delete":
            result = [e for e in result if not (isinstance(e, dict) and e.get(key) == wanted)]
            continue
        if index is None:
            result.append(_strip_directives(item))
        else:
            merged = _merge_map(result[index], item)
            if merged is None:
                result.pop(index)
            else:
                result[index] = merged
    return result


def _ordered(field: str, items: list[Any], order: list[Any]) -> list[Any]:
    key = _MERGE_KEYS.get(field)
    if key is None:
        same = {json.dumps(v, sort_keys=True): i for i, v in enumerate(order)}
        return sorted(items, key=lambda item: same.get(json.dumps(item, sort_keys=True), len(same)))
    rank: dict[Any, int] = {
        entry.get(key): i for i, entry in enumerate(order) if isinstance(entry, dict)
    }
    return sorted(
        items,
        key=lambda item: rank.get(item.get(key) if isinstance(item, dict) else None, len(rank)),
    )


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def apply_json_patch(document: dict[str, Any], operations: list[Any]) -> dict[str, Any]:
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test)."""
    doc: Any = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise ApiError.bad_request("each JSON patch operation needs an op and a path")
        op, path = operation["op"], operation["path"]
        if op == "add":
            doc = _pointer_add(doc, path, copy.deepcopy(operation.get("value")))
        elif op == "remove":
            doc = _pointer_remove(doc, path)
        elif op == "replace":
            _pointer_get(doc, path)
            doc = _pointer_remove(doc, path)
            doc = _pointer_add(doc, path, copy.deepcopy(operation.get("value")))
        elif op in ("move", "copy"):
            value = copy.deepcopy(_pointer_get(doc, operation.get("from", "")))
            if op == "move":
                doc = _pointer_remove(doc, operation["from"])
            doc = _pointer_add(doc, path, value)
        elif op == "test":
            if _pointer_get(doc, path) != operation.get("value"):
                raise ApiError(422, "Invalid", f"testing value {path} failed")
        else:
            raise ApiError.bad_request(f'Unexpected kind: "{op}"')
    if not isinstance(doc, dict):
        raise ApiError.bad_request("the patched object is not an object")
    return doc


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError.bad_request(f'JSON pointer "{path}" does not start with "/"')
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _missing(path: str) -> ApiError:
    return ApiError(
        422,
        "Invalid",
        f'the JSON patch does not apply: doc is missing path: "{path}": missing value',
    )


def _pointer_get(doc: Any, path: str) -> Any:
    node = doc
    for token in _tokens(path):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise _missing(path)
    return node


def _pointer_parent(doc: Any, path: str) -> tuple[Any, str]:
    tokens = _tokens(path)
    if not tokens:
        raise ApiError.bad_request("a JSON patch cannot replace the whole object")
    parent = _pointer_get(
        doc, "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens[:-1])
    )
    return parent, tokens[-1]


def _pointer_add(doc: Any, path: str, value: Any) -> Any:
    if path == "":
        return value
    parent, token = _pointer_parent(doc, path)
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        if token == "-":
            parent.append(value)
        elif token.isdigit() and int(token) <= len(parent):
            parent.insert(int(token), value)
        else:
            raise _missing(path)
    else:
        raise _missing(path)
    return doc


def _pointer_remove(doc: Any, path: str) -> Any:
    parent, token = _pointer_parent(doc, path)
    if isinstance(parent, dict) and token in parent:
        del parent[token]
    elif isinstance(parent, list) and token.isdigit() and int(token) < len(parent):
        del parent[int(token)]
    else:
        raise _missing(path)
    return doc
