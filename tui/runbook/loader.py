"""Reading a runbook file: YAML with line numbers, size and expansion limits, and one
clear problem per mistake."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    ValidationError,
)
from pydantic_core import ErrorDetails

from tui.errors import Problem, RunbookError
from tui.runbook.queries import query_problem
from tui.runbook.schema import CrossReferenceError, Runbook

# --------------------------------------------------------------------------- loading


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe loader that refuses duplicate keys and reads only ``true``/``false`` as booleans
    (YAML 1.2), so ``yes:`` and ``no:`` stay the keys a decision tree needs."""


_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _construct_mapping(
    loader: _LineLoader, node: yaml.MappingNode, deep: bool = False
) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f'duplicate key "{key}" (first on line {seen[key] + 1})',
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=deep)
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


MAX_RUNBOOK_BYTES = 1024 * 1024
"""The largest runbook file read: the bundled ones are 10-30 KB, and a file many times
that is a mistake (a pasted log, a generated file) that would take seconds to validate."""

MAX_RUNBOOK_VALUES = 100_000
"""The most values a runbook may hold once its YAML aliases are expanded: the bundled
ones hold a few thousand, and a few nested aliases (a "billion laughs") can stand for
billions, which validating or indexing would try to build."""


def _check_expansion(node: yaml.Node, path: str) -> None:
    """Refuse a document whose aliases expand past :data:`MAX_RUNBOOK_VALUES`, or refer
    to themselves, naming the line of the anchored value that does it."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(current: yaml.Node) -> int:
        key = id(current)
        known = sizes.get(key)
        if known is not None:
            return known
        if key in open_nodes:
            raise RunbookError(
                Problem(
                    path,
                    current.start_mark.line + 1,
                    "",
                    "a YAML alias refers to the value that contains it (a recursive alias)",
                )
            )
        open_nodes.add(key)
        total = 1
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                total += size(key_node) + size(value_node)
        elif isinstance(current, yaml.SequenceNode):
            for item in current.value:
                total += size(item)
        open_nodes.discard(key)
        if total > MAX_RUNBOOK_VALUES:
            raise RunbookError(
                Problem(
                    path,
                    current.start_mark.line + 1,
                    "",
                    f"YAML aliases expand this value to over {MAX_RUNBOOK_VALUES:,} values "
                    "(an alias bomb); a runbook needs no more than a few thousand",
                )
            )
        sizes[key] = total
        return total

    size(node)


def _line_index(node: yaml.Node | None) -> dict[tuple[str | int, ...], int]:
    """Map every key path of a composed YAML document to its 1-based line."""
    lines: dict[tuple[str | int, ...], int] = {}

    def walk(current: yaml.Node, path: tuple[str | int, ...]) -> None:
        lines.setdefault(path, current.start_mark.line + 1)
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
                lines[(*path, key)] = key_node.start_mark.line + 1
                walk(value_node, (*path, key))
                lines[(*path, key)] = key_node.start_mark.line + 1
        elif isinstance(current, yaml.SequenceNode):
            for i, item in enumerate(current.value):
                walk(item, (*path, i))

    if node is not None:
        walk(node, ())
    return lines


def _data_path(data: Any, loc: Iterable[str | int]) -> tuple[str | int, ...]:
    """The part of a pydantic error location that names real keys of the document.

    Pydantic puts union tags (``set_env``, ``Predicate``) into locations; they are skipped.
    """
    path: list[str | int] = []
    current = data
    for part in loc:
        # two branches, not one `or`: each narrows `current` for its own index type
        if isinstance(current, dict) and part in current:  # noqa: SIM114
            current = current[part]
            path.append(part)
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
            path.append(part)
        elif isinstance(current, dict) and current.get("kind") == part:
            continue
        elif isinstance(current, dict) and part == "not_" and "not" in current:
            current = current["not"]
            path.append("not")
        elif isinstance(current, (dict, list)):
            # a tag or a missing key: keep a missing key (it is the field the user lacks)
            if isinstance(part, str) and not _looks_like_tag(part):
                path.append(part)
                break
        else:
            break
    return tuple(path)


def _looks_like_tag(part: str) -> bool:
    return (
        part[:1].isupper()
        or part.startswith(("function-", "json-or-python", "tagged-union", "union["))
        or "[" in part
    )


def _format_path(path: Iterable[str | int]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _line_for(lines: dict[tuple[str | int, ...], int], path: tuple[str | int, ...]) -> int | None:
    for cut in range(len(path), -1, -1):
        line = lines.get(path[:cut])
        if line is not None:
            return line
    return None


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "is not a field of this schema (unknown key)"
    if kind == "missing":
        return "is required but missing"
    if kind == "union_tag_invalid":
        expected = error.get("ctx", {}).get("expected_tags", "")
        return f"has an unknown kind; expected one of {expected}"
    if kind == "union_tag_not_found":
        return "is required but missing (it says which kind of entry this is)"
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def parse_runbook(text: str, path: str = "<runbook>", *, check_queries: bool = False) -> Runbook:
    """Parse and validate one runbook document; raise :class:`RunbookError` on any problem
    (with ``check_queries``, a signal query that is not valid PromQL is one too)."""
    if len(text) > MAX_RUNBOOK_BYTES:
        raise RunbookError(Problem(path, None, "", _too_large(len(text))))
    try:
        loader = _LineLoader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _check_expansion(node, path)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        reason = exc.problem or exc.context or "invalid YAML"
        raise RunbookError(Problem(path, line, "", f"YAML syntax error: {reason}")) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(0, exc.position)) + 1
        character = (
            f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        )
        raise RunbookError(
            Problem(path, line, "", f"YAML syntax error: the character {character} is not allowed")
        ) from None
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        raise RunbookError(Problem(path, None, "", f"YAML syntax error: {reason}")) from None
    except RecursionError:
        raise RunbookError(Problem(path, None, "", "the YAML is nested too deeply")) from None
    except ValueError as exc:
        reason = " ".join(str(exc).split())
        raise RunbookError(Problem(path, None, "", f"a value cannot be read: {reason}")) from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise RunbookError(
            Problem(path, 1, "", f"a runbook is a YAML mapping of fields, but this file is {kind}")
        )
    try:
        lines = _line_index(node)
    except RecursionError:
        raise RunbookError(Problem(path, None, "", "the YAML is nested too deeply")) from None
    try:
        book = Runbook.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            cross = _cross_reference_problems(error)
            if cross:
                for loc, message in cross:
                    problems.append(
                        Problem(path, _line_for(lines, loc), _format_path(loc), message)
                    )
                continue
            where = _data_path(data, error["loc"])
            if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
                where = (*where, "kind")
            problems.append(
                Problem(path, _line_for(lines, where), _format_path(where), _message(error))
            )
        raise RunbookError(_dedupe(problems)) from None
    if check_queries:
        found = []
        for index, signal in enumerate(book.signals):
            said = query_problem(signal.query)
            if said is not None:
                where = ("signals", index, "query")
                found.append(Problem(path, _line_for(lines, where), _format_path(where), said))
        if found:
            raise RunbookError(found)
    return book


def _cross_reference_problems(
    error: ErrorDetails,
) -> list[tuple[tuple[str | int, ...], str]]:
    ctx = error.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, CrossReferenceError):
        return inner.problems
    return []


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, int | None, str, str]] = set()
    unique = []
    for problem in problems:
        key = (problem.path, problem.line, problem.field, problem.message)
        if key not in seen:
            seen.add(key)
            unique.append(problem)
    # a union error is reported once per member; keep the most specific member's messages
    return unique


def _too_large(size: int) -> str:
    return (
        f"is {size / 1024 / 1024:.1f} MiB; a runbook file may be at most "
        f"{MAX_RUNBOOK_BYTES // 1024 // 1024} MiB"
    )


def load_runbook(path: str | os.PathLike[str], *, check_queries: bool = False) -> Runbook:
    """Load one runbook file; raise :class:`RunbookError` naming the file on any problem."""
    name = str(path)
    try:
        with Path(path).open("rb") as file:
            raw = file.read(MAX_RUNBOOK_BYTES + 1)
            if len(raw) > MAX_RUNBOOK_BYTES:
                size = os.fstat(file.fileno()).st_size
                raise RunbookError(Problem(name, None, "", _too_large(max(size, len(raw)))))
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise RunbookError(Problem(name, None, "", "no such file")) from None
    except UnicodeDecodeError as exc:
        raise RunbookError(
            Problem(name, None, "", f"is not UTF-8 text (byte {exc.start})")
        ) from None
    except OSError as exc:
        raise RunbookError(Problem(name, None, "", f"cannot be read: {exc.strerror}")) from None
    return parse_runbook(text, name, check_queries=check_queries)
