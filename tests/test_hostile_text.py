"""Any text a pod can log or a file can hold, through the log tail into the log pane in
every mode, and through the command line's printing: nothing raises, no control
character reaches the terminal, and nothing printable is lost (wrapping included)."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.text import Text
from textual.app import App, ComposeResult

from tui.inert import CONTROL_CHARACTERS, inert, inert_block
from tui.output import echo, show
from tui.runbook import discover_runbooks
from tui.signals import LogLine
from tui.sources.kube.logs import LogTail, _PodStream
from widgets.log_view import LogView

CLAY = discover_runbooks().get("clay")
POD = "clay-integration-7d9f8c6b5-x2k4q"
CAP = 600
"""The tail's line cap in these tests (the app's default is 16 KiB; the cut is the same)."""

_EVERY_CONTROL = "".join(sorted(CONTROL_CHARACTERS)) + "\t\r"
_ESCAPES = [
    "\x1b]0;title\x07",
    "\x1b]52;c;cHduZWQ=\x07",
    "\x1b[2J",
    "\x1b[31m",
    "\x9b2J",
    "\u202e",
    "\u2066",
    "\x1bP1;2|x\x1b\\",
]
line_texts = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n"), max_size=200),
    st.lists(st.sampled_from(_ESCAPES) | st.text(max_size=6), max_size=10).map("".join),
    st.text(alphabet=st.sampled_from(_EVERY_CONTROL + 'x{}":[] ERROR 429 界é'), max_size=200),
    st.integers(1, 2500).map(lambda depth: '{"a":' + "[" * depth),
    st.integers(1, 40).map(lambda depth: '{"a":' + "[" * depth + "1" + "]" * depth + "}"),
    st.tuples(st.text(min_size=1, max_size=7), st.integers(CAP // 8, CAP // 2)).map(
        lambda pair: pair[0] * pair[1]
    ),
).map(lambda text: text.replace("\n", ""))  # a newline ends a log line: it is never in one


def _through_the_tail(texts: list[str]) -> list[LogLine]:
    """What the tail makes of these lines as a pod's log stream (timestamps, cap, levels)."""
    got: list[LogLine] = []
    conn = cast(Any, SimpleNamespace(server="https://127.0.0.1:6443"))
    tail = LogTail(
        conn, CLAY, lambda lines, _: got.extend(lines), lambda _: None, max_line_length=CAP
    )
    stream = _PodStream(POD, "app")
    base = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    raw = b"".join(
        f"{(base + timedelta(milliseconds=i)).isoformat().replace('+00:00', 'Z')} {t}\n".encode()
        for i, t in enumerate(texts)
    )
    tail._take(stream, raw.split(b"\n")[:-1])
    tail.flush()
    return got


class _Pane(App[None]):
    def compose(self) -> ComposeResult:
        yield LogView(max_lines=10_000, strip_prefix="clay-integration-", id="logs")


def _rows(view: LogView) -> list[str]:
    """Every row of the view, top to bottom, as the terminal shows it (the scrollbar's
    columns cut off)."""
    region = view.scrollable_content_region
    total = view.virtual_size.height
    rows: dict[int, str] = {}
    top = 0
    while len(rows) < total:
        view.scroll_to(y=top, animate=False, immediate=True)
        at = round(view.scroll_y)
        for y in range(region.height):
            if at + y < total:
                strip = view.render_line(y).crop(0, region.width)
                rows.setdefault(at + y, "".join(s.text for s in strip))
        top += region.height
    return [rows[i] for i in range(total)]


def _leaked(rows: list[str]) -> list[str]:
    return sorted({f"U+{ord(c):04X}" for row in rows for c in row if c in CONTROL_CHARACTERS})


async def _show(lines: list[LogLine]) -> None:
    app = _Pane()
    async with app.run_test(size=(60, 20)) as pilot:
        view = app.query_one(LogView)
        view.write_lines(lines)
        await pilot.pause()
        assert view.total == len(lines)

        plain = _rows(view)
        assert not _leaked(plain), _leaked(plain)

        view.wrap = True
        await pilot.pause()
        assert view._starts is not None
        starts = view._starts
        wrapped = _rows(view)
        assert not _leaked(wrapped), _leaked(wrapped)
        for index, line in enumerate(lines):
            # a row a double-width character did not fit in is padded: compare all but spaces
            shown = "".join(wrapped[starts[index] : starts[index + 1]]).replace(" ", "")
            expected = ("x2k4q " + inert(line.text)).replace(" ", "")
            assert shown == expected, (index, line.text)
            assert all(cell_len(row) <= view.scrollable_content_region.width for row in wrapped)

        view.pretty_json = True
        await pilot.pause()
        assert not _leaked(_rows(view))
        view.wrap = False
        await pilot.pause()
        assert not _leaked(_rows(view))

        view.set_filter("e")
        await pilot.pause()
        filtered = [line for line in lines if re.search("e", line.text, re.IGNORECASE)]
        assert view.shown_count == len(filtered)
        assert not _leaked(_rows(view))

        view.set_filter("")
        view.pretty_json = False
        view.errors_only = True
        await pilot.pause()
        assert view.shown_count == sum(line.is_error for line in lines)
        assert not _leaked(_rows(view))


def check_tail_and_pane(texts: list[str]) -> None:
    lines = _through_the_tail(texts)
    # the tail keeps every line, cut at its cap; \r ends a line as kubectl shows it
    assert len(lines) == len(texts)
    for text, line in zip(texts, lines, strict=True):
        kept = text.removesuffix("\r")
        if len(kept) > CAP:
            kept = kept[:CAP] + " …[truncated]"
        assert line.text == kept
    asyncio.run(_show(lines))


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(texts=st.lists(line_texts, min_size=1, max_size=25))
def test_any_log_text_reaches_the_pane_inert_and_whole_in_every_mode(texts: list[str]) -> None:
    check_tail_and_pane(texts)


@pytest.mark.slow
@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(texts=st.lists(line_texts, min_size=1, max_size=40))
def test_any_log_text_reaches_the_pane_inert_and_whole_in_every_mode_long(
    texts: list[str],
) -> None:
    check_tail_and_pane(texts)


def _printable(text: str) -> list[str]:
    return [c for c in text if not c.isspace()]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(text=st.lists(line_texts, max_size=6).map("\n".join))
def test_any_text_the_command_line_prints_is_inert_and_whole(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    echo(text)
    echo(text, err=True)
    out, err = capsys.readouterr()
    for printed in (out, err):
        assert not [c for c in printed if c in CONTROL_CHARACTERS]
        assert printed == inert_block(text) + "\n"

    show(Text(text))  # raw on purpose: show() is the last guard
    raw, _ = capsys.readouterr()
    assert not [c for c in raw if c in CONTROL_CHARACTERS]
    show(Text(inert(text), style="bold red"))
    shown, _ = capsys.readouterr()
    assert not [c for c in shown if c in CONTROL_CHARACTERS]
    # Rich folds long rows onto more lines; every printable character is still there
    assert _in_order(_printable(inert(text)), _printable(shown))


def _in_order(expected: list[str], got: list[str]) -> bool:
    position = 0
    for char in got:
        if position < len(expected) and char == expected[position]:
            position += 1
    return position == len(expected)


def test_json_lines_in_the_cli_keep_escapes_escaped() -> None:
    data = json.dumps({"text": "".join(_ESCAPES)})
    assert not [c for c in data if c in CONTROL_CHARACTERS]


async def test_a_notification_shows_backend_text_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server's error can hold ``[...]``: as markup it would restyle the toast or
    break it; every notification is plain text."""
    from test_comms import offline_app

    app = offline_app(tmp_path, monkeypatch)
    async with app.run_test(size=(120, 40)):
        app.screen.notify("apply failed: [red]boom[/red] \x1b]0;pwned\x07", title="[b]x")
        from sandbox_helpers import wait_until

        found = await wait_until(lambda: list(app._notifications), 10, 0.02, "the toast")
        shown = found[-1]
        assert shown.message.startswith("apply failed: [red]boom[/red] ")
        assert "\x1b" not in shown.message and "\x07" not in shown.message
        assert shown.markup is False and shown.title == "[b]x"
