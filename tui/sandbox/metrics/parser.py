"""The PromQL the sandbox's engine understands: lexer, parser and syntax tree, and the
durations and timestamps of the query API's parameters.

The supported subset (everything else is refused with Prometheus's ``bad_data`` error,
never answered with a made-up value):

- number literals (``60``, ``0.99``, ``1e3``, ``Inf``, ``NaN``);
- vector selectors with label matchers ``=``, ``!=``, ``=~``, ``!~``
  (``clay_errors_total{code=~"5.."}``, ``{__name__="x"}``);
- range vectors ``[30s]``, ``[1m]``, ``[1h]``, ``[1m30s]`` on a selector;
- ``rate``, ``irate``, ``increase`` (Prometheus 2.x extrapolation and counter resets);
- ``sum``, ``avg``, ``max``, ``min``, ``count`` with ``by (...)`` or ``without (...)``
  before or after the parenthesis;
- ``histogram_quantile(φ, vector)`` over classic ``le`` buckets;
- ``+ - * /`` between a vector and a number, between two numbers, and between two
  vectors matched one-to-one on their labels; unary minus; parentheses.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

__all__ = [
    "AGGREGATIONS",
    "FUNCTIONS",
    "Aggregate",
    "Binary",
    "Call",
    "Matcher",
    "MatrixSelector",
    "Node",
    "NumberLiteral",
    "QueryError",
    "Unary",
    "ValueType",
    "VectorSelector",
    "parse",
    "parse_duration_ms",
    "parse_step",
    "parse_timestamp",
]


class QueryError(Exception):
    """A query that cannot be answered; ``error_type`` is Prometheus's ``errorType``."""

    def __init__(self, message: str, error_type: str = "bad_data", status: int = 400) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.status = status


# --------------------------------------------------------------------------- values


_DURATION_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION_UNITS |= {"w": 7 * 86_400_000, "y": 365 * 86_400_000}
_DURATION = re.compile(r"^(?:\d+(?:ms|s|m|h|d|w|y))+$")
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


def parse_duration_ms(text: str) -> int:
    """``"1m30s"`` -> 90000."""
    if not _DURATION.match(text):
        raise QueryError(f'not a valid duration string: "{text}"')
    return sum(int(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(text))


def parse_timestamp(text: str, name: str) -> int:
    """A ``time``/``start``/``end`` parameter (unix seconds or RFC 3339) in milliseconds."""
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise QueryError(
                f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp'
            ) from None
    if math.isnan(seconds) or math.isinf(seconds):
        raise QueryError(f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp')
    return round(seconds * 1000)


def parse_step(text: str) -> int:
    """A ``step`` parameter (seconds or a duration) in milliseconds."""
    try:
        seconds = float(text)
    except ValueError:
        try:
            return parse_duration_ms(text)
        except QueryError:
            raise QueryError(
                f'invalid parameter "step": cannot parse "{text}" to a valid duration'
            ) from None
    if math.isnan(seconds) or math.isinf(seconds):
        raise QueryError(f'invalid parameter "step": cannot parse "{text}" to a valid duration')
    return round(seconds * 1000)


# --------------------------------------------------------------------------- syntax tree

ValueType = Literal["scalar", "vector", "matrix"]


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str
    regex: re.Pattern[str] | None = None

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self.regex is not None
        found = self.regex.fullmatch(actual) is not None
        return found if self.op == "=~" else not found


@dataclass(frozen=True)
class NumberLiteral:
    value: float
    type: ValueType = "scalar"


@dataclass(frozen=True)
class VectorSelector:
    matchers: tuple[Matcher, ...]
    text: str
    type: ValueType = "vector"


@dataclass(frozen=True)
class MatrixSelector:
    vector: VectorSelector
    range_ms: int
    type: ValueType = "matrix"


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Node, ...]
    type: ValueType = "vector"


@dataclass(frozen=True)
class Aggregate:
    op: str
    expr: Node
    grouping: tuple[str, ...] = ()
    without: bool = False
    type: ValueType = "vector"


@dataclass(frozen=True)
class Unary:
    expr: Node
    type: ValueType


@dataclass(frozen=True)
class Binary:
    op: str
    lhs: Node
    rhs: Node
    type: ValueType


Node = NumberLiteral | VectorSelector | MatrixSelector | Call | Aggregate | Unary | Binary

# --------------------------------------------------------------------------- lexer

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<duration>\d+(?:ms|s|m|h|d|w|y)(?:\d+(?:ms|s|m|h|d|w|y))*(?![\w.]))
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^=<>(){}\[\],:@])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int


def _tokenize(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(query):
        match = _TOKEN.match(query, pos)
        if match is None:
            raise QueryError(f"1:{pos + 1}: parse error: unexpected character: {query[pos]!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(_Token("eof", "", len(query)))
    return tokens


def _unquote(text: str) -> str:
    if text[0] == "`":
        return text[1:-1]
    body = text[1:-1]
    out: list[str] = []
    i = 0
    simple = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a"}
    simple |= {"b": "\b", "f": "\f", "v": "\v"}
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
                continue
            if nxt in "xuU":
                width = {"x": 2, "u": 4, "U": 8}[nxt]
                try:
                    out.append(chr(int(body[i + 2 : i + 2 + width], 16)))
                except ValueError:
                    raise QueryError(f"parse error: invalid escape in {text}") from None
                i += 2 + width
                continue
            raise QueryError(f"parse error: unknown escape sequence in {text}")
        out.append(char)
        i += 1
    return "".join(out)


# --------------------------------------------------------------------------- parser

AGGREGATIONS = ("sum", "avg", "max", "min", "count")
FUNCTIONS: dict[str, tuple[ValueType, ...]] = {
    "rate": ("matrix",),
    "irate": ("matrix",),
    "increase": ("matrix",),
    "histogram_quantile": ("scalar", "vector"),
}
_UNSUPPORTED_AGGREGATIONS = {
    "topk",
    "bottomk",
    "quantile",
    "stddev",
    "stdvar",
    "count_values",
    "group",
}
_UNSUPPORTED_KEYWORDS = {
    "offset",
    "bool",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "atan2",
}
_TYPE_NAMES = {"scalar": "scalar", "vector": "instant vector", "matrix": "range vector"}


def _unsupported(what: str) -> QueryError:
    return QueryError(
        f"{what} is not supported by the sandbox's query engine (it answers selectors, "
        "rate/irate/increase, sum/avg/max/min/count by/without, histogram_quantile and "
        "+ - * / arithmetic)"
    )


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = _tokenize(query)
        self.index = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def error(self, message: str, token: _Token | None = None) -> QueryError:
        token = token or self.token
        return QueryError(f"1:{token.pos + 1}: parse error: {message}")

    def expect(self, text: str, what: str) -> _Token:
        if self.token.text != text or self.token.kind == "string":
            found = self.token.text or "end of input"
            raise self.error(f'unexpected {found!r} in {what}, expected "{text}"')
        return self.advance()

    def parse(self) -> Node:
        if self.token.kind == "eof":
            raise QueryError("1:1: parse error: no expression found in input")
        node = self.additive()
        if self.token.kind != "eof":
            token = self.token
            if token.text in ("==", "!=", ">", "<", ">=", "<="):
                raise _unsupported(f'the comparison operator "{token.text}"')
            if token.text in ("%", "^"):
                raise _unsupported(f'the operator "{token.text}"')
            if token.text in _UNSUPPORTED_KEYWORDS or token.text == "@":
                raise _unsupported(f'"{token.text}"')
            raise self.error(f"unexpected {token.text!r}")
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.token.text in ("+", "-") and self.token.kind == "op":
            op = self.advance().text
            node = self.binary(op, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.token.text in ("*", "/") and self.token.kind == "op":
            op = self.advance().text
            node = self.binary(op, node, self.unary())
        return node

    def binary(self, op: str, lhs: Node, rhs: Node) -> Node:
        if self.token.text in _UNSUPPORTED_KEYWORDS:
            raise _unsupported(f'"{self.token.text}"')
        for side in (lhs, rhs):
            if side.type == "matrix":
                raise QueryError(
                    "parse error: binary expression must contain only scalar and instant "
                    "vector types"
                )
        kind: ValueType = "scalar" if lhs.type == rhs.type == "scalar" else "vector"
        return Binary(op, lhs, rhs, kind)

    def unary(self) -> Node:
        if self.token.kind == "op" and self.token.text in ("-", "+"):
            op = self.advance().text
            operand = self.unary()
            if operand.type == "matrix":
                raise QueryError(
                    "parse error: unary expression only allowed on expressions of type "
                    "scalar or instant vector"
                )
            if op == "+":
                return operand
            if isinstance(operand, NumberLiteral):
                return NumberLiteral(-operand.value)
            return Unary(operand, operand.type)
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        if self.token.text == "[" and self.token.kind == "op":
            bracket = self.advance()
            if not isinstance(node, VectorSelector):
                raise _unsupported("a subquery or a range on anything but a selector")
            if self.token.kind != "duration":
                raise self.error("bad duration syntax in range selector", bracket)
            range_ms = parse_duration_ms(self.advance().text)
            if self.token.text.startswith(":"):
                raise _unsupported("a subquery")
            self.expect("]", "range selector")
            if range_ms <= 0:
                raise self.error("range must be positive", bracket)
            node = MatrixSelector(node, range_ms)
        if self.token.text in ("offset", "@"):
            raise _unsupported(f'"{self.token.text}"')
        return node

    def primary(self) -> Node:
        token = self.token
        if token.kind == "number":
            self.advance()
            text = token.text
            return NumberLiteral(float(int(text, 16)) if text[:2].lower() == "0x" else float(text))
        if token.kind == "duration":
            raise self.error(f"unexpected duration {token.text!r}")
        if token.kind == "string":
            raise _unsupported("a string literal")
        if token.text == "(":
            self.advance()
            node = self.additive()
            self.expect(")", "parenthesised expression")
            return node
        if token.text == "{":
            return self.selector(None)
        if token.kind == "ident":
            lower = token.text.lower()
            if lower in ("inf", "nan") and self.tokens[self.index + 1].text not in ("{", "("):
                self.advance()
                return NumberLiteral(float(lower))
            nxt = self.tokens[self.index + 1]
            if token.text in AGGREGATIONS and nxt.text in ("(", "by", "without"):
                return self.aggregate()
            if token.text in _UNSUPPORTED_AGGREGATIONS and nxt.text in ("(", "by", "without"):
                raise _unsupported(f'the aggregation "{token.text}"')
            if nxt.text == "(":
                if token.text in FUNCTIONS:
                    return self.call()
                raise _unsupported(f'the function "{token.text}"')
            if token.text in _UNSUPPORTED_KEYWORDS:
                raise _unsupported(f'"{token.text}"')
            return self.selector(self.advance())
        found = token.text or "end of input"
        raise self.error(f"unexpected {found!r}")

    def selector(self, name: _Token | None) -> VectorSelector:
        matchers: list[Matcher] = []
        start = name.pos if name else self.token.pos
        if name is not None:
            matchers.append(Matcher("__name__", "=", name.text))
        if self.token.text == "{":
            self.advance()
            while self.token.text != "}":
                label = self.advance()
                if label.kind != "ident":
                    raise self.error(f"unexpected {label.text!r} in label matching", label)
                op = self.advance()
                if op.text not in ("=", "!=", "=~", "!~"):
                    raise self.error(f"unexpected {op.text!r} in label matching, expected =", op)
                value = self.advance()
                if value.kind != "string":
                    raise self.error(
                        f"unexpected {value.text!r} in label matching, expected string", value
                    )
                text = _unquote(value.text)
                regex = None
                if op.text in ("=~", "!~"):
                    try:
                        regex = re.compile(text)
                    except re.error as error:
                        raise QueryError(
                            f'parse error: invalid regular expression "{text}": {error}'
                        ) from None
                if label.text == "__name__" and name is not None:
                    raise self.error("metric name must not be set twice", label)
                matchers.append(Matcher(label.text, op.text, text, regex))
                if self.token.text == ",":
                    self.advance()
                elif self.token.text != "}":
                    raise self.error(f"unexpected {self.token.text!r} in label matching")
            self.advance()
        if not any(not m.matches({}) for m in matchers):
            raise QueryError(
                "parse error: vector selector must contain at least one non-empty matcher"
            )
        return VectorSelector(tuple(matchers), self.query[start : self.token.pos].strip())

    def grouping(self) -> tuple[bool, tuple[str, ...]]:
        without = self.advance().text == "without"
        self.expect("(", "grouping")
        labels: list[str] = []
        while self.token.text != ")":
            label = self.advance()
            if label.kind != "ident":
                raise self.error(f"unexpected {label.text!r} in grouping opts", label)
            labels.append(label.text)
            if self.token.text == ",":
                self.advance()
            elif self.token.text != ")":
                raise self.error(f"unexpected {self.token.text!r} in grouping opts")
        self.advance()
        return without, tuple(labels)

    def aggregate(self) -> Aggregate:
        op = self.advance().text
        without = False
        grouping: tuple[str, ...] = ()
        has_grouping = False
        if self.token.text in ("by", "without"):
            without, grouping = self.grouping()
            has_grouping = True
        self.expect("(", f"aggregation {op}")
        expr = self.additive()
        if self.token.text == ",":
            raise _unsupported(f'a parameter to "{op}"')
        self.expect(")", f"aggregation {op}")
        if self.token.text in ("by", "without"):
            if has_grouping:
                raise self.error("multiple grouping clauses")
            without, grouping = self.grouping()
        if expr.type != "vector":
            raise QueryError(
                f"parse error: expected type instant vector in aggregation expression, got "
                f"{_TYPE_NAMES[expr.type]}"
            )
        return Aggregate(op, expr, grouping, without)

    def call(self) -> Call:
        name = self.advance().text
        self.expect("(", f"call to {name}")
        args: list[Node] = []
        while self.token.text != ")":
            args.append(self.additive())
            if self.token.text == ",":
                self.advance()
            elif self.token.text != ")":
                raise self.error(f"unexpected {self.token.text!r} in call to {name}")
        self.advance()
        expected = FUNCTIONS[name]
        if len(args) != len(expected):
            raise QueryError(
                f'parse error: expected {len(expected)} argument(s) in call to "{name}", '
                f"got {len(args)}"
            )
        for arg, kind in zip(args, expected, strict=True):
            if arg.type != kind:
                raise QueryError(
                    f'parse error: expected type {_TYPE_NAMES[kind]} in call to function "{name}", '
                    f"got {_TYPE_NAMES[arg.type]}"
                )
        return Call(name, tuple(args))


def parse(query: str) -> Node:
    """Parse a query of the supported subset, or raise :class:`QueryError`."""
    return _Parser(query).parse()
