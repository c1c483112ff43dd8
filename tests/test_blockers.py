"""Failures a new user met: each test plays the reproduction and checks what they now see."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from app_helpers import (
    cockpit,
    dashboard_of,
    open_confirm,
    press,
    preview,
    screen_lines,
    settle,
)
from rich.console import Console
from rich.text import Text
from sandbox_helpers import incident_tui_command, running_sandbox, wait_until
from test_comms import offline_app
from textual.app import App, ComposeResult
from textual.widgets import Input, Static

from runbooks import BUNDLED_DIR
from tui.app import IncidentApp, Launch
from tui.inert import CONTROL_CHARACTERS, Inert
from tui.record.event import new_incident_id
from tui.record.incident import Incident
from tui.record.journal import Journal
from tui.runbook import discover_runbooks
from tui.sandbox.processes import free_port
from tui.screens.dashboard import DashboardScreen
from tui.settings import load_settings
from tui.signals import LogLine
from widgets.decision_tree import DecisionTreeView
from widgets.log_view import LogView

CATALOG = discover_runbooks()


pytestmark = pytest.mark.usefixtures("isolated_state")


def _declare(title: str = "x") -> str:
    runbook = CATALOG.get("clay")
    incident_id = new_incident_id(runbook.id)
    journal = Journal.create(incident_id)
    journal.save_runbook(runbook)
    Incident.declare(runbook, incident_id=incident_id, title=title, severity="P2", recorder=journal)
    return incident_id


# --------------------------------------------------------------------------- 1: resume


async def test_the_picker_lists_an_open_incident_and_enter_resumes_it() -> None:
    incident_id = _declare("Clay enrichment failing")
    app = IncidentApp(Launch(settings=load_settings(None), catalog=CATALOG, live=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(lambda: app.screen.id == "start", 10, 0.05, "the picker")
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(lambda: isinstance(app.screen, DashboardScreen), 10, 0.05, "resume")
        assert app.incident is not None and app.incident.id == incident_id
        assert app.incident.title == "Clay enrichment failing"


# --------------------------------------------------------------------------- 7: overrides


async def test_answering_no_sends_the_tree_down_the_no_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = offline_app(tmp_path, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        tree = app.screen.query_one(DecisionTreeView)
        tree.focus()
        assert tree.top is not None
        tree.move_cursor(tree.top)
        await pilot.press("n")

        def path_nodes() -> list[str]:
            path = tree.path
            return [a.node for a in path.answers] if path is not None else []

        await wait_until(lambda: len(path_nodes()) > 1, 5, 0.05, "the tree to move on")
        assert path_nodes()[:2] == ["api-errors", "service-healthy"]
        assert tree.path is not None and tree.path.answers[0].answer is False
        tree.move_cursor(tree.top)
        await pilot.press("y")
        await wait_until(lambda: path_nodes()[1:2] == ["vendor-incident"], 5, 0.05, "yes")


# --------------------------------------------------------------------------- 2, 4: log pane


class LogHarness(App[None]):
    def compose(self) -> ComposeResult:
        yield LogView(max_lines=10_000, strip_prefix="clay-integration-", id="logs")


ERRORS = re.compile(r"(?i)\b(error|429)\b")


def _line(text: str, pod: str = "clay-integration-7d9f8c6b5-x2k4q") -> LogLine:
    return LogLine.parse(pod, "app", None, text, ERRORS)


def _view_rows(app: App[None], view: LogView) -> list[str]:
    """The rows the terminal shows inside the log view, without its scrollbar."""
    region = view.scrollable_content_region
    rows = screen_lines(app)
    return [rows[y][region.x : region.right] for y in range(region.y, region.bottom)]


NESTED = "INFO starting with CLAY_API_URL=" + '{"a":' + "[" * 3000


async def test_a_deeply_nested_json_line_shows_plain_in_json_mode() -> None:
    app = LogHarness()
    async with app.run_test(size=(100, 20)) as pilot:
        view = app.query_one(LogView)
        view.focus()
        view.write_lines([_line(NESTED), _line("after the nested line")])
        await pilot.press("J")  # a line already there
        await pilot.pause()
        assert view.pretty_json
        view.write_lines([_line(NESTED), _line("still tailing")])  # lines arriving in JSON mode
        await pilot.pause()
        assert view.total == 4
        shown = "\n".join(_view_rows(app, view))
        assert "still tailing" in shown
        assert 'CLAY_API_URL={"a":[[[' in shown
        await pilot.press("w")
        await pilot.pause()
        assert "still tailing" in "\n".join(_view_rows(app, view))


async def test_wrapped_lines_keep_every_character_at_the_wrap_points() -> None:
    text = "CLAY_API_URL=https://api.clay.com request_id=" + "0123456789abcdef" * 12
    app = LogHarness()
    async with app.run_test(size=(50, 20)) as pilot:
        view = app.query_one(LogView)
        view.focus()
        view.write_lines([_line(text)])
        await pilot.press("w")
        await pilot.pause()
        rows = [row for row in _view_rows(app, view) if row.strip()]
        assert len(rows) > 3
        assert "".join(rows).rstrip() == "x2k4q " + text


# --------------------------------------------------------------------------- 3, 8: CLI output

HOSTILE = "error \x1b]0;pwned\x07 \x1b]52;c;cHduZWQ=\x07 \x1b[2J \u202egnp.exe"
"""A title, a clipboard write, a screen clear and a right-to-left override."""
SHOWN = "error ␛]0;pwned␇ ␛]52;c;cHduZWQ=␇ ␛[2J ⟨U+202E⟩gnp.exe"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*incident_tui_command(), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "250", **(env or {})},
        check=False,
    )


def _assert_inert(output: str) -> None:
    leaked = sorted({f"U+{ord(c):04X}" for c in output if c in CONTROL_CHARACTERS})
    assert not leaked, f"control characters reached the terminal: {leaked}"


async def test_triage_prints_a_pod_log_line_with_escapes_inert(tmp_path: Path) -> None:
    async with running_sandbox("clay-healthy", speed=20) as sb:
        result = await sb.kubectl(
            "set", "env", "deployment/clay-integration", f"CLAY_API_URL={HOSTILE}"
        )
        assert result.returncode == 0, result.stderr
        config = sb.sandbox.write_config(tmp_path / "config.toml")

        async def shown() -> str | None:
            run = await asyncio.to_thread(
                _cli, "--config", str(config), "triage", "--runbook", "clay"
            )
            return run.stdout if "pwned" in run.stdout else None

        out = await wait_until(shown, 90, 0.5, "triage to show the new pods' start-up line")
        _assert_inert(out)
        assert SHOWN in out


def _user_runbook(folder: Path) -> Path:
    source = (BUNDLED_DIR / "clay.yaml").read_text(encoding="utf-8")
    text = source.replace("id: clay\n", "id: clay-hostile\n", 1).replace(
        "title: Clay Incident Runbook\n",
        'title: "Clay \\e]0;pwned\\a runbook \\u202eevil"\n',
        1,
    )
    text = text.replace("links:\n", "links:\n  - title: Related runbook named by title alone\n", 1)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "clay-hostile.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_runbooks_show_prints_a_link_without_url_and_escapes_inert(tmp_path: Path) -> None:
    folder = tmp_path / "books"
    _user_runbook(folder)
    run = _cli("--runbooks", str(folder), "runbooks", "show", "clay-hostile")
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    _assert_inert(run.stdout)
    assert "Related runbook named by title alone" in run.stdout
    assert "␛]0;pwned␇ runbook ⟨U+202E⟩evil" in run.stdout
    listed = _cli("--runbooks", str(folder), "runbooks", "list")
    _assert_inert(listed.stdout)
    assert "␛]0;pwned␇" in listed.stdout


def test_a_color_terminal_gets_rich_styles_but_none_of_the_data_escapes() -> None:
    console = Console(force_terminal=True, color_system="truecolor", width=120, record=False)
    with console.capture() as captured:
        console.print(Inert(Text(HOSTILE, style="bold red")))
    out = captured.get()
    assert "\x1b[" in out  # Rich's own styling
    assert "\x1b]" not in out and "\x1b[2J" not in out and "\u202e" not in out


def test_replay_and_incidents_print_recorded_text_inert() -> None:
    incident_id = _declare(HOSTILE)
    note = _cli("note", incident_id, f"from the vendor: {HOSTILE}")
    assert note.returncode == 0, note.stderr
    replay = _cli("replay", incident_id, "--print")
    assert replay.returncode == 0, replay.stderr
    _assert_inert(replay.stdout)
    assert f"from the vendor: {SHOWN}" in replay.stdout
    listed = _cli("incidents")
    _assert_inert(listed.stdout)
    assert SHOWN in listed.stdout


def test_an_error_quoting_what_was_typed_is_inert() -> None:
    run = _cli("note", "clay-\x1b]52;c;eA==\x07", "text")
    assert run.returncode == 2
    _assert_inert(run.stderr)
    assert "␛]52;c;eA==␇" in run.stderr


# --------------------------------------------------------------------------- 5: YAML bombs

ALIAS_BOMB = """id: bomb
title: Bomb
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
"""


def test_a_yaml_alias_bomb_is_refused_in_one_line_naming_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "books"
    folder.mkdir()
    bomb = folder / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB, encoding="utf-8")
    assert len(ALIAS_BOMB.encode()) < 400
    run = _cli("runbooks", "validate", str(bomb))
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith(f"{bomb}:8: ") and "alias" in run.stderr
    listed = _cli("--runbooks", str(folder), "runbooks", "list")
    assert listed.returncode == 2 and "clay" in listed.stdout
    assert f"skipped {bomb}:8: " in listed.stderr


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("id: loop\ntitle: Loop\nextra: &x [1, *x]\n", encoding="utf-8")
    run = _cli("runbooks", "validate", str(path))
    assert run.returncode == 2
    assert run.stderr.startswith(f"{path}:3: ") and "recursive alias" in run.stderr


def test_a_runbook_file_over_the_size_cap_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    source = (BUNDLED_DIR / "clay.yaml").read_text(encoding="utf-8")
    path.write_text(source + "# padding\n" * 700_000, encoding="utf-8")
    run = _cli("runbooks", "validate", str(path))
    assert run.returncode == 2
    assert run.stderr.strip() == (f"{path}: is 6.7 MiB; a runbook file may be at most 1 MiB"), (
        run.stderr
    )


# --------------------------------------------------------------------------- 6: picker


async def test_declaring_from_the_picker_into_an_unwritable_state_folder_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("INCIDENT_TUI_STATE_DIR", str(blocker / "state"))
    app = IncidentApp(Launch(settings=load_settings(None), catalog=CATALOG, live=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(lambda: app.screen.id == "start", 10, 0.05, "the picker")
        await pilot.pause()
        app.screen.query_one("#title", Input).value = "Clay enrichment failing"
        await pilot.press("ctrl+s")
        error = app.screen.query_one("#start-error", Static)
        said = await wait_until(lambda: str(error.content), 10, 0.05, "the error line")
        assert app.is_running and app.screen.id == "start"
        assert said.startswith("Cannot declare: cannot create the journal in ")
        assert str(blocker) in said and "\n" not in said
        assert app.screen.query_one("#title", Input).value == "Clay enrichment failing"


# --------------------------------------------------------------------------- 9: bad input


def test_a_config_with_several_problems_shows_each_on_its_own_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[prometheus]\nurl = "not a url"\ntimeout = -1\n\n[status]\nbogus = 1\n', encoding="utf-8"
    )
    run = _cli("--config", str(config), "triage", "--runbook", "clay")
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert run.stderr.splitlines() == [
        f"incident-tui: {config}:2: prometheus.url: is not an http:// or https:// URL with a "
        "host (for example http://prometheus.monitoring:9090)",
        f"incident-tui: {config}:3: prometheus.timeout: input should be greater than 0",
        f"incident-tui: {config}:6: status.bogus: is not a setting (unknown key)",
    ]


def test_a_prometheus_url_from_a_flag_that_is_not_a_url_is_refused_at_load() -> None:
    run = _cli("--prometheus", "prometheus.monitoring", "triage", "--runbook", "clay")
    assert run.returncode == 2
    assert run.stderr.strip() == (
        "incident-tui: environment or flags: prometheus.url: is not an http:// or https:// URL "
        "with a host (for example http://prometheus.monitoring:9090)"
    )


async def test_triage_in_a_namespace_without_the_pods_says_nothing_matches(
    tmp_path: Path,
) -> None:
    async with running_sandbox("clay-healthy", speed=20) as sb:
        config = sb.sandbox.write_config(tmp_path / "config.toml")
        run = await asyncio.to_thread(
            _cli, "--config", str(config), "-n", "nosuchns", "triage", "--runbook", "clay"
        )
        assert run.returncode == 3, run.stdout + run.stderr
        assert "no pods match app=clay-integration in namespace nosuchns" in run.stdout
        assert "no error lines" not in run.stdout
        assert "Unknown: nothing alerts, but no pods match" in run.stdout


async def test_triage_with_prometheus_unreachable_cannot_say_healthy(tmp_path: Path) -> None:
    async with running_sandbox("clay-healthy", speed=20) as sb:
        config = sb.sandbox.write_config(tmp_path / "config.toml")
        closed = f"http://127.0.0.1:{free_port()}"
        run = await asyncio.to_thread(
            _cli, "--config", str(config), "--prometheus", closed, "triage", "--runbook", "clay"
        )
        assert run.returncode == 3, run.stdout + run.stderr
        assert "Healthy" not in run.stdout
        assert "Unknown: nothing alerts, but prometheus could not be read" in run.stdout


def test_ctrl_c_during_triage_exits_130_in_one_line() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        server.settimeout(60)
        port = server.getsockname()[1]
        prometheus = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(
            [*incident_tui_command(), "--prometheus", prometheus, "triage", "--runbook", "clay"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        connection, _ = server.accept()  # triage is waiting on Prometheus now
        with connection:
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err.strip() == "incident-tui: interrupted"


# --------------------------------------------------------------------------- 10: fast keys


def _remediation_events(app: IncidentApp) -> list[str]:
    assert app.journal is not None
    events = Journal(app.journal.directory).load().events
    return [
        e.kind.removeprefix("remediation_") for e in events if e.kind.startswith("remediation_")
    ]


async def test_a_double_enter_on_a_destructive_confirmation_applies_once_and_keeps_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_sandbox("clay-infra") as sb:
        app = cockpit(sb, tmp_path, monkeypatch)
        async with app.run_test(size=(120, 40)):
            confirm = await open_confirm(app, "rollback")
            await preview(confirm)
            assert confirm.preview is not None and confirm.preview.ok, confirm.preview
            confirm.query_one("#confirm-name", Input).focus()
            await settle(app)
            for character in "clay-integration":
                press(app, character, character)
            press(app, "enter", "\r")
            press(app, "enter", "\r")  # sent together: the second lands on a closing dialog
            await wait_until(lambda: "applied" in _remediation_events(app), 30, 0.05, "apply")
            await settle(app)
            assert app._exception is None and app.is_running
            assert any(s.id == "dashboard" for s in app.screen_stack)
            assert _remediation_events(app).count("applied") == 1
            assert "cancelled" not in _remediation_events(app)


async def test_repeated_keys_on_every_dialog_never_close_the_dashboard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = offline_app(tmp_path, monkeypatch)
    async with app.run_test(size=(120, 40)):
        dashboard = await dashboard_of(app)
        for opener, closing in [
            ("n", ["escape", "escape", "escape"]),  # note prompt
            ("s", ["escape", "escape"]),  # severity choice
            ("S", ["escape", "escape"]),  # status choice
            ("m", ["escape", "escape"]),  # remediation picker
            ("E", ["escape", "escape", "escape"]),  # escalation
        ]:
            press(app, opener, opener if len(opener) == 1 else "?")
            press(app, opener, opener if len(opener) == 1 else "?")  # a repeated opener
            await wait_until(lambda: app.screen is not dashboard, 10, 0.05, f"{opener} to open")
            await settle(app)
            assert len(app.screen_stack) == 2, f"{opener} twice opened {app.screen_stack}"
            for key in closing:
                press(app, key, "\r" if key == "enter" else None)
            await wait_until(lambda: app.screen is dashboard, 10, 0.05, f"{opener} to close")
            await settle(app)
            assert app._exception is None, f"{opener}: {app._exception!r}"
            assert app.screen_stack[-1] is dashboard
        # ? opens help and ? closes it: a toggle, then Escapes that find nothing to close
        for key in ["question_mark", "question_mark", "question_mark", "escape", "escape"]:
            press(app, key, "?" if key == "question_mark" else None)
        await settle(app)
        await wait_until(lambda: app.screen is dashboard, 10, 0.05, "help to close")
        assert len(app.screen_stack) == 1 and app._exception is None
        # keys are handled in order: once a last prompt has opened and closed, none of the
        # keys above is still on its way (the test may end without one arriving too late)
        press(app, "n", "n")
        await wait_until(lambda: app.screen is not dashboard, 10, 0.05, "a last prompt")
        press(app, "escape")
        await wait_until(lambda: app.screen is dashboard, 10, 0.05, "the last prompt to close")
        assert len(app.screen_stack) == 1 and app._exception is None


def test_every_dialog_of_the_cockpit_closes_only_once() -> None:
    import importlib
    import inspect
    import pkgutil

    from textual.screen import ModalScreen

    import tui.screens
    from tui.screens.dialog import Dialog

    modals = []
    for module_info in pkgutil.iter_modules(tui.screens.__path__, "tui.screens."):
        module = importlib.import_module(module_info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, ModalScreen) and cls.__module__ == module.__name__:
                modals.append(cls)
    assert len(modals) >= 10
    assert [cls.__name__ for cls in modals if not issubclass(cls, Dialog)] == []


# --------------------------------------------------------------------------- 11: sandbox


@pytest.mark.parametrize("mib", [4, 9])
async def test_a_request_body_over_the_limit_is_413_with_a_status_as_kubectl_expects(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mib: int
) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "huge", "namespace": "production"},
        "stringData": {"blob": "x" * (mib * 1024 * 1024)},
    }
    body = tmp_path / "huge.json"
    body.write_text(json.dumps(secret), encoding="utf-8")
    async with running_sandbox("clay-healthy") as sb:
        result = await sb.kubectl(
            "create", "--raw", "/api/v1/namespaces/production/secrets", "-f", str(body), check=False
        )
        assert result.returncode != 0
        assert result.stderr.strip() == (
            "Error from server (RequestEntityTooLarge): Request entity too large: limit is 3145728"
        )
        small = await sb.kubectl("get", "secret", "huge", "-n", "production", check=False)
        assert small.returncode != 0 and "NotFound" in small.stderr
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
