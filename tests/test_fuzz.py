"""Whatever a file or a backend sends, it is either read or refused with the typed error
and one clear sentence; nothing else escapes, and a log line never drives the terminal.

The default run tries a hundred-odd examples per target; ``make test-all`` runs the
``slow`` variants with at least a thousand each."""

from __future__ import annotations

import asyncio
import json
import math
import re
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from textual.app import App, ComposeResult

from tui.errors import ConfigError, RunbookError, SourceError, SourceMalformed
from tui.inert import inert
from tui.runbook import load_runbook
from tui.settings import Settings, load_settings
from tui.signals import Component, Health, LogLine, PodState, VendorStatus
from tui.sources.kube.objects import parse_pod, parse_timestamp
from tui.sources.prometheus import _parse_matrix, parse_vector
from tui.sources.statuspage import StatusPageSource, parse_health, parse_summary
from widgets.log_view import LogView

QUICK = settings(
    max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
LONG = settings(
    max_examples=1200, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
BUNDLED = Path(__file__).resolve().parent.parent / "runbooks" / "clay.yaml"
CONTROL = "".join(chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)])
ESCAPES = [
    "\x1b[31m",
    "\x1b[2J",
    "\x1b]0;owned\x07",
    "\x1b]8;;http://127.0.0.1/\x1b\\link\x1b]8;;\x1b\\",
    "\x1bP+q\x1b\\",
    "\x9b31m",
    "\x1b[?1049h",
    "\r",
    "\x08",
    "\x00",
]


def one_sentence(error: Exception, path: str | None = None) -> str:
    """The message is one non-empty line, naming the file when there is one."""
    message = str(error)
    assert message.strip(), f"{type(error).__name__} without a message"
    if path is not None:
        assert message.startswith(path), message
    assert "Traceback" not in message
    return message


# --------------------------------------------------------------------------- strategies

texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=400)
control_text = st.text(alphabet=st.sampled_from(CONTROL + "ab:-[]{}#\n "), max_size=200)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def with_keys(keys: list[str], value: st.SearchStrategy[Any] = json_values) -> Any:
    """Objects that use the names a parser looks for, with any values."""
    return st.dictionaries(st.sampled_from(keys), value, max_size=len(keys))


BUNDLED_LINES = BUNDLED.read_text(encoding="utf-8").splitlines(keepends=True)


@st.composite
def broken_runbook_bytes(draw: st.DrawFn) -> bytes:
    """A bundled runbook with a damage of a kind the structural mutations never make."""
    kind = draw(
        st.sampled_from(
            [
                "bytes",
                "not-utf8",
                "huge-line",
                "control",
                "nesting",
                "aliases",
                "recursive-alias",
                "huge-scalar",
                "huge-file",
            ]
        )
    )
    at = draw(st.integers(0, len(BUNDLED_LINES)))
    head, tail = "".join(BUNDLED_LINES[:at]), "".join(BUNDLED_LINES[at:])
    if kind == "bytes":
        return draw(st.binary(max_size=600))
    if kind == "not-utf8":
        bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80"]))
        return head.encode() + bad + tail.encode()
    if kind == "huge-line":
        size = draw(st.integers(10_000, 200_000))
        line = "overview: " + draw(st.sampled_from("x# :-")) * size + "\n"
        return (head + line + tail).encode()
    if kind == "control":
        return (head + draw(control_text) + tail).encode("utf-8", "surrogatepass")
    whole = head + tail
    if kind == "aliases":
        # a "billion laughs": each level repeats the one before; breadth ** depth values
        breadth, depth = draw(st.integers(2, 12)), draw(st.integers(1, 9))
        levels = ["x0: &x0 [" + ", ".join(['"lol"'] * breadth) + "]\n"]
        for level in range(1, depth):
            refs = ", ".join([f"*x{level - 1}"] * breadth)
            levels.append(f"x{level}: &x{level} [{refs}]\n")
        return (whole + "".join(levels)).encode()
    if kind == "recursive-alias":
        return (whole + draw(st.sampled_from(["x: &r [1, *r]\n", "x: &r {a: *r}\n"]))).encode()
    if kind == "huge-scalar":
        size = draw(st.integers(50_000, 900_000))
        body = "".join("  " + "word " * 20 + "\n" for _ in range(size // 102 + 1))
        return (whole + "extra: |\n" + body).encode()
    if kind == "huge-file":
        return (whole + "# padding\n" * draw(st.integers(110_000, 300_000))).encode()
    # nesting as deep as a hand-written file gets (a deeper one is in its own test below)
    depth = draw(st.integers(1, 60))
    opener = draw(st.sampled_from(["[", "{a: ", "- "]))
    if opener == "- ":
        nested = "".join("  " * i + "- \n" for i in range(depth))
        return (head + "extra:\n" + nested + tail).encode()
    closer = "]" if opener == "[" else "}"
    return (head + "extra: " + opener * depth + "1" + closer * depth + "\n" + tail).encode()


def check_runbook(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "fuzzed.yaml"
    path.write_bytes(data)
    try:
        load_runbook(path)
    except RunbookError as error:
        one_sentence(error, str(path))


@QUICK
@given(data=broken_runbook_bytes())
def test_a_damaged_runbook_file_is_read_or_refused(
    data: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    check_runbook(data, tmp_path_factory.mktemp("runbook"))


@pytest.mark.slow
@LONG
@given(data=broken_runbook_bytes())
def test_a_damaged_runbook_file_is_read_or_refused_long(
    data: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    check_runbook(data, tmp_path_factory.mktemp("runbook"))


def test_a_control_character_in_a_runbook_is_one_line_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "esc.yaml"
    path.write_text("id: acme\ntitle: \x1b[31mred\n", encoding="utf-8")
    with pytest.raises(RunbookError) as caught:
        load_runbook(path)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(f"{path}:2:")


def test_a_runbook_nested_thousands_deep_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("id: acme\nextra: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(RunbookError):
        load_runbook(path)


def test_a_runbook_with_a_huge_number_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "number.yaml"
    path.write_text("id: acme\nversion: 1" + "0" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(RunbookError):
        load_runbook(path)


# --------------------------------------------------------------------------- config

CONFIG_KEYS = [
    "[kubernetes]",
    "[prometheus]",
    "[status]",
    "[logs]",
    "[slack]",
    "[runbooks.clay]",
    "timeout = ",
    "poll_interval = ",
    "url = ",
    "kubeconfig = ",
    "namespace = ",
    "verify_tls = ",
    "responder = ",
    "buffer_lines = ",
]
TOML_VALUES = ["1", "-1", "0", "1e309", "nan", "inf", "true", '"x"', "[1, 2]", "{a = 1}", '"""', ""]


@st.composite
def config_texts(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["tokens", "text", "control"]))
    if kind == "text":
        return draw(texts)
    if kind == "control":
        return "[status]\ntimeout = " + draw(control_text)
    parts = draw(
        st.lists(st.tuples(st.sampled_from(CONFIG_KEYS), st.sampled_from(TOML_VALUES)), max_size=12)
    )
    return "\n".join(key + (value if key.endswith("= ") else "") for key, value in parts)


def check_config(text: str, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        result = load_settings(path)
    except ConfigError as error:
        message = one_sentence(error)
        assert message.startswith((str(path), "environment or flags")), message
        assert "\n" not in message, message
    else:
        assert isinstance(result, Settings)
        assert result.status.timeout > 0 and result.prometheus.timeout > 0


@QUICK
@given(text=config_texts())
@example(text="[status]\ntimeout = inf")
def test_any_config_file_is_read_or_refused(
    text: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    check_config(text, tmp_path_factory.mktemp("config"))


@pytest.mark.slow
@LONG
@given(text=config_texts())
def test_any_config_file_is_read_or_refused_long(
    text: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    check_config(text, tmp_path_factory.mktemp("config"))


def test_a_config_nested_thousands_deep_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("a = " + "[" * 3000 + "]" * 3000 + "\n")
    with pytest.raises(ConfigError):
        load_settings(path)


def test_a_config_with_a_huge_number_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[status]\ntimeout = 1" + "0" * 5000 + "\n")
    with pytest.raises(ConfigError):
        load_settings(path)


def test_an_endless_timeout_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[status]\ntimeout = inf\n")
    with pytest.raises(ConfigError, match="timeout"):
        load_settings(path)


# --------------------------------------------------------------------------- status page

status_objects = st.one_of(
    json_values,
    with_keys(["status", "components", "incidents", "page"]),
    st.fixed_dictionaries(
        {
            "status": with_keys(["indicator", "description"]),
            "components": st.lists(with_keys(["name", "status", "group"]), max_size=3)
            | json_values,
            "incidents": st.lists(
                with_keys(
                    [
                        "name",
                        "status",
                        "impact",
                        "updated_at",
                        "shortlink",
                        "incident_updates",
                    ]
                ),
                max_size=3,
            )
            | json_values,
        }
    ),
)


def check_summary(data: Any) -> None:
    try:
        status = parse_summary("Clay", "http://127.0.0.1/clay", data)
    except SourceMalformed as error:
        one_sentence(error)
        return
    assert isinstance(status, VendorStatus)
    assert isinstance(status.indicator, str) and status.indicator
    assert isinstance(status.description, str)
    assert all(isinstance(c, Component) and isinstance(c.name, str) for c in status.components)
    assert all(isinstance(c.status, str) for c in status.components)
    for incident in status.incidents:
        assert isinstance(incident.name, str) and isinstance(incident.status, str)
        assert incident.latest_update is None or isinstance(incident.latest_update, str)
        assert incident.updated_at is None or incident.updated_at.tzinfo is not None


@QUICK
@given(data=status_objects)
@example(data={"status": {"indicator": "none"}, "components": 5})
@example(data={"status": {"indicator": "none"}, "incidents": [{"incident_updates": "x"}]})
@example(data={"status": {"indicator": "none"}, "incidents": [{"updated_at": "2025-03-01T13:00"}]})
def test_any_statuspage_json_is_read_or_malformed(data: Any) -> None:
    check_summary(data)


@pytest.mark.slow
@LONG
@given(data=status_objects)
def test_any_statuspage_json_is_read_or_malformed_long(data: Any) -> None:
    check_summary(data)


def fetch_body(body: bytes) -> None:
    """The whole page fetch over a real httpx client with an injected transport."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            source = StatusPageSource("Clay", "http://127.0.0.1:9/clay", client, timeout=1)
            try:
                await source.fetch()
            except SourceError as error:
                assert error.kind == "malformed", error
                one_sentence(error)

    asyncio.run(run())


bodies = st.one_of(
    st.binary(max_size=300),
    st.integers(1, 20_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 20_000).map(lambda n: b'{"status":' * n + b"1" + b"}" * n),
    json_values.map(lambda v: json.dumps(v).encode()),
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(body=bodies)
@example(body=b"[" * 100_000 + b"]" * 100_000)
def test_any_statuspage_body_is_read_or_malformed(body: bytes) -> None:
    fetch_body(body)


@pytest.mark.slow
@LONG
@given(body=bodies)
def test_any_statuspage_body_is_read_or_malformed_long(body: bytes) -> None:
    fetch_body(body)


# --------------------------------------------------------------------------- health

health_objects = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "services": st.fixed_dictionaries(
                {
                    "clay": json_values
                    | with_keys(
                        ["status", "connected", "latency_ms", "latencyMs", "last_error"],
                        json_scalars | st.integers(10**300, 10**400),
                    )
                }
            )
            | json_values
        }
    ),
)


def check_health(data: Any) -> None:
    try:
        health = parse_health("Clay", "http://127.0.0.1/health", ".services.clay", ["ok"], data)
    except SourceMalformed as error:
        one_sentence(error)
        return
    assert isinstance(health, Health)
    assert isinstance(health.status, str) and isinstance(health.healthy, bool)
    assert health.latency_ms is None or (
        isinstance(health.latency_ms, float) and math.isfinite(health.latency_ms)
    )
    assert health.last_error is None or isinstance(health.last_error, str)


@QUICK
@given(data=health_objects)
@example(data={"services": {"clay": {"status": "ok", "latency_ms": 10**400}}})
@example(data={"services": {"clay": {"status": "ok", "latency_ms": math.nan}}})
@example(data={"services": {"clay": {"status": "ok", "latency_ms": True}}})
def test_any_health_json_is_read_or_malformed(data: Any) -> None:
    check_health(data)


@pytest.mark.slow
@LONG
@given(data=health_objects)
def test_any_health_json_is_read_or_malformed_long(data: Any) -> None:
    check_health(data)


# --------------------------------------------------------------------------- prometheus

sample_values = json_scalars | st.sampled_from(["NaN", "+Inf", "-Inf", "1e400", "0x10", " 1 "])
samples = st.lists(sample_values | st.integers(10**300, 10**400), min_size=0, max_size=3)
vectors = json_values | st.lists(with_keys(["metric", "value"], samples | json_values), max_size=4)
matrices = json_values | st.lists(
    with_keys(["metric", "values"], st.lists(samples, max_size=4) | json_values), max_size=4
)


def check_vector(result: Any) -> None:
    try:
        value = parse_vector(result)
    except SourceMalformed as error:
        one_sentence(error)
        return
    assert value is None or (isinstance(value, float) and math.isfinite(value))


def check_matrix(result: Any) -> None:
    try:
        points = _parse_matrix(result)
    except SourceMalformed as error:
        one_sentence(error)
        return
    for stamp, value in points:
        assert math.isfinite(stamp) and math.isfinite(value)
    assert [p[0] for p in points] == sorted(p[0] for p in points)


@QUICK
@given(result=vectors)
@example(result=[{"value": [1, 10**400]}])
@example(result=[{"value": [1, True]}])
def test_any_instant_query_result_is_read_or_malformed(result: Any) -> None:
    check_vector(result)


@QUICK
@given(result=matrices)
@example(result=[{"values": [["x", "1"]]}])
@example(result=[{"values": [[None, "1"]]}])
@example(result=[{"values": [["nan", "1"]]}])
def test_any_range_query_result_is_read_or_malformed(result: Any) -> None:
    check_matrix(result)


@pytest.mark.slow
@LONG
@given(result=vectors)
def test_any_instant_query_result_is_read_or_malformed_long(result: Any) -> None:
    check_vector(result)


@pytest.mark.slow
@LONG
@given(result=matrices)
def test_any_range_query_result_is_read_or_malformed_long(result: Any) -> None:
    check_matrix(result)


# --------------------------------------------------------------------------- kubernetes

container_statuses = (
    st.lists(with_keys(["name", "ready", "restartCount", "state"]), max_size=3) | json_values
)
pods = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "metadata": with_keys(["name", "labels", "creationTimestamp", "deletionTimestamp"])
            | json_values,
            "spec": with_keys(["containers", "nodeName"]) | json_values,
            "status": st.fixed_dictionaries(
                {"phase": json_values, "containerStatuses": container_statuses}
            )
            | json_values,
        }
    ),
)


def check_pod(obj: Any) -> None:
    try:
        pod = parse_pod(obj)
    except SourceMalformed as error:
        one_sentence(error)
        return
    assert isinstance(pod, PodState)
    assert isinstance(pod.name, str) and isinstance(pod.phase, str)
    assert isinstance(pod.ready, bool) and isinstance(pod.restarts, int)
    assert pod.reason is None or isinstance(pod.reason, str)
    assert all(isinstance(c, str) for c in pod.containers)


@QUICK
@given(obj=pods)
@example(obj={"status": {"containerStatuses": [{"restartCount": "x"}]}})
@example(obj={"metadata": {"labels": [1]}})
@example(obj={"metadata": {"name": 5}})
def test_any_pod_object_is_read_or_malformed(obj: Any) -> None:
    check_pod(obj)


@pytest.mark.slow
@LONG
@given(obj=pods)
def test_any_pod_object_is_read_or_malformed_long(obj: Any) -> None:
    check_pod(obj)


stamps = st.one_of(
    texts,
    st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(\.[0-9]{0,12})?Z?\Z"),
    st.text(alphabet=string.digits + "-T:.Z+ ", max_size=40),
)


def check_timestamp(text: str) -> None:
    parsed = parse_timestamp(text)
    if parsed is None:
        return
    moment, nanos = parsed
    assert moment.tzinfo is not None
    assert isinstance(nanos, int)
    # before 1970 the seconds are truncated towards zero: no log line is that old
    if moment.year >= 1970:
        micros = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        assert nanos // 1000 == micros


@QUICK
@given(text=stamps)
def test_any_log_timestamp_is_read_or_none(text: str) -> None:
    check_timestamp(text)


@pytest.mark.slow
@LONG
@given(text=stamps)
def test_any_log_timestamp_is_read_or_none_long(text: str) -> None:
    check_timestamp(text)


def test_a_timestamp_with_an_offset_means_the_same_moment() -> None:
    parsed = parse_timestamp("2025-03-01T18:00:00+05:00")
    assert parsed is not None
    assert parsed[0] == datetime(2025, 3, 1, 13, 0, tzinfo=UTC)


# --------------------------------------------------------------------------- log lines

log_texts = st.one_of(
    texts,
    st.lists(st.sampled_from(ESCAPES) | st.text(max_size=8), max_size=12).map("".join),
    st.text(alphabet=st.sampled_from(CONTROL + 'x{}":level ERROR'), max_size=300),
    st.dictionaries(st.sampled_from(["level", "msg", "x"]), st.sampled_from(ESCAPES)).map(
        lambda d: json.dumps(d, ensure_ascii=True)
    ),
)
PATTERN = re.compile(r"\b(429|5\d\d|Unauthorized|error)\b", re.IGNORECASE)


def check_log_line(text: str) -> None:
    line = LogLine.parse("clay-integration-abc", "app", None, text, PATTERN)
    assert line.text == text
    assert line.level in (None, "fatal", "error", "warn", "info", "debug")
    shown = inert(text)
    assert not any(ch in CONTROL for ch in shown), repr(shown)


@QUICK
@given(text=log_texts)
def test_any_log_line_parses_and_shows_inert(text: str) -> None:
    check_log_line(text)


@pytest.mark.slow
@LONG
@given(text=log_texts)
def test_any_log_line_parses_and_shows_inert_long(text: str) -> None:
    check_log_line(text)


class LogHarness(App[None]):
    def compose(self) -> ComposeResult:
        yield LogView(max_lines=10_000, strip_prefix="clay-integration-", id="logs")


def rendered_segments(lines: list[str], pod: str, modes: list[Callable[[LogView], None]]) -> str:
    """Every visible row of a LogView showing ``lines``, in each display mode."""

    async def run() -> str:
        app = LogHarness()
        out: list[str] = []
        async with app.run_test(size=(100, 60)) as pilot:
            view = app.query_one(LogView)
            base = datetime(2025, 3, 1, tzinfo=UTC)
            view.write_lines(
                [
                    LogLine.parse(pod, "app", base + timedelta(seconds=i), text, PATTERN)
                    for i, text in enumerate(lines)
                ]
            )
            for mode in [lambda v: None, *modes]:
                mode(view)
                await pilot.pause()
                view.scroll_home(animate=False)
                await pilot.pause()
                for _ in range(0, view.virtual_size.height + 1, max(1, view.size.height)):
                    for y in range(view.size.height):
                        out.extend(segment.text for segment in view.render_line(y))
                    view.scroll_page_down(animate=False)
                    await pilot.pause()
        return "".join(out)

    return asyncio.run(run())


def _wrap(view: LogView) -> None:
    view.wrap = True


def _pretty(view: LogView) -> None:
    view.pretty_json = True


def _filter(view: LogView) -> None:
    view.set_filter("e")


def check_rendering(lines: list[str], pod: str) -> None:
    shown = rendered_segments(lines, pod, [_wrap, _pretty, _filter])
    leaked = sorted({f"{ord(ch):#04x}" for ch in shown if ch in CONTROL})
    assert not leaked, f"control characters reached the terminal: {leaked}"


POD = "clay-integration-7d9f-x1"


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(lines=st.lists(log_texts, min_size=20, max_size=40))
def test_log_lines_with_escapes_render_inert(lines: list[str]) -> None:
    check_rendering(lines, POD)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(lines=st.lists(log_texts, min_size=40, max_size=60))
def test_log_lines_with_escapes_render_inert_long(lines: list[str]) -> None:
    """25 panes of 40-60 lines: over a thousand lines, each in four display modes."""
    check_rendering(lines, POD)


def test_a_pod_name_with_escapes_renders_inert() -> None:
    check_rendering(["hello", "\x1b[31mred"], "clay-integration-\x1b[2Jx")
