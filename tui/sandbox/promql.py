"""A small PromQL engine over the sandbox's own series, for the demo without a Prometheus.

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

Semantics follow Prometheus 2.x: a 5 minute look-back for instant selectors, range
selectors closed at both ends, metric names dropped by functions, aggregations and
arithmetic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from tui.sandbox.metrics import LabelSet, Series, SeriesStore

__all__ = [
    "MAX_POINTS",
    "Engine",
    "QueryError",
    "format_sample_value",
    "parse",
    "parse_duration_ms",
    "parse_step",
    "parse_timestamp",
]

MAX_POINTS = 11_000
"""Points per series a range query may return (Prometheus's own limit)."""

LOOKBACK_MS = 5 * 60 * 1000


class QueryError(Exception):
    """A query that cannot be answered; ``error_type`` is Prometheus's ``errorType``."""

    def __init__(self, message: str, error_type: str = "bad_data", status: int = 400) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.status = status


# --------------------------------------------------------------------------- values


def format_sample_value(value: float) -> str:
    """A sample value as Prometheus's JSON carries it: shortest form, no exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


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


# --------------------------------------------------------------------------- evaluation

Labels = dict[str, str]


@dataclass
class _Sample:
    labels: Labels
    value: float


def _without_name(labels: Labels) -> Labels:
    return {k: v for k, v in labels.items() if k != "__name__"}


def _arith(op: str, a: float, b: float) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _extrapolated_rate(
    times: list[int],
    values: list[float],
    range_start: int,
    range_end: int,
    range_ms: int,
    is_rate: bool,
) -> float | None:
    """Prometheus 2.x ``extrapolatedRate`` for counters."""
    if len(times) < 2:
        return None
    result = values[-1] - values[0]
    last = 0.0
    for value in values:
        if value < last:
            result += last
        last = value
    to_start = (times[0] - range_start) / 1000
    to_end = (range_end - times[-1]) / 1000
    sampled = (times[-1] - times[0]) / 1000
    average = sampled / (len(times) - 1)
    if result > 0 and values[0] >= 0:
        to_zero = sampled * (values[0] / result)
        to_start = min(to_start, to_zero)
    threshold = average * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average / 2
    interval += to_end if to_end < threshold else average / 2
    result *= interval / sampled
    if is_rate:
        result /= range_ms / 1000
    return result


def _irate(times: list[int], values: list[float]) -> float | None:
    if len(times) < 2:
        return None
    last, previous = values[-1], values[-2]
    delta = last if last < previous else last - previous
    interval = times[-1] - times[-2]
    if interval == 0:
        return None
    return delta / (interval / 1000)


def _bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus 2.x ``bucketQuantile`` over ``(upper bound, cumulative count)`` pairs."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    buckets = sorted(buckets)
    if not buckets or not math.isinf(buckets[-1][0]):
        return math.nan
    merged: list[list[float]] = []
    for bound, count in buckets:
        if merged and merged[-1][0] == bound:
            merged[-1][1] += count
        else:
            merged.append([bound, count])
    highest = -math.inf
    for bucket in merged:
        if bucket[1] > highest:
            highest = bucket[1]
        elif bucket[1] < highest:
            bucket[1] = highest
    if len(merged) < 2:
        return math.nan
    observations = merged[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next((i for i in range(len(merged) - 1) if merged[i][1] >= rank), len(merged) - 1)
    if b == len(merged) - 1:
        return merged[-2][0]
    if b == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start = 0.0
    end = merged[b][0]
    count = merged[b][1]
    if b > 0:
        start = merged[b - 1][0]
        count -= merged[b - 1][1]
        rank -= merged[b - 1][1]
    return start + (end - start) * (rank / count)


def _aggregate(op: str, values: list[float]) -> float:
    if op == "sum":
        return sum(values)
    if op == "avg":
        return sum(values) / len(values)
    if op == "count":
        return float(len(values))
    pick: Callable[[float, float], bool] = (
        (lambda new, old: new > old) if op == "max" else (lambda new, old: new < old)
    )
    result = values[0]
    for value in values[1:]:
        if pick(value, result) or math.isnan(result):
            result = value
    return result


@dataclass
class _Evaluation:
    """One query's evaluation: the selected series are looked up once for all steps."""

    store: SeriesStore
    selected: dict[int, list[tuple[Labels, Series]]] = field(default_factory=dict)

    def series_for(self, selector: VectorSelector) -> list[tuple[Labels, Series]]:
        key = id(selector)
        if key not in self.selected:
            found = []
            for series in self.store.series():
                labels = dict(series.labels)
                if all(m.matches(labels) for m in selector.matchers):
                    found.append((labels, series))
            self.selected[key] = found
        return self.selected[key]

    def scalar(self, node: Node, at: int) -> float:
        result = self.eval(node, at)
        assert isinstance(result, float)
        return result

    def eval(self, node: Node, at: int) -> float | list[_Sample]:
        if isinstance(node, NumberLiteral):
            return node.value
        if isinstance(node, VectorSelector):
            out = []
            for labels, series in self.series_for(node):
                latest = series.latest(at, LOOKBACK_MS)
                if latest is not None:
                    out.append(_Sample(labels, latest[1]))
            return out
        if isinstance(node, Call):
            return _unique(self.call(node, at))
        if isinstance(node, Aggregate):
            return self.aggregate(node, at)
        if isinstance(node, Unary):
            inner = self.eval(node.expr, at)
            if isinstance(inner, float):
                return -inner
            return [_Sample(_without_name(s.labels), -s.value) for s in inner]
        if isinstance(node, Binary):
            result = self.binary(node, at)
            return result if isinstance(result, float) else _unique(result)
        raise QueryError(f"cannot evaluate {type(node).__name__}", "execution", 422)

    def call(self, node: Call, at: int) -> list[_Sample]:
        if node.function == "histogram_quantile":
            q = self.scalar(node.args[0], at)
            vector = self.eval(node.args[1], at)
            assert isinstance(vector, list)
            groups: dict[LabelSet, tuple[Labels, list[tuple[float, float]]]] = {}
            for sample in vector:
                le = sample.labels.get("le")
                if le is None:
                    continue
                try:
                    bound = float(le)
                except ValueError:
                    continue
                rest = {k: v for k, v in sample.labels.items() if k not in ("le", "__name__")}
                key = tuple(sorted(rest.items()))
                groups.setdefault(key, (rest, []))[1].append((bound, sample.value))
            return [_Sample(rest, _bucket_quantile(q, b)) for rest, b in groups.values()]
        matrix = node.args[0]
        assert isinstance(matrix, MatrixSelector)
        out = []
        start = at - matrix.range_ms
        for labels, series in self.series_for(matrix.vector):
            times, values = series.between(start, at)
            if node.function == "irate":
                value = _irate(times, values)
            else:
                value = _extrapolated_rate(
                    times, values, start, at, matrix.range_ms, node.function == "rate"
                )
            if value is not None:
                out.append(_Sample(_without_name(labels), value))
        return out

    def aggregate(self, node: Aggregate, at: int) -> list[_Sample]:
        vector = self.eval(node.expr, at)
        assert isinstance(vector, list)
        groups: dict[LabelSet, tuple[Labels, list[float]]] = {}
        for sample in vector:
            if node.without:
                drop = {*node.grouping, "__name__"}
                labels = {k: v for k, v in sample.labels.items() if k not in drop}
            else:
                labels = {k: sample.labels[k] for k in node.grouping if sample.labels.get(k)}
            key = tuple(sorted(labels.items()))
            groups.setdefault(key, (labels, []))[1].append(sample.value)
        return [_Sample(labels, _aggregate(node.op, values)) for labels, values in groups.values()]

    def binary(self, node: Binary, at: int) -> float | list[_Sample]:
        lhs = self.eval(node.lhs, at)
        rhs = self.eval(node.rhs, at)
        if isinstance(lhs, float) and isinstance(rhs, float):
            return _arith(node.op, lhs, rhs)
        if isinstance(rhs, float):
            assert isinstance(lhs, list)
            return [_Sample(_without_name(s.labels), _arith(node.op, s.value, rhs)) for s in lhs]
        if isinstance(lhs, float):
            return [_Sample(_without_name(s.labels), _arith(node.op, lhs, s.value)) for s in rhs]
        right: dict[LabelSet, _Sample] = {}
        for sample in rhs:
            key = tuple(sorted(_without_name(sample.labels).items()))
            if key in right:
                raise QueryError(
                    f"found duplicate series for the match group {dict(key)} on the right "
                    "hand-side of the operation; many-to-many matching not allowed: matching "
                    "labels must be unique on one side",
                    "execution",
                    422,
                )
            right[key] = sample
        out: list[_Sample] = []
        seen: set[LabelSet] = set()
        for sample in lhs:
            labels = _without_name(sample.labels)
            key = tuple(sorted(labels.items()))
            match = right.get(key)
            if match is None:
                continue
            if key in seen:
                raise QueryError(
                    "multiple matches for labels: many-to-one matching must be explicit "
                    "(group_left/group_right)",
                    "execution",
                    422,
                )
            seen.add(key)
            out.append(_Sample(labels, _arith(node.op, sample.value, match.value)))
        return out


def _unique(samples: list[_Sample]) -> list[_Sample]:
    """Refuse a result in which two samples share a label set, as Prometheus does."""
    seen: set[LabelSet] = set()
    for sample in samples:
        key = tuple(sorted(sample.labels.items()))
        if key in seen:
            raise QueryError(
                "vector cannot contain metrics with the same labelset", "execution", 422
            )
        seen.add(key)
    return samples


def _ts(ms: int) -> float:
    return ms / 1000


class Engine:
    """Answers ``/api/v1/query`` and ``/api/v1/query_range`` from a :class:`SeriesStore`."""

    def __init__(self, store: SeriesStore) -> None:
        self.store = store

    def instant(self, query: str, at_ms: int) -> dict[str, Any]:
        """The ``data`` object of an instant query."""
        node = parse(query)
        evaluation = _Evaluation(self.store)
        if isinstance(node, MatrixSelector):
            result = []
            for labels, series in evaluation.series_for(node.vector):
                times, values = series.between(at_ms - node.range_ms, at_ms)
                if times:
                    result.append(
                        {
                            "metric": labels,
                            "values": [
                                [_ts(t), format_sample_value(v)]
                                for t, v in zip(times, values, strict=True)
                            ],
                        }
                    )
            return {"resultType": "matrix", "result": result}
        value = evaluation.eval(node, at_ms)
        if isinstance(value, float):
            return {"resultType": "scalar", "result": [_ts(at_ms), format_sample_value(value)]}
        return {
            "resultType": "vector",
            "result": [
                {"metric": s.labels, "value": [_ts(at_ms), format_sample_value(s.value)]}
                for s in value
            ],
        }

    def range(self, query: str, start_ms: int, end_ms: int, step_ms: int) -> dict[str, Any]:
        """The ``data`` object of a range query."""
        if end_ms < start_ms:
            raise QueryError("end timestamp must not be before start time")
        if step_ms <= 0:
            raise QueryError(
                "zero or negative query resolution step widths are not accepted. "
                "Try a positive integer"
            )
        if (end_ms - start_ms) / step_ms > MAX_POINTS:
            raise QueryError(
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)"
            )
        node = parse(query)
        if node.type == "matrix":
            raise QueryError(
                'invalid expression type "range vector" for range query, must be Scalar or '
                "instant Vector"
            )
        evaluation = _Evaluation(self.store)
        series: dict[LabelSet, tuple[Labels, list[list[Any]]]] = {}
        at = start_ms
        while at <= end_ms:
            value = evaluation.eval(node, at)
            samples = [_Sample({}, value)] if isinstance(value, float) else value
            for sample in samples:
                key = tuple(sorted(sample.labels.items()))
                entry = series.setdefault(key, (sample.labels, []))
                entry[1].append([_ts(at), format_sample_value(sample.value)])
            at += step_ms
        return {
            "resultType": "matrix",
            "result": [
                {"metric": labels, "values": points}
                for _, (labels, points) in sorted(series.items())
            ],
        }
