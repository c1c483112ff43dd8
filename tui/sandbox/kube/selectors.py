"""Label and field selectors in the syntax kubectl and the Kubernetes API use."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["FieldSelector", "LabelSelector", "Requirement", "SelectorError"]

Operator = Literal["=", "!=", "in", "notin", "exists", "!exists"]

_KEY = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?")
_VALUE = re.compile(r"([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)?")


class SelectorError(ValueError):
    """A selector that does not parse; its message is the API's wording."""


@dataclass(frozen=True)
class Requirement:
    """One clause of a label selector, such as ``app=x`` or ``tier notin (a,b)``."""

    key: str
    op: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        match self.op:
            case "=":
                return present and labels[self.key] == self.values[0]
            case "!=":
                return not present or labels[self.key] != self.values[0]
            case "in":
                return present and labels[self.key] in self.values
            case "notin":
                return not present or labels[self.key] not in self.values
            case "exists":
                return present
            case _:
                return not present

    def __str__(self) -> str:
        match self.op:
            case "exists":
                return self.key
            case "!exists":
                return f"!{self.key}"
            case "in" | "notin":
                return f"{self.key} {self.op} ({','.join(sorted(self.values))})"
            case _:
                return f"{self.key}{self.op}{self.values[0]}"


@dataclass(frozen=True)
class LabelSelector:
    """A conjunction of requirements; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(requirement.matches(labels) for requirement in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        """Parse ``app=x,tier!=db,env in (a,b),!canary,release`` as kubectl writes it."""
        if not text or not text.strip():
            return cls()
        return cls(tuple(_LabelParser(text).parse()))

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | None) -> LabelSelector:
        """The selector of a ``matchLabels`` / ``matchExpressions`` object (a Deployment's)."""
        spec = spec or {}
        requirements = [
            Requirement(key, "=", (str(value),))
            for key, value in sorted((spec.get("matchLabels") or {}).items())
        ]
        operators: dict[str, Operator] = {
            "In": "in",
            "NotIn": "notin",
            "Exists": "exists",
            "DoesNotExist": "!exists",
        }
        for expression in spec.get("matchExpressions") or []:
            op = operators.get(expression.get("operator", ""))
            if op is None:
                raise SelectorError(
                    f'"{expression.get("operator")}" is not a valid selector operator'
                )
            requirements.append(
                Requirement(expression["key"], op, tuple(expression.get("values") or ()))
            )
        return cls(tuple(requirements))


class _LabelParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> list[Requirement]:
        requirements = [self._requirement()]
        while True:
            self._space()
            if self.pos >= len(self.text):
                return requirements
            self._expect(",")
            requirements.append(self._requirement())

    def _requirement(self) -> Requirement:
        self._space()
        if self._peek("!"):
            self.pos += 1
            return Requirement(self._key(), "!exists")
        key = self._key()
        self._space()
        for op in ("==", "!=", "="):
            if self._peek(op):
                self.pos += len(op)
                self._space()
                return Requirement(key, "!=" if op == "!=" else "=", (self._value(),))
        for word in ("notin", "in"):
            if re.match(rf"{word}\s*\(", self.text[self.pos :]):
                self.pos += len(word)
                self._space()
                self._expect("(")
                values = [self._value()]
                self._space()
                while self._peek(","):
                    self.pos += 1
                    values.append(self._value())
                    self._space()
                self._expect(")")
                return Requirement(key, "in" if word == "in" else "notin", tuple(values))
        return Requirement(key, "exists")

    def _key(self) -> str:
        self._space()
        found = _KEY.match(self.text, self.pos)
        if not found:
            raise self._error("a label key")
        self.pos = found.end()
        return found.group(0)

    def _value(self) -> str:
        self._space()
        found = _VALUE.match(self.text, self.pos)
        assert found is not None  # the value pattern also matches the empty string
        self.pos = found.end()
        return found.group(0)

    def _space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _peek(self, token: str) -> bool:
        return self.text.startswith(token, self.pos)

    def _expect(self, token: str) -> None:
        self._space()
        if not self._peek(token):
            raise self._error(f'"{token}"')
        self.pos += len(token)

    def _error(self, wanted: str) -> SelectorError:
        return SelectorError(
            f'unable to parse requirement: found "{self.text[self.pos :]}", expected: {wanted}'
        )


@dataclass(frozen=True)
class FieldSelector:
    """``metadata.name=x,status.phase!=Running``: equality tests on dotted object paths."""

    terms: tuple[tuple[str, bool, str], ...] = ()
    """(path, wanted_equal, value) triples."""

    @classmethod
    def parse(cls, text: str | None) -> FieldSelector:
        if not text or not text.strip():
            return cls()
        terms = []
        for part in _split_unescaped(text, ","):
            for op, equal in (("!=", False), ("==", True), ("=", True)):
                path, sep, value = part.partition(op)
                if sep:
                    terms.append((path.strip(), equal, _unescape(value.strip())))
                    break
            else:
                raise SelectorError(f'invalid selector: "{text}"; can\'t understand "{part}"')
        return cls(tuple(terms))

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all((_lookup(obj, path) == value) == equal for path, equal, value in self.terms)

    def value_of(self, path: str) -> str | None:
        """The value an ``=`` term requires of ``path`` (such as ``metadata.name``), if any."""
        for term_path, equal, value in self.terms:
            if term_path == path and equal:
                return value
        return None

    def __str__(self) -> str:
        return ",".join(f"{p}{'=' if eq else '!='}{v}" for p, eq, v in self.terms)


def _lookup(obj: Mapping[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return ""
        node = node[part]
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()]


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)
